// tessera.evict lowers to one scf.parallel over its index sets (batch x KV head, or batch for
// per-layer scope): scores by policy, a rank count over the candidates, then the kept tokens
// in ascending order with their rows (every storage component of packed K/V) copied. Scratch
// rows per set ([sets, 6, S] f32, and the decoded keys [sets, S, D]) are allocated once, and
// exp/log are arith ops (the same code runs in the GPU's row kernels).
// RUN: tessera-opt %s --convert-tessera-to-loops | FileCheck %s

// sink_window needs no scores: a token is kept when S <= budget, below the sinks or in the
// recent window; the kept count is carried through the walk over S.
// CHECK-LABEL: func.func @sink_window
// CHECK: %[[IDX:.+]] = memref.alloc() : memref<1x2x16xi64>
// CHECK: %[[K2:.+]] = memref.alloc() : memref<1x2x16x32xf32>
// CHECK: scf.parallel (%[[B:.+]], %[[H:.+]]) = {{.*}} to (%{{.*}}, %c2)
// CHECK-NOT: math.exp
// CHECK: scf.for %[[J:.+]] = {{.*}} iter_args(%[[N:.+]] = {{.*}}) -> (index)
// CHECK: scf.if
// CHECK: memref.store %{{.*}}, %[[IDX]][%[[B]], %[[H]], %[[N]]]
// CHECK: memref.load %{{.*}}[%[[B]], %{{.*}}, %[[J]], %{{.*}}] : memref<1x2x64x32xf32>
// CHECK: memref.store %{{.*}}, %[[K2]][%[[B]], %{{.*}}, %[[N]], %{{.*}}]
// CHECK-NOT: math.
// CHECK: return
func.func @sink_window(%k: tensor<1x2x64x32xf32>, %v: tensor<1x2x64x32xf32>) -> (tensor<1x2x16xi64>, tensor<1x2x16x32xf32>, tensor<1x2x16x32xf32>) {
  %i, %k2, %v2 = tessera.evict sink_window %k, %v {budget = 16} : tensor<1x2x64x32xf32>, tensor<1x2x64x32xf32> -> tensor<1x2x16xi64>, tensor<1x2x16x32xf32>, tensor<1x2x16x32xf32>
  return %i, %k2, %v2 : tensor<1x2x16xi64>, tensor<1x2x16x32xf32>, tensor<1x2x16x32xf32>
}

// snapkv at a run-time S over packed V: n = min(S, budget) sizes every output, V's codes and
// norms are copied row by row (never decoded); the window's softmax rows are an scf.for.
// CHECK-LABEL: func.func @snapkv_dynamic_packed
// CHECK-SAME: %{{.*}}: tensor<1x2x?x16xi8>, %{{.*}}: tensor<1x2x?xf32>
// CHECK: %[[S:.+]] = memref.dim %{{.*}}, %c2{{.*}} : memref<1x2x?x32xf32>
// CHECK: %[[N:.+]] = arith.minsi %[[S]], %c16
// CHECK: memref.alloc(%[[N]]) : memref<1x2x?xi64>
// CHECK: %[[CODES:.+]] = memref.alloc(%[[N]]) : memref<1x2x?x16xi8>
// CHECK: %[[NORMS:.+]] = memref.alloc(%[[N]]) : memref<1x2x?xf32>
// CHECK: memref.alloc(%[[S]]) : memref<2x6x?xf32>
// CHECK: memref.alloc(%[[S]]) : memref<2x?x32xf32>
// CHECK: scf.parallel
// CHECK: scf.for %{{.*}} = %{{.*}} to %c8
// CHECK: memref.store %{{.*}}, %[[CODES]]
// CHECK: memref.store %{{.*}}, %[[NORMS]]
func.func @snapkv_dynamic_packed(%q: tensor<1x4x8x32xf32>, %k: tensor<1x2x?x32xf32>, %v: !tessera.qtensor<1x2x?x32xf32, #tessera.quant<tq_mse, bits = 4>>) -> (tensor<1x2x?xi64>, tensor<1x2x?x32xf32>, !tessera.qtensor<1x2x?x32xf32, #tessera.quant<tq_mse, bits = 4>>) {
  %i, %k2, %v2 = tessera.evict snapkv %k, %v query(%q : tensor<1x4x8x32xf32>) {budget = 16, window = 8} : tensor<1x2x?x32xf32>, !tessera.qtensor<1x2x?x32xf32, #tessera.quant<tq_mse, bits = 4>> -> tensor<1x2x?xi64>, tensor<1x2x?x32xf32>, !tessera.qtensor<1x2x?x32xf32, #tessera.quant<tq_mse, bits = 4>>
  return %i, %k2, %v2 : tensor<1x2x?xi64>, tensor<1x2x?x32xf32>, !tessera.qtensor<1x2x?x32xf32, #tessera.quant<tq_mse, bits = 4>>
}

// compresskv is per layer: one index set per batch, shared by both KV heads.
// CHECK-LABEL: func.func @compresskv
// CHECK: memref.alloc() : memref<1x1x16xi64>
// CHECK: memref.alloc() : memref<1x6x64xf32>
// CHECK: scf.parallel (%{{[^,]+}}) = (%{{.*}}) to (%c1)
func.func @compresskv(%q: tensor<1x4x8x32xf32>, %k: tensor<1x2x64x32xf32>, %v: tensor<1x2x64x32xf32>) -> (tensor<1x1x16xi64>, tensor<1x2x16x32xf32>, tensor<1x2x16x32xf32>) {
  %i, %k2, %v2 = tessera.evict compresskv %k, %v query(%q : tensor<1x4x8x32xf32>) {budget = 16, heads = array<i64: 3, 0, 1>, first_k = 2} : tensor<1x2x64x32xf32>, tensor<1x2x64x32xf32> -> tensor<1x1x16xi64>, tensor<1x2x16x32xf32>, tensor<1x2x16x32xf32>
  return %i, %k2, %v2 : tensor<1x1x16xi64>, tensor<1x2x16x32xf32>, tensor<1x2x16x32xf32>
}

// h2o reads the running scores and returns the kept tokens' scores; equal scores rank the
// later token first (ugt).
// CHECK-LABEL: func.func @h2o
// CHECK: %[[KS:.+]] = memref.alloc() : memref<1x2x16xf32>
// CHECK: arith.cmpi ugt
// CHECK: memref.store %{{.*}}, %[[KS]]
// CHECK: return {{.*}} : tensor<1x2x16xi64>, tensor<1x2x16x32xf32>, tensor<1x2x16x32xf32>, tensor<1x2x16xf32>
func.func @h2o(%k: tensor<1x2x64x32xf32>, %v: tensor<1x2x64x32xf32>, %s: tensor<1x2x64xf32>) -> (tensor<1x2x16xi64>, tensor<1x2x16x32xf32>, tensor<1x2x16x32xf32>, tensor<1x2x16xf32>) {
  %i, %k2, %v2, %s2 = tessera.evict h2o %k, %v scores(%s : tensor<1x2x64xf32>) {budget = 16, window = 4} : tensor<1x2x64x32xf32>, tensor<1x2x64x32xf32> -> tensor<1x2x16xi64>, tensor<1x2x16x32xf32>, tensor<1x2x16x32xf32>, tensor<1x2x16xf32>
  return %i, %k2, %v2, %s2 : tensor<1x2x16xi64>, tensor<1x2x16x32xf32>, tensor<1x2x16x32xf32>, tensor<1x2x16xf32>
}

// reservoir: the walk's softmaxes, then A-Res keys log(u) / w with u from splitmix64 counters
// (the finaliser's multipliers) and the top 23 bits.
// CHECK-LABEL: func.func @reservoir
// CHECK: arith.constant -4658895280553007687 : i64
// CHECK: arith.constant 41 : i64
// CHECK: arith.divf
func.func @reservoir(%q: tensor<1x4x1x32xf32>, %k: tensor<1x2x64x32xf32>, %v: tensor<1x2x64x32xf32>) -> (tensor<1x1x16xi64>, tensor<1x2x16x32xf32>, tensor<1x2x16x32xf32>) {
  %i, %k2, %v2 = tessera.evict reservoir %k, %v query(%q : tensor<1x4x1x32xf32>) {budget = 16, seed = 3, layer = 1, step = 2, scope = #tessera<evict_scope per_layer>} : tensor<1x2x64x32xf32>, tensor<1x2x64x32xf32> -> tensor<1x1x16xi64>, tensor<1x2x16x32xf32>, tensor<1x2x16x32xf32>
  return %i, %k2, %v2 : tensor<1x1x16xi64>, tensor<1x2x16x32xf32>, tensor<1x2x16x32xf32>
}

// Paged sink_window over a plain K pool and an int4-packed V pool: the pools are first copied
// row by row (every storage component) in an scf.parallel over (page, slot, head); then each
// set walks its own length (kv_lens clamped into [0, capacity 20]), reads token j through the
// block table (the entry clamped into [0, 16)), moves it to position n of the same sequence,
// fills the unused index slots with -1 and (the first head's set) writes the new length.
// CHECK-LABEL: func.func @paged_sink_window
// CHECK-SAME: %[[TT:[^:]+]]: tensor<3x5xi32>, %[[LT:[^:]+]]: tensor<3xi32>
// CHECK-DAG: %[[T:.+]] = bufferization.to_buffer %[[TT]]
// CHECK-DAG: %[[L:.+]] = bufferization.to_buffer %[[LT]]
// CHECK: %[[IDX:.+]] = memref.alloc() : memref<3x2x6xi64>
// CHECK: %[[K2:.+]] = memref.alloc() : memref<16x4x2x8xf32>
// CHECK: %[[CODES:.+]] = memref.alloc() : memref<16x4x2x4xi8>
// CHECK: %[[LENS:.+]] = memref.alloc() : memref<3xi32>
// CHECK: scf.parallel (%[[P:.+]], %[[SL:.+]], %[[HP:.+]]) = {{.*}} to (%c16, %{{.*}}, %c2)
// CHECK: memref.store %{{.*}}, %[[K2]][%[[P]], %[[SL]], %[[HP]], %{{.*}}]
// CHECK: memref.store %{{.*}}, %[[CODES]][%[[P]], %[[SL]], %[[HP]], %{{.*}}]
// CHECK: scf.parallel (%[[B:.+]], %[[H:.+]]) = {{.*}} to (%c3, %c2)
// CHECK: %[[LEN:.+]] = memref.load %[[L]][%[[B]]] : memref<3xi32>
// CHECK: %[[LENI:.+]] = arith.index_cast %[[LEN]] : i32 to index
// CHECK: %[[LO:.+]] = arith.maxsi %[[LENI]]
// CHECK: %[[SB:.+]] = arith.minsi %[[LO]]
// CHECK: %[[S:.+]] = arith.select %{{.*}}, %{{.*}}, %[[SB]] : index
// CHECK: %[[NB:.+]] = scf.for %[[J:.+]] = %{{.*}} to %[[S]] step %{{.*}} iter_args(%[[N:.+]] = {{.*}}) -> (index)
// CHECK: memref.store %{{.*}}, %[[IDX]][%[[B]], %[[H]], %[[N]]]
// CHECK: %[[PJ:.+]] = arith.divui %[[J]], %c4
// CHECK: %[[EJ:.+]] = memref.load %[[T]][%[[B]], %[[PJ]]] : memref<3x5xi32>
// CHECK: %[[EJI:.+]] = arith.index_cast %[[EJ]] : i32 to index
// CHECK: %[[EJLO:.+]] = arith.maxsi %[[EJI]]
// CHECK: %[[PAGEJ:.+]] = arith.minsi %[[EJLO]]
// CHECK: %[[SLOTJ:.+]] = arith.remui %[[J]], %c4
// CHECK: %[[PN:.+]] = arith.divui %[[N]], %c4
// CHECK: memref.load %[[T]][%[[B]], %[[PN]]] : memref<3x5xi32>
// CHECK: %[[PAGEN:.+]] = arith.minsi
// CHECK: %[[SLOTN:.+]] = arith.remui %[[N]], %c4
// CHECK: memref.load %{{.*}}[%[[PAGEJ]], %[[SLOTJ]], %[[G:.+]], %{{.*}}] : memref<16x4x2x8xf32>
// CHECK: memref.store %{{.*}}, %[[K2]][%[[PAGEN]], %[[SLOTN]], %[[G]], %{{.*}}]
// CHECK: memref.store %{{.*}}, %[[CODES]][%[[PAGEN]], %[[SLOTN]], %[[G]], %{{.*}}]
// CHECK: scf.for %[[C:.+]] = %[[NB]] to %c6
// CHECK: memref.store %c-1_i64, %[[IDX]][%[[B]], %[[H]], %[[C]]]
// CHECK: %[[FIRST:.+]] = arith.cmpi eq, %[[H]]
// CHECK: scf.if %[[FIRST]]
// CHECK: %[[NB32:.+]] = arith.index_cast %[[NB]] : index to i32
// CHECK: memref.store %[[NB32]], %[[LENS]][%[[B]]]
// CHECK: return
func.func @paged_sink_window(%k: tensor<16x4x2x8xf32>, %v: !tessera.qtensor<16x4x2x8xf32, #tessera.quant<int, bits = 4, asymmetric>>, %t: tensor<3x5xi32>, %l: tensor<3xi32>) -> (tensor<3x2x6xi64>, tensor<16x4x2x8xf32>, !tessera.qtensor<16x4x2x8xf32, #tessera.quant<int, bits = 4, asymmetric>>, tensor<3xi32>) {
  %i, %k2, %v2, %n = tessera.evict sink_window %k, %v paged(%t, %l : tensor<3x5xi32>, tensor<3xi32>) {budget = 6, page_size = 4, sinks = 2} : tensor<16x4x2x8xf32>, !tessera.qtensor<16x4x2x8xf32, #tessera.quant<int, bits = 4, asymmetric>> -> tensor<3x2x6xi64>, tensor<16x4x2x8xf32>, !tessera.qtensor<16x4x2x8xf32, #tessera.quant<int, bits = 4, asymmetric>>, tensor<3xi32>
  return %i, %k2, %v2, %n : tensor<3x2x6xi64>, tensor<16x4x2x8xf32>, !tessera.qtensor<16x4x2x8xf32, #tessera.quant<int, bits = 4, asymmetric>>, tensor<3xi32>
}

// Paged h2o per layer: scores are read by sequence position [b, g, j] (not through the
// table), the kept scores go to slot n of [B, Hkv, budget] and are zeroed past the new length.
// CHECK-LABEL: func.func @paged_h2o
// CHECK: %[[KS:.+]] = memref.alloc() : memref<3x2x6xf32>
// CHECK: scf.parallel (%[[B:.+]]) = (%{{.*}}) to (%c3)
// CHECK: %[[NB:.+]] = scf.for %[[J:.+]] = {{.*}} iter_args(%[[N:.+]] = {{.*}}) -> (index)
// CHECK: %[[O:.+]] = memref.load %{{.*}}[%[[B]], %[[G:.+]], %[[J]]] : memref<3x2x20xf32>
// CHECK: memref.store %[[O]], %[[KS]][%[[B]], %[[G]], %[[N]]]
// CHECK: scf.for %[[C:.+]] = %[[NB]] to %c6
// CHECK: memref.store %c-1_i64, %{{.*}}[%[[B]], %{{.*}}, %[[C]]] : memref<3x1x6xi64>
// CHECK: memref.store %{{.*}}, %[[KS]][%[[B]], %{{.*}}, %[[C]]] : memref<3x2x6xf32>
func.func @paged_h2o(%k: tensor<16x4x2x8xf32>, %v: tensor<16x4x2x8xf32>, %s: tensor<3x2x20xf32>, %t: tensor<3x5xi32>, %l: tensor<3xi32>) -> (tensor<3x1x6xi64>, tensor<16x4x2x8xf32>, tensor<16x4x2x8xf32>, tensor<3x2x6xf32>, tensor<3xi32>) {
  %i, %k2, %v2, %s2, %n = tessera.evict h2o %k, %v scores(%s : tensor<3x2x20xf32>) paged(%t, %l : tensor<3x5xi32>, tensor<3xi32>) {budget = 6, page_size = 4, window = 2, scope = #tessera<evict_scope per_layer>} : tensor<16x4x2x8xf32>, tensor<16x4x2x8xf32> -> tensor<3x1x6xi64>, tensor<16x4x2x8xf32>, tensor<16x4x2x8xf32>, tensor<3x2x6xf32>, tensor<3xi32>
  return %i, %k2, %v2, %s2, %n : tensor<3x1x6xi64>, tensor<16x4x2x8xf32>, tensor<16x4x2x8xf32>, tensor<3x2x6xf32>, tensor<3xi32>
}

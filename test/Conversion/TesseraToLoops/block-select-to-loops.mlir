// tessera.block_select on the CPU: row phases in scf.parallel loops (pooled keys per key
// block, then scores and the selection per query block; with dual top-p a cap per batch
// element and a forced-block pass), the mask bit-packed 32 blocks per i32 word.
// RUN: tessera-opt %s --convert-tessera-to-loops --split-input-file | FileCheck %s

// top_k: pooled keys [B, Hkv, KB, D] per (b, head, key block) with max/min/sum kept per
// channel, then per (b, head, query block) the softmax scores and the prefix of k blocks:
// the last kept score by bisection on the scores' f32 bits (32 steps between 0 and +inf's
// bits), bits set with shli/ori (all visible blocks when fewer than k); the count last.
// CHECK-LABEL: func.func @top_k
// CHECK: %[[MASK:.+]] = memref.alloc() : memref<1x2x4x1xi32>
// CHECK: %[[COUNTS:.+]] = memref.alloc() : memref<1x2x4xi32>
// CHECK: %[[KPOOL:.+]] = memref.alloc() : memref<1x2x4x8xf32>
// CHECK: %[[SCORES:.+]] = memref.alloc() : memref<1x2x4x4xf32>
// CHECK: scf.parallel (%[[B:.+]], %[[H:.+]], %[[KB:.+]]) =
// CHECK: arith.maximumf
// CHECK: arith.minimumf
// CHECK: memref.store %{{.+}}, %[[KPOOL]][%[[B]], %[[H]], %[[KB]], %{{.+}}] : memref<1x2x4x8xf32>
// CHECK: scf.parallel (%[[B2:.+]], %[[H2:.+]], %[[QB:.+]]) =
// CHECK: memref.store %{{.+}}, %[[SCORES]][%[[B2]], %[[H2]], %[[QB]], %{{.+}}] : memref<1x2x4x4xf32>
// CHECK: memref.store %c0_i32{{.*}}, %[[MASK]]
// CHECK: %[[ALL:.+]] = scf.for {{.+}} -> (f32)
// CHECK: %[[SHORT:.+]] = arith.cmpf olt, %[[ALL]], %[[K:.+]] : f32
// CHECK: %[[RANGE:.+]]:2 = scf.for %{{.+}} = %{{.+}} to %c32{{.*}} iter_args(%{{.+}} = %c0_i32{{.*}}, %{{.+}} = %c2139095040_i32) -> (i32, i32)
// CHECK: arith.cmpi eq, %{{.+}}, %[[RANGE]]#0 : i32
// CHECK: %[[KEEP:.+]] = arith.select %[[SHORT]]
// CHECK: scf.if %[[KEEP]]
// CHECK: %[[BIT:.+]] = arith.shli %c1_i32
// CHECK: %[[WORD:.+]] = memref.load %[[MASK]]
// CHECK: arith.ori %[[WORD]], %[[BIT]] : i32
// CHECK: memref.store %{{.+}}, %[[COUNTS]][%[[B2]], %[[H2]], %[[QB]]] : memref<1x2x4xi32>
// CHECK: bufferization.to_tensor %[[MASK]]
// CHECK: bufferization.to_tensor %[[COUNTS]]
func.func @top_k(%q: tensor<1x4x64x8xf32>, %k: tensor<1x2x64x8xf32>) -> (tensor<1x2x4x1xi32>, tensor<1x2x4xi32>) {
  %m, %n = tessera.block_select %q, %k {block_q = 16, block_k = 16, top_k = 2, pool = #tessera<pool max>} : tensor<1x4x64x8xf32>, tensor<1x2x64x8xf32> -> tensor<1x2x4x1xi32>, tensor<1x2x4xi32>
  return %m, %n : tensor<1x2x4x1xi32>, tensor<1x2x4xi32>
}

// -----

// Dual top-p: top-p candidates (the same prefix search with the scores as weights), then one
// row per batch element running it over the layer's candidates (a non-candidate's key is -1)
// and clearing the bits of those left out, then the forced blocks and counts in a third
// parallel loop.
// CHECK-LABEL: func.func @dual
// CHECK: scf.parallel
// CHECK: scf.parallel
// CHECK: arith.cmpf olt, %{{.+}}, %cst
// CHECK: scf.parallel (%[[B:.+]]) = (%{{.+}}) to (%c1)
// CHECK: %[[RANGE:.+]]:2 = scf.for %{{.+}} = %{{.+}} to %c32{{.*}} iter_args(%{{.+}} = %c0_i32{{.*}}, %{{.+}} = %c2139095040_i32) -> (i32, i32)
// CHECK: arith.bitcast %{{.+}} : f32 to i32
// CHECK: arith.cmpi sge
// CHECK: arith.addi %[[RANGE]]#0, %c1_i32
// CHECK: arith.xori %{{.+}}, %c-1_i32{{.*}} : i32
// CHECK: scf.parallel
// CHECK: return
func.func @dual(%q: tensor<1x4x64x8xf32>, %k: tensor<1x2x64x8xf32>) -> (tensor<1x2x4x1xi32>, tensor<1x2x4xi32>) {
  %m, %n = tessera.block_select %q, %k {block_q = 16, block_k = 16, top_p = 0.9 : f32, layer_top_p = 0.5 : f32, sink_blocks = 1, causal} : tensor<1x4x64x8xf32>, tensor<1x2x64x8xf32> -> tensor<1x2x4x1xi32>, tensor<1x2x4xi32>
  return %m, %n : tensor<1x2x4x1xi32>, tensor<1x2x4xi32>
}

// -----

// Run-time batch and lengths: the block grid from memref.dim (ceil(S / 16), words =
// ceil(KB / 32)), the batches compared on the host before any work.
// CHECK-LABEL: func.func @dynamic
// CHECK-DAG: %[[KBUF:.+]] = bufferization.to_buffer %arg1
// CHECK-DAG: %[[SKV:.+]] = memref.dim %[[KBUF]], %c2{{.*}} : memref<?x2x?x8xf32>
// CHECK: arith.divui %{{.+}}, %c16{{.*}} : index
// CHECK: %[[KB:.+]] = arith.divui %{{.+}}, %c16{{.*}} : index
// CHECK: %[[WORDS:.+]] = arith.divui %{{.+}}, %c32{{.*}} : index
// CHECK: %[[MASK:.+]] = memref.alloc(%{{.+}}, %{{.+}}, %[[WORDS]]) : memref<?x2x?x?xi32>
// CHECK: llvm.call @__tessera_runtime_error
// CHECK: scf.if
// CHECK: memref.alloc(%{{.+}}, %[[KB]]) : memref<?x2x?x8xf32>
// CHECK: scf.parallel
func.func @dynamic(%q: tensor<?x4x?x8xf32>, %k: tensor<?x2x?x8xf32>) -> (tensor<?x2x?x?xi32>, tensor<?x2x?xi32>) {
  %m, %n = tessera.block_select %q, %k {block_q = 16, block_k = 16, top_k = 2} : tensor<?x4x?x8xf32>, tensor<?x2x?x8xf32> -> tensor<?x2x?x?xi32>, tensor<?x2x?xi32>
  return %m, %n : tensor<?x2x?x?xi32>, tensor<?x2x?xi32>
}

// -----

// Projections: the pooled key is projected by Wk[h] and the pooled query by Wq[h] (P = 4
// wide), so the pooled keys are [B, Hkv, KB, P] and the query row holds D + P floats. The
// pooling row holds the key being read (D), the running max/min/sum (3 D) and the pool (3 D).
// CHECK-LABEL: func.func @projected
// CHECK: memref.alloc() : memref<1x2x4x4xf32>
// CHECK: memref.alloca() : memref<56xf32>
// CHECK: memref.load %{{.+}} : memref<2x24x4xf32>
// CHECK: memref.alloca() : memref<12xf32>
// CHECK: memref.load %{{.+}} : memref<2x8x4xf32>
func.func @projected(%q: tensor<1x4x64x8xf32>, %k: tensor<1x2x64x8xf32>, %wq: tensor<2x8x4xf32>, %wk: tensor<2x24x4xf32>) -> (tensor<1x2x4x1xi32>, tensor<1x2x4xi32>) {
  %m, %n = tessera.block_select %q, %k proj(%wq, %wk : tensor<2x8x4xf32>, tensor<2x24x4xf32>) {block_q = 16, block_k = 16, top_k = 1, pool = #tessera<pool max_min_avg>} : tensor<1x4x64x8xf32>, tensor<1x2x64x8xf32> -> tensor<1x2x4x1xi32>, tensor<1x2x4xi32>
  return %m, %n : tensor<1x2x4x1xi32>, tensor<1x2x4xi32>
}

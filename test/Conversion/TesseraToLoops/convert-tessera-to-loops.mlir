// RUN: tessera-opt %s --convert-tessera-to-loops --split-input-file | FileCheck %s

// Attention becomes one parallel iteration per (batch, head, query block) and a loop over the
// key blocks that the causal bound leaves, with the online-softmax update inside.
// CHECK-LABEL: func.func @attention_causal
// CHECK: %[[OUT:.+]] = memref.alloc() : memref<1x4x100x64xf32>
// CHECK: %[[LSE:.+]] = memref.alloc() : memref<1x4x100xf32>
// K^T per key block, built once: (batch, KV head, key block).
// CHECK: memref.alloc() : memref<1x2x4x64x32xf32>
// CHECK: scf.parallel ({{.*}}) = {{.*}} to (%c1{{.*}}, %c2{{.*}}, %c4{{.*}})
// CHECK: scf.parallel (%[[B:.+]], %[[H:.+]], %[[QB:.+]]) = {{.*}} to (%c1{{.*}}, %c4{{.*}}, %c4{{.*}})
// CHECK: %[[KVH:.+]] = arith.divui %[[H]], %c2
// CHECK: scf.for %[[KB:.+]] = %{{.+}} to %{{.+}} step
// CHECK: vector.fma
// CHECK: vector.reduction <add>
// CHECK: arith.select
// CHECK: math.exp
// CHECK: math.log
// CHECK: bufferization.to_tensor %[[OUT]] restrict writable
func.func @attention_causal(%q: tensor<1x4x100x64xf32>, %k: tensor<1x2x100x64xf32>, %v: tensor<1x2x100x64xf32>) -> tensor<1x4x100x64xf32> {
  %o, %l = tessera.attention %q, %k, %v {causal, block_q = 32, block_k = 32} : tensor<1x4x100x64xf32>, tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32> -> tensor<1x4x100x64xf32>, tensor<1x4x100xf32>
  return %o : tensor<1x4x100x64xf32>
}

// -----

// A key block whose bit in the packed mask is 0 is skipped: the block body sits under scf.if.
// Keys are transposed only for blocks some mask row of their (batch, KV head) enables.
// CHECK-LABEL: func.func @attention_packed_mask
// CHECK: %[[USED:.+]] = scf.for {{.+}} -> (i1)
// CHECK: arith.ori
// CHECK: scf.if %[[USED]] {
// CHECK: scf.for
// CHECK: %[[WORD:.+]] = memref.load %{{.+}}[%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}] : memref<1x2x2x1xi32>
// CHECK: %[[SH:.+]] = arith.shrui %[[WORD]]
// CHECK: %[[BIT:.+]] = arith.andi %[[SH]]
// CHECK: %[[ON:.+]] = arith.cmpi ne, %[[BIT]]
// CHECK: scf.if %[[ON]] {
func.func @attention_packed_mask(%q: tensor<1x2x128x64xf32>, %k: tensor<1x2x256x64xf32>, %v: tensor<1x2x256x64xf32>, %m: tensor<1x2x2x1xi32>) -> tensor<1x2x128x64xf32> {
  %o, %l = tessera.attention %q, %k, %v mask(%m : tensor<1x2x2x1xi32>) : tensor<1x2x128x64xf32>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32> -> tensor<1x2x128x64xf32>, tensor<1x2x128xf32>
  return %o : tensor<1x2x128x64xf32>
}

// -----

// Packed K is unpacked tile by tile into a stack scratch inside the key loop: no dequantized
// copy of the cache exists.
// CHECK-LABEL: func.func @attention_packed_k
// CHECK-SAME: %{{.+}}: tensor<1x2x64x32xi8>, %{{.+}}: tensor<1x2x64x2xf32>
// CHECK: scf.parallel
// CHECK: memref.alloca() : memref<64x64xf32>
// CHECK: scf.for
// CHECK: arith.extui
// CHECK: arith.sitofp
// CHECK-NOT: memref.alloc() : memref<1x2x64x64xf32>
func.func @attention_packed_k(%q: tensor<1x2x8x64xf32>, %k: !tessera.qtensor<1x2x64x64xf32, #tessera.quant<int, bits = 4, group = 32>>, %v: tensor<1x2x64x64xf32>) -> tensor<1x2x8x64xf32> {
  %o, %l = tessera.attention %q, %k, %v : tensor<1x2x8x64xf32>, !tessera.qtensor<1x2x64x64xf32, #tessera.quant<int, bits = 4, group = 32>>, tensor<1x2x64x64xf32> -> tensor<1x2x8x64xf32>, tensor<1x2x8xf32>
  return %o : tensor<1x2x8x64xf32>
}

// -----

// A qtensor result becomes its components in the signature; quantize packs per row and group.
// CHECK-LABEL: func.func @quantize
// CHECK-SAME: -> (tensor<3x24xi8>, tensor<3x2xf32>, tensor<3x2xf32>)
// CHECK: scf.parallel
// CHECK: arith.fptosi {{.*}} : f32 to i32
// CHECK: arith.shli
// CHECK: arith.ori
// CHECK: return %{{.+}}, %{{.+}}, %{{.+}} : tensor<3x24xi8>, tensor<3x2xf32>, tensor<3x2xf32>
func.func @quantize(%x: tensor<3x64xf32>) -> !tessera.qtensor<3x64xf32, #tessera.quant<int, bits = 3, group = 32, asymmetric>> {
  %p = tessera.quantize %x : tensor<3x64xf32> -> !tessera.qtensor<3x64xf32, #tessera.quant<int, bits = 3, group = 32, asymmetric>>
  return %p : !tessera.qtensor<3x64xf32, #tessera.quant<int, bits = 3, group = 32, asymmetric>>
}

// -----

// Hadamard: seed signs become a constant global; butterflies use vectors once pairs are
// far enough apart.
// CHECK: memref.global "private" constant @__tessera_hadamard_signs_32_5 : memref<32xf32>
// CHECK-LABEL: func.func @hadamard
// CHECK: memref.get_global @__tessera_hadamard_signs_32_5
// CHECK: vector.load %{{.+}} : memref<32xf32>, vector<16xf32>
// CHECK: arith.subf %{{.+}}, %{{.+}} : vector<16xf32>
func.func @hadamard(%x: tensor<2x32xbf16>) -> tensor<2x32xbf16> {
  %y = tessera.hadamard %x {seed = 5} : tensor<2x32xbf16>
  return %y : tensor<2x32xbf16>
}

// -----

// Run-time batch and lengths: sizes from memref.dim, outputs allocated at those sizes, and the
// rules the verifier cannot check (K and V lengths agree, ...) tested before any work, with a
// located message for the host (the JIT turns it into a failed call).
// CHECK: llvm.mlir.global internal constant @__tessera_check_{{.*}}("{{.*}}convert-tessera-to-loops.mlir:{{[0-9]+}}:{{[0-9]+}}: 'tessera.attention' key length differs from the value length\00")
// CHECK: llvm.func @__tessera_runtime_error(!llvm.ptr, i64, i64)
// CHECK-LABEL: func.func @attention_dynamic
// CHECK: %[[SQ:.+]] = memref.dim %{{.+}}, %c2 : memref<?x4x?x64xf32>
// CHECK: %[[SKV:.+]] = memref.dim %{{.+}}, %c2{{.*}} : memref<?x2x?x64xf32>
// CHECK: memref.alloc(%{{.+}}, %[[SQ]]) : memref<?x4x?x64xf32>
// CHECK: %[[OK:.+]] = arith.cmpi eq
// CHECK: scf.if %{{.+}} {
// CHECK: llvm.call @__tessera_runtime_error
// CHECK: scf.if
// CHECK: scf.parallel
func.func @attention_dynamic(%q: tensor<?x4x?x64xf32>, %k: tensor<?x2x?x64xf32>, %v: tensor<?x2x?x64xf32>) -> tensor<?x4x?x64xf32> {
  %o, %l = tessera.attention %q, %k, %v {causal} : tensor<?x4x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32> -> tensor<?x4x?x64xf32>, tensor<?x4x?xf32>
  return %o : tensor<?x4x?x64xf32>
}

// -----

// Row ops with run-time leading dims: the rows are counted from memref.dim, the outputs (and a
// qtensor's components) allocated at those sizes; the row length stays static.
// CHECK-LABEL: func.func @rows_dynamic
// CHECK: %[[N:.+]] = memref.dim %{{.+}}, %c0 : memref<?x64xf32>
// CHECK: memref.alloc(%[[N]]) : memref<?x64xf32>
// CHECK: scf.parallel (%{{.+}}) = (%{{.+}}) to (%[[N]])
// CHECK: memref.alloc(%{{.+}}) : memref<?x32xi8>
// CHECK: memref.alloc(%{{.+}}) : memref<?x2xf32>
func.func @rows_dynamic(%x: tensor<?x64xf32>) -> !tessera.qtensor<?x64xf32, #tessera.quant<int, bits = 4, group = 32>> {
  %h = tessera.hadamard %x {seed = 3} : tensor<?x64xf32>
  %p = tessera.quantize %h : tensor<?x64xf32> -> !tessera.qtensor<?x64xf32, #tessera.quant<int, bits = 4, group = 32>>
  return %p : !tessera.qtensor<?x64xf32, #tessera.quant<int, bits = 4, group = 32>>
}

// -----

// Block-GTQ bit allocation: rows (a run-time count) in an scf.parallel, each starting at
// min_bits with its gains s * 2^(-2b) in an f32 scratch row (the power of two from its exponent
// bits), then an scf.while that scans for the first largest gain, goes on while fewer than
// floor(4 * 2.0) - 4 * 1 = 4 more bits are given and that gain is positive, and gives the winner a bit.
// CHECK-LABEL: func.func @bit_allocate
// CHECK: %[[N:.+]] = memref.dim %[[S:.+]], %c0 : memref<?x4xf32>
// CHECK: %[[BITS:.+]] = memref.alloc(%[[N]]) : memref<?x4xi32>
// CHECK: scf.parallel (%[[ROW:.+]]) = (%{{.+}}) to (%[[N]])
// CHECK: %[[GAINS:.+]] = memref.alloca() : memref<4xf32>
// CHECK: scf.for
// CHECK: memref.store %c1_i32, %[[BITS]][%[[ROW]], %{{.+}}] : memref<?x4xi32>
// CHECK: arith.shli %{{.+}}, %c23_i32 : i32
// CHECK: arith.bitcast %{{.+}} : i32 to f32
// CHECK: arith.cmpi sge, %{{.+}}, %c8_i32 : i32
// CHECK: scf.while (%[[SPENT:.+]] = %{{.+}}) : (index) -> (index, index)
// CHECK: %[[BEST:.+]]:2 = scf.for {{.*}} iter_args(%{{.+}} = %cst{{.*}}, %{{.+}} = %{{.+}}) -> (f32, index)
// CHECK: arith.cmpf ogt
// (Either order: gcc and clang evaluate a call's arguments differently.)
// CHECK-DAG: %[[LEFT:.+]] = arith.cmpi ult, %[[SPENT]], %c4{{.*}} : index
// CHECK-DAG: %[[POS:.+]] = arith.cmpf ogt, %[[BEST]]#0, %{{.+}} : f32
// CHECK: %[[MORE:.+]] = arith.andi %[[LEFT]], %[[POS]] : i1
// CHECK: scf.condition(%[[MORE]]) %[[SPENT]], %[[BEST]]#1 : index, index
// CHECK: ^bb0(%{{.+}}: index, %[[WIN:.+]]: index):
// CHECK: %[[OLD:.+]] = memref.load %[[BITS]][%[[ROW]], %[[WIN]]] : memref<?x4xi32>
// CHECK: %[[NEW:.+]] = arith.addi %[[OLD]], %{{.+}} : i32
// CHECK: memref.store %[[NEW]], %[[BITS]][%[[ROW]], %[[WIN]]] : memref<?x4xi32>
// CHECK: memref.store %{{.+}}, %[[GAINS]][%[[WIN]]] : memref<4xf32>
// CHECK: return %{{.+}} : tensor<?x4xi32>
func.func @bit_allocate(%s: tensor<?x4xf32>) -> tensor<?x4xi32> {
  %b = tessera.bit_allocate %s {avg_bits = 2.0 : f64} : tensor<?x4xf32> -> tensor<?x4xi32>
  return %b : tensor<?x4xi32>
}

// -----

// With avg_bits = min_bits the budget is spent at the start: no loop.
// CHECK-LABEL: func.func @bit_allocate_flat
// CHECK: memref.store %c2_i32
// CHECK-NOT: scf.while
// CHECK: return
func.func @bit_allocate_flat(%s: tensor<8xf32>) -> tensor<8xi32> {
  %b = tessera.bit_allocate %s {avg_bits = 2.0 : f64, min_bits = 2} : tensor<8xf32> -> tensor<8xi32>
  return %b : tensor<8xi32>
}

// -----

// A static topology visits the key blocks its lists name: the keys' transposition is built
// only for those, from a constant table per (topology batch, KV head, key block) (here KV head
// 0 reads blocks 0 and 2 of 3, KV head 1 only block 1).
// CHECK-LABEL: memref.global "private" constant @__tessera_visited_key_blocks_0 : memref<1x2x3xi32> = dense<{{\[\[\[}}1, 0, 1], [0, 1, 0]]]>
// CHECK-LABEL: func.func @attention_topology
// CHECK: %[[VISITED:.+]] = memref.get_global @__tessera_visited_key_blocks_0
// CHECK: scf.parallel (%{{.+}}, %[[KVH:.+]], %[[KB:.+]]) =
// CHECK: %[[FLAG:.+]] = memref.load %[[VISITED]][%{{.+}}, %[[KVH]], %[[KB]]] : memref<1x2x3xi32>
// CHECK: %[[ON:.+]] = arith.cmpi ne, %[[FLAG]], %c0_i32
// CHECK: scf.if %[[ON]] {
func.func @attention_topology(%q: tensor<1x2x100x64xf32>, %k: tensor<1x2x150x64xf32>) -> tensor<1x2x100x64xf32> {
  %o, %l = tessera.attention %q, %k, %k {topology = #tessera.block_topology<batch = 1, heads = 2, query_blocks = 2, key_blocks = 3, offsets = [0, 1, 2, 3, 3], indices = [0, 2, 1]>} : tensor<1x2x100x64xf32>, tensor<1x2x150x64xf32>, tensor<1x2x150x64xf32> -> tensor<1x2x100x64xf32>, tensor<1x2x100xf32>
  return %o : tensor<1x2x100x64xf32>
}

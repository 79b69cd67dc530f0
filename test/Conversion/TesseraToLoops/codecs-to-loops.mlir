// The rotated codecs (tq_mse, block_gtq, lattice) lower to loops over constant tables: the
// rotation matrix, the per-position slots (bits, bit offset, codebook base, segment) and the
// Lloyd-Max codebook (centroids then thresholds, scaled to N(0, 1/n)); schemes with one
// bit width need no slot table.
// RUN: tessera-opt %s --convert-tessera-to-loops | FileCheck %s

// TQ-MSE, 3 bits, D = 8: 24 bits of codes in 3 bytes, an f16 norm per row; one width, so
// position p's code is at bit 3p (no slot table).
// CHECK-DAG: memref.global "private" constant @__tessera_q[[H:[0-9A-F]+]]_book : memref<16xf32> = dense<[-0.76082772,
// CHECK-DAG: memref.global "private" constant @__tessera_q[[H]]_rot : memref<8x8xf32>
// Block-GTQ (below): the slots of its segments.
// CHECK-DAG: memref.global "private" constant @{{__tessera_q[0-9A-F]+_slots}} : memref<8x4xi32> = dense<{{\[\[}}4, 0, 0, 0], [4, 4, 0, 0], [2, 8, 32, 1], [2, 10, 32, 1], [1, 16, 40, 2], [1, 17, 40, 2], [1, 18, 40, 2], [1, 19, 40, 2]]>
// CHECK-LABEL: func.func @tq_mse
// CHECK: memref.alloc() : memref<4x3xi8>
// CHECK: memref.alloc() : memref<4xf16>
// CHECK: scf.parallel
// CHECK: memref.get_global @__tessera_q[[H]]_rot
// CHECK: memref.get_global @__tessera_q[[H]]_book
// CHECK: scf.parallel
// CHECK: memref.get_global @__tessera_q[[H]]_book
func.func @tq_mse(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %p = tessera.quantize %x : tensor<4x8xf32> -> !tessera.qtensor<4x8xf32, #tessera.quant<tq_mse, bits = 3, seed = 1, norm = f16>>
  %y = tessera.dequantize %p : !tessera.qtensor<4x8xf32, #tessera.quant<tq_mse, bits = 3, seed = 1, norm = f16>> -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// Block-GTQ [4, 2, 1, 1]: segments by width, widest first (block 0 -> dims 0, 4 at 4 bits;
// block 1 -> dims 1, 5 at 2 bits; blocks 2, 3 -> dims 2, 3, 6, 7 at 1 bit), packed one after
// another (1 + 1 + 1 bytes), one norm per segment (slots checked above, with the globals).
// CHECK-LABEL: func.func @block_gtq
// CHECK: memref.alloc() : memref<2x3xi8>
// CHECK: memref.alloc() : memref<2x3xf32>
func.func @block_gtq(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %p = tessera.quantize %x : tensor<2x8xf32> -> !tessera.qtensor<2x8xf32, #tessera.quant<block_gtq, bits = [4, 2, 1, 1]>>
  %y = tessera.dequantize %p : !tessera.qtensor<2x8xf32, #tessera.quant<block_gtq, bits = [4, 2, 1, 1]>> -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}

// Lattice E8 with run-time rows: one i8 per coordinate, an f32 norm per row.
// CHECK-LABEL: func.func @lattice
// CHECK: %[[N:.+]] = memref.dim
// CHECK: memref.alloc(%[[N]]) : memref<?x16xi8>
// CHECK: memref.alloc(%[[N]]) : memref<?xf32>
// CHECK: scf.parallel
// CHECK: arith.trunci %{{.*}} : i32 to i8
func.func @lattice(%x: tensor<?x16xf32>) -> !tessera.qtensor<?x16xf32, #tessera.quant<lattice, lattice = e8, alpha = 2.0, rotation = haar, seed = 3>> {
  %p = tessera.quantize %x : tensor<?x16xf32> -> !tessera.qtensor<?x16xf32, #tessera.quant<lattice, lattice = e8, alpha = 2.0, rotation = haar, seed = 3>>
  return %p : !tessera.qtensor<?x16xf32, #tessera.quant<lattice, lattice = e8, alpha = 2.0, rotation = haar, seed = 3>>
}

// Attention over rotated K and V: Q rotated into K's domain before the key-block loop,
// O rotated back from V's after it.
// CHECK-LABEL: func.func @attention
// CHECK: %[[QR:.+]] = memref.alloc() : memref<1x4x8x16xf32>
// CHECK: scf.parallel
// CHECK: memref.get_global @{{__tessera_q[0-9A-F]+_rot}}
// CHECK: memref.store %{{.*}}, %[[QR]]
// CHECK: scf.parallel
// CHECK: memref.get_global @{{__tessera_q[0-9A-F]+_book}}
// CHECK: scf.parallel
// CHECK: memref.get_global @{{__tessera_q[0-9A-F]+_rot}}
func.func @attention(%q: tensor<1x4x8x16xf32>,
    %k: !tessera.qtensor<1x2x40x16xf32, #tessera.quant<tq_mse, bits = 4>>,
    %v: !tessera.qtensor<1x2x40x16xf32, #tessera.quant<lattice, lattice = d4, alpha = 3.0, rotation = hadamard>>) -> tensor<1x4x8x16xf32> {
  %o, %l = tessera.attention %q, %k, %v {causal} : tensor<1x4x8x16xf32>,
      !tessera.qtensor<1x2x40x16xf32, #tessera.quant<tq_mse, bits = 4>>,
      !tessera.qtensor<1x2x40x16xf32, #tessera.quant<lattice, lattice = d4, alpha = 3.0, rotation = hadamard>>
      -> tensor<1x4x8x16xf32>, tensor<1x4x8xf32>
  return %o : tensor<1x4x8x16xf32>
}

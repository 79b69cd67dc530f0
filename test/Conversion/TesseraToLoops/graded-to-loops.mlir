// Graded weights on the CPU: quantize packs a row's indices into B bit-planes and fills one
// table per precision; graded_matmul ranks each row of x (bits into an i32 buffer), then
// sums over j ascending per output element, reading only b_j planes of column j.
// RUN: tessera-opt %s --convert-tessera-to-loops --split-input-file | FileCheck %s

// Quantize: planes zeroed per plane, bucket sums and counts at 2^B entries, one bit per plane
// OR-ed into its byte, tables stored into the row's lut.
// CHECK-LABEL: func.func @quantize
// CHECK: %[[PLANES:.+]] = memref.alloc() : memref<3x5x2xi8>
// CHECK: %[[LUT:.+]] = memref.alloc() : memref<5x14xf32>
// CHECK: scf.parallel (%[[ROW:.+]]) =
// CHECK: memref.store %{{.+}}, %[[PLANES]][%{{.+}}, %[[ROW]], %{{.+}}] : memref<3x5x2xi8>
// CHECK: %[[SUMS:.+]] = memref.alloca() : memref<8xf32>
// CHECK: %[[COUNTS:.+]] = memref.alloca() : memref<8xf32>
// CHECK: arith.fptoui %{{.+}} : f32 to i32
// CHECK: %[[OLD:.+]] = memref.load %[[PLANES]]
// CHECK: %[[OR:.+]] = arith.ori %[[OLD]]
// CHECK: memref.store %[[OR]], %[[PLANES]]
// CHECK: memref.store %{{.+}}, %[[SUMS]]
// CHECK: memref.store %{{.+}}, %[[COUNTS]]
// CHECK: memref.store %{{.+}}, %[[LUT]][%[[ROW]], %{{.+}}] : memref<5x14xf32>
func.func @quantize(%w: tensor<5x16xf32>) -> !tessera.qtensor<5x16xf32, #tessera.quant<graded, bits = 3>> {
  %p = tessera.quantize %w : tensor<5x16xf32> -> !tessera.qtensor<5x16xf32, #tessera.quant<graded, bits = 3>>
  return %p : !tessera.qtensor<5x16xf32, #tessera.quant<graded, bits = 3>>
}

// -----

// Below full precision: ranks by counting (|x_i| > |x_j| or a tie at a lower i), bits
// clamp(budget - rank * B, 0, B) with budget floor(16 * 1.5) = 24; the dot skips b_j = 0 and
// reads b_j planes at table offset 2^b_j - 2.
// CHECK-LABEL: func.func @ranked
// CHECK: %[[BITS:.+]] = memref.alloc() : memref<3x16xi32>
// CHECK: scf.parallel
// CHECK: %[[RANK:.+]] = scf.for {{.*}} -> (index) {
// (Operands built in one call may come out in either order: gcc and clang evaluate
// arguments differently, hence CHECK-DAG.)
// CHECK: arith.cmpf ogt
// CHECK-DAG: arith.cmpf oeq
// CHECK-DAG: arith.cmpi ult
// CHECK-DAG: %[[C24:.+]] = arith.constant 24 : index
// CHECK-DAG: %[[SPENT:.+]] = arith.muli %[[RANK]], %{{.+}} : index
// CHECK: arith.subi %[[C24]], %[[SPENT]] : index
// CHECK: memref.store %{{.+}}, %[[BITS]]
// CHECK: %[[Y:.+]] = memref.alloc() : memref<3x5xf32>
// CHECK: scf.parallel (%[[I:.+]], %[[N:.+]]) = {{.*}} to (%{{.+}}, %{{.+}})
// CHECK: %[[SUM:.+]] = scf.for %[[J:.+]] = {{.*}} iter_args(%[[ACC:.+]] = %{{.+}}) -> (f32)
// CHECK: %[[X:.+]] = memref.load %{{.+}}[%[[I]], %[[J]]] : memref<3x16xf32>
// CHECK: %[[B:.+]] = arith.index_cast %{{.+}} : i32 to index
// CHECK: %[[READ:.+]] = arith.cmpi sgt, %[[B]]
// CHECK: scf.if %[[READ]] -> (f32) {
// CHECK: scf.for %[[P:.+]] = %{{.+}} to %[[B]] step
// CHECK: memref.load %{{.+}}[%[[P]], %[[N]], %{{.+}}] : memref<3x5x2xi8>
// CHECK: arith.shli %{{.+}}, %[[B]] : index
// CHECK: %[[W:.+]] = memref.load %{{.+}}[%[[N]], %{{.+}}] : memref<5x14xf32>
// CHECK: %[[PROD:.+]] = arith.mulf %[[X]], %[[W]] : f32
// CHECK: arith.addf %[[ACC]], %[[PROD]] : f32
// CHECK: } else {
// CHECK: scf.yield %[[ACC]] : f32
// CHECK: memref.store %[[SUM]], %[[Y]][%[[I]], %[[N]]]
func.func @ranked(%x: tensor<3x16xf32>, %w: !tessera.qtensor<5x16xf32, #tessera.quant<graded, bits = 3>>) -> tensor<3x5xf32> {
  %y = tessera.graded_matmul %x, %w {avg_bits = 1.5 : f64} : tensor<3x16xf32>, !tessera.qtensor<5x16xf32, #tessera.quant<graded, bits = 3>> -> tensor<3x5xf32>
  return %y : tensor<3x5xf32>
}

// -----

// At avg_bits = B no ranking is needed: one phase, every column reads both planes (unrolled)
// at the precision-2 table offset 2; bf16 x is widened, the sum narrowed once.
// CHECK-LABEL: func.func @full
// CHECK-NOT: xi32>
// CHECK: scf.parallel (%{{.+}}, %{{.+}}, %[[N:.+]]) = {{.*}} to (%c2{{.*}}, %c4{{.*}}, %c5{{.*}})
// CHECK: arith.extf %{{.+}} : bf16 to f32
// CHECK: memref.load %{{.+}}[%c0{{.*}}, %[[N]], %{{.+}}] : memref<2x5x2xi8>
// CHECK: memref.load %{{.+}}[%c1{{.*}}, %[[N]], %{{.+}}] : memref<2x5x2xi8>
// CHECK: %[[AT:.+]] = arith.addi %{{.+}}, %c2{{.*}} : index
// CHECK: memref.load %{{.+}}[%[[N]], %[[AT]]] : memref<5x6xf32>
// CHECK-NOT: scf.if
// CHECK: arith.truncf %{{.+}} : f32 to bf16
func.func @full(%x: tensor<2x4x16xbf16>, %w: !tessera.qtensor<5x16xf32, #tessera.quant<graded, bits = 2>>) -> tensor<2x4x5xbf16> {
  %y = tessera.graded_matmul %x, %w {avg_bits = 2.0 : f64} : tensor<2x4x16xbf16>, !tessera.qtensor<5x16xf32, #tessera.quant<graded, bits = 2>> -> tensor<2x4x5xbf16>
  return %y : tensor<2x4x5xbf16>
}

// -----

// Run-time rows of x: the bits buffer and y take x's leading dim.
// CHECK-LABEL: func.func @dynamic_rows
// CHECK: %[[M:.+]] = memref.dim %{{.+}}, %c0 : memref<?x16xf32>
// CHECK: memref.alloc(%[[M]]) : memref<?x16xi32>
// CHECK: scf.parallel (%{{.+}}) = (%{{.+}}) to (%[[M]])
// CHECK: memref.alloc(%[[M]]) : memref<?x5xf32>
// CHECK: scf.parallel (%{{.+}}, %{{.+}}) = {{.*}} to (%[[M]], %c5{{.*}})
func.func @dynamic_rows(%x: tensor<?x16xf32>, %w: !tessera.qtensor<5x16xf32, #tessera.quant<graded, bits = 2>>) -> tensor<?x5xf32> {
  %y = tessera.graded_matmul %x, %w {avg_bits = 1.0 : f64} : tensor<?x16xf32>, !tessera.qtensor<5x16xf32, #tessera.quant<graded, bits = 2>> -> tensor<?x5xf32>
  return %y : tensor<?x5xf32>
}

// -----

// Dequantize with a run-time row count reads it off the lut ([?, 6]), not off the planes
// ([2, ?, 2], whose first dim is the plane).
// CHECK-LABEL: func.func @dequantize_dynamic
// CHECK-SAME: (%{{.+}}: tensor<2x?x2xi8>, %{{.+}}: tensor<?x6xf32>)
// CHECK: %[[LUT:.+]] = bufferization.to_buffer %{{.+}} : tensor<?x6xf32> to memref<?x6xf32>
// CHECK: %[[ROWS:.+]] = memref.dim %[[LUT]], %c0 : memref<?x6xf32>
// CHECK: memref.alloc(%[[ROWS]]) : memref<?x16xf32>
func.func @dequantize_dynamic(%p: !tessera.qtensor<?x16xf32, #tessera.quant<graded, bits = 2>>) -> tensor<?x16xf32> {
  %y = tessera.dequantize %p : !tessera.qtensor<?x16xf32, #tessera.quant<graded, bits = 2>> -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

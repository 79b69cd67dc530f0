// Graded weights on the GPU: quantize and dequantize are row kernels (a thread per weight row,
// the bucket sums and counts in thread-local scratch); graded_matmul is two kernels, a thread
// per row of x writing its bits, then a thread per output element summing over j.
// RUN: tessera-opt %s --convert-tessera-to-gpu --split-input-file | FileCheck %s

// 300 weight rows: 3 blocks of 128 threads for each row kernel; the planes are [B, rows, bytes].
// CHECK-LABEL: func.func @pack_unpack
// CHECK: %[[PLANES:.+]] = memref.alloc() : memref<3x300x5xi8>
// CHECK: %[[LUT:.+]] = memref.alloc() : memref<300x14xf32>
// CHECK: gpu.launch_func  @tessera_kernels::@tessera_quantize_0 blocks in (%c3, %{{.+}}, %{{.+}}) threads in (%c128, %{{.+}}, %{{.+}})  args(%{{.+}} : memref<300x40xf32>, %[[PLANES]] : memref<3x300x5xi8>, %[[LUT]] : memref<300x14xf32>)
// CHECK: gpu.launch_func  @tessera_kernels::@tessera_dequantize_1 {{.*}} args(%{{.+}} : memref<3x300x5xi8>, %{{.+}} : memref<300x14xf32>, %{{.+}} : memref<300x40xf32>)
// CHECK: gpu.func @tessera_quantize_0(
// CHECK: %[[SUMS:.+]] = memref.alloca() : memref<8xf32>
// CHECK: %[[COUNTS:.+]] = memref.alloca() : memref<8xf32>
// CHECK: arith.fptoui
// CHECK: memref.store %{{.+}}, %[[SUMS]]
// CHECK: gpu.func @tessera_dequantize_1(
// CHECK: memref.load %{{.+}}[%c0{{.*}}, %{{.+}}, %{{.+}}] : memref<3x300x5xi8>
// CHECK: memref.load %{{.+}}[%c1{{.*}}, %{{.+}}, %{{.+}}] : memref<3x300x5xi8>
// CHECK: memref.load %{{.+}}[%c2{{.*}}, %{{.+}}, %{{.+}}] : memref<3x300x5xi8>
// CHECK: memref.load %{{.+}} : memref<300x14xf32>
func.func @pack_unpack(%w: tensor<300x40xf32>) -> tensor<300x40xf32> {
  %p = tessera.quantize %w : tensor<300x40xf32> -> !tessera.qtensor<300x40xf32, #tessera.quant<graded, bits = 3>>
  %d = tessera.dequantize %p : !tessera.qtensor<300x40xf32, #tessera.quant<graded, bits = 3>> -> tensor<300x40xf32>
  return %d : tensor<300x40xf32>
}

// -----

// 6 rows of x rank their 40 channels (budget floor(40 * 1.5) = 60 bits) in one block; 384
// output elements take 3 blocks, each thread reading b_j planes of its weight row n.
// CHECK-LABEL: func.func @matmul
// CHECK: %[[BITS:.+]] = memref.alloc() : memref<2x3x40xi32>
// CHECK: gpu.launch_func  @tessera_kernels::@tessera_graded_bits_0 blocks in (%c1, %{{.+}}, %{{.+}}) threads in (%c128, %{{.+}}, %{{.+}})  args(%[[X:.+]] : memref<2x3x40xbf16>, %[[BITS]] : memref<2x3x40xi32>)
// CHECK: %[[Y:.+]] = memref.alloc() : memref<2x3x64xbf16>
// CHECK: gpu.launch_func  @tessera_kernels::@tessera_graded_matmul_1 blocks in (%c3{{.*}}, %{{.+}}, %{{.+}}) threads in (%c128{{.*}}, %{{.+}}, %{{.+}})  args(%[[X]] : memref<2x3x40xbf16>, %[[BITS]] : memref<2x3x40xi32>, %{{.+}} : memref<3x64x5xi8>, %{{.+}} : memref<64x14xf32>, %[[Y]] : memref<2x3x64xbf16>)
// CHECK: gpu.func @tessera_graded_bits_0(%{{.+}}: memref<2x3x40xbf16>, %{{.+}}: memref<2x3x40xi32>) private(%[[ABS:.+]] : memref<40xf32, #gpu.address_space<private>>)
// CHECK: arith.cmpi ult, %{{.+}}, %c6
// CHECK: %[[RANK:.+]] = scf.for {{.*}} -> (index) {
// CHECK: memref.load %[[ABS]]
// (Either order: gcc and clang evaluate a call's arguments differently.)
// CHECK-DAG: %[[C60:.+]] = arith.constant 60 : index
// CHECK-DAG: %[[SPENT:.+]] = arith.muli %[[RANK]], %{{.+}} : index
// CHECK: arith.subi %[[C60]], %[[SPENT]] : index
// CHECK: gpu.func @tessera_graded_matmul_1(
// CHECK: arith.cmpi ult, %{{.+}}, %c384
// CHECK: %[[N:.+]] = arith.remui %{{.+}}, %c64 : index
// CHECK: scf.for {{.*}} -> (f32) {
// CHECK: scf.if %{{.+}} -> (f32) {
// CHECK: memref.load %{{.+}}[%{{.+}}, %[[N]], %{{.+}}] : memref<3x64x5xi8>
// CHECK: memref.load %{{.+}}[%[[N]], %{{.+}}] : memref<64x14xf32>
// CHECK: arith.truncf %{{.+}} : f32 to bf16
func.func @matmul(%x: tensor<2x3x40xbf16>, %w: !tessera.qtensor<64x40xf32, #tessera.quant<graded, bits = 3>>) -> tensor<2x3x64xbf16> {
  %y = tessera.graded_matmul %x, %w {avg_bits = 1.5 : f64} : tensor<2x3x40xbf16>, !tessera.qtensor<64x40xf32, #tessera.quant<graded, bits = 3>> -> tensor<2x3x64xbf16>
  return %y : tensor<2x3x64xbf16>
}

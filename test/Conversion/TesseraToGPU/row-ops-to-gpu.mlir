// hadamard, quantize and dequantize become row kernels: 128 threads per block, one row per
// thread through a private f32 row, with the Hadamard signs as a constant global of the
// kernels' gpu.module; a packed value travels between kernels as its components.
// RUN: tessera-opt %s --convert-tessera-to-gpu | FileCheck %s

// CHECK-LABEL: func.func @rotate_pack_unpack
// CHECK: %[[H:.+]] = memref.alloc() : memref<2x300x64xbf16>
// CHECK: gpu.launch_func  @tessera_kernels::@tessera_hadamard_0 blocks in (%[[G:.+]], %{{.+}}, %{{.+}}) threads in (%[[T:.+]], %{{.+}}, %{{.+}})  args(%{{.+}} : memref<2x300x64xbf16>, %[[H]] : memref<2x300x64xbf16>)
// CHECK: %[[CODES:.+]] = memref.alloc() : memref<2x300x32xi8>
// CHECK: %[[SCALES:.+]] = memref.alloc() : memref<2x300x2xf32>
// CHECK: gpu.launch_func  @tessera_kernels::@tessera_quantize_1 {{.*}} args(%{{.+}} : memref<2x300x64xbf16>, %[[CODES]] : memref<2x300x32xi8>, %[[SCALES]] : memref<2x300x2xf32>)
// CHECK: gpu.launch_func  @tessera_kernels::@tessera_dequantize_2 {{.*}} args(%{{.+}} : memref<2x300x32xi8>, %{{.+}} : memref<2x300x2xf32>, %{{.+}} : memref<2x300x64xbf16>)
// CHECK: gpu.module @tessera_kernels
// CHECK: memref.global "private" constant @__tessera_hadamard_signs_64_7 : memref<64xf32> = dense<
// CHECK: gpu.func @tessera_hadamard_0(%{{.+}}: memref<2x300x64xbf16>, %{{.+}}: memref<2x300x64xbf16>) private(%{{.+}} : memref<64xf32, #gpu.address_space<private>>) kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// CHECK: arith.cmpi ult
// CHECK: arith.remui
// CHECK: memref.get_global @__tessera_hadamard_signs_64_7
// CHECK: gpu.func @tessera_quantize_1(
// CHECK: arith.fptosi {{.*}} : f32 to i32
// CHECK: gpu.func @tessera_dequantize_2(
func.func @rotate_pack_unpack(%x: tensor<2x300x64xbf16>) -> tensor<2x300x64xbf16> {
  %r = tessera.hadamard %x {seed = 7} : tensor<2x300x64xbf16>
  %p = tessera.quantize %r : tensor<2x300x64xbf16> -> !tessera.qtensor<2x300x64xbf16, #tessera.quant<int, bits = 4, group = 32>>
  %y = tessera.dequantize %p : !tessera.qtensor<2x300x64xbf16, #tessera.quant<int, bits = 4, group = 32>> -> tensor<2x300x64xbf16>
  return %y : tensor<2x300x64xbf16>
}

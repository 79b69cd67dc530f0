// Attention over rotated packed K/V on the GPU: a row kernel rotates Q into K's domain,
// the attention kernel decodes the packed codes element by element (the codebooks, slots
// and rotations are constants of the kernel module), and a row kernel rotates O back from
// V's domain. Row kernels also take run-time rows.
// RUN: tessera-opt %s --convert-tessera-to-gpu | FileCheck %s

// CHECK-LABEL: func.func @attention
// CHECK: %[[QR:.+]] = memref.alloc() : memref<1x4x32x64xbf16>
// CHECK: gpu.launch_func @tessera_kernels::@tessera_rotate_0 blocks in (%{{.*}}) threads in (%c128{{.*}}) args(%{{.*}} : memref<1x4x32x64xbf16>, %[[QR]] : memref<1x4x32x64xbf16>, %{{.*}} : index)
// CHECK: %[[O:.+]] = memref.alloc() : memref<1x4x32x64xbf16>
// CHECK: gpu.launch_func @tessera_kernels::@tessera_attention_1 {{.*}} args(%[[QR]] : memref<1x4x32x64xbf16>, %{{.*}} : memref<1x2x64x24xi8>, %{{.*}} : memref<1x2x64xf32>, %{{.*}} : memref<1x2x64x24xi8>, %{{.*}} : memref<1x2x64x3xf16>
// CHECK: gpu.launch_func @tessera_kernels::@tessera_unrotate_2 {{.*}} args(%[[O]] : memref<1x4x32x64xbf16>
func.func @attention(%q: tensor<1x4x32x64xbf16>,
    %k: !tessera.qtensor<1x2x64x64xbf16, #tessera.quant<tq_mse, bits = 3>>,
    %v: !tessera.qtensor<1x2x64x64xbf16, #tessera.quant<block_gtq, bits = [4, 4, 4, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2], norm = f16>>) -> tensor<1x4x32x64xbf16> {
  %o, %l = tessera.attention %q, %k, %v {causal} : tensor<1x4x32x64xbf16>,
      !tessera.qtensor<1x2x64x64xbf16, #tessera.quant<tq_mse, bits = 3>>,
      !tessera.qtensor<1x2x64x64xbf16, #tessera.quant<block_gtq, bits = [4, 4, 4, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2], norm = f16>>
      -> tensor<1x4x32x64xbf16>, tensor<1x4x32xf32>
  return %o : tensor<1x4x32x64xbf16>
}

// Run-time rows: the row kernel takes base pointers and the sizes (the leading dims, then
// each operand's dynamic dims) and rebuilds strided views.
// CHECK-LABEL: func.func @quantize_dynamic
// CHECK: gpu.launch_func @tessera_kernels::@tessera_quantize_3 {{.*}} args(%{{.*}} : memref<1xbf16>, %{{.*}} : memref<1xi8>, %{{.*}} : memref<1xf32>, %{{.*}} : index, %{{.*}} : index, %{{.*}} : index, %{{.*}} : index, %{{.*}} : index)
func.func @quantize_dynamic(%x: tensor<?x2x64xbf16>) -> !tessera.qtensor<?x2x64xbf16, #tessera.quant<tq_mse, bits = 3>> {
  %p = tessera.quantize %x : tensor<?x2x64xbf16> -> !tessera.qtensor<?x2x64xbf16, #tessera.quant<tq_mse, bits = 3>>
  return %p : !tessera.qtensor<?x2x64xbf16, #tessera.quant<tq_mse, bits = 3>>
}

// The kernel module, after both functions.
// CHECK: gpu.module @tessera_kernels
// CHECK-DAG: memref.global "private" constant @{{__tessera_q[0-9A-F]+}}_rot : memref<64x64xf32>
// CHECK-DAG: memref.global "private" constant @{{__tessera_q[0-9A-F]+}}_book : memref<16xf32>
// CHECK-DAG: memref.global "private" constant @{{__tessera_q[0-9A-F]+}}_book : memref<56xf32>
// CHECK: gpu.func @tessera_rotate_0(%{{.*}}: memref<1x4x32x64xbf16>, %{{.*}}: memref<1x4x32x64xbf16>, %{{.*}}: index) kernel
// CHECK: memref.reinterpret_cast
// CHECK: gpu.func @tessera_attention_1
// CHECK: gpu.func @tessera_unrotate_2
// CHECK: gpu.func @tessera_quantize_3(%{{.*}}: memref<1xbf16>, %{{.*}}: memref<1xi8>, %{{.*}}: memref<1xf32>, %{{.*}}: index
// CHECK: memref.reinterpret_cast %{{.*}} to offset: [0], sizes: [%{{.*}}, 2, 64], strides: [%{{.*}}, %{{.*}}, 1] : memref<1xbf16> to memref<?x2x64xbf16, strided<[?, ?, 1]>>

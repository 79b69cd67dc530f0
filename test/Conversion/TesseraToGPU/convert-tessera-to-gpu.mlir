// RUN: tessera-opt %s --convert-tessera-to-gpu | FileCheck %s

// Attention becomes a launch of a 4-warp CTA per (query block, head, batch) and a kernel
// that stages K/V blocks in shared memory as packed words (16-byte global loads; rows padded
// by 4 and 8 words so the fragment reads are free of bank conflicts) and multiplies on
// tensor cores.
// CHECK: module attributes {gpu.container_module}
// CHECK-LABEL: func.func @attn
// CHECK: %[[OUT:.+]] = memref.alloc() : memref<1x8x100x64xbf16>
// CHECK: gpu.launch_func @tessera_kernels::@tessera_attention_0 blocks in (%{{.+}}, %{{.+}}, %{{.+}}) threads in (%{{.+}}, %{{.+}}, %{{.+}}) args(
// CHECK: bufferization.to_tensor %[[OUT]]
// CHECK: gpu.module @tessera_kernels
// CHECK: gpu.func @tessera_attention_0({{.*}}) workgroup(%{{.+}} : memref<64x36xi32, #gpu.address_space<workgroup>> {llvm.align = 128 : i64}, %{{.+}} : memref<32x72xi32, #gpu.address_space<workgroup>> {llvm.align = 128 : i64}) kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// CHECK: gpu.block_id  y
// CHECK: scf.for
// CHECK: nvvm.barrier0
// CHECK: vector.load %{{.+}} {alignment = 16 : i64} : memref<1x2x100x64xbf16>, vector<8xbf16>
// CHECK: vector.store %{{.+}} {alignment = 16 : i64} : memref<64x36xi32, #gpu.address_space<workgroup>>, vector<4xi32>
// CHECK: vector.load %{{.+}} {alignment = 16 : i64} : memref<1x2x100x64xbf16>, vector<8xbf16>
// CHECK: vector.store %{{.+}} {alignment = 16 : i64} : memref<32x72xi32, #gpu.address_space<workgroup>>, vector<8xi32>
// CHECK: nvvm.barrier0
// CHECK: nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<bf16>
// CHECK: nvvm.shfl.sync  bfly
// CHECK: ex2.approx.ftz.f32
// CHECK: arith.truncf {{.*}} : f32 to bf16
// CHECK: gpu.return
func.func @attn(%q: tensor<1x8x100x64xbf16>, %k: tensor<1x2x100x64xbf16>, %v: tensor<1x2x100x64xbf16>) -> tensor<1x8x100x64xbf16> {
  %o, %l = tessera.attention %q, %k, %v {causal} : tensor<1x8x100x64xbf16>, tensor<1x2x100x64xbf16>, tensor<1x2x100x64xbf16> -> tensor<1x8x100x64xbf16>, tensor<1x8x100xf32>
  return %o : tensor<1x8x100x64xbf16>
}

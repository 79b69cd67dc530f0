// sm_90a: with wgmma, S = Q K^T runs on warpgroup MMA (wgmma.mma_async m64n64k16, Q and K as
// no-swizzle core matrices in shared memory, written through the generic proxy and fenced
// for the async proxy); P V stays on mma.sync. Plain and packed K/V; bf16 and f16. ptxas
// accepts it for sm_90a with no spills, in 48 KiB of shared memory.
// REQUIRES: ptxas
// RUN: rm -rf %t && mkdir -p %t
// RUN: tessera-opt %s --tessera-gpu-pipeline='chip=sm_90a wgmma=1' | %python %S/extract-ptx.py > %t/sm90a.ptx
// RUN: FileCheck %s < %t/sm90a.ptx
// RUN: %ptxas -arch=sm_90a -v %t/sm90a.ptx -o %t/sm90a.cubin > %t/ptxas.log 2>&1
// RUN: FileCheck %s --check-prefix=PTXAS < %t/ptxas.log
// RUN: not tessera-opt %s --tessera-gpu-pipeline='chip=sm_90 wgmma=1' 2>&1 | FileCheck %s --check-prefix=CHIP

// CHECK: .entry tessera_attention_0(
// CHECK: .maxntid 128, 1, 1
// Shared tiles 128-byte aligned (core matrices and 16-byte stores need 16).
// CHECK: .shared .align 128 .b8 __wg_tessera_attention_0_0[16384];
// CHECK: .shared .align 128 .b8 __wg_tessera_attention_0_2[16384];
// CHECK: fence.proxy.async.shared::cta;
// CHECK: wgmma.fence.sync.aligned;
// CHECK-COUNT-8: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16
// CHECK: wgmma.commit_group.sync.aligned;
// CHECK: wgmma.wait_group.sync.aligned 0;
// CHECK-COUNT-64: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// CHECK: .entry tessera_attention_1(
// CHECK-COUNT-8: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16
// CHECK: .entry tessera_attention_2(
// CHECK-COUNT-4: wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16
// PTXAS-COUNT-3: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS-NOT: spill
// CHIP: error: convert-tessera-to-gpu: wgmma needs chip=sm_90a (warpgroup MMA exists only there); got chip='sm_90'
func.func @attn(%q: tensor<1x8x200x128xbf16>, %k: tensor<1x2x300x128xbf16>, %v: tensor<1x2x300x128xbf16>) -> tensor<1x8x200x128xbf16> {
  %o, %l = tessera.attention %q, %k, %v {causal, window = 100} : tensor<1x8x200x128xbf16>, tensor<1x2x300x128xbf16>, tensor<1x2x300x128xbf16> -> tensor<1x8x200x128xbf16>, tensor<1x8x200xf32>
  return %o : tensor<1x8x200x128xbf16>
}
func.func @packed(%q: tensor<1x8x100x128xbf16>, %k: !tessera.qtensor<1x2x300x128xbf16, #tessera.quant<int, bits = 4, group = 32>>, %v: !tessera.qtensor<1x2x300x128xbf16, #tessera.quant<int, bits = 8, asymmetric>>) -> tensor<1x8x100x128xbf16> {
  %o, %l = tessera.attention %q, %k, %v {causal} : tensor<1x8x100x128xbf16>, !tessera.qtensor<1x2x300x128xbf16, #tessera.quant<int, bits = 4, group = 32>>, !tessera.qtensor<1x2x300x128xbf16, #tessera.quant<int, bits = 8, asymmetric>> -> tensor<1x8x100x128xbf16>, tensor<1x8x100xf32>
  return %o : tensor<1x8x100x128xbf16>
}
func.func @f16(%q: tensor<1x4x130x64xf16>) -> tensor<1x4x130x64xf16> {
  %o, %l = tessera.attention %q, %q, %q {causal} : tensor<1x4x130x64xf16>, tensor<1x4x130x64xf16>, tensor<1x4x130x64xf16> -> tensor<1x4x130x64xf16>, tensor<1x4x130xf32>
  return %o : tensor<1x4x130x64xf16>
}

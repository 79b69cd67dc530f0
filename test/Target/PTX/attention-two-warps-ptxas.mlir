// When 64-row CTAs would leave streaming multiprocessors idle, tessera-tile-attention picks
// 2-warp CTAs of 32 query rows (each CTA still walks its 64-row mask block's key range);
// the kernel keeps the bf16 tensor-core products and ptxas accepts it with no spills, for
// plain and for packed (int4 K, int8 V, decoded by all 64 threads) caches.
// REQUIRES: ptxas
// RUN: rm -rf %t && mkdir -p %t
// RUN: tessera-opt %s --tessera-tile-attention='target=gpu sms=132' --convert-tessera-to-gpu | FileCheck %s
// RUN: tessera-opt %s --pass-pipeline='builtin.module(tessera-tile-attention{target=gpu sms=132},convert-tessera-to-gpu,gpu.module(convert-scf-to-cf,convert-gpu-to-nvvm{use-bare-ptr-memref-call-conv=1}),nvvm-attach-target{chip=sm_90 features=+ptx80},gpu-module-to-binary{format=isa})' | %python %S/extract-ptx.py > %t/sm90.ptx
// RUN: FileCheck %s --check-prefix=PTX < %t/sm90.ptx
// RUN: %ptxas -arch=sm_90 -v %t/sm90.ptx -o %t/sm90.cubin > %t/ptxas90.log 2>&1
// RUN: FileCheck %s --check-prefix=PTXAS < %t/ptxas90.log

// 1 x 8 x ceil(200 / 32) = 56 CTAs of 64 threads.
// CHECK: %[[GRID:.+]] = arith.constant 7 : index
// CHECK: gpu.launch_func @tessera_kernels::@tessera_attention_0 blocks in (%[[GRID]], %{{.+}}, %{{.+}}) threads in (%[[THREADS:.+]], %{{.+}}, %{{.+}})
// CHECK: gpu.func @tessera_attention_0({{.*}} kernel attributes {known_block_size = array<i32: 64, 1, 1>}
// PTX: .entry tessera_attention_0(
// PTX: .maxntid 64, 1, 1
// PTX-COUNT-128: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX: .entry tessera_attention_1(
// PTX: .maxntid 64, 1, 1
// PTX-COUNT-128: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTXAS-COUNT-2: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
func.func @attn(%q: tensor<1x8x200x128xbf16>, %k: tensor<1x2x200x128xbf16>, %v: tensor<1x2x200x128xbf16>) -> tensor<1x8x200x128xbf16> {
  %o, %l = tessera.attention %q, %k, %v {causal, window = 100} : tensor<1x8x200x128xbf16>, tensor<1x2x200x128xbf16>, tensor<1x2x200x128xbf16> -> tensor<1x8x200x128xbf16>, tensor<1x8x200xf32>
  return %o : tensor<1x8x200x128xbf16>
}

func.func @packed(%q: tensor<1x8x200x128xbf16>, %k: !tessera.qtensor<1x2x200x128xbf16, #tessera.quant<int, bits = 4, group = 32>>, %v: !tessera.qtensor<1x2x200x128xbf16, #tessera.quant<int, bits = 8, asymmetric>>) -> tensor<1x8x200x128xbf16> {
  %o, %l = tessera.attention %q, %k, %v {causal} : tensor<1x8x200x128xbf16>, !tessera.qtensor<1x2x200x128xbf16, #tessera.quant<int, bits = 4, group = 32>>, !tessera.qtensor<1x2x200x128xbf16, #tessera.quant<int, bits = 8, asymmetric>> -> tensor<1x8x200x128xbf16>, tensor<1x8x200xf32>
  return %o : tensor<1x8x200x128xbf16>
}

// tessera-compile: the examples become .tsr artifacts whose manifest holds the launch
// schedule and whose PTX (one per target) uses tensor cores; --emit=ptx writes
// <stem>.<target>.ptx, which ptxas accepts.
// RUN: rm -rf %t && mkdir -p %t
// RUN: tessera-compile %tessera_src_root/examples/attention_causal_gqa.mlir -o %t/gqa.tsr --print-manifest | FileCheck %s --check-prefix=GQA
// GQA: tessera-manifest 2
// GQA-NEXT: entry attention
// GQA-NEXT: input in0 bf16 1x32x1000x128
// GQA-NEXT: input in1 bf16 1x8x1000x128
// GQA-NEXT: input in2 bf16 1x8x1000x128
// GQA-NEXT: buffer buf0 bf16 1x32x1000x128
// GQA-NEXT: buffer buf1 f32 1x32x1000
// GQA-NEXT: launch tessera_attention_0 grid 16 32 1 block 128 1 1 smem 0 args in0 in1 in2 buf0 buf1
// GQA-NEXT: output buf0
// GQA-NEXT: output buf1
// GQA-NEXT: end
// RUN: tessera-compile %tessera_src_root/examples/attention_block_sparse.mlir -o %t/sparse.tsr --target=sm_80,sm_90a --emit=ptx
// RUN: FileCheck %s --check-prefix=PTX < %t/sparse.sm_80.ptx
// RUN: FileCheck %s --check-prefix=PTX < %t/sparse.sm_90a.ptx
// PTX: .entry tessera_attention_0(
// PTX: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// --emit=header: typed launch functions over the runtime, valid C.
// RUN: tessera-compile %tessera_src_root/examples/attention_causal_gqa.mlir -o %t/gqa.h --emit=header
// RUN: FileCheck %s --check-prefix=HEADER < %t/gqa.h
// RUN: cc -fsyntax-only -Wall -Werror -I %tessera_src_root/runtime/include -x c %t/gqa.h
// HEADER: #include "tessera-runtime/runtime.h"
// HEADER: static inline tsrt_status tessera_attention(tsrt_module module, tsrt_buffer in0, tsrt_buffer in1, tsrt_buffer in2, tsrt_buffer buf0, tsrt_buffer buf1, tsrt_stream stream) {
// HEADER: tsrt_launch_config config = {{[{][{]}}16, 32, 1}, {128, 1, 1}, 0};
// HEADER: tsrt_module_get_kernel(module, "tessera_attention_0", &kernel)
// --emit=cubin goes through ptxas.
// RUN: %if ptxas %{ tessera-compile %tessera_src_root/examples/attention_causal_gqa.mlir -o %t/gqa.tsr --emit=cubin --target=sm_80 %}
// RUN: %if ptxas %{ od -c -N 4 %t/gqa.sm_80.cubin | FileCheck %s --check-prefix=ELF %}
// ELF: 177   E   L   F
// RUN: not tessera-compile %s -o %t/bad.tsr --target=gfx90a 2>&1 | FileCheck %s --check-prefix=TARGET
// TARGET: tessera-compile: error: unknown target 'gfx90a' (expected sm_XY, e.g. sm_80, sm_90a)
// RUN: not tessera-compile %tessera_src_root/examples/attention_causal_gqa.mlir -o %t/bad.tsr --wgmma --target=sm_90a,sm_80 2>&1 | FileCheck %s --check-prefix=WGMMA
// WGMMA: tessera-compile: error: --wgmma kernels run on sm_90a only; target 'sm_80' cannot take them (use --target=sm_90a)
// RUN: tessera-compile %tessera_src_root/examples/attention_causal_gqa.mlir -o %t/wg.ptx --emit=ptx --wgmma --target=sm_90a
// RUN: FileCheck %s --check-prefix=WGPTX < %t/wg.sm_90a.ptx
// WGPTX: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16
// RUN: not tessera-compile %s -o %t/bad.tsr 2>&1 | FileCheck %s --check-prefix=F32
// F32: tessera-compile.mlir:[[# @LINE + 3]]:12: error: 'tessera.attention' op GPU attention runs on bf16 or f16 tensor cores; got 'f32'

func.func @f32(%q: tensor<1x2x64x64xf32>) -> tensor<1x2x64x64xf32> {
  %o, %l = tessera.attention %q, %q, %q : tensor<1x2x64x64xf32>, tensor<1x2x64x64xf32>, tensor<1x2x64x64xf32> -> tensor<1x2x64x64xf32>, tensor<1x2x64xf32>
  return %o : tensor<1x2x64x64xf32>
}

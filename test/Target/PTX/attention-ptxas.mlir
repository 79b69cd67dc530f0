// The GPU attention kernels (bf16, D = 128) lower to PTX in-process, use the bf16 tensor-core
// instruction for both products, and ptxas accepts them for sm_80 and sm_90 with no spills:
// causal + window with GQA 8:2 (lengths not multiples of the 64-row tiles), and block-sparse
// with a bit-packed mask, and with packed K (int4, groups of 32) and V (int8, asymmetric)
// decoded per key block, element by element by all threads, with the same QuantCodec the CPU
// path uses, and with a constant mask
// that tessera-sparsify turns into compile-time block lists (global tables, no mask reads).
// REQUIRES: ptxas
// RUN: rm -rf %t && mkdir -p %t
// RUN: tessera-opt %s --pass-pipeline='builtin.module(tessera-sparsify,convert-tessera-to-gpu,gpu.module(convert-scf-to-cf,convert-gpu-to-nvvm{use-bare-ptr-memref-call-conv=1}),nvvm-attach-target{chip=sm_80 features=+ptx80},gpu-module-to-binary{format=isa})' | %python %S/extract-ptx.py > %t/sm80.ptx
// RUN: FileCheck %s --check-prefix=PTX < %t/sm80.ptx
// RUN: %ptxas -arch=sm_80 -v %t/sm80.ptx -o %t/sm80.cubin > %t/ptxas80.log 2>&1
// RUN: FileCheck %s --check-prefix=PTXAS < %t/ptxas80.log
// RUN: FileCheck %s --check-prefix=NAMES < %t/ptxas80.log
// RUN: tessera-opt %s --pass-pipeline='builtin.module(tessera-sparsify,convert-tessera-to-gpu,gpu.module(convert-scf-to-cf,convert-gpu-to-nvvm{use-bare-ptr-memref-call-conv=1}),nvvm-attach-target{chip=sm_90 features=+ptx80},gpu-module-to-binary{format=isa})' | %python %S/extract-ptx.py > %t/sm90.ptx
// RUN: FileCheck %s --check-prefix=PTX < %t/sm90.ptx
// RUN: %ptxas -arch=sm_90 -v %t/sm90.ptx -o %t/sm90.cubin > %t/ptxas90.log 2>&1
// RUN: FileCheck %s --check-prefix=PTXAS < %t/ptxas90.log
// RUN: FileCheck %s --check-prefix=NAMES < %t/ptxas90.log

// PTX: .global .align {{[0-9]+}} .b8 __tessera_topology_{{[0-9]+}}_indices
// PTX: .entry tessera_attention_0(
// K and V arrive in 16-byte loads and land in shared memory in 16-byte stores, into tiles
// aligned for them.
// PTX: .shared .align 128 .b8 __wg_tessera_attention_0_0
// PTX: ld.global.v4.b32
// PTX: st.shared.v4.b32
// PTX-COUNT-128: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX: .entry tessera_attention_1(
// PTX: ld.global.b32
// PTX-COUNT-128: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX: .entry tessera_attention_2(
// PTX-COUNT-128: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX: .entry tessera_attention_3(
// PTX-COUNT-128: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// All four kernels, and no spills and no stack frame in any (packed K/V is decoded straight
// into shared words, with no per-thread row buffer).
// NAMES-DAG: Compiling entry function 'tessera_attention_0'
// NAMES-DAG: Compiling entry function 'tessera_attention_1'
// NAMES-DAG: Compiling entry function 'tessera_attention_2'
// NAMES-DAG: Compiling entry function 'tessera_attention_3'
// PTXAS-COUNT-4: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS-NOT: spill

func.func @causal_gqa(%q: tensor<2x8x200x128xbf16>, %k: tensor<2x2x333x128xbf16>, %v: tensor<2x2x333x128xbf16>) -> tensor<2x8x200x128xbf16> {
  %o, %l = tessera.attention %q, %k, %v {causal, window = 100} : tensor<2x8x200x128xbf16>, tensor<2x2x333x128xbf16>, tensor<2x2x333x128xbf16> -> tensor<2x8x200x128xbf16>, tensor<2x8x200xf32>
  return %o : tensor<2x8x200x128xbf16>
}

func.func @block_sparse(%q: tensor<1x16x1024x128xbf16>, %k: tensor<1x16x1024x128xbf16>, %v: tensor<1x16x1024x128xbf16>, %m: tensor<1x16x16x1xi32>) -> tensor<1x16x1024x128xbf16> {
  %o, %l = tessera.attention %q, %k, %v mask(%m : tensor<1x16x16x1xi32>) : tensor<1x16x1024x128xbf16>, tensor<1x16x1024x128xbf16>, tensor<1x16x1024x128xbf16> -> tensor<1x16x1024x128xbf16>, tensor<1x16x1024xf32>
  return %o : tensor<1x16x1024x128xbf16>
}

func.func @packed_kv(%q: tensor<1x8x100x128xbf16>,
    %k: !tessera.qtensor<1x2x300x128xbf16, #tessera.quant<int, bits = 4, group = 32>>,
    %v: !tessera.qtensor<1x2x300x128xbf16, #tessera.quant<int, bits = 8, asymmetric>>) -> tensor<1x8x100x128xbf16> {
  %o, %l = tessera.attention %q, %k, %v {causal} : tensor<1x8x100x128xbf16>, !tessera.qtensor<1x2x300x128xbf16, #tessera.quant<int, bits = 4, group = 32>>, !tessera.qtensor<1x2x300x128xbf16, #tessera.quant<int, bits = 8, asymmetric>> -> tensor<1x8x100x128xbf16>, tensor<1x8x100xf32>
  return %o : tensor<1x8x100x128xbf16>
}

func.func @static_topology(%q: tensor<1x2x256x128xbf16>, %k: tensor<1x2x256x128xbf16>) -> tensor<1x2x256x128xbf16> {
  %m = arith.constant dense<[[[true, false, true, false], [false, true, false, false], [true, true, true, false], [false, false, true, true]]]> : tensor<1x4x4xi1>
  %o, %l = tessera.attention %q, %k, %k mask(%m : tensor<1x4x4xi1>) {causal} : tensor<1x2x256x128xbf16>, tensor<1x2x256x128xbf16>, tensor<1x2x256x128xbf16> -> tensor<1x2x256x128xbf16>, tensor<1x2x256xf32>
  return %o : tensor<1x2x256x128xbf16>
}

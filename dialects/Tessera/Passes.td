//===- Passes.td - Tessera passes ---------------------------*- tablegen -*-===//
//
// Declarations of Tessera's passes; implementations live in lib/ (one pass per file).
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_PASSES_TD
#define TESSERA_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertTesseraToLoops : Pass<"convert-tessera-to-loops", "::mlir::ModuleOp"> {
  let summary = "Lower tessera ops to tiled scf loops over memrefs with vector arithmetic (CPU)";
  let description = [{
    Lowers every tessera op the CPU target supports to explicit loop nests, keeping the
    tensor-level interface: each op becomes `bufferization.to_buffer` of its operands, a loop
    nest over `memref`s that writes freshly allocated results, and `bufferization.to_tensor`
    of those. A `!tessera.qtensor` value becomes its storage components (see
    `QTensorType::getStorageComponents`), including in function signatures.

    Input invariants: tessera ops on statically shaped tensors; head dims static.

    Output IR:
    * `tessera.attention`: FlashAttention-2 structure. An `scf.parallel` over
      (batch, query head, query block of `block_q` rows); inside, an `scf.for` over the key
      blocks of `block_k` keys that the causal/window bounds leave visible, skipping blocks
      whose mask bit is 0 (`scf.if` on the bit), with the running max, sum and accumulator of
      the online softmax kept per row. The Sq x Skv score matrix is never materialised (one
      score row of `block_k` at a time). GQA maps query head h to KV head h / (Hq / Hkv) by
      index. Packed K/V tiles are dequantized into a per-tile scratch buffer inside the key
      loop. Dot products and accumulations use `vector` ops of `vector-width` lanes.
    * `tessera.hadamard`: per row, signs (a compile-time constant from the seed), an in-place
      fast Walsh-Hadamard transform and the 1/sqrt(D) scale.
    * `tessera.quantize` / `tessera.dequantize` (uniform int): per row and group, scale
      (and zero) then bit-packing into an LSB-first byte stream.

    Ops or schemes the CPU target does not lower yet fail the pass with a diagnostic naming
    them.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::LLVM::LLVMDialect", "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect"
  ];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"16",
           "f32 lanes per vector operation (16 for AVX-512, 8 for AVX2)">
  ];
}

def ConvertTesseraToGPU : Pass<"convert-tessera-to-gpu", "::mlir::ModuleOp"> {
  let summary = "Lower tessera ops to NVIDIA GPU kernels (gpu + nvvm dialects, tensor cores)";
  let description = [{
    Each tessera op becomes a kernel in the module's `tessera_kernels` `gpu.module` and, in
    its place, `bufferization.to_buffer` of the operands, a `gpu.launch_func` and
    `bufferization.to_tensor` of the results.

    `tessera.attention` (bf16 or f16; D and Dv multiples of 16, at most 128; the op's
    `block_q` and `block_k` at their default 64): FlashAttention-2 with one CTA of four warps
    per (query block, query head, batch). Q stays in registers as `mma.sync.m16n8k16`
    A-fragments; each visible key block (the shared AttentionSchedule: causal/window range,
    mask bit) is staged in shared memory and multiplied on tensor cores (`nvvm.mma.sync`,
    f32 accumulate); the online softmax runs on the accumulator fragments with quad
    shuffles, and P is repacked into A-fragments in registers for P V.

    Input: tessera ops on static shapes. Output: host code with `gpu.launch_func`, kernels in
    `gpu.func`s using `nvvm` ops; ops or shapes this lowering does not handle are reported.
  }];
  let options = [
    Option<"wgmma", "wgmma", "bool", "false",
           "sm_90a only: S = Q K^T on warpgroup MMA (wgmma.mma_async, Q and K as shared-memory "
           "core matrices) instead of mma.sync; needs 4-warp tiles">,
    Option<"chip", "chip", "std::string", "\"\"",
           "Target the kernels are for (checked against wgmma: it needs sm_90a)">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::cf::ControlFlowDialect", "::mlir::gpu::GPUDialect", "::mlir::LLVM::LLVMDialect", "::mlir::memref::MemRefDialect",
    "::mlir::NVVM::NVVMDialect", "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect"
  ];
}

def TesseraSparsify : Pass<"tessera-sparsify"> {
  let summary = "Turn constant block masks into compile-time block lists (static topology)";
  let description = [{
    For each `tessera.attention` whose mask operand is a constant (`arith.constant`, i1 per
    block or bit-packed i32), computes at compile time, for every (batch, head, query block)
    row of the mask, the ascending list of key blocks that are both enabled and inside the
    causal/window bounds, stores it as the op's `topology` attribute
    (`#tessera.block_topology`) and drops the mask operand. The lowerings then loop over each
    query block's list directly: no mask reads, no visits to disabled or out-of-bound blocks.

    A mask from `tessera.block_select` whose `top_k` reaches the key block count keeps every
    visible block; with the same static lengths and block sizes, and a causal attention when
    the routing is causal, it is dropped (and the routing too when nothing else reads it).
    Other masks that are not constants (routing output, function arguments) are left alone
    and read at run time; ops with dynamic shapes are left alone.

    Input: any IR. Output: the same IR with constant masks replaced by topologies.
  }];
}

def TesseraTileAttention : Pass<"tessera-tile-attention"> {
  let summary = "Choose each attention's work decomposition for a target";
  let description = [{
    Decides, per `tessera.attention` with static shapes and no `tile` yet, how many query
    rows one work item owns, and records it as `tile = #tessera.tile<...>`; the lowerings
    build their loop nest (CPU) or grid and CTA (GPU) from it. Query tiles always divide
    `block_q`, so mask rows and topology rows stay whole per work item.

    * `target=cpu`: the largest query tile among `block_q`, `block_q / 2`, ... (multiples of
      8, the register-block height) that still gives at least `4 x threads` tasks
      (B x Hq x query tiles), so the OpenMP loop balances; the smallest such tile otherwise.
    * `target=gpu`: 4 warps (64 rows per CTA) by default; 2 warps (32 rows) when 64-row CTAs
      would not cover the `sms` streaming multiprocessors once (short prefill, small batch),
      which doubles the CTAs.

    Ops that already carry a `tile` are checked against the target instead: a tile the
    target cannot run is an error located at the op.

    Input: any IR. Output: the same IR with `tile` set on every static attention.
  }];
  let options = [
    Option<"target", "target", "std::string", "\"cpu\"", "cpu or gpu">,
    Option<"threads", "threads", "int64_t", "0",
           "CPU threads to balance over (0: this machine's hardware threads)">,
    Option<"sms", "sms", "int64_t", "132", "GPU streaming multiprocessors to fill">,
    Option<"wgmma", "wgmma", "bool", "false",
           "GPU: the kernel will use wgmma, so every CTA is one 4-warp warpgroup">
  ];
}

def TesseraExpandMath : Pass<"tessera-expand-math"> {
  let summary = "Expand math and bf16 ops that the CPU backend would turn into libm calls";
  let description = [{
    Replaces `math.exp`, `math.log` and friends on f32 (scalars and vectors) with MLIR's
    polynomial approximations, which vectorise instead of calling libm once per lane, and
    expands `arith.extf`/`arith.truncf` between bf16 and f32 into integer bit operations
    (round to nearest even), so that no compiler-runtime helper is needed at JIT time.

    Input: arith/math ops on any types. Output: the same IR with those ops expanded into
    arith ops; other ops untouched.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect"];
}

def TesseraHoistStaticAllocas : Pass<"tessera-hoist-static-allocas", "::mlir::func::FuncOp"> {
  let summary = "Move loop-body scratch allocas to the function or the per-thread region entry";
  let description = [{
    The loop lowerings allocate per-iteration scratch (score rows, accumulators, staged
    K/V tiles) with `memref.alloca` inside loop bodies. Lowered as is, every iteration would
    grow the stack. This pass moves each alloca with a static shape and no operands out of the
    loops (`scf.for`, `scf.parallel`, `omp.wsloop`/`omp.loop_nest`, `memref.alloca_scope`) to
    the entry of the nearest scope that outlives the iterations: the function, or an
    `omp.parallel` region, where each thread gets its own copy. `memref.alloca_scope` ops left
    without allocas are inlined.

    Run it once the loops that remain are executed one iteration after another per thread
    (after `convert-scf-to-openmp`, or where `scf.parallel` is about to run sequentially).

    Input: functions. Output: the same functions, static allocas at scope entries.
  }];
  let dependentDialects = ["::mlir::omp::OpenMPDialect"];
}

#endif // TESSERA_PASSES_TD

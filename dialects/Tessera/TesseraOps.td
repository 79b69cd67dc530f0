//===- TesseraOps.td - Tessera operations ------------------*- tablegen -*-===//
//
// Operations of the tessera dialect. Semantics: shared/docs/ALGORITHMS.md.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_OPS_TD
#define TESSERA_OPS_TD

include "Tessera/TesseraTypes.td"
include "mlir/IR/BuiltinTypes.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/IR/CommonTypeConstraints.td"
include "mlir/IR/OpBase.td"
include "mlir/IR/CommonTypeConstraints.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Attribute constraints
//===----------------------------------------------------------------------===//

// Upstream I64Attr reads back as uint64_t, so `sinks = -1` would verify as a huge count; every
// i64 field of ours reads back signed so that verifiers see (and reject) negative values.
def Tessera_I64Attr : SignlessIntegerAttrBase<I64, "64-bit signless integer attribute"> {
  let returnType = "int64_t";
  let convertFromStorage = "$_self.getValue().getSExtValue()";
}

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def Tessera_FloatTensor : RankedTensorOf<[F32, F16, BF16]>;
def Tessera_F32Tensor : RankedTensorOf<[F32]>;
def Tessera_KVOperand : AnyTypeOf<[RankedTensorOf<[F32, F16, BF16]>, Tessera_QTensorType],
    "ranked tensor of f32, f16 or bf16, or a !tessera.qtensor">;
def Tessera_BlockMask : RankedTensorOf<[I1, I32],
    [], "block mask (i1 per block, or i32 words of 32 bit-packed blocks)">;

//===----------------------------------------------------------------------===//
// tessera.attention
//===----------------------------------------------------------------------===//

def Tessera_AttentionOp : Tessera_Op<"attention", [Pure, AttrSizedOperandSegments]> {
  let summary = "Scaled dot-product attention (dense, causal, windowed, GQA, block-sparse)";
  let description = [{
    `O[b,h,i,:] = sum_j softmax_j(s_ij) V[b,h/g,j,:]` with `s_ij = scale * Q[b,h,i,:] . K[b,h/g,j,:]`
    and `g = Hq / Hkv` (grouped-query attention by index mapping; no K/V copies). Also returns
    `LSE[b,h,i] = log sum_j exp(s_ij)` in f32. A row with no visible key gives O = 0 and
    LSE = -inf.

    Operands: Q `[B,Hq,Sq,D]`, K `[B,Hkv,Skv,D]`, V `[B,Hkv,Skv,Dv]`; K and V may be
    `!tessera.qtensor` values (read packed, dequantized in registers by the lowering).
    The optional block mask has shape `[H, QB, KBw]` or `[B, H, QB, KBw]` where
    `QB = ceil(Sq / block_q)`, `KB = ceil(Skv / block_k)`, `H` is 1, Hkv or Hq (and B is 1 or
    B); with i1 elements `KBw = KB`, with i32 elements 32 blocks are packed per word, least
    significant bit first, and `KBw = ceil(KB / 32)`.

    Paged K/V (vLLM's layout): with `paged(%block_table, %kv_lens)`, K and V are page pools
    `[P, page_size, Hkv, D]` / `[P, page_size, Hkv, Dv]` (plain or qtensor, so pages may be
    packed), `block_table` is `[B, max_pages]` i32 (sequence b's key j lives in page
    `block_table[b, j / page_size]`, slot `j % page_size`) and `kv_lens` is `[B]` i32 (Skv of
    each sequence, at most `max_pages * page_size`). `page_size` is an attribute and must equal
    the pools' dim 1. Causal aligns each sequence's ends (Skv = kv_lens[b]); a mask's key-block
    grid spans the table's capacity `max_pages * page_size`. Bad table entries or lengths are
    errors with the `checked` attribute (the call fails with a message before any work);
    without it they are clamped into range (memory-safe; such rows are unspecified).

    Ragged batches (FlashAttention's varlen convention, in Tessera's head-major layout): with
    `varlen(%cu_seqlens_q, %cu_seqlens_k)`, Q, K and V hold the tokens of all sequences
    packed along the length dim, `[1, H, total, D]`, and the i32 prefix sums `[B + 1]` give
    sequence b's rows `[cu[b], cu[b + 1])` (the first entry 0, non-decreasing, the last at
    most the total). Causal aligns each sequence's ends; O and LSE are packed the same way,
    and rows past `cu_seqlens_q[B]` are O = 0, LSE = -inf. Bad prefix sums are errors with
    `checked`, clamped into range otherwise (as for paged tables). Not with masks,
    topologies or paged K/V.

    Attributes: `causal` (query i sees keys j <= i + Skv - Sq: the ends are aligned), `window`
    (additionally j > i + Skv - Sq - window), `scale` (default 1/sqrt(D)), `block_q` and
    `block_k` (block sizes of the mask grid, default 64), `topology` (a static block-sparsity
    pattern, `#tessera.block_topology`, in place of a mask operand; `--tessera-sparsify` makes
    it from a constant mask).

    Example:
    ```mlir
    %o, %lse = tessera.attention %q, %k, %v {causal, window = 256}
        : tensor<1x8x128x64xbf16>, tensor<1x2x128x64xbf16>, tensor<1x2x128x64xbf16>
        -> tensor<1x8x128x64xbf16>, tensor<1x8x128xf32>
    ```
  }];
  let arguments = (ins
    Tessera_FloatTensor:$query,
    Tessera_KVOperand:$key,
    Tessera_KVOperand:$value,
    Optional<Tessera_BlockMask>:$mask,
    Optional<RankedTensorOf<[I32]>>:$block_table,
    Optional<RankedTensorOf<[I32]>>:$kv_lens,
    Optional<RankedTensorOf<[I32]>>:$cu_seqlens_q,
    Optional<RankedTensorOf<[I32]>>:$cu_seqlens_k,
    UnitAttr:$causal,
    OptionalAttr<Tessera_I64Attr>:$window,
    OptionalAttr<F32Attr>:$scale,
    DefaultValuedAttr<Tessera_I64Attr, "64">:$block_q,
    DefaultValuedAttr<Tessera_I64Attr, "64">:$block_k,
    OptionalAttr<Tessera_BlockTopologyAttr>:$topology,
    OptionalAttr<Tessera_TileAttr>:$tile,
    OptionalAttr<Tessera_I64Attr>:$page_size,
    UnitAttr:$checked
  );
  let results = (outs Tessera_FloatTensor:$output, Tessera_F32Tensor:$lse);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`mask` `(` $mask^ `:` type($mask) `)`)?
    (`paged` `(` $block_table^ `,` $kv_lens `:` type($block_table) `,` type($kv_lens) `)`)?
    (`varlen` `(` $cu_seqlens_q^ `,` $cu_seqlens_k `:` type($cu_seqlens_q) `,`
        type($cu_seqlens_k) `)`)?
    attr-dict `:`
    type($query) `,` qualified(type($key)) `,` qualified(type($value)) `->` type($output) `,`
    type($lse)
  }];
  let builders = [
    OpBuilder<(ins "::mlir::Value":$query, "::mlir::Value":$key, "::mlir::Value":$value,
                   CArg<"::mlir::Value", "{}">:$mask, CArg<"bool", "false">:$causal,
                   CArg<"std::optional<int64_t>", "std::nullopt">:$window,
                   CArg<"std::optional<float>", "std::nullopt">:$scale)>
  ];
  let extraClassDeclaration = [{
    /// The softmax scale: the `scale` attribute, or 1/sqrt(D).
    float getEffectiveScale();
    /// Whether K/V are page pools read through a block table.
    bool isPaged() { return static_cast<bool>(getBlockTable()); }
    /// Whether Q/K/V pack the sequences of a ragged batch (cu_seqlens).
    bool isRagged() { return static_cast<bool>(getCuSeqlensQ()); }
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// tessera.block_select
//===----------------------------------------------------------------------===//

def Tessera_BlockSelectOp : Tessera_Op<"block_select", [Pure, AttrSizedOperandSegments]> {
  let summary = "Routing: pick the key blocks each query block attends to";
  let description = [{
    Pools K per block of `block_k` tokens (`pool`: avg, max or min per channel, or
    `max_min_avg`, their concatenation, which needs the projections), pools Q over the GQA
    group and over `block_q` tokens (always an average), scores key blocks with
    `softmax(scale * q_pool . k_pool)` (`scale` defaults to 1/sqrt(D))
    (after the optional learned per-KV-head projections `Wq [Hkv, D, P]`,
    `Wk [Hkv, c*D, P]`, c = 3 for `max_min_avg` and 1 otherwise) and keeps per query block
    either the `top_k` best blocks or, with `top_p`, the smallest set in descending score
    order whose mass reaches p. `layer_top_p` additionally caps the layer's total at that
    fraction of the mass summed over the layer ("dual top-p"). The diagonal block and the first
    `sink_blocks` blocks are always kept; with `causal`, blocks wholly above the diagonal never
    are. Forced blocks are added to the selection: they do not use up `top_k` or the mass.

    Blocks and the diagonal: query block `qb` holds rows `[qb*block_q, min((qb+1)*block_q, Sq))`
    and its diagonal block is the key block of key `last + Skv - Sq` (ends aligned, as
    attention's `causal`), `last` the block's last row; causal visibility is
    `kb * block_k <= last + Skv - Sq`. Dual top-p runs per batch element: the candidates are
    every block kept by `top_p` in any head and query block; ordered by score descending
    (ties: lower (head, query block, key block) first), the smallest prefix whose mass reaches
    `layer_top_p` times the mass of every visible block of the batch element is kept. The
    lowering finds the prefix's last score by bisection on its f32 bits (docs/routing.md).

    Results: the bit-packed block mask `[B, Hkv, QB, ceil(KB/32)]` (i32, LSB first; feed it to
    `tessera.attention`) and the kept-block count per query block `[B, Hkv, QB]` (i32).

    K may be packed (`!tessera.qtensor`, any KV scheme): each key row is decoded (and, for the
    rotated schemes, rotated back) before pooling, so the scores are those of the decoded keys.
    Paged K (the layout of `tessera.attention`'s `paged`): with `paged(%block_table, %kv_lens)`
    K is a page pool `[P, page_size, Hkv, D]`, sequence b's key j lives in page
    `block_table[b, j / page_size]`, slot `j % page_size`, and its length is `kv_lens[b]`. The
    key-block grid spans the table's capacity `max_pages * page_size` (as attention's mask
    does); blocks at or past `kv_lens[b]` are never kept, causal aligns the ends at
    `kv_lens[b]`. Table entries and lengths out of range are clamped into range (memory-safe;
    such a sequence's selection is unspecified).

    Example:
    ```mlir
    %mask, %n = tessera.block_select %q, %k {top_p = 0.9 : f32, sink_blocks = 1, causal}
        : tensor<1x8x4096x128xbf16>, tensor<1x2x4096x128xbf16>
        -> tensor<1x2x64x2xi32>, tensor<1x2x64xi32>
    ```
  }];
  let arguments = (ins
    Tessera_FloatTensor:$query,
    Tessera_KVOperand:$key,
    Optional<Tessera_FloatTensor>:$query_proj,
    Optional<Tessera_FloatTensor>:$key_proj,
    Optional<RankedTensorOf<[I32]>>:$block_table,
    Optional<RankedTensorOf<[I32]>>:$kv_lens,
    DefaultValuedAttr<Tessera_I64Attr, "64">:$block_q,
    DefaultValuedAttr<Tessera_I64Attr, "64">:$block_k,
    DefaultValuedAttr<Tessera_BlockPoolAttr, "::mlir::tessera::BlockPool::Avg">:$pool,
    OptionalAttr<Tessera_I64Attr>:$top_k,
    OptionalAttr<F32Attr>:$top_p,
    OptionalAttr<F32Attr>:$layer_top_p,
    DefaultValuedAttr<Tessera_I64Attr, "0">:$sink_blocks,
    UnitAttr:$causal,
    OptionalAttr<F32Attr>:$scale,
    OptionalAttr<Tessera_I64Attr>:$page_size
  );
  let results = (outs RankedTensorOf<[I32]>:$mask, RankedTensorOf<[I32]>:$counts);
  let assemblyFormat = [{
    $query `,` $key (`proj` `(` $query_proj^ `,` $key_proj `:` type($query_proj) `,`
    type($key_proj) `)`)?
    (`paged` `(` $block_table^ `,` $kv_lens `:` type($block_table) `,` type($kv_lens) `)`)?
    attr-dict `:` type($query) `,` qualified(type($key)) `->` type($mask) `,` type($counts)
  }];
  let extraClassDeclaration = [{
    /// Whether K is a page pool read through a block table.
    bool isPaged() { return static_cast<bool>(getBlockTable()); }
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// tessera.quantize / tessera.dequantize
//===----------------------------------------------------------------------===//

def Tessera_QuantizeOp : Tessera_Op<"quantize", [Pure]> {
  let summary = "Pack a tensor in a quantized form";
  let description = [{
    Quantizes along the last dimension with the scheme carried by the result type
    (`#tessera.quant`, see there for each scheme's parameters): uniform int per group
    (symmetric or asymmetric), TurboQuant-MSE, Block-GTQ (one width per RoPE block), lattice
    (E8/D4/A2/Z, optionally Rice-coded) and graded (nested bit-planes, for weights).

    Example:
    ```mlir
    %p = tessera.quantize %k : tensor<1x2x128x64xf32>
        -> !tessera.qtensor<1x2x128x64xf32, #tessera.quant<int, bits = 4, group = 32>>
    ```
  }];
  let arguments = (ins Tessera_FloatTensor:$input);
  let results = (outs Tessera_QTensorType:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` qualified(type($output))";
  let builders = [
    OpBuilder<(ins "::mlir::Value":$input, "::mlir::tessera::QuantAttr":$scheme)>
  ];
  let hasVerifier = 1;
}

def Tessera_DequantizeOp : Tessera_Op<"dequantize", [Pure]> {
  let summary = "Unpack a quantized tensor to its logical values";
  let description = [{
    The inverse of `tessera.quantize` up to quantization error: returns a tensor of the
    packed value's logical shape and element type.

    Example:
    ```mlir
    %k = tessera.dequantize %p
        : !tessera.qtensor<1x2x128x64xf32, #tessera.quant<tq_mse, bits = 3>>
        -> tensor<1x2x128x64xf32>
    ```
  }];
  let arguments = (ins Tessera_QTensorType:$input);
  let results = (outs Tessera_FloatTensor:$output);
  let assemblyFormat = "$input attr-dict `:` qualified(type($input)) `->` type($output)";
  let builders = [OpBuilder<(ins "::mlir::Value":$input)>];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// tessera.kv_write
//===----------------------------------------------------------------------===//

def Tessera_KVWriteOp : Tessera_Op<"kv_write", [Pure,
    AllTypesMatch<["cache", "result"]>]> {
  let summary = "Append new tokens' K or V rows to a cache (dense or paged, plain or packed)";
  let description = [{
    Writes the rows of `update` `[B, Hkv, T, D]` into a copy of `cache` at each sequence's
    positions `positions[b] + t` (`positions` `[B]` i32, usually the lengths before the
    append) and returns it. A dense cache is `[B, Hkv, Smax, D]` (row `(b, h, t)` goes to
    `cache[b, h, positions[b] + t, :]`); with `paged(%block_table)` the cache is a page pool
    `[P, page_size, Hkv, D]` (vLLM's layout, as `tessera.attention`'s `paged`) and position p
    of sequence b is page `block_table[b, p / page_size]`, slot `p % page_size`.

    A packed cache (`!tessera.qtensor`, any KV scheme) is written by the scheme's encoder: the
    new rows are quantized into their slots (codes, norms and scales), and no other row is
    touched. A row whose position falls outside the cache (negative, at or past `Smax` or the
    table's capacity) or whose page entry is outside `[0, P)` is not written (memory-safe;
    the append of that row is lost, the rest of the cache is unchanged).

    Example (one decode token into a Block-GTQ page pool):
    ```mlir
    %k2 = tessera.kv_write %k_new into %k_pages at(%lens : tensor<4xi32>)
        paged(%table : tensor<4x13xi32>) {page_size = 16}
        : tensor<4x8x1x128xf32>, !tessera.qtensor<32x16x8x128xf32, #tessera.quant<...>>
    ```
  }];
  let arguments = (ins
    Tessera_FloatTensor:$update,
    Tessera_KVOperand:$cache,
    RankedTensorOf<[I32]>:$positions,
    Optional<RankedTensorOf<[I32]>>:$block_table,
    OptionalAttr<Tessera_I64Attr>:$page_size
  );
  let results = (outs Tessera_KVOperand:$result);
  let assemblyFormat = [{
    $update `into` $cache `at` `(` $positions `:` type($positions) `)`
    (`paged` `(` $block_table^ `:` type($block_table) `)`)? attr-dict `:` type($update) `,`
    qualified(type($cache))
  }];
  let extraClassDeclaration = [{
    /// Whether the cache is a page pool read through a block table.
    bool isPaged() { return static_cast<bool>(getBlockTable()); }
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// tessera.hadamard
//===----------------------------------------------------------------------===//

def Tessera_HadamardOp : Tessera_Op<"hadamard", [Pure, SameOperandsAndResultType]> {
  let summary = "Randomized Hadamard transform along the last dimension";
  let description = [{
    `y = H diag(s) x / sqrt(D)` over the last dimension (D a power of two), where `s` are
    random signs drawn from `seed` (no signs when `seed` is absent). With `inverse`,
    `x = diag(s) H y / sqrt(D)`, so the pair round-trips exactly up to rounding.

    Example:
    ```mlir
    %y = tessera.hadamard %x {seed = 42} : tensor<4x128xf32>
    ```
  }];
  let arguments = (ins Tessera_FloatTensor:$input, OptionalAttr<Tessera_I64Attr>:$seed,
                       UnitAttr:$inverse);
  let results = (outs Tessera_FloatTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// tessera.bit_allocate
//===----------------------------------------------------------------------===//

def Tessera_BitAllocateOp : Tessera_Op<"bit_allocate", [Pure]> {
  let summary = "Block-GTQ greedy bit allocation from per-RoPE-block energies";
  let description = [{
    For each row of energies `s` (last dimension: the L RoPE blocks of one layer and KV head),
    starts every block at `min_bits` and, while the budget `floor(L * avg_bits)` is not spent,
    gives one more bit to the block with the largest gain `s_i * 4^(-b_i)` (first index on
    ties; blocks at `max_bits` gain nothing); stops early when no gain is positive.

    Example:
    ```mlir
    %bits = tessera.bit_allocate %s {avg_bits = 2.0 : f64} : tensor<4xf32> -> tensor<4xi32>
    ```
  }];
  let arguments = (ins Tessera_F32Tensor:$energies,
                       DefaultValuedAttr<F64Attr, "3.0">:$avg_bits,
                       DefaultValuedAttr<Tessera_I64Attr, "1">:$min_bits,
                       DefaultValuedAttr<Tessera_I64Attr, "8">:$max_bits);
  let results = (outs RankedTensorOf<[I32]>:$bits);
  let assemblyFormat = "$energies attr-dict `:` type($energies) `->` type($bits)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// tessera.graded_matmul
//===----------------------------------------------------------------------===//

def Tessera_GradedMatmulOp : Tessera_Op<"graded_matmul", [Pure]> {
  let summary = "Matmul over graded weights, each input channel read at its own precision";
  let description = [{
    `y[..., n] = sum_j x[..., j] * W_b[n, j]` for activations `x` [..., K] and weights `W`
    [N, K] packed as `#tessera.quant<graded, bits = B>` (nested bit-planes), where `W_k` is W
    decoded at precision k (its first k planes looked up in precision k's table) and `b = b_j`
    is the number of bits input channel j gets in that row of `x` (ALGORITHMS.md 4e).

    Bits follow the rank of `|x_j|` under the row's budget `floor(K * avg_bits)`: channels in
    decreasing `|x_j|` (ties: the lower j first) take B bits while the remaining budget allows,
    the next one takes what remains, the rest get 0 bits and are skipped. The sum runs over j
    ascending in f32; with `avg_bits = B` every channel reads all B planes and `y` equals
    `tessera.dequantize` of `W` followed by that sum, bit for bit. `y` has `x`'s element type.

    Example:
    ```mlir
    %y = tessera.graded_matmul %x, %w {avg_bits = 2.5 : f64}
        : tensor<8x256xf32>, !tessera.qtensor<512x256xf32, #tessera.quant<graded, bits = 4>>
        -> tensor<8x512xf32>
    ```
  }];
  let arguments = (ins Tessera_FloatTensor:$input, Tessera_QTensorType:$weight,
                       F64Attr:$avg_bits);
  let results = (outs Tessera_FloatTensor:$output);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` type($input) `,` qualified(type($weight)) `->` type($output)
  }];
  let extraClassDeclaration = [{
    /// The bits one row of the input spends: floor(K * avg_bits).
    int64_t getBitBudget();
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// tessera.evict
//===----------------------------------------------------------------------===//

def Tessera_EvictOp : Tessera_Op<"evict", [Pure, AttrSizedOperandSegments,
    AttrSizedResultSegments]> {
  let summary = "KV-cache eviction: choose the tokens to keep and compact K and V";
  let description = [{
    Scores the S cached tokens by `policy`, keeps `min(budget, S)` of them and returns their
    indices (sorted ascending) and the compacted K and V. Packed caches (`!tessera.qtensor`)
    are compacted without unpacking.

    | policy        | needs            | fields (defaults)                                      |
    |---------------|------------------|--------------------------------------------------------|
    | `sink_window` | -                | `sinks` (4), `window` (budget - sinks)                  |
    | `snapkv`      | `query`          | `window` (32), `kernel` (5), `sinks` (0)                |
    | `compresskv`  | `query`          | `heads` (ranked semantic-retrieval heads), `first_k` (4), `window` (8), `kernel` (5) |
    | `h2o`         | `scores` [B,Hkv,S] f32 (accumulated attention) | `window` (0), `sinks` (0)   |
    | `reservoir`   | `query`          | `steps` (2), `gamma` (0.9), `seed` (0), `layer` (0), `step` (0), `sinks` (0) |

    `scope` is `per_head` (one index set per KV head; the default) or `per_layer` (one set
    shared by the layer's heads; compresskv is always per layer). Results: indices
    `[B, Hkv or 1, n]` (i64), kept K `[B, Hkv, n, D]`, kept V `[B, Hkv, n, Dv]` with
    `n = min(budget, S)`. Always `budget >= sinks + window`; `sink_window` keeps exactly
    `sinks + window` tokens, so an explicit window must fill the budget. `h2o` may return a
    fourth result, the running scores of the kept tokens `[B, Hkv, n]` (the state of the next
    decode step). `reservoir` draws its Efraimidis-Spirakis keys from a counter-based RNG
    seeded by (`seed`, `layer`, head, `step`). See docs/eviction.md.

    Paged caches (vLLM's layout, as `tessera.attention`'s `paged`): with
    `paged(%block_table, %kv_lens)`, K and V are page pools `[P, page_size, Hkv, D]` /
    `[P, page_size, Hkv, Dv]` (plain or packed), `block_table` is `[B, max_pages]` i32
    (sequence b's token j lives in page `block_table[b, j / page_size]`, slot
    `j % page_size`), `kv_lens` is `[B]` i32 (S_b, at most `max_pages * page_size`) and the
    `page_size` attribute equals the pools' dim 1. Each sequence keeps
    `n_b = min(budget, S_b)` tokens chosen exactly as the dense op chooses them over its S_b
    tokens. Results: indices `[B, Hkv or 1, budget]` (entries at `>= n_b` are -1); the
    compacted pools, of the input pools' types: a copy of the pools in which each sequence's
    kept rows (every storage component of a packed pool) are moved to its positions
    `0 .. n_b - 1` through its own pages, everything else left as it was; and the new lengths
    `[B]` i32 (`n_b`), a last result present exactly when paged. `h2o`'s `scores` are
    `[B, Hkv, max_pages * page_size]` by sequence position and its kept scores
    `[B, Hkv, budget]` (0 past `n_b`). The table is not rewritten: table entries of b past
    `ceil(n_b / page_size)` are free for the caller's allocator. Table entries outside
    `[0, P)` and lengths outside `[0, max_pages * page_size]` are clamped into range
    (memory-safe; that sequence's result is unspecified).

    Example:
    ```mlir
    %idx, %k2, %v2 = tessera.evict snapkv %k, %v query(%q : tensor<1x8x32x64xf32>)
        {budget = 256} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32>
        -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
    %pi, %kp2, %vp2, %lens2 = tessera.evict snapkv %kp, %vp query(%q1 : tensor<4x8x1x64xf32>)
        paged(%table, %lens : tensor<4x8xi32>, tensor<4xi32>)
        {budget = 48, page_size = 16, window = 1}
        : tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32>
        -> tensor<4x2x48xi64>, tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32>, tensor<4xi32>
    ```
  }];
  let arguments = (ins
    Tessera_EvictPolicyAttr:$policy,
    Tessera_KVOperand:$keys,
    Tessera_KVOperand:$values,
    Optional<Tessera_FloatTensor>:$query,
    Optional<Tessera_F32Tensor>:$scores,
    Optional<AnyRankedTensor>:$block_table,
    Optional<AnyRankedTensor>:$kv_lens,
    Tessera_I64Attr:$budget,
    OptionalAttr<Tessera_EvictScopeAttr>:$scope,
    OptionalAttr<Tessera_I64Attr>:$sinks,
    OptionalAttr<Tessera_I64Attr>:$window,
    OptionalAttr<Tessera_I64Attr>:$kernel,
    OptionalAttr<DenseI64ArrayAttr>:$heads,
    OptionalAttr<Tessera_I64Attr>:$first_k,
    OptionalAttr<Tessera_I64Attr>:$steps,
    OptionalAttr<F32Attr>:$gamma,
    OptionalAttr<Tessera_I64Attr>:$seed,
    OptionalAttr<Tessera_I64Attr>:$layer,
    OptionalAttr<Tessera_I64Attr>:$step,
    OptionalAttr<Tessera_I64Attr>:$page_size
  );
  let results = (outs RankedTensorOf<[I64]>:$indices, Tessera_KVOperand:$kept_keys,
                      Tessera_KVOperand:$kept_values,
                      Optional<Tessera_F32Tensor>:$kept_scores,
                      Optional<AnyRankedTensor>:$new_lens);
  // The trailing optional results (h2o's kept scores, the paged new lengths) are told apart
  // by the `paged` operands: with them the last trailing type is the new lengths.
  let assemblyFormat = [{
    $policy $keys `,` $values (`query` `(` $query^ `:` type($query) `)`)?
    (`scores` `(` $scores^ `:` type($scores) `)`)?
    (`paged` `(` $block_table^ `,` $kv_lens `:` type($block_table) `,` type($kv_lens) `)`)?
    attr-dict `:` qualified(type($keys)) `,`
    qualified(type($values)) `->` type($indices) `,` qualified(type($kept_keys)) `,`
    qualified(type($kept_values)) ``
    custom<EvictTrailingResults>(type($kept_scores), type($new_lens), ref($block_table))
  }];
  let extraClassDeclaration = [{
    /// Effective field values: the attribute when present, else the policy's default.
    int64_t getEffectiveSinks();
    int64_t getEffectiveWindow();
    EvictScope getEffectiveScope();
    /// Whether K/V are page pools read through a block table.
    bool isPaged() { return static_cast<bool>(getBlockTable()); }
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// tessera.linear_backward_update
//===----------------------------------------------------------------------===//

def Tessera_LinearBackwardUpdateOp
    : Tessera_Op<"linear_backward_update", [Pure]> {
  let summary = "FORGE: linear backward fused with the optimizer update";
  let description = [{
    For `y = x W^T` with `x [M,K]`, `W [N,K]`, `dy [M,N]`: returns `dx = dy W` (with the
    pre-update W), the updated weight `W'` and the updated optimizer state. The weight
    gradient `dW = dy^T x` is reduced over M inside a tile and consumed there by the
    optimizer, never stored. `step` is the 1-based optimizer step (Adam's bias correction, the
    first momentum step, the stochastic-rounding seed). `state` holds the optimizer's f32
    tensors `[N,K]`: none for plain SGD, the momentum buffer for SGD with momentum, the first
    and second moments for Adam/AdamW.

    Example:
    ```mlir
    %dx, %w2, %m2, %v2 = tessera.linear_backward_update %x, %dy, %w, %t state(%m, %v)
        {optimizer = #tessera.optimizer<adamw, lr = 1.0e-03>}
        : (tensor<64x128xf32>, tensor<64x256xf32>, tensor<256x128xf32>, i64,
           tensor<256x128xf32>, tensor<256x128xf32>)
        -> (tensor<64x128xf32>, tensor<256x128xf32>, tensor<256x128xf32>, tensor<256x128xf32>)
    ```
  }];
  let arguments = (ins
    Tessera_FloatTensor:$input,
    Tessera_FloatTensor:$grad_output,
    Tessera_FloatTensor:$weight,
    I64:$step,
    Variadic<Tessera_F32Tensor>:$state,
    Tessera_OptimizerAttr:$optimizer
  );
  let results = (outs Tessera_FloatTensor:$grad_input, Tessera_FloatTensor:$new_weight,
                      Variadic<Tessera_F32Tensor>:$new_state);
  let assemblyFormat = [{
    $input `,` $grad_output `,` $weight `,` $step (`state` `(` $state^ `)`)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Persistent task graphs
//===----------------------------------------------------------------------===//

def Tessera_TaskGraphOp : Tessera_Op<"task_graph", [
    IsolatedFromAbove, SingleBlock, RecursiveMemoryEffects]> {
  let summary = "A task graph run by one persistent kernel launch";
  let description = [{
    The unit the persistent-kernel transform produces: one launch that runs a whole graph of
    `tessera.task`s on resident worker CTAs (`workers` of them; one per SM when absent). The
    body's block arguments are the graph's inputs; its ops are tasks, whose SSA edges are the
    graph's dependencies (a task starts when every task producing one of its operands has
    finished all of its `tiles`), and a `tessera.yield` of the graph's results.
    `iterations` > 1 replays the graph that many times in the same launch (a decode loop),
    each iteration's inputs being the previous iteration's results; the event counters scale
    with the iteration number and never reset. See docs/persistent.md.

    Example:
    ```mlir
    %r = tessera.task_graph(%x : tensor<128x64xf32>) -> tensor<128x64xf32>
        attributes {workers = 132} {
    ^bb0(%in: tensor<128x64xf32>):
      %a = tessera.task "rotate"(%in : tensor<128x64xf32>) -> tensor<128x64xf32>
          attributes {tiles = 4} {
      ^bb0(%t: tensor<128x64xf32>):
        %y = tessera.hadamard %t {seed = 1} : tensor<128x64xf32>
        tessera.yield %y : tensor<128x64xf32>
      }
      tessera.yield %a : tensor<128x64xf32>
    }
    ```
  }];
  let arguments = (ins Variadic<AnyType>:$inputs, OptionalAttr<Tessera_I64Attr>:$workers,
                       DefaultValuedAttr<Tessera_I64Attr, "1">:$iterations);
  let results = (outs Variadic<AnyType>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    (`(` $inputs^ `:` type($inputs) `)`)? (`->` type($results)^)? attr-dict-with-keyword $body
  }];
  let hasRegionVerifier = 1;
}

def Tessera_TaskOp : Tessera_Op<"task", [
    IsolatedFromAbove, SingleBlock, HasParent<"TaskGraphOp">, RecursiveMemoryEffects]> {
  let summary = "One node of a persistent task graph";
  let description = [{
    A self-contained piece of work (its body sees only its block arguments) that the
    persistent kernel runs as `tiles` independent instances; its completion event fires when
    all of them have finished. The body's ops become one entry of the kernel's operator table.
    `name` labels the task in schedules and profiles.

    Example: see `tessera.task_graph`.
  }];
  let arguments = (ins StrAttr:$name, Variadic<AnyType>:$inputs,
                       DefaultValuedAttr<Tessera_I64Attr, "1">:$tiles);
  let results = (outs Variadic<AnyType>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $name (`(` $inputs^ `:` type($inputs) `)`)? (`->` type($results)^)? attr-dict-with-keyword $body
  }];
  let hasRegionVerifier = 1;
}

def Tessera_YieldOp : Tessera_Op<"yield", [
    Pure, ReturnLike, Terminator, ParentOneOf<["TaskOp", "TaskGraphOp"]>]> {
  let summary = "Returns the results of a task or of a task graph";
  let description = [{
    Terminates the body of `tessera.task` and `tessera.task_graph`; its operands become the
    enclosing op's results.

    Example: `tessera.yield %y : tensor<128x64xf32>`
  }];
  let arguments = (ins Variadic<AnyType>:$values);
  let builders = [OpBuilder<(ins), [{ /* no values */ }]>];
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
}

#endif // TESSERA_OPS_TD

//===- AttentionSchedule.h - Tile schedule of tessera.attention -*- C++ -*-===//
//
// What every attention lowering (CPU loops now, GPU kernels next) must agree
// on: the static problem description, which key blocks a query block visits
// (causal and window bounds), how a block-mask bit is read, and which (query,
// key) pairs are visible. Keeping this in one place is what lets the CPU path
// test the GPU path's tiling logic on machines without a GPU.
//
//===----------------------------------------------------------------------===//
#ifndef TESSERA_CONVERSION_ATTENTIONSCHEDULE_H
#define TESSERA_CONVERSION_ATTENTIONSCHEDULE_H

#include "Tessera/TesseraOps.h"
#include "tessera/Conversion/EmitUtils.h"

#include <optional>

namespace mlir::tessera {

/// The static shape and attributes of one tessera.attention.
struct AttentionProblem {
  /// Batch, queryLen and keyLen may be ShapedType::kDynamic (see get()).
  int64_t batch, queryHeads, kvHeads, queryLen, keyLen, headDim, valueDim;
  int64_t group;          ///< query heads per KV head (Hq / Hkv)
  int64_t blockQ, blockK; ///< tile sizes = the block-mask grid
  int64_t numQueryBlocks; ///< ceil(Sq / blockQ)
  int64_t numKeyBlocks;   ///< ceil(Skv / blockK)
  /// Query rows per work item (the op's `tile`, else blockQ); divides blockQ.
  int64_t tileQ;
  int64_t numQueryTiles; ///< ceil(Sq / tileQ)
  int64_t warps;         ///< GPU warps per CTA from the `tile` (0: not chosen)
  /// Key-range chunks per work item (flash-decoding), from the `tile`; 1: none.
  int64_t kvSplits = 1;
  bool causal;
  std::optional<int64_t> window;
  float scale;
  /// Block mask layout, when the op has one.
  struct Mask {
    bool packed; ///< i32 words of 32 blocks (LSB first) rather than one i1 per
                 ///< block
    bool hasBatch; ///< rank 4 with a batch dim of B (not 1)
    bool rank4;    ///< rank 4 (else rank 3)
    enum class Heads { One, KV, Query } heads;
  };
  std::optional<Mask> mask;
  /// A static block topology (then `mask` describes its batch and head layout).
  BlockTopologyAttr topology;
  /// Heads of the mask or topology layout (1, Hkv or Hq).
  int64_t maskHeads = 1;
  /// Paged K/V: tokens per page (0: dense K/V). Then keyLen is the block
  /// table's capacity (max_pages * pageSize) and each sequence's length comes
  /// from kv_lens.
  int64_t pageSize = 0;
  /// Validate block tables and lengths at run time (else clamp them).
  bool checked = false;
  /// Ragged (varlen): Q/K/V are [1, H, total, D] and cu_seqlens give each
  /// sequence's rows; `batch` is then the tensors' 1, queryLen/keyLen the
  /// totals, and the sequence count a run-time size.
  bool ragged = false;
  bool paged() const { return pageSize != 0; }

  /// Reads the problem from `op`; fails with a diagnostic on `op` if a head
  /// count or head dim is dynamic. Batch, Sq and Skv (and with them the block
  /// and tile counts) are ShapedType::kDynamic when they are run-time sizes.
  static FailureOr<AttentionProblem> get(AttentionOp op);
  bool hasDynamicSizes() const {
    return ShapedType::isDynamic(batch) || ShapedType::isDynamic(queryLen) ||
           ShapedType::isDynamic(keyLen);
  }
};

/// The buffers (memrefs) of one tessera.attention, as either lowering holds
/// them: K and V as their components (one for a plain tensor), and the paged
/// block table and lengths when there are pages.
struct AttentionOperands {
  Value query;
  SmallVector<Value> key, value;
  Value mask, table, lens;
  Value cuQ, cuK; ///< ragged: the prefix sums
};

/// The run-time sizes of an attention op: constants where the problem is
/// static, memref.dim of its operands otherwise. keyLen is Skv (paged: the
/// table's capacity, max_pages * page_size).
struct AttentionSizes {
  Value batch, queryLen, keyLen, queryTiles, keyBlocks;
  /// Sequences: the batch, or (ragged) the prefix sums' size - 1.
  Value sequences;
};
AttentionSizes emitAttentionSizes(Emitter &e, const AttentionProblem &p,
                                  const AttentionOperands &ops);

/// The verifier's shape rules that involve a run-time size: every operand's
/// batch and length agree (paged: pools' page counts, table and lengths' rows),
/// and a mask's grid is ceil(Sq / block_q) x ceil(Skv / block_k) (words of 32
/// when packed). Empty for static shapes. The CPU emits them as calls to the
/// host (emitRuntimeChecks); the GPU's host schedule as manifest checks.
SmallVector<RuntimeCheck> attentionSizeChecks(Emitter &e,
                                              const AttentionProblem &p,
                                              const AttentionSizes &sizes,
                                              const AttentionOperands &ops);

/// Ragged batches: sequence `bi`'s rows [start, start + len) of a packed dim
/// of `total` rows from the i32 prefix sums `cu` (a memref), clamped into
/// [0, total] (the fast mode; checked mode validates the sums first).
std::pair<Value, Value> emitSequenceRows(Emitter &e, Value cu, Value bi,
                                         Value total);

/// One work item of an attention lowering (a CPU loop iteration, a GPU CTA):
/// query rows [q0, q0 + rows) of batch `bi`, query head `h` (KV head `kvh`),
/// inside mask/topology query block `qb`, of a sequence with `queryLen`
/// queries and `keyLen` keys. All are index values; the lengths are constants
/// for static shapes and run-time values otherwise, so everything below is
/// written once for static, dynamic and (later) per-sequence lengths.
struct WorkItem {
  Value bi, h, kvh, qb, q0, rows;
  Value queryLen, keyLen;
  /// With kv_splits > 1: which chunk of the key blocks this item walks.
  Value split;
};

/// The key-block walk both lowerings run: calls `body(kb, state)` for every key
/// block work item `w` visits, in increasing order, threading `state` (the
/// online-softmax state: registers on the GPU, nothing on the CPU) through:
///  - a static topology: the blocks its table lists for this row (causal and
///    window applied at compile time, no mask reads);
///  - otherwise the causal/window range of `w`'s rows, with blocks whose bit
///    in `mask` (when given) is 0 skipped (uniform per work item, so a GPU
///    CTA skips barriers and all);
///  - with kv_splits = S > 1, only chunk `w.split` of S contiguous chunks of
///    that list or range (the chunks may be empty).
/// `tableScope` receives a topology's constant tables (module or gpu.module).
SmallVector<Value> emitKeyBlockWalk(
    Emitter &e, const AttentionProblem &p, const WorkItem &w, Value mask,
    Operation *tableScope, ValueRange init,
    function_ref<SmallVector<Value>(Value kb, ValueRange state)> body);

/// Emits the key-block range [begin, end) that `w`'s rows can see under the
/// causal and window bounds (all of [0, ceil(keyLen / blockK)) without them).
/// Empty (begin >= end) when no key is visible.
std::pair<Value, Value> emitKeyBlockRange(Emitter &e, const AttentionProblem &p,
                                          const WorkItem &w);

/// The mask/topology query block that query tile `qt` (tileQ rows) lies in.
Value emitMaskRowOfTile(Emitter &e, const AttentionProblem &p, Value qt);

/// Emits an i1: whether key block `kb` of `w`'s query block is enabled in the
/// block mask `mask` (a memref in the op's mask layout).
Value emitMaskBit(Emitter &e, const AttentionProblem &p, Value mask,
                  const WorkItem &w, Value kb);

/// The key-block range [begin, end) that query block `qb` can see under
/// causal/window, at compile time (what emitKeyBlockRange computes at run
/// time); static shapes only.
std::pair<int64_t, int64_t> staticKeyBlockRange(const AttentionProblem &p,
                                                int64_t qb);

/// The diagonal of query row `i`: the last key it may see under causal,
/// `i + keyLen - queryLen` (the ends are aligned). `i` may be an index, an i32
/// or a vector of i32 (the result has its type).
Value emitDiagonal(Emitter &e, const WorkItem &w, Value i);

/// Emits an i1 (or a vector of i1): whether key `j` is visible from the row
/// with diagonal `diag` (see emitDiagonal): j <= diag when causal, j > diag -
/// window with a window, and j < `limit` when `limit` is given (the end of the
/// keys). `j`, `diag` and `limit` share a type (index, i32 or vector of i32).
/// Returns null when every key is visible.
Value emitVisible(Emitter &e, const AttentionProblem &p, Value diag, Value j,
                  Value limit = {});

/// One online-softmax step of a row (FlashAttention-2): the new running max m'
/// = max(m, max_j s_j), the max used as the exponent's origin (0 while the
/// row has seen no visible key, so exp gives 0, not NaN) and the rescale alpha
/// = exp(m - m') of the old sum and accumulator.
struct SoftmaxStep {
  Value max, origin, alpha;
};
SoftmaxStep emitSoftmaxStep(Emitter &e, Value oldMax, Value blockMax,
                            function_ref<Value(Value)> exp);

/// The end of a row: the factor that turns the accumulator into O (1 / l, or
/// 0 for a row that saw no key) and LSE = m + ln l (-inf for such a row).
struct SoftmaxEnd {
  Value scale, lse;
};
SoftmaxEnd emitSoftmaxEnd(Emitter &e, Value max, Value sum,
                          function_ref<Value(Value)> log);

} // namespace mlir::tessera

#endif // TESSERA_CONVERSION_ATTENTIONSCHEDULE_H

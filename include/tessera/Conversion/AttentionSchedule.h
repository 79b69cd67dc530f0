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
  int64_t batch, queryHeads, kvHeads, queryLen, keyLen, headDim, valueDim;
  int64_t group;          ///< query heads per KV head (Hq / Hkv)
  int64_t blockQ, blockK; ///< tile sizes = the block-mask grid
  int64_t numQueryBlocks; ///< ceil(Sq / blockQ)
  int64_t numKeyBlocks;   ///< ceil(Skv / blockK)
  /// Query rows per work item (the op's `tile`, else blockQ); divides blockQ.
  int64_t tileQ;
  int64_t numQueryTiles; ///< ceil(Sq / tileQ)
  int64_t warps;         ///< GPU warps per CTA from the `tile` (0: not chosen)
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

  /// Reads the problem from `op`; fails with a diagnostic on `op` if a shape is
  /// dynamic.
  static FailureOr<AttentionProblem> get(AttentionOp op);
};

/// Emits the key-block range [begin, end) that query rows [q0, q0 + rows) can
/// see under the causal and window bounds (the whole range without them). Both
/// are index values; the range is empty (begin >= end) when no key is visible.
std::pair<Value, Value> emitKeyBlockRange(Emitter &e, const AttentionProblem &p,
                                          Value q0, Value rows);

/// The mask/topology query block that query tile `qt` (tileQ rows) lies in.
Value emitMaskRowOfTile(Emitter &e, const AttentionProblem &p, Value qt);

/// Emits an i1: whether key block `kb` of query block `qb` is enabled in the
/// block mask `mask` (a memref in the op's mask layout), for batch `bi`, query
/// head `h`, KV head `kvh`.
Value emitMaskBit(Emitter &e, const AttentionProblem &p, Value mask, Value bi,
                  Value h, Value kvh, Value qb, Value kb);

/// The key-block range [begin, end) that query block `qb` can see under
/// causal/window, at compile time (what emitKeyBlockRange computes at run
/// time).
std::pair<int64_t, int64_t> staticKeyBlockRange(const AttentionProblem &p,
                                                int64_t qb);

/// Constant tables (offsets, indices) of a static topology, as i32 memrefs:
/// created once as private globals in `symbolTable` (a module or gpu.module),
/// read with memref.get_global.
std::pair<Value, Value> emitTopologyTables(Emitter &e, Operation *symbolTable,
                                           BlockTopologyAttr topology);

/// The [begin, end) positions of row (batch `bi`, head `h`/`kvh`, query block
/// `qb`) in a topology's index table, as index values.
std::pair<Value, Value> emitTopologyRow(Emitter &e, const AttentionProblem &p,
                                        Value offsets, Value bi, Value h,
                                        Value kvh, Value qb);

/// Emits an i1: whether key `j` is visible from query `i` under causal/window
/// (ends aligned: query i sees j <= i + Skv - Sq). Returns null when every key
/// is visible.
Value emitVisible(Emitter &e, const AttentionProblem &p, Value i, Value j);

} // namespace mlir::tessera

#endif // TESSERA_CONVERSION_ATTENTIONSCHEDULE_H

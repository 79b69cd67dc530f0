//===- TileAttention.cpp - The tessera-tile-attention pass ----------------===//
//
// Chooses how each attention's query rows split into work items (CPU tasks, GPU
// CTAs) and records it as the op's `tile`; the lowerings build their loops and
// grids from it.
//
//===----------------------------------------------------------------------===//
#include "tessera/Conversion/AttentionSchedule.h"
#include "tessera/Passes.h"
#include "tessera/Support/GPUAttentionRules.h"

#include "Tessera/TesseraOps.h"
#include "Tessera/TesseraTypes.h"

#include <thread>

namespace mlir::tessera {
#define GEN_PASS_DEF_TESSERATILEATTENTION
#include "Tessera/Passes.h.inc"
} // namespace mlir::tessera

using namespace mlir;
using namespace mlir::tessera;

namespace {

using ::tessera::gpu_attention::kBlockQ;
using ::tessera::gpu_attention::kRowsPerWarp;

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// Sizes to plan with when some are run-time values: a batch of 1 and one
/// query block (the fewest work items, so the plan never leaves the machine
/// idle by assuming more).
int64_t planBatch(const AttentionProblem &p) {
  return ShapedType::isDynamic(p.batch) ? 1 : p.batch;
}
int64_t planQueryLen(const AttentionProblem &p) {
  return ShapedType::isDynamic(p.queryLen) ? p.blockQ : p.queryLen;
}

/// Key-range splits (flash-decoding) for `tasks` work items when `wanted`
/// would keep the machine busy (4 per CPU thread; one per GPU SM): enough
/// chunks to reach it, each keeping at least 2 key blocks, at most 16; 1 when
/// the items already suffice, or the query spans several tiles or is a
/// run-time length (a prefill: its tiles are the parallelism, as in
/// flash-decoding, which splits keys for decode only).
int64_t chooseSplits(const AttentionProblem &p, int64_t tasks, int64_t wanted,
                     int64_t rowsPerTile) {
  if (ShapedType::isDynamic(p.queryLen) || p.queryLen > rowsPerTile ||
      tasks >= wanted)
    return 1;
  int64_t most =
      ShapedType::isDynamic(p.numKeyBlocks) ? 16 : p.numKeyBlocks / 2;
  int64_t splits = std::min<int64_t>({ceilDiv(wanted, tasks), most, 16});
  return splits >= 2 ? splits : 1;
}

/// CPU: the largest tile among block_q, block_q / 2, ... (multiples of 8, the
/// register-block height) that still gives 4 tasks per thread; the smallest
/// candidate otherwise; then key-range splits if the tasks are still too few
/// (decode over a long cache).
TileAttr chooseCPU(AttentionOp op, const AttentionProblem &p, int64_t threads) {
  int64_t rows = p.blockQ;
  auto tasks = [&](int64_t r) {
    return planBatch(p) * p.queryHeads * ceilDiv(planQueryLen(p), r);
  };
  while (tasks(rows) < 4 * threads && rows % 2 == 0 && (rows / 2) % 8 == 0)
    rows /= 2;
  return TileAttr::get(op.getContext(), rows, /*warps=*/0,
                       chooseSplits(p, tasks(rows), 4 * threads, rows));
}

/// GPU: 4 warps (64 rows); 2 warps (32 rows) when 64-row CTAs would leave
/// streaming multiprocessors idle or the query is at most 32 rows. Needs
/// block_q = 64 (the lowering diagnoses other block sizes).
TileAttr chooseGPU(AttentionOp op, const AttentionProblem &p, int64_t sms,
                   bool wgmma) {
  if (p.blockQ != kBlockQ)
    return {};
  int64_t warps = 4;
  int64_t ctas =
      planBatch(p) * p.queryHeads * ceilDiv(planQueryLen(p), kBlockQ);
  if (!wgmma && (ctas < sms || planQueryLen(p) <= 2 * kRowsPerWarp))
    warps = 2;
  // Still fewer CTAs than SMs (decode over long caches): split key ranges.
  int64_t tiles = planBatch(p) * p.queryHeads *
                  ceilDiv(planQueryLen(p), warps * kRowsPerWarp);
  return TileAttr::get(op.getContext(), warps * kRowsPerWarp, warps,
                       chooseSplits(p, tiles, sms, warps * kRowsPerWarp));
}

/// A tile already on the op must suit the target.
LogicalResult checkExisting(AttentionOp op, TileAttr tile, bool gpu) {
  if (!gpu)
    return success();
  int64_t warps = tile.getWarps();
  if (!::tessera::gpu_attention::validWarps(warps))
    return op.emitOpError()
           << "has tile " << tile
           << ", which the GPU cannot run: CTAs have 2 or 4 warps";
  return success();
}

struct TesseraTileAttentionPass
    : public mlir::tessera::impl::TesseraTileAttentionBase<
          TesseraTileAttentionPass> {
  using TesseraTileAttentionBase::TesseraTileAttentionBase;

  void runOnOperation() override {
    bool gpu = target == "gpu";
    if (!gpu && target != "cpu") {
      mlir::emitError(getOperation()->getLoc())
          << "tessera-tile-attention: unknown target '" << target
          << "' (expected cpu or gpu)";
      return signalPassFailure();
    }
    if (threads < 0 || sms <= 0) {
      mlir::emitError(getOperation()->getLoc())
          << "tessera-tile-attention: threads (" << threads
          << ") must be >= 0 and sms (" << sms << ") positive";
      return signalPassFailure();
    }
    int64_t nThreads =
        threads > 0 ? threads
                    : std::max<int64_t>(1, std::thread::hardware_concurrency());
    WalkResult result = getOperation()->walk([&](AttentionOp op) {
      if (TileAttr tile = op.getTileAttr())
        return failed(checkExisting(op, tile, gpu)) ? WalkResult::interrupt()
                                                    : WalkResult::advance();
      // Run-time batch and lengths are planned for at their smallest (see
      // planBatch); dynamic heads or head dims leave the op to the lowering's
      // diagnostic.
      for (Value v :
           SmallVector<Value>{op.getQuery(), op.getKey(), op.getValue()}) {
        auto t = cast<ShapedType>(v.getType());
        for (int64_t d : {1, 3})
          if (t.isDynamicDim(d) ||
              (v != op.getQuery() && t.isDynamicDim(2) && op.isPaged()))
            return WalkResult::advance();
      }
      FailureOr<AttentionProblem> problem = AttentionProblem::get(op);
      if (failed(problem))
        return WalkResult::interrupt();
      TileAttr tile = gpu ? chooseGPU(op, *problem, sms, wgmma)
                          : chooseCPU(op, *problem, nThreads);
      if (tile)
        op.setTileAttr(tile);
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace

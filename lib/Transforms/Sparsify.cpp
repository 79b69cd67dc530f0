//===- Sparsify.cpp - The tessera-sparsify pass ---------------------------===//
#include "tessera/Conversion/AttentionSchedule.h"
#include "tessera/Passes.h"

#include "Tessera/TesseraOps.h"
#include "mlir/IR/Matchers.h"

namespace mlir::tessera {
#define GEN_PASS_DEF_TESSERASPARSIFY
#include "Tessera/Passes.h.inc"
} // namespace mlir::tessera

using namespace mlir;
using namespace mlir::tessera;

namespace {

/// Whether `select`'s mask enables every key block `attention` can see, so the
/// mask can go: top_k reaches the key block count (every visible block is
/// kept), the block grids and lengths are the same static ones, and either
/// the routing is not causal (it keeps every block) or the attention is
/// causal too (both keep what causal leaves visible).
bool keepsEveryVisibleBlock(BlockSelectOp select, AttentionOp attention) {
  if (attention.isPaged() || attention.isRagged() || select.isPaged())
    return false;
  auto sq = select.getQuery().getType();
  auto sk = cast<ShapedType>(select.getKey().getType());
  auto aq = attention.getQuery().getType();
  auto ak = cast<ShapedType>(attention.getKey().getType());
  int64_t skv = sk.getDimSize(2);
  if (ShapedType::isDynamic(skv) || sq.isDynamicDim(2) || aq.isDynamicDim(2) ||
      ak.isDynamicDim(2) || sq.getDimSize(2) != aq.getDimSize(2) ||
      skv != ak.getDimSize(2))
    return false;
  if (select.getBlockQ() != attention.getBlockQ() ||
      select.getBlockK() != attention.getBlockK())
    return false;
  std::optional<int64_t> topK = select.getTopK();
  int64_t keyBlocks = (skv + select.getBlockK() - 1) / select.getBlockK();
  return topK && *topK >= keyBlocks &&
         (!select.getCausal() || attention.getCausal());
}

/// Rewrites one attention with a constant mask; leaves it alone otherwise.
/// A block_select mask that keeps every visible block is dropped (the
/// attention's own causal bound does the same), and the routing with it when
/// nothing else reads it.
void sparsify(AttentionOp op) {
  Value mask = op.getMask();
  if (auto select = mask ? mask.getDefiningOp<BlockSelectOp>() : nullptr;
      select && keepsEveryVisibleBlock(select, op)) {
    op.getMaskMutable().clear();
    if (select->use_empty())
      select->erase();
    return;
  }
  DenseElementsAttr dense;
  if (!mask || !matchPattern(mask, m_Constant(&dense)))
    return;
  for (Value v : SmallVector<Value>{op.getQuery(), op.getKey(), op.getValue()})
    if (!cast<ShapedType>(v.getType()).hasStaticShape())
      return;
  FailureOr<AttentionProblem> problem = AttentionProblem::get(op);
  if (failed(problem))
    return;
  const AttentionProblem &p = *problem;
  auto type = cast<RankedTensorType>(mask.getType());
  int64_t rank = type.getRank(), words = type.getShape().back();
  int64_t batch = rank == 4 ? type.getDimSize(0) : 1,
          heads = type.getDimSize(rank - 3);
  bool packed = type.getElementType().isInteger(32);
  SmallVector<int64_t> bits;
  if (packed) {
    for (APInt w : dense.getValues<APInt>())
      bits.push_back(static_cast<int64_t>(w.getZExtValue()));
  } else {
    for (bool on : dense.getValues<bool>())
      bits.push_back(on);
  }
  auto enabled = [&](int64_t row, int64_t kb) {
    if (!packed)
      return bits[row * words + kb] != 0;
    return ((bits[row * words + kb / 32] >> (kb % 32)) & 1) != 0;
  };
  SmallVector<int32_t> offsets{0}, indices;
  for (int64_t row = 0; row < batch * heads * p.numQueryBlocks; ++row) {
    auto [lo, hi] = staticKeyBlockRange(p, row % p.numQueryBlocks);
    for (int64_t kb = lo; kb < hi; ++kb)
      if (enabled(row, kb))
        indices.push_back(static_cast<int32_t>(kb));
    offsets.push_back(static_cast<int32_t>(indices.size()));
  }
  op.getMaskMutable().clear();
  op.setTopologyAttr(BlockTopologyAttr::get(op.getContext(), batch, heads,
                                            p.numQueryBlocks, p.numKeyBlocks,
                                            offsets, indices));
}

struct TesseraSparsifyPass
    : public tessera::impl::TesseraSparsifyBase<TesseraSparsifyPass> {
  void runOnOperation() override { getOperation()->walk(sparsify); }
};

} // namespace

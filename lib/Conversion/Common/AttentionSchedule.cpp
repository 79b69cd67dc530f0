//===- AttentionSchedule.cpp - The tile schedule of tessera.attention ------===//
#include "tessera/Conversion/AttentionSchedule.h"

using namespace mlir;
using namespace mlir::tessera;

FailureOr<AttentionProblem> AttentionProblem::get(AttentionOp op) {
  auto q = op.getQuery().getType();
  auto k = cast<ShapedType>(op.getKey().getType());
  auto v = cast<ShapedType>(op.getValue().getType());
  if (!q.hasStaticShape() || !k.hasStaticShape() || !v.hasStaticShape())
    return op.emitOpError() << "needs static shapes to be lowered (specialise the dynamic "
                               "dims first, e.g. with tessera-run's input shapes)";
  AttentionProblem p;
  p.batch = q.getDimSize(0);
  p.queryHeads = q.getDimSize(1);
  p.queryLen = q.getDimSize(2);
  p.headDim = q.getDimSize(3);
  p.kvHeads = k.getDimSize(1);
  p.keyLen = k.getDimSize(2);
  p.valueDim = v.getDimSize(3);
  p.group = p.queryHeads / p.kvHeads;
  p.blockQ = op.getBlockQ();
  p.blockK = op.getBlockK();
  p.numQueryBlocks = (p.queryLen + p.blockQ - 1) / p.blockQ;
  p.numKeyBlocks = (p.keyLen + p.blockK - 1) / p.blockK;
  p.causal = op.getCausal();
  p.window = op.getWindow();
  p.scale = op.getEffectiveScale();
  if (Value m = op.getMask()) {
    auto mt = cast<RankedTensorType>(m.getType());
    Mask mask;
    mask.packed = mt.getElementType().isInteger(32);
    mask.rank4 = mt.getRank() == 4;
    mask.hasBatch = mask.rank4 && mt.getDimSize(0) != 1;
    int64_t mh = mt.getDimSize(mt.getRank() - 3);
    mask.heads = mh == p.queryHeads ? Mask::Heads::Query
                 : mh == p.kvHeads  ? Mask::Heads::KV
                                    : Mask::Heads::One;
    p.mask = mask;
  }
  return p;
}

std::pair<Value, Value> mlir::tessera::emitKeyBlockRange(Emitter &e, const AttentionProblem &p,
                                                         Value q0, Value rows) {
  Value zero = e.idx(0), skv = e.idx(p.keyLen);
  // Key j is visible from query i when j <= i + off (causal) and j > i + off - W (window).
  int64_t off = p.keyLen - p.queryLen;
  Value end = skv, begin = zero;
  if (p.causal) {
    // Last row q0 + rows - 1 sees keys < q0 + rows + off; clamp to [0, Skv].
    Value last = e.add(e.add(q0, rows), e.idx(off));
    end = e.minsi(e.maxsi(last, zero), skv);
  }
  if (p.window) {
    // First row q0 sees keys >= q0 + off - W + 1.
    Value first = e.add(q0, e.idx(off - *p.window + 1));
    begin = e.minsi(e.maxsi(first, zero), skv);
  }
  Value kbBegin = e.divui(begin, e.idx(p.blockK));
  Value kbEnd = e.ceilDiv(end, p.blockK);
  return {kbBegin, kbEnd};
}

Value mlir::tessera::emitMaskBit(Emitter &e, const AttentionProblem &p, Value mask, Value bi,
                                 Value h, Value kvh, Value qb, Value kb) {
  assert(p.mask && "op has no mask");
  ImplicitLocOpBuilder &b = e.builder();
  const AttentionProblem::Mask &m = *p.mask;
  Value head = m.heads == AttentionProblem::Mask::Heads::Query ? h
               : m.heads == AttentionProblem::Mask::Heads::KV  ? kvh
                                                               : e.idx(0);
  SmallVector<Value> indices;
  if (m.rank4)
    indices.push_back(m.hasBatch ? bi : e.idx(0));
  indices.push_back(head);
  indices.push_back(qb);
  if (!m.packed) {
    indices.push_back(kb);
    return memref::LoadOp::create(b, mask, indices);
  }
  indices.push_back(e.divui(kb, e.idx(32)));
  Value word = memref::LoadOp::create(b, mask, indices);
  Value shift = arith::IndexCastOp::create(b, b.getI32Type(), e.remui(kb, e.idx(32)));
  Value bit = arith::AndIOp::create(b, arith::ShRUIOp::create(b, word, shift), e.i32(1));
  return e.cmpi(arith::CmpIPredicate::ne, bit, e.i32(0));
}

Value mlir::tessera::emitVisible(Emitter &e, const AttentionProblem &p, Value i, Value j) {
  int64_t off = p.keyLen - p.queryLen;
  Value visible;
  // Signed comparisons: i + off may be negative when Sq > Skv.
  Value diag = e.add(i, e.idx(off));
  if (p.causal)
    visible = e.cmpi(arith::CmpIPredicate::sle, j, diag);
  if (p.window) {
    Value inWindow = e.cmpi(arith::CmpIPredicate::sgt, j, e.sub(diag, e.idx(*p.window)));
    visible = visible ? arith::AndIOp::create(e.builder(), visible, inWindow) : inWindow;
  }
  return visible;
}

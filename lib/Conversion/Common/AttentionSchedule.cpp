//===- AttentionSchedule.cpp - The tile schedule of tessera.attention -----===//
#include "tessera/Conversion/AttentionSchedule.h"

#include "mlir/IR/SymbolTable.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::tessera;

FailureOr<AttentionProblem> AttentionProblem::get(AttentionOp op) {
  auto q = op.getQuery().getType();
  auto k = cast<ShapedType>(op.getKey().getType());
  auto v = cast<ShapedType>(op.getValue().getType());
  if (!q.hasStaticShape() || !k.hasStaticShape() || !v.hasStaticShape())
    return op.emitOpError()
           << "needs static shapes to be lowered (specialise the dynamic "
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
  TileAttr tile = op.getTileAttr();
  p.tileQ = tile ? tile.getQuery() : p.blockQ;
  p.warps = tile ? tile.getWarps() : 0;
  p.numQueryTiles = (p.queryLen + p.tileQ - 1) / p.tileQ;
  p.causal = op.getCausal();
  p.window = op.getWindow();
  p.scale = op.getEffectiveScale();
  auto headsOf = [&](int64_t mh) {
    p.maskHeads = mh;
    return mh == p.queryHeads ? Mask::Heads::Query
           : mh == p.kvHeads  ? Mask::Heads::KV
                              : Mask::Heads::One;
  };
  if (Value m = op.getMask()) {
    auto mt = cast<RankedTensorType>(m.getType());
    Mask mask;
    mask.packed = mt.getElementType().isInteger(32);
    mask.rank4 = mt.getRank() == 4;
    mask.hasBatch = mask.rank4 && mt.getDimSize(0) != 1;
    mask.heads = headsOf(mt.getDimSize(mt.getRank() - 3));
    p.mask = mask;
  }
  if (BlockTopologyAttr t = op.getTopologyAttr()) {
    p.topology = t;
    Mask mask;
    mask.packed = false;
    mask.rank4 = true;
    mask.hasBatch = t.getBatch() != 1;
    mask.heads = headsOf(t.getHeads());
    p.mask = mask;
  }
  return p;
}

std::pair<Value, Value>
mlir::tessera::emitKeyBlockRange(Emitter &e, const AttentionProblem &p,
                                 Value q0, Value rows) {
  Value zero = e.idx(0), skv = e.idx(p.keyLen);
  // Key j is visible from query i when j <= i + off (causal) and j > i + off -
  // W (window).
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

Value mlir::tessera::emitMaskRowOfTile(Emitter &e, const AttentionProblem &p,
                                       Value qt) {
  int64_t tiles = p.blockQ / p.tileQ;
  return tiles == 1 ? qt : e.divui(qt, e.idx(tiles));
}

Value mlir::tessera::emitMaskBit(Emitter &e, const AttentionProblem &p,
                                 Value mask, Value bi, Value h, Value kvh,
                                 Value qb, Value kb) {
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
  Value shift =
      arith::IndexCastOp::create(b, b.getI32Type(), e.remui(kb, e.idx(32)));
  Value bit = arith::AndIOp::create(b, arith::ShRUIOp::create(b, word, shift),
                                    e.i32(1));
  return e.cmpi(arith::CmpIPredicate::ne, bit, e.i32(0));
}

Value mlir::tessera::emitVisible(Emitter &e, const AttentionProblem &p, Value i,
                                 Value j) {
  int64_t off = p.keyLen - p.queryLen;
  Value visible;
  // Signed comparisons: i + off may be negative when Sq > Skv.
  Value diag = e.add(i, e.idx(off));
  if (p.causal)
    visible = e.cmpi(arith::CmpIPredicate::sle, j, diag);
  if (p.window) {
    Value inWindow =
        e.cmpi(arith::CmpIPredicate::sgt, j, e.sub(diag, e.idx(*p.window)));
    visible = visible ? arith::AndIOp::create(e.builder(), visible, inWindow)
                      : inWindow;
  }
  return visible;
}

std::pair<int64_t, int64_t>
mlir::tessera::staticKeyBlockRange(const AttentionProblem &p, int64_t qb) {
  int64_t off = p.keyLen - p.queryLen;
  int64_t q0 = qb * p.blockQ, rows = std::min(p.blockQ, p.queryLen - q0);
  int64_t begin = 0, end = p.keyLen;
  if (p.causal)
    end = std::clamp<int64_t>(q0 + rows + off, 0, p.keyLen);
  if (p.window)
    begin = std::clamp<int64_t>(q0 + off - *p.window + 1, 0, p.keyLen);
  return {begin / p.blockK, (end + p.blockK - 1) / p.blockK};
}

std::pair<Value, Value>
mlir::tessera::emitTopologyTables(Emitter &e, Operation *symbolTable,
                                  BlockTopologyAttr topology) {
  ImplicitLocOpBuilder &b = e.builder();
  // Named by a hash of the contents (deterministic across runs, so lowered IR
  // and the JIT cache key stay stable).
  uint64_t h = 0xcbf29ce484222325ULL;
  auto mix = [&](int64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= static_cast<uint64_t>(v >> (8 * i)) & 0xFF;
      h *= 0x100000001b3ULL;
    }
  };
  for (int64_t v : {topology.getBatch(), topology.getHeads(),
                    topology.getQueryBlocks(), topology.getKeyBlocks()})
    mix(v);
  for (int32_t v : topology.getOffsets())
    mix(v);
  for (int32_t v : topology.getIndices())
    mix(v);
  std::string base = "__tessera_topology_" + std::to_string(h);
  auto table = [&](StringRef suffix, ArrayRef<int32_t> values) -> Value {
    std::string name = base + "_" + suffix.str();
    auto type =
        MemRefType::get({std::max<int64_t>(1, values.size())}, b.getI32Type());
    if (!SymbolTable::lookupSymbolIn(symbolTable, name)) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&symbolTable->getRegion(0).front());
      SmallVector<int32_t> data(values.begin(), values.end());
      if (data.empty())
        data.push_back(0);
      auto init = DenseElementsAttr::get(
          RankedTensorType::get(type.getShape(), b.getI32Type()),
          ArrayRef<int32_t>(data));
      memref::GlobalOp::create(b, name, b.getStringAttr("private"), type, init,
                               /*constant=*/true, /*alignment=*/IntegerAttr());
    }
    return memref::GetGlobalOp::create(b, type, name);
  };
  return {table("offsets", topology.getOffsets()),
          table("indices", topology.getIndices())};
}

std::pair<Value, Value>
mlir::tessera::emitTopologyRow(Emitter &e, const AttentionProblem &p,
                               Value offsets, Value bi, Value h, Value kvh,
                               Value qb) {
  ImplicitLocOpBuilder &b = e.builder();
  const AttentionProblem::Mask &m = *p.mask;
  Value head = m.heads == AttentionProblem::Mask::Heads::Query ? h
               : m.heads == AttentionProblem::Mask::Heads::KV  ? kvh
                                                               : e.idx(0);
  Value batch = m.hasBatch ? bi : e.idx(0);
  Value row = e.add(e.mul(e.add(e.mul(batch, e.idx(p.maskHeads)), head),
                          e.idx(p.numQueryBlocks)),
                    qb);
  auto at = [&](Value i) {
    Value v = memref::LoadOp::create(b, offsets, ValueRange{i});
    return arith::IndexCastOp::create(b, b.getIndexType(), v).getResult();
  };
  return {at(row), at(e.add(row, e.idx(1)))};
}

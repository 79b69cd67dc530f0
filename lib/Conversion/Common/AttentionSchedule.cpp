//===- AttentionSchedule.cpp - The tile schedule of tessera.attention -----===//
#include "tessera/Conversion/AttentionSchedule.h"

#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/IR/TypeUtilities.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::tessera;

FailureOr<AttentionProblem> AttentionProblem::get(AttentionOp op) {
  auto q = op.getQuery().getType();
  auto k = cast<ShapedType>(op.getKey().getType());
  auto v = cast<ShapedType>(op.getValue().getType());
  // Heads and head dims shape the code (vector chunks, fragments, GQA
  // mapping); batch and sequence lengths may be run-time sizes. Page pools
  // are [P, page_size, Hkv, D].
  bool paged = op.isPaged();
  int64_t headAxis = paged ? 2 : 1;
  for (ShapedType t : {cast<ShapedType>(q), k, v})
    if (t.isDynamicDim(t == q ? 1 : headAxis) || t.isDynamicDim(3) ||
        (paged && t != q && t.isDynamicDim(1)))
      return op.emitOpError()
             << "needs static head counts, head dims and page sizes to be "
                "lowered; got "
             << t << " (batch and sequence lengths may be dynamic)";
  // A dim known in any operand is known (the verifier made them agree).
  auto known = [](std::initializer_list<int64_t> dims) {
    for (int64_t d : dims)
      if (!ShapedType::isDynamic(d))
        return d;
    return ShapedType::kDynamic;
  };
  AttentionProblem p;
  p.queryHeads = q.getDimSize(1);
  p.queryLen = q.getDimSize(2);
  p.headDim = q.getDimSize(3);
  p.valueDim = v.getDimSize(3);
  if (paged) {
    auto table = cast<ShapedType>(op.getBlockTable().getType());
    p.pageSize = *op.getPageSize();
    p.batch = known({q.getDimSize(0), table.getDimSize(0)});
    p.kvHeads = k.getDimSize(2);
    // The key-block grid spans the table's capacity; each sequence's own
    // length is kv_lens[b], a run-time value.
    p.keyLen = ShapedType::isDynamic(table.getDimSize(1))
                   ? ShapedType::kDynamic
                   : table.getDimSize(1) * p.pageSize;
  } else {
    p.batch = known({q.getDimSize(0), k.getDimSize(0), v.getDimSize(0)});
    p.kvHeads = k.getDimSize(1);
    p.keyLen = known({k.getDimSize(2), v.getDimSize(2)});
  }
  p.checked = op.getChecked();
  if (op.isRagged()) {
    p.ragged = true;
    p.batch = 1; // the packed tensors' batch; sequences are run-time
  }
  p.group = p.queryHeads / p.kvHeads;
  p.blockQ = op.getBlockQ();
  p.blockK = op.getBlockK();
  auto blocks = [](int64_t len, int64_t block) {
    return ShapedType::isDynamic(len) ? ShapedType::kDynamic
                                      : (len + block - 1) / block;
  };
  p.numQueryBlocks = blocks(p.queryLen, p.blockQ);
  p.numKeyBlocks = blocks(p.keyLen, p.blockK);
  TileAttr tile = op.getTileAttr();
  p.tileQ = tile ? tile.getQuery() : p.blockQ;
  p.warps = tile ? tile.getWarps() : 0;
  p.kvSplits = tile ? tile.getKvSplits() : 1;
  p.numQueryTiles = blocks(p.queryLen, p.tileQ);
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
    // A dynamic mask batch is taken to be B (checked at run time).
    mask.hasBatch = mask.rank4 && mt.getDimSize(0) != 1;
    mask.heads = headsOf(mt.getDimSize(mt.getRank() - 3));
    p.mask = mask;
  }
  if (BlockTopologyAttr t = op.getTopologyAttr()) {
    if (ShapedType::isDynamic(p.queryLen) || ShapedType::isDynamic(p.keyLen))
      return op.emitOpError()
             << "has a static topology, which fixes the block grid: Sq and "
                "Skv must be static";
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
                                 const WorkItem &w) {
  Value zero = e.idx(0), skv = w.keyLen;
  Value end = skv, begin = zero;
  if (p.causal) {
    // The last row q0 + rows - 1 sees keys up to its diagonal; clamp to
    // [0, Skv].
    Value last = emitDiagonal(e, w, e.add(w.q0, w.rows));
    end = e.minsi(e.maxsi(last, zero), skv);
  }
  if (p.window) {
    // The first row q0 sees keys > diag(q0) - W.
    Value first = e.sub(emitDiagonal(e, w, w.q0), e.idx(*p.window - 1));
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
                                 Value mask, const WorkItem &w, Value kb) {
  Value bi = w.bi, h = w.h, kvh = w.kvh, qb = w.qb;
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

Value mlir::tessera::emitDiagonal(Emitter &e, const WorkItem &w, Value i) {
  Value off = e.sub(w.keyLen, w.queryLen);
  Type t = i.getType();
  if (!t.isIndex()) {
    ImplicitLocOpBuilder &b = e.builder();
    Type scalar = getElementTypeOrSelf(t);
    off = arith::IndexCastOp::create(b, scalar, off);
    if (auto vt = dyn_cast<VectorType>(t))
      off = vector::BroadcastOp::create(b, vt, off);
  }
  return e.add(i, off);
}

Value mlir::tessera::emitVisible(Emitter &e, const AttentionProblem &p,
                                 Value diag, Value j, Value limit) {
  ImplicitLocOpBuilder &b = e.builder();
  Value visible;
  auto conj = [&](Value c) {
    visible = visible ? arith::AndIOp::create(b, visible, c).getResult() : c;
  };
  // Signed comparisons: the diagonal is negative for the first rows when
  // Sq > Skv.
  if (limit)
    conj(e.cmpi(arith::CmpIPredicate::slt, j, limit));
  if (p.causal)
    conj(e.cmpi(arith::CmpIPredicate::sle, j, diag));
  if (p.window)
    conj(e.cmpi(arith::CmpIPredicate::sgt, j,
                e.sub(diag, e.constLike(diag.getType(), *p.window))));
  return visible;
}

SoftmaxStep mlir::tessera::emitSoftmaxStep(Emitter &e, Value oldMax,
                                           Value blockMax,
                                           function_ref<Value(Value)> exp) {
  SoftmaxStep s;
  s.max = e.maxf(oldMax, blockMax);
  Value none = e.cmpf(arith::CmpFPredicate::OEQ, s.max, e.negInf());
  s.origin = e.select(none, e.f32(0), s.max);
  s.alpha = exp(e.sub(oldMax, s.origin));
  return s;
}

SoftmaxEnd mlir::tessera::emitSoftmaxEnd(Emitter &e, Value max, Value sum,
                                         function_ref<Value(Value)> log) {
  ImplicitLocOpBuilder &b = e.builder();
  Value any = e.cmpf(arith::CmpFPredicate::OGT, sum, e.f32(0));
  SoftmaxEnd end;
  end.scale = e.select(any, arith::DivFOp::create(b, e.f32(1), sum), e.f32(0));
  end.lse =
      e.select(any, e.add(max, log(e.select(any, sum, e.f32(1)))), e.negInf());
  return end;
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

static std::pair<Value, Value> emitTopologyTables(Emitter &e,
                                                  Operation *symbolTable,
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

static std::pair<Value, Value> emitTopologyRow(Emitter &e,
                                               const AttentionProblem &p,
                                               Value offsets,
                                               const WorkItem &w) {
  Value bi = w.bi, h = w.h, kvh = w.kvh, qb = w.qb;
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

/// Chunk `w.split` of kv_splits contiguous chunks of [lo, hi): chunks of
/// ceil((hi - lo) / S), the last ones possibly short or empty.
static std::pair<Value, Value> splitRange(Emitter &e, const AttentionProblem &p,
                                          const WorkItem &w,
                                          std::pair<Value, Value> range) {
  if (p.kvSplits <= 1)
    return range;
  auto [lo, hi] = range;
  Value n = e.maxsi(e.sub(hi, lo), e.idx(0));
  Value chunk = e.ceilDiv(n, p.kvSplits);
  Value begin = e.minsi(e.add(lo, e.mul(w.split, chunk)), hi);
  Value end = e.minsi(e.add(begin, chunk), hi);
  return {begin, end};
}

SmallVector<Value> mlir::tessera::emitKeyBlockWalk(
    Emitter &e, const AttentionProblem &p, const WorkItem &w, Value mask,
    Operation *tableScope, ValueRange init,
    function_ref<SmallVector<Value>(Value, ValueRange)> body) {
  ImplicitLocOpBuilder &b = e.builder();
  if (p.topology) {
    auto tables = emitTopologyTables(e, tableScope, p.topology);
    Value indices = tables.second;
    auto [lo, hi] = splitRange(e, p, w, emitTopologyRow(e, p, tables.first, w));
    return e.forLoop(lo, hi, 1, init,
                     [&](Value i, ValueRange state) -> SmallVector<Value> {
                       Value kb = arith::IndexCastOp::create(
                           b, b.getIndexType(),
                           memref::LoadOp::create(b, indices, ValueRange{i}));
                       return body(kb, state);
                     });
  }
  auto [kbBegin, kbEnd] = splitRange(e, p, w, emitKeyBlockRange(e, p, w));
  return e.forLoop(
      kbBegin, kbEnd, 1, init,
      [&](Value kb, ValueRange state) -> SmallVector<Value> {
        if (!mask)
          return body(kb, state);
        // A key block whose mask bit is 0 is skipped entirely: that is where
        // sparsity pays.
        auto ifOp = scf::IfOp::create(b, state.getTypes(),
                                      emitMaskBit(e, p, mask, w, kb),
                                      /*withElseRegion=*/true);
        // (Without state the builder has added empty yields already.)
        auto fill = [&](Region &region, function_ref<SmallVector<Value>()> f) {
          OpBuilder::InsertionGuard guard(b);
          Block &block = region.front();
          bool terminated = !block.empty() && isa<scf::YieldOp>(block.back());
          if (terminated)
            b.setInsertionPoint(&block.back());
          else
            b.setInsertionPointToStart(&block);
          SmallVector<Value> out = f();
          if (!terminated)
            scf::YieldOp::create(b, out);
        };
        fill(ifOp.getThenRegion(), [&] { return body(kb, state); });
        fill(ifOp.getElseRegion(),
             [&] { return SmallVector<Value>(state.begin(), state.end()); });
        return SmallVector<Value>(ifOp.getResults());
      });
}

static Value sizeOf(Emitter &e, int64_t known, Value buffer, int64_t dim) {
  if (!ShapedType::isDynamic(known))
    return e.idx(known);
  return memref::DimOp::create(e.builder(), buffer, dim);
}

AttentionSizes mlir::tessera::emitAttentionSizes(Emitter &e,
                                                 const AttentionProblem &p,
                                                 const AttentionOperands &ops) {
  AttentionSizes sz;
  sz.batch = sizeOf(e, p.batch, ops.query, 0);
  sz.queryLen = sizeOf(e, p.queryLen, ops.query, 2);
  // Packed components keep the [B, Hkv, Skv, ...] lead of their qtensor.
  if (p.paged())
    sz.keyLen = ShapedType::isDynamic(p.keyLen)
                    ? e.mul(memref::DimOp::create(e.builder(), ops.table, 1),
                            e.idx(p.pageSize))
                    : e.idx(p.keyLen);
  else
    sz.keyLen = sizeOf(e, p.keyLen, ops.value[0], 2);
  sz.queryTiles = ShapedType::isDynamic(p.numQueryTiles)
                      ? e.ceilDiv(sz.queryLen, p.tileQ)
                      : e.idx(p.numQueryTiles);
  sz.keyBlocks = ShapedType::isDynamic(p.numKeyBlocks)
                     ? e.ceilDiv(sz.keyLen, p.blockK)
                     : e.idx(p.numKeyBlocks);
  sz.sequences = sz.batch;
  if (p.ragged)
    sz.sequences =
        e.maxsi(e.sub(memref::DimOp::create(e.builder(), ops.cuQ, 0), e.idx(1)),
                e.idx(0));
  return sz;
}

SmallVector<RuntimeCheck>
mlir::tessera::attentionSizeChecks(Emitter &e, const AttentionProblem &p,
                                   const AttentionSizes &sizes,
                                   const AttentionOperands &ops) {
  SmallVector<RuntimeCheck> checks;
  auto isDyn = [](Value buf, int64_t d) {
    return cast<MemRefType>(buf.getType()).isDynamicDim(d);
  };
  // `want` is built only when a check is needed (static shapes emit nothing).
  auto expectLazy = [&](Value buf, int64_t d, function_ref<Value()> want,
                        bool wantDynamic, std::string what) {
    if (!isDyn(buf, d) && !wantDynamic)
      return; // both static: the verifier checked them
    Value got = memref::DimOp::create(e.builder(), buf, d);
    Value w = want();
    checks.push_back(
        {e.cmpi(arith::CmpIPredicate::eq, got, w), std::move(what), got, w});
  };
  auto expect = [&](Value buf, int64_t d, Value want, bool wantDynamic,
                    std::string what) {
    expectLazy(buf, d, [&] { return want; }, wantDynamic, std::move(what));
  };
  bool dynB = ShapedType::isDynamic(p.batch);
  bool dynSkv = ShapedType::isDynamic(p.keyLen);
  // Q's batch and V's length are where run-time sizes come from
  // (emitAttentionSizes); when the size is static, a dynamic dim there is
  // checked against it.
  if (!dynB)
    expect(ops.query, 0, sizes.batch, dynB,
           "query batch differs from the batch");
  if (p.paged()) {
    // Pools agree on their page count; table and lengths have B rows.
    for (const auto *parts : {&ops.key, &ops.value})
      for (Value part : *parts)
        if (part != ops.key[0])
          expectLazy(
              part, 0,
              [&] { return memref::DimOp::create(e.builder(), ops.key[0], 0); },
              true,
              std::string(parts == &ops.key ? "key" : "value") +
                  " pool has a different page count from the key pool");
    expect(ops.table, 0, sizes.batch, dynB,
           "block table rows differ from the batch");
    expect(ops.lens, 0, sizes.batch, dynB,
           "kv_lens size differs from the batch");
  } else {
    for (const auto *parts : {&ops.key, &ops.value}) {
      const char *name = parts == &ops.key ? "key" : "value";
      for (Value part : *parts) {
        expect(part, 0, sizes.batch, dynB,
               std::string(name) + " batch differs from the query batch");
        if (part != ops.value[0] || !dynSkv)
          expect(part, 2, sizes.keyLen, dynSkv,
                 std::string(name) + " length differs from the value length");
      }
    }
  }
  if (p.ragged) {
    Value n = memref::DimOp::create(e.builder(), ops.cuQ, 0);
    checks.push_back({e.cmpi(arith::CmpIPredicate::sge, n, e.idx(1)),
                      "cu_seqlens_q is empty (it has B + 1 entries)", n,
                      e.idx(1)});
  }
  if (p.ragged)
    expectLazy(
        ops.cuK, 0,
        [&] { return memref::DimOp::create(e.builder(), ops.cuQ, 0); }, true,
        "cu_seqlens_k has a different size from cu_seqlens_q");
  if (!ops.mask)
    return checks;
  auto mt = cast<MemRefType>(ops.mask.getType());
  int64_t r = mt.getRank();
  bool dynSq = ShapedType::isDynamic(p.queryLen);
  if (p.mask->hasBatch)
    expect(ops.mask, 0, sizes.batch, dynB,
           "mask batch differs from the batch (a mask batch dim that is not "
           "1 statically must be B)");
  expectLazy(
      ops.mask, r - 2, [&] { return e.ceilDiv(sizes.queryLen, p.blockQ); },
      dynSq, "mask has the wrong number of query blocks (ceil(Sq / block_q))");
  expectLazy(
      ops.mask, r - 1,
      [&] {
        return p.mask->packed ? e.ceilDiv(sizes.keyBlocks, 32)
                              : sizes.keyBlocks;
      },
      dynSkv,
      p.mask->packed ? "mask has the wrong number of i32 words per row "
                       "(ceil(ceil(Skv / block_k) / 32))"
                     : "mask has the wrong number of key blocks "
                       "(ceil(Skv / block_k))");
  return checks;
}

std::pair<Value, Value> mlir::tessera::emitSequenceRows(Emitter &e, Value cu,
                                                        Value bi, Value total) {
  ImplicitLocOpBuilder &b = e.builder();
  auto at = [&](Value i) {
    return arith::IndexCastOp::create(
               b, b.getIndexType(),
               memref::LoadOp::create(b, cu, ValueRange{i}))
        .getResult();
  };
  Value start = e.minsi(e.maxsi(at(bi), e.idx(0)), total);
  Value end = e.minsi(e.maxsi(at(e.add(bi, e.idx(1))), start), total);
  return {start, e.sub(end, start)};
}

//===- Evict.cpp - tessera.evict, one body per index set ------------------===//
//
// Each index set (one per batch and KV head, or per batch for per-layer scope)
// is a row of the target's RowRunner (an scf.parallel iteration on the CPU, a
// thread on the GPU) and runs the same three phases, whatever the policy:
//   1. scores: one f32 key per candidate token (SnapKV/CompressKV's pooled
//      observation-window attention, H2O's running score, the reservoir's
//      log(u_j) / w_j), averaged over the heads the set stands for;
//   2. the kept test: a token is kept when S <= budget, when it is a sink or
//      in the recent window, or when fewer than m candidates rank above it
//      (higher key first; ties to the earlier token, to the later one for
//      H2O, whose argmin eviction takes the earliest of equal scores);
//   3. compaction: the kept tokens in ascending order, their index and their
//      storage rows (every component of a packed K/V) copied to the next slot.
// Ranking is a count over the candidates (O(S^2) compares per set), which
// needs no sort and no scratch beyond the keys. The scratch rows of every set
// are allocated once on the host ([sets, 6, S] and [sets, S, D] f32), so a GPU
// thread can own a set of run-time length.
// Paged caches: the output pools start as a copy of the input pools (a row of
// the runner per (page, slot, head)); each set then reads its sequence's
// length from kv_lens, addresses token j through the block table, and moves
// kept token j to position c <= j of the same sequence, reading the input
// pools, so no move clobbers a row another move still reads.
//
//===----------------------------------------------------------------------===//
#include "tessera/Conversion/Evict.h"
#include "tessera/Conversion/EmitUtils.h"
#include "tessera/Conversion/QuantCodec.h"

#include "Tessera/TesseraOps.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"

#include <cmath>

using namespace mlir;
using namespace mlir::tessera;

LogicalResult mlir::tessera::checkEvictLowerable(Operation *op) {
  auto evict = cast<EvictOp>(op);
  auto check = [&](Type t, StringRef what) -> LogicalResult {
    auto shaped = cast<ShapedType>(t);
    if (shaped.isDynamicDim(shaped.getRank() - 1))
      return op->emitOpError() << "needs a static " << what
                               << " head dim to be lowered; got " << t;
    auto packed = dyn_cast<QTensorType>(t);
    if (!packed)
      return success();
    if (failed(QuantCodec::get(packed, [&] { return op->emitOpError(); })))
      return failure();
    QuantAttr q = packed.getScheme();
    if (q.getScheme() == QuantScheme::Lattice && q.getDither())
      return op->emitOpError()
             << "cannot compact dithered lattice " << what
             << ": a row's dither depends on its position, so a moved row "
                "would decode differently (quantize without dither)";
    return success();
  };
  if (failed(check(evict.getKeys().getType(), "keys")) ||
      failed(check(evict.getValues().getType(), "values")))
    return failure();
  if (Value q = evict.getQuery())
    return check(q.getType(), "query");
  return success();
}

namespace {

/// Everything the emitted code needs about one tessera.evict.
struct EvictPlan {
  EvictPolicy policy;
  bool perLayer;
  int64_t budget, sinks, window, kernel, firstK, steps, seed, layer, step;
  double gamma;
  SmallVector<int64_t> heads;
  int64_t d;
  /// The packed K's codec, for policies that score with K (null for plain K).
  std::unique_ptr<QuantCodec> keyCodec;
  Type keyElt, queryElt;
  /// Paged K/V: page pools [P, page_size, Hkv, D] read through a block table.
  bool paged = false;
  int64_t pageSize = 0;
};

/// Sizes read off the buffers, as index values.
struct EvictSizes {
  Value b, hkv, s, n, hq, sw;
  /// Paged: the pools' page count (entries are clamped below it).
  Value pages;
};

/// What the emitted code reads and writes.
struct EvictBuffers {
  SmallVector<Value> keys, values, keptKeys, keptValues;
  Value query, scores, indices, keptScores;
  /// Paged: the block table [B, max_pages], kv_lens [B] and the new lengths.
  Value table, lens, newLens;
  /// Per index set: f32 [sets, kScratchRows, S] rows and, for the policies
  /// that read K, its f32 rows [sets, S, D].
  Value scratch, keyRows;

  /// Every buffer, in the order rebuild() reads them back.
  SmallVector<Value> flatten() const {
    SmallVector<Value> all(keys);
    all.append(values);
    for (Value v : {query, scores, table, lens, indices})
      if (v)
        all.push_back(v);
    all.append(keptKeys);
    all.append(keptValues);
    for (Value v : {keptScores, newLens, scratch, keyRows})
      if (v)
        all.push_back(v);
    return all;
  }
  /// The same buffers as `args` (a row body's view of flatten()).
  EvictBuffers rebuild(ValueRange args) const {
    EvictBuffers out;
    size_t next = 0;
    auto take = [&](Value like) { return like ? args[next++] : Value(); };
    auto takeAll = [&](ArrayRef<Value> like) {
      SmallVector<Value> vs;
      for (Value v : like)
        vs.push_back(take(v));
      return vs;
    };
    out.keys = takeAll(keys);
    out.values = takeAll(values);
    out.query = take(query);
    out.scores = take(scores);
    out.table = take(table);
    out.lens = take(lens);
    out.indices = take(indices);
    out.keptKeys = takeAll(keptKeys);
    out.keptValues = takeAll(keptValues);
    out.keptScores = take(keptScores);
    out.newLens = take(newLens);
    out.scratch = take(scratch);
    out.keyRows = take(keyRows);
    return out;
  }
};

/// Rows of the per-set scratch: the candidates' keys, the scores, SnapKV's
/// attention mass, a softmax row, and the walk's current and next vectors.
enum ScratchRow : int64_t {
  kKeys,
  kScore,
  kMass,
  kLogits,
  kCur,
  kNext,
  kScratchRows
};

/// One scratch row of the current set.
struct Row {
  int64_t slot;
};

/// The sizes of `buf` as index values (constants where static).
EvictSizes sizesOf(Emitter &e, const EvictPlan &plan, const EvictBuffers &buf) {
  ImplicitLocOpBuilder &b = e.builder();
  auto dim = [&](Value buffer, int64_t d) -> Value {
    int64_t size = cast<MemRefType>(buffer.getType()).getDimSize(d);
    if (!ShapedType::isDynamic(size))
      return e.idx(size);
    return memref::DimOp::create(b, buffer, d);
  };
  EvictSizes sz;
  if (plan.paged) {
    // S is the table's capacity here; each set reads its own length.
    sz.b = dim(buf.table, 0);
    sz.hkv = dim(buf.keys[0], 2);
    Value maxPages = dim(buf.table, 1);
    sz.s = e.mul(maxPages, e.idx(plan.pageSize));
    sz.n = e.idx(plan.budget);
    sz.pages = dim(buf.keys[0], 0);
  } else {
    sz.b = dim(buf.keys[0], 0);
    sz.hkv = dim(buf.keys[0], 1);
    sz.s = dim(buf.keys[0], 2);
    sz.n = e.minsi(sz.s, e.idx(plan.budget));
  }
  sz.hq = buf.query ? dim(buf.query, 1) : sz.hkv;
  sz.sw = buf.query ? dim(buf.query, 2) : e.idx(0);
  return sz;
}

/// exp(x) for an f32 x in arith ops (no libm/libdevice call on either
/// target): x = n ln2 + r (Cody-Waite, |r| <= ln2 / 2), a degree-7 Taylor
/// polynomial for e^r, times 2^n from its exponent bits; 0 below -87 (and at
/// -inf).
Value expF32(Emitter &e, Value x) {
  ImplicitLocOpBuilder &b = e.builder();
  Value tiny = e.cmpf(arith::CmpFPredicate::OLT, x, e.f32(-87.0));
  Value xc = arith::MinimumFOp::create(b, e.maxf(x, e.f32(-87.0)), e.f32(88.0));
  Value n = e.roundF32(e.mul(xc, e.f32(1.4426950408889634)));
  Value r = e.sub(e.sub(xc, e.mul(n, e.f32(0.693145751953125))),
                  e.mul(n, e.f32(1.428606765330187e-06)));
  Value poly = e.f32(1.0 / 5040.0);
  for (double c :
       {1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0})
    poly = e.add(e.mul(poly, r), e.f32(c));
  Value ni = arith::FPToSIOp::create(b, b.getI32Type(), n);
  Value bits = arith::ShLIOp::create(b, e.add(ni, e.i32(127)), e.i32(23));
  Value scaled = e.mul(poly, arith::BitcastOp::create(b, b.getF32Type(), bits));
  return e.select(tiny, e.f32(0.0), scaled);
}

/// log(x) for a normal f32 x > 0 in arith ops: x = m 2^k with m in
/// [sqrt(1/2), sqrt(2)), log m = 2 atanh((m - 1) / (m + 1)) to t^11 (|t| <=
/// 0.172: truncation below 1e-11), plus k ln2.
Value logF32(Emitter &e, Value x) {
  ImplicitLocOpBuilder &b = e.builder();
  Type i32 = b.getI32Type(), f32 = b.getF32Type();
  Value bits = arith::BitcastOp::create(b, i32, x);
  Value k = e.sub(arith::ShRUIOp::create(b, bits, e.i32(23)), e.i32(127));
  Value mBits = arith::OrIOp::create(
      b, arith::AndIOp::create(b, bits, e.i32(0x7FFFFF)), e.i32(0x3F800000));
  Value m = arith::BitcastOp::create(b, f32, mBits);
  Value big = e.cmpf(arith::CmpFPredicate::OGT, m, e.f32(1.4142135623730951));
  m = e.select(big, e.mul(m, e.f32(0.5)), m);
  k = e.select(big, e.add(k, e.i32(1)), k);
  Value t =
      arith::DivFOp::create(b, e.sub(m, e.f32(1.0)), e.add(m, e.f32(1.0)));
  Value t2 = e.mul(t, t);
  Value poly = e.f32(1.0 / 11.0);
  for (double c : {1.0 / 9.0, 1.0 / 7.0, 1.0 / 5.0, 1.0 / 3.0, 1.0})
    poly = e.add(e.mul(poly, t2), e.f32(c));
  Value logM = e.mul(e.mul(poly, t), e.f32(2.0));
  Value kf = arith::SIToFPOp::create(b, f32, k);
  return e.add(e.mul(kf, e.f32(0.6931471805599453)), logM);
}

MemRefType memrefOf(ShapedType t) {
  return MemRefType::get(t.getShape(), t.getElementType());
}

/// The splitmix64 finaliser in i64 arith ops (Support/RandomSigns.h).
Value emitSplitmix(Emitter &e, Value x) {
  ImplicitLocOpBuilder &b = e.builder();
  auto c = [&](uint64_t v) {
    return arith::ConstantOp::create(
        b, b.getI64IntegerAttr(static_cast<int64_t>(v)));
  };
  auto xorShift = [&](Value v, int64_t s) {
    return arith::XOrIOp::create(b, v, arith::ShRUIOp::create(b, v, c(s)));
  };
  x = arith::MulIOp::create(b, xorShift(x, 30), c(0xBF58476D1CE4E5B9ULL));
  x = arith::MulIOp::create(b, xorShift(x, 27), c(0x94D049BB133111EBULL));
  return xorShift(x, 31);
}

/// splitmix64(z + (counter + 1) * golden), counter an index value
/// (Support/Eviction.h's fold).
Value emitFold(Emitter &e, Value z, Value counter) {
  ImplicitLocOpBuilder &b = e.builder();
  Type i64 = b.getI64Type();
  Value c1 = arith::AddIOp::create(
      b, arith::IndexCastOp::create(b, i64, counter),
      arith::ConstantOp::create(b, b.getI64IntegerAttr(1)));
  Value golden = arith::ConstantOp::create(
      b, b.getI64IntegerAttr(static_cast<int64_t>(0x9E3779B97F4A7C15ULL)));
  return emitSplitmix(
      e, arith::AddIOp::create(b, z, arith::MulIOp::create(b, c1, golden)));
}

/// dst[to..., ...] = src[from..., ...] over the static inner dims (3 on).
void copyRow(Emitter &e, Value src, Value dst, ValueRange from, ValueRange to) {
  ImplicitLocOpBuilder &b = e.builder();
  ArrayRef<int64_t> shape = cast<MemRefType>(src.getType()).getShape();
  SmallVector<Value> inner;
  std::function<void(size_t)> walk = [&](size_t dim) {
    if (dim == shape.size()) {
      SmallVector<Value> at(from), dstAt(to);
      at.append(inner);
      dstAt.append(inner);
      memref::StoreOp::create(b, memref::LoadOp::create(b, src, at), dst,
                              dstAt);
      return;
    }
    e.forLoop(e.idx(0), e.idx(shape[dim]), 1, [&](Value i) {
      inner.push_back(i);
      walk(dim + 1);
      inner.pop_back();
    });
  };
  walk(3);
}

class EvictLowering {
public:
  EvictLowering(Emitter &e, const EvictPlan &plan, const EvictSizes &sz,
                const EvictBuffers &buf, Value set)
      : e(e), b(e.builder()), p(plan), sz(sz), buf(buf), set(set) {}

  /// The index set `row` of batch `bi`, standing for KV heads [hLo, hHi).
  void emitSet(Value bi, Value row, Value hLo, Value hHi) {
    Value full = e.cmpi(arith::CmpIPredicate::sle, sz.s, e.idx(p.budget));
    // The recent window always kept, and the candidates [lo, hi) between
    // it and the sinks, of which m are kept.
    int64_t recent = p.policy == EvictPolicy::Reservoir ? 0 : p.window;
    Value lo = e.idx(p.sinks);
    Value hi = e.sub(sz.s, e.idx(recent));
    int64_t m = std::max<int64_t>(p.budget - p.sinks - recent, 0);
    bool scored = p.policy != EvictPolicy::SinkWindow && m > 0;
    Row keys{kKeys};
    if (scored) {
      e.ifThen(arith::XOrIOp::create(b, full, e.constLike(full.getType(), 1)),
               [&] { emitKeys(bi, row, hLo, hHi, keys, hi); });
    }

    bool laterWins = p.policy == EvictPolicy::H2O;
    Value c0 = e.idx(0);
    Value nKept = e.forLoop(
        c0, sz.s, 1, ValueRange{c0},
        [&](Value j, ValueRange count) -> SmallVector<Value> {
          Value pinned =
              arith::OrIOp::create(b, e.cmpi(arith::CmpIPredicate::ult, j, lo),
                                   e.cmpi(arith::CmpIPredicate::sge, j, hi));
          Value kept = arith::OrIOp::create(b, full, pinned);
          if (scored) {
            // Candidates ranked above j; an empty loop for the others.
            Value candidate = arith::AndIOp::create(
                b,
                arith::XOrIOp::create(b, kept, e.constLike(kept.getType(), 1)),
                e.cmpi(arith::CmpIPredicate::slt, lo, hi));
            Value ub = e.select(candidate, hi, lo);
            Value kj =
                load(keys, e.maxsi(e.minsi(j, e.sub(sz.s, e.idx(1))), c0));
            Value above = e.forLoop(
                lo, ub, 1, ValueRange{c0},
                [&](Value i, ValueRange acc) -> SmallVector<Value> {
                  Value ki = load(keys, i);
                  Value greater = e.cmpf(arith::CmpFPredicate::OGT, ki, kj);
                  Value equal = e.cmpf(arith::CmpFPredicate::OEQ, ki, kj);
                  Value earlier = e.cmpi(laterWins ? arith::CmpIPredicate::ugt
                                                   : arith::CmpIPredicate::ult,
                                         i, j);
                  Value wins = arith::OrIOp::create(
                      b, greater, arith::AndIOp::create(b, equal, earlier));
                  return {e.add(acc[0], e.select(wins, e.idx(1), c0))};
                })[0];
            Value ranked = arith::AndIOp::create(
                b, candidate,
                e.cmpi(arith::CmpIPredicate::ult, above, e.idx(m)));
            kept = arith::OrIOp::create(b, kept, ranked);
          }
          e.ifThen(kept, [&] { emitKeep(bi, row, hLo, hHi, j, count[0]); });
          return {e.add(count[0], e.select(kept, e.idx(1), c0))};
        })[0];
    if (!p.paged)
      return;
    // Paged: slots [n_b, budget) of the indices are -1 (kept scores 0); the
    // set of the first KV head writes the new length.
    e.forLoop(nKept, e.idx(p.budget), 1, [&](Value c) {
      memref::StoreOp::create(
          b, arith::ConstantOp::create(b, b.getI64IntegerAttr(-1)), buf.indices,
          ValueRange{bi, row, c});
      if (buf.keptScores)
        e.forLoop(hLo, hHi, 1, [&](Value h) {
          memref::StoreOp::create(b, e.f32(0.0), buf.keptScores,
                                  ValueRange{bi, h, c});
        });
    });
    e.ifThen(e.cmpi(arith::CmpIPredicate::eq, hLo, c0), [&] {
      memref::StoreOp::create(
          b, arith::IndexCastOp::create(b, b.getI32Type(), nKept), buf.newLens,
          ValueRange{bi});
    });
  }

  /// Leading indices of token j of sequence bi, KV head g, in the K/V
  /// buffers: [bi, g, j] dense; [page, j % page_size, g] paged, the table
  /// entry clamped into [0, P).
  SmallVector<Value> rowOf(Value bi, Value g, Value j) {
    if (!p.paged)
      return {bi, g, j};
    Value ps = e.idx(p.pageSize);
    Value entry = load(buf.table, ValueRange{bi, e.divui(j, ps)});
    Value page = arith::IndexCastOp::create(b, b.getIndexType(), entry);
    Value last = e.sub(sz.pages, e.idx(1));
    page = e.minsi(e.maxsi(page, e.idx(0)), last);
    return {page, e.remui(j, ps), g};
  }

private:
  /// Token j kept in slot c: its index, and its rows of K, V (every storage
  /// component) and the running scores, for each KV head of the set.
  void emitKeep(Value bi, Value row, Value hLo, Value hHi, Value j, Value c) {
    memref::StoreOp::create(b, arith::IndexCastOp::create(b, b.getI64Type(), j),
                            buf.indices, ValueRange{bi, row, c});
    e.forLoop(hLo, hHi, 1, [&](Value h) {
      // Paged: from token j's row to position c of the same sequence (c <=
      // j), in the copy of the pools.
      SmallVector<Value> from = rowOf(bi, h, j), to = rowOf(bi, h, c);
      for (auto [src, dst] : llvm::zip(buf.keys, buf.keptKeys))
        copyRow(e, src, dst, from, to);
      for (auto [src, dst] : llvm::zip(buf.values, buf.keptValues))
        copyRow(e, src, dst, from, to);
      if (buf.keptScores)
        copyRow(e, buf.scores, buf.keptScores, ValueRange{bi, h, j},
                ValueRange{bi, h, c});
    });
  }

  void fill(Row r, Value n, Value v) {
    e.forLoop(e.idx(0), n, 1, [&](Value j) { store(v, r, j); });
  }
  Value load(Row r, Value j) {
    return memref::LoadOp::create(b, buf.scratch,
                                  ValueRange{set, e.idx(r.slot), j});
  }
  void store(Value v, Row r, Value j) {
    memref::StoreOp::create(b, v, buf.scratch,
                            ValueRange{set, e.idx(r.slot), j});
  }
  /// Element x of key row j, decoded by decodeKeys.
  Value loadKey(Value j, Value x) {
    return memref::LoadOp::create(b, buf.keyRows, ValueRange{set, j, x});
  }
  Value load(Value buffer, ValueRange at) {
    return memref::LoadOp::create(b, buffer, at);
  }
  void store(Value v, Value buffer, ValueRange at) {
    memref::StoreOp::create(b, v, buffer, at);
  }
  Value scale() { return e.f32(1.0 / std::sqrt(static_cast<double>(p.d))); }

  /// K[bi, g] as f32 rows [S, D] (packed rows decoded by the codec).
  void decodeKeys(Value bi, Value g) {
    e.forLoop(e.idx(0), sz.s, 1, [&](Value j) {
      SmallVector<Value> at = rowOf(bi, g, j);
      if (p.keyCodec) {
        p.keyCodec->emitUnpackRow(e, buf.keys, at, buf.keyRows,
                                  ValueRange{set, j});
        return;
      }
      e.forLoop(e.idx(0), e.idx(p.d), 1, [&](Value x) {
        SmallVector<Value> element(at);
        element.push_back(x);
        store(e.toF32(load(buf.keys[0], element)), buf.keyRows,
              ValueRange{set, j, x});
      });
    });
  }

  /// dot(query[bi, h, r, :], key row j) / sqrt(D) in f32.
  Value logit(Value bi, Value h, Value r, Value j) {
    Value dot =
        e.forLoop(e.idx(0), e.idx(p.d), 1, ValueRange{e.f32(0.0)},
                  [&](Value x, ValueRange acc) -> SmallVector<Value> {
                    Value q = e.toF32(load(buf.query, ValueRange{bi, h, r, x}));
                    Value k = loadKey(j, x);
                    return {e.add(acc[0], e.mul(q, k))};
                  })[0];
    return e.mul(dot, scale());
  }

  /// Softmax of `logits[0, len)` in place (max subtracted first).
  void softmax(Row logits, Value len) {
    Value mx = e.forLoop(e.idx(0), len, 1, ValueRange{e.negInf()},
                         [&](Value j, ValueRange acc) -> SmallVector<Value> {
                           return {e.maxf(acc[0], load(logits, j))};
                         })[0];
    Value sum = e.forLoop(e.idx(0), len, 1, ValueRange{e.f32(0.0)},
                          [&](Value j, ValueRange acc) -> SmallVector<Value> {
                            Value x = expF32(e, e.sub(load(logits, j), mx));
                            store(x, logits, j);
                            return {e.add(acc[0], x)};
                          })[0];
    Value inv = arith::DivFOp::create(b, e.f32(1.0), sum);
    e.forLoop(e.idx(0), len, 1,
              [&](Value j) { store(e.mul(load(logits, j), inv), logits, j); });
  }

  /// SnapKV's per-head vote added into score[0, S - w) with weight `wt`:
  /// the causal softmax rows of the last w queries of head h summed over the
  /// rows, then average-pooled (zero padding, divided by the kernel).
  void addWindowVote(Value bi, Value h, Row score, Value prefix, Value wt) {
    Row mass{kMass}, logits{kLogits};
    fill(mass, prefix, e.f32(0.0));
    e.forLoop(e.idx(0), e.idx(p.window), 1, [&](Value i) {
      Value r = e.add(e.sub(sz.sw, e.idx(p.window)), i);
      // Query row i of the window sits at key position S - w + i.
      Value len = e.add(e.add(prefix, i), e.idx(1));
      e.forLoop(e.idx(0), len, 1,
                [&](Value j) { store(logit(bi, h, r, j), logits, j); });
      softmax(logits, len);
      e.forLoop(e.idx(0), prefix, 1, [&](Value j) {
        store(e.add(load(mass, j), load(logits, j)), mass, j);
      });
    });
    int64_t radius = p.kernel / 2;
    Value invKernel = e.f32(1.0 / static_cast<double>(p.kernel));
    e.forLoop(e.idx(0), prefix, 1, [&](Value j) {
      Value pooled = e.f32(0.0);
      for (int64_t t = -radius; t <= radius; ++t) {
        // Index j + t clamped into range, its term zeroed outside.
        Value at = e.add(j, e.idx(t + radius));
        Value inside = arith::AndIOp::create(
            b, e.cmpi(arith::CmpIPredicate::sge, at, e.idx(radius)),
            e.cmpi(arith::CmpIPredicate::slt, at,
                   e.add(prefix, e.idx(radius))));
        Value safe = e.minsi(e.maxsi(e.sub(at, e.idx(radius)), e.idx(0)),
                             e.sub(prefix, e.idx(1)));
        pooled = e.add(pooled, e.select(inside, load(mass, safe), e.f32(0.0)));
      }
      Value vote = e.mul(e.mul(pooled, invKernel), wt);
      store(e.add(load(score, j), vote), score, j);
    });
  }

  /// The reservoir's walk weight of KV head g added into `weight` with
  /// factor `wt`: s0 = the group's attention rows (every query row, every
  /// query head of the group) averaged, s_{t+1} = s_t A (A the causal
  /// softmax attention of the keys among themselves), w = sum_t gamma^t s_t.
  void addWalkWeight(Value bi, Value g, Row weight, Value wt) {
    Row logits{kLogits};
    Value group = e.divui(sz.hq, sz.hkv);
    Row cur{kCur}, next{kNext};
    fill(cur, sz.s, e.f32(0.0));
    Value rows = arith::UIToFPOp::create(
        b, b.getF32Type(),
        arith::IndexCastOp::create(b, b.getI64Type(), e.mul(group, sz.sw)));
    Value invRows = arith::DivFOp::create(b, e.f32(1.0), rows);
    e.forLoop(e.idx(0), group, 1, [&](Value hh) {
      Value h = e.add(e.mul(g, group), hh);
      e.forLoop(e.idx(0), sz.sw, 1, [&](Value r) {
        e.forLoop(e.idx(0), sz.s, 1,
                  [&](Value j) { store(logit(bi, h, r, j), logits, j); });
        softmax(logits, sz.s);
        e.forLoop(e.idx(0), sz.s, 1, [&](Value j) {
          store(e.add(load(cur, j), e.mul(load(logits, j), invRows)), cur, j);
        });
      });
    });
    auto accumulate = [&](Row s, double factor) {
      Value f = e.mul(wt, e.f32(factor));
      e.forLoop(e.idx(0), sz.s, 1, [&](Value j) {
        store(e.add(load(weight, j), e.mul(load(s, j), f)), weight, j);
      });
    };
    accumulate(cur, 1.0);
    double gammaT = 1.0;
    for (int64_t t = 0; t < p.steps; ++t) {
      gammaT *= p.gamma;
      fill(next, sz.s, e.f32(0.0));
      // Key i spreads its mass over the keys it attends to (j <= i).
      e.forLoop(e.idx(0), sz.s, 1, [&](Value i) {
        Value len = e.add(i, e.idx(1));
        e.forLoop(e.idx(0), len, 1, [&](Value j) {
          Value dot = e.forLoop(
              e.idx(0), e.idx(p.d), 1, ValueRange{e.f32(0.0)},
              [&](Value x, ValueRange acc) -> SmallVector<Value> {
                return {e.add(acc[0], e.mul(loadKey(i, x), loadKey(j, x)))};
              })[0];
          store(e.mul(dot, scale()), logits, j);
        });
        softmax(logits, len);
        Value si = load(cur, i);
        e.forLoop(e.idx(0), len, 1, [&](Value j) {
          store(e.add(load(next, j), e.mul(si, load(logits, j))), next, j);
        });
      });
      std::swap(cur, next);
      accumulate(cur, gammaT);
    }
  }

  /// keys[j] for the candidates j in [sinks, hi).
  void emitKeys(Value bi, Value row, Value hLo, Value hHi, Row keys, Value hi) {
    Row score{kScore};
    fill(score, sz.s, e.f32(0.0));
    Type f32 = b.getF32Type();
    auto countOf = [&](Value n) {
      return arith::DivFOp::create(
          b, e.f32(1.0),
          arith::UIToFPOp::create(
              b, f32, arith::IndexCastOp::create(b, b.getI64Type(), n)));
    };
    Value nHeads = e.sub(hHi, hLo);
    switch (p.policy) {
    case EvictPolicy::SinkWindow:
      break;
    case EvictPolicy::H2O: {
      Value wt = countOf(nHeads);
      e.forLoop(hLo, hHi, 1, [&](Value g) {
        e.forLoop(e.idx(0), sz.s, 1, [&](Value j) {
          Value o = load(buf.scores, ValueRange{bi, g, j});
          store(e.add(load(score, j), e.mul(o, wt)), score, j);
        });
      });
      break;
    }
    case EvictPolicy::SnapKV:
    case EvictPolicy::CompressKV: {
      Value prefix = hi; // S - w: the keys before the observation window
      Value group = e.divui(sz.hq, sz.hkv);
      if (p.policy == EvictPolicy::SnapKV) {
        Value wt = countOf(e.mul(nHeads, group));
        e.forLoop(hLo, hHi, 1, [&](Value g) {
          decodeKeys(bi, g);
          e.forLoop(e.idx(0), group, 1, [&](Value hh) {
            addWindowVote(bi, e.add(e.mul(g, group), hh), score, prefix, wt);
          });
        });
      } else {
        Value wt = e.f32(1.0 / static_cast<double>(p.firstK));
        for (int64_t k = 0; k < p.firstK; ++k) {
          Value h = e.idx(p.heads[k]);
          decodeKeys(bi, e.divui(h, group));
          addWindowVote(bi, h, score, prefix, wt);
        }
      }
      break;
    }
    case EvictPolicy::Reservoir: {
      Value wt = countOf(nHeads);
      e.forLoop(hLo, hHi, 1, [&](Value g) {
        decodeKeys(bi, g);
        addWalkWeight(bi, g, score, wt);
      });
      // A-Res keys u^(1/w), compared as log(u) / w; a zero weight never
      // wins (-inf).
      Value z = arith::ConstantOp::create(
          b, b.getI64IntegerAttr(static_cast<int64_t>(p.seed)));
      z = emitFold(e, z, e.idx(p.layer));
      z = emitFold(e, z, e.add(e.mul(bi, perLayerRows()), row));
      z = emitFold(e, z, e.idx(p.step));
      e.forLoop(e.idx(0), sz.s, 1, [&](Value j) {
        Value bits = arith::ShRUIOp::create(
            b, emitFold(e, z, j),
            arith::ConstantOp::create(b, b.getI64IntegerAttr(41)));
        Value u =
            e.mul(e.add(arith::UIToFPOp::create(b, f32, bits), e.f32(0.5)),
                  e.f32(std::ldexp(1.0, -23)));
        Value w = load(score, j);
        Value key = arith::DivFOp::create(b, logF32(e, u), w);
        Value positive = e.cmpf(arith::CmpFPredicate::OGT, w, e.f32(0.0));
        store(e.select(positive, key, e.negInf()), score, j);
      });
      break;
    }
    }
    e.forLoop(e.idx(p.sinks), hi, 1,
              [&](Value j) { store(load(score, j), keys, j); });
  }

  /// Index sets per batch: Hkv per head, 1 per layer.
  Value perLayerRows() { return p.perLayer ? e.idx(1) : sz.hkv; }

  Emitter &e;
  ImplicitLocOpBuilder &b;
  const EvictPlan &p;
  const EvictSizes &sz;
  const EvictBuffers &buf;
  /// The set's row in the scratch buffers.
  Value set;
};

class EvictRows : public OpConversionPattern<EvictOp> {
public:
  EvictRows(const TypeConverter &converter, MLIRContext *ctx, RowRunner runner,
            bool hostChecks)
      : OpConversionPattern(converter, ctx), runner(std::move(runner)),
        hostChecks(hostChecks) {}

  LogicalResult
  matchAndRewrite(EvictOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Emitter e(b);
    EvictPlan plan;
    plan.policy = op.getPolicy();
    plan.perLayer = op.getEffectiveScope() == EvictScope::PerLayer;
    plan.budget = op.getBudget();
    plan.sinks = op.getEffectiveSinks();
    plan.window = op.getEffectiveWindow();
    plan.kernel = op.getKernel().value_or(5);
    plan.heads.assign(op.getHeads().value_or(ArrayRef<int64_t>{}).begin(),
                      op.getHeads().value_or(ArrayRef<int64_t>{}).end());
    plan.firstK = op.getFirstK().value_or(4);
    plan.steps = op.getSteps().value_or(2);
    plan.gamma = op.getGamma() ? op.getGamma()->convertToDouble() : 0.9;
    plan.seed = op.getSeed().value_or(0);
    plan.layer = op.getLayer().value_or(0);
    plan.step = op.getStep().value_or(0);
    plan.paged = op.isPaged();
    plan.pageSize = op.getPageSize().value_or(0);
    auto keyType = cast<ShapedType>(op.getKeys().getType());
    plan.d = keyType.getShape().back();
    if (auto packed = dyn_cast<QTensorType>(keyType)) {
      plan.keyCodec = QuantCodec::lookup(packed);
      if (!plan.keyCodec)
        return rewriter.notifyMatchFailure(op, "no codec for the keys");
    }

    EvictBuffers buf;
    for (Value v : adaptor.getKeys())
      buf.keys.push_back(emitToBuffer(b, b.getLoc(), v));
    for (Value v : adaptor.getValues())
      buf.values.push_back(emitToBuffer(b, b.getLoc(), v));
    if (!adaptor.getQuery().empty())
      buf.query = emitToBuffer(b, b.getLoc(), adaptor.getQuery().front());
    if (!adaptor.getScores().empty())
      buf.scores = emitToBuffer(b, b.getLoc(), adaptor.getScores().front());
    if (plan.paged) {
      buf.table = emitToBuffer(b, b.getLoc(), adaptor.getBlockTable().front());
      buf.lens = emitToBuffer(b, b.getLoc(), adaptor.getKvLens().front());
    }

    EvictSizes sz = sizesOf(e, plan, buf);

    // Outputs: [B, Hkv, n, ...] components; their run-time dims are B, Hkv
    // and n in that order.
    auto allocLike = [&](ShapedType t) -> Value {
      SmallVector<Value> dynamic;
      Value sizes[] = {sz.b, sz.hkv, sz.n};
      for (int64_t d = 0; d < t.getRank(); ++d)
        if (t.isDynamicDim(d))
          dynamic.push_back(d < 3 ? sizes[d] : Value());
      return memref::AllocOp::create(b, memrefOf(t), dynamic);
    };
    auto allocKV = [&](Type t) {
      SmallVector<Value> parts;
      if (auto packed = dyn_cast<QTensorType>(t)) {
        for (const auto &c : packed.getStorageComponents())
          parts.push_back(allocLike(c.type));
      } else {
        parts.push_back(allocLike(cast<ShapedType>(t)));
      }
      return parts;
    };
    auto indicesType = op.getIndices().getType();
    {
      SmallVector<Value> dynamic;
      if (indicesType.isDynamicDim(0))
        dynamic.push_back(sz.b);
      if (indicesType.isDynamicDim(1))
        dynamic.push_back(sz.hkv);
      if (indicesType.isDynamicDim(2))
        dynamic.push_back(sz.n);
      buf.indices = memref::AllocOp::create(b, memrefOf(indicesType), dynamic);
    }
    if (plan.paged) {
      // The compacted pools start as copies of the input pools.
      auto allocPool = [&](ArrayRef<Value> inputs) {
        SmallVector<Value> parts;
        for (Value in : inputs) {
          auto t = cast<MemRefType>(in.getType());
          SmallVector<Value> dynamic;
          for (int64_t d = 0; d < t.getRank(); ++d)
            if (t.isDynamicDim(d))
              dynamic.push_back(memref::DimOp::create(b, in, d));
          parts.push_back(memref::AllocOp::create(
              b, MemRefType::get(t.getShape(), t.getElementType()), dynamic));
        }
        return parts;
      };
      buf.keptKeys = allocPool(buf.keys);
      buf.keptValues = allocPool(buf.values);
      buf.newLens = memref::AllocOp::create(
          b, memrefOf(op.getNewLens().getType()),
          op.getNewLens().getType().isDynamicDim(0) ? ValueRange{sz.b}
                                                    : ValueRange{});
      emitPoolCopy(b, op, buf, sz);
    } else {
      buf.keptKeys = allocKV(op.getKeptKeys().getType());
      buf.keptValues = allocKV(op.getKeptValues().getType());
    }
    if (Value keptScores = op.getKeptScores())
      buf.keptScores = allocLike(cast<ShapedType>(keptScores.getType()));

    // Scratch per index set (B x Hkv, or B per layer), in global memory so
    // that a GPU thread can hold a set of run-time length.
    {
      SmallVector<int64_t> keyShape = setShape(plan, buf);
      int64_t sets = plan.perLayer ? keyShape[0] : keyShape[0] * keyShape[1];
      if (ShapedType::isDynamic(keyShape[0]) ||
          (!plan.perLayer && ShapedType::isDynamic(keyShape[1])))
        sets = ShapedType::kDynamic;
      Value setsV = plan.perLayer ? sz.b : e.mul(sz.b, sz.hkv);
      int64_t s = keyShape[2];
      auto alloc = [&](ArrayRef<int64_t> shape) {
        SmallVector<Value> dynamic;
        if (ShapedType::isDynamic(shape[0]))
          dynamic.push_back(setsV);
        if (ShapedType::isDynamic(shape[2]))
          dynamic.push_back(sz.s);
        return memref::AllocOp::create(
            b, MemRefType::get(shape, b.getF32Type()), dynamic);
      };
      if (plan.policy != EvictPolicy::SinkWindow)
        buf.scratch = alloc({sets, kScratchRows, s});
      if (buf.query)
        buf.keyRows = memref::AllocOp::create(
            b, MemRefType::get({sets, s, plan.d}, b.getF32Type()), [&] {
              SmallVector<Value> dynamic;
              if (ShapedType::isDynamic(sets))
                dynamic.push_back(setsV);
              if (ShapedType::isDynamic(s))
                dynamic.push_back(sz.s);
              return dynamic;
            }());
    }

    // Run-time query rows must cover the observation window.
    if (hostChecks && buf.query &&
        cast<MemRefType>(buf.query.getType()).isDynamicDim(2) &&
        (plan.policy == EvictPolicy::SnapKV ||
         plan.policy == EvictPolicy::CompressKV)) {
      RuntimeCheck check{
          e.cmpi(arith::CmpIPredicate::sge, sz.sw, e.idx(plan.window)),
          "query rows must cover the observation window", sz.sw,
          e.idx(plan.window)};
      Value ok = emitRuntimeChecks(e, op, {check});
      e.ifThen(ok, [&] { emitSets(b, op, plan, sz, buf); });
    } else {
      emitSets(b, op, plan, sz, buf);
    }

    SmallVector<SmallVector<Value>> results;
    results.push_back({emitToTensor(b, b.getLoc(), buf.indices)});
    for (const SmallVector<Value> *parts : {&buf.keptKeys, &buf.keptValues}) {
      SmallVector<Value> tensors;
      for (Value part : *parts)
        tensors.push_back(emitToTensor(b, b.getLoc(), part));
      results.push_back(tensors);
    }
    if (buf.keptScores)
      results.push_back({emitToTensor(b, b.getLoc(), buf.keptScores)});
    if (buf.newLens)
      results.push_back({emitToTensor(b, b.getLoc(), buf.newLens)});
    rewriter.replaceOpWithMultiple(op, std::move(results));
    return success();
  }

private:
  /// [B, Hkv, S] as static sizes: the dense K's, or (paged) the table's
  /// batch, the pools' head count and the table's capacity.
  static SmallVector<int64_t> setShape(const EvictPlan &plan,
                                       const EvictBuffers &buf) {
    auto keyShape = cast<MemRefType>(buf.keys[0].getType()).getShape();
    if (!plan.paged)
      return {keyShape[0], keyShape[1], keyShape[2]};
    auto table = cast<MemRefType>(buf.table.getType()).getShape();
    int64_t cap = ShapedType::isDynamic(table[1]) ? ShapedType::kDynamic
                                                  : table[1] * plan.pageSize;
    return {table[0], keyShape[2], cap};
  }

  /// Paged: every storage row of the input pools copied into the output
  /// pools (the rows no set moves stay as they were), a row of `runner` per
  /// (page, slot, head), before the sets run.
  void emitPoolCopy(ImplicitLocOpBuilder &b, Operation *op,
                    const EvictBuffers &buf, const EvictSizes &sz) const {
    SmallVector<Value> operands(buf.keys);
    operands.append(buf.values);
    operands.append(buf.keptKeys);
    operands.append(buf.keptValues);
    auto poolShape = cast<MemRefType>(buf.keys[0].getType()).getShape();
    SmallVector<int64_t> leadShape(poolShape.take_front(3));
    Value slots = ShapedType::isDynamic(poolShape[1])
                      ? memref::DimOp::create(b, buf.keys[0], 1).getResult()
                      : Emitter(b).idx(poolShape[1]);
    SmallVector<Value> leadSizes{sz.pages, slots, sz.hkv};
    size_t parts = buf.keys.size() + buf.values.size();
    runner(b, op, "tessera_evict_copy", leadShape, leadSizes, /*rowLen=*/1,
           operands, [&](Emitter &e, ValueRange lead, ValueRange args, Value) {
             for (size_t i = 0; i < parts; ++i)
               copyRow(e, args[i], args[parts + i], lead, lead);
           });
  }

  /// The index sets through the target's runner: one row per set.
  void emitSets(ImplicitLocOpBuilder &b, Operation *op, const EvictPlan &plan,
                const EvictSizes &sz, const EvictBuffers &buf) const {
    SmallVector<int64_t> keyShape = setShape(plan, buf);
    SmallVector<int64_t> leadShape{keyShape[0]};
    SmallVector<Value> leadSizes{sz.b};
    if (!plan.perLayer) {
      leadShape.push_back(keyShape[1]);
      leadSizes.push_back(sz.hkv);
    }
    // A run-time S makes the operands' views run-time too: the runner passes
    // sizes (and rebuilds views in a kernel) only for a run-time lead, so say
    // the batch is one then (its size still travels as the value it is).
    // Paged: any run-time dim of an operand does the same.
    auto dynamicOperand = [](Value v) {
      return !cast<MemRefType>(v.getType()).hasStaticShape();
    };
    if (ShapedType::isDynamic(keyShape[2]) ||
        (plan.paged && llvm::any_of(buf.flatten(), dynamicOperand)))
      leadShape[0] = ShapedType::kDynamic;
    runner(b, op, "tessera_evict", leadShape, leadSizes, /*rowLen=*/1,
           buf.flatten(),
           [&](Emitter &e, ValueRange lead, ValueRange args, Value) {
             EvictBuffers in = buf.rebuild(args);
             EvictSizes local = sizesOf(e, plan, in);
             if (plan.paged) {
               // This sequence's length, clamped into [0, capacity] (and 0
               // for an empty pool: no page to read).
               ImplicitLocOpBuilder &lb = e.builder();
               Value len = arith::IndexCastOp::create(
                   lb, lb.getIndexType(),
                   memref::LoadOp::create(lb, in.lens, ValueRange{lead[0]}));
               len = e.minsi(e.maxsi(len, e.idx(0)), local.s);
               Value noPages =
                   e.cmpi(arith::CmpIPredicate::eq, local.pages, e.idx(0));
               local.s = e.select(noPages, e.idx(0), len);
             }
             if (plan.perLayer) {
               EvictLowering(e, plan, local, in, lead[0])
                   .emitSet(lead[0], e.idx(0), e.idx(0), local.hkv);
               return;
             }
             Value set = e.add(e.mul(lead[0], local.hkv), lead[1]);
             EvictLowering(e, plan, local, in, set)
                 .emitSet(lead[0], lead[1], lead[1], e.add(lead[1], e.idx(1)));
           });
  }

  RowRunner runner;
  bool hostChecks;
};

} // namespace

void mlir::tessera::populateEvictPatterns(const TypeConverter &converter,
                                          RewritePatternSet &patterns,
                                          RowRunner runner, bool hostChecks) {
  patterns.add<EvictRows>(converter, patterns.getContext(), std::move(runner),
                          hostChecks);
}

void mlir::tessera::populateEvictToLoopsPatterns(const TypeConverter &converter,
                                                 RewritePatternSet &patterns) {
  RowRunner cpuSets = [](ImplicitLocOpBuilder &b, Operation *, StringRef,
                         ArrayRef<int64_t>, ValueRange leadSizes, int64_t,
                         ArrayRef<Value> operands, RowBody body) {
    Emitter e(b);
    e.parallelRows(leadSizes,
                   [&](ValueRange lead) { body(e, lead, operands, Value()); });
  };
  populateEvictPatterns(converter, patterns, cpuSets, /*hostChecks=*/true);
}

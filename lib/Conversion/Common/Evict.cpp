//===- Evict.cpp - tessera.evict as loops over (batch, KV head) -----------===//
//
// Each index set (one per batch and KV head, or per batch for per-layer scope)
// runs the same three phases, whatever the policy:
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
// needs no sort and no scratch beyond the keys. Scratch rows are memref.alloc
// of run-time length S; the CPU pipeline's buffer-deallocation pass frees
// them.
//
//===----------------------------------------------------------------------===//
#include "tessera/Conversion/Evict.h"
#include "tessera/Conversion/EmitUtils.h"
#include "tessera/Conversion/QuantCodec.h"

#include "Tessera/TesseraOps.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Math/IR/Math.h"

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
};

/// Sizes read off the buffers, as index values.
struct EvictSizes {
  Value b, hkv, s, n, hq, sw;
};

/// What the emitted code reads and writes.
struct EvictBuffers {
  SmallVector<Value> keys, values, keptKeys, keptValues;
  Value query, scores, indices, keptScores;
};

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

class EvictLowering {
public:
  EvictLowering(Emitter &e, const EvictPlan &plan, const EvictSizes &sz,
                const EvictBuffers &buf)
      : e(e), b(e.builder()), p(plan), sz(sz), buf(buf) {}

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
    Value keys;
    if (scored) {
      keys = alloc1(sz.s);
      e.ifThen(arith::XOrIOp::create(b, full, e.constLike(full.getType(), 1)),
               [&] { emitKeys(bi, row, hLo, hHi, keys, hi); });
    }

    bool laterWins = p.policy == EvictPolicy::H2O;
    Value c0 = e.idx(0);
    e.forLoop(
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
            Value kj = memref::LoadOp::create(
                b, keys,
                ValueRange{e.maxsi(e.minsi(j, e.sub(sz.s, e.idx(1))), c0)});
            Value above = e.forLoop(
                lo, ub, 1, ValueRange{c0},
                [&](Value i, ValueRange acc) -> SmallVector<Value> {
                  Value ki = memref::LoadOp::create(b, keys, ValueRange{i});
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
        });
  }

private:
  /// Token j kept in slot c: its index, and its rows of K, V (every storage
  /// component) and the running scores, for each KV head of the set.
  void emitKeep(Value bi, Value row, Value hLo, Value hHi, Value j, Value c) {
    memref::StoreOp::create(b, arith::IndexCastOp::create(b, b.getI64Type(), j),
                            buf.indices, ValueRange{bi, row, c});
    e.forLoop(hLo, hHi, 1, [&](Value h) {
      for (auto [src, dst] : llvm::zip(buf.keys, buf.keptKeys))
        copyRow(src, dst, bi, h, j, c);
      for (auto [src, dst] : llvm::zip(buf.values, buf.keptValues))
        copyRow(src, dst, bi, h, j, c);
      if (buf.keptScores)
        copyRow(buf.scores, buf.keptScores, bi, h, j, c);
    });
  }

  /// dst[bi, h, c, ...] = src[bi, h, j, ...] over the static inner dims.
  void copyRow(Value src, Value dst, Value bi, Value h, Value j, Value c) {
    ArrayRef<int64_t> shape = cast<MemRefType>(src.getType()).getShape();
    SmallVector<Value> inner;
    std::function<void(size_t)> walk = [&](size_t dim) {
      if (dim == shape.size()) {
        SmallVector<Value> from{bi, h, j}, to{bi, h, c};
        from.append(inner);
        to.append(inner);
        memref::StoreOp::create(b, memref::LoadOp::create(b, src, from), dst,
                                to);
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

  Value alloc1(Value n) {
    return memref::AllocOp::create(
        b, MemRefType::get({ShapedType::kDynamic}, b.getF32Type()),
        ValueRange{n});
  }
  Value alloc2(Value n, int64_t d) {
    return memref::AllocOp::create(
        b, MemRefType::get({ShapedType::kDynamic, d}, b.getF32Type()),
        ValueRange{n});
  }
  void fill(Value buffer, Value n, Value v) {
    e.forLoop(e.idx(0), n, 1, [&](Value j) {
      memref::StoreOp::create(b, v, buffer, ValueRange{j});
    });
  }
  Value load(Value buffer, ValueRange at) {
    return memref::LoadOp::create(b, buffer, at);
  }
  void store(Value v, Value buffer, ValueRange at) {
    memref::StoreOp::create(b, v, buffer, at);
  }
  Value scale() { return e.f32(1.0 / std::sqrt(static_cast<double>(p.d))); }

  /// K[bi, g] as f32 rows [S, D] (packed rows decoded by the codec).
  void decodeKeys(Value bi, Value g, Value kf) {
    e.forLoop(e.idx(0), sz.s, 1, [&](Value j) {
      if (p.keyCodec) {
        p.keyCodec->emitUnpackRow(e, buf.keys, ValueRange{bi, g, j}, kf,
                                  ValueRange{j});
        return;
      }
      e.forLoop(e.idx(0), e.idx(p.d), 1, [&](Value x) {
        store(e.toF32(load(buf.keys[0], ValueRange{bi, g, j, x})), kf,
              ValueRange{j, x});
      });
    });
  }

  /// dot(query[bi, h, r, :], kf[j, :]) / sqrt(D) in f32.
  Value logit(Value bi, Value h, Value r, Value kf, Value j) {
    Value dot =
        e.forLoop(e.idx(0), e.idx(p.d), 1, ValueRange{e.f32(0.0)},
                  [&](Value x, ValueRange acc) -> SmallVector<Value> {
                    Value q = e.toF32(load(buf.query, ValueRange{bi, h, r, x}));
                    Value k = load(kf, ValueRange{j, x});
                    return {e.add(acc[0], e.mul(q, k))};
                  })[0];
    return e.mul(dot, scale());
  }

  /// Softmax of `logits[0, len)` in place (max subtracted first).
  void softmax(Value logits, Value len) {
    Value mx = e.forLoop(e.idx(0), len, 1, ValueRange{e.negInf()},
                         [&](Value j, ValueRange acc) -> SmallVector<Value> {
                           return {e.maxf(acc[0], load(logits, ValueRange{j}))};
                         })[0];
    Value sum = e.forLoop(e.idx(0), len, 1, ValueRange{e.f32(0.0)},
                          [&](Value j, ValueRange acc) -> SmallVector<Value> {
                            Value x = math::ExpOp::create(
                                b, e.sub(load(logits, ValueRange{j}), mx));
                            store(x, logits, ValueRange{j});
                            return {e.add(acc[0], x)};
                          })[0];
    Value inv = arith::DivFOp::create(b, e.f32(1.0), sum);
    e.forLoop(e.idx(0), len, 1, [&](Value j) {
      store(e.mul(load(logits, ValueRange{j}), inv), logits, ValueRange{j});
    });
  }

  /// SnapKV's per-head vote added into score[0, S - w) with weight `wt`:
  /// the causal softmax rows of the last w queries of head h summed over the
  /// rows, then average-pooled (zero padding, divided by the kernel).
  void addWindowVote(Value bi, Value h, Value kf, Value score, Value prefix,
                     Value mass, Value logits, Value wt) {
    fill(mass, prefix, e.f32(0.0));
    e.forLoop(e.idx(0), e.idx(p.window), 1, [&](Value i) {
      Value r = e.add(e.sub(sz.sw, e.idx(p.window)), i);
      // Query row i of the window sits at key position S - w + i.
      Value len = e.add(e.add(prefix, i), e.idx(1));
      e.forLoop(e.idx(0), len, 1, [&](Value j) {
        store(logit(bi, h, r, kf, j), logits, ValueRange{j});
      });
      softmax(logits, len);
      e.forLoop(e.idx(0), prefix, 1, [&](Value j) {
        store(e.add(load(mass, ValueRange{j}), load(logits, ValueRange{j})),
              mass, ValueRange{j});
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
        pooled = e.add(
            pooled, e.select(inside, load(mass, ValueRange{safe}), e.f32(0.0)));
      }
      Value vote = e.mul(e.mul(pooled, invKernel), wt);
      store(e.add(load(score, ValueRange{j}), vote), score, ValueRange{j});
    });
  }

  /// The reservoir's walk weight of KV head g added into `weight` with
  /// factor `wt`: s0 = the group's attention rows (every query row, every
  /// query head of the group) averaged, s_{t+1} = s_t A (A the causal
  /// softmax attention of the keys among themselves), w = sum_t gamma^t s_t.
  void addWalkWeight(Value bi, Value g, Value kf, Value weight, Value wt,
                     Value logits) {
    Value group = e.divui(sz.hq, sz.hkv);
    Value cur = alloc1(sz.s), next = alloc1(sz.s);
    fill(cur, sz.s, e.f32(0.0));
    Value rows = arith::UIToFPOp::create(
        b, b.getF32Type(),
        arith::IndexCastOp::create(b, b.getI64Type(), e.mul(group, sz.sw)));
    Value invRows = arith::DivFOp::create(b, e.f32(1.0), rows);
    e.forLoop(e.idx(0), group, 1, [&](Value hh) {
      Value h = e.add(e.mul(g, group), hh);
      e.forLoop(e.idx(0), sz.sw, 1, [&](Value r) {
        e.forLoop(e.idx(0), sz.s, 1, [&](Value j) {
          store(logit(bi, h, r, kf, j), logits, ValueRange{j});
        });
        softmax(logits, sz.s);
        e.forLoop(e.idx(0), sz.s, 1, [&](Value j) {
          store(e.add(load(cur, ValueRange{j}),
                      e.mul(load(logits, ValueRange{j}), invRows)),
                cur, ValueRange{j});
        });
      });
    });
    auto accumulate = [&](Value s, double factor) {
      Value f = e.mul(wt, e.f32(factor));
      e.forLoop(e.idx(0), sz.s, 1, [&](Value j) {
        store(e.add(load(weight, ValueRange{j}),
                    e.mul(load(s, ValueRange{j}), f)),
              weight, ValueRange{j});
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
                return {e.add(acc[0], e.mul(load(kf, ValueRange{i, x}),
                                            load(kf, ValueRange{j, x})))};
              })[0];
          store(e.mul(dot, scale()), logits, ValueRange{j});
        });
        softmax(logits, len);
        Value si = load(cur, ValueRange{i});
        e.forLoop(e.idx(0), len, 1, [&](Value j) {
          store(e.add(load(next, ValueRange{j}),
                      e.mul(si, load(logits, ValueRange{j}))),
                next, ValueRange{j});
        });
      });
      std::swap(cur, next);
      accumulate(cur, gammaT);
    }
  }

  /// keys[j] for the candidates j in [sinks, hi).
  void emitKeys(Value bi, Value row, Value hLo, Value hHi, Value keys,
                Value hi) {
    Value score = alloc1(sz.s);
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
          store(e.add(load(score, ValueRange{j}), e.mul(o, wt)), score,
                ValueRange{j});
        });
      });
      break;
    }
    case EvictPolicy::SnapKV:
    case EvictPolicy::CompressKV: {
      Value prefix = hi; // S - w: the keys before the observation window
      Value kf = alloc2(sz.s, p.d), mass = alloc1(sz.s), logits = alloc1(sz.s);
      Value group = e.divui(sz.hq, sz.hkv);
      if (p.policy == EvictPolicy::SnapKV) {
        Value wt = countOf(e.mul(nHeads, group));
        e.forLoop(hLo, hHi, 1, [&](Value g) {
          decodeKeys(bi, g, kf);
          e.forLoop(e.idx(0), group, 1, [&](Value hh) {
            addWindowVote(bi, e.add(e.mul(g, group), hh), kf, score, prefix,
                          mass, logits, wt);
          });
        });
      } else {
        Value wt = e.f32(1.0 / static_cast<double>(p.firstK));
        for (int64_t k = 0; k < p.firstK; ++k) {
          Value h = e.idx(p.heads[k]);
          decodeKeys(bi, e.divui(h, group), kf);
          addWindowVote(bi, h, kf, score, prefix, mass, logits, wt);
        }
      }
      break;
    }
    case EvictPolicy::Reservoir: {
      Value kf = alloc2(sz.s, p.d), logits = alloc1(sz.s);
      Value wt = countOf(nHeads);
      e.forLoop(hLo, hHi, 1, [&](Value g) {
        decodeKeys(bi, g, kf);
        addWalkWeight(bi, g, kf, score, wt, logits);
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
        Value w = load(score, ValueRange{j});
        Value key = arith::DivFOp::create(b, math::LogOp::create(b, u), w);
        Value positive = e.cmpf(arith::CmpFPredicate::OGT, w, e.f32(0.0));
        store(e.select(positive, key, e.negInf()), score, ValueRange{j});
      });
      break;
    }
    }
    e.forLoop(e.idx(p.sinks), hi, 1, [&](Value j) {
      store(load(score, ValueRange{j}), keys, ValueRange{j});
    });
  }

  /// Index sets per batch: Hkv per head, 1 per layer.
  Value perLayerRows() { return p.perLayer ? e.idx(1) : sz.hkv; }

  Emitter &e;
  ImplicitLocOpBuilder &b;
  const EvictPlan &p;
  const EvictSizes &sz;
  const EvictBuffers &buf;
};

class EvictToLoops : public OpConversionPattern<EvictOp> {
public:
  using OpConversionPattern::OpConversionPattern;

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

    EvictSizes sz;
    auto dim = [&](Value buffer, int64_t d) -> Value {
      int64_t size = cast<MemRefType>(buffer.getType()).getDimSize(d);
      if (!ShapedType::isDynamic(size))
        return e.idx(size);
      return memref::DimOp::create(b, buffer, d);
    };
    sz.b = dim(buf.keys[0], 0);
    sz.hkv = dim(buf.keys[0], 1);
    sz.s = dim(buf.keys[0], 2);
    sz.n = e.minsi(sz.s, e.idx(plan.budget));
    sz.hq = buf.query ? dim(buf.query, 1) : sz.hkv;
    sz.sw = buf.query ? dim(buf.query, 2) : e.idx(0);

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
    buf.keptKeys = allocKV(op.getKeptKeys().getType());
    buf.keptValues = allocKV(op.getKeptValues().getType());
    if (Value keptScores = op.getKeptScores())
      buf.keptScores = allocLike(cast<ShapedType>(keptScores.getType()));

    // Run-time query rows must cover the observation window.
    if (buf.query && cast<MemRefType>(buf.query.getType()).isDynamicDim(2) &&
        (plan.policy == EvictPolicy::SnapKV ||
         plan.policy == EvictPolicy::CompressKV)) {
      RuntimeCheck check{
          e.cmpi(arith::CmpIPredicate::sge, sz.sw, e.idx(plan.window)),
          "query rows must cover the observation window", sz.sw,
          e.idx(plan.window)};
      Value ok = emitRuntimeChecks(e, op, {check});
      e.ifThen(ok, [&] { emitSets(e, plan, sz, buf); });
    } else {
      emitSets(e, plan, sz, buf);
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
    rewriter.replaceOpWithMultiple(op, std::move(results));
    return success();
  }

private:
  static void emitSets(Emitter &e, const EvictPlan &plan, const EvictSizes &sz,
                       const EvictBuffers &buf) {
    EvictLowering lowering(e, plan, sz, buf);
    if (plan.perLayer) {
      e.parallelRows(ValueRange{sz.b}, [&](ValueRange lead) {
        lowering.emitSet(lead[0], e.idx(0), e.idx(0), sz.hkv);
      });
      return;
    }
    e.parallelRows(ValueRange{sz.b, sz.hkv}, [&](ValueRange lead) {
      lowering.emitSet(lead[0], lead[1], lead[1], e.add(lead[1], e.idx(1)));
    });
  }
};

} // namespace

void mlir::tessera::populateEvictToLoopsPatterns(const TypeConverter &converter,
                                                 RewritePatternSet &patterns) {
  patterns.add<EvictToLoops>(converter, patterns.getContext());
}

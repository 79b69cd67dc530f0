//===- BlockSelect.cpp - tessera.block_select as row phases ---------------===//
//
// Four phases, each a RowRunner call (an scf.parallel on the CPU, a thread per
// row on the GPU):
//   1. pool K:   a row per (b, kv head, key block): max/min/avg per channel of
//                the block's keys (projected by Wk when given) -> kpool.
//   2. score:    a row per (b, kv head, query block): Q averaged over the GQA
//                group and the block's rows (projected by Wq), the visible
//                blocks' logits, their softmax -> scores, then the top_k /
//                top-p prefix in descending score order (ties: lower index
//                first). Without a layer cap the forced blocks and the count
//                follow in the same row.
//   3. cap:      (dual top-p) a row per batch element: the prefix of the
//                layer's candidates reaching layer_top_p of its mass.
//   4. force:    (dual top-p) the diagonal and sink blocks, and the counts.
// Both selections find their prefix by bisection on the scores' f32 bits
// (selectPrefix: O(n) passes, no sort, no scratch). exp is written in arith
// ops (no libm/libdevice call on either target), so the GPU's scores are the
// CPU's.
//
//===----------------------------------------------------------------------===//
#include "tessera/Conversion/BlockSelect.h"
#include "tessera/Conversion/QuantCodec.h"

#include "Tessera/TesseraOps.h"

#include <cmath>

using namespace mlir;
using namespace mlir::tessera;

LogicalResult mlir::tessera::checkBlockSelectLowerable(Operation *op) {
  auto select = cast<BlockSelectOp>(op);
  auto q = select.getQuery().getType();
  auto k = cast<ShapedType>(select.getKey().getType());
  int64_t headDim = select.isPaged() ? 2 : 1;
  for (auto [what, dim] :
       {std::pair<StringRef, int64_t>{"query head count", q.getDimSize(1)},
        {"key head count", k.getDimSize(headDim)},
        {"head dim", q.getDimSize(3)},
        {"key head dim", k.getDimSize(3)}})
    if (ShapedType::isDynamic(dim))
      return op->emitOpError()
             << "needs a static " << what
             << " to be lowered (batch, Sq and Skv may be run-time sizes)";
  for (Value w : {select.getQueryProj(), select.getKeyProj()})
    if (w && !cast<ShapedType>(w.getType()).hasStaticShape())
      return op->emitOpError()
             << "needs static projection shapes to be lowered; got "
             << w.getType();
  if (auto packed = dyn_cast<QTensorType>(k))
    if (failed(QuantCodec::get(packed, [&] { return op->emitOpError(); })))
      return failure();
  if (select.isPaged() &&
      cast<ShapedType>(select.getBlockTable().getType()).isDynamicDim(1))
    return op->emitOpError()
           << "needs a static block table width (max_pages) to be lowered: "
              "it sizes the mask's key-block grid";
  for (Value r : op->getResults()) {
    auto t = cast<ShapedType>(r.getType());
    if (t.isDynamicDim(1))
      return op->emitOpError()
             << "needs a static head count in its results to be lowered; got "
             << t;
  }
  return success();
}

namespace {

/// What every phase needs to know about the op, all static.
struct Config {
  int64_t hq, hkv, d, width; // width: the scored vectors' (P, or D)
  int64_t blockQ, blockK, sinks;
  BlockPool pool;
  bool causal, proj;
  bool paged = false;   // K is a page pool read through a block table
  int64_t pageSize = 0; // its page size
  const QuantCodec *codec = nullptr; // K's codec when K is packed
  std::optional<int64_t> topK;
  double topP = 1.0;
  std::optional<double> layerP;
  double scale;
};

SmallVector<Value> cat(ValueRange a, ValueRange b) {
  SmallVector<Value> out(a.begin(), a.end());
  out.append(b.begin(), b.end());
  return out;
}

Value dimOf(ImplicitLocOpBuilder &b, Value buffer, int64_t d) {
  auto t = cast<MemRefType>(buffer.getType());
  if (!t.isDynamicDim(d))
    return arith::ConstantIndexOp::create(b, t.getDimSize(d));
  return memref::DimOp::create(b, buffer, d);
}

Value indexToF32(ImplicitLocOpBuilder &b, Value v) {
  Value i = arith::IndexCastOp::create(b, b.getI64Type(), v);
  return arith::SIToFPOp::create(b, b.getF32Type(), i);
}

/// exp(x) for an f32 x <= 88 in arith ops: x = n ln2 + r (Cody-Waite, |r| <=
/// ln2 / 2), a degree-7 Taylor polynomial for e^r (relative error < 2e-8,
/// below f32's), times 2^n built from its exponent bits; 0 below -87 (and at
/// -inf).
Value expF32(Emitter &e, Value x) {
  ImplicitLocOpBuilder &b = e.builder();
  Value tiny = e.cmpf(arith::CmpFPredicate::OLT, x, e.f32(-87.0));
  Value xc = arith::MinimumFOp::create(b, e.maxf(x, e.f32(-87.0)), e.f32(88.0));
  Value n = e.roundF32(e.mul(xc, e.f32(1.4426950408889634)));
  Value r = e.sub(e.sub(xc, e.mul(n, e.f32(0.693145751953125))),
                  e.mul(n, e.f32(1.428606765330187e-06)));
  Value p = e.f32(1.0 / 5040.0);
  for (double c :
       {1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0})
    p = e.add(e.mul(p, r), e.f32(c));
  Value ni = arith::FPToSIOp::create(b, b.getI32Type(), n);
  Value bits = arith::ShLIOp::create(b, e.add(ni, e.i32(127)), e.i32(23));
  Value scaled = e.mul(p, arith::BitcastOp::create(b, b.getF32Type(), bits));
  return e.select(tiny, e.f32(0.0), scaled);
}

/// The row bodies, over the phase's operands as the body sees them.
class Rows {
public:
  Rows(Emitter &e, const Config &c) : e(e), b(e.builder()), c(c) {}

  /// Where K's rows are: the K operand's buffers (one, or the storage
  /// components of a packed K) and, for a paged K, the block table and the
  /// lengths.
  struct Keys {
    ValueRange parts;
    Value table, lens;
  };

  /// The number of keys of batch element `bi`: Skv, or (paged) kv_lens[bi]
  /// clamped into [0, max_pages * page_size].
  Value seqLen(const Keys &k, Value bi) {
    if (!c.paged)
      return dimOf(b, k.parts.front(), 2);
    Value len = arith::IndexCastOp::create(
        b, b.getIndexType(), memref::LoadOp::create(b, k.lens, ValueRange{bi}));
    Value cap = e.mul(dimOf(b, k.table, 1), e.idx(c.pageSize));
    return e.minsi(e.maxsi(len, e.idx(0)), cap);
  }

  /// The storage indices of key `t` of (bi, h): [bi, h, t], or (paged) the
  /// page of the table entry (clamped into the pool) and the slot.
  SmallVector<Value> keyLead(const Keys &k, Value bi, Value h, Value t) {
    if (!c.paged)
      return {bi, h, t};
    Value entry = arith::IndexCastOp::create(
        b, b.getIndexType(),
        memref::LoadOp::create(b, k.table,
                               ValueRange{bi, e.divui(t, e.idx(c.pageSize))}));
    Value pages = dimOf(b, k.parts.front(), 0);
    Value page = e.minsi(e.maxsi(entry, e.idx(0)), e.sub(pages, e.idx(1)));
    return {page, e.remui(t, e.idx(c.pageSize)), h};
  }

  /// Phase 1: the pooled (and projected) key of block `kb` of (bi, h), into
  /// `kpool` [B, Hkv, KB, width]. `row` [4D + c*D]: the key being read at
  /// [0, D) (decoded there when K is packed), the running max, min and sum
  /// per channel at [D, 4D), the pool at [4D, 4D + c*D). A block past the
  /// sequence's end pools nothing (its logit is never used).
  void poolKeys(const Keys &k, Value wk, Value kpool, Value bi, Value h,
                Value kb, Value row) {
    Value skv = seqLen(k, bi);
    Value start = e.mul(kb, e.idx(c.blockK));
    Value end = e.maxsi(e.minsi(e.add(start, e.idx(c.blockK)), skv), start);
    Value inv = arith::DivFOp::create(
        b, e.f32(1.0), indexToF32(b, e.maxsi(e.sub(end, start), e.idx(1))));
    bool all = c.pool == BlockPool::MaxMinAvg;
    double inf = std::numeric_limits<double>::infinity();
    auto at = [&](int64_t off, Value ch) {
      return SmallVector<Value, 1>{e.add(ch, e.idx(off))};
    };
    auto accumulate = [&](ValueRange acc, Value x) -> SmallVector<Value> {
      return {e.maxf(acc[0], x), arith::MinimumFOp::create(b, acc[1], x),
              e.add(acc[2], x)};
    };
    if (!c.codec) {
      // Plain keys: a channel at a time, the running max/min/sum in
      // registers, stored once.
      e.forLoop(e.idx(0), e.idx(c.d), 1, [&](Value ch) {
        SmallVector<Value> acc = e.forLoop(
            start, end, 1, ValueRange{e.f32(-inf), e.f32(inf), e.f32(0.0)},
            [&](Value t, ValueRange s) -> SmallVector<Value> {
              SmallVector<Value> elt = keyLead(k, bi, h, t);
              elt.push_back(ch);
              return accumulate(
                  s, e.toF32(memref::LoadOp::create(b, k.parts.front(), elt)));
            });
        for (int64_t i = 0; i < 3; ++i)
          memref::StoreOp::create(b, acc[i], row, at((i + 1) * c.d, ch));
      });
    } else {
      // Packed keys: a row at a time, decoded into row[0, D), the running
      // max/min/sum per channel in row[D, 4D).
      e.forLoop(e.idx(0), e.idx(c.d), 1, [&](Value ch) {
        memref::StoreOp::create(b, e.f32(-inf), row, at(c.d, ch));
        memref::StoreOp::create(b, e.f32(inf), row, at(2 * c.d, ch));
        memref::StoreOp::create(b, e.f32(0.0), row, at(3 * c.d, ch));
      });
      e.forLoop(start, end, 1, [&](Value t) {
        c.codec->emitUnpackRow(e, k.parts, keyLead(k, bi, h, t), row, {});
        e.forLoop(e.idx(0), e.idx(c.d), 1, [&](Value ch) {
          Value x = memref::LoadOp::create(b, row, ValueRange{ch});
          SmallVector<Value> acc;
          for (int64_t i = 1; i <= 3; ++i)
            acc.push_back(memref::LoadOp::create(b, row, at(i * c.d, ch)));
          acc = accumulate(acc, x);
          for (int64_t i = 0; i < 3; ++i)
            memref::StoreOp::create(b, acc[i], row, at((i + 1) * c.d, ch));
        });
      });
    }
    int64_t poolOff = 4 * c.d;
    e.forLoop(e.idx(0), e.idx(c.d), 1, [&](Value ch) {
      Value mx = memref::LoadOp::create(b, row, at(c.d, ch));
      Value mn = memref::LoadOp::create(b, row, at(2 * c.d, ch));
      Value avg = e.mul(memref::LoadOp::create(b, row, at(3 * c.d, ch)), inv);
      if (all) {
        memref::StoreOp::create(b, mx, row, at(poolOff, ch));
        memref::StoreOp::create(b, mn, row, at(poolOff + c.d, ch));
        memref::StoreOp::create(b, avg, row, at(poolOff + 2 * c.d, ch));
        return;
      }
      Value v = c.pool == BlockPool::Max   ? mx
                : c.pool == BlockPool::Min ? mn
                                           : avg;
      memref::StoreOp::create(b, v, row, at(poolOff, ch));
    });
    int64_t len = all ? 3 * c.d : c.d;
    if (!wk) {
      e.forLoop(e.idx(0), e.idx(len), 1, [&](Value ch) {
        memref::StoreOp::create(b,
                                memref::LoadOp::create(b, row, at(poolOff, ch)),
                                kpool, ValueRange{bi, h, kb, ch});
      });
      return;
    }
    project(row, poolOff, len, wk, h, [&](Value p, Value y) {
      memref::StoreOp::create(b, y, kpool, ValueRange{bi, h, kb, p});
    });
  }

  /// Phase 2: scores and the top_k / top_p candidates of query block `qb`
  /// of (bi, h); `row` [D + width] holds the pooled (and projected) query.
  void scoreAndSelect(Value q, const Keys &k, Value wq, Value kpool,
                      Value scores, Value mask, Value bi, Value h, Value qb,
                      Value row) {
    Value sq = dimOf(b, q, 2), kbs = dimOf(b, kpool, 2);
    Value skv = seqLen(k, bi);
    Value limit = visibleLimit(sq, skv, qb);
    Value start = e.mul(qb, e.idx(c.blockQ));
    Value end = e.minsi(e.add(start, e.idx(c.blockQ)), sq);
    int64_t g = c.hq / c.hkv;
    Value inv = arith::DivFOp::create(
        b, e.f32(1.0), e.mul(indexToF32(b, e.sub(end, start)), e.f32(g)));
    Value head0 = e.mul(h, e.idx(g));
    e.forLoop(e.idx(0), e.idx(c.d), 1, [&](Value ch) {
      Value sum = e.forLoop(
          e.idx(0), e.idx(g), 1, ValueRange{e.f32(0.0)},
          [&](Value j, ValueRange s) -> SmallVector<Value> {
            Value hh = e.add(head0, j);
            return e.forLoop(start, end, 1, s,
                             [&](Value t, ValueRange s2) -> SmallVector<Value> {
                               Value x = e.toF32(memref::LoadOp::create(
                                   b, q, ValueRange{bi, hh, t, ch}));
                               return {e.add(s2[0], x)};
                             });
          })[0];
      memref::StoreOp::create(b, e.mul(sum, inv), row, ValueRange{ch});
    });
    Value qOff = e.idx(0);
    if (wq) {
      qOff = e.idx(c.d);
      project(row, 0, c.d, wq, h, [&](Value p, Value y) {
        memref::StoreOp::create(b, y, row, ValueRange{e.add(p, qOff)});
      });
    }

    // Logits of the visible blocks (-inf elsewhere) and their maximum.
    Value mx = e.forLoop(
        e.idx(0), kbs, 1, ValueRange{e.negInf()},
        [&](Value kb, ValueRange s) -> SmallVector<Value> {
          Value dot = e.forLoop(
              e.idx(0), e.idx(c.width), 1, ValueRange{e.f32(0.0)},
              [&](Value p, ValueRange acc) -> SmallVector<Value> {
                Value x =
                    memref::LoadOp::create(b, row, ValueRange{e.add(p, qOff)});
                Value y =
                    memref::LoadOp::create(b, kpool, ValueRange{bi, h, kb, p});
                return {e.add(acc[0], e.mul(x, y))};
              })[0];
          Value logit = e.select(visible(kb, limit, skv),
                                 e.mul(dot, e.f32(c.scale)), e.negInf());
          memref::StoreOp::create(b, logit, scores, ValueRange{bi, h, qb, kb});
          return {e.maxf(s[0], logit)};
        })[0];
    // Softmax over the visible blocks; invisible ones get 0 (a query block
    // that sees no key has no visible block, so no -inf - -inf).
    Value total = e.forLoop(e.idx(0), kbs, 1, ValueRange{e.f32(0.0)},
                            [&](Value kb, ValueRange s) -> SmallVector<Value> {
                              SmallVector<Value> at{bi, h, qb, kb};
                              Value x = memref::LoadOp::create(b, scores, at);
                              Value p =
                                  e.select(visible(kb, limit, skv),
                                           expF32(e, e.sub(x, mx)), e.f32(0.0));
                              memref::StoreOp::create(b, p, scores, at);
                              return {e.add(s[0], p)};
                            })[0];
    Value invTotal = arith::DivFOp::create(b, e.f32(1.0), total);
    e.forLoop(e.idx(0), kbs, 1, [&](Value kb) {
      SmallVector<Value> at{bi, h, qb, kb};
      Value p = memref::LoadOp::create(b, scores, at);
      memref::StoreOp::create(b, e.mul(p, invTotal), scores, at);
    });

    // Candidates: the first k visible blocks, or the smallest prefix of
    // them reaching p, in descending score order (lower index on ties).
    e.forLoop(e.idx(0), dimOf(b, mask, 3), 1, [&](Value w) {
      memref::StoreOp::create(b, e.i32(0), mask, ValueRange{bi, h, qb, w});
    });
    Value target = e.f32(c.topK ? static_cast<double>(*c.topK) : c.topP);
    selectPrefix(
        kbs,
        [&](Value j) -> std::pair<Value, Value> {
          Value sj =
              memref::LoadOp::create(b, scores, ValueRange{bi, h, qb, j});
          Value key = arith::BitcastOp::create(b, b.getI32Type(), sj);
          if (c.causal || c.paged)
            key = e.select(visible(j, limit, skv), key, e.i32(-1));
          return {key, c.topK ? e.f32(1.0) : sj};
        },
        target,
        [&](Value j, Value keep) {
          e.ifThen(keep, [&] { setBit(mask, {bi, h, qb}, j, true); });
        });
  }

  /// Phase 3 (dual top-p) for batch element `bi`: of the candidates (the
  /// blocks set so far) of every head and query block, in descending score
  /// order (lower (head, query block, key block) first on ties), the
  /// smallest prefix whose mass reaches T = layer_top_p times the mass of
  /// every visible block stays; the other candidates are cleared.
  void capLayer(Value scores, Value mask, Value bi) {
    Value qbs = dimOf(b, scores, 2), kbs = dimOf(b, scores, 3);
    Value perHead = e.mul(qbs, kbs);
    Value n = e.mul(e.idx(c.hkv), perHead);
    // (head, query block, key block) of the layer's item j.
    auto coords = [&](Value j) -> SmallVector<Value> {
      Value r = e.remui(j, perHead);
      return {e.divui(j, perHead), e.divui(r, kbs), e.remui(r, kbs)};
    };
    auto score = [&](ValueRange at) {
      return memref::LoadOp::create(b, scores,
                                    ValueRange{bi, at[0], at[1], at[2]});
    };
    Value layerMass =
        e.forLoop(e.idx(0), n, 1, ValueRange{e.f32(0.0)},
                  [&](Value j, ValueRange s) -> SmallVector<Value> {
                    return {e.add(s[0], score(coords(j)))};
                  })[0];
    selectPrefix(
        n,
        [&](Value j) -> std::pair<Value, Value> {
          SmallVector<Value> at = coords(j);
          Value p = score(at);
          Value key = e.select(testBit(mask, {bi, at[0], at[1]}, at[2]),
                               arith::BitcastOp::create(b, b.getI32Type(), p),
                               e.i32(-1));
          return {key, p};
        },
        e.mul(layerMass, e.f32(*c.layerP)),
        [&](Value j, Value keep) {
          // Clearing a block that was no candidate changes nothing.
          e.ifThen(notOf(keep), [&] {
            SmallVector<Value> at = coords(j);
            setBit(mask, {bi, at[0], at[1]}, at[2], false);
          });
        });
  }

  /// Phase 2's end (or phase 4): the diagonal and the visible sink blocks of
  /// query block `qb` of (bi, h), then the count of kept blocks.
  void forceAndCount(Value q, const Keys &k, Value mask, Value counts, Value bi,
                     Value h, Value qb) {
    Value skv = seqLen(k, bi);
    Value kbs = e.ceilDiv(skv, c.blockK);
    Value limit = visibleLimit(dimOf(b, q, 2), skv, qb);
    Value seesKeys = e.cmpi(arith::CmpIPredicate::sge, limit, e.idx(0));
    Value any = e.cmpi(arith::CmpIPredicate::sgt, kbs, e.idx(0));
    if (c.causal)
      any = arith::AndIOp::create(b, any, seesKeys);
    e.ifThen(any, [&] {
      Value diag =
          e.select(seesKeys, e.divui(e.maxsi(limit, e.idx(0)), e.idx(c.blockK)),
                   e.idx(0));
      setBit(mask, {bi, h, qb}, diag, true);
    });
    e.forLoop(e.idx(0), e.minsi(e.idx(c.sinks), kbs), 1, [&](Value j) {
      e.ifThen(visible(j, limit, skv),
               [&] { setBit(mask, {bi, h, qb}, j, true); });
    });
    Value n = e.forLoop(e.idx(0), kbs, 1, ValueRange{e.i32(0)},
                        [&](Value j, ValueRange s) -> SmallVector<Value> {
                          Value bit = arith::ExtUIOp::create(
                              b, b.getI32Type(), testBit(mask, {bi, h, qb}, j));
                          return {e.add(s[0], bit)};
                        })[0];
    memref::StoreOp::create(b, n, counts, ValueRange{bi, h, qb});
  }

private:
  Value notOf(Value flag) {
    return arith::XOrIOp::create(
        b, flag, arith::ConstantOp::create(b, b.getBoolAttr(true)));
  }

  /// Over the items j < n, `item(j)` emitting a key (i32: the f32 bits of a
  /// score >= 0, whose bits order as the scores do; -1 for an item that is no
  /// candidate) and a weight (f32 >= 0): keeps the smallest prefix of the
  /// candidates, in descending key order (lower j first on ties), whose
  /// weight reaches `target`, or every candidate when they all fall short;
  /// `decide(j, keep)` gets each item's verdict in index order. The prefix's
  /// last key s* is the largest with weight(key >= s*) >= target, found by
  /// bisection on the bits (32 halvings of [0, +inf's bits]); keys above s*
  /// stay, keys equal to it stay in index order while the weight kept so far
  /// is below target. 35 passes over the items instead of a sort.
  void selectPrefix(Value n, function_ref<std::pair<Value, Value>(Value)> item,
                    Value target, function_ref<void(Value, Value)> decide) {
    auto weightFrom = [&](Value lo) {
      return e.forLoop(e.idx(0), n, 1, ValueRange{e.f32(0.0)},
                       [&](Value j, ValueRange s) -> SmallVector<Value> {
                         auto [key, w] = item(j);
                         Value in = e.cmpi(arith::CmpIPredicate::sge, key, lo);
                         return {e.select(in, e.add(s[0], w), s[0])};
                       })[0];
    };
    Value shortfall =
        e.cmpf(arith::CmpFPredicate::OLT, weightFrom(e.i32(0)), target);
    // Invariant (when the candidates reach the target): weight(>= lo) >=
    // target > weight(>= hi).
    SmallVector<Value> range = e.forLoop(
        e.idx(0), e.idx(32), 1, ValueRange{e.i32(0), e.i32(0x7F800000)},
        [&](Value, ValueRange s) -> SmallVector<Value> {
          Value lo = s[0], hi = s[1];
          Value mid =
              e.add(lo, arith::ShRUIOp::create(b, e.sub(hi, lo), e.i32(1)));
          Value ge = e.cmpf(arith::CmpFPredicate::OGE, weightFrom(mid), target);
          Value open =
              e.cmpi(arith::CmpIPredicate::sgt, e.sub(hi, lo), e.i32(1));
          Value up = arith::AndIOp::create(b, open, ge);
          Value down = arith::AndIOp::create(b, open, notOf(ge));
          return {e.select(up, mid, lo), e.select(down, mid, hi)};
        });
    Value star = range[0];
    Value above = weightFrom(e.add(star, e.i32(1)));
    e.forLoop(e.idx(0), n, 1, ValueRange{above},
              [&](Value j, ValueRange s) -> SmallVector<Value> {
                auto [key, w] = item(j);
                Value tie = arith::AndIOp::create(
                    b, e.cmpi(arith::CmpIPredicate::eq, key, star),
                    e.cmpf(arith::CmpFPredicate::OLT, s[0], target));
                Value inPrefix = arith::OrIOp::create(
                    b, e.cmpi(arith::CmpIPredicate::sgt, key, star), tie);
                Value candidate =
                    e.cmpi(arith::CmpIPredicate::sge, key, e.i32(0));
                decide(j, e.select(shortfall, candidate, inPrefix));
                return {e.select(tie, e.add(s[0], w), s[0])};
              });
  }

  /// The last key index query block `qb` may see (ends aligned; negative
  /// when it sees none).
  Value visibleLimit(Value sq, Value skv, Value qb) {
    Value last = e.sub(e.minsi(e.mul(e.add(qb, e.idx(1)), e.idx(c.blockQ)), sq),
                       e.idx(1));
    return e.sub(e.add(last, skv), sq);
  }
  /// `then()` under `cond`, or directly when nothing is causal (every block
  /// is visible).
  void onlyIf(Value cond, function_ref<void()> then) {
    if (c.causal)
      e.ifThen(cond, then);
    else
      then();
  }
  /// Whether key block `kb` may be kept: it starts within the sequence's
  /// `skv` keys (a dense K's blocks always do) and, with causal, at or before
  /// `limit`.
  Value visible(Value kb, Value limit, Value skv) {
    Value first = e.mul(kb, e.idx(c.blockK));
    Value ok = arith::ConstantOp::create(b, b.getBoolAttr(true));
    if (c.paged)
      ok = e.cmpi(arith::CmpIPredicate::slt, first, skv);
    if (c.causal)
      ok = arith::AndIOp::create(
          b, ok, e.cmpi(arith::CmpIPredicate::sle, first, limit));
    return ok;
  }
  /// The word and bit of key block `kb`.
  std::pair<SmallVector<Value>, Value> wordOf(ValueRange lead, Value kb) {
    SmallVector<Value> at = cat(lead, ValueRange{e.divui(kb, e.idx(32))});
    Value bit =
        arith::IndexCastOp::create(b, b.getI32Type(), e.remui(kb, e.idx(32)));
    return {at, arith::ShLIOp::create(b, e.i32(1), bit)};
  }
  Value testBit(Value mask, ValueRange lead, Value kb) {
    auto [at, bit] = wordOf(lead, kb);
    Value word = memref::LoadOp::create(b, mask, at);
    return e.cmpi(arith::CmpIPredicate::ne, arith::AndIOp::create(b, word, bit),
                  e.i32(0));
  }
  void setBit(Value mask, ValueRange lead, Value kb, bool on) {
    auto [at, bit] = wordOf(lead, kb);
    Value word = memref::LoadOp::create(b, mask, at);
    Value next = on ? Value(arith::OrIOp::create(b, word, bit))
                    : Value(arith::AndIOp::create(
                          b, word, arith::XOrIOp::create(b, bit, e.i32(-1))));
    memref::StoreOp::create(b, next, mask, at);
  }
  /// y[p] = sum_i row[off + i] * w[h, i, p] for p < width, handed to `store`.
  void project(Value row, int64_t off, int64_t len, Value w, Value h,
               function_ref<void(Value, Value)> store) {
    e.forLoop(e.idx(0), e.idx(c.width), 1, [&](Value p) {
      Value y = e.forLoop(
          e.idx(0), e.idx(len), 1, ValueRange{e.f32(0.0)},
          [&](Value i, ValueRange s) -> SmallVector<Value> {
            Value x = memref::LoadOp::create(b, row,
                                             ValueRange{e.add(i, e.idx(off))});
            Value wi =
                e.toF32(memref::LoadOp::create(b, w, ValueRange{h, i, p}));
            return {e.add(s[0], e.mul(x, wi))};
          })[0];
      store(p, y);
    });
  }

  Emitter &e;
  ImplicitLocOpBuilder &b;
  const Config &c;
};

class BlockSelectRows : public OpConversionPattern<BlockSelectOp> {
public:
  BlockSelectRows(const TypeConverter &converter, MLIRContext *ctx,
                  RowRunner runner, bool hostChecks)
      : OpConversionPattern(converter, ctx), runner(std::move(runner)),
        hostChecks(hostChecks) {}

  LogicalResult
  matchAndRewrite(BlockSelectOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    // Static head counts, head dim, projections and table width were
    // checked, with a diagnostic, before the conversion started.
    auto qT = op.getQuery().getType();
    auto kT = cast<ShapedType>(op.getKey().getType());
    Config c;
    c.paged = op.isPaged();
    c.pageSize = op.getPageSize().value_or(0);
    c.hq = qT.getDimSize(1);
    c.hkv = kT.getDimSize(c.paged ? 2 : 1);
    std::unique_ptr<QuantCodec> codec;
    if (auto packed = dyn_cast<QTensorType>(kT)) {
      codec = QuantCodec::lookup(packed);
      if (!codec)
        return rewriter.notifyMatchFailure(op, "no codec for the keys");
      c.codec = codec.get();
    }
    c.d = qT.getDimSize(3);
    c.proj = static_cast<bool>(op.getQueryProj());
    c.width = c.proj
                  ? cast<ShapedType>(op.getQueryProj().getType()).getDimSize(2)
                  : c.d;
    c.blockQ = op.getBlockQ();
    c.blockK = op.getBlockK();
    c.sinks = op.getSinkBlocks();
    c.pool = op.getPool();
    c.causal = op.getCausal();
    c.topK = op.getTopK();
    if (std::optional<APFloat> p = op.getTopP())
      c.topP = p->convertToDouble();
    if (std::optional<APFloat> p = op.getLayerTopP())
      c.layerP = p->convertToDouble();
    c.scale = op.getScale() ? op.getScale()->convertToDouble()
                            : 1.0 / std::sqrt(static_cast<double>(c.d));

    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Emitter e(b);
    Location loc = b.getLoc();
    auto buffer = [&](ValueRange converted) {
      return converted.empty() ? Value()
                               : emitToBuffer(b, loc, converted.front());
    };
    Value q = buffer(adaptor.getQuery());
    SmallVector<Value> kParts;
    for (Value part : adaptor.getKey())
      kParts.push_back(emitToBuffer(b, loc, part));
    Value k = kParts.front();
    Value table = buffer(adaptor.getBlockTable());
    Value lens = buffer(adaptor.getKvLens());
    Value wq = c.proj ? buffer(adaptor.getQueryProj()) : Value();
    Value wk = c.proj ? buffer(adaptor.getKeyProj()) : Value();

    // Sizes: static where either operand says so, else read at run time. A
    // paged K's key-block grid spans the table's (static) capacity.
    auto ceilS = [](int64_t x, int64_t d) {
      return ShapedType::isDynamic(x) ? x : (x + d - 1) / d;
    };
    int64_t bS = qT.getDimSize(0), kbS;
    Value bV = dimOf(b, q, 0), skvV;
    if (c.paged) {
      auto tableT = cast<ShapedType>(op.getBlockTable().getType());
      if (ShapedType::isDynamic(bS))
        bS = tableT.getDimSize(0);
      int64_t capacity = tableT.getDimSize(1) * c.pageSize;
      kbS = ceilS(capacity, c.blockK);
      skvV = e.idx(capacity);
    } else {
      if (ShapedType::isDynamic(bS)) {
        bS = kT.getDimSize(0);
        bV = dimOf(b, k, 0);
      }
      kbS = ceilS(kT.getDimSize(2), c.blockK);
      skvV = dimOf(b, k, 2);
    }
    Value sqV = dimOf(b, q, 2);
    int64_t qbS = ceilS(qT.getDimSize(2), c.blockQ);
    Value qbV = e.ceilDiv(sqV, c.blockQ), kbV = e.ceilDiv(skvV, c.blockK);
    Value kbwV = e.ceilDiv(kbV, 32);

    auto alloc = [&](ArrayRef<int64_t> shape, Type elt,
                     ArrayRef<Value> sizes) -> Value {
      SmallVector<Value> dynamic;
      for (auto [s, v] : llvm::zip(shape, sizes))
        if (ShapedType::isDynamic(s))
          dynamic.push_back(v);
      return memref::AllocOp::create(b, MemRefType::get(shape, elt), dynamic);
    };
    Type f32 = b.getF32Type(), i32 = b.getI32Type();
    Value hkvV = e.idx(c.hkv);
    auto maskT = op.getMask().getType(), countsT = op.getCounts().getType();
    Value mask = alloc(maskT.getShape(), i32, {bV, hkvV, qbV, kbwV});
    Value counts = alloc(countsT.getShape(), i32, {bV, hkvV, qbV});

    SmallVector<RuntimeCheck> checks;
    if (hostChecks) {
      // Only what depends on run-time sizes: `dim` of `buffer` against
      // `want` when the source is dynamic and the dim is not.
      auto expect = [&](bool dynamicSource, Value buffer, int64_t dim,
                        Value want, StringRef what) {
        if (!dynamicSource ||
            cast<MemRefType>(buffer.getType()).isDynamicDim(dim))
          return;
        Value got = dimOf(b, buffer, dim);
        checks.push_back({e.cmpi(arith::CmpIPredicate::eq, got, want),
                          what.str(), got, want});
      };
      auto sameBatch = [&](Value buffer, StringRef what) {
        Value got = dimOf(b, buffer, 0), want = dimOf(b, q, 0);
        checks.push_back({e.cmpi(arith::CmpIPredicate::eq, got, want),
                          what.str(), got, want});
      };
      if (c.paged) {
        if (qT.isDynamicDim(0) ||
            cast<ShapedType>(op.getBlockTable().getType()).isDynamicDim(0))
          sameBatch(table, "block table batch differs from the query batch");
        if (qT.isDynamicDim(0) ||
            cast<ShapedType>(op.getKvLens().getType()).isDynamicDim(0))
          sameBatch(lens, "kv_lens batch differs from the query batch");
      } else if (qT.isDynamicDim(0) || kT.isDynamicDim(0)) {
        sameBatch(k, "key batch differs from the query batch");
      }
      bool dynB = ShapedType::isDynamic(bS), dynQ = ShapedType::isDynamic(qbS),
           dynK = ShapedType::isDynamic(kbS);
      expect(dynB, mask, 0, bV, "mask batch differs from the batch");
      expect(dynQ, mask, 2, qbV,
             "mask query blocks differ from ceil(Sq / block_q)");
      expect(dynK, mask, 3, kbwV,
             "mask words differ from ceil(ceil(Skv / block_k) / 32)");
      expect(dynB, counts, 0, bV, "counts batch differs from the batch");
      expect(dynQ, counts, 2, qbV,
             "counts query blocks differ from ceil(Sq / block_q)");
    }
    auto work = [&] {
      Value kpool = alloc({bS, c.hkv, kbS, c.width}, f32,
                          {bV, hkvV, kbV, e.idx(c.width)});
      Value scores = alloc({bS, c.hkv, qbS, kbS}, f32, {bV, hkvV, qbV, kbV});
      int64_t poolLen = c.pool == BlockPool::MaxMinAvg ? 3 * c.d : c.d;
      // Phase 1 reads every component of K (and the table); the later
      // phases only need each sequence's length: the dense K (its dim 2) or
      // the table and kv_lens.
      SmallVector<Value> keyArgs(kParts);
      SmallVector<Value> lenArgs{k};
      if (c.paged) {
        keyArgs.append({table, lens});
        lenArgs = {table, lens};
      }
      size_t nParts = kParts.size(), nKey = keyArgs.size(),
             nLen = lenArgs.size();
      bool paged = c.paged;
      auto keysOf = [=](ValueRange args, size_t n, bool all) {
        Rows::Keys keys;
        keys.parts =
            all || !paged ? args.take_front(all ? nParts : 1) : ValueRange{};
        if (paged) {
          keys.table = args[n - 2];
          keys.lens = args[n - 1];
        }
        return keys;
      };
      SmallVector<Value> ops1(keyArgs);
      if (wk)
        ops1.push_back(wk);
      ops1.push_back(kpool);
      bool proj = c.proj;
      runner(b, op, "tessera_block_pool", {bS, c.hkv, kbS}, {bV, hkvV, kbV},
             4 * c.d + poolLen, ops1,
             [&](Emitter &re, ValueRange at, ValueRange args, Value row) {
               Rows(re, c).poolKeys(keysOf(args, nKey, true),
                                    proj ? args[nKey] : Value(), args.back(),
                                    at[0], at[1], at[2], row);
             });
      SmallVector<Value> ops2{q};
      ops2.append(lenArgs);
      if (wq)
        ops2.push_back(wq);
      ops2.append({kpool, scores, mask, counts});
      bool cap = c.layerP.has_value();
      runner(b, op, "tessera_block_score", {bS, c.hkv, qbS}, {bV, hkvV, qbV},
             c.d + c.width, ops2,
             [&](Emitter &re, ValueRange at, ValueRange args, Value row) {
               size_t n = args.size();
               Rows rows(re, c);
               Rows::Keys keys = keysOf(args.slice(1, nLen), nLen, false);
               rows.scoreAndSelect(
                   args[0], keys, proj ? args[1 + nLen] : Value(), args[n - 4],
                   args[n - 3], args[n - 2], at[0], at[1], at[2], row);
               if (!cap)
                 rows.forceAndCount(args[0], keys, args[n - 2], args[n - 1],
                                    at[0], at[1], at[2]);
             });
      if (!cap)
        return;
      runner(b, op, "tessera_block_cap", {bS}, {bV}, 1, {scores, mask},
             [&](Emitter &re, ValueRange at, ValueRange args, Value) {
               Rows(re, c).capLayer(args[0], args[1], at[0]);
             });
      SmallVector<Value> ops4{q};
      ops4.append(lenArgs);
      ops4.append({mask, counts});
      runner(b, op, "tessera_block_force", {bS, c.hkv, qbS}, {bV, hkvV, qbV}, 1,
             ops4, [&](Emitter &re, ValueRange at, ValueRange args, Value) {
               size_t n = args.size();
               Rows(re, c).forceAndCount(
                   args[0], keysOf(args.slice(1, nLen), nLen, false),
                   args[n - 2], args[n - 1], at[0], at[1], at[2]);
             });
    };
    if (checks.empty())
      work();
    else
      e.ifThen(emitRuntimeChecks(e, op, checks), work);
    rewriter.replaceOp(
        op, {emitToTensor(b, loc, mask), emitToTensor(b, loc, counts)});
    return success();
  }

private:
  RowRunner runner;
  bool hostChecks;
};

} // namespace

void mlir::tessera::populateBlockSelectPatterns(const TypeConverter &converter,
                                                RewritePatternSet &patterns,
                                                RowRunner runner,
                                                bool hostChecks) {
  patterns.add<BlockSelectRows>(converter, patterns.getContext(),
                                std::move(runner), hostChecks);
}

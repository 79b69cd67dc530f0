//===- AttentionToLoops.cpp - tessera.attention -> online-softmax loops ---===//
//
// FlashAttention-2 on the CPU: one parallel iteration per (batch, query head,
// query block); inside it, a loop over the visible key blocks that keeps, per
// query row, the running max m, the running sum l and the output accumulator
// acc:
//   m' = max(m, rowmax(S));  P = exp(S - m');  l' = exp(m - m') l + rowsum(P);
//   acc' = exp(m - m') acc + P V.
// Only one row of block_k scores exists at a time; the Sq x Skv matrix never
// does.
//
//===----------------------------------------------------------------------===//
#include "tessera/Conversion/AttentionSchedule.h"
#include "tessera/Conversion/QuantCodec.h"
#include "tessera/Conversion/TesseraToLoops.h"

#include "Tessera/TesseraOps.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/SymbolTable.h"

using namespace mlir;
using namespace mlir::tessera;

namespace {

/// Where the rows of K or V are read from: the operand itself (f32, read in
/// place), or a per-tile f32 scratch buffer filled by converting (bf16/f16) or
/// unpacking (qtensor) the block's rows once, so the conversion is not repeated
/// for every query row.
struct KVSource {
  SmallVector<Value> parts; ///< memrefs: the tensor, or the qtensor components
  std::unique_ptr<QuantCodec> codec; ///< set for packed operands
  Type elementType;                  ///< logical element type
  int64_t dim;                       ///< head dim of this operand
  Value scratch;                     ///< [blockK, dim] f32, when staged
  Value transposed; ///< plain keys: [B, Hkv, KB, D, paddedKeys] f32
  /// Paged: the block table [B, max_pages] and the pool's page count.
  Value table, pages;
  int64_t pageSize = 0;
  /// Ragged: keys are rows keyOffset + j of batch 0 (set per work item).
  bool ragged = false;
  Value keyOffset;

  bool staged() const { return codec || !elementType.isF32(); }
  /// Keys unpacked and transposed per key block (packed or paged), rather than
  /// once for the whole op.
  bool keysPerBlock() const { return codec || pageSize || ragged; }
  /// Where row `j` (a key of sequence `bi`, KV head `kvh`) lives: [bi, kvh, j]
  /// dense; [page, slot, kvh] paged, with page = table[bi, j / page_size]
  /// clamped into the pool (a bad entry was reported first in checked mode).
  SmallVector<Value> rowIndices(Emitter &e, Value bi, Value kvh,
                                Value j) const {
    if (ragged)
      return {e.idx(0), kvh, e.add(keyOffset, j)};
    if (!pageSize)
      return {bi, kvh, j};
    ImplicitLocOpBuilder &b = e.builder();
    Value ps = e.idx(pageSize);
    Value entry =
        memref::LoadOp::create(b, table, ValueRange{bi, e.divui(j, ps)});
    Value page = arith::IndexCastOp::create(b, b.getIndexType(), entry);
    page = e.minsi(e.maxsi(page, e.idx(0)), e.sub(pages, e.idx(1)));
    return {page, e.remui(j, ps), kvh};
  }
};

class AttentionLowering : public OpConversionPattern<AttentionOp> {
public:
  AttentionLowering(const TypeConverter &converter, MLIRContext *ctx,
                    const LoopLoweringOptions &options)
      : OpConversionPattern(converter, ctx), options(options) {}

  LogicalResult
  matchAndRewrite(AttentionOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    FailureOr<AttentionProblem> problem = AttentionProblem::get(op);
    if (failed(problem))
      return failure();
    const AttentionProblem &p = *problem;
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Emitter e(b);
    topologyScope = op->getParentOfType<ModuleOp>();
    lens = cuQ = cuK = Value();

    KVSource key, value;
    if (failed(prepare(op, b, op.getKey(), adaptor.getKey(), key)) ||
        failed(prepare(op, b, op.getValue(), adaptor.getValue(), value)))
      return failure();
    Value q = emitToBuffer(b, b.getLoc(), adaptor.getQuery().front());
    Value mask = op.getMask()
                     ? emitToBuffer(b, b.getLoc(), adaptor.getMask().front())
                     : Value();
    if (p.paged()) {
      lens = emitToBuffer(b, b.getLoc(), adaptor.getKvLens().front());
      Value table =
          emitToBuffer(b, b.getLoc(), adaptor.getBlockTable().front());
      Value pages = memref::DimOp::create(b, key.parts[0], 0);
      for (KVSource *src : {&key, &value}) {
        src->table = table;
        src->pages = pages;
        src->pageSize = p.pageSize;
      }
    }

    if (p.ragged) {
      cuQ = emitToBuffer(b, b.getLoc(), adaptor.getCuSeqlensQ().front());
      cuK = emitToBuffer(b, b.getLoc(), adaptor.getCuSeqlensK().front());
      key.ragged = value.ragged = true;
    }
    AttentionOperands ops{q,         key.parts, value.parts, mask,
                          key.table, lens,      cuQ,         cuK};
    sizes = emitAttentionSizes(e, p, ops);
    Type elt = op.getQuery().getType().getElementType();
    int64_t dyn = ShapedType::kDynamic;
    auto outType =
        MemRefType::get({p.batch, p.queryHeads, p.queryLen, p.valueDim}, elt);
    auto lseType =
        MemRefType::get({p.batch, p.queryHeads, p.queryLen}, b.getF32Type());
    SmallVector<Value> dynSizes;
    if (p.batch == dyn)
      dynSizes.push_back(sizes.batch);
    if (p.queryLen == dyn)
      dynSizes.push_back(sizes.queryLen);
    Value out = memref::AllocOp::create(b, outType, dynSizes);
    Value lse = memref::AllocOp::create(b, lseType, dynSizes);

    // With run-time sizes, what the verifier proved for static shapes is
    // checked before any memory is touched; a failed check reports and skips
    // the op's work.
    auto work = [&] {
      // Keys packed in a rotated domain (M k) decode element by element there;
      // the queries are rotated the same way once (q.k = Mq.Mk).
      Value query = q;
      if (key.codec && key.codec->hasTransform())
        query = emitRotatedRows(e, *key.codec, q);
      // Plain keys are transposed (and widened to f32) once for the whole op,
      // so the score loop can put 16 keys in the lanes of a vector; packed
      // keys are unpacked per block.
      if (!key.keysPerBlock())
        key.transposed = emitTransposedKeys(e, p, key, mask);
      // Ragged: rows no sequence covers are O = 0, LSE = -inf (in the
      // partials, when split, so the combine gives the same).
      auto fillEmpty = [&](Value o, Value l, Value split) {
        e.parallelRows(
            ValueRange{e.idx(p.queryHeads), sizes.queryLen},
            [&](ValueRange ivs) {
              SmallVector<Value> at;
              if (split)
                at.push_back(split);
              at.append({e.idx(0), ivs[0], ivs[1]});
              memref::StoreOp::create(b, e.negInf(), l, at);
              Type oe = cast<MemRefType>(o.getType()).getElementType();
              at.push_back(Value());
              e.forLoop(e.idx(0), e.idx(p.valueDim), 1, [&](Value d) {
                at.back() = d;
                memref::StoreOp::create(b, e.fromF32(e.f32(0), oe), o, at);
              });
            });
      };
      if (p.kvSplits <= 1) {
        if (p.ragged)
          fillEmpty(out, lse, Value());
        e.parallelRows(
            ValueRange{sizes.sequences, e.idx(p.queryHeads), sizes.queryTiles},
            [&](ValueRange ivs) {
              emitQueryBlock(e, p, ivs[0], ivs[1], ivs[2], Value(), query, key,
                             value, mask, out, lse);
            });
        unrotateValues(e, value, out);
        return;
      }
      // Flash-decoding: each (tile, split) work item walks one chunk of the
      // key blocks into f32 partials (O normalised by its own sum, and its
      // LSE); a second parallel loop combines them per query row.
      int64_t splits = p.kvSplits;
      Type f32 = b.getF32Type();
      Value partO = memref::AllocOp::create(
          b,
          MemRefType::get(
              {splits, p.batch, p.queryHeads, p.queryLen, p.valueDim}, f32),
          dynSizes);
      Value partL = memref::AllocOp::create(
          b, MemRefType::get({splits, p.batch, p.queryHeads, p.queryLen}, f32),
          dynSizes);
      if (p.ragged)
        for (int64_t s = 0; s < splits; ++s)
          fillEmpty(partO, partL, e.idx(s));
      e.parallelRows(ValueRange{sizes.sequences, e.idx(p.queryHeads),
                                sizes.queryTiles, e.idx(splits)},
                     [&](ValueRange ivs) {
                       emitQueryBlock(e, p, ivs[0], ivs[1], ivs[2], ivs[3],
                                      query, key, value, mask, partO, partL);
                     });
      emitSplitCombine(e, p, partO, partL, out, lse);
      unrotateValues(e, value, out);
    };
    SmallVector<RuntimeCheck> checks = attentionSizeChecks(e, p, sizes, ops);
    bool contentChecks = (p.paged() || p.ragged) && p.checked;
    if (checks.empty() && !contentChecks) {
      work();
    } else {
      Value ok = emitRuntimeChecks(e, op, checks);
      if (contentChecks) {
        // Checked mode: the tables, lengths or prefix sums are read (once the
        // sizes are known to be right) before any key is.
        auto ifOp = scf::IfOp::create(b, TypeRange{b.getI1Type()}, ok,
                                      /*withElseRegion=*/true);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(&ifOp.getThenRegion().front());
        scf::YieldOp::create(b,
                             ValueRange{p.paged() ? pagedTableChecks(e, op, key)
                                                  : raggedChecks(e, op)});
        b.setInsertionPointToStart(&ifOp.getElseRegion().front());
        scf::YieldOp::create(b, ValueRange{ok});
        ok = ifOp.getResult(0);
      }
      e.ifThen(ok, work);
    }

    rewriter.replaceOp(op, {emitToTensor(b, b.getLoc(), out),
                            emitToTensor(b, b.getLoc(), lse)});
    return success();
  }

private:
  /// Every row of `src` ([..., D], any float type) rotated by `codec`'s M
  /// into a fresh buffer of the same type.
  static Value emitRotatedRows(Emitter &e, const QuantCodec &codec, Value src) {
    ImplicitLocOpBuilder &b = e.builder();
    auto type = cast<MemRefType>(src.getType());
    SmallVector<Value> dynSizes, ubs;
    for (int64_t d = 0; d + 1 < type.getRank(); ++d) {
      Value size = type.isDynamicDim(d)
                       ? Value(memref::DimOp::create(b, src, d))
                       : e.idx(type.getDimSize(d));
      if (type.isDynamicDim(d))
        dynSizes.push_back(size);
      ubs.push_back(size);
    }
    Value dst = memref::AllocOp::create(b, type, dynSizes);
    e.parallelRows(ubs, [&](ValueRange lead) {
      codec.emitTransform(e, src, lead, dst, lead, /*inverse=*/false);
    });
    return dst;
  }

  /// V packed in a rotated domain: the output accumulated M v, so each row of
  /// O is rotated back by M^T (in place, through an f32 copy of the row).
  static void unrotateValues(Emitter &e, const KVSource &value, Value out) {
    if (!value.codec || !value.codec->hasTransform())
      return;
    ImplicitLocOpBuilder &b = e.builder();
    auto type = cast<MemRefType>(out.getType());
    int64_t dim = type.getShape().back();
    SmallVector<Value> ubs;
    for (int64_t d = 0; d + 1 < type.getRank(); ++d)
      ubs.push_back(type.isDynamicDim(d)
                        ? Value(memref::DimOp::create(b, out, d))
                        : e.idx(type.getDimSize(d)));
    e.parallelRows(ubs, [&](ValueRange lead) {
      Value row =
          memref::AllocaOp::create(b, MemRefType::get({dim}, b.getF32Type()));
      SmallVector<Value> at(lead.begin(), lead.end());
      at.push_back(Value());
      e.forLoop(e.idx(0), e.idx(dim), 1, [&](Value d) {
        at.back() = d;
        memref::StoreOp::create(b, e.toF32(memref::LoadOp::create(b, out, at)),
                                row, ValueRange{d});
      });
      value.codec->emitTransform(e, row, {}, out, lead, /*inverse=*/true);
    });
  }

  /// Combines kv_splits partials per query row: LSE = log sum_s exp(LSE_s),
  /// O = sum_s exp(LSE_s - LSE) O_s (the max LSE as the exponent's origin);
  /// a row no split saw a key for gives O = 0, LSE = -inf.
  void emitSplitCombine(Emitter &e, const AttentionProblem &p, Value partO,
                        Value partL, Value out, Value lse) const {
    ImplicitLocOpBuilder &b = e.builder();
    Type f32 = b.getF32Type();
    int64_t vw = options.vectorWidth;
    Type elt = cast<MemRefType>(out.getType()).getElementType();
    e.parallelRows(
        ValueRange{sizes.batch, e.idx(p.queryHeads), sizes.queryLen},
        [&](ValueRange ivs) {
          Value bi = ivs[0], h = ivs[1], i = ivs[2];
          auto lseOf = [&](int64_t s) {
            return memref::LoadOp::create(b, partL,
                                          ValueRange{e.idx(s), bi, h, i})
                .getResult();
          };
          Value m = lseOf(0);
          for (int64_t s = 1; s < p.kvSplits; ++s)
            m = e.maxf(m, lseOf(s));
          // The same algebra as a softmax step: weights exp(LSE_s - m).
          SoftmaxStep origin = emitSoftmaxStep(
              e, m, m, [&](Value x) { return math::ExpOp::create(b, x); });
          SmallVector<Value> weights;
          Value sum = e.f32(0);
          for (int64_t s = 0; s < p.kvSplits; ++s) {
            weights.push_back(
                math::ExpOp::create(b, e.sub(lseOf(s), origin.origin)));
            sum = e.add(sum, weights.back());
          }
          SoftmaxEnd end = emitSoftmaxEnd(
              e, m, sum, [&](Value x) { return math::LogOp::create(b, x); });
          for (int64_t k = 0, n = numChunks(p.valueDim); k < n; ++k) {
            auto vt = VectorType::get({chunkWidth(p.valueDim, k)}, f32);
            Value acc =
                arith::ConstantOp::create(b, DenseElementsAttr::get(vt, 0.0f));
            for (int64_t s = 0; s < p.kvSplits; ++s) {
              Value o = vector::LoadOp::create(
                  b, vt, partO, ValueRange{e.idx(s), bi, h, i, e.idx(k * vw)});
              acc = vector::FMAOp::create(
                  b, vector::BroadcastOp::create(b, vt, weights[s]), o, acc);
            }
            Value o = e.mul(acc, vector::BroadcastOp::create(b, vt, end.scale));
            vector::StoreOp::create(b, e.fromF32(o, elt), out,
                                    ValueRange{bi, h, i, e.idx(k * vw)});
          }
          memref::StoreOp::create(b, end.lse, lse, ValueRange{bi, h, i});
        });
  }

  /// Checked ragged mode: each prefix sum starts at 0, never decreases and
  /// ends within its packed dim. Returns whether all hold; each failure is
  /// reported.
  Value raggedChecks(Emitter &e, Operation *op) const {
    ImplicitLocOpBuilder &b = e.builder();
    Value all = arith::ConstantOp::create(b, b.getBoolAttr(true));
    for (auto [cu, total, name] :
         {std::tuple{cuQ, sizes.queryLen, "cu_seqlens_q"},
          std::tuple{cuK, sizes.keyLen, "cu_seqlens_k"}}) {
      auto at = [&, cu = cu](Value i) {
        return arith::IndexCastOp::create(
                   b, b.getIndexType(),
                   memref::LoadOp::create(b, cu, ValueRange{i}))
            .getResult();
      };
      std::string n = name;
      Value first = at(e.idx(0));
      Value ok =
          emitRuntimeChecks(e, op,
                            {{e.cmpi(arith::CmpIPredicate::eq, first, e.idx(0)),
                              n + " does not start at 0", first, e.idx(0)}});
      SmallVector<Value> steps = e.forLoop(
          e.idx(0), sizes.sequences, 1, ValueRange{ok},
          [&](Value i, ValueRange it) -> SmallVector<Value> {
            Value lo = at(i), hi = at(e.add(i, e.idx(1)));
            Value c = emitRuntimeChecks(
                e, op,
                {{e.cmpi(arith::CmpIPredicate::sge, hi, lo),
                  n + " decreases (got an entry, expected at least the one "
                      "before it)",
                  hi, lo}});
            return {arith::AndIOp::create(b, it[0], c)};
          });
      Value last = at(sizes.sequences);
      Value inside = emitRuntimeChecks(
          e, op,
          {{e.cmpi(arith::CmpIPredicate::sle, last, total),
            n + " ends past the packed rows (got its last entry, expected "
                "at most the total)",
            last, total}});
      all = arith::AndIOp::create(b, all,
                                  arith::AndIOp::create(b, steps[0], inside));
    }
    return all;
  }

  /// Checked paged mode: every kv_lens entry lies in [0, max_pages *
  /// page_size] and every table entry a sequence uses names a page of the
  /// pool. Returns whether all hold; each failure is reported.
  Value pagedTableChecks(Emitter &e, Operation *op, const KVSource &key) const {
    ImplicitLocOpBuilder &b = e.builder();
    Value yes = arith::ConstantOp::create(b, b.getBoolAttr(true));
    auto inRange = [&](Value x, Value lo, Value hi, bool inclusive) {
      Value above = e.cmpi(arith::CmpIPredicate::sge, x, lo);
      Value below = e.cmpi(inclusive ? arith::CmpIPredicate::sle
                                     : arith::CmpIPredicate::slt,
                           x, hi);
      return arith::AndIOp::create(b, above, below).getResult();
    };
    SmallVector<Value> all = e.forLoop(
        e.idx(0), sizes.batch, 1, ValueRange{yes},
        [&](Value bi, ValueRange it) -> SmallVector<Value> {
          Value len = arith::IndexCastOp::create(
              b, b.getIndexType(),
              memref::LoadOp::create(b, lens, ValueRange{bi}));
          Value okLen = emitRuntimeChecks(
              e, op,
              {{inRange(len, e.idx(0), sizes.keyLen, true),
                "kv_lens entry outside [0, max_pages * page_size]", len,
                sizes.keyLen}});
          Value used = e.ceilDiv(e.minsi(e.maxsi(len, e.idx(0)), sizes.keyLen),
                                 key.pageSize);
          SmallVector<Value> pagesOk = e.forLoop(
              e.idx(0), used, 1, ValueRange{okLen},
              [&](Value pg, ValueRange it2) -> SmallVector<Value> {
                Value entry = arith::IndexCastOp::create(
                    b, b.getIndexType(),
                    memref::LoadOp::create(b, key.table, ValueRange{bi, pg}));
                Value okEntry = emitRuntimeChecks(
                    e, op,
                    {{inRange(entry, e.idx(0), key.pages, false),
                      "block table entry outside [0, page count)", entry,
                      key.pages}});
                return {arith::AndIOp::create(b, it2[0], okEntry)};
              });
          return {arith::AndIOp::create(b, it[0], pagesOk[0])};
        });
    return all[0];
  }

  LogicalResult prepare(AttentionOp op, ImplicitLocOpBuilder &b, Value original,
                        ValueRange converted, KVSource &src) const {
    auto shaped = cast<ShapedType>(original.getType());
    src.elementType = shaped.getElementType();
    src.dim = shaped.getShape().back();
    if (auto packed = dyn_cast<QTensorType>(original.getType())) {
      // Checked, with a diagnostic, before the conversion started.
      src.codec = QuantCodec::lookup(packed);
      if (!src.codec)
        return failure();
    }
    for (Value part : converted)
      src.parts.push_back(emitToBuffer(b, b.getLoc(), part));
    return success();
  }

  /// Number of vector chunks covering `dim` lanes, and the width of chunk `c`.
  int64_t numChunks(int64_t dim) const {
    return (dim + options.vectorWidth - 1) / options.vectorWidth;
  }
  int64_t chunkWidth(int64_t dim, int64_t c) const {
    return std::min(options.vectorWidth, dim - c * options.vectorWidth);
  }

  /// Loads row `indices[..., d0 : d0 + width]` of `mem` as an f32 vector.
  Value loadVec(Emitter &e, Value mem, ArrayRef<Value> prefix, int64_t d0,
                int64_t width) const {
    ImplicitLocOpBuilder &b = e.builder();
    auto memType = cast<MemRefType>(mem.getType());
    SmallVector<Value> indices(prefix);
    indices.push_back(e.idx(d0));
    Value v = vector::LoadOp::create(
        b, VectorType::get({width}, memType.getElementType()), mem, indices);
    return e.toF32(v);
  }

  /// Reads row `j` (absolute key index; `c` within the block) of a K/V source
  /// as f32 vector chunks.
  SmallVector<Value> loadKVRow(Emitter &e, const KVSource &src, Value bi,
                               Value kvh, Value j, Value c) const {
    SmallVector<Value> chunks;
    for (int64_t k = 0, n = numChunks(src.dim); k < n; ++k) {
      int64_t d0 = k * options.vectorWidth;
      if (src.staged())
        chunks.push_back(
            loadVec(e, src.scratch, {c}, d0, chunkWidth(src.dim, k)));
      else
        chunks.push_back(loadVec(e, src.parts[0], src.rowIndices(e, bi, kvh, j),
                                 d0, chunkWidth(src.dim, k)));
    }
    return chunks;
  }

  /// Writes the f32 row `j` of a K/V source into `dst[dstPrefix..., 0:dim]`.
  void convertRow(Emitter &e, const KVSource &src, Value bi, Value kvh, Value j,
                  Value dst, ValueRange dstPrefix) const {
    ImplicitLocOpBuilder &b = e.builder();
    if (src.codec && src.codec->hasTransform()) {
      // The rotated domain, element by element (queries and output are
      // rotated around the op).
      SmallVector<Value> lead = src.rowIndices(e, bi, kvh, j);
      SmallVector<Value> at(dstPrefix.begin(), dstPrefix.end());
      at.push_back(Value());
      e.forLoop(e.idx(0), e.idx(src.dim), 1, [&](Value d) {
        at.back() = d;
        memref::StoreOp::create(
            b, src.codec->emitUnpackElement(e, src.parts, lead, d), dst, at);
      });
      return;
    }
    if (src.codec)
      return src.codec->emitUnpackRow(
          e, src.parts, src.rowIndices(e, bi, kvh, j), dst, dstPrefix);
    for (int64_t k = 0, n = numChunks(src.dim); k < n; ++k) {
      int64_t d0 = k * options.vectorWidth;
      Value v = loadVec(e, src.parts[0], src.rowIndices(e, bi, kvh, j), d0,
                        chunkWidth(src.dim, k));
      SmallVector<Value> idx(dstPrefix.begin(), dstPrefix.end());
      idx.push_back(e.idx(d0));
      vector::StoreOp::create(b, v, dst, idx);
    }
  }

  /// K^T per key block as f32 [B, Hkv, KB, D, paddedKeys] (zero past Skv): each
  /// block's transposed keys are contiguous, 16 keys to a vector, and built
  /// once for the whole op. With a run-time `mask`, a block that no mask row
  /// of its (batch, KV head) enables is never visited and is not built
  /// either: a routed decode step pays for the blocks it reads, not for all.
  Value emitTransposedKeys(Emitter &e, const AttentionProblem &p,
                           const KVSource &key, Value mask) const {
    ImplicitLocOpBuilder &b = e.builder();
    int64_t vw = options.vectorWidth;
    int64_t paddedKeys = (p.blockK + vw - 1) / vw * vw;
    SmallVector<Value> dynSizes;
    if (ShapedType::isDynamic(p.batch))
      dynSizes.push_back(sizes.batch);
    if (ShapedType::isDynamic(p.numKeyBlocks))
      dynSizes.push_back(sizes.keyBlocks);
    Value kt = memref::AllocOp::create(
        b,
        MemRefType::get(
            {p.batch, p.kvHeads, p.numKeyBlocks, p.headDim, paddedKeys},
            b.getF32Type()),
        dynSizes);
    // Whether a mask row of (b, kv head) enables key block kb: the query
    // heads of the group when the mask is per query head, else its one row
    // per query block.
    auto enabled = [&](ValueRange ivs) {
      int64_t group = p.queryHeads / p.kvHeads;
      int64_t heads =
          p.mask->heads == AttentionProblem::Mask::Heads::Query ? group : 1;
      Value none = arith::ConstantOp::create(b, b.getBoolAttr(false));
      return e.forLoop(
          e.idx(0), e.ceilDiv(sizes.queryLen, p.blockQ), 1, ValueRange{none},
          [&](Value qb, ValueRange s) -> SmallVector<Value> {
            return e.forLoop(
                e.idx(0), e.idx(heads), 1, s,
                [&](Value j, ValueRange s2) -> SmallVector<Value> {
                  WorkItem w;
                  w.bi = ivs[0];
                  w.kvh = ivs[1];
                  w.h = e.add(e.mul(ivs[1], e.idx(group)), j);
                  w.qb = qb;
                  return {arith::OrIOp::create(
                      b, s2[0], emitMaskBit(e, p, mask, w, ivs[2]))};
                });
          })[0];
    };
    auto build = [&](ValueRange ivs) {
      Value k0 = e.mul(ivs[2], e.idx(p.blockK));
      Value cols = e.minsi(e.idx(p.blockK), e.sub(sizes.keyLen, k0));
      e.forLoop(e.idx(0), e.idx(p.headDim), 1, [&](Value d) {
        e.forLoop(e.idx(0), e.idx(paddedKeys), 1, [&](Value c) {
          SmallVector<Value> at{ivs[0], ivs[1], ivs[2], d, c};
          memref::StoreOp::create(b, e.f32(0), kt, at);
        });
      });
      e.forLoop(e.idx(0), cols, 1, [&](Value c) {
        e.forLoop(e.idx(0), e.idx(p.headDim), 1, [&](Value d) {
          Value x = memref::LoadOp::create(
              b, key.parts[0], ValueRange{ivs[0], ivs[1], e.add(k0, c), d});
          memref::StoreOp::create(b, e.toF32(x), kt,
                                  ValueRange{ivs[0], ivs[1], ivs[2], d, c});
        });
      });
    };
    // A static topology says at compile time which blocks each (batch, KV
    // head) visits: a constant table of flags.
    Value visited = p.topology ? emitVisitedKeyBlocks(e, p) : Value();
    e.parallelRows(
        ValueRange{sizes.batch, e.idx(p.kvHeads), sizes.keyBlocks},
        [&](ValueRange ivs) {
          if (mask) {
            e.ifThen(enabled(ivs), [&] { build(ivs); });
          } else if (visited) {
            Value bi = p.mask->hasBatch ? ivs[0] : e.idx(0);
            Value flag = memref::LoadOp::create(b, visited,
                                                ValueRange{bi, ivs[1], ivs[2]});
            e.ifThen(e.cmpi(arith::CmpIPredicate::ne, flag, e.i32(0)),
                     [&] { build(ivs); });
          } else {
            build(ivs);
          }
        });
    return kt;
  }

  /// The key blocks a static topology's rows list, per (topology batch, KV
  /// head), as a constant i32 table [batch, Hkv, KB] (1: some query block of
  /// a query head of the group reads it) in a memref.global of the module.
  Value emitVisitedKeyBlocks(Emitter &e, const AttentionProblem &p) const {
    ImplicitLocOpBuilder &b = e.builder();
    BlockTopologyAttr t = p.topology;
    int64_t batch = t.getBatch(), kbs = t.getKeyBlocks();
    int64_t qbs = t.getQueryBlocks();
    ArrayRef<int32_t> offsets = t.getOffsets(), indices = t.getIndices();
    SmallVector<int32_t> flags(batch * p.kvHeads * kbs, 0);
    for (int64_t bi = 0; bi < batch; ++bi)
      for (int64_t kvh = 0; kvh < p.kvHeads; ++kvh) {
        SmallVector<int64_t> heads;
        if (p.mask->heads == AttentionProblem::Mask::Heads::Query)
          for (int64_t j = 0; j < p.group; ++j)
            heads.push_back(kvh * p.group + j);
        else
          heads.push_back(
              p.mask->heads == AttentionProblem::Mask::Heads::KV ? kvh : 0);
        for (int64_t h : heads)
          for (int64_t qb = 0; qb < qbs; ++qb) {
            int64_t row = (bi * t.getHeads() + h) * qbs + qb;
            for (int32_t i = offsets[row]; i < offsets[row + 1]; ++i)
              flags[(bi * p.kvHeads + kvh) * kbs + indices[i]] = 1;
          }
      }
    Operation *module = SymbolTable::getNearestSymbolTable(
        b.getInsertionBlock()->getParentOp());
    std::string name;
    for (int n = 0;; ++n) {
      name = "__tessera_visited_key_blocks_" + std::to_string(n);
      if (!SymbolTable::lookupSymbolIn(module, name))
        break;
    }
    auto type = MemRefType::get({batch, p.kvHeads, kbs}, b.getI32Type());
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&module->getRegion(0).front());
      auto init = DenseElementsAttr::get(
          RankedTensorType::get(type.getShape(), b.getI32Type()),
          ArrayRef<int32_t>(flags));
      memref::GlobalOp::create(b, name, b.getStringAttr("private"), type, init,
                               /*constant=*/true, /*alignment=*/IntegerAttr());
    }
    return memref::GetGlobalOp::create(b, type, name);
  }

  /// Register blocking: rows of a tile handled together so that `rows x
  /// vectorsPerRow` accumulators fit in 16 vector registers; a power of two
  /// dividing 8.
  static int64_t rowBlock(int64_t vectorsPerRow) {
    int64_t r = 1;
    while (r < 8 && 2 * r * vectorsPerRow <= 16)
      r *= 2;
    return r;
  }

  /// Per-iteration scratch of one query block.
  struct Tile {
    int64_t paddedRows; ///< tileQ rounded up to 8
    int64_t paddedKeys; ///< blockK rounded up to the vector width
    Value qs;           ///< [paddedRows, D] pre-scaled query rows (f32)
    Value
        kt; ///< [D, paddedKeys] packed keys of the block, unpacked, transposed
    Value keyRow; ///< [D] one unpacked key row
    Value probs;  ///< [paddedRows, paddedKeys] P of the current block
    Value m, l,
        alpha; ///< [paddedRows] running max, running sum, this block's rescale
    Value acc; ///< [paddedRows, Dv] output accumulator
  };

  /// One work item: query tile `qt` (tileQ rows, inside mask/topology query
  /// block qb).
  void emitQueryBlock(Emitter &e, const AttentionProblem &p, Value bi, Value h,
                      Value qt, Value split, Value q, KVSource &key,
                      KVSource &value, Value mask, Value out, Value lse) const {
    Value kvh = e.divui(h, e.idx(p.group));
    Value q0 = e.mul(qt, e.idx(p.tileQ));
    Value qb = emitMaskRowOfTile(e, p, qt);
    // The sequence's rows: all of the batch entry `bi`, or (ragged) rows
    // [cu_q[bi], cu_q[bi + 1]) of the packed Q and O, keys [cu_k[bi], ...).
    Value tb = bi, qoff = e.idx(0), seqQ = sizes.queryLen, seqK = sizes.keyLen;
    if (p.ragged) {
      tb = e.idx(0);
      std::tie(qoff, seqQ) = emitSequenceRows(e, cuQ, bi, sizes.queryLen);
      Value koff;
      std::tie(koff, seqK) = emitSequenceRows(e, cuK, bi, sizes.keyLen);
      key.keyOffset = value.keyOffset = koff;
    }
    Value rows = e.minsi(e.idx(p.tileQ), e.sub(seqQ, q0));
    // Ragged: tiles past a short sequence's end have nothing to do.
    if (p.ragged)
      return e.ifThen(e.cmpi(arith::CmpIPredicate::sgt, rows, e.idx(0)), [&] {
        emitRows(e, p, bi, tb, h, kvh, qb, q0, rows, qoff, seqQ, seqK, split, q,
                 key, value, mask, out, lse);
      });
    emitRows(e, p, bi, tb, h, kvh, qb, q0, rows, qoff, seqQ, seqK, split, q,
             key, value, mask, out, lse);
  }

  /// The rows [q0, q0 + rows) of sequence `bi` (rows of tensor batch `tb`
  /// from `qoff`; `seqQ` queries and `seqK` keys): online softmax over the
  /// walk's key blocks, then O and LSE (or, with `split`, that chunk's
  /// partials).
  void emitRows(Emitter &e, const AttentionProblem &p, Value bi, Value tb,
                Value h, Value kvh, Value qb, Value q0, Value rows, Value qoff,
                Value seqQ, Value seqK, Value split, Value q, KVSource &key,
                KVSource &value, Value mask, Value out, Value lse) const {
    ImplicitLocOpBuilder &b = e.builder();
    Type f32 = b.getF32Type();
    int64_t vw = options.vectorWidth;

    Tile t;
    t.paddedRows = (p.tileQ + 7) / 8 * 8;
    t.paddedKeys = (p.blockK + vw - 1) / vw * vw;
    auto stackBuffer = [&](ArrayRef<int64_t> shape) {
      return memref::AllocaOp::create(b, MemRefType::get(shape, f32))
          .getResult();
    };
    t.qs = stackBuffer({t.paddedRows, p.headDim});
    if (key.keysPerBlock())
      t.kt = stackBuffer({p.headDim, t.paddedKeys});
    t.probs = stackBuffer({t.paddedRows, t.paddedKeys});
    t.m = stackBuffer({t.paddedRows});
    t.l = stackBuffer({t.paddedRows});
    t.alpha = stackBuffer({t.paddedRows});
    t.acc = stackBuffer({t.paddedRows, p.valueDim});
    if (key.keysPerBlock())
      t.keyRow = stackBuffer({p.headDim});
    if (value.staged())
      value.scratch = stackBuffer({p.blockK, p.valueDim});

    // Rows past the end of Q are computed on a copy of the last row and never
    // stored, so every row block is full.
    Value paddedRows = e.mul(e.ceilDiv(rows, 8), e.idx(8));
    Value lastRow = e.sub(seqQ, e.idx(1));
    e.forLoop(e.idx(0), e.idx(t.paddedRows), 1, [&](Value r) {
      memref::StoreOp::create(b, e.negInf(), t.m, ValueRange{r});
      memref::StoreOp::create(b, e.f32(0), t.l, ValueRange{r});
      Value i = e.minsi(e.add(q0, r), lastRow);
      for (int64_t k = 0, n = numChunks(p.headDim); k < n; ++k) {
        int64_t w = chunkWidth(p.headDim, k);
        Value v = loadVec(e, q, {tb, h, e.add(qoff, i)}, k * vw, w);
        v = e.mul(v, vector::BroadcastOp::create(b, VectorType::get({w}, f32),
                                                 e.f32(p.scale)));
        vector::StoreOp::create(b, v, t.qs, ValueRange{r, e.idx(k * vw)});
      }
      for (int64_t k = 0, n = numChunks(p.valueDim); k < n; ++k) {
        auto vt = VectorType::get({chunkWidth(p.valueDim, k)}, f32);
        Value zero =
            arith::ConstantOp::create(b, DenseElementsAttr::get(vt, 0.0f));
        vector::StoreOp::create(b, zero, t.acc, ValueRange{r, e.idx(k * vw)});
      }
    });

    WorkItem item{bi, h, kvh, qb, q0, rows, seqQ, seqK, split};
    // Split partials are stored under a leading split index.
    auto at = [&](std::initializer_list<Value> idx) {
      SmallVector<Value> v;
      if (split)
        v.push_back(split);
      v.append(idx.begin(), idx.end());
      return v;
    };
    if (p.paged()) {
      // This sequence's length, clamped to the table's capacity (a bad one
      // was reported first in checked mode).
      Value len = arith::IndexCastOp::create(
          b, b.getIndexType(), memref::LoadOp::create(b, lens, ValueRange{bi}));
      item.keyLen = e.minsi(e.maxsi(len, e.idx(0)), sizes.keyLen);
    }
    emitKeyBlockWalk(e, p, item, mask, topologyScope, ValueRange{},
                     [&](Value kb, ValueRange) -> SmallVector<Value> {
                       emitKeyBlock(e, p, t, item, paddedRows, kb, key, value);
                       return {};
                     });

    // O = acc / l and LSE = m + log(l); a row that saw no key gives O = 0, LSE
    // = -inf.
    Type elt = cast<MemRefType>(out.getType()).getElementType();
    e.forLoop(e.idx(0), rows, 1, [&](Value r) {
      Value i = e.add(qoff, e.add(q0, r));
      Value lr = memref::LoadOp::create(b, t.l, ValueRange{r});
      Value mr = memref::LoadOp::create(b, t.m, ValueRange{r});
      SoftmaxEnd end = emitSoftmaxEnd(
          e, mr, lr, [&](Value x) { return math::LogOp::create(b, x); });
      for (int64_t k = 0, n = numChunks(p.valueDim); k < n; ++k) {
        int64_t w = chunkWidth(p.valueDim, k);
        auto vt = VectorType::get({w}, f32);
        Value a =
            vector::LoadOp::create(b, vt, t.acc, ValueRange{r, e.idx(k * vw)});
        Value o = e.mul(a, vector::BroadcastOp::create(b, vt, end.scale));
        vector::StoreOp::create(b, e.fromF32(o, elt), out,
                                at({tb, h, i, e.idx(k * vw)}));
      }
      memref::StoreOp::create(b, end.lse, lse, at({tb, h, i}));
    });
  }

  void emitKeyBlock(Emitter &e, const AttentionProblem &p, const Tile &t,
                    const WorkItem &item, Value paddedRows, Value kb,
                    const KVSource &key, const KVSource &value) const {
    Value bi = item.bi, kvh = item.kvh, q0 = item.q0;
    ImplicitLocOpBuilder &b = e.builder();
    Type f32 = b.getF32Type(), i32 = b.getI32Type();
    int64_t vw = options.vectorWidth;
    int64_t nv = t.paddedKeys / vw;
    auto vt = VectorType::get({vw}, f32);
    Value k0 = e.mul(kb, e.idx(p.blockK));
    Value cols = e.minsi(e.idx(p.blockK), e.sub(item.keyLen, k0));

    // Stage the block: packed keys unpacked and transposed (keys along the
    // vector lanes), values converted when they are not f32.
    e.forLoop(e.idx(0), cols, 1, [&](Value c) {
      Value j = e.add(k0, c);
      if (key.keysPerBlock()) {
        convertRow(e, key, bi, kvh, j, t.keyRow, {});
        e.forLoop(e.idx(0), e.idx(p.headDim), 1, [&](Value d) {
          Value x = memref::LoadOp::create(b, t.keyRow, ValueRange{d});
          memref::StoreOp::create(b, x, t.kt, ValueRange{d, c});
        });
      }
      if (value.staged())
        convertRow(e, value, bi, kvh, j, value.scratch, {c});
    });
    if (key.keysPerBlock()) {
      // Lanes past the block's last key read zeros (their scores are masked
      // below).
      e.forLoop(cols, e.idx(t.paddedKeys), 1, [&](Value c) {
        e.forLoop(e.idx(0), e.idx(p.headDim), 1, [&](Value d) {
          memref::StoreOp::create(b, e.f32(0), t.kt, ValueRange{d, c});
        });
      });
    }
    // Where row d of K^T for this block starts.
    auto keyVector = [&](Value d, int64_t n) -> Value {
      if (key.keysPerBlock())
        return vector::LoadOp::create(b, vt, t.kt,
                                      ValueRange{d, e.idx(n * vw)});
      return vector::LoadOp::create(b, vt, key.transposed,
                                    ValueRange{bi, kvh, kb, d, e.idx(n * vw)});
    };

    // Lanes past the last key (when blocks can be partial) and the
    // causal/window bounds are masked, on vectors of i32 key indices.
    bool partialBlocks = ShapedType::isDynamic(p.keyLen) || p.paged() ||
                         p.keyLen % p.blockK != 0 || t.paddedKeys != p.blockK;
    SmallVector<int32_t> laneIds;
    for (int64_t lane = 0; lane < vw; ++lane)
      laneIds.push_back(static_cast<int32_t>(lane));
    auto vi32 = VectorType::get({vw}, i32);
    Value iota = arith::ConstantOp::create(
        b, DenseElementsAttr::get(vi32, ArrayRef<int32_t>(laneIds)));
    auto asI32 = [&](Value index) {
      return arith::IndexCastOp::create(b, i32, index).getResult();
    };
    auto splat = [&](Value scalar) {
      return vector::BroadcastOp::create(b, vi32, scalar).getResult();
    };
    // (Lanes past block_k read zero-padded keys of this block, not the next
    // block's, so the limit is the block's end.)
    Value limitV = partialBlocks ? splat(asI32(e.add(k0, cols))) : Value();
    Value k0V = splat(asI32(k0));
    Value negInfV = vector::BroadcastOp::create(b, vt, e.negInf());

    // S = Q K^T, `rb` rows at a time: broadcast q[r][d] and FMA it into the key
    // lanes.
    int64_t rb = rowBlock(nv);
    e.forLoop(e.idx(0), paddedRows, rb, [&](Value r0) {
      Value zero =
          arith::ConstantOp::create(b, DenseElementsAttr::get(vt, 0.0f));
      SmallVector<Value> init(rb * nv, zero);
      SmallVector<Value> s =
          e.forLoop(e.idx(0), e.idx(p.headDim), 1, init,
                    [&](Value d, ValueRange it) -> SmallVector<Value> {
                      SmallVector<Value> ktv;
                      for (int64_t n = 0; n < nv; ++n)
                        ktv.push_back(keyVector(d, n));
                      SmallVector<Value> next(it.begin(), it.end());
                      for (int64_t rr = 0; rr < rb; ++rr) {
                        Value qv = memref::LoadOp::create(
                            b, t.qs, ValueRange{e.add(r0, e.idx(rr)), d});
                        Value qb = vector::BroadcastOp::create(b, vt, qv);
                        for (int64_t n = 0; n < nv; ++n)
                          next[rr * nv + n] = vector::FMAOp::create(
                              b, qb, ktv[n], next[rr * nv + n]);
                      }
                      return next;
                    });
      // Per row: mask, online-softmax update, and P for the P V step.
      for (int64_t rr = 0; rr < rb; ++rr) {
        Value r = e.add(r0, e.idx(rr));
        Value diag = splat(asI32(emitDiagonal(e, item, e.add(q0, r))));
        Value rowMax;
        SmallVector<Value> row;
        for (int64_t n = 0; n < nv; ++n) {
          Value sv = s[rr * nv + n];
          Value j = arith::AddIOp::create(
              b, k0V, arith::AddIOp::create(b, splat(e.i32(n * vw)), iota));
          if (Value visible = emitVisible(e, p, diag, j, limitV))
            sv = e.select(visible, sv, negInfV);
          row.push_back(sv);
          rowMax = rowMax ? e.maxf(rowMax, sv) : sv;
        }
        Value mx = vector::ReductionOp::create(
            b, vector::CombiningKind::MAXIMUMF, rowMax);
        Value mOld = memref::LoadOp::create(b, t.m, ValueRange{r});
        SoftmaxStep step = emitSoftmaxStep(
            e, mOld, mx, [&](Value x) { return math::ExpOp::create(b, x); });
        Value mSafeV = vector::BroadcastOp::create(b, vt, step.origin);
        Value pSum;
        for (int64_t n = 0; n < nv; ++n) {
          Value pv = math::ExpOp::create(b, e.sub(row[n], mSafeV));
          vector::StoreOp::create(b, pv, t.probs, ValueRange{r, e.idx(n * vw)});
          pSum = pSum ? e.add(pSum, pv) : pv;
        }
        Value sum =
            vector::ReductionOp::create(b, vector::CombiningKind::ADD, pSum);
        Value lOld = memref::LoadOp::create(b, t.l, ValueRange{r});
        memref::StoreOp::create(b, e.add(e.mul(step.alpha, lOld), sum), t.l,
                                ValueRange{r});
        memref::StoreOp::create(b, step.max, t.m, ValueRange{r});
        memref::StoreOp::create(b, step.alpha, t.alpha, ValueRange{r});
      }
    });

    // acc = alpha acc + P V, `rv` rows at a time: each V row is loaded once per
    // row block.
    int64_t nvd = numChunks(p.valueDim);
    int64_t rv = rowBlock(nvd);
    e.forLoop(e.idx(0), paddedRows, rv, [&](Value r0) {
      SmallVector<Value> accRows;
      for (int64_t rr = 0; rr < rv; ++rr) {
        Value r = e.add(r0, e.idx(rr));
        Value alpha = memref::LoadOp::create(b, t.alpha, ValueRange{r});
        for (int64_t k = 0; k < nvd; ++k) {
          auto ct = VectorType::get({chunkWidth(p.valueDim, k)}, f32);
          Value a = vector::LoadOp::create(b, ct, t.acc,
                                           ValueRange{r, e.idx(k * vw)});
          accRows.push_back(
              e.mul(a, vector::BroadcastOp::create(b, ct, alpha)));
        }
      }
      accRows = e.forLoop(
          e.idx(0), cols, 1, accRows,
          [&](Value c, ValueRange it) -> SmallVector<Value> {
            SmallVector<Value> vrow =
                loadKVRow(e, value, bi, kvh, e.add(k0, c), c);
            SmallVector<Value> next(it.begin(), it.end());
            for (int64_t rr = 0; rr < rv; ++rr) {
              Value pj = memref::LoadOp::create(
                  b, t.probs, ValueRange{e.add(r0, e.idx(rr)), c});
              for (int64_t k = 0; k < nvd; ++k) {
                Value pb =
                    vector::BroadcastOp::create(b, vrow[k].getType(), pj);
                next[rr * nvd + k] =
                    vector::FMAOp::create(b, pb, vrow[k], next[rr * nvd + k]);
              }
            }
            return next;
          });
      for (int64_t rr = 0; rr < rv; ++rr)
        for (int64_t k = 0; k < nvd; ++k)
          vector::StoreOp::create(
              b, accRows[rr * nvd + k], t.acc,
              ValueRange{e.add(r0, e.idx(rr)), e.idx(k * vw)});
    });
  }

  LoopLoweringOptions options;
  /// The sizes of the op being rewritten.
  mutable AttentionSizes sizes;
  /// Paged: kv_lens [B] (i32).
  mutable Value lens;
  /// Ragged: cu_seqlens_q and cu_seqlens_k [B + 1] (i32).
  mutable Value cuQ, cuK;

  /// Where a static topology's tables are created (the enclosing module).
  mutable Operation *topologyScope = nullptr;
};

} // namespace

void mlir::tessera::populateAttentionToLoopsPatterns(
    const TypeConverter &converter, RewritePatternSet &patterns,
    const LoopLoweringOptions &options) {
  patterns.add<AttentionLowering>(converter, patterns.getContext(), options);
}

//===- AttentionToLoops.cpp - tessera.attention -> online-softmax loops ----===//
//
// FlashAttention-2 on the CPU: one parallel iteration per (batch, query head, query block);
// inside it, a loop over the visible key blocks that keeps, per query row, the running max m,
// the running sum l and the output accumulator acc:
//   m' = max(m, rowmax(S));  P = exp(S - m');  l' = exp(m - m') l + rowsum(P);
//   acc' = exp(m - m') acc + P V.
// Only one row of block_k scores exists at a time; the Sq x Skv matrix never does.
//
//===----------------------------------------------------------------------===//
#include "tessera/Conversion/AttentionSchedule.h"
#include "tessera/Conversion/QuantCodec.h"
#include "tessera/Conversion/TesseraToLoops.h"

#include "Tessera/TesseraOps.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::tessera;

namespace {

/// Where the rows of K or V are read from: the operand itself (f32, read in place), or a
/// per-tile f32 scratch buffer filled by converting (bf16/f16) or unpacking (qtensor) the
/// block's rows once, so the conversion is not repeated for every query row.
struct KVSource {
  SmallVector<Value> parts;              ///< memrefs: the tensor, or the qtensor components
  std::unique_ptr<QuantCodec> codec;     ///< set for packed operands
  Type elementType;                      ///< logical element type
  int64_t dim;                           ///< head dim of this operand
  Value scratch;                         ///< [blockK, dim] f32, when staged

  bool staged() const { return codec || !elementType.isF32(); }
};

class AttentionLowering : public OpConversionPattern<AttentionOp> {
public:
  AttentionLowering(const TypeConverter &converter, MLIRContext *ctx,
                    const LoopLoweringOptions &options)
      : OpConversionPattern(converter, ctx), options(options) {}

  LogicalResult matchAndRewrite(AttentionOp op, OneToNOpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    FailureOr<AttentionProblem> problem = AttentionProblem::get(op);
    if (failed(problem))
      return failure();
    const AttentionProblem &p = *problem;
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Emitter e(b);

    KVSource key, value;
    if (failed(prepare(op, b, op.getKey(), adaptor.getKey(), key)) ||
        failed(prepare(op, b, op.getValue(), adaptor.getValue(), value)))
      return failure();
    Value q = emitToBuffer(b, b.getLoc(), adaptor.getQuery().front());
    Value mask = op.getMask() ? emitToBuffer(b, b.getLoc(), adaptor.getMask().front()) : Value();

    Type elt = op.getQuery().getType().getElementType();
    auto outType = MemRefType::get({p.batch, p.queryHeads, p.queryLen, p.valueDim}, elt);
    auto lseType = MemRefType::get({p.batch, p.queryHeads, p.queryLen}, b.getF32Type());
    Value out = memref::AllocOp::create(b, outType);
    Value lse = memref::AllocOp::create(b, lseType);

    auto par = scf::ParallelOp::create(
        b, ValueRange{e.idx(0), e.idx(0), e.idx(0)},
        ValueRange{e.idx(p.batch), e.idx(p.queryHeads), e.idx(p.numQueryBlocks)},
        ValueRange{e.idx(1), e.idx(1), e.idx(1)});
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(par.getBody());
      SmallVector<Value> ivs(par.getInductionVars());
      emitQueryBlock(e, p, ivs[0], ivs[1], ivs[2], q, key, value, mask, out, lse);
    }

    rewriter.replaceOp(op, {emitToTensor(b, b.getLoc(), out), emitToTensor(b, b.getLoc(), lse)});
    return success();
  }

private:
  LogicalResult prepare(AttentionOp op, ImplicitLocOpBuilder &b, Value original,
                        ValueRange converted, KVSource &src) const {
    auto shaped = cast<ShapedType>(original.getType());
    src.elementType = shaped.getElementType();
    src.dim = shaped.getShape().back();
    if (auto packed = dyn_cast<QTensorType>(original.getType())) {
      FailureOr<std::unique_ptr<QuantCodec>> codec =
          QuantCodec::get(packed, [&] { return op.emitOpError(); });
      if (failed(codec))
        return failure();
      src.codec = std::move(*codec);
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
  Value loadVec(Emitter &e, Value mem, ArrayRef<Value> prefix, int64_t d0, int64_t width) const {
    ImplicitLocOpBuilder &b = e.builder();
    auto memType = cast<MemRefType>(mem.getType());
    SmallVector<Value> indices(prefix);
    indices.push_back(e.idx(d0));
    Value v = vector::LoadOp::create(b, VectorType::get({width}, memType.getElementType()), mem,
                                     indices);
    return e.toF32(v);
  }

  /// Reads row `j` (absolute key index) of a K/V source as f32 vector chunks.
  SmallVector<Value> loadKVRow(Emitter &e, const KVSource &src, Value bi, Value kvh, Value j,
                               Value c) const {
    SmallVector<Value> chunks;
    for (int64_t k = 0, n = numChunks(src.dim); k < n; ++k) {
      int64_t d0 = k * options.vectorWidth;
      if (src.staged())
        chunks.push_back(loadVec(e, src.scratch, {c}, d0, chunkWidth(src.dim, k)));
      else
        chunks.push_back(loadVec(e, src.parts[0], {bi, kvh, j}, d0, chunkWidth(src.dim, k)));
    }
    return chunks;
  }

  /// Fills the scratch tile of a staged source with rows [k0, k0 + cols).
  void stageBlock(Emitter &e, const KVSource &src, Value bi, Value kvh, Value k0,
                  Value cols) const {
    ImplicitLocOpBuilder &b = e.builder();
    e.forLoop(e.idx(0), cols, 1, [&](Value c) {
      Value j = e.add(k0, c);
      if (src.codec) {
        src.codec->emitUnpackRow(e, src.parts, {bi, kvh, j}, src.scratch, {c});
        return;
      }
      for (int64_t k = 0, n = numChunks(src.dim); k < n; ++k) {
        int64_t d0 = k * options.vectorWidth;
        Value v = loadVec(e, src.parts[0], {bi, kvh, j}, d0, chunkWidth(src.dim, k));
        vector::StoreOp::create(b, v, src.scratch, ValueRange{c, e.idx(d0)});
      }
    });
  }

  void emitQueryBlock(Emitter &e, const AttentionProblem &p, Value bi, Value h, Value qb,
                      Value q, KVSource &key, KVSource &value, Value mask, Value out,
                      Value lse) const {
    ImplicitLocOpBuilder &b = e.builder();
    Type f32 = b.getF32Type();
    int64_t vw = options.vectorWidth;
    Value kvh = e.divui(h, e.idx(p.group));
    Value q0 = e.mul(qb, e.idx(p.blockQ));
    Value rows = e.minsi(e.idx(p.blockQ), e.sub(e.idx(p.queryLen), q0));

    // Per-row online-softmax state and the score row, on the stack of this iteration.
    int64_t paddedK = (p.blockK + vw - 1) / vw * vw;
    Value m = memref::AllocaOp::create(b, MemRefType::get({p.blockQ}, f32));
    Value l = memref::AllocaOp::create(b, MemRefType::get({p.blockQ}, f32));
    Value acc = memref::AllocaOp::create(b, MemRefType::get({p.blockQ, p.valueDim}, f32));
    Value scores = memref::AllocaOp::create(b, MemRefType::get({paddedK}, f32));
    if (key.staged())
      key.scratch = memref::AllocaOp::create(b, MemRefType::get({p.blockK, p.headDim}, f32));
    if (value.staged())
      value.scratch = memref::AllocaOp::create(b, MemRefType::get({p.blockK, p.valueDim}, f32));

    e.forLoop(e.idx(0), e.idx(p.blockQ), 1, [&](Value r) {
      memref::StoreOp::create(b, e.negInf(), m, ValueRange{r});
      memref::StoreOp::create(b, e.f32(0), l, ValueRange{r});
      for (int64_t k = 0, n = numChunks(p.valueDim); k < n; ++k) {
        auto vt = VectorType::get({chunkWidth(p.valueDim, k)}, f32);
        Value zero = arith::ConstantOp::create(b, DenseElementsAttr::get(vt, 0.0f));
        vector::StoreOp::create(b, zero, acc, ValueRange{r, e.idx(k * vw)});
      }
    });

    auto [kbBegin, kbEnd] = emitKeyBlockRange(e, p, q0, rows);
    e.forLoop(kbBegin, kbEnd, 1, [&](Value kb) {
      auto processBlock = [&] {
        emitKeyBlock(e, p, bi, h, kvh, q0, rows, kb, q, key, value, m, l, acc, scores);
      };
      if (!mask)
        return processBlock();
      // A key block whose mask bit is 0 is skipped entirely: that is where sparsity pays.
      e.ifThen(emitMaskBit(e, p, mask, bi, h, kvh, qb, kb), processBlock);
    });

    // O = acc / l and LSE = m + log(l); a row that saw no key gives O = 0, LSE = -inf.
    Type elt = cast<MemRefType>(out.getType()).getElementType();
    e.forLoop(e.idx(0), rows, 1, [&](Value r) {
      Value i = e.add(q0, r);
      Value lr = memref::LoadOp::create(b, l, ValueRange{r});
      Value mr = memref::LoadOp::create(b, m, ValueRange{r});
      Value any = e.cmpf(arith::CmpFPredicate::OGT, lr, e.f32(0));
      Value inv = e.select(any, arith::DivFOp::create(b, e.f32(1), lr), e.f32(0));
      for (int64_t k = 0, n = numChunks(p.valueDim); k < n; ++k) {
        int64_t w = chunkWidth(p.valueDim, k);
        auto vt = VectorType::get({w}, f32);
        Value a = vector::LoadOp::create(b, vt, acc, ValueRange{r, e.idx(k * vw)});
        Value o = e.mul(a, vector::BroadcastOp::create(b, vt, inv));
        vector::StoreOp::create(b, e.fromF32(o, elt), out, ValueRange{bi, h, i, e.idx(k * vw)});
      }
      Value logSum = e.add(mr, math::LogOp::create(b, e.select(any, lr, e.f32(1))));
      memref::StoreOp::create(b, e.select(any, logSum, e.negInf()), lse, ValueRange{bi, h, i});
    });
  }

  void emitKeyBlock(Emitter &e, const AttentionProblem &p, Value bi, Value h, Value kvh,
                    Value q0, Value rows, Value kb, Value q, const KVSource &key,
                    const KVSource &value, Value m, Value l, Value acc, Value scores) const {
    ImplicitLocOpBuilder &b = e.builder();
    Type f32 = b.getF32Type();
    int64_t vw = options.vectorWidth;
    Value k0 = e.mul(kb, e.idx(p.blockK));
    Value cols = e.minsi(e.idx(p.blockK), e.sub(e.idx(p.keyLen), k0));
    if (key.staged())
      stageBlock(e, key, bi, kvh, k0, cols);
    if (value.staged())
      stageBlock(e, value, bi, kvh, k0, cols);
    int64_t paddedK = cast<MemRefType>(scores.getType()).getDimSize(0);
    auto vtK = VectorType::get({vw}, f32);

    e.forLoop(e.idx(0), rows, 1, [&](Value r) {
      Value i = e.add(q0, r);
      // The query row, pre-scaled, stays in registers for the whole key block.
      SmallVector<Value> qrow;
      for (int64_t k = 0, n = numChunks(p.headDim); k < n; ++k) {
        int64_t w = chunkWidth(p.headDim, k);
        Value v = loadVec(e, q, {bi, h, i}, k * vw, w);
        qrow.push_back(e.mul(v, vector::BroadcastOp::create(b, VectorType::get({w}, f32),
                                                            e.f32(p.scale))));
      }
      // Scores s_j = scale q . k_j for the block (masked keys get -inf), and their max.
      // Slots past `cols` stay -inf so the vectorised exp below gives 0 there.
      e.forLoop(e.idx(0), e.idx(paddedK), vw, [&](Value c) {
        vector::StoreOp::create(b, vector::BroadcastOp::create(b, vtK, e.negInf()), scores,
                                ValueRange{c});
      });
      Value rowMax = e.forLoop(e.idx(0), cols, 1, {e.negInf()},
                               [&](Value c, ValueRange it) -> SmallVector<Value> {
        Value j = e.add(k0, c);
        SmallVector<Value> krow = loadKVRow(e, key, bi, kvh, j, c);
        // Full-width chunks accumulate lane-wise (one FMA each) and reduce once; a narrower
        // tail chunk reduces on its own.
        Value lanes, tail;
        for (auto [qv, kv] : llvm::zip(qrow, krow)) {
          if (cast<VectorType>(qv.getType()).getDimSize(0) == vw) {
            lanes = lanes ? Value(vector::FMAOp::create(b, qv, kv, lanes)) : e.mul(qv, kv);
            continue;
          }
          tail = vector::ReductionOp::create(b, vector::CombiningKind::ADD, e.mul(qv, kv));
        }
        Value dot = lanes ? vector::ReductionOp::create(b, vector::CombiningKind::ADD, lanes)
                                .getResult()
                          : tail;
        if (lanes && tail)
          dot = e.add(dot, tail);
        if (Value visible = emitVisible(e, p, i, j))
          dot = e.select(visible, dot, e.negInf());
        memref::StoreOp::create(b, dot, scores, ValueRange{c});
        return {e.maxf(it[0], dot)};
      }).front();

      Value mOld = memref::LoadOp::create(b, m, ValueRange{r});
      Value mNew = e.maxf(mOld, rowMax);
      // Nothing visible yet in this row: its state stays (-inf, 0, 0).
      e.ifThen(e.cmpf(arith::CmpFPredicate::OGT, mNew, e.negInf()), [&] {
        Value alpha = math::ExpOp::create(b, e.sub(mOld, mNew));
        // P = exp(S - m') over the whole (padded) row, vectorised; its sum.
        Value mNewV = vector::BroadcastOp::create(b, vtK, mNew);
        Value pSum = e.forLoop(e.idx(0), e.idx(paddedK), vw, {e.f32(0)},
                               [&](Value c, ValueRange it) -> SmallVector<Value> {
          Value s = vector::LoadOp::create(b, vtK, scores, ValueRange{c});
          Value pv = math::ExpOp::create(b, e.sub(s, mNewV));
          vector::StoreOp::create(b, pv, scores, ValueRange{c});
          Value part = vector::ReductionOp::create(b, vector::CombiningKind::ADD, pv);
          return {e.add(it[0], part)};
        }).front();
        // acc = alpha acc + P V, the accumulator row held in registers across the block.
        SmallVector<Value> accRow;
        for (int64_t k = 0, n = numChunks(p.valueDim); k < n; ++k) {
          auto vt = VectorType::get({chunkWidth(p.valueDim, k)}, f32);
          Value a = vector::LoadOp::create(b, vt, acc, ValueRange{r, e.idx(k * vw)});
          accRow.push_back(e.mul(a, vector::BroadcastOp::create(b, vt, alpha)));
        }
        accRow = e.forLoop(e.idx(0), cols, 1, accRow,
                           [&](Value c, ValueRange it) -> SmallVector<Value> {
          Value pj = memref::LoadOp::create(b, scores, ValueRange{c});
          SmallVector<Value> vrow = loadKVRow(e, value, bi, kvh, e.add(k0, c), c);
          SmallVector<Value> next;
          for (auto [a, v] : llvm::zip(it, vrow)) {
            Value pjv = vector::BroadcastOp::create(b, v.getType(), pj);
            next.push_back(vector::FMAOp::create(b, pjv, v, a));
          }
          return next;
        });
        for (int64_t k = 0, n = numChunks(p.valueDim); k < n; ++k)
          vector::StoreOp::create(b, accRow[k], acc, ValueRange{r, e.idx(k * vw)});
        Value lOld = memref::LoadOp::create(b, l, ValueRange{r});
        memref::StoreOp::create(b, e.add(e.mul(alpha, lOld), pSum), l, ValueRange{r});
        memref::StoreOp::create(b, mNew, m, ValueRange{r});
      });
    });
  }

  LoopLoweringOptions options;
};

} // namespace

void mlir::tessera::populateAttentionToLoopsPatterns(const TypeConverter &converter,
                                                     RewritePatternSet &patterns,
                                                     const LoopLoweringOptions &options) {
  patterns.add<AttentionLowering>(converter, patterns.getContext(), options);
}

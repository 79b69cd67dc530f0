//===- GradedMatmul.cpp - tessera.graded_matmul as two row phases ---------===//
//
// Bit allocation (ours, docs/graded-weights.md): the rank of |x_j| is counted
// directly (rank_j = #{i : |x_i| > |x_j|, or |x_i| == |x_j| and i < j}), an
// O(K^2) pass per row of x that needs no sort scratch (a GPU thread holds one
// row), and b_j = clamp(budget - rank_j * B, 0, B): the first floor(budget /
// B) channels by rank get B bits, the next the remainder, the rest none.
//
//===----------------------------------------------------------------------===//
#include "tessera/Conversion/GradedMatmul.h"

#include "Tessera/TesseraOps.h"

using namespace mlir;
using namespace mlir::tessera;

namespace {
SmallVector<Value> withLast(ValueRange lead, Value last) {
  SmallVector<Value> out(lead.begin(), lead.end());
  out.push_back(last);
  return out;
}
} // namespace

void mlir::tessera::emitGradedBitsRow(Emitter &e, Value x, ValueRange lead,
                                      Value bits, Value row, int64_t budget,
                                      int64_t maxBits) {
  ImplicitLocOpBuilder &b = e.builder();
  int64_t k = cast<MemRefType>(row.getType()).getShape().back();
  e.forLoop(e.idx(0), e.idx(k), 1, [&](Value j) {
    Value v = e.toF32(memref::LoadOp::create(b, x, withLast(lead, j)));
    memref::StoreOp::create(b, e.absF32(v), row, ValueRange{j});
  });
  e.forLoop(e.idx(0), e.idx(k), 1, [&](Value j) {
    Value aj = memref::LoadOp::create(b, row, ValueRange{j});
    Value rank =
        e.forLoop(e.idx(0), e.idx(k), 1, ValueRange{e.idx(0)},
                  [&](Value i, ValueRange it) -> SmallVector<Value> {
                    Value ai = memref::LoadOp::create(b, row, ValueRange{i});
                    Value larger = e.cmpf(arith::CmpFPredicate::OGT, ai, aj);
                    Value tieBefore = arith::AndIOp::create(
                        b, e.cmpf(arith::CmpFPredicate::OEQ, ai, aj),
                        e.cmpi(arith::CmpIPredicate::ult, i, j));
                    Value before = arith::OrIOp::create(b, larger, tieBefore);
                    return {e.add(it[0], e.select(before, e.idx(1), e.idx(0)))};
                  })
            .front();
    Value left = e.sub(e.idx(budget), e.mul(rank, e.idx(maxBits)));
    Value got = e.minsi(e.maxsi(left, e.idx(0)), e.idx(maxBits));
    memref::StoreOp::create(b,
                            arith::IndexCastOp::create(b, b.getI32Type(), got),
                            bits, withLast(lead, j));
  });
}

Value mlir::tessera::emitGradedDot(Emitter &e, const GradedCodec &codec,
                                   Value x, ValueRange lead, Value n,
                                   ValueRange parts, Value bits) {
  ImplicitLocOpBuilder &b = e.builder();
  Type f32 = b.getF32Type();
  int64_t k = codec.getType().getShape().back();
  return e
      .forLoop(
          e.idx(0), e.idx(k), 1, ValueRange{e.f32(0)},
          [&](Value j, ValueRange it) -> SmallVector<Value> {
            Value xj = e.toF32(memref::LoadOp::create(b, x, withLast(lead, j)));
            if (!bits)
              return {e.add(
                  it[0], e.mul(xj, codec.emitUnpackElement(e, parts, {n}, j)))};
            Value bj = arith::IndexCastOp::create(
                b, b.getIndexType(),
                memref::LoadOp::create(b, bits, withLast(lead, j)));
            // A channel given no bits is skipped: its planes are not read.
            auto read = scf::IfOp::create(
                b, TypeRange{f32},
                e.cmpi(arith::CmpIPredicate::sgt, bj, e.idx(0)),
                /*addThenBlock=*/true, /*addElseBlock=*/true);
            {
              OpBuilder::InsertionGuard guard(b);
              b.setInsertionPointToStart(&read.getThenRegion().front());
              Value w = codec.emitUnpackElementAt(e, parts, {n}, j, bj);
              scf::YieldOp::create(b, e.add(it[0], e.mul(xj, w)));
              b.setInsertionPointToStart(&read.getElseRegion().front());
              scf::YieldOp::create(b, it[0]);
            }
            return {read.getResult(0)};
          })
      .front();
}

namespace {

class GradedMatmulRows : public OpConversionPattern<GradedMatmulOp> {
public:
  GradedMatmulRows(const TypeConverter &converter, MLIRContext *ctx,
                   RowRunner runner)
      : OpConversionPattern(converter, ctx), runner(std::move(runner)) {}

  LogicalResult
  matchAndRewrite(GradedMatmulOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    // Shapes and the scheme were checked, with a diagnostic, before the
    // conversion started.
    QTensorType wType = op.getWeight().getType();
    GradedCodec codec(wType);
    RankedTensorType xType = op.getInput().getType();
    RankedTensorType yType = op.getOutput().getType();
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Value x = emitToBuffer(b, b.getLoc(), adaptor.getInput().front());
    SmallVector<Value> parts;
    for (Value part : adaptor.getWeight())
      parts.push_back(emitToBuffer(b, b.getLoc(), part));

    ArrayRef<int64_t> xLead = xType.getShape().drop_back();
    auto [lead, dynamicLead] = leadSizesOf(b, xType.getShape(), x);
    int64_t k = xType.getShape().back(), maxBits = codec.getBits();
    int64_t budget = op.getBitBudget();

    Value bits;
    if (budget < k * maxBits) {
      bits = memref::AllocOp::create(
          b, MemRefType::get(xType.getShape(), b.getI32Type()), dynamicLead);
      runner(b, op, "tessera_graded_bits", xLead, lead, k, {x, bits},
             [&](Emitter &e, ValueRange at, ValueRange args, Value row) {
               emitGradedBitsRow(e, args[0], at, args[1], row, budget, maxBits);
             });
    }

    // The rows of W are those of its table component ([N, 2^(B+1) - 2]).
    int64_t nStatic = wType.getShape().front();
    SmallVector<Value> outLead(lead), outDynamic(dynamicLead);
    if (ShapedType::isDynamic(nStatic)) {
      outDynamic.push_back(memref::DimOp::create(b, parts[1], 0));
      outLead.push_back(outDynamic.back());
    } else {
      outLead.push_back(arith::ConstantIndexOp::create(b, nStatic));
    }
    Value out = memref::AllocOp::create(
        b, MemRefType::get(yType.getShape(), yType.getElementType()),
        outDynamic);
    SmallVector<Value> operands{x};
    if (bits)
      operands.push_back(bits);
    llvm::append_range(operands, parts);
    operands.push_back(out);
    Type outElt = yType.getElementType();
    bool ranked = static_cast<bool>(bits);
    runner(b, op, "tessera_graded_matmul", yType.getShape(), outLead,
           /*rowLen=*/1, operands,
           [&](Emitter &e, ValueRange at, ValueRange args, Value) {
             ValueRange rowLead = at.drop_back();
             Value n = at.back();
             Value bitsArg = ranked ? args[1] : Value();
             ValueRange w = args.slice(ranked ? 2 : 1, 2);
             Value y = emitGradedDot(e, codec, args[0], rowLead, n, w, bitsArg);
             memref::StoreOp::create(e.builder(), e.fromF32(y, outElt),
                                     args.back(), at);
           });
    rewriter.replaceOp(op, emitToTensor(b, b.getLoc(), out));
    return success();
  }

private:
  RowRunner runner;
};

} // namespace

void mlir::tessera::populateGradedMatmulPatterns(const TypeConverter &converter,
                                                 RewritePatternSet &patterns,
                                                 RowRunner runner) {
  patterns.add<GradedMatmulRows>(converter, patterns.getContext(),
                                 std::move(runner));
}

//===- BitAllocate.cpp - tessera.bit_allocate as per-row IR ---------------===//
//
// Each row runs ALGORITHMS.md 4b's greedy loop as an scf.while: the before
// region scans the row's current gains for the first largest one and continues
// while bits are left in the budget and that gain is positive; the after
// region gives the winner one more bit and refreshes its gain alone. Gains are
// s * 2^(-2b), the power of two built from its exponent bits (exact, and no
// libm/libdevice call on either target), so the compiled op agrees bit for bit
// with tessera::allocateBits (Support/BitAllocation.h).
//
//===----------------------------------------------------------------------===//
#include "tessera/Conversion/BitAllocate.h"
#include "tessera/Support/BitAllocation.h"

#include "Tessera/TesseraOps.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"

using namespace mlir;
using namespace mlir::tessera;

namespace {

SmallVector<Value> withLast(ValueRange lead, Value last) {
  SmallVector<Value> out(lead.begin(), lead.end());
  out.push_back(last);
  return out;
}

/// The gain of a block with energy `s` (f32) at `bits` (i32): s * 4^(-bits),
/// or -1 once `bits` reaches `maxBits`.
Value emitGain(Emitter &e, Value s, Value bits, int64_t maxBits) {
  ImplicitLocOpBuilder &b = e.builder();
  // 4^(-bits) = 2^(-2 bits): biased exponent 127 - 2 bits, zero mantissa
  // (normal for every width up to 63).
  Value exponent = e.sub(e.i32(127), e.mul(bits, e.i32(2)));
  Value scale = arith::BitcastOp::create(
      b, b.getF32Type(), arith::ShLIOp::create(b, exponent, e.i32(23)));
  Value full = e.cmpi(arith::CmpIPredicate::sge, bits, e.i32(maxBits));
  return e.select(full, e.f32(-1.0), e.mul(s, scale));
}

} // namespace

void mlir::tessera::emitBitAllocateRow(Emitter &e, Value energies, Value bits,
                                       ValueRange lead, Value gains,
                                       double avgBits, int64_t minBits,
                                       int64_t maxBits) {
  ImplicitLocOpBuilder &b = e.builder();
  int64_t len = cast<MemRefType>(bits.getType()).getShape().back();
  Value lo = e.i32(minBits);
  e.forLoop(e.idx(0), e.idx(len), 1, [&](Value j) {
    memref::StoreOp::create(b, lo, bits, withLast(lead, j));
    Value s = memref::LoadOp::create(b, energies, withLast(lead, j));
    memref::StoreOp::create(b, emitGain(e, s, lo, maxBits), gains,
                            ValueRange{j});
  });
  // The budget counts every bit, the minBits each block starts with included.
  int64_t extra = ::tessera::bitBudget(len, avgBits) - len * minBits;
  if (extra <= 0)
    return;

  Type index = b.getIndexType();
  auto loop =
      scf::WhileOp::create(b, TypeRange{index, index}, ValueRange{e.idx(0)});
  OpBuilder::InsertionGuard guard(b);
  // Before: the first largest gain; go on while bits are left and it is
  // positive. -2 is below every gain (-1 at max bits), and a NaN gain never
  // compares greater, so it never wins.
  Block *before = b.createBlock(&loop.getBefore(), {}, {index}, {b.getLoc()});
  Value spent = before->getArgument(0);
  SmallVector<Value> best = e.forLoop(
      e.idx(0), e.idx(len), 1, ValueRange{e.f32(-2.0), e.idx(0)},
      [&](Value j, ValueRange state) -> SmallVector<Value> {
        Value g = memref::LoadOp::create(b, gains, ValueRange{j});
        Value better = e.cmpf(arith::CmpFPredicate::OGT, g, state[0]);
        return {e.select(better, g, state[0]), e.select(better, j, state[1])};
      });
  Value more = arith::AndIOp::create(
      b, e.cmpi(arith::CmpIPredicate::ult, spent, e.idx(extra)),
      e.cmpf(arith::CmpFPredicate::OGT, best[0], e.f32(0.0)));
  scf::ConditionOp::create(b, more, ValueRange{spent, best[1]});
  // After: one more bit for the winner, and its new gain.
  Block *after = b.createBlock(&loop.getAfter(), {}, {index, index},
                               {b.getLoc(), b.getLoc()});
  Value winner = after->getArgument(1);
  SmallVector<Value> at = withLast(lead, winner);
  Value next = e.add(memref::LoadOp::create(b, bits, at), e.i32(1));
  memref::StoreOp::create(b, next, bits, at);
  Value s = memref::LoadOp::create(b, energies, at);
  memref::StoreOp::create(b, emitGain(e, s, next, maxBits), gains,
                          ValueRange{winner});
  scf::YieldOp::create(b, ValueRange{e.add(after->getArgument(0), e.idx(1))});
}

namespace {

class BitAllocateRows : public OpConversionPattern<BitAllocateOp> {
public:
  BitAllocateRows(const TypeConverter &converter, MLIRContext *ctx,
                  RowRunner runner)
      : OpConversionPattern(converter, ctx), runner(std::move(runner)) {}

  LogicalResult
  matchAndRewrite(BitAllocateOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    // The row length is static (checked, with a diagnostic, before the
    // conversion started); leading dims may be run-time sizes.
    auto type = op.getBits().getType();
    ArrayRef<int64_t> shape = type.getShape();
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Value energies = emitToBuffer(b, b.getLoc(), adaptor.getEnergies());
    auto [lead, dynamicLead] = leadSizesOf(b, shape, energies);
    Value bits = memref::AllocOp::create(
        b, MemRefType::get(shape, type.getElementType()), dynamicLead);
    double avgBits = op.getAvgBits().convertToDouble();
    int64_t minBits = op.getMinBits(), maxBits = op.getMaxBits();
    runner(b, op, "tessera_bit_allocate", shape.drop_back(), lead, shape.back(),
           {energies, bits},
           [&](Emitter &e, ValueRange lead, ValueRange args, Value row) {
             emitBitAllocateRow(e, args[0], args[1], lead, row, avgBits,
                                minBits, maxBits);
           });
    rewriter.replaceOp(op, emitToTensor(b, b.getLoc(), bits));
    return success();
  }

private:
  RowRunner runner;
};

} // namespace

void mlir::tessera::populateBitAllocatePatterns(const TypeConverter &converter,
                                                RewritePatternSet &patterns,
                                                RowRunner runner) {
  patterns.add<BitAllocateRows>(converter, patterns.getContext(),
                                std::move(runner));
}

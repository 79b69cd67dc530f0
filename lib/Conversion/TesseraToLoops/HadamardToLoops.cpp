//===- HadamardToLoops.cpp - tessera.hadamard -> fast Walsh-Hadamard loops ===//
//
// Per row of the last dim: y = H diag(s) x / sqrt(D) (forward) or x = diag(s) H y / sqrt(D)
// (inverse), with H the Sylvester-ordered Hadamard matrix applied in log2(D) butterfly
// stages. The signs s are a compile-time constant derived from the seed (see
// tessera/Support/RandomSigns.h); without a seed there are none.
//
//===----------------------------------------------------------------------===//
#include "tessera/Conversion/TesseraToLoops.h"
#include "tessera/Conversion/EmitUtils.h"
#include "tessera/Support/RandomSigns.h"

#include "Tessera/TesseraOps.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/SymbolTable.h"

#include <cmath>

using namespace mlir;
using namespace mlir::tessera;

namespace {

/// A module-level constant holding the random signs of (seed, dim), created once.
Value getSigns(ImplicitLocOpBuilder &b, Operation *op, int64_t seed, int64_t dim) {
  auto module = op->getParentOfType<ModuleOp>();
  std::string name = "__tessera_hadamard_signs_" + std::to_string(dim) + "_" +
                     std::to_string(static_cast<uint64_t>(seed));
  auto type = MemRefType::get({dim}, b.getF32Type());
  if (!SymbolTable::lookupSymbolIn(module, name)) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(module.getBody());
    SmallVector<float> signs;
    for (int64_t i = 0; i < dim; ++i)
      signs.push_back(static_cast<float>(randomSign(static_cast<uint64_t>(seed), i)));
    auto init = DenseElementsAttr::get(RankedTensorType::get({dim}, b.getF32Type()),
                                       ArrayRef<float>(signs));
    memref::GlobalOp::create(b, name, b.getStringAttr("private"), type, init,
                             /*constant=*/true, /*alignment=*/IntegerAttr());
  }
  return memref::GetGlobalOp::create(b, type, name);
}

class HadamardLowering : public OpConversionPattern<HadamardOp> {
public:
  HadamardLowering(const TypeConverter &converter, MLIRContext *ctx,
                   const LoopLoweringOptions &options)
      : OpConversionPattern(converter, ctx), options(options) {}

  LogicalResult matchAndRewrite(HadamardOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    // The pass checked static shapes, with a diagnostic, before the conversion started.
    auto type = op.getInput().getType();
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Emitter e(b);
    int64_t d = type.getShape().back();
    Type elt = type.getElementType();
    Value in = emitToBuffer(b, b.getLoc(), adaptor.getInput());
    Value out = memref::AllocOp::create(b, MemRefType::get(type.getShape(), elt));
    Value signs = op.getSeed() ? getSigns(b, op, *op.getSeed(), d) : Value();
    bool inverse = op.getInverse();
    float norm = 1.0f / std::sqrt(static_cast<float>(d));

    e.parallelRows(type.getShape().drop_back(), [&](ValueRange lead) {
      Type f32 = b.getF32Type();
      Value buf = memref::AllocaOp::create(b, MemRefType::get({d}, f32));
      // Load the row in f32, with the signs first when going forward.
      e.forLoop(e.idx(0), e.idx(d), 1, [&](Value j) {
        SmallVector<Value> idx(lead);
        idx.push_back(j);
        Value x = e.toF32(memref::LoadOp::create(b, in, idx));
        if (signs && !inverse)
          x = e.mul(x, memref::LoadOp::create(b, signs, ValueRange{j}));
        memref::StoreOp::create(b, x, buf, ValueRange{j});
      });
      // Butterfly stages: (a, b) -> (a + b, a - b) for pairs h apart.
      for (int64_t h = 1; h < d; h *= 2) {
        int64_t width = std::min<int64_t>(h, options.vectorWidth);
        auto vt = VectorType::get({width}, f32);
        e.forLoop(e.idx(0), e.idx(d), 2 * h, [&](Value i) {
          e.forLoop(e.idx(0), e.idx(h), width, [&](Value j) {
            Value lo = e.add(i, j), hi = e.add(lo, e.idx(h));
            Value x = vector::LoadOp::create(b, vt, buf, ValueRange{lo});
            Value y = vector::LoadOp::create(b, vt, buf, ValueRange{hi});
            vector::StoreOp::create(b, e.add(x, y), buf, ValueRange{lo});
            vector::StoreOp::create(b, e.sub(x, y), buf, ValueRange{hi});
          });
        });
      }
      e.forLoop(e.idx(0), e.idx(d), 1, [&](Value j) {
        Value y = e.mul(memref::LoadOp::create(b, buf, ValueRange{j}), e.f32(norm));
        if (signs && inverse)
          y = e.mul(y, memref::LoadOp::create(b, signs, ValueRange{j}));
        SmallVector<Value> idx(lead);
        idx.push_back(j);
        memref::StoreOp::create(b, e.fromF32(y, elt), out, idx);
      });
    });
    rewriter.replaceOp(op, emitToTensor(b, b.getLoc(), out));
    return success();
  }

private:
  LoopLoweringOptions options;
};

} // namespace

void mlir::tessera::populateHadamardToLoopsPatterns(const TypeConverter &converter,
                                                    RewritePatternSet &patterns,
                                                    const LoopLoweringOptions &options) {
  patterns.add<HadamardLowering>(converter, patterns.getContext(), options);
}

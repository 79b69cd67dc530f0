//===- HadamardToLoops.cpp - tessera.hadamard -> fast Walsh-Hadamard loops ===//
//
// The rows of the last dim in an scf.parallel, each transformed by emitHadamardRow
// (Common/RowOps.cpp, shared with the GPU lowering).
//
//===----------------------------------------------------------------------===//
#include "tessera/Conversion/TesseraToLoops.h"
#include "tessera/Conversion/EmitUtils.h"
#include "tessera/Conversion/RowOps.h"

#include "Tessera/TesseraOps.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"

using namespace mlir;
using namespace mlir::tessera;

namespace {

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
    Operation *module = op->getParentOfType<ModuleOp>();
    Value signs = op.getSeed() ? emitHadamardSigns(e, module, *op.getSeed(), d) : Value();
    e.parallelRows(type.getShape().drop_back(), [&](ValueRange lead) {
      Value buf = memref::AllocaOp::create(b, MemRefType::get({d}, b.getF32Type()));
      emitHadamardRow(e, in, out, lead, buf, signs, op.getInverse(), options.vectorWidth);
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

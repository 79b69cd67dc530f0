//===- ConversionDriver.cpp - What every tessera lowering pass does -------===//
#include "tessera/Conversion/ConversionDriver.h"

#include "tessera/Conversion/QuantCodec.h"

#include "Tessera/TesseraOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Func/Transforms/FuncConversions.h"

using namespace mlir;
using namespace mlir::tessera;

LogicalResult mlir::tessera::checkShapesAndSchemes(Operation *op,
                                                   bool dynamicLead) {
  for (Type t :
       llvm::concat<Type>(op->getOperandTypes(), op->getResultTypes())) {
    auto shaped = dyn_cast<ShapedType>(t);
    if (shaped && !shaped.hasStaticShape() && !isa<AttentionOp>(op)) {
      if (!dynamicLead)
        return op->emitOpError()
               << "needs static shapes to be lowered here (the CPU lowering "
                  "takes run-time leading dims)";
      if (shaped.getRank() == 0 || shaped.isDynamicDim(shaped.getRank() - 1))
        return op->emitOpError()
               << "needs a static row length (the last dim) to be lowered; "
                  "got "
               << t;
    }
    if (auto packed = dyn_cast<QTensorType>(t))
      if (failed(QuantCodec::get(packed, [&] { return op->emitOpError(); })))
        return failure();
  }
  return success();
}
using namespace mlir::tessera;

void mlir::tessera::populateQTensorTypeConversions(TypeConverter &converter) {
  converter.addConversion([](Type type) { return type; });
  converter.addConversion(
      [](QTensorType type,
         SmallVectorImpl<Type> &results) -> std::optional<LogicalResult> {
        for (const auto &component : type.getStorageComponents())
          results.push_back(component.type);
        return success();
      });
}

LogicalResult mlir::tessera::lowerTesseraOps(
    ModuleOp module, function_ref<LogicalResult(Operation *)> check,
    function_ref<void(const TypeConverter &, RewritePatternSet &)> populate) {
  // Say plainly why an op cannot be lowered, once, rather than "failed to
  // legalize".
  WalkResult unsupported = module.walk([&](Operation *op) {
    if (isa<TesseraDialect>(op->getDialect()) && !isa<YieldOp>(op) &&
        failed(check(op)))
      return WalkResult::interrupt();
    return WalkResult::advance();
  });
  if (unsupported.wasInterrupted())
    return failure();

  MLIRContext *ctx = module.getContext();
  TypeConverter converter;
  populateQTensorTypeConversions(converter);
  RewritePatternSet patterns(ctx);
  populate(converter, patterns);
  populateFunctionOpInterfaceTypeConversionPattern<func::FuncOp>(patterns,
                                                                 converter);
  populateCallOpTypeConversionPattern(patterns, converter);
  populateReturnOpTypeConversionPattern(patterns, converter);

  ConversionTarget target(*ctx);
  target.addIllegalDialect<TesseraDialect>();
  target.addDynamicallyLegalOp<func::FuncOp>([&](func::FuncOp op) {
    return converter.isSignatureLegal(op.getFunctionType()) &&
           converter.isLegal(&op.getBody());
  });
  target.markUnknownOpDynamicallyLegal(
      [&](Operation *op) { return converter.isLegal(op); });
  return applyPartialConversion(module, target, std::move(patterns));
}

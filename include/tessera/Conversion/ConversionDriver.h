//===- ConversionDriver.h - What every tessera lowering does ----*- C++ -*-===//
#ifndef TESSERA_CONVERSION_CONVERSIONDRIVER_H
#define TESSERA_CONVERSION_CONVERSIONDRIVER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::tessera {

/// Tensors stay; a !tessera.qtensor becomes its storage components (one tensor
/// each).
void populateQTensorTypeConversions(TypeConverter &converter);

/// The checks every lowering shares, with one located diagnostic: static shapes
/// on the operands and results (attention reports its own, through
/// AttentionProblem::get) and a codec for every packed scheme.
/// With `dynamicLead`, the row ops (hadamard, quantize, dequantize) may have
/// run-time leading dims (the row length stays static); attention's shapes are
/// checked by AttentionProblem::get.
LogicalResult checkShapesAndSchemes(Operation *op, bool dynamicLead = false);

/// Lowers every tessera op of `module`: first `check` runs on each tessera op
/// (except tessera.yield) and reports, once and located, why one cannot be
/// lowered; then the patterns from `populate` run with the qtensor type
/// converter, function signatures converted too, and every tessera op illegal.
LogicalResult lowerTesseraOps(
    ModuleOp module, function_ref<LogicalResult(Operation *)> check,
    function_ref<void(const TypeConverter &, RewritePatternSet &)> populate);

} // namespace mlir::tessera

#endif // TESSERA_CONVERSION_CONVERSIONDRIVER_H

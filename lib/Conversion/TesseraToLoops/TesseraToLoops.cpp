//===- TesseraToLoops.cpp - The convert-tessera-to-loops pass -------------===//
#include "tessera/Conversion/TesseraToLoops.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "tessera/Conversion/AttentionSchedule.h"
#include "tessera/Conversion/BlockSelect.h"
#include "tessera/Conversion/ConversionDriver.h"
#include "tessera/Conversion/Evict.h"
#include "tessera/Conversion/GradedMatmul.h"
#include "tessera/Conversion/QuantCodec.h"
#include "tessera/Passes.h"

#include "Tessera/TesseraOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::tessera {
#define GEN_PASS_DEF_CONVERTTESSERATOLOOPS
#include "Tessera/Passes.h.inc"
} // namespace mlir::tessera

using namespace mlir;
using namespace mlir::tessera;

namespace {

/// Checks, with one diagnostic on failure, that the loop lowering handles `op`:
/// its kind (the ops of later stages are not lowered yet), static shapes, and
/// the schemes of packed values.
LogicalResult checkLowerable(Operation *op) {
  if (isa<BlockSelectOp>(op))
    return checkBlockSelectLowerable(op);
  if (!isa<AttentionOp, HadamardOp, QuantizeOp, DequantizeOp, KVWriteOp,
           BitAllocateOp, GradedMatmulOp, EvictOp>(op))
    return op->emitOpError() << "has no CPU (loop) lowering yet";
  if (isa<EvictOp>(op))
    return checkEvictLowerable(op);
  if (auto attention = dyn_cast<AttentionOp>(op))
    if (failed(AttentionProblem::get(attention)))
      return failure();
  return checkShapesAndSchemes(op, /*dynamicLead=*/true);
}

struct ConvertTesseraToLoopsPass
    : public tessera::impl::ConvertTesseraToLoopsBase<
          ConvertTesseraToLoopsPass> {
  using Base::Base;

  void runOnOperation() override {
    LoopLoweringOptions options;
    options.vectorWidth = vectorWidth;
    if (options.vectorWidth < 1) {
      getOperation().emitError()
          << "vector-width (" << vectorWidth << ") must be positive";
      return signalPassFailure();
    }
    auto populate = [&](const TypeConverter &converter,
                        RewritePatternSet &patterns) {
      populateAttentionToLoopsPatterns(converter, patterns, options);
      populateRowOpsToLoopsPatterns(converter, patterns, options);
      populateGradedMatmulToLoopsPatterns(converter, patterns);
      populateEvictToLoopsPatterns(converter, patterns);
    };
    if (failed(lowerTesseraOps(getOperation(), checkLowerable, populate)))
      signalPassFailure();
  }
};

} // namespace

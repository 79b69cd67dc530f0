//===- ExpandMath.cpp - The tessera-expand-math pass ----------------------===//
#include "tessera/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Approximation.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::tessera {
#define GEN_PASS_DEF_TESSERAEXPANDMATH
#include "Tessera/Passes.h.inc"
} // namespace mlir::tessera

using namespace mlir;

namespace {
struct TesseraExpandMathPass
    : public tessera::impl::TesseraExpandMathBase<TesseraExpandMathPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    MathPolynomialApproximationOptions approx;
    approx.enableAvx2 = false;
    populateMathPolynomialApproximationPatterns(patterns, approx);
    arith::populateExpandBFloat16Patterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

//===- GradedMatmulToLoops.cpp - tessera.graded_matmul -> parallel loops --===//
//
// Both phases of Common/GradedMatmul.cpp in an scf.parallel: the bits phase
// over the rows of x (each with a per-iteration f32 scratch row of K), the dot
// phase over every output element.
//
//===----------------------------------------------------------------------===//
#include "tessera/Conversion/GradedMatmul.h"

using namespace mlir;
using namespace mlir::tessera;

void mlir::tessera::populateGradedMatmulToLoopsPatterns(
    const TypeConverter &converter, RewritePatternSet &patterns) {
  RowRunner cpuRows = [](ImplicitLocOpBuilder &b, Operation *, StringRef,
                         ArrayRef<int64_t>, ValueRange leadSizes,
                         int64_t rowLen, ArrayRef<Value> operands,
                         RowBody body) {
    Emitter e(b);
    e.parallelRows(leadSizes, [&](ValueRange lead) {
      Value row = memref::AllocaOp::create(
          b, MemRefType::get({rowLen}, b.getF32Type()));
      body(e, lead, operands, row);
    });
  };
  populateGradedMatmulPatterns(converter, patterns, cpuRows);
}

//===- RowOpsToLoops.cpp - Row-wise tessera ops -> row loops --------------===//
//
// The rows of the last dim in an scf.parallel, each through a per-iteration f32
// scratch row, running the row bodies of Common/RowOps.cpp and
// Common/BitAllocate.cpp (shared with the GPU lowering).
//
//===----------------------------------------------------------------------===//
#include "tessera/Conversion/BitAllocate.h"
#include "tessera/Conversion/BlockSelect.h"
#include "tessera/Conversion/RowOps.h"
#include "tessera/Conversion/TesseraToLoops.h"

using namespace mlir;
using namespace mlir::tessera;

void mlir::tessera::populateRowOpsToLoopsPatterns(
    const TypeConverter &converter, RewritePatternSet &patterns,
    const LoopLoweringOptions &options) {
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
  populateRowOpPatterns(converter, patterns, cpuRows, options.vectorWidth);
  populateBitAllocatePatterns(converter, patterns, cpuRows);
  populateBlockSelectPatterns(converter, patterns, cpuRows,
                              /*hostChecks=*/true);
}

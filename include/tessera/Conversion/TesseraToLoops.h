//===- TesseraToLoops.h - Lowering tessera ops to loops (CPU) ---*- C++ -*-===//
#ifndef TESSERA_CONVERSION_TESSERATOLOOPS_H
#define TESSERA_CONVERSION_TESSERATOLOOPS_H

#include "tessera/Conversion/EmitUtils.h"

#include "mlir/Transforms/DialectConversion.h"

namespace mlir::tessera {

/// Options shared by the loop lowerings.
struct LoopLoweringOptions {
  /// f32 lanes per vector operation.
  int64_t vectorWidth = 16;
};

/// tessera.attention -> tiled online-softmax loops (AttentionToLoops.cpp).
void populateAttentionToLoopsPatterns(const TypeConverter &converter,
                                      RewritePatternSet &patterns,
                                      const LoopLoweringOptions &options);
/// tessera.hadamard (fast Walsh-Hadamard butterflies), quantize and dequantize
/// (codec loops): rows in an scf.parallel (RowOpsToLoops.cpp, bodies in
/// Common/RowOps.cpp).
void populateRowOpsToLoopsPatterns(const TypeConverter &converter,
                                   RewritePatternSet &patterns,
                                   const LoopLoweringOptions &options);

} // namespace mlir::tessera

#endif // TESSERA_CONVERSION_TESSERATOLOOPS_H

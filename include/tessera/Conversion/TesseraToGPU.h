//===- TesseraToGPU.h - Lowering tessera ops to GPU kernels ------*- C++ -*-===//
#ifndef TESSERA_CONVERSION_TESSERATOGPU_H
#define TESSERA_CONVERSION_TESSERATOGPU_H

#include "tessera/Conversion/EmitUtils.h"

#include "mlir/Transforms/DialectConversion.h"

namespace mlir::tessera {

/// tessera.attention -> a tensor-core FlashAttention-2 kernel in the module's
/// `tessera_kernels` gpu.module and a gpu.launch_func on the host (AttentionToGPU.cpp).
void populateAttentionToGPUPatterns(const TypeConverter &converter, RewritePatternSet &patterns);

} // namespace mlir::tessera

#endif // TESSERA_CONVERSION_TESSERATOGPU_H

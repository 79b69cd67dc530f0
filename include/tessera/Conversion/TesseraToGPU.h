//===- TesseraToGPU.h - Lowering tessera ops to GPU kernels -----*- C++ -*-===//
#ifndef TESSERA_CONVERSION_TESSERATOGPU_H
#define TESSERA_CONVERSION_TESSERATOGPU_H

#include "tessera/Conversion/EmitUtils.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::tessera {

/// The module's `tessera_kernels` gpu.module, created on first use (and the
/// module marked gpu.container_module).
gpu::GPUModuleOp getOrCreateKernelModule(OpBuilder &b, ModuleOp module);
/// `<stem>_<n>` with n the number of kernels already in `kernels` (unique in
/// it).
std::string uniqueKernelName(gpu::GPUModuleOp kernels, StringRef stem);
/// How a host buffer is passed to a kernel: itself when its shape is static,
/// else its base pointer (memref<1xT>; the kernel rebuilds the view from size
/// arguments).
Type kernelArgType(Value buffer);
/// Inside a kernel: the view of `pointer` (a base pointer, kernelArgType) as
/// `type`'s shape with row-major strides; `dims` gives every dim's size (the
/// static ones are taken from `type`).
Value emitRowMajorView(Emitter &e, Value pointer, MemRefType type,
                       ArrayRef<Value> dims);
/// The host operands that pass `buffers` as `types` (kernelArgType).
SmallVector<Value> kernelOperands(ImplicitLocOpBuilder &b, ValueRange buffers,
                                  TypeRange types);

/// tessera.attention -> a tensor-core FlashAttention-2 kernel in the module's
/// `tessera_kernels` gpu.module and a gpu.launch_func on the host
/// (AttentionToGPU.cpp). `wgmma`: S = Q K^T on sm_90a warpgroup MMA (4-warp
/// tiles only) instead of mma.sync.
void populateAttentionToGPUPatterns(const TypeConverter &converter,
                                    RewritePatternSet &patterns,
                                    bool wgmma = false);

/// tessera.hadamard, quantize and dequantize -> kernels running one row per
/// thread, with the row bodies the CPU lowering uses (RowOpsToGPU.cpp).
void populateRowOpsToGPUPatterns(const TypeConverter &converter,
                                 RewritePatternSet &patterns);

} // namespace mlir::tessera

#endif // TESSERA_CONVERSION_TESSERATOGPU_H

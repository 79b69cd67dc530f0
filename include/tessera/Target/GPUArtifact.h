//===- GPUArtifact.h - Compiling modules for NVIDIA GPUs --------*- C++ -*-===//
//
// What tessera-compile does, as a library: lower a module with
// convert-tessera-to-gpu, extract each entry's host-side schedule (buffers and
// kernel launches) into the .tsr manifest, and serialise the kernels to PTX per
// target.
//
//===----------------------------------------------------------------------===//
#ifndef TESSERA_TARGET_GPUARTIFACT_H
#define TESSERA_TARGET_GPUARTIFACT_H

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace mlir::tessera {

/// Runs tessera-sparsify, tessera-tile-attention (grids sized for `sms`
/// streaming multiprocessors) and convert-tessera-to-gpu on `module` and
/// returns the manifest text of its entries (docs/tsr-format.md). Fails with a
/// diagnostic on what the schedule cannot express. With `wgmma`, attention
/// scores use sm_90a warpgroup MMA (the kernels are then sm_90a-only).
FailureOr<std::string> lowerToGPUAndDescribe(ModuleOp module, int64_t sms = 132,
                                             bool wgmma = false);

/// Lowers the kernels of an already converted module (a clone is made) for
/// `chip` (e.g. "sm_80", "sm_90a") and returns their PTX (`format` "isa") or
/// cubin ("bin", which needs ptxas from a CUDA toolkit).
FailureOr<std::string> serializeKernels(ModuleOp converted, StringRef chip,
                                        StringRef features,
                                        StringRef format = "isa");

/// A C header with one typed launch function per entry of `manifest`, over the
/// runtime's C API (`tessera-compile --emit=header`).
std::string generateLaunchHeader(StringRef manifest, StringRef guard);

} // namespace mlir::tessera

#endif // TESSERA_TARGET_GPUARTIFACT_H

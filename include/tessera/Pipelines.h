//===- Pipelines.h - Tessera's named pass pipelines -------------*- C++ -*-===//
#ifndef TESSERA_PIPELINES_H
#define TESSERA_PIPELINES_H

#include "mlir/Pass/PassManager.h"

namespace mlir::tessera {

/// Options of --tessera-cpu-pipeline.
struct CPUPipelineOptions {
  /// f32 lanes per vector op (16: AVX-512, 8: AVX2).
  int64_t vectorWidth = 16;
  /// Run parallel loops on all cores through OpenMP (the JIT links libomp);
  /// otherwise they run sequentially.
  bool parallel = true;
};

/// tessera (on tensors) -> loops -> bufferized memrefs (results as out-params,
/// temporaries freed) -> LLVM dialect. Public functions keep their names;
/// results become trailing memref arguments.
void buildCPUPipeline(OpPassManager &pm, const CPUPipelineOptions &options);

/// Options of --tessera-gpu-pipeline.
struct GPUPipelineOptions {
  std::string chip = "sm_80";
  std::string features = "+ptx80";
  /// "isa" (PTX; no CUDA toolkit needed), "bin" (cubin, through ptxas) or
  /// "fatbin".
  std::string format = "isa";
  /// Streaming multiprocessors --tessera-tile-attention sizes the grid for (0:
  /// from `chip`).
  int64_t sms = 0;
  /// S = Q K^T on warpgroup MMA; the kernels then need chip sm_90a.
  bool wgmma = false;
};

/// Streaming multiprocessors of the flagship part of `chip` (sm_80: 108, sm_90:
/// 132, ...).
int64_t streamingMultiprocessors(llvm::StringRef chip);

/// tessera -> GPU kernels (convert-tessera-to-gpu) -> NVVM -> gpu.binary
/// holding PTX or cubin for `chip`. Host code stays at the tensor/memref level
/// with gpu.launch_func (the schedule tessera-compile records).
void buildGPUPipeline(OpPassManager &pm, const GPUPipelineOptions &options);
/// Only the kernel half of the GPU pipeline, for modules already converted.
void buildGPUKernelPipeline(OpPassManager &pm,
                            const GPUPipelineOptions &options);

/// Registers --tessera-cpu-pipeline and --tessera-gpu-pipeline.
void registerTesseraPipelines();

} // namespace mlir::tessera

#endif // TESSERA_PIPELINES_H

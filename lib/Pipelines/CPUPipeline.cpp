//===- CPUPipeline.cpp - The CPU and GPU named pipelines ------------------===//
#include "tessera/Passes.h"
#include "tessera/Pipelines.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/NVVMToLLVM/NVVMToLLVM.h"
#include "mlir/Conversion/OpenMPToLLVM/ConvertOpenMPToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Conversion/SCFToOpenMP/SCFToOpenMP.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVMPass.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/StringSwitch.h"

using namespace mlir;

void mlir::tessera::buildCPUPipeline(OpPassManager &pm,
                                     const CPUPipelineOptions &options) {
  ConvertTesseraToLoopsOptions loops;
  loops.vectorWidth = options.vectorWidth;
  pm.addPass(tessera::createTesseraSparsify());
  TesseraTileAttentionOptions tile;
  tile.target = "cpu";
  tile.threads = options.parallel ? 0 : 1;
  pm.addPass(tessera::createTesseraTileAttention(tile));
  pm.addPass(createConvertTesseraToLoops(loops));
  pm.addPass(createCanonicalizerPass());

  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  bufferization::BufferResultsToOutParamsPassOptions outParams;
  outParams.hoistStaticAllocs = true;
  outParams.modifyPublicFunctions = true;
  pm.addPass(bufferization::createBufferResultsToOutParamsPass(outParams));
  pm.addPass(createCanonicalizerPass());
  bufferization::buildBufferDeallocationPipeline(pm);

  pm.addPass(createCSEPass());
  pm.addPass(createLoopInvariantCodeMotionPass());
  pm.addPass(tessera::createTesseraExpandMath());
  if (options.parallel)
    pm.addPass(createConvertSCFToOpenMPPass());
  // Once every remaining loop runs its iterations one after another per thread.
  pm.addNestedPass<func::FuncOp>(tessera::createTesseraHoistStaticAllocas());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  ConvertVectorToLLVMPassOptions vectorToLLVM;
  vectorToLLVM.reassociateFPReductions = true;
  pm.addPass(createConvertVectorToLLVMPass(vectorToLLVM));
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  if (options.parallel)
    pm.addPass(createConvertOpenMPToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
}

int64_t mlir::tessera::streamingMultiprocessors(StringRef chip) {
  // The flagship part of each architecture: A100, RTX 30xx (GA102), L4/RTX 40xx
  // (AD102), H100 SXM, B200.
  return llvm::StringSwitch<int64_t>(chip)
      .Case("sm_80", 108)
      .Case("sm_86", 84)
      .Case("sm_89", 128)
      .Cases({"sm_90", "sm_90a"}, 132)
      .Cases({"sm_100", "sm_100a"}, 148)
      .Default(132);
}

void mlir::tessera::buildGPUKernelPipeline(OpPassManager &pm,
                                           const GPUPipelineOptions &options) {
  OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
  kernels.addPass(createSCFToControlFlowPass());
  ConvertGpuOpsToNVVMOpsOptions nvvm;
  nvvm.useBarePtrCallConv = true;
  kernels.addPass(createConvertGpuOpsToNVVMOps(nvvm));
  // NVVM ops that are PTX templates (wgmma.mma_async, fence.proxy) become
  // inline assembly.
  kernels.addPass(createConvertNVVMToLLVMPass());
  GpuNVVMAttachTargetOptions target;
  target.chip = options.chip;
  target.features = options.features;
  pm.addPass(createGpuNVVMAttachTarget(target));
  GpuModuleToBinaryPassOptions binary;
  binary.compilationTarget = options.format;
  pm.addPass(createGpuModuleToBinaryPass(binary));
}

void mlir::tessera::buildGPUPipeline(OpPassManager &pm,
                                     const GPUPipelineOptions &options) {
  pm.addPass(tessera::createTesseraSparsify());
  TesseraTileAttentionOptions tile;
  tile.target = "gpu";
  tile.sms =
      options.sms > 0 ? options.sms : streamingMultiprocessors(options.chip);
  tile.wgmma = options.wgmma;
  pm.addPass(tessera::createTesseraTileAttention(tile));
  ConvertTesseraToGPUOptions convert;
  convert.wgmma = options.wgmma;
  convert.chip = options.chip;
  pm.addPass(createConvertTesseraToGPU(convert));
  buildGPUKernelPipeline(pm, options);
}

namespace {
struct GPUPipelineCLOptions : public PassPipelineOptions<GPUPipelineCLOptions> {
  Option<std::string> chip{*this, "chip",
                           llvm::cl::desc("Target GPU (sm_80, sm_90, sm_90a)"),
                           llvm::cl::init("sm_80")};
  Option<std::string> features{*this, "features",
                               llvm::cl::desc("PTX features (+ptx80)"),
                               llvm::cl::init("+ptx80")};
  Option<std::string> format{
      *this, "format",
      llvm::cl::desc("isa (PTX), bin (cubin via ptxas) or fatbin"),
      llvm::cl::init("isa")};
  Option<bool> wgmma{
      *this, "wgmma",
      llvm::cl::desc("S = Q K^T on warpgroup MMA (chip=sm_90a only)"),
      llvm::cl::init(false)};
  Option<int64_t> sms{
      *this, "sms",
      llvm::cl::desc("Streaming multiprocessors the attention grid should fill "
                     "(0: the chip's flagship part)"),
      llvm::cl::init(0)};
};

struct CPUPipelineCLOptions : public PassPipelineOptions<CPUPipelineCLOptions> {
  Option<int64_t> vectorWidth{
      *this, "vector-width",
      llvm::cl::desc("f32 lanes per vector op (16: AVX-512, 8: AVX2)"),
      llvm::cl::init(16)};
  Option<bool> parallel{
      *this, "parallel",
      llvm::cl::desc("Run parallel loops on all cores through OpenMP"),
      llvm::cl::init(true)};
};
} // namespace

void mlir::tessera::registerTesseraPipelines() {
  PassPipelineRegistration<GPUPipelineCLOptions>(
      "tessera-gpu-pipeline",
      "Lower tessera modules to NVIDIA GPU kernels in a gpu.binary (PTX or "
      "cubin for `chip`), "
      "host code launching them",
      [](OpPassManager &pm, const GPUPipelineCLOptions &cl) {
        GPUPipelineOptions options;
        options.chip = cl.chip;
        options.features = cl.features;
        options.format = cl.format;
        options.sms = cl.sms;
        options.wgmma = cl.wgmma;
        buildGPUPipeline(pm, options);
      });
  PassPipelineRegistration<CPUPipelineCLOptions>(
      "tessera-cpu-pipeline",
      "Lower tessera modules to the LLVM dialect for the host CPU (loops, "
      "bufferization, "
      "vector code, results as out-params)",
      [](OpPassManager &pm, const CPUPipelineCLOptions &cl) {
        CPUPipelineOptions options;
        options.vectorWidth = cl.vectorWidth;
        options.parallel = cl.parallel;
        buildCPUPipeline(pm, options);
      });
}

//===- TesseraToGPU.cpp - The convert-tessera-to-gpu pass -----------------===//
#include "tessera/Conversion/TesseraToGPU.h"
#include "tessera/Passes.h"

#include "Tessera/TesseraOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "tessera/Conversion/AttentionSchedule.h"
#include "tessera/Conversion/BlockSelect.h"
#include "tessera/Conversion/ConversionDriver.h"
#include "tessera/Conversion/Evict.h"
#include "tessera/Conversion/QuantCodec.h"
#include "tessera/Support/GPUAttentionRules.h"

namespace mlir::tessera {
#define GEN_PASS_DEF_CONVERTTESSERATOGPU
#include "Tessera/Passes.h.inc"
} // namespace mlir::tessera

using namespace mlir;
using namespace mlir::tessera;

namespace {

/// One diagnostic for what the GPU lowering cannot handle yet.
LogicalResult checkLowerable(Operation *op, bool wgmma) {
  if (isa<BlockSelectOp>(op))
    return checkBlockSelectLowerable(op);
  if (isa<EvictOp>(op))
    return checkEvictLowerable(op);
  if (isa<HadamardOp, QuantizeOp, DequantizeOp, KVWriteOp, BitAllocateOp,
          GradedMatmulOp>(op))
    // Row kernels take run-time leading dims (sizes as kernel arguments);
    // graded_matmul's kernels are sized at compile time.
    return checkShapesAndSchemes(op, /*dynamicLead=*/!isa<GradedMatmulOp>(op));
  auto attention = dyn_cast<AttentionOp>(op);
  if (!attention)
    return op->emitOpError() << "has no GPU lowering yet";
  FailureOr<AttentionProblem> p = AttentionProblem::get(attention);
  if (failed(p))
    return failure();
  if (p->ragged && p->checked)
    return op->emitOpError()
           << "checks its prefix sums on the host (checked mode, CPU only); "
              "the GPU kernels clamp each sequence's rows into the pack: "
              "compile without `checked` for the GPU";
  if (p->paged() && p->checked)
    return op->emitOpError()
           << "checks its block table on the host (checked mode, CPU only); "
              "the GPU kernels clamp table entries and lengths into range: "
              "compile without `checked` for the GPU";
  Type elt = attention.getQuery().getType().getElementType();
  if (!elt.isBF16() && !elt.isF16())
    return op->emitOpError()
           << "GPU attention runs on bf16 or f16 tensor cores; got " << elt;
  for (Value kv : {attention.getKey(), attention.getValue()})
    if (auto packed = dyn_cast<QTensorType>(kv.getType())) {
      FailureOr<std::unique_ptr<QuantCodec>> codec =
          QuantCodec::get(packed, [&] { return op->emitOpError(); });
      if (failed(codec))
        return failure();
      // Threads share a key block's rows word by word; a codec that can only
      // decode whole rows (a rotation after decoding) needs a cooperative row
      // transform first.
      if (!(*codec)->isElementwise())
        return op->emitOpError()
               << "GPU attention decodes packed K/V element by element; "
                  "scheme '"
               << stringifyQuantScheme(packed.getScheme().getScheme())
               << "' decodes whole rows";
    }
  std::string why = ::tessera::gpu_attention::unsupportedReason(
      p->headDim, p->valueDim, p->blockQ, p->blockK, p->tileQ, p->warps, wgmma);
  if (!why.empty())
    return op->emitOpError() << why;
  return success();
}

struct ConvertTesseraToGPUPass
    : public mlir::tessera::impl::ConvertTesseraToGPUBase<
          ConvertTesseraToGPUPass> {
  using Base::Base;

  void runOnOperation() override {
    bool useWgmma = wgmma;
    if (useWgmma && chip != "sm_90a") {
      mlir::emitError(getOperation().getLoc())
          << "convert-tessera-to-gpu: wgmma needs chip=sm_90a (warpgroup MMA "
             "exists only there); "
             "got chip='"
          << chip << "'";
      return signalPassFailure();
    }
    auto populate = [&](const TypeConverter &converter,
                        RewritePatternSet &patterns) {
      populateAttentionToGPUPatterns(converter, patterns, useWgmma);
      populateRowOpsToGPUPatterns(converter, patterns);
    };
    auto check = [&](Operation *op) { return checkLowerable(op, useWgmma); };
    if (failed(lowerTesseraOps(getOperation(), check, populate)))
      signalPassFailure();
  }
};

} // namespace

//===- TesseraToGPU.cpp - The convert-tessera-to-gpu pass -----------------===//
#include "tessera/Conversion/TesseraToGPU.h"
#include "tessera/Passes.h"

#include "Tessera/TesseraOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "tessera/Conversion/AttentionSchedule.h"
#include "tessera/Conversion/ConversionDriver.h"
#include "tessera/Conversion/QuantCodec.h"

namespace mlir::tessera {
#define GEN_PASS_DEF_CONVERTTESSERATOGPU
#include "Tessera/Passes.h.inc"
} // namespace mlir::tessera

using namespace mlir;
using namespace mlir::tessera;

namespace {

/// One diagnostic for what the GPU lowering cannot handle yet.
LogicalResult checkLowerable(Operation *op, bool wgmma) {
  if (isa<HadamardOp, QuantizeOp, DequantizeOp>(op))
    return checkShapesAndSchemes(op);
  auto attention = dyn_cast<AttentionOp>(op);
  if (!attention)
    return op->emitOpError() << "has no GPU lowering yet";
  FailureOr<AttentionProblem> p = AttentionProblem::get(attention);
  if (failed(p))
    return failure();
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
  if (p->headDim % 16 || p->valueDim % 16 || p->headDim > 128 ||
      p->valueDim > 128)
    return op->emitOpError()
           << "GPU attention needs head dims that are multiples of 16 and "
              "at most 128; got D = "
           << p->headDim << ", Dv = " << p->valueDim;
  if (p->blockQ != 64 || p->blockK != 64)
    return op->emitOpError()
           << "GPU attention tiles 64 x 64; block_q (" << p->blockQ
           << ") and block_k (" << p->blockK << ") must be 64";
  if (p->warps == 0 && p->tileQ != 64)
    return op->emitOpError()
           << "tile of " << p->tileQ
           << " query rows has no warp count: a CPU tile cannot run on the "
              "GPU (run --tessera-tile-attention=target=gpu)";
  if (p->warps != 0 && p->warps != 2 && p->warps != 4)
    return op->emitOpError()
           << "GPU attention runs 2 or 4 warps per CTA; tile has " << p->warps;
  if (wgmma && p->warps == 2)
    return op->emitOpError()
           << "wgmma needs a warpgroup (4 warps, 64 query rows) per CTA; "
              "tile has 2 warps";
  return success();
}

struct ConvertTesseraToGPUPass
    : public tessera::impl::ConvertTesseraToGPUBase<ConvertTesseraToGPUPass> {
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

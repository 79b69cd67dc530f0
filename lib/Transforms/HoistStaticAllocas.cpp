//===- HoistStaticAllocas.cpp - The tessera-hoist-static-allocas pass -----===//
#include "tessera/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::tessera {
#define GEN_PASS_DEF_TESSERAHOISTSTATICALLOCAS
#include "Tessera/Passes.h.inc"
} // namespace mlir::tessera

using namespace mlir;

namespace {

/// Ops whose allocation scope is one loop iteration; scratch may leave them
/// because the iterations of one thread run one after another.
bool isIterationScope(Operation *op) {
  return isa<scf::ForOp, scf::ParallelOp, memref::AllocaScopeOp,
             omp::LoopNestOp, omp::WsloopOp>(op);
}

struct TesseraHoistStaticAllocasPass
    : public tessera::impl::TesseraHoistStaticAllocasBase<
          TesseraHoistStaticAllocasPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isExternal())
      return;
    // Each static alloca moves to the entry of the nearest scope that outlives
    // the loop iterations: the function, or an omp.parallel region (one copy
    // per thread).
    SmallVector<std::pair<memref::AllocaOp, Block *>> moves;
    func.walk([&](memref::AllocaOp op) {
      if (!op.getType().hasStaticShape() || op->getNumOperands() != 0)
        return;
      Operation *target = op->getParentOp();
      while (target != func &&
             (isIterationScope(target) ||
              !target->hasTrait<OpTrait::AutomaticAllocationScope>()))
        target = target->getParentOp();
      if (!isa<func::FuncOp, omp::ParallelOp>(target))
        return;
      Block *entry = &target->getRegion(0).front();
      if (op->getBlock() != entry)
        moves.push_back({op, entry});
    });
    for (auto [op, entry] : moves)
      op->moveBefore(entry, entry->begin());

    // Scopes left without allocas are plain nesting now: inline them, so that
    // lowering structured control flow to branches does not break their
    // single-block region.
    SmallVector<memref::AllocaScopeOp> scopes;
    func.walk([&](memref::AllocaScopeOp op) { scopes.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (memref::AllocaScopeOp scope : scopes) {
      Block &body = scope.getBodyRegion().front();
      bool hasAlloca = false;
      scope.walk([&](memref::AllocaOp) { hasAlloca = true; });
      if (hasAlloca)
        continue;
      auto ret = cast<memref::AllocaScopeReturnOp>(body.getTerminator());
      SmallVector<Value> results(ret.getResults());
      rewriter.eraseOp(ret);
      rewriter.inlineBlockBefore(&body, scope);
      rewriter.replaceOp(scope, results);
    }
  }
};

} // namespace

//===- HoistStaticAllocas.cpp - The tessera-hoist-static-allocas pass ------===//
#include "tessera/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace mlir::tessera {
#define GEN_PASS_DEF_TESSERAHOISTSTATICALLOCAS
#include "Tessera/Passes.h.inc"
} // namespace mlir::tessera

using namespace mlir;

namespace {
struct TesseraHoistStaticAllocasPass
    : public tessera::impl::TesseraHoistStaticAllocasBase<TesseraHoistStaticAllocasPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isExternal())
      return;
    Block &entry = func.getBody().front();
    SmallVector<memref::AllocaOp> toHoist;
    // scf.parallel and scf.for are allocation scopes of their own (per-iteration scratch);
    // those loops are about to run sequentially, so their scratch may move out too. Any other
    // scope (a nested function-like op) keeps its allocas.
    auto onlyParallelScopes = [&](Operation *op) {
      for (Operation *p = op->getParentOp(); p != func; p = p->getParentOp())
        if (p->hasTrait<OpTrait::AutomaticAllocationScope>() && !isa<scf::ParallelOp, scf::ForOp>(p))
          return false;
      return true;
    };
    func.walk([&](memref::AllocaOp op) {
      if (op->getBlock() != &entry && op.getType().hasStaticShape() &&
          op->getNumOperands() == 0 && onlyParallelScopes(op))
        toHoist.push_back(op);
    });
    for (memref::AllocaOp op : toHoist)
      op->moveBefore(&entry, entry.begin());
  }
};
} // namespace

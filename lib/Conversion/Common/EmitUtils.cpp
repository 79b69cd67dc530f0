//===- EmitUtils.cpp - Small IR-emission helpers for Tessera lowerings ----===//
#include "tessera/Conversion/EmitUtils.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/TypeUtilities.h"

using namespace mlir;
using namespace mlir::tessera;

static bool isFloatLike(Value v) {
  return isa<FloatType>(getElementTypeOrSelf(v.getType()));
}

Value Emitter::add(Value x, Value y) {
  if (isFloatLike(x))
    return arith::AddFOp::create(b, x, y);
  return arith::AddIOp::create(b, x, y);
}

Value Emitter::sub(Value x, Value y) {
  if (isFloatLike(x))
    return arith::SubFOp::create(b, x, y);
  return arith::SubIOp::create(b, x, y);
}

Value Emitter::mul(Value x, Value y) {
  if (isFloatLike(x))
    return arith::MulFOp::create(b, x, y);
  return arith::MulIOp::create(b, x, y);
}

Value Emitter::constLike(Type t, int64_t v) {
  if (auto vt = dyn_cast<VectorType>(t))
    return arith::ConstantOp::create(
        b, DenseElementsAttr::get(
               vt, APInt(vt.getElementTypeBitWidth(), v, /*isSigned=*/true)));
  if (t.isIndex())
    return idx(v);
  return arith::ConstantOp::create(b, b.getIntegerAttr(t, v));
}

Value Emitter::absF32(Value x) {
  // Clear the sign bit.
  Value bits = arith::BitcastOp::create(b, b.getI32Type(), x);
  Value cleared = arith::AndIOp::create(b, bits, i32(0x7fffffff));
  return arith::BitcastOp::create(b, b.getF32Type(), cleared);
}

Value Emitter::roundF32(Value x) {
  // Below 2^23 an f32 fits an i32 and x - trunc(x) is exact; at or above it
  // (and for NaN) x is already integral and passes through.
  Value ax = absF32(x);
  Value small = cmpf(arith::CmpFPredicate::OLT, ax, f32(8388608.0));
  Value t = arith::SIToFPOp::create(
      b, b.getF32Type(),
      arith::FPToSIOp::create(b, b.getI32Type(), select(small, x, f32(0))));
  Value frac = absF32(sub(x, t));
  Value away =
      select(cmpf(arith::CmpFPredicate::OLT, x, f32(0)), f32(-1), f32(1));
  Value r =
      select(cmpf(arith::CmpFPredicate::OGE, frac, f32(0.5)), add(t, away), t);
  return select(small, r, x);
}

Value Emitter::sqrtF32(Value x) {
  Type i32Type = b.getI32Type(), f32Type = b.getF32Type();
  Value positive = cmpf(arith::CmpFPredicate::OGT, x, f32(0));
  Value safe = select(positive, x, f32(1));
  Value bits = arith::BitcastOp::create(b, i32Type, safe);
  Value guess = arith::BitcastOp::create(
      b, f32Type,
      sub(i32(0x5f375a86), arith::ShRUIOp::create(b, bits, i32(1))));
  Value halfX = mul(safe, f32(0.5));
  Value y = guess;
  for (int i = 0; i < 3; ++i)
    y = mul(y, sub(f32(1.5), mul(halfX, mul(y, y))));
  Value r = mul(safe, y);
  r = mul(f32(0.5), add(r, arith::DivFOp::create(b, safe, r)));
  return select(positive, r, f32(0));
}

Value Emitter::toF32(Value v) {
  Type elt = getElementTypeOrSelf(v.getType());
  if (elt.isF32())
    return v;
  Type target = b.getF32Type();
  if (auto vt = dyn_cast<VectorType>(v.getType()))
    target = VectorType::get(vt.getShape(), target);
  return arith::ExtFOp::create(b, target, v);
}

Value Emitter::fromF32(Value v, Type elt) {
  if (elt.isF32())
    return v;
  Type target = elt;
  if (auto vt = dyn_cast<VectorType>(v.getType()))
    target = VectorType::get(vt.getShape(), elt);
  return arith::TruncFOp::create(b, target, v);
}

void Emitter::forLoop(Value lb, Value ub, int64_t step,
                      function_ref<void(Value)> body) {
  auto loop = scf::ForOp::create(b, lb, ub, idx(step));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  body(loop.getInductionVar());
}

SmallVector<Value>
Emitter::forLoop(Value lb, Value ub, int64_t step, ValueRange init,
                 function_ref<SmallVector<Value>(Value, ValueRange)> body) {
  auto loop = scf::ForOp::create(b, lb, ub, idx(step), init);
  {
    OpBuilder::InsertionGuard guard(b);
    // Without carried values the builder has already added the (empty)
    // terminator.
    Block *body0 = loop.getBody();
    bool terminated = !body0->empty() && isa<scf::YieldOp>(body0->back());
    if (terminated)
      b.setInsertionPoint(&body0->back());
    else
      b.setInsertionPointToStart(body0);
    SmallVector<Value> next =
        body(loop.getInductionVar(), loop.getRegionIterArgs());
    if (!terminated)
      scf::YieldOp::create(b, next);
  }
  return SmallVector<Value>(loop.getResults().begin(), loop.getResults().end());
}

void Emitter::ifThen(Value cond, function_ref<void()> then) {
  auto ifOp = scf::IfOp::create(b, cond, /*withElseRegion=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&ifOp.getThenRegion().front());
  then();
}

void Emitter::parallelRows(ValueRange ubs,
                           function_ref<void(ValueRange)> body) {
  if (ubs.empty())
    return body({});
  SmallVector<Value> lbs(ubs.size(), idx(0)), steps(ubs.size(), idx(1));
  auto par = scf::ParallelOp::create(b, lbs, ubs, steps);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(par.getBody());
  body(par.getInductionVars());
}

Value mlir::tessera::emitRuntimeChecks(Emitter &e, Operation *op,
                                       ArrayRef<RuntimeCheck> checks) {
  ImplicitLocOpBuilder &b = e.builder();
  Value all = arith::ConstantOp::create(b, b.getBoolAttr(true));
  if (checks.empty())
    return all;
  auto module = op->getParentOfType<ModuleOp>();
  MLIRContext *ctx = b.getContext();
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  Type i64 = b.getI64Type();
  StringRef callee = "__tessera_runtime_error";
  if (!module.lookupSymbol(callee)) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(module.getBody());
    LLVM::LLVMFuncOp::create(
        b, callee,
        LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx),
                                    {ptr, i64, i64}));
  }
  std::string where;
  if (auto loc = dyn_cast<FileLineColLoc>(op->getLoc()))
    where = (loc.getFilename().str() + ":" + std::to_string(loc.getLine()) +
             ":" + std::to_string(loc.getColumn()) + ": ");
  for (const RuntimeCheck &c : checks) {
    std::string text =
        where + "'" + op->getName().getStringRef().str() + "' " + c.message;
    // A name per message (FNV-1a of the text), so one global serves repeats.
    uint64_t h = 0xcbf29ce484222325ULL;
    for (char ch : text)
      h = (h ^ static_cast<uint8_t>(ch)) * 0x100000001b3ULL;
    std::string name = "__tessera_check_" + std::to_string(h);
    Value bad = arith::XOrIOp::create(
        b, c.ok, arith::ConstantOp::create(b, b.getBoolAttr(true)));
    e.ifThen(bad, [&] {
      Value msg;
      if (auto global = module.lookupSymbol<LLVM::GlobalOp>(name))
        msg = LLVM::AddressOfOp::create(b, global);
      else
        msg = LLVM::createGlobalString(b.getLoc(), b, name, text + '\0',
                                       LLVM::Linkage::Internal);
      auto asI64 = [&](Value v) {
        return arith::IndexCastOp::create(b, i64, v).getResult();
      };
      LLVM::CallOp::create(b, TypeRange{}, callee,
                           ValueRange{msg, asI64(c.got), asI64(c.expected)});
    });
    all = arith::AndIOp::create(b, all, c.ok);
  }
  return all;
}

void Emitter::parallelRows(ArrayRef<int64_t> shape,
                           function_ref<void(ValueRange)> body) {
  if (shape.empty())
    return body({});
  SmallVector<Value> lbs, ubs, steps;
  for (int64_t d : shape) {
    lbs.push_back(idx(0));
    ubs.push_back(idx(d));
    steps.push_back(idx(1));
  }
  auto par = scf::ParallelOp::create(b, lbs, ubs, steps);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(par.getBody());
  body(SmallVector<Value>(par.getInductionVars()));
}

Value mlir::tessera::emitToBuffer(OpBuilder &b, Location loc, Value tensor) {
  auto t = cast<RankedTensorType>(tensor.getType());
  return bufferization::ToBufferOp::create(
      b, loc, MemRefType::get(t.getShape(), t.getElementType()), tensor,
      /*read_only=*/true);
}

Value mlir::tessera::emitToTensor(OpBuilder &b, Location loc, Value buffer) {
  auto m = cast<MemRefType>(buffer.getType());
  return bufferization::ToTensorOp::create(
      b, loc, RankedTensorType::get(m.getShape(), m.getElementType()), buffer,
      /*restrict=*/true, /*writable=*/true);
}

//===- EmitUtils.h - IR-emission helpers for Tessera lowerings --*- C++ -*-===//
//
// Terse constructors for the index/f32 arithmetic and loops that every lowering
// writes, so the lowerings read like the algorithms they implement.
//
//===----------------------------------------------------------------------===//
#ifndef TESSERA_CONVERSION_EMITUTILS_H
#define TESSERA_CONVERSION_EMITUTILS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <functional>

namespace mlir::tessera {

/// An ImplicitLocOpBuilder with shorthands for constants, index arithmetic and
/// loops.
class Emitter {
public:
  explicit Emitter(ImplicitLocOpBuilder &b) : b(b) {}

  ImplicitLocOpBuilder &builder() { return b; }

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value f32(double v) {
    return arith::ConstantOp::create(b, b.getF32FloatAttr(v));
  }
  Value i32(int64_t v) {
    return arith::ConstantOp::create(b, b.getI32IntegerAttr(v));
  }
  /// The integer `v` as a constant of type `t`: index, an integer type, or a
  /// vector of one (a splat).
  Value constLike(Type t, int64_t v);
  Value negInf() { return f32(-std::numeric_limits<double>::infinity()); }

  Value add(Value x, Value y);
  Value sub(Value x, Value y);
  Value mul(Value x, Value y);
  Value divui(Value x, Value y) { return arith::DivUIOp::create(b, x, y); }
  Value remui(Value x, Value y) { return arith::RemUIOp::create(b, x, y); }
  Value minsi(Value x, Value y) { return arith::MinSIOp::create(b, x, y); }
  Value maxsi(Value x, Value y) { return arith::MaxSIOp::create(b, x, y); }
  Value maxf(Value x, Value y) { return arith::MaximumFOp::create(b, x, y); }
  Value select(Value c, Value x, Value y) {
    return arith::SelectOp::create(b, c, x, y);
  }
  Value cmpi(arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, p, x, y);
  }
  Value cmpf(arith::CmpFPredicate p, Value x, Value y) {
    return arith::CmpFOp::create(b, p, x, y);
  }
  /// ceil(x / d) for non-negative index x and a positive constant d.
  Value ceilDiv(Value x, int64_t d) {
    return divui(add(x, idx(d - 1)), idx(d));
  }

  /// |x| for an f32 scalar, in arith ops only (no math dialect: on the GPU,
  /// math ops become libdevice calls that a self-contained PTX module cannot
  /// resolve).
  Value absF32(Value x);
  /// x rounded to the nearest integer, halves away from zero (C's roundf), for
  /// an f32 scalar, in arith ops only; exact for every f32 (|x| >= 2^23 and NaN
  /// pass through).
  Value roundF32(Value x);

  /// sqrt(x) for an f32 scalar x >= 0, in arith ops only (a bit-level guess of
  /// 1/sqrt(x), three Newton steps, then one Heron step on the root: within
  /// an ulp or two of sqrtf); 0 for x <= 0.
  Value sqrtF32(Value x);

  /// Converts a float scalar or vector to f32 (no-op for f32).
  Value toF32(Value v);
  /// Converts an f32 scalar or vector to `elt` (no-op for f32).
  Value fromF32(Value v, Type elt);

  /// `for (iv = lb; iv < ub; iv += step) body(iv)`.
  void forLoop(Value lb, Value ub, int64_t step,
               function_ref<void(Value)> body);
  /// A loop carrying `init` values; `body(iv, iters)` returns the next
  /// iteration's values.
  SmallVector<Value>
  forLoop(Value lb, Value ub, int64_t step, ValueRange init,
          function_ref<SmallVector<Value>(Value, ValueRange)> body);
  /// Runs `body(indices)` for every index tuple of `shape` in an scf.parallel;
  /// with an empty shape, `body({})` once. Scratch the body allocates with
  /// memref.alloca is per iteration (tessera-hoist-static-allocas later shares
  /// it where iterations run sequentially).
  void parallelRows(ArrayRef<int64_t> shape,
                    function_ref<void(ValueRange)> body);
  /// `if (cond) then()`.
  void ifThen(Value cond, function_ref<void()> then);
  /// Runs `body(indices)` for every index tuple below `ubs` (index values) in
  /// an scf.parallel; with no bounds, `body({})` once.
  void parallelRows(ValueRange ubs, function_ref<void(ValueRange)> body);

private:
  ImplicitLocOpBuilder &b;
};

/// A rule of an op that holds for every static shape the verifier accepted but
/// depends on run-time sizes when dims are dynamic. `ok` is an i1; when it is
/// false at run time the host code calls
/// `__tessera_runtime_error(message, got, expected)` (the JIT defines it: the
/// call then fails with a status and this message) and the op's work is
/// skipped. `got` and `expected` are index values shown with the message.
struct RuntimeCheck {
  Value ok;
  std::string message;
  Value got, expected;
};

/// Emits the report of every failed check and returns the conjunction of
/// their `ok` (true when `checks` is empty), so the caller can guard its work
/// with it. Messages are prefixed with `op`'s location and name. CPU only (a
/// GPU kernel cannot call the host; the runtime checks launches there).
Value emitRuntimeChecks(Emitter &e, Operation *op,
                        ArrayRef<RuntimeCheck> checks);

/// bufferization.to_buffer of a ranked tensor value, with an identity-layout
/// memref type (how a lowering hands a tensor operand to code over memrefs).
Value emitToBuffer(OpBuilder &b, Location loc, Value tensor);
/// bufferization.to_tensor of a freshly written buffer (restrict, writable).
Value emitToTensor(OpBuilder &b, Location loc, Value buffer);

} // namespace mlir::tessera

#endif // TESSERA_CONVERSION_EMITUTILS_H

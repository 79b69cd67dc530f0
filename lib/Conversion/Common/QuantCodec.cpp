//===- QuantCodec.cpp - Row-wise packing and unpacking of qtensors --------===//
#include "tessera/Conversion/QuantCodec.h"

using namespace mlir;
using namespace mlir::tessera;

namespace {

/// Appends `tail` to `prefix`.
SmallVector<Value> concat(ValueRange prefix, ArrayRef<Value> tail) {
  SmallVector<Value> out(prefix.begin(), prefix.end());
  out.append(tail.begin(), tail.end());
  return out;
}

/// Uniform integer quantization per group of the last dim (#tessera.quant<int,
/// ...>).
///  symmetric:  q = clamp(round(x / s), -(2^(b-1) - 1), 2^(b-1) - 1), s =
///  max|x| / (2^(b-1) - 1),
///              stored as the code q + 2^(b-1);
///  asymmetric: q = clamp(round((x - z) / s), 0, 2^b - 1), s = (max - min) /
///  (2^b - 1), z = min.
/// Codes are packed into an LSB-first bit stream: code e occupies bits [e*b,
/// e*b + b) of the row's bytes, so 4-bit codes go two per byte, low nibble
/// first, and 3-bit codes 8 per 3 bytes as in Block-GTQ. A group whose scale is
/// 0 (all values equal to the zero point) decodes exactly.
class IntCodec final : public QuantCodec {
public:
  explicit IntCodec(QTensorType type) : QuantCodec(type) {
    QuantAttr q = type.getScheme();
    dim = type.getShape().back();
    bits = q.getUniformBits();
    group = q.getGroup() == 0 ? dim : q.getGroup();
    symmetric = q.getSymmetric();
    numBytes = (dim * bits + 7) / 8;
  }

  void emitPackRow(Emitter &e, Value src, ValueRange srcPrefix,
                   ValueRange parts, ValueRange lead) const override {
    ImplicitLocOpBuilder &b = e.builder();
    Value codes = parts[0], scales = parts[1],
          zeros = symmetric ? Value() : parts[2];
    emitZeroBytes(e, codes, lead, numBytes);
    int64_t levels = int64_t{1} << bits;
    double qmax = symmetric ? static_cast<double>(levels / 2 - 1)
                            : static_cast<double>(levels - 1);
    e.forLoop(e.idx(0), e.idx(dim / group), 1, [&](Value g) {
      Value lo = e.mul(g, e.idx(group)), hi = e.add(lo, e.idx(group));
      // Range of the group: max |x| (symmetric) or max and min (asymmetric).
      SmallVector<Value> range = e.forLoop(
          lo, hi, 1,
          {e.negInf(), e.f32(std::numeric_limits<double>::infinity())},
          [&](Value d, ValueRange it) -> SmallVector<Value> {
            Value x = memref::LoadOp::create(b, src, concat(srcPrefix, {d}));
            Value v = symmetric ? e.absF32(x) : x;
            return {e.maxf(it[0], v), arith::MinimumFOp::create(b, it[1], x)};
          });
      Value scale =
          symmetric
              ? arith::DivFOp::create(b, range[0], e.f32(qmax)).getResult()
              : arith::DivFOp::create(b, e.sub(range[0], range[1]), e.f32(qmax))
                    .getResult();
      Value zero = symmetric ? e.f32(0) : range[1];
      memref::StoreOp::create(b, scale, scales, concat(lead, {g}));
      if (!symmetric)
        memref::StoreOp::create(b, zero, zeros, concat(lead, {g}));
      Value positive = e.cmpf(arith::CmpFPredicate::OGT, scale, e.f32(0));
      Value inv = e.select(positive, arith::DivFOp::create(b, e.f32(1), scale),
                           e.f32(0));
      e.forLoop(lo, hi, 1, [&](Value d) {
        Value x = memref::LoadOp::create(b, src, concat(srcPrefix, {d}));
        Value q = e.roundF32(e.mul(e.sub(x, zero), inv));
        double qmin = symmetric ? -qmax : 0.0;
        q = arith::MinimumFOp::create(b, e.maxf(q, e.f32(qmin)), e.f32(qmax));
        if (symmetric)
          q = e.add(q, e.f32(static_cast<double>(levels / 2)));
        Value code = arith::FPToUIOp::create(b, b.getI32Type(), q);
        emitWriteBits(e, codes, lead, e.mul(d, e.idx(bits)), code, bits);
      });
    });
  }

  void emitUnpackRow(Emitter &e, ValueRange parts, ValueRange lead, Value dst,
                     ValueRange dstPrefix) const override {
    e.forLoop(e.idx(0), e.idx(dim), 1, [&](Value d) {
      memref::StoreOp::create(e.builder(), emitUnpackElement(e, parts, lead, d),
                              dst, concat(dstPrefix, {d}));
    });
  }

  bool isElementwise() const override { return true; }

  Value emitUnpackElement(Emitter &e, ValueRange parts, ValueRange lead,
                          Value d) const override {
    ImplicitLocOpBuilder &b = e.builder();
    Value codes = parts[0], scales = parts[1],
          zeros = symmetric ? Value() : parts[2];
    Value code = emitReadBits(e, codes, lead, e.mul(d, e.idx(bits)),
                              e.i32(bits), numBytes);
    Value g = e.divui(d, e.idx(group));
    Value scale = memref::LoadOp::create(b, scales, concat(lead, {g}));
    if (symmetric) {
      Value q = arith::SubIOp::create(b, code, e.i32(int64_t{1} << (bits - 1)));
      return e.mul(arith::SIToFPOp::create(b, b.getF32Type(), q), scale);
    }
    Value zero = memref::LoadOp::create(b, zeros, concat(lead, {g}));
    return e.add(e.mul(arith::UIToFPOp::create(b, b.getF32Type(), code), scale),
                 zero);
  }

private:
  int64_t dim, bits, group, numBytes;
  bool symmetric;
};

} // namespace

/// codes[indices] |= value (an i32 whose low 8 bits are stored).
static void orInto(Emitter &e, Value codes, ArrayRef<Value> indices,
                   Value value) {
  ImplicitLocOpBuilder &b = e.builder();
  Value old = memref::LoadOp::create(b, codes, indices);
  Value narrow = arith::TruncIOp::create(b, b.getI8Type(), value);
  memref::StoreOp::create(b, arith::OrIOp::create(b, old, narrow), codes,
                          indices);
}

void mlir::tessera::emitZeroBytes(Emitter &e, Value codes, ValueRange lead,
                                  int64_t numBytes) {
  ImplicitLocOpBuilder &b = e.builder();
  Value zeroByte = arith::ConstantOp::create(b, b.getI8IntegerAttr(0));
  e.forLoop(e.idx(0), e.idx(numBytes), 1, [&](Value k) {
    memref::StoreOp::create(b, zeroByte, codes, concat(lead, {k}));
  });
}

void mlir::tessera::emitWriteBits(Emitter &e, Value codes, ValueRange lead,
                                  Value bitPos, Value code, int64_t bits) {
  ImplicitLocOpBuilder &b = e.builder();
  Value byte = e.divui(bitPos, e.idx(8));
  Value shift =
      arith::IndexCastOp::create(b, b.getI32Type(), e.remui(bitPos, e.idx(8)));
  orInto(e, codes, concat(lead, {byte}),
         arith::AndIOp::create(b, arith::ShLIOp::create(b, code, shift),
                               e.i32(255)));
  // The code spills into the next byte when shift + bits > 8.
  e.ifThen(e.cmpi(arith::CmpIPredicate::sgt, shift, e.i32(8 - bits)), [&] {
    Value rest = arith::ShRUIOp::create(b, code, e.sub(e.i32(8), shift));
    orInto(e, codes, concat(lead, {e.add(byte, e.idx(1))}), rest);
  });
}

Value mlir::tessera::emitReadBits(Emitter &e, Value codes, ValueRange lead,
                                  Value bitPos, Value bits, int64_t numBytes) {
  ImplicitLocOpBuilder &b = e.builder();
  Type i32 = b.getI32Type();
  Value byte = e.divui(bitPos, e.idx(8));
  Value shift = arith::IndexCastOp::create(b, i32, e.remui(bitPos, e.idx(8)));
  Value lo = arith::ExtUIOp::create(
      b, i32, memref::LoadOp::create(b, codes, concat(lead, {byte})));
  // Read the next byte only where the code spills into it (clamped to stay in
  // bounds).
  Value next = e.minsi(e.add(byte, e.idx(1)), e.idx(numBytes - 1));
  Value hi = arith::ShLIOp::create(
      b,
      arith::ExtUIOp::create(
          b, i32, memref::LoadOp::create(b, codes, concat(lead, {next}))),
      e.i32(8));
  Value spills =
      e.cmpi(arith::CmpIPredicate::sgt, e.add(shift, bits), e.i32(8));
  Value word = arith::OrIOp::create(b, lo, e.select(spills, hi, e.i32(0)));
  Value mask = e.sub(arith::ShLIOp::create(b, e.i32(1), bits), e.i32(1));
  return arith::AndIOp::create(b, arith::ShRUIOp::create(b, word, shift), mask);
}

std::unique_ptr<QuantCodec> QuantCodec::lookup(QTensorType type) {
  switch (type.getScheme().getScheme()) {
  case QuantScheme::Int:
    return std::make_unique<IntCodec>(type);
  case QuantScheme::TqMse:
  case QuantScheme::BlockGtq:
  case QuantScheme::Lattice:
    return makeTransformCodec(type);
  case QuantScheme::Graded:
    return makeGradedCodec(type);
  }
  return nullptr;
}

FailureOr<std::unique_ptr<QuantCodec>>
QuantCodec::get(QTensorType type,
                function_ref<InFlightDiagnostic()> emitError) {
  if (std::unique_ptr<QuantCodec> codec = lookup(type))
    return codec;
  return emitError() << "quantization scheme '"
                     << stringifyQuantScheme(type.getScheme().getScheme())
                     << "' has no lowering yet (supported: int, tq_mse, "
                        "block_gtq, lattice, graded)";
}

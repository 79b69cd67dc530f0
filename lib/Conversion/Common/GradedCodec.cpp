//===- GradedCodec.cpp - Nested bit-plane weights (graded) ----------------===//
//
// ALGORITHMS.md 4e fixes the nesting (the k-bit index is the top k bits of the
// B-bit index, one table per row per k); how the indices and tables are chosen
// is ours (docs/graded-weights.md):
//  - indices: B-bit uniform levels between the row's min and max. Uniform
//    levels nest by construction: the top k bits of a level's index name the
//    2^(B-k) adjacent levels that share them, so every precision's buckets are
//    contiguous value ranges.
//  - tables: entry j of precision k is the mean of the row's values whose top
//    k bits are j (the bucket's centroid: the value that minimises that
//    precision's squared error given the buckets); an empty bucket gets the
//    centre of the levels its B-bit indices stand for, min + step * (lo +
//    hi) / 2, step = (max - min) / (2^B - 1).
// Bucket sums and counts are accumulated once at precision B, in element
// order, and each coarser precision sums pairs of the finer one's (bucket j of
// k - 1 is buckets 2j and 2j + 1 of k), so a row is read once.
//
//===----------------------------------------------------------------------===//
#include "tessera/Conversion/GradedCodec.h"

using namespace mlir;
using namespace mlir::tessera;

namespace {
SmallVector<Value> concat(ValueRange prefix, ArrayRef<Value> tail) {
  SmallVector<Value> out(prefix.begin(), prefix.end());
  out.append(tail.begin(), tail.end());
  return out;
}
SmallVector<Value> planeIndices(Value p, ValueRange lead, Value byte) {
  SmallVector<Value> out{p};
  out.append(lead.begin(), lead.end());
  out.push_back(byte);
  return out;
}
} // namespace

GradedCodec::GradedCodec(QTensorType type) : QuantCodec(type) {
  dim = type.getShape().back();
  bits = type.getScheme().getUniformBits();
  numBytes = (dim + 7) / 8;
}

void GradedCodec::emitPackRow(Emitter &e, Value src, ValueRange srcPrefix,
                              ValueRange parts, ValueRange lead) const {
  ImplicitLocOpBuilder &b = e.builder();
  Type f32 = b.getF32Type();
  Value planes = parts[0], lut = parts[1];
  int64_t top = (int64_t{1} << bits) - 1;

  SmallVector<Value> range = e.forLoop(
      e.idx(0), e.idx(dim), 1,
      {e.negInf(), e.f32(std::numeric_limits<double>::infinity())},
      [&](Value d, ValueRange it) -> SmallVector<Value> {
        Value x = memref::LoadOp::create(b, src, concat(srcPrefix, {d}));
        return {e.maxf(it[0], x), arith::MinimumFOp::create(b, it[1], x)};
      });
  Value lo = range[1];
  Value width = e.sub(range[0], lo);
  Value positive = e.cmpf(arith::CmpFPredicate::OGT, width, e.f32(0));
  Value inv =
      e.select(positive,
               arith::DivFOp::create(b, e.f32(static_cast<double>(top)), width),
               e.f32(0));
  Value step = arith::DivFOp::create(b, width, e.f32(static_cast<double>(top)));

  for (int64_t p = 0; p < bits; ++p) {
    SmallVector<Value> planeLead{e.idx(p)};
    planeLead.append(lead.begin(), lead.end());
    emitZeroBytes(e, planes, planeLead, numBytes);
  }
  // Bucket sums and counts at precision B (scratch of 2^B entries each).
  int64_t buckets = top + 1;
  auto scratchType = MemRefType::get({buckets}, f32);
  Value sums = memref::AllocaOp::create(b, scratchType);
  Value counts = memref::AllocaOp::create(b, scratchType);
  e.forLoop(e.idx(0), e.idx(buckets), 1, [&](Value j) {
    memref::StoreOp::create(b, e.f32(0), sums, ValueRange{j});
    memref::StoreOp::create(b, e.f32(0), counts, ValueRange{j});
  });

  Type i8 = b.getI8Type(), i32 = b.getI32Type();
  e.forLoop(e.idx(0), e.idx(dim), 1, [&](Value d) {
    Value x = memref::LoadOp::create(b, src, concat(srcPrefix, {d}));
    Value q = e.roundF32(e.mul(e.sub(x, lo), inv));
    q = arith::MinimumFOp::create(b, e.maxf(q, e.f32(0)),
                                  e.f32(static_cast<double>(top)));
    Value code = arith::FPToUIOp::create(b, i32, q);
    // Plane p holds bit (B-1-p): the most significant bit first.
    Value byte = e.divui(d, e.idx(8));
    Value shift = arith::IndexCastOp::create(b, i32, e.remui(d, e.idx(8)));
    for (int64_t p = 0; p < bits; ++p) {
      Value bit = arith::AndIOp::create(
          b, arith::ShRUIOp::create(b, code, e.i32(bits - 1 - p)), e.i32(1));
      SmallVector<Value> at = planeIndices(e.idx(p), lead, byte);
      Value old = memref::LoadOp::create(b, planes, at);
      Value set =
          arith::TruncIOp::create(b, i8, arith::ShLIOp::create(b, bit, shift));
      memref::StoreOp::create(b, arith::OrIOp::create(b, old, set), planes, at);
    }
    Value j = arith::IndexCastOp::create(b, b.getIndexType(), code);
    Value s = memref::LoadOp::create(b, sums, ValueRange{j});
    memref::StoreOp::create(b, e.add(s, x), sums, ValueRange{j});
    Value c = memref::LoadOp::create(b, counts, ValueRange{j});
    memref::StoreOp::create(b, e.add(c, e.f32(1)), counts, ValueRange{j});
  });

  // Tables from the finest precision down; before precision k's, fold the
  // sums and counts of k + 1 in place (entry j reads 2j and 2j + 1 >= j, so
  // ascending j never reads an entry it has overwritten).
  for (int64_t k = bits; k >= 1; --k) {
    int64_t n = int64_t{1} << k, span = int64_t{1} << (bits - k);
    if (k < bits)
      e.forLoop(e.idx(0), e.idx(n), 1, [&](Value j) {
        Value even = e.mul(j, e.idx(2)), odd = e.add(even, e.idx(1));
        for (Value t : {sums, counts}) {
          Value a = memref::LoadOp::create(b, t, ValueRange{even});
          Value c = memref::LoadOp::create(b, t, ValueRange{odd});
          memref::StoreOp::create(b, e.add(a, c), t, ValueRange{j});
        }
      });
    e.forLoop(e.idx(0), e.idx(n), 1, [&](Value j) {
      Value s = memref::LoadOp::create(b, sums, ValueRange{j});
      Value c = memref::LoadOp::create(b, counts, ValueRange{j});
      Value filled = e.cmpf(arith::CmpFPredicate::OGT, c, e.f32(0));
      Value mean = arith::DivFOp::create(b, s, e.select(filled, c, e.f32(1)));
      // Centre of levels [j * span, j * span + span - 1].
      Value first = arith::UIToFPOp::create(
          b, f32,
          arith::IndexCastOp::create(b, b.getI64Type(), e.mul(j, e.idx(span))));
      Value centre = e.add(
          lo, e.mul(step,
                    e.add(first, e.f32(0.5 * static_cast<double>(span - 1)))));
      memref::StoreOp::create(b, e.select(filled, mean, centre), lut,
                              concat(lead, {e.add(j, e.idx(n - 2))}));
    });
  }
}

void GradedCodec::emitUnpackRow(Emitter &e, ValueRange parts, ValueRange lead,
                                Value dst, ValueRange dstPrefix) const {
  e.forLoop(e.idx(0), e.idx(dim), 1, [&](Value d) {
    memref::StoreOp::create(e.builder(), emitUnpackElement(e, parts, lead, d),
                            dst, concat(dstPrefix, {d}));
  });
}

Value GradedCodec::emitReadPlane(Emitter &e, Value planes, ValueRange lead,
                                 Value p, Value d) const {
  ImplicitLocOpBuilder &b = e.builder();
  Type i32 = b.getI32Type();
  Value byte = arith::ExtUIOp::create(
      b, i32,
      memref::LoadOp::create(b, planes,
                             planeIndices(p, lead, e.divui(d, e.idx(8)))));
  Value shift = arith::IndexCastOp::create(b, i32, e.remui(d, e.idx(8)));
  Value bit = arith::AndIOp::create(b, arith::ShRUIOp::create(b, byte, shift),
                                    e.i32(1));
  return arith::IndexCastOp::create(b, b.getIndexType(), bit);
}

Value GradedCodec::emitLookup(Emitter &e, Value lut, ValueRange lead,
                              Value at) const {
  return memref::LoadOp::create(e.builder(), lut, concat(lead, {at}));
}

Value GradedCodec::emitUnpackElement(Emitter &e, ValueRange parts,
                                     ValueRange lead, Value d) const {
  ImplicitLocOpBuilder &b = e.builder();
  Value index = e.idx(0);
  for (int64_t p = 0; p < bits; ++p)
    index = arith::OrIOp::create(b, arith::ShLIOp::create(b, index, e.idx(1)),
                                 emitReadPlane(e, parts[0], lead, e.idx(p), d));
  return emitLookup(e, parts[1], lead,
                    e.add(index, e.idx((int64_t{1} << bits) - 2)));
}

Value GradedCodec::emitUnpackElementAt(Emitter &e, ValueRange parts,
                                       ValueRange lead, Value d,
                                       Value k) const {
  ImplicitLocOpBuilder &b = e.builder();
  Value index = e.forLoop(e.idx(0), k, 1, ValueRange{e.idx(0)},
                          [&](Value p, ValueRange it) -> SmallVector<Value> {
                            return {arith::OrIOp::create(
                                b, arith::ShLIOp::create(b, it[0], e.idx(1)),
                                emitReadPlane(e, parts[0], lead, p, d))};
                          })
                    .front();
  // Precision k's table starts at 2 + 4 + ... + 2^(k-1) = 2^k - 2.
  Value offset = e.sub(arith::ShLIOp::create(b, e.idx(1), k), e.idx(2));
  return emitLookup(e, parts[1], lead, e.add(index, offset));
}

std::unique_ptr<QuantCodec> mlir::tessera::makeGradedCodec(QTensorType type) {
  if (type.getScheme().getScheme() != QuantScheme::Graded)
    return nullptr;
  return std::make_unique<GradedCodec>(type);
}

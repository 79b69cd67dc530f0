//===- RowOps.cpp - Per-row bodies of the row-wise tessera ops -------------===//
//
// Hadamard: y = H diag(s) x / sqrt(D) (forward) or x = diag(s) H y / sqrt(D) (inverse), with
// H the Sylvester-ordered Hadamard matrix applied in log2(D) butterfly stages. The signs s
// are a compile-time constant derived from the seed (tessera/Support/RandomSigns.h).
//
//===----------------------------------------------------------------------===//
#include "tessera/Conversion/RowOps.h"
#include "tessera/Support/RandomSigns.h"

#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/SymbolTable.h"

#include <cmath>

using namespace mlir;
using namespace mlir::tessera;

namespace {
SmallVector<Value> withLast(ValueRange lead, Value last) {
  SmallVector<Value> out(lead.begin(), lead.end());
  out.push_back(last);
  return out;
}
} // namespace

Value mlir::tessera::emitHadamardSigns(Emitter &e, Operation *symbolTable, int64_t seed,
                                       int64_t dim) {
  ImplicitLocOpBuilder &b = e.builder();
  std::string name = "__tessera_hadamard_signs_" + std::to_string(dim) + "_" +
                     std::to_string(static_cast<uint64_t>(seed));
  auto type = MemRefType::get({dim}, b.getF32Type());
  if (!SymbolTable::lookupSymbolIn(symbolTable, name)) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&symbolTable->getRegion(0).front());
    SmallVector<float> signs;
    for (int64_t i = 0; i < dim; ++i)
      signs.push_back(static_cast<float>(randomSign(static_cast<uint64_t>(seed), i)));
    auto init = DenseElementsAttr::get(RankedTensorType::get({dim}, b.getF32Type()),
                                       ArrayRef<float>(signs));
    memref::GlobalOp::create(b, name, b.getStringAttr("private"), type, init,
                             /*constant=*/true, /*alignment=*/IntegerAttr());
  }
  return memref::GetGlobalOp::create(b, type, name);
}

void mlir::tessera::emitHadamardRow(Emitter &e, Value in, Value out, ValueRange lead,
                                    Value buf, Value signs, bool inverse,
                                    int64_t vectorWidth) {
  ImplicitLocOpBuilder &b = e.builder();
  Type f32 = b.getF32Type();
  auto outType = cast<MemRefType>(out.getType());
  int64_t d = outType.getShape().back();
  float norm = 1.0f / std::sqrt(static_cast<float>(d));
  // Load the row in f32, with the signs first when going forward.
  e.forLoop(e.idx(0), e.idx(d), 1, [&](Value j) {
    Value x = e.toF32(memref::LoadOp::create(b, in, withLast(lead, j)));
    if (signs && !inverse)
      x = e.mul(x, memref::LoadOp::create(b, signs, ValueRange{j}));
    memref::StoreOp::create(b, x, buf, ValueRange{j});
  });
  // Butterfly stages: (a, b) -> (a + b, a - b) for pairs h apart.
  for (int64_t h = 1; h < d; h *= 2) {
    int64_t width = std::min<int64_t>(h, vectorWidth);
    auto vt = VectorType::get({width}, f32);
    e.forLoop(e.idx(0), e.idx(d), 2 * h, [&](Value i) {
      e.forLoop(e.idx(0), e.idx(h), width, [&](Value j) {
        Value lo = e.add(i, j), hi = e.add(lo, e.idx(h));
        if (width == 1) {
          Value x = memref::LoadOp::create(b, buf, ValueRange{lo});
          Value y = memref::LoadOp::create(b, buf, ValueRange{hi});
          memref::StoreOp::create(b, e.add(x, y), buf, ValueRange{lo});
          memref::StoreOp::create(b, e.sub(x, y), buf, ValueRange{hi});
          return;
        }
        Value x = vector::LoadOp::create(b, vt, buf, ValueRange{lo});
        Value y = vector::LoadOp::create(b, vt, buf, ValueRange{hi});
        vector::StoreOp::create(b, e.add(x, y), buf, ValueRange{lo});
        vector::StoreOp::create(b, e.sub(x, y), buf, ValueRange{hi});
      });
    });
  }
  e.forLoop(e.idx(0), e.idx(d), 1, [&](Value j) {
    Value y = e.mul(memref::LoadOp::create(b, buf, ValueRange{j}), e.f32(norm));
    if (signs && inverse)
      y = e.mul(y, memref::LoadOp::create(b, signs, ValueRange{j}));
    memref::StoreOp::create(b, e.fromF32(y, outType.getElementType()), out, withLast(lead, j));
  });
}

void mlir::tessera::emitQuantizeRow(Emitter &e, const QuantCodec &codec, Value in,
                                    ValueRange parts, ValueRange lead, Value buf) {
  ImplicitLocOpBuilder &b = e.builder();
  int64_t d = cast<MemRefType>(in.getType()).getShape().back();
  e.forLoop(e.idx(0), e.idx(d), 1, [&](Value j) {
    Value x = e.toF32(memref::LoadOp::create(b, in, withLast(lead, j)));
    memref::StoreOp::create(b, x, buf, ValueRange{j});
  });
  codec.emitPackRow(e, buf, {}, parts, lead);
}

void mlir::tessera::emitDequantizeRow(Emitter &e, const QuantCodec &codec, ValueRange parts,
                                      Value out, ValueRange lead, Value buf) {
  ImplicitLocOpBuilder &b = e.builder();
  auto outType = cast<MemRefType>(out.getType());
  codec.emitUnpackRow(e, parts, lead, buf, {});
  e.forLoop(e.idx(0), e.idx(outType.getShape().back()), 1, [&](Value j) {
    Value x = memref::LoadOp::create(b, buf, ValueRange{j});
    memref::StoreOp::create(b, e.fromF32(x, outType.getElementType()), out, withLast(lead, j));
  });
}

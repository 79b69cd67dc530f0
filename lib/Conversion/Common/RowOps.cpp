//===- RowOps.cpp - Per-row bodies of the row-wise tessera ops ------------===//
//
// Hadamard: y = H diag(s) x / sqrt(D) (forward) or x = diag(s) H y / sqrt(D)
// (inverse), with H the Sylvester-ordered Hadamard matrix applied in log2(D)
// butterfly stages. The signs s are a compile-time constant derived from the
// seed (tessera/Support/RandomSigns.h).
//
//===----------------------------------------------------------------------===//
#include "tessera/Conversion/RowOps.h"
#include "tessera/Support/RandomSigns.h"

#include "Tessera/TesseraOps.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"

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

SmallVector<Value> mlir::tessera::allocateComponents(OpBuilder &b, Location loc,
                                                     QTensorType packed,
                                                     ValueRange dynamicLead) {
  // Components keep the qtensor's leading dims, so a run-time one is the same
  // size in each.
  SmallVector<Value> parts;
  for (const auto &c : packed.getStorageComponents())
    parts.push_back(memref::AllocOp::create(
        b, loc, MemRefType::get(c.type.getShape(), c.type.getElementType()),
        dynamicLead));
  return parts;
}

Value mlir::tessera::emitHadamardSigns(Emitter &e, Operation *symbolTable,
                                       int64_t seed, int64_t dim) {
  ImplicitLocOpBuilder &b = e.builder();
  std::string name = "__tessera_hadamard_signs_" + std::to_string(dim) + "_" +
                     std::to_string(static_cast<uint64_t>(seed));
  auto type = MemRefType::get({dim}, b.getF32Type());
  if (!SymbolTable::lookupSymbolIn(symbolTable, name)) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&symbolTable->getRegion(0).front());
    SmallVector<float> signs;
    for (int64_t i = 0; i < dim; ++i)
      signs.push_back(
          static_cast<float>(randomSign(static_cast<uint64_t>(seed), i)));
    auto init = DenseElementsAttr::get(
        RankedTensorType::get({dim}, b.getF32Type()), ArrayRef<float>(signs));
    memref::GlobalOp::create(b, name, b.getStringAttr("private"), type, init,
                             /*constant=*/true, /*alignment=*/IntegerAttr());
  }
  return memref::GetGlobalOp::create(b, type, name);
}

void mlir::tessera::emitHadamardRow(Emitter &e, Value in, Value out,
                                    ValueRange lead, Value buf, Value signs,
                                    bool inverse, int64_t vectorWidth) {
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
    memref::StoreOp::create(b, e.fromF32(y, outType.getElementType()), out,
                            withLast(lead, j));
  });
}

void mlir::tessera::emitQuantizeRow(Emitter &e, const QuantCodec &codec,
                                    Value in, ValueRange parts, ValueRange lead,
                                    Value buf) {
  emitQuantizeRowTo(e, codec, in, lead, parts, lead, buf);
}

void mlir::tessera::emitQuantizeRowTo(Emitter &e, const QuantCodec &codec,
                                      Value in, ValueRange inLead,
                                      ValueRange parts, ValueRange lead,
                                      Value buf) {
  ImplicitLocOpBuilder &b = e.builder();
  int64_t d = cast<MemRefType>(in.getType()).getShape().back();
  e.forLoop(e.idx(0), e.idx(d), 1, [&](Value j) {
    Value x = e.toF32(memref::LoadOp::create(b, in, withLast(inLead, j)));
    memref::StoreOp::create(b, x, buf, ValueRange{j});
  });
  codec.emitPackRow(e, buf, {}, parts, lead);
}

void mlir::tessera::emitDequantizeRow(Emitter &e, const QuantCodec &codec,
                                      ValueRange parts, Value out,
                                      ValueRange lead, Value buf) {
  ImplicitLocOpBuilder &b = e.builder();
  auto outType = cast<MemRefType>(out.getType());
  codec.emitUnpackRow(e, parts, lead, buf, {});
  e.forLoop(e.idx(0), e.idx(outType.getShape().back()), 1, [&](Value j) {
    Value x = memref::LoadOp::create(b, buf, ValueRange{j});
    memref::StoreOp::create(b, e.fromF32(x, outType.getElementType()), out,
                            withLast(lead, j));
  });
}

std::pair<SmallVector<Value>, SmallVector<Value>>
mlir::tessera::leadSizesOf(ImplicitLocOpBuilder &b, ArrayRef<int64_t> shape,
                           Value buffer) {
  SmallVector<Value> all, dynamic;
  for (int64_t d = 0, n = static_cast<int64_t>(shape.size()) - 1; d < n; ++d) {
    if (ShapedType::isDynamic(shape[d])) {
      dynamic.push_back(memref::DimOp::create(b, buffer, d));
      all.push_back(dynamic.back());
    } else {
      all.push_back(arith::ConstantIndexOp::create(b, shape[d]));
    }
  }
  return {all, dynamic};
}

namespace {

MemRefType memrefOf(Type tensorType) {
  auto t = cast<RankedTensorType>(tensorType);
  return MemRefType::get(t.getShape(), t.getElementType());
}

/// The symbol table the code being emitted lives in (the module, or a kernel's
/// gpu.module).
Operation *enclosingSymbolTable(OpBuilder &b) {
  return SymbolTable::getNearestSymbolTable(
      b.getInsertionBlock()->getParentOp());
}

class HadamardRows : public OpConversionPattern<HadamardOp> {
public:
  HadamardRows(const TypeConverter &converter, MLIRContext *ctx,
               RowRunner runner, int64_t vectorWidth)
      : OpConversionPattern(converter, ctx), runner(std::move(runner)),
        vectorWidth(vectorWidth) {}

  LogicalResult
  matchAndRewrite(HadamardOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    // Static shapes were checked, with a diagnostic, before the conversion
    // started.
    auto type = op.getInput().getType();
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Value in = emitToBuffer(b, b.getLoc(), adaptor.getInput());
    auto [lead, dynamicLead] = leadSizesOf(b, type.getShape(), in);
    Value out = memref::AllocOp::create(b, memrefOf(type), dynamicLead);
    int64_t d = type.getShape().back();
    std::optional<int64_t> seed = op.getSeed();
    bool inverse = op.getInverse();
    runner(b, op, "tessera_hadamard", type.getShape().drop_back(), lead, d,
           {in, out},
           [&](Emitter &e, ValueRange lead, ValueRange args, Value row) {
             Value signs =
                 seed ? emitHadamardSigns(e, enclosingSymbolTable(e.builder()),
                                          *seed, d)
                      : Value();
             emitHadamardRow(e, args[0], args[1], lead, row, signs, inverse,
                             vectorWidth);
           });
    rewriter.replaceOp(op, emitToTensor(b, b.getLoc(), out));
    return success();
  }

private:
  RowRunner runner;
  int64_t vectorWidth;
};

class QuantizeRows : public OpConversionPattern<QuantizeOp> {
public:
  QuantizeRows(const TypeConverter &converter, MLIRContext *ctx,
               RowRunner runner)
      : OpConversionPattern(converter, ctx), runner(std::move(runner)) {}

  LogicalResult
  matchAndRewrite(QuantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    QTensorType packed = op.getOutput().getType();
    std::unique_ptr<QuantCodec> codec = QuantCodec::lookup(packed);
    if (!codec)
      return rewriter.notifyMatchFailure(op, "no codec for the scheme");
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    SmallVector<Value> operands{
        emitToBuffer(b, b.getLoc(), adaptor.getInput())};
    auto [lead, dynamicLead] = leadSizesOf(b, packed.getShape(), operands[0]);
    llvm::append_range(operands,
                       allocateComponents(b, b.getLoc(), packed, dynamicLead));
    runner(b, op, "tessera_quantize", packed.getShape().drop_back(), lead,
           packed.getShape().back(), operands,
           [&](Emitter &e, ValueRange lead, ValueRange args, Value row) {
             emitQuantizeRow(e, *codec, args[0], args.drop_front(), lead, row);
           });
    SmallVector<Value> tensors;
    for (Value part : ArrayRef<Value>(operands).drop_front())
      tensors.push_back(emitToTensor(b, b.getLoc(), part));
    rewriter.replaceOpWithMultiple(op, {tensors});
    return success();
  }

private:
  RowRunner runner;
};

class DequantizeRows : public OpConversionPattern<DequantizeOp> {
public:
  DequantizeRows(const TypeConverter &converter, MLIRContext *ctx,
                 RowRunner runner)
      : OpConversionPattern(converter, ctx), runner(std::move(runner)) {}

  LogicalResult
  matchAndRewrite(DequantizeOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    QTensorType packed = op.getInput().getType();
    std::unique_ptr<QuantCodec> codec = QuantCodec::lookup(packed);
    if (!codec)
      return rewriter.notifyMatchFailure(op, "no codec for the scheme");
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    SmallVector<Value> operands;
    for (Value part : adaptor.getInput())
      operands.push_back(emitToBuffer(b, b.getLoc(), part));
    // Run-time leading dims are read off a component laid out [lead..., *]
    // (graded's planes put the plane index first).
    Value laidOut = *llvm::find_if(operands, [&](Value part) {
      return cast<MemRefType>(part.getType()).getRank() == packed.getRank();
    });
    auto [lead, dynamicLead] = leadSizesOf(b, packed.getShape(), laidOut);
    Value out = memref::AllocOp::create(b, memrefOf(op.getOutput().getType()),
                                        dynamicLead);
    operands.push_back(out);
    runner(b, op, "tessera_dequantize", packed.getShape().drop_back(), lead,
           packed.getShape().back(), operands,
           [&](Emitter &e, ValueRange lead, ValueRange args, Value row) {
             emitDequantizeRow(e, *codec, args.drop_back(), args.back(), lead,
                               row);
           });
    rewriter.replaceOp(op, emitToTensor(b, b.getLoc(), out));
    return success();
  }

private:
  RowRunner runner;
};

/// tessera.kv_write: the cache copied (a row kernel per storage component, so
/// the GPU schedule needs no host copy), then a row per new token (b, h, t)
/// written at position positions[b] + t: stored as is into a plain cache,
/// encoded by the scheme's codec into a packed one. Positions and page
/// entries out of range skip the row.
class KVWriteRows : public OpConversionPattern<KVWriteOp> {
public:
  KVWriteRows(const TypeConverter &converter, MLIRContext *ctx,
              RowRunner runner)
      : OpConversionPattern(converter, ctx), runner(std::move(runner)) {}

  LogicalResult
  matchAndRewrite(KVWriteOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto cacheT = cast<ShapedType>(op.getCache().getType());
    std::unique_ptr<QuantCodec> codec;
    if (auto packed = dyn_cast<QTensorType>(cacheT)) {
      codec = QuantCodec::lookup(packed);
      if (!codec)
        return rewriter.notifyMatchFailure(op, "no codec for the cache");
    }
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Location loc = b.getLoc();
    Value update = emitToBuffer(b, loc, adaptor.getUpdate().front());
    Value positions = emitToBuffer(b, loc, adaptor.getPositions().front());
    bool paged = op.isPaged();
    Value table =
        paged ? emitToBuffer(b, loc, adaptor.getBlockTable().front()) : Value();
    int64_t pageSize = op.getPageSize().value_or(0);

    // The result: a copy of every component of the cache.
    SmallVector<Value> parts;
    for (Value part : adaptor.getCache()) {
      Value src = emitToBuffer(b, loc, part);
      auto t = cast<MemRefType>(src.getType());
      SmallVector<Value> dynamic;
      for (int64_t d = 0; d < t.getRank(); ++d)
        if (t.isDynamicDim(d))
          dynamic.push_back(memref::DimOp::create(b, src, d));
      Value dst = memref::AllocOp::create(
          b, MemRefType::get(t.getShape(), t.getElementType()), dynamic);
      if (t.getRank() == 0) {
        memref::StoreOp::create(b, memref::LoadOp::create(b, src), dst);
      } else {
        SmallVector<Value> lead, dynamicLead;
        std::tie(lead, dynamicLead) = leadSizesOf(b, t.getShape(), src);
        int64_t last = t.getShape().back();
        runner(b, op, "tessera_kv_copy", t.getShape().drop_back(), lead, 1,
               {src, dst},
               [&](Emitter &e, ValueRange at, ValueRange args, Value) {
                 Value n = ShapedType::isDynamic(last)
                               ? Value(memref::DimOp::create(
                                     e.builder(), args[0], t.getRank() - 1))
                               : e.idx(last);
                 e.forLoop(e.idx(0), n, 1, [&](Value j) {
                   SmallVector<Value> idx(at.begin(), at.end());
                   idx.push_back(j);
                   memref::StoreOp::create(
                       e.builder(),
                       memref::LoadOp::create(e.builder(), args[0], idx),
                       args[1], idx);
                 });
               });
      }
      parts.push_back(dst);
    }

    auto updateT = op.getUpdate().getType();
    int64_t d = updateT.getShape().back();
    auto [lead, dynamicLead] = leadSizesOf(b, updateT.getShape(), update);
    (void)dynamicLead;
    SmallVector<Value> operands{update, positions};
    if (paged)
      operands.push_back(table);
    operands.append(parts);
    size_t first = paged ? 3 : 2;
    const QuantCodec *rowCodec = codec.get();
    runner(
        b, op, "tessera_kv_write", updateT.getShape().drop_back(), lead, d,
        operands, [&](Emitter &e, ValueRange at, ValueRange args, Value row) {
          ImplicitLocOpBuilder &rb = e.builder();
          ValueRange out = args.drop_front(first);
          Value bi = at[0], h = at[1], t = at[2];
          Value pos =
              e.add(arith::IndexCastOp::create(
                        rb, rb.getIndexType(),
                        memref::LoadOp::create(rb, args[1], ValueRange{bi})),
                    t);
          auto write = [&](ValueRange dstLead) {
            SmallVector<Value> src{bi, h, t};
            if (rowCodec) {
              emitQuantizeRowTo(e, *rowCodec, args[0], src, out, dstLead, row);
              return;
            }
            e.forLoop(e.idx(0), e.idx(d), 1, [&](Value j) {
              SmallVector<Value> from(src), to(dstLead.begin(), dstLead.end());
              from.push_back(j);
              to.push_back(j);
              memref::StoreOp::create(rb,
                                      memref::LoadOp::create(rb, args[0], from),
                                      out.front(), to);
            });
          };
          auto inRange = [&](Value v, Value n) {
            return arith::AndIOp::create(
                rb, e.cmpi(arith::CmpIPredicate::sge, v, e.idx(0)),
                e.cmpi(arith::CmpIPredicate::slt, v, n));
          };
          if (!paged) {
            Value smax = memref::DimOp::create(rb, out.front(), 2);
            e.ifThen(inRange(pos, smax), [&] { write({bi, h, pos}); });
            return;
          }
          Value tbl = args[2];
          Value capacity =
              e.mul(memref::DimOp::create(rb, tbl, 1), e.idx(pageSize));
          e.ifThen(inRange(pos, capacity), [&] {
            Value entry = arith::IndexCastOp::create(
                rb, rb.getIndexType(),
                memref::LoadOp::create(
                    rb, tbl, ValueRange{bi, e.divui(pos, e.idx(pageSize))}));
            Value pages = memref::DimOp::create(rb, out.front(), 0);
            e.ifThen(inRange(entry, pages),
                     [&] { write({entry, e.remui(pos, e.idx(pageSize)), h}); });
          });
        });
    SmallVector<Value> tensors;
    for (Value part : parts)
      tensors.push_back(emitToTensor(b, loc, part));
    rewriter.replaceOpWithMultiple(op, {tensors});
    return success();
  }

private:
  RowRunner runner;
};

} // namespace

void mlir::tessera::populateRowOpPatterns(const TypeConverter &converter,
                                          RewritePatternSet &patterns,
                                          RowRunner runner,
                                          int64_t vectorWidth) {
  MLIRContext *ctx = patterns.getContext();
  patterns.add<HadamardRows>(converter, ctx, runner, vectorWidth);
  patterns.add<QuantizeRows, DequantizeRows, KVWriteRows>(converter, ctx,
                                                          runner);
}

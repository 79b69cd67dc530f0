//===- QuantToLoops.cpp - tessera.quantize / dequantize -> codec loops -----===//
//
// Both ops walk the rows of the last dim in parallel and hand each row to the scheme's
// QuantCodec, staging it through an f32 scratch row. A quantized value becomes its storage
// components (one tensor each), which is what every consumer of it receives.
//
//===----------------------------------------------------------------------===//
#include "tessera/Conversion/QuantCodec.h"
#include "tessera/Conversion/RowOps.h"
#include "tessera/Conversion/TesseraToLoops.h"

#include "Tessera/TesseraOps.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"

using namespace mlir;
using namespace mlir::tessera;

namespace {

class QuantizeLowering : public OpConversionPattern<QuantizeOp> {
public:
  using OpConversionPattern::OpConversionPattern;

  LogicalResult matchAndRewrite(QuantizeOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    // Shapes and schemes were checked, with diagnostics, before the conversion started.
    QTensorType packed = op.getOutput().getType();
    std::unique_ptr<QuantCodec> codec = QuantCodec::lookup(packed);
    if (!codec)
      return rewriter.notifyMatchFailure(op, "no codec for the scheme");
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Emitter e(b);
    Value in = emitToBuffer(b, b.getLoc(), adaptor.getInput());
    SmallVector<Value> parts;
    for (const auto &c : packed.getStorageComponents())
      parts.push_back(memref::AllocOp::create(
          b, MemRefType::get(c.type.getShape(), c.type.getElementType())));
    int64_t d = packed.getShape().back();
    e.parallelRows(packed.getShape().drop_back(), [&](ValueRange lead) {
      Value row = memref::AllocaOp::create(b, MemRefType::get({d}, b.getF32Type()));
      emitQuantizeRow(e, *codec, in, parts, lead, row);
    });
    SmallVector<Value> tensors;
    for (Value part : parts)
      tensors.push_back(emitToTensor(b, b.getLoc(), part));
    rewriter.replaceOpWithMultiple(op, {tensors});
    return success();
  }
};

class DequantizeLowering : public OpConversionPattern<DequantizeOp> {
public:
  using OpConversionPattern::OpConversionPattern;

  LogicalResult matchAndRewrite(DequantizeOp op, OneToNOpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    QTensorType packed = op.getInput().getType();
    std::unique_ptr<QuantCodec> codec = QuantCodec::lookup(packed);
    if (!codec)
      return rewriter.notifyMatchFailure(op, "no codec for the scheme");
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Emitter e(b);
    SmallVector<Value> parts;
    for (Value part : adaptor.getInput())
      parts.push_back(emitToBuffer(b, b.getLoc(), part));
    auto outType = op.getOutput().getType();
    Value out = memref::AllocOp::create(
        b, MemRefType::get(outType.getShape(), outType.getElementType()));
    int64_t d = packed.getShape().back();
    e.parallelRows(packed.getShape().drop_back(), [&](ValueRange lead) {
      Value row = memref::AllocaOp::create(b, MemRefType::get({d}, b.getF32Type()));
      emitDequantizeRow(e, *codec, parts, out, lead, row);
    });
    rewriter.replaceOp(op, emitToTensor(b, b.getLoc(), out));
    return success();
  }
};

} // namespace

void mlir::tessera::populateQuantToLoopsPatterns(const TypeConverter &converter,
                                                 RewritePatternSet &patterns,
                                                 const LoopLoweringOptions &) {
  patterns.add<QuantizeLowering, DequantizeLowering>(converter, patterns.getContext());
}

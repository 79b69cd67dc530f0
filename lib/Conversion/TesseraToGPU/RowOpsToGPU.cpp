//===- RowOpsToGPU.cpp - hadamard / quantize / dequantize -> row kernels ----===//
//
// Each op becomes one kernel over the rows of its last dim: blocks of 128 threads, one row
// per thread, through a private f32 row. The row bodies are Common/RowOps.cpp's, the code
// the CPU lowering runs and its numerics tests check. A row per thread suits the decode-time
// sizes these ops see before attention (a few thousand rows of <= 256); a warp per row with
// shuffles would be the next step for long prefills.
//
//===----------------------------------------------------------------------===//
#include "tessera/Conversion/QuantCodec.h"
#include "tessera/Conversion/RowOps.h"
#include "tessera/Conversion/TesseraToGPU.h"

#include "Tessera/TesseraOps.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/IR/SymbolTable.h"

using namespace mlir;
using namespace mlir::tessera;

gpu::GPUModuleOp mlir::tessera::getOrCreateKernelModule(OpBuilder &b, ModuleOp module) {
  module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(), b.getUnitAttr());
  if (auto existing = module.lookupSymbol<gpu::GPUModuleOp>("tessera_kernels"))
    return existing;
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToEnd(module.getBody());
  return gpu::GPUModuleOp::create(b, module.getLoc(), "tessera_kernels");
}

std::string mlir::tessera::uniqueKernelName(gpu::GPUModuleOp kernels, StringRef stem) {
  auto funcs = kernels.getBody()->getOps<gpu::GPUFuncOp>();
  return (stem + "_" + Twine(std::distance(funcs.begin(), funcs.end()))).str();
}

namespace {

constexpr int64_t kThreads = 128;

MemRefType memrefOf(Type tensorType) {
  auto t = cast<RankedTensorType>(tensorType);
  return MemRefType::get(t.getShape(), t.getElementType());
}

/// Emits a kernel `stem_N` taking `operands` (memrefs, in order) with one private f32 row of
/// `rowLen`; thread i of the grid runs `body(e, lead, args, row)` for row i of `leadShape`
/// (row-major), and launches it with ceil(rows / 128) blocks of 128 threads.
void emitRowKernel(ImplicitLocOpBuilder &b, ModuleOp module, StringRef stem,
                   ArrayRef<int64_t> leadShape, int64_t rowLen, ArrayRef<Value> operands,
                   function_ref<void(Emitter &, ValueRange, ValueRange, Value)> body,
                   function_ref<void(Emitter &, gpu::GPUModuleOp)> prologue = nullptr) {
  gpu::GPUModuleOp kernels = getOrCreateKernelModule(b, module);
  int64_t rows = 1;
  for (int64_t d : leadShape)
    rows *= d;
  SmallVector<Type> argTypes;
  for (Value v : operands)
    argTypes.push_back(v.getType());
  gpu::GPUFuncOp kernel;
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToEnd(kernels.getBody());
    auto priv = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Private);
    auto rowType = MemRefType::get({rowLen}, b.getF32Type(), nullptr, priv);
    kernel = gpu::GPUFuncOp::create(b, uniqueKernelName(kernels, stem),
                                    b.getFunctionType(argTypes, {}), TypeRange{},
                                    TypeRange{rowType});
    kernel->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
    kernel.setKnownBlockSizeAttr(b.getDenseI32ArrayAttr({kThreads, 1, 1}));
    Block &entry = kernel.getBody().front();
    b.setInsertionPointToStart(&entry);
    Emitter e(b);
    Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
    Value bid = gpu::BlockIdOp::create(b, gpu::Dimension::x);
    Value row = e.add(e.mul(bid, e.idx(kThreads)), tid);
    e.ifThen(e.cmpi(arith::CmpIPredicate::ult, row, e.idx(rows)), [&] {
      // Row-major delinearization of the row index into the leading dims.
      SmallVector<Value> lead(leadShape.size());
      Value rest = row;
      for (int64_t i = static_cast<int64_t>(leadShape.size()) - 1; i >= 0; --i) {
        lead[i] = e.remui(rest, e.idx(leadShape[i]));
        rest = e.divui(rest, e.idx(leadShape[i]));
      }
      body(e, lead, entry.getArguments().take_front(argTypes.size()),
           kernel.getPrivateAttributions()[0]);
    });
    gpu::ReturnOp::create(b);
  }
  auto idx = [&](int64_t v) { return arith::ConstantIndexOp::create(b, v).getResult(); };
  gpu::LaunchFuncOp::create(b, kernel,
                            gpu::KernelDim3{idx((rows + kThreads - 1) / kThreads), idx(1), idx(1)},
                            gpu::KernelDim3{idx(kThreads), idx(1), idx(1)},
                            /*dynamicSharedMemorySize=*/Value(), operands);
}

class HadamardToGPU : public OpConversionPattern<HadamardOp> {
public:
  using OpConversionPattern::OpConversionPattern;

  LogicalResult matchAndRewrite(HadamardOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    auto type = op.getInput().getType();
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Value in = emitToBuffer(b, b.getLoc(), adaptor.getInput());
    Value out = memref::AllocOp::create(b, memrefOf(type));
    int64_t d = type.getShape().back();
    std::optional<int64_t> seed = op.getSeed();
    bool inverse = op.getInverse();
    ModuleOp module = op->getParentOfType<ModuleOp>();
    gpu::GPUModuleOp kernels = getOrCreateKernelModule(b, module);
    emitRowKernel(b, module, "tessera_hadamard", type.getShape().drop_back(), d, {in, out},
                  [&](Emitter &e, ValueRange lead, ValueRange args, Value row) {
                    Value signs = seed ? emitHadamardSigns(e, kernels, *seed, d) : Value();
                    emitHadamardRow(e, args[0], args[1], lead, row, signs, inverse,
                                    /*vectorWidth=*/1);
                  });
    rewriter.replaceOp(op, emitToTensor(b, b.getLoc(), out));
    return success();
  }
};

class QuantizeToGPU : public OpConversionPattern<QuantizeOp> {
public:
  using OpConversionPattern::OpConversionPattern;

  LogicalResult matchAndRewrite(QuantizeOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    QTensorType packed = op.getOutput().getType();
    std::unique_ptr<QuantCodec> codec = QuantCodec::lookup(packed);
    if (!codec)
      return rewriter.notifyMatchFailure(op, "no codec for the scheme");
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    SmallVector<Value> operands{emitToBuffer(b, b.getLoc(), adaptor.getInput())};
    for (const auto &c : packed.getStorageComponents())
      operands.push_back(memref::AllocOp::create(
          b, MemRefType::get(c.type.getShape(), c.type.getElementType())));
    emitRowKernel(b, op->getParentOfType<ModuleOp>(), "tessera_quantize",
                  packed.getShape().drop_back(), packed.getShape().back(), operands,
                  [&](Emitter &e, ValueRange lead, ValueRange args, Value row) {
                    emitQuantizeRow(e, *codec, args[0], args.drop_front(), lead, row);
                  });
    SmallVector<Value> tensors;
    for (Value part : ArrayRef<Value>(operands).drop_front())
      tensors.push_back(emitToTensor(b, b.getLoc(), part));
    rewriter.replaceOpWithMultiple(op, {tensors});
    return success();
  }
};

class DequantizeToGPU : public OpConversionPattern<DequantizeOp> {
public:
  using OpConversionPattern::OpConversionPattern;

  LogicalResult matchAndRewrite(DequantizeOp op, OneToNOpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    QTensorType packed = op.getInput().getType();
    std::unique_ptr<QuantCodec> codec = QuantCodec::lookup(packed);
    if (!codec)
      return rewriter.notifyMatchFailure(op, "no codec for the scheme");
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    SmallVector<Value> operands;
    for (Value part : adaptor.getInput())
      operands.push_back(emitToBuffer(b, b.getLoc(), part));
    Value out = memref::AllocOp::create(b, memrefOf(op.getOutput().getType()));
    operands.push_back(out);
    emitRowKernel(b, op->getParentOfType<ModuleOp>(), "tessera_dequantize",
                  packed.getShape().drop_back(), packed.getShape().back(), operands,
                  [&](Emitter &e, ValueRange lead, ValueRange args, Value row) {
                    emitDequantizeRow(e, *codec, args.drop_back(), args.back(), lead, row);
                  });
    rewriter.replaceOp(op, emitToTensor(b, b.getLoc(), out));
    return success();
  }
};

} // namespace

void mlir::tessera::populateRowOpsToGPUPatterns(const TypeConverter &converter,
                                                RewritePatternSet &patterns) {
  patterns.add<HadamardToGPU, QuantizeToGPU, DequantizeToGPU>(converter, patterns.getContext());
}

//===- RowOpsToGPU.cpp - Row-wise tessera ops -> row kernels --------------===//
//
// Each op becomes one kernel over the rows of its last dim: blocks of 128
// threads, one row per thread, through a private f32 row (hadamard, quantize,
// dequantize, bit_allocate). The row bodies are Common/RowOps.cpp's and
// Common/BitAllocate.cpp's, the code the CPU lowering runs and its numerics
// tests check. A row per thread suits the decode-time sizes these ops see
// before attention (a few thousand rows of <= 256); a warp per row with
// shuffles would be the next step for long prefills.
//
//===----------------------------------------------------------------------===//
#include "tessera/Conversion/BitAllocate.h"
#include "tessera/Conversion/BlockSelect.h"
#include "tessera/Conversion/Evict.h"
#include "tessera/Conversion/GradedMatmul.h"
#include "tessera/Conversion/QuantCodec.h"
#include "tessera/Conversion/RowOps.h"
#include "tessera/Conversion/TesseraToGPU.h"

#include "Tessera/TesseraOps.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/IR/SymbolTable.h"

using namespace mlir;
using namespace mlir::tessera;

gpu::GPUModuleOp mlir::tessera::getOrCreateKernelModule(OpBuilder &b,
                                                        ModuleOp module) {
  module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                  b.getUnitAttr());
  if (auto existing = module.lookupSymbol<gpu::GPUModuleOp>("tessera_kernels"))
    return existing;
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToEnd(module.getBody());
  return gpu::GPUModuleOp::create(b, module.getLoc(), "tessera_kernels");
}

std::string mlir::tessera::uniqueKernelName(gpu::GPUModuleOp kernels,
                                            StringRef stem) {
  auto funcs = kernels.getBody()->getOps<gpu::GPUFuncOp>();
  return (stem + "_" + Twine(std::distance(funcs.begin(), funcs.end()))).str();
}

Type mlir::tessera::kernelArgType(Value buffer) {
  auto t = cast<MemRefType>(buffer.getType());
  return t.hasStaticShape() ? MemRefType::get(t.getShape(), t.getElementType())
                            : MemRefType::get({1}, t.getElementType());
}

SmallVector<Value> mlir::tessera::kernelOperands(ImplicitLocOpBuilder &b,
                                                 ValueRange buffers,
                                                 TypeRange types) {
  SmallVector<Value> operands;
  for (auto [v, type] : llvm::zip(buffers, types)) {
    Value operand = v;
    if (v.getType() != type) {
      OpFoldResult one = b.getIndexAttr(1);
      operand = memref::ReinterpretCastOp::create(
          b, cast<MemRefType>(type), v, OpFoldResult(b.getIndexAttr(0)), {one},
          {one});
    }
    operands.push_back(operand);
  }
  return operands;
}

Value mlir::tessera::emitRowMajorView(Emitter &e, Value pointer,
                                      MemRefType type, ArrayRef<Value> dims) {
  ImplicitLocOpBuilder &b = e.builder();
  int64_t r = type.getRank();
  // Static dims and the unit stride as attributes, so the view's type keeps
  // them.
  SmallVector<OpFoldResult> sizes, strides(r);
  for (int64_t d = 0; d < r; ++d)
    sizes.push_back(type.isDynamicDim(d)
                        ? OpFoldResult(dims[d])
                        : OpFoldResult(b.getIndexAttr(type.getDimSize(d))));
  strides[r - 1] = b.getIndexAttr(1);
  Value stride = e.idx(1);
  for (int64_t d = r - 2; d >= 0; --d) {
    stride = e.mul(stride, dims[d + 1]);
    strides[d] = stride;
  }
  SmallVector<int64_t> layout(r, ShapedType::kDynamic);
  layout.back() = 1;
  auto view =
      MemRefType::get(type.getShape(), type.getElementType(),
                      StridedLayoutAttr::get(b.getContext(), 0, layout));
  return memref::ReinterpretCastOp::create(
      b, view, pointer, OpFoldResult(b.getIndexAttr(0)), sizes, strides);
}

namespace {

constexpr int64_t kThreads = 128;

/// Emits a kernel `stem_N` taking `operands` (memrefs, in order) with one
/// private f32 row of `rowLen`; thread i of the grid runs `body(e, lead, args,
/// row)` for row i of the leading dims (row-major), and launches it with
/// ceil(rows / 128) blocks of 128 threads. `leadSizes` are the leading dims'
/// sizes on the host (constants where static). With run-time dims, operands
/// of dynamic shape travel as base pointers and the kernel rebuilds their
/// views from index arguments: the leading sizes, then each operand's dynamic
/// dims.
void emitRowKernel(ImplicitLocOpBuilder &b, ModuleOp module, StringRef stem,
                   ArrayRef<int64_t> leadShape, ValueRange leadSizes,
                   int64_t rowLen, ArrayRef<Value> operands, RowBody body) {
  gpu::GPUModuleOp kernels = getOrCreateKernelModule(b, module);
  bool dynamic = llvm::any_of(leadShape, ShapedType::isDynamic);
  int64_t staticRows = 1;
  for (int64_t d : leadShape)
    staticRows *= ShapedType::isDynamic(d) ? 1 : d;
  SmallVector<Type> argTypes;
  for (Value v : operands)
    argTypes.push_back(kernelArgType(v));
  // Host index arguments: the leading sizes, then operands' dynamic dims.
  SmallVector<Value> sizeArgs;
  if (dynamic) {
    sizeArgs.append(leadSizes.begin(), leadSizes.end());
    for (Value v : operands) {
      auto t = cast<MemRefType>(v.getType());
      for (int64_t d = 0; d < t.getRank(); ++d)
        if (t.isDynamicDim(d))
          sizeArgs.push_back(memref::DimOp::create(b, v, d));
    }
  }
  argTypes.append(sizeArgs.size(), b.getIndexType());
  gpu::GPUFuncOp kernel;
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToEnd(kernels.getBody());
    auto priv =
        gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Private);
    auto rowType = MemRefType::get({rowLen}, b.getF32Type(), nullptr, priv);
    kernel = gpu::GPUFuncOp::create(b, uniqueKernelName(kernels, stem),
                                    b.getFunctionType(argTypes, {}),
                                    TypeRange{}, TypeRange{rowType});
    kernel->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
    kernel.setKnownBlockSizeAttr(b.getDenseI32ArrayAttr({kThreads, 1, 1}));
    Block &entry = kernel.getBody().front();
    b.setInsertionPointToStart(&entry);
    Emitter e(b);
    SmallVector<Value> args(entry.getArguments().take_front(operands.size()));
    SmallVector<Value> lead(leadShape.size());
    Value rows = e.idx(staticRows);
    if (dynamic) {
      ValueRange sizes = entry.getArguments().drop_front(operands.size());
      for (size_t i = 0; i < leadShape.size(); ++i)
        lead[i] = sizes[i];
      rows = e.idx(1);
      for (Value v : lead)
        rows = e.mul(rows, v);
      // Views of the pointer operands: their sizes from the arguments,
      // row-major strides.
      size_t next = leadShape.size();
      for (auto [arg, v] : llvm::zip(args, operands)) {
        auto t = cast<MemRefType>(v.getType());
        if (t.hasStaticShape())
          continue;
        int64_t r = t.getRank();
        SmallVector<Value> shape;
        for (int64_t d = 0; d < r; ++d)
          shape.push_back(t.isDynamicDim(d) ? sizes[next++]
                                            : e.idx(t.getDimSize(d)));
        arg = emitRowMajorView(e, arg, t, shape);
      }
    } else {
      for (size_t i = 0; i < leadShape.size(); ++i)
        lead[i] = e.idx(leadShape[i]);
    }
    Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
    Value bid = gpu::BlockIdOp::create(b, gpu::Dimension::x);
    Value row = e.add(e.mul(bid, e.idx(kThreads)), tid);
    e.ifThen(e.cmpi(arith::CmpIPredicate::ult, row, rows), [&] {
      // Row-major delinearization of the row index into the leading dims.
      SmallVector<Value> at(leadShape.size());
      Value rest = row;
      for (int64_t i = static_cast<int64_t>(leadShape.size()) - 1; i >= 0;
           --i) {
        at[i] = e.remui(rest, lead[i]);
        rest = e.divui(rest, lead[i]);
      }
      body(e, at, args, kernel.getPrivateAttributions()[0]);
    });
    gpu::ReturnOp::create(b);
  }
  Emitter host(b);
  SmallVector<Value> launchOperands = kernelOperands(
      b, operands, TypeRange(argTypes).take_front(operands.size()));
  launchOperands.append(sizeArgs);
  Value blocks = host.idx((staticRows + kThreads - 1) / kThreads);
  if (dynamic) {
    Value rows = host.idx(1);
    for (Value v : leadSizes)
      rows = host.mul(rows, v);
    blocks = host.ceilDiv(rows, kThreads);
  }
  gpu::LaunchFuncOp::create(
      b, kernel, gpu::KernelDim3{blocks, host.idx(1), host.idx(1)},
      gpu::KernelDim3{host.idx(kThreads), host.idx(1), host.idx(1)},
      /*dynamicSharedMemorySize=*/Value(), launchOperands);
}

} // namespace

void mlir::tessera::populateRowOpsToGPUPatterns(const TypeConverter &converter,
                                                RewritePatternSet &patterns) {
  RowRunner gpuRows = [](ImplicitLocOpBuilder &b, Operation *op, StringRef stem,
                         ArrayRef<int64_t> leadShape, ValueRange leadSizes,
                         int64_t rowLen, ArrayRef<Value> operands,
                         RowBody body) {
    emitRowKernel(b, op->getParentOfType<ModuleOp>(), stem, leadShape,
                  leadSizes, rowLen, operands, body);
  };
  // Scalar butterflies: the scratch row is private (local) memory.
  populateRowOpPatterns(converter, patterns, gpuRows, /*vectorWidth=*/1);
  populateBitAllocatePatterns(converter, patterns, gpuRows);
  // block_select: a thread per key block, then per (batch, head, query block).
  populateBlockSelectPatterns(converter, patterns, gpuRows,
                              /*hostChecks=*/false);
  // graded_matmul: a thread per row of x (its bits), then one per output.
  populateGradedMatmulPatterns(converter, patterns, gpuRows);
  // evict: a thread per index set (batch x KV head, or batch per layer).
  populateEvictPatterns(converter, patterns, gpuRows, /*hostChecks=*/false);
}

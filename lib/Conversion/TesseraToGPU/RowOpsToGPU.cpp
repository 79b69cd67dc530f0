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

namespace {

constexpr int64_t kThreads = 128;

/// Emits a kernel `stem_N` taking `operands` (memrefs, in order) with one
/// private f32 row of `rowLen`; thread i of the grid runs `body(e, lead, args,
/// row)` for row i of `leadShape` (row-major), and launches it with ceil(rows /
/// 128) blocks of 128 threads.
void emitRowKernel(ImplicitLocOpBuilder &b, ModuleOp module, StringRef stem,
                   ArrayRef<int64_t> leadShape, int64_t rowLen,
                   ArrayRef<Value> operands, RowBody body) {
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
    Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
    Value bid = gpu::BlockIdOp::create(b, gpu::Dimension::x);
    Value row = e.add(e.mul(bid, e.idx(kThreads)), tid);
    e.ifThen(e.cmpi(arith::CmpIPredicate::ult, row, e.idx(rows)), [&] {
      // Row-major delinearization of the row index into the leading dims.
      SmallVector<Value> lead(leadShape.size());
      Value rest = row;
      for (int64_t i = static_cast<int64_t>(leadShape.size()) - 1; i >= 0;
           --i) {
        lead[i] = e.remui(rest, e.idx(leadShape[i]));
        rest = e.divui(rest, e.idx(leadShape[i]));
      }
      body(e, lead, entry.getArguments().take_front(argTypes.size()),
           kernel.getPrivateAttributions()[0]);
    });
    gpu::ReturnOp::create(b);
  }
  auto idx = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, v).getResult();
  };
  gpu::LaunchFuncOp::create(
      b, kernel,
      gpu::KernelDim3{idx((rows + kThreads - 1) / kThreads), idx(1), idx(1)},
      gpu::KernelDim3{idx(kThreads), idx(1), idx(1)},
      /*dynamicSharedMemorySize=*/Value(), operands);
}

} // namespace

void mlir::tessera::populateRowOpsToGPUPatterns(const TypeConverter &converter,
                                                RewritePatternSet &patterns) {
  RowRunner gpuRows = [](ImplicitLocOpBuilder &b, Operation *op, StringRef stem,
                         ArrayRef<int64_t> leadShape, ValueRange,
                         int64_t rowLen, ArrayRef<Value> operands,
                         RowBody body) {
    emitRowKernel(b, op->getParentOfType<ModuleOp>(), stem, leadShape, rowLen,
                  operands, body);
  };
  // Scalar butterflies: the scratch row is private (local) memory.
  populateRowOpPatterns(converter, patterns, gpuRows, /*vectorWidth=*/1);
  populateBitAllocatePatterns(converter, patterns, gpuRows);
  // graded_matmul: a thread per row of x (its bits), then one per output.
  populateGradedMatmulPatterns(converter, patterns, gpuRows);
}

//===- GPUArtifact.cpp - Compiling tessera modules for NVIDIA GPUs ---------===//
#include "tessera/Target/GPUArtifact.h"
#include "tessera/Passes.h"
#include "tessera/Pipelines.h"
#include "tessera/Target/EntryABI.h"

#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Pass/PassManager.h"

#include <map>
#include <sstream>

using namespace mlir;

namespace {

std::string dimsOf(ArrayRef<int64_t> shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? "x" : "") + std::to_string(shape[i]);
  return s.empty() ? "scalar" : s;
}

std::string dtypeOf(Type t) {
  if (t.isF32())
    return "f32";
  if (t.isF16())
    return "f16";
  if (t.isBF16())
    return "bf16";
  if (t.isInteger(1))
    return "i1";
  if (t.isInteger(8))
    return "i8";
  if (t.isInteger(32))
    return "i32";
  if (t.isInteger(64))
    return "i64";
  return "";
}

/// The constant value of an index operand of a launch.
FailureOr<int64_t> constant(Value v) {
  if (auto c = v.getDefiningOp<arith::ConstantIndexOp>())
    return c.value();
  return failure();
}

/// Describes one entry: its inputs, the buffers it allocates, its launches in order and which
/// buffers it returns.
LogicalResult describe(func::FuncOp func, std::ostringstream &out) {
  std::map<void *, std::string> ids;
  auto idOf = [&](Value v) -> std::string {
    auto it = ids.find(v.getAsOpaquePointer());
    return it == ids.end() ? std::string() : it->second;
  };
  out << "entry " << func.getName().str() << "\n";
  for (auto [i, arg] : llvm::enumerate(func.getArguments())) {
    auto t = dyn_cast<RankedTensorType>(arg.getType());
    if (!t || dtypeOf(t.getElementType()).empty())
      return func.emitError() << "the GPU schedule takes ranked tensors of f32, f16, bf16, i1, "
                                 "i8, i32 or i64; argument #"
                              << i << " is " << arg.getType();
    std::string id = "in" + std::to_string(i);
    ids[arg.getAsOpaquePointer()] = id;
    out << "input " << id << " " << dtypeOf(t.getElementType()) << " " << dimsOf(t.getShape())
        << "\n";
  }
  int buffers = 0;
  for (Operation &op : func.getBody().front()) {
    if (auto toBuffer = dyn_cast<bufferization::ToBufferOp>(op)) {
      std::string id = idOf(toBuffer.getTensor());
      if (id.empty())
        return op.emitError() << "the GPU schedule cannot trace this tensor to an input or a "
                                 "kernel result";
      ids[toBuffer.getResult().getAsOpaquePointer()] = id;
    } else if (auto toTensor = dyn_cast<bufferization::ToTensorOp>(op)) {
      ids[toTensor.getResult().getAsOpaquePointer()] = idOf(toTensor.getBuffer());
    } else if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
      MemRefType t = alloc.getType();
      if (!t.hasStaticShape())
        return op.emitError() << "the GPU schedule needs static buffer shapes";
      std::string id = "buf" + std::to_string(buffers++);
      ids[alloc.getResult().getAsOpaquePointer()] = id;
      out << "buffer " << id << " " << dtypeOf(t.getElementType()) << " "
          << dimsOf(t.getShape()) << "\n";
    } else if (auto launch = dyn_cast<gpu::LaunchFuncOp>(op)) {
      SmallVector<int64_t> dims;
      for (Value v : {launch.getGridSizeX(), launch.getGridSizeY(), launch.getGridSizeZ(),
                      launch.getBlockSizeX(), launch.getBlockSizeY(), launch.getBlockSizeZ()}) {
        FailureOr<int64_t> c = constant(v);
        if (failed(c))
          return op.emitError() << "the GPU schedule needs constant launch dimensions";
        dims.push_back(*c);
      }
      int64_t smem = 0;
      if (Value s = launch.getDynamicSharedMemorySize()) {
        FailureOr<int64_t> c = constant(s);
        if (failed(c))
          return op.emitError() << "the GPU schedule needs a constant shared memory size";
        smem = *c;
      }
      out << "launch " << launch.getKernelName().str() << " grid " << dims[0] << " " << dims[1]
          << " " << dims[2] << " block " << dims[3] << " " << dims[4] << " " << dims[5]
          << " smem " << smem << " args";
      for (Value arg : launch.getKernelOperands()) {
        std::string id = idOf(arg);
        if (id.empty())
          return op.emitError() << "the GPU schedule cannot pass a non-buffer kernel argument";
        out << " " << id;
      }
      out << "\n";
    } else if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (Value v : ret.getOperands()) {
        std::string id = idOf(v);
        if (id.empty())
          return op.emitError() << "the GPU schedule cannot trace a returned value";
        out << "output " << id << "\n";
      }
    } else if (!isa<arith::ConstantOp>(op)) {
      return op.emitError() << "the GPU schedule (buffers and kernel launches) cannot express "
                               "this host operation yet";
    }
  }
  out << "end\n";
  return success();
}

} // namespace

FailureOr<std::string> mlir::tessera::lowerToGPUAndDescribe(ModuleOp module) {
  PassManager pm(module.getContext());
  pm.addPass(createTesseraSparsify());
  pm.addPass(createConvertTesseraToGPU());
  if (failed(pm.run(module)))
    return failure();
  std::ostringstream out;
  out << "tessera-manifest 1\n";
  bool any = false;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (func.isPrivate() || func.isExternal())
      continue;
    any = true;
    if (failed(describe(func, out)))
      return failure();
  }
  if (!any)
    return module.emitError() << "the module has no public function to compile";
  return out.str();
}

FailureOr<std::string> mlir::tessera::serializeKernelsToPTX(ModuleOp converted, StringRef chip,
                                                           StringRef features) {
  OwningOpRef<ModuleOp> clone(converted.clone());
  if (!clone->lookupSymbol<gpu::GPUModuleOp>("tessera_kernels"))
    return clone->emitError() << "the module has no kernels to serialise";
  PassManager pm(converted.getContext());
  GPUPipelineOptions options;
  options.chip = chip.str();
  options.features = features.str();
  options.format = "isa";
  buildGPUKernelPipeline(pm, options);
  if (failed(pm.run(*clone)))
    return failure();
  auto bin = clone->lookupSymbol<gpu::BinaryOp>("tessera_kernels");
  if (!bin || bin.getObjects().empty())
    return clone->emitError() << "serialising the kernels produced no object";
  auto object = cast<gpu::ObjectAttr>(bin.getObjects()[0]);
  return object.getObject().getValue().str();
}

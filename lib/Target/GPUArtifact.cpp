//===- GPUArtifact.cpp - Compiling tessera modules for NVIDIA GPUs --------===//
#include "tessera/Target/GPUArtifact.h"
#include "tessera/Passes.h"
#include "tessera/Pipelines.h"
#include "tessera/Target/EntryABI.h"

#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
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
    s += (i ? "x" : "") + (ShapedType::isDynamic(shape[i])
                               ? std::string("?")
                               : std::to_string(shape[i]));
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

/// Describes one entry: its inputs, the buffers it allocates, its launches in
/// order and which buffers it returns.
LogicalResult describe(func::FuncOp func, std::ostringstream &out) {
  std::map<void *, std::string> ids;
  auto idOf = [&](Value v) -> std::string {
    auto it = ids.find(v.getAsOpaquePointer());
    return it == ids.end() ? std::string() : it->second;
  };
  // Run-time sizes (index values of the host schedule): `size` lines, named
  // s0, s1, ...; an index constant is its literal.
  int sizes = 0, constants = 0;
  auto sizeOf = [&](Value v) -> std::string {
    if (auto c = v.getDefiningOp<arith::ConstantIndexOp>())
      return std::to_string(c.value());
    return idOf(v);
  };
  out << "entry " << func.getName().str() << "\n";
  for (auto [i, arg] : llvm::enumerate(func.getArguments())) {
    auto t = dyn_cast<RankedTensorType>(arg.getType());
    if (!t || dtypeOf(t.getElementType()).empty())
      return func.emitError()
             << "the GPU schedule takes ranked tensors of f32, f16, bf16, i1, "
                "i8, i32 or i64; argument #"
             << i << " is " << arg.getType();
    std::string id = "in" + std::to_string(i);
    ids[arg.getAsOpaquePointer()] = id;
    out << "input " << id << " " << dtypeOf(t.getElementType()) << " "
        << dimsOf(t.getShape()) << "\n";
  }
  int buffers = 0;
  for (Operation &op : func.getBody().front()) {
    if (auto toBuffer = dyn_cast<bufferization::ToBufferOp>(op)) {
      std::string id = idOf(toBuffer.getTensor());
      if (id.empty())
        return op.emitError()
               << "the GPU schedule cannot trace this tensor to an input or a "
                  "kernel result";
      ids[toBuffer.getResult().getAsOpaquePointer()] = id;
    } else if (auto toTensor = dyn_cast<bufferization::ToTensorOp>(op)) {
      ids[toTensor.getResult().getAsOpaquePointer()] =
          idOf(toTensor.getBuffer());
    } else if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
      MemRefType t = alloc.getType();
      std::string id = "buf" + std::to_string(buffers++);
      ids[alloc.getResult().getAsOpaquePointer()] = id;
      // Dynamic dims are sizes of the schedule.
      std::string dims;
      auto dynamicSizes = alloc.getDynamicSizes();
      size_t next = 0;
      for (int64_t d = 0; d < t.getRank(); ++d) {
        std::string dim = t.isDynamicDim(d) ? sizeOf(dynamicSizes[next++])
                                            : std::to_string(t.getDimSize(d));
        if (dim.empty())
          return op.emitError() << "the GPU schedule cannot size this buffer";
        dims += (d ? "x" : "") + dim;
      }
      out << "buffer " << id << " " << dtypeOf(t.getElementType()) << " "
          << (dims.empty() ? "scalar" : dims) << "\n";
    } else if (auto dim = dyn_cast<memref::DimOp>(op)) {
      std::optional<int64_t> axis = dim.getConstantIndex();
      std::string of = idOf(dim.getSource());
      if (!axis || of.empty())
        return op.emitError()
               << "the GPU schedule reads dims of inputs and buffers at "
                  "constant axes only";
      std::string id = "s" + std::to_string(sizes++);
      ids[dim.getResult().getAsOpaquePointer()] = id;
      out << "size " << id << " dim " << of << " " << *axis << "\n";
    } else if (isa<arith::AddIOp, arith::SubIOp, arith::MulIOp, arith::DivUIOp,
                   arith::MinSIOp, arith::MaxSIOp>(op) &&
               op.getResult(0).getType().isIndex()) {
      std::string a = sizeOf(op.getOperand(0)), b = sizeOf(op.getOperand(1));
      if (a.empty() || b.empty())
        return op.emitError()
               << "the GPU schedule computes sizes from sizes and constants";
      const char *name = isa<arith::AddIOp>(op)    ? "add"
                         : isa<arith::SubIOp>(op)  ? "sub"
                         : isa<arith::MulIOp>(op)  ? "mul"
                         : isa<arith::DivUIOp>(op) ? "div"
                         : isa<arith::MinSIOp>(op) ? "min"
                                                   : "max";
      std::string id = "s" + std::to_string(sizes++);
      ids[op.getResult(0).getAsOpaquePointer()] = id;
      out << "size " << id << " " << name << " " << a << " " << b << "\n";
    } else if (auto assertOp = dyn_cast<cf::AssertOp>(op)) {
      // A rule on run-time sizes (a == b), checked before the launches.
      auto cmp = assertOp.getArg().getDefiningOp<arith::CmpIOp>();
      if (!cmp || (cmp.getPredicate() != arith::CmpIPredicate::eq &&
                   cmp.getPredicate() != arith::CmpIPredicate::sge))
        return op.emitError()
               << "the GPU schedule checks a == b and a >= b of sizes only";
      std::string a = sizeOf(cmp.getLhs()), b = sizeOf(cmp.getRhs());
      if (a.empty() || b.empty())
        return op.emitError() << "the GPU schedule checks sizes only";
      std::string where;
      if (auto loc = dyn_cast<FileLineColLoc>(op.getLoc()))
        where = loc.getFilename().str() + ":" + std::to_string(loc.getLine()) +
                ":" + std::to_string(loc.getColumn()) + ": ";
      out << (cmp.getPredicate() == arith::CmpIPredicate::eq ? "check "
                                                             : "checkge ")
          << a << " " << b << " " << where << assertOp.getMsg().str() << "\n";
    } else if (isa<arith::CmpIOp>(op)) {
      // Read by the check that uses it.
    } else if (auto reinterpret = dyn_cast<memref::ReinterpretCastOp>(op)) {
      // A dynamic buffer passed as its base pointer: the same buffer.
      std::string id = idOf(reinterpret.getSource());
      if (id.empty())
        return op.emitError() << "the GPU schedule cannot trace this buffer";
      ids[reinterpret.getResult().getAsOpaquePointer()] = id;
    } else if (auto launch = dyn_cast<gpu::LaunchFuncOp>(op)) {
      SmallVector<int64_t> dims;
      // The grid may be sized at run time; the block is fixed.
      SmallVector<std::string> grid;
      for (Value v : {launch.getGridSizeX(), launch.getGridSizeY(),
                      launch.getGridSizeZ()}) {
        grid.push_back(sizeOf(v));
        if (grid.back().empty())
          return op.emitError()
                 << "the GPU schedule sizes grids from sizes and constants";
      }
      for (Value v : {launch.getBlockSizeX(), launch.getBlockSizeY(),
                      launch.getBlockSizeZ()}) {
        FailureOr<int64_t> c = constant(v);
        if (failed(c))
          return op.emitError()
                 << "the GPU schedule needs constant block dimensions";
        dims.push_back(*c);
      }
      int64_t smem = 0;
      if (Value s = launch.getDynamicSharedMemorySize()) {
        FailureOr<int64_t> c = constant(s);
        if (failed(c))
          return op.emitError()
                 << "the GPU schedule needs a constant shared memory size";
        smem = *c;
      }
      out << "launch " << launch.getKernelName().str() << " grid " << grid[0]
          << " " << grid[1] << " " << grid[2] << " block " << dims[0] << " "
          << dims[1] << " " << dims[2] << " smem " << smem << " args";
      for (Value arg : launch.getKernelOperands()) {
        // Buffers by id; index arguments (run-time sizes) by size.
        std::string id = arg.getType().isIndex() ? sizeOf(arg) : idOf(arg);
        if (id.empty())
          return op.emitError()
                 << "the GPU schedule cannot pass a non-buffer kernel argument";
        out << " " << id;
      }
      out << "\n";
    } else if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (Value v : ret.getOperands()) {
        std::string id = idOf(v);
        if (id.empty())
          return op.emitError()
                 << "the GPU schedule cannot trace a returned value";
        out << "output " << id << "\n";
      }
    } else if (auto cst = dyn_cast<arith::ConstantOp>(op);
               cst && isa<RankedTensorType>(cst.getType())) {
      // A constant tensor (a block table, lengths): its values travel in the
      // manifest and are uploaded before the launches.
      auto dense = dyn_cast<DenseElementsAttr>(cst.getValue());
      auto t = cast<RankedTensorType>(cst.getType());
      std::string dtype = dtypeOf(t.getElementType());
      if (!dense || !t.hasStaticShape() || dtype.empty() ||
          !t.getElementType().isIntOrIndex() || t.getNumElements() > (1 << 20))
        return op.emitError()
               << "the GPU schedule carries integer constants of up to 2^20 "
                  "elements only";
      std::string id = "cst" + std::to_string(constants++);
      ids[cst.getResult().getAsOpaquePointer()] = id;
      out << "const " << id << " " << dtype << " " << dimsOf(t.getShape());
      for (const APInt &v : dense.getValues<APInt>())
        out << " "
            << (t.getElementType().isInteger(1)
                    ? static_cast<int64_t>(v.getZExtValue())
                    : v.getSExtValue());
      out << "\n";
    } else if (!isa<arith::ConstantOp>(op)) {
      return op.emitError()
             << "the GPU schedule (buffers and kernel launches) cannot express "
                "this host operation yet";
    }
  }
  out << "end\n";
  return success();
}

} // namespace

FailureOr<std::string>
mlir::tessera::lowerToGPUAndDescribe(ModuleOp module, int64_t sms, bool wgmma) {
  PassManager pm(module.getContext());
  pm.addPass(createTesseraSparsify());
  TesseraTileAttentionOptions tile;
  tile.target = "gpu";
  tile.sms = sms;
  tile.wgmma = wgmma;
  pm.addPass(createTesseraTileAttention(tile));
  ConvertTesseraToGPUOptions convert;
  convert.wgmma = wgmma;
  convert.chip = wgmma ? "sm_90a" : "";
  pm.addPass(createConvertTesseraToGPU(convert));
  if (failed(pm.run(module)))
    return failure();
  std::ostringstream out;
  out << "tessera-manifest 2\n";
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

FailureOr<std::string> mlir::tessera::serializeKernels(ModuleOp converted,
                                                       StringRef chip,
                                                       StringRef features,
                                                       StringRef format) {
  OwningOpRef<ModuleOp> clone(converted.clone());
  if (!clone->lookupSymbol<gpu::GPUModuleOp>("tessera_kernels"))
    return clone->emitError() << "the module has no kernels to serialise";
  PassManager pm(converted.getContext());
  GPUPipelineOptions options;
  options.chip = chip.str();
  options.features = features.str();
  options.format = format.str();
  buildGPUKernelPipeline(pm, options);
  if (failed(pm.run(*clone)))
    return failure();
  auto bin = clone->lookupSymbol<gpu::BinaryOp>("tessera_kernels");
  if (!bin || bin.getObjects().empty())
    return clone->emitError() << "serialising the kernels produced no object";
  auto object = cast<gpu::ObjectAttr>(bin.getObjects()[0]);
  return object.getObject().getValue().str();
}

std::string mlir::tessera::generateLaunchHeader(StringRef manifest,
                                                StringRef guard) {
  std::ostringstream h;
  h << "/* Generated by tessera-compile: typed launch functions over "
       "tessera-runtime.\n"
       " * Load the module from the .tsr artifact (tsrt_artifact_find_image + "
       "tsrt_module_load_*),\n"
       " * allocate the buffers with the shapes below, then call the entry. "
       "*/\n"
    << "#ifndef " << guard.str() << "\n#define " << guard.str() << "\n\n"
    << "#include \"tessera-runtime/runtime.h\"\n\n";
  std::istringstream lines(manifest.str());
  std::string line, entry;
  std::vector<std::string> params, comments, body;
  bool runtimeSizes = false;
  auto flush = [&] {
    if (runtimeSizes) {
      // Sizes, grids and checks that depend on the inputs are evaluated by
      // the manifest runner (tessera::gpu::Runner, tessera-run-gpu); a typed
      // C function would have to redo them.
      h << "/* @" << entry
        << " has run-time sizes: no typed launch function; run it through "
           "the manifest (tessera-run-gpu, tessera::gpu::Runner). */\n\n";
      return;
    }
    h << "/* @" << entry << ":\n";
    for (const std::string &c : comments)
      h << " *   " << c << "\n";
    h << " */\nstatic inline tsrt_status tessera_" << entry
      << "(tsrt_module module";
    for (const std::string &p : params)
      h << ", tsrt_buffer " << p;
    h << ", tsrt_stream stream) {\n  tsrt_kernel kernel;\n  tsrt_status "
         "status;\n";
    for (const std::string &b : body)
      h << b;
    h << "  return NULL;\n}\n\n";
  };
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string word;
    words >> word;
    if (word == "entry") {
      words >> entry;
      runtimeSizes = false;
      params.clear();
      comments.clear();
      body.clear();
    } else if (word == "input" || word == "buffer") {
      std::string id, dtype, shape;
      words >> id >> dtype >> shape;
      params.push_back(id);
      comments.push_back(id + ": " + dtype + " " + shape +
                         (word == "input" ? " (input)" : ""));
    } else if (word == "output") {
      std::string id;
      words >> id;
      comments.push_back("result: " + id);
    } else if (word == "size" || word == "check") {
      runtimeSizes = true;
    } else if (word == "launch" && !runtimeSizes) {
      std::string kernel, g, bl, sm, args;
      unsigned grid[3], block[3], smem;
      words >> kernel >> g >> grid[0] >> grid[1] >> grid[2] >> bl >> block[0] >>
          block[1] >> block[2] >> sm >> smem >> args;
      std::vector<std::string> ids;
      std::string id;
      while (words >> id)
        ids.push_back(id);
      std::ostringstream b;
      b << "  {\n    tsrt_arg args[" << ids.size() << "];\n";
      for (size_t i = 0; i < ids.size(); ++i)
        b << "    args[" << i << "].kind = TSRT_ARG_BUFFER;\n    args[" << i
          << "].value.buffer = " << ids[i] << ";\n";
      b << "    tsrt_launch_config config = {{" << grid[0] << ", " << grid[1]
        << ", " << grid[2] << "}, {" << block[0] << ", " << block[1] << ", "
        << block[2] << "}, " << smem << "};\n"
        << "    if ((status = tsrt_module_get_kernel(module, \"" << kernel
        << "\", &kernel)))\n"
        << "      return status;\n"
        << "    if ((status = tsrt_launch(kernel, &config, args, " << ids.size()
        << ", stream)))\n      return status;\n  }\n";
      body.push_back(b.str());
    } else if (word == "end") {
      flush();
    }
  }
  h << "#endif /* " << guard.str() << " */\n";
  return h.str();
}

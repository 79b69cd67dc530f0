//===- JIT.cpp - Compile tessera modules for the host and call them -------===//
#include "tessera/JIT/JIT.h"
#include "tessera/InitAll.h"
#include "tessera/Pipelines.h"
#include "tessera/Target/EntryABI.h"

#include "Tessera/TesseraOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ExecutionEngine/Orc/AbsoluteSymbols.h"
#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/Object/ObjectFile.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"

#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"
#include <cstdio>

#include <cstdlib>
#include <mutex>

using namespace tessera;
using namespace tessera::jit;

#ifndef TESSERA_VERSION
#define TESSERA_VERSION "0.0.0"
#endif
#ifndef TESSERA_LIBOMP_PATH
#error                                                                         \
    "the build must define TESSERA_LIBOMP_PATH (lib/CMakeLists.txt finds Debian's libomp)"
#endif

const char *tessera::jit::version() { return TESSERA_VERSION; }

CompiledModule::~CompiledModule() = default;

const EntryABI *CompiledModule::findEntry(const std::string &name) const {
  for (const EntryABI &e : entries())
    if (e.name == name)
      return &e;
  return nullptr;
}

int64_t tessera::jit::hostVectorWidth() {
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  if (features.lookup("avx512f"))
    return 16;
  if (features.lookup("avx2") || features.lookup("avx"))
    return 8;
  return 4;
}

namespace {

void initializeLLVM() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    llvm::InitializeNativeTargetAsmParser();
  });
}

/// Formats MLIR diagnostics as "file:line:col: message" and hands them to
/// `diag`.
void forwardDiagnostic(mlir::Diagnostic &d, const DiagnosticFn &diag) {
  auto emit = [&](mlir::Diagnostic &one) {
    const char *severity = "error";
    switch (one.getSeverity()) {
    case mlir::DiagnosticSeverity::Error:
      break;
    case mlir::DiagnosticSeverity::Warning:
      severity = "warning";
      break;
    case mlir::DiagnosticSeverity::Note:
      severity = "note";
      break;
    case mlir::DiagnosticSeverity::Remark:
      severity = "remark";
      break;
    }
    std::string where;
    if (auto loc = llvm::dyn_cast<mlir::FileLineColLoc>(
            mlir::LocationAttr(one.getLocation())
                .findInstanceOf<mlir::FileLineColLoc>()))
      where = (loc.getFilename().str() + ":" + std::to_string(loc.getLine()) +
               ":" + std::to_string(loc.getColumn()));
    diag(severity, where, one.str());
  };
  emit(d);
  for (mlir::Diagnostic &note : d.getNotes())
    emit(note);
}

std::string cacheDirectory(const CompileOptions &options) {
  if (!options.cacheDir.empty())
    return options.cacheDir;
  if (const char *env = std::getenv("TESSERA_CACHE_DIR"); env && *env)
    return env;
  if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return std::string(xdg) + "/tessera";
  if (const char *home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.cache/tessera";
  return "off";
}

/// Adds `void __tessera_invoke_<name>(void **args)` calling
/// `_mlir_ciface_<name>` with args[i] as its i-th (descriptor pointer)
/// argument, so any entry is called the same way.
bool addInvokeWrapper(llvm::Module &module, const std::string &name,
                      size_t numArgs) {
  llvm::Function *callee = module.getFunction("_mlir_ciface_" + name);
  // Every input and output must have become one descriptor-pointer argument,
  // else the caller's buffers would not line up with the code's.
  if (!callee || callee->arg_size() != numArgs ||
      !callee->getReturnType()->isVoidTy())
    return false;
  llvm::LLVMContext &ctx = module.getContext();
  auto *ptrTy = llvm::PointerType::get(ctx, 0);
  auto *fnTy =
      llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptrTy}, false);
  auto *fn = llvm::Function::Create(fnTy, llvm::GlobalValue::ExternalLinkage,
                                    "__tessera_invoke_" + name, module);
  llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", fn));
  llvm::SmallVector<llvm::Value *> args;
  for (unsigned i = 0; i < callee->arg_size(); ++i) {
    llvm::Value *slot = b.CreateConstGEP1_64(ptrTy, fn->getArg(0), i);
    args.push_back(b.CreateLoad(callee->getArg(i)->getType(), slot));
  }
  b.CreateCall(callee, args);
  b.CreateRetVoid();
  return true;
}

/// A library that compiled kernels call into, loaded into its own JITDylib so
/// that the JIT resolves its symbols by construction: a process need not (and
/// the tools do not) link it, so a linker's --as-needed or link order cannot
/// take it away.
struct HostRuntimeLibrary {
  /// Shown in diagnostics.
  const char *what;
  /// Environment variable that overrides `defaultPath`.
  const char *envOverride;
  /// Found at configure time (an absolute path, resolved through symlinks).
  const char *defaultPath;
  /// The Debian package that ships it.
  const char *package;
  /// Whether the library defines `symbol`, as compiled code names it.
  bool (*provides)(llvm::StringRef symbol);
};

const HostRuntimeLibrary kHostRuntimeLibraries[] = {
    {"the OpenMP runtime", "TESSERA_LIBOMP", TESSERA_LIBOMP_PATH, "libomp5-22",
     [](llvm::StringRef symbol) {
       return symbol.starts_with("__kmpc_") || symbol.starts_with("omp_");
     }},
};

/// The undefined symbols of an object file, or an error if it cannot be read.
llvm::Expected<std::vector<std::string>>
undefinedSymbols(const llvm::MemoryBuffer &object) {
  auto file =
      llvm::object::ObjectFile::createObjectFile(object.getMemBufferRef());
  if (!file)
    return file.takeError();
  std::vector<std::string> names;
  for (const llvm::object::SymbolRef &sym : (*file)->symbols()) {
    llvm::Expected<uint32_t> flags = sym.getFlags();
    if (!flags)
      return flags.takeError();
    if (!(*flags & llvm::object::SymbolRef::SF_Undefined))
      continue;
    llvm::Expected<llvm::StringRef> name = sym.getName();
    if (!name)
      return name.takeError();
    if (!name->empty())
      names.push_back(name->str());
  }
  return names;
}

/// Gives `jit` a JITDylib per host runtime library that `object` calls, linked
/// into the main JITDylib's search order ahead of the process. A library that
/// cannot be loaded is an error naming it, the symbols that need it and how to
/// provide it.
bool addHostRuntimeLibraries(llvm::orc::LLJIT &jit,
                             const llvm::MemoryBuffer &object,
                             const DiagnosticFn &diag) {
  auto undefined = undefinedSymbols(object);
  if (!undefined) {
    diag("error", "",
         "cannot read the compiled object: " +
             llvm::toString(undefined.takeError()));
    return false;
  }
  char prefix = jit.getDataLayout().getGlobalPrefix();
  for (const HostRuntimeLibrary &lib : kHostRuntimeLibraries) {
    std::vector<std::string> needed;
    for (const std::string &name : *undefined) {
      llvm::StringRef symbol(name);
      if (prefix && symbol.starts_with(llvm::StringRef(&prefix, 1)))
        symbol = symbol.drop_front();
      if (lib.provides(symbol))
        needed.push_back(symbol.str());
    }
    if (needed.empty())
      continue;
    std::string path = lib.defaultPath;
    if (const char *env = std::getenv(lib.envOverride); env && *env)
      path = env;
    auto generator =
        llvm::orc::DynamicLibrarySearchGenerator::Load(path.c_str(), prefix);
    if (!generator) {
      std::string list;
      for (size_t i = 0; i < needed.size() && i < 3; ++i)
        list += (i ? ", " : "") + needed[i];
      if (needed.size() > 3)
        list += ", ...";
      diag("error", "",
           std::string("the compiled code calls ") + lib.what + " (" + list +
               ") but " + path + " cannot be loaded (" +
               llvm::toString(generator.takeError()) + "); install Debian's " +
               lib.package + " or point " + lib.envOverride +
               " at the library");
      return false;
    }
    auto dylib = jit.getExecutionSession().createJITDylib(
        std::string("tessera.") + lib.what);
    if (!dylib) {
      diag("error", "",
           "cannot create a JITDylib: " + llvm::toString(dylib.takeError()));
      return false;
    }
    dylib->addGenerator(std::move(*generator));
    jit.getMainJITDylib().addToLinkOrder(*dylib);
  }
  return true;
}

/// Failed run-time checks of the compiled code (sizes that do not agree)
/// land in the list of the invoke that runs on this thread; the checks run on
/// the calling thread, before any parallel region.
thread_local std::vector<std::string> *tlRuntimeErrors = nullptr;

struct RuntimeErrorScope {
  explicit RuntimeErrorScope(std::vector<std::string> &list) {
    saved = tlRuntimeErrors;
    tlRuntimeErrors = &list;
  }
  ~RuntimeErrorScope() { tlRuntimeErrors = saved; }
  std::vector<std::string> *saved;
};

/// Called by compiled code (declared by emitRuntimeChecks) when a run-time
/// check fails; records "<message> (got G, expected E)".
extern "C" void tesseraRuntimeError(const char *message, int64_t got,
                                    int64_t expected) {
  std::string text = std::string(message) + " (got " + std::to_string(got) +
                     ", expected " + std::to_string(expected) + ")";
  if (tlRuntimeErrors)
    tlRuntimeErrors->push_back(std::move(text));
  else
    std::fprintf(stderr, "tessera: run-time check failed outside a call: %s\n",
                 text.c_str());
}

class JITModule final : public CompiledModule {
public:
  JITModule(std::vector<EntryABI> entries,
            std::unique_ptr<llvm::orc::LLJIT> jit, bool cached, std::string key)
      : entries_(std::move(entries)), jit_(std::move(jit)), cached_(cached),
        key_(std::move(key)) {}

  const std::vector<EntryABI> &entries() const override { return entries_; }
  bool fromCache() const override { return cached_; }
  const std::string &cacheKey() const override { return key_; }

  bool resolve(const DiagnosticFn &diag) {
    for (const EntryABI &e : entries_) {
      auto sym = jit_->lookup("__tessera_invoke_" + e.name);
      if (!sym) {
        diag("error", "",
             "entry @" + e.name + " not found in the compiled code: " +
                 llvm::toString(sym.takeError()));
        return false;
      }
      invokers_.push_back(sym->toPtr<void (*)(void **)>());
    }
    return true;
  }

  bool invoke(const std::string &entry, const std::vector<void *> &inputs,
              const std::vector<std::vector<int64_t>> &inputShapes,
              const std::vector<void *> &outputs,
              const DiagnosticFn &diag) override {
    for (size_t k = 0; k < entries_.size(); ++k) {
      const EntryABI &e = entries_[k];
      if (e.name != entry)
        continue;
      if (inputs.size() != e.inputs.size() ||
          outputs.size() != e.outputs.size()) {
        diag("error", "",
             "entry @" + entry + " takes " + std::to_string(e.inputs.size()) +
                 " inputs and " + std::to_string(e.outputs.size()) +
                 " outputs, got " + std::to_string(inputs.size()) + " and " +
                 std::to_string(outputs.size()));
        return false;
      }
      std::vector<std::vector<int64_t>> outputShapes;
      std::string error;
      if (!resolveShapes(e, inputShapes, outputShapes, error)) {
        diag("error", "", error);
        return false;
      }
      // One memref descriptor per tensor: allocated, aligned, offset, sizes,
      // strides.
      std::vector<std::vector<int64_t>> descriptors;
      auto describe = [&](const std::vector<int64_t> &shape, void *data) {
        std::vector<int64_t> d;
        d.push_back(reinterpret_cast<int64_t>(data));
        d.push_back(reinterpret_cast<int64_t>(data));
        d.push_back(0);
        d.insert(d.end(), shape.begin(), shape.end());
        std::vector<int64_t> strides(shape.size(), 1);
        for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i)
          strides[i] = strides[i + 1] * shape[i + 1];
        d.insert(d.end(), strides.begin(), strides.end());
        descriptors.push_back(std::move(d));
      };
      for (size_t i = 0; i < inputs.size(); ++i)
        describe(inputShapes[i], inputs[i]);
      for (size_t i = 0; i < outputs.size(); ++i)
        describe(outputShapes[i], outputs[i]);
      std::vector<void *> args;
      for (auto &d : descriptors)
        args.push_back(d.data());
      std::vector<std::string> failures;
      {
        RuntimeErrorScope scope(failures);
        invokers_[k](args.data());
      }
      // The first few failed checks, then how many more (a bad table can
      // fail once per entry).
      for (size_t i = 0; i < failures.size() && i < 4; ++i)
        diag("error", "", failures[i]);
      if (failures.size() > 4)
        diag("error", "",
             std::to_string(failures.size() - 4) +
                 " more run-time checks failed in this call");
      return failures.empty();
    }
    diag("error", "", "no entry @" + entry + " in the module");
    return false;
  }

private:
  std::vector<EntryABI> entries_;
  std::unique_ptr<llvm::orc::LLJIT> jit_;
  std::vector<void (*)(void **)> invokers_;
  bool cached_;
  std::string key_;
};

} // namespace

bool CompiledModule::invoke(const std::string &entry,
                            const std::vector<void *> &inputs,
                            const std::vector<void *> &outputs,
                            const DiagnosticFn &diag) {
  const EntryABI *e = findEntry(entry);
  if (!e) {
    diag("error", "", "no entry @" + entry + " in the module");
    return false;
  }
  return invoke(entry, inputs, specShapes(e->inputs), outputs, diag);
}

std::unique_ptr<CompiledModule>
tessera::jit::compile(const std::string &source, const std::string &bufferName,
                      const CompileOptions &options, const DiagnosticFn &diag) {
  if (options.target != "cpu") {
    diag("error", "",
         "unknown JIT target '" + options.target +
             "' (the JIT compiles for: cpu)");
    return nullptr;
  }
  if (options.optLevel < 0 || options.optLevel > 3) {
    diag("error", "",
         "optimisation level " + std::to_string(options.optLevel) +
             " is not in 0..3");
    return nullptr;
  }
  initializeLLVM();

  mlir::DialectRegistry registry;
  tessera::registerAllDialects(registry);
  mlir::registerBuiltinDialectTranslation(registry);
  mlir::registerLLVMDialectTranslation(registry);
  mlir::registerOpenMPDialectTranslation(registry);
  mlir::MLIRContext ctx(registry);
  ctx.printOpOnDiagnostic(false);
  ctx.getDiagEngine().registerHandler(
      [&](mlir::Diagnostic &d) { forwardDiagnostic(d, diag); });

  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(source, bufferName), llvm::SMLoc());
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceFile<mlir::ModuleOp>(sourceMgr, &ctx);
  if (!module)
    return nullptr;

  // Entries and their calling conventions, from the module as written.
  mlir::FailureOr<std::vector<EntryABI>> abis =
      mlir::tessera::computeEntryABIs(*module);
  if (mlir::failed(abis))
    return nullptr;
  std::vector<EntryABI> entries = std::move(*abis);
  if (entries.empty()) {
    diag("error", "",
         bufferName + ": the module has no public function to run");
    return nullptr;
  }
  for (auto func : module->getOps<mlir::func::FuncOp>())
    if (!func.isPrivate() && !func.isExternal())
      func->setAttr("llvm.emit_c_interface", mlir::UnitAttr::get(&ctx));

  int64_t vectorWidth =
      options.vectorWidth > 0 ? options.vectorWidth : hostVectorWidth();
  mlir::PassManager pm(&ctx);
  mlir::tessera::CPUPipelineOptions pipeline;
  pipeline.vectorWidth = vectorWidth;
  mlir::tessera::buildCPUPipeline(pm, pipeline);
  if (mlir::failed(pm.run(*module)))
    return nullptr;

  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      mlir::translateModuleToLLVMIR(*module, llvmContext);
  if (!llvmModule) {
    diag("error", "", "translation to LLVM IR failed");
    return nullptr;
  }
  auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!jtmb) {
    diag("error", "",
         "cannot target the host: " + llvm::toString(jtmb.takeError()));
    return nullptr;
  }
  jtmb->setCodeGenOptLevel(
      options.optLevel >= 3   ? llvm::CodeGenOptLevel::Aggressive
      : options.optLevel == 0 ? llvm::CodeGenOptLevel::None
                              : llvm::CodeGenOptLevel::Default);
  auto tm = jtmb->createTargetMachine();
  if (!tm) {
    diag("error", "",
         "cannot create a target machine: " + llvm::toString(tm.takeError()));
    return nullptr;
  }
  llvmModule->setDataLayout((*tm)->createDataLayout());
  llvmModule->setTargetTriple((*tm)->getTargetTriple());
  for (const EntryABI &e : entries)
    if (!addInvokeWrapper(*llvmModule, e.name,
                          e.inputs.size() + e.outputs.size())) {
      diag("error", "",
           "entry @" + e.name +
               " does not have the expected calling convention after lowering "
               "(one buffer argument per input and output, no return value)");
      return nullptr;
    }

  // Cache key: the module as written, the lowered IR, the options, the target
  // and the tools.
  std::string lowered;
  {
    llvm::raw_string_ostream os(lowered);
    llvmModule->print(os, nullptr);
  }
  llvm::SHA256 hasher;
  auto feed = [&](llvm::StringRef s) {
    hasher.update(s);
    hasher.update(llvm::StringRef("\0", 1));
  };
  feed(version());
  feed(LLVM_VERSION_STRING);
  feed(source);
  feed(lowered);
  feed(std::to_string(options.optLevel) + "/" + std::to_string(vectorWidth));
  feed(jtmb->getTargetTriple().str());
  feed(jtmb->getCPU());
  feed(jtmb->getFeatures().getString());
  std::string key = llvm::toHex(hasher.final(), /*LowerCase=*/true);

  std::string dir = cacheDirectory(options);
  bool useCache = dir != "off";
  std::string cachePath = useCache ? dir + "/" + key + ".o" : "";
  std::unique_ptr<llvm::MemoryBuffer> object;
  bool cached = false;
  if (useCache) {
    if (auto buffer = llvm::MemoryBuffer::getFile(cachePath)) {
      object = std::move(*buffer);
      cached = true;
    }
  }
  if (!object) {
    auto transformer =
        mlir::makeOptimizingTransformer(options.optLevel, 0, tm->get());
    if (llvm::Error err = transformer(llvmModule.get())) {
      diag("error", "",
           "LLVM optimisation failed: " + llvm::toString(std::move(err)));
      return nullptr;
    }
    llvm::SmallVector<char, 0> bytes;
    llvm::raw_svector_ostream os(bytes);
    llvm::legacy::PassManager codegen;
    if ((*tm)->addPassesToEmitFile(codegen, os, nullptr,
                                   llvm::CodeGenFileType::ObjectFile)) {
      diag("error", "", "the host target cannot emit object files");
      return nullptr;
    }
    codegen.run(*llvmModule);
    object = llvm::MemoryBuffer::getMemBufferCopy(
        llvm::StringRef(bytes.data(), bytes.size()), key + ".o");
    // Publish atomically: write a unique temporary, then rename over the final
    // name, so concurrent compilers of the same module never expose a partial
    // file.
    if (useCache && !llvm::sys::fs::create_directories(dir)) {
      llvm::SmallString<256> tmp;
      int fd = -1;
      if (!llvm::sys::fs::createUniqueFile(dir + "/" + key + "-%%%%%%.tmp", fd,
                                           tmp)) {
        llvm::raw_fd_ostream out(fd, /*shouldClose=*/true);
        out.write(bytes.data(), bytes.size());
        out.close();
        if (out.has_error() || llvm::sys::fs::rename(tmp, cachePath)) {
          out.clear_error();
          llvm::sys::fs::remove(tmp);
        }
      }
    }
  }

  auto jit =
      llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(*jtmb).create();
  if (!jit) {
    diag("error", "",
         "cannot create the JIT: " + llvm::toString(jit.takeError()));
    return nullptr;
  }
  auto generator =
      llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
          (*jit)->getDataLayout().getGlobalPrefix());
  if (!generator) {
    diag("error", "",
         "cannot resolve process symbols: " +
             llvm::toString(generator.takeError()));
    return nullptr;
  }
  // Search order: the object itself, the runtime libraries it needs, then the
  // process (libc) in a JITDylib of its own, so that a process that happens to
  // carry another copy of a runtime library (an embedder's) cannot shadow the
  // one we load.
  if (!addHostRuntimeLibraries(**jit, *object, diag))
    return nullptr;
  auto process =
      (*jit)->getExecutionSession().createJITDylib("tessera.process");
  if (!process) {
    diag("error", "",
         "cannot create a JITDylib: " + llvm::toString(process.takeError()));
    return nullptr;
  }
  process->addGenerator(std::move(*generator));
  (*jit)->getMainJITDylib().addToLinkOrder(*process);
  // What compiled code calls back into: the run-time check reports.
  llvm::orc::SymbolMap hooks;
  hooks[(*jit)->mangleAndIntern("__tessera_runtime_error")] = {
      llvm::orc::ExecutorAddr::fromPtr(&tesseraRuntimeError),
      llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable};
  if (llvm::Error err = (*jit)->getMainJITDylib().define(
          llvm::orc::absoluteSymbols(std::move(hooks)))) {
    diag("error", "",
         "cannot define the run-time hooks: " + llvm::toString(std::move(err)));
    return nullptr;
  }
  if (llvm::Error err = (*jit)->addObjectFile(std::move(object))) {
    diag("error", "",
         "cannot load the compiled object: " + llvm::toString(std::move(err)));
    return nullptr;
  }
  auto compiled = std::make_unique<JITModule>(std::move(entries),
                                              std::move(*jit), cached, key);
  if (!compiled->resolve(diag))
    return nullptr;
  return compiled;
}

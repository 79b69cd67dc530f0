//===- tessera-compile.cpp - Ahead-of-time compiler for NVIDIA GPUs -------===//
//
// tessera-compile FILE.mlir -o model.tsr [--target=sm_90a,sm_80]
// [--emit=tsr|ptx]
//
// Lowers the module with convert-tessera-to-gpu, serialises its kernels to PTX
// for each target and writes either one .tsr artifact (manifest + images;
// docs/tsr-format.md) or, with
// --emit=ptx, one `<stem>.<target>.ptx` per target.
//
//===----------------------------------------------------------------------===//
#include "tessera-runtime/artifact.h"
#include "tessera/InitAll.h"
#include "tessera/Passes.h"
#include "tessera/Pipelines.h"
#include "tessera/Target/GPUArtifact.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory category("tessera-compile options");
static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<module.mlir>"),
                                      cl::Required, cl::cat(category));
static cl::opt<std::string>
    outputFile("o", cl::desc("Output artifact (or PTX stem)"),
               cl::value_desc("file"), cl::Required, cl::cat(category));
static cl::list<std::string>
    targets("target", cl::desc("GPU targets (default: sm_80,sm_90)"),
            cl::CommaSeparated, cl::cat(category));
static cl::opt<std::string>
    emit("emit", cl::desc("tsr (default), ptx, cubin or header"),
         cl::init("tsr"), cl::cat(category));
static cl::opt<bool>
    useWgmma("wgmma",
             cl::desc("Attention scores on sm_90a warpgroup MMA (every "
                      "--target must be sm_90a)"),
             cl::cat(category));
static cl::opt<bool>
    printManifest("print-manifest",
                  cl::desc("Print the manifest to stdout as well"),
                  cl::cat(category));

static int fail(const std::string &message) {
  llvm::errs() << "tessera-compile: error: " << message << "\n";
  return 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv, "Tessera ahead-of-time compiler for NVIDIA GPUs\n");
  if (emit != "tsr" && emit != "ptx" && emit != "cubin" && emit != "header")
    return fail("unknown --emit '" + emit +
                "' (expected tsr, ptx, cubin or header)");
  std::vector<std::string> chips(targets.begin(), targets.end());
  if (chips.empty())
    chips = {"sm_80", "sm_90"};
  for (const std::string &chip : chips)
    if (chip.rfind("sm_", 0) != 0)
      return fail("unknown target '" + chip +
                  "' (expected sm_XY, e.g. sm_80, sm_90a)");
  if (useWgmma)
    for (const std::string &chip : chips)
      if (chip != "sm_90a")
        return fail("--wgmma kernels run on sm_90a only; target '" + chip +
                    "' cannot take them (use --target=sm_90a)");

  DialectRegistry registry;
  ::tessera::registerAllDialects(registry);
  ::tessera::registerGPUTargets(registry);
  MLIRContext ctx(registry);
  ctx.printOpOnDiagnostic(false);
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler handler(sourceMgr, &ctx);
  auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(inputFile);
  if (!buffer)
    return fail("cannot read '" + inputFile +
                "': " + buffer.getError().message());
  sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &ctx);
  if (!module)
    return 1;

  // One conversion serves every target: size the grids for the largest of them.
  int64_t sms = 0;
  for (const std::string &chip : chips)
    sms = std::max(sms, mlir::tessera::streamingMultiprocessors(chip));
  FailureOr<std::string> manifest =
      mlir::tessera::lowerToGPUAndDescribe(*module, sms, useWgmma);
  if (failed(manifest))
    return 1;
  if (printManifest)
    llvm::outs() << *manifest;

  llvm::SmallString<256> stem(outputFile);
  llvm::sys::path::replace_extension(stem, "");
  auto writeFile = [&](const std::string &path, llvm::StringRef bytes) {
    std::error_code ec;
    llvm::raw_fd_ostream out(path, ec);
    if (ec)
      return fail("cannot write '" + path + "': " + ec.message()) == 0;
    out << bytes;
    return true;
  };
  if (emit == "header") {
    std::string guard =
        "TESSERA_" + llvm::sys::path::stem(outputFile).upper() + "_H";
    for (char &c : guard)
      if (!llvm::isAlnum(c))
        c = '_';
    return writeFile(outputFile,
                     mlir::tessera::generateLaunchHeader(*manifest, guard))
               ? 0
               : 1;
  }

  // PTX for every target; cubin too where ptxas can be found (required for
  // --emit=cubin).
  bool wantCubin = emit == "cubin" || emit == "tsr";
  std::vector<std::pair<std::string, std::string>> ptx, cubin;
  for (const std::string &chip : chips) {
    FailureOr<std::string> text =
        mlir::tessera::serializeKernels(*module, chip, "+ptx80");
    if (failed(text))
      return 1;
    ptx.emplace_back(chip, std::move(*text));
    if (!wantCubin)
      continue;
    // A missing toolkit is not an error for a .tsr (the driver compiles its
    // PTX).
    ScopedDiagnosticHandler quiet(
        &ctx, [&](Diagnostic &) { return success(emit == "tsr"); });
    FailureOr<std::string> bin =
        mlir::tessera::serializeKernels(*module, chip, "+ptx80", "bin");
    if (succeeded(bin))
      cubin.emplace_back(chip, std::move(*bin));
    else if (emit == "cubin")
      return fail("no cubin for " + chip +
                  ": ptxas (CUDA toolkit) not found or it failed");
  }

  if (emit == "ptx" || emit == "cubin") {
    for (auto &[chip, bytes] : emit == "ptx" ? ptx : cubin)
      if (!writeFile((stem + "." + chip + "." + emit).str(), bytes))
        return 1;
    return 0;
  }

  tsrt_artifact_builder builder = nullptr;
  auto check = [](tsrt_status s) {
    if (!s)
      return true;
    llvm::errs() << "tessera-compile: error: " << tsrt_status_message(s)
                 << "\n";
    tsrt_status_free(s);
    return false;
  };
  if (!check(tsrt_artifact_builder_create(&builder)))
    return 1;
  bool ok =
      check(tsrt_artifact_builder_set_manifest(builder, manifest->c_str()));
  for (auto &[chip, text] : ptx)
    ok = ok &&
         check(tsrt_artifact_builder_add_image(
             builder, chip.c_str(), TSRT_IMAGE_PTX, text.data(), text.size()));
  for (auto &[chip, bytes] : cubin)
    ok = ok && check(tsrt_artifact_builder_add_image(
                   builder, chip.c_str(), TSRT_IMAGE_CUBIN, bytes.data(),
                   bytes.size()));
  ok = ok &&
       check(tsrt_artifact_builder_write_file(builder, outputFile.c_str()));
  tsrt_artifact_builder_free(builder);
  return ok ? 0 : 1;
}

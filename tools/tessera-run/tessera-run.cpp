//===- tessera-run.cpp - Run and benchmark tessera modules ----------------===//
//
// tessera-run FILE.mlir --entry=NAME [--input=a.npy ...] [--output=o.npy ...]
//             [--random-inputs=SEED] [--save-inputs=DIR]
//             [--device=cpu|cuda|sim]
//             [--bench=N]
//
// Compiles the module for the host (cached), reads inputs from .npy files or
// draws them at random, calls the entry, writes the outputs as .npy and
// optionally times it.
//
//===----------------------------------------------------------------------===//
#include "tessera/JIT/JIT.h"
#include "tessera/Support/GPURunner.h"
#include "tessera/Support/Npy.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>

using namespace tessera;
namespace cl = llvm::cl;

static cl::OptionCategory category("tessera-run options");
static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<module.mlir>"),
                                      cl::Required, cl::cat(category));
static cl::opt<std::string>
    entryName("entry", cl::desc("Entry function (default: the only one)"),
              cl::value_desc("name"), cl::cat(category));
static cl::list<std::string>
    inputs("input", cl::desc("Input .npy, one per entry input, in order"),
           cl::value_desc("file.npy"), cl::cat(category));
static cl::list<std::string>
    outputs("output", cl::desc("Output .npy, one per entry result"),
            cl::value_desc("file.npy"), cl::cat(category));
static cl::opt<int64_t>
    randomSeed("random-inputs",
               cl::desc("Draw every input at random from this seed"),
               cl::value_desc("seed"), cl::init(-1), cl::cat(category));
static cl::list<std::string> shapes(
    "shape",
    cl::desc("With --random-inputs: the shape of an input with dynamic dims, "
             "e.g. --shape=arg0=1x8x77x64 (repeatable)"),
    cl::value_desc("name=AxBx..."), cl::cat(category));
static cl::opt<std::string> saveInputs("save-inputs",
                                       cl::desc("Write the inputs used to DIR"),
                                       cl::value_desc("dir"),
                                       cl::cat(category));
static cl::opt<std::string> device("device", cl::desc("cpu, cuda or sim"),
                                   cl::init("cpu"), cl::cat(category));
static cl::opt<unsigned> bench("bench",
                               cl::desc("Time N calls; print median/min/max"),
                               cl::value_desc("N"), cl::init(0),
                               cl::cat(category));
static cl::opt<int64_t>
    vectorWidth("vector-width",
                cl::desc("f32 vector lanes (default: the host's)"), cl::init(0),
                cl::cat(category));
static cl::opt<int> optLevel("O", cl::desc("LLVM optimisation level"),
                             cl::init(3), cl::Prefix, cl::cat(category));
static cl::opt<std::string>
    cacheDir("cache-dir",
             cl::desc("Compiled-object cache (\"off\" disables it)"),
             cl::cat(category));
static cl::opt<bool>
    printABI("print-abi", cl::desc("Print the entries' signatures and exit"),
             cl::cat(category));

namespace {

int fail(const std::string &message) {
  llvm::errs() << "tessera-run: error: " << message << "\n";
  return 1;
}

std::string shapeStr(DType dtype, const std::vector<int64_t> &shape) {
  std::string s = std::string(dtypeName(dtype)) + "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

/// tessera-run MODEL.tsr --device=cuda: the artifact through the runtime.
int runOnGPU() {
  std::string error;
  std::unique_ptr<gpu::Runner> runner = gpu::Runner::open(inputFile, 0, error);
  if (!runner)
    return fail(error);
  const gpu::Manifest &manifest = runner->manifest();
  const gpu::Manifest::Entry *entry = nullptr;
  for (const gpu::Manifest::Entry &e : manifest.entries)
    if (entryName.empty() ? manifest.entries.size() == 1 : e.name == entryName)
      entry = &e;
  if (!entry)
    return fail(
        entryName.empty()
            ? "the artifact has several entries; choose one with --entry"
            : "no entry @" + entryName + " in the artifact");
  EntryABI abi = entry->abi();
  std::vector<HostTensor> in, out;
  if (randomSeed >= 0) {
    std::vector<std::string> shapeArgs(shapes.begin(), shapes.end());
    if (!randomInputs(abi, shapeArgs, static_cast<uint64_t>(randomSeed), in,
                      error))
      return fail(error);
  } else {
    if (inputs.size() != abi.inputs.size())
      return fail("entry @" + abi.name + " takes " +
                  std::to_string(abi.inputs.size()) + " inputs, got " +
                  std::to_string(inputs.size()) + " --input files");
    for (const std::string &path : inputs) {
      std::optional<HostTensor> t = readNpy(path, error);
      if (!t)
        return fail(error);
      in.push_back(std::move(*t));
    }
  }
  if (!runner->run(abi.name, in, out, error))
    return fail(error);
  llvm::outs() << "ran @" << abi.name << " on " << runner->describeDevice()
               << "\n";
  for (size_t i = 0; i < out.size(); ++i) {
    llvm::outs() << abi.outputs[i].str() << "  " << summarize(out[i]);
    if (i < outputs.size()) {
      if (!writeNpy(outputs[i], out[i], error))
        return fail(error);
      llvm::outs() << "  -> " << outputs[i];
    }
    llvm::outs() << "\n";
  }
  if (bench > 0) {
    std::vector<float> ms;
    std::vector<HostTensor> scratch;
    if (!runner->run(abi.name, in, scratch, error, static_cast<int>(bench),
                     &ms))
      return fail(error);
    std::sort(ms.begin(), ms.end());
    llvm::outs() << llvm::format(
        "bench @%s: %u runs, device time median %.3f ms, min %.3f ms, "
        "max %.3f ms",
        abi.name.c_str(), bench.getValue(), ms[ms.size() / 2], ms.front(),
        ms.back());
    if (abi.flops > 0)
      llvm::outs() << llvm::format(", %.2f TFLOP/s",
                                   abi.flops / (ms[ms.size() / 2] * 1e9));
    llvm::outs() << "\n";
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv, "Tessera runner: run and benchmark tessera modules\n");

  if (device != "cpu" && device != "cuda" && device != "sim")
    return fail("unknown --device '" + device +
                "' (expected cpu, cuda or sim)");
  if (device == "sim") { // the artifact on tessera-sim, through the runtime
    std::string error;
    if (!tessera::gpu::useSimulatorDriver(error))
      return fail(error);
    device = "cuda";
  }
  bool artifact = llvm::StringRef(inputFile).ends_with(".tsr");
  if (device == "cuda" && !artifact)
    return fail("--device=cuda runs .tsr artifacts: compile the module with "
                "tessera-compile "
                "first (tessera-compile " +
                inputFile + " -o model.tsr)");
  if (device == "cpu" && artifact)
    return fail("'" + inputFile +
                "' is a GPU artifact; run it with --device=cuda");
  if (device == "cuda")
    return runOnGPU();

  auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(inputFile);
  if (!buffer)
    return fail("cannot read '" + inputFile +
                "': " + buffer.getError().message());

  bool hadError = false;
  auto diag = [&](const std::string &severity, const std::string &location,
                  const std::string &message) {
    if (severity == "error")
      hadError = true;
    llvm::errs() << (location.empty() ? std::string("tessera-run") : location)
                 << ": " << severity << ": " << message << "\n";
  };
  jit::CompileOptions options;
  options.vectorWidth = vectorWidth;
  options.optLevel = optLevel;
  options.cacheDir = cacheDir;
  auto compiled =
      jit::compile((*buffer)->getBuffer().str(), inputFile, options, diag);
  if (!compiled)
    return 1;

  if (printABI) {
    for (const EntryABI &e : compiled->entries()) {
      llvm::outs() << "entry @" << e.name << "\n";
      for (const TensorSpec &s : e.inputs)
        llvm::outs() << "  in  " << s.str() << "\n";
      for (const TensorSpec &s : e.outputs)
        llvm::outs() << "  out " << s.str() << "\n";
    }
    return 0;
  }

  const EntryABI *entry = nullptr;
  if (entryName.empty()) {
    if (compiled->entries().size() != 1)
      return fail("the module has " +
                  std::to_string(compiled->entries().size()) +
                  " entries; choose one with --entry=NAME");
    entry = &compiled->entries().front();
  } else if (!(entry = compiled->findEntry(entryName))) {
    std::string names;
    for (const EntryABI &e : compiled->entries())
      names += (names.empty() ? "@" : ", @") + e.name;
    return fail("no entry @" + entryName + " (entries: " + names + ")");
  }

  // Inputs: from files, or drawn at random.
  std::vector<HostTensor> in;
  if (!inputs.empty() && randomSeed >= 0)
    return fail("give either --input files or --random-inputs, not both");
  if (randomSeed >= 0) {
    std::string error;
    std::vector<std::string> shapeArgs(shapes.begin(), shapes.end());
    if (!randomInputs(*entry, shapeArgs, static_cast<uint64_t>(randomSeed), in,
                      error))
      return fail(error);
  } else {
    if (inputs.size() != entry->inputs.size()) {
      std::string expected;
      for (const TensorSpec &s : entry->inputs)
        expected += "\n  " + s.str();
      return fail("entry @" + entry->name + " takes " +
                  std::to_string(entry->inputs.size()) + " inputs, got " +
                  std::to_string(inputs.size()) +
                  " --input files (or use --random-inputs=SEED); it expects:" +
                  expected);
    }
    for (size_t i = 0; i < inputs.size(); ++i) {
      std::string error;
      std::optional<HostTensor> t = readNpy(inputs[i], error);
      if (!t)
        return fail(error);
      const TensorSpec &s = entry->inputs[i];
      if (!s.accepts(t->dtype(), t->shape()))
        return fail("input #" + std::to_string(i) + " ('" + inputs[i] +
                    "') is " + shapeStr(t->dtype(), t->shape()) +
                    ", but entry @" + entry->name + " expects " + s.str() +
                    (s.dtype == DType::BF16
                         ? " (bf16 is stored as uint16 bit patterns)"
                         : ""));
      in.push_back(std::move(*t));
    }
  }
  if (!saveInputs.empty()) {
    if (std::error_code ec = llvm::sys::fs::create_directories(saveInputs))
      return fail("cannot create '" + saveInputs + "': " + ec.message());
    for (size_t i = 0; i < in.size(); ++i) {
      std::string error;
      if (!writeNpy(saveInputs + "/" + entry->inputs[i].name + ".npy", in[i],
                    error))
        return fail(error);
    }
  }
  if (outputs.size() > entry->outputs.size())
    return fail("entry @" + entry->name + " returns " +
                std::to_string(entry->outputs.size()) + " results, got " +
                std::to_string(outputs.size()) + " --output files");

  // Output shapes follow from the inputs' (dynamic dims).
  std::vector<std::vector<int64_t>> inShapes, outShapes;
  for (const HostTensor &t : in)
    inShapes.push_back(t.shape());
  {
    std::string error;
    if (!resolveShapes(*entry, inShapes, outShapes, error))
      return fail(error);
  }
  std::vector<HostTensor> out;
  for (size_t i = 0; i < entry->outputs.size(); ++i)
    out.emplace_back(entry->outputs[i].dtype, outShapes[i]);
  std::vector<void *> inPtrs, outPtrs;
  for (HostTensor &t : in)
    inPtrs.push_back(t.data());
  for (HostTensor &t : out)
    outPtrs.push_back(t.data());
  if (!compiled->invoke(entry->name, inPtrs, inShapes, outPtrs, diag) ||
      hadError)
    return 1;

  for (size_t i = 0; i < out.size(); ++i) {
    TensorSpec actual = entry->outputs[i];
    actual.shape = out[i].shape();
    llvm::outs() << actual.str() << "  " << summarize(out[i]);
    if (i < outputs.size()) {
      std::string error;
      if (!writeNpy(outputs[i], out[i], error))
        return fail(error);
      llvm::outs() << "  -> " << outputs[i];
    }
    llvm::outs() << "\n";
  }

  if (bench > 0) {
    std::vector<double> ms;
    for (unsigned r = 0; r < bench; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      compiled->invoke(entry->name, inPtrs, inShapes, outPtrs, diag);
      auto t1 = std::chrono::steady_clock::now();
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    double median = ms[ms.size() / 2];
    double bytes = 0;
    for (const HostTensor &t : in)
      bytes += static_cast<double>(t.numBytes());
    for (const HostTensor &t : out)
      bytes += static_cast<double>(t.numBytes());
    llvm::outs() << llvm::format(
        "bench @%s: %u runs, median %.3f ms, min %.3f ms, max %.3f ms",
        entry->name.c_str(), bench.getValue(), median, ms.front(), ms.back());
    if (entry->flops > 0)
      llvm::outs() << llvm::format(
          ", %.2f GFLOP/s%s", entry->flops / (median * 1e6),
          entry->blockSparse ? " (dense-equivalent: masked blocks "
                               "counted as work)"
                             : "");
    llvm::outs() << llvm::format(", %.2f GB/s (inputs + outputs once)",
                                 bytes / (median * 1e6))
                 << "\n";
  }
  return 0;
}

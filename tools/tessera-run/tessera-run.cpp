//===- tessera-run.cpp - Run and benchmark tessera modules ----------------===//
//
// tessera-run FILE.mlir --entry=NAME [--input=a.npy ...] [--output=o.npy ...]
//             [--random-inputs=SEED] [--save-inputs=DIR]
//             [--device=cpu|cuda|sim]
//             [--bench=N]
// tessera-run --calibrate q.npy k.npy [--avg-bits=3] [--min-bits=1]
//             [--max-bits=8] [--out-energies=e.npy] [--out-bits=b.npy]
// tessera-run --calibrate-topology q.npy k.npy [v.npy] [--target-error=0.05]
//             [--block-q=64] [--block-k=64] [--causal] [--out-topology=t.mlir]
// tessera-run --rice-encode codes.npy out.rice
// tessera-run --rice-decode in.rice out.npy
//
// Compiles the module for the host (cached), reads inputs from .npy files or
// draws them at random, calls the entry, writes the outputs as .npy and
// optionally times it. The other modes are host tools over .npy files:
// Block-GTQ calibration (per-KV-head RoPE-block energies and bit widths),
// static block topology calibration (docs/routing.md) and the Rice coding of
// int8 lattice codes (docs/block-gtq-calibration.md).
//
//===----------------------------------------------------------------------===//
#include "tessera/JIT/JIT.h"
#include "tessera/Support/BitAllocation.h"
#include "tessera/Support/BlockTopology.h"
#include "tessera/Support/GPURunner.h"
#include "tessera/Support/Npy.h"
#include "tessera/Support/Rice.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
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
static cl::list<std::string> positionals(
    cl::Positional,
    cl::desc("<module.mlir | model.tsr>, or the two files of --calibrate, "
             "--rice-encode or --rice-decode"),
    cl::OneOrMore, cl::cat(category));
static cl::opt<bool> calibrate(
    "calibrate",
    cl::desc("Block-GTQ calibration from q.npy [B, Hq, S, D] and "
             "k.npy [B, Hkv, S, D] (f32): per KV head, the RoPE-block "
             "energies and the greedy bit widths"),
    cl::cat(category));
static cl::opt<double>
    avgBits("avg-bits",
            cl::desc("--calibrate: average bits per dim (default 3)"),
            cl::init(3.0), cl::cat(category));
static cl::opt<int> minBits("min-bits",
                            cl::desc("--calibrate: fewest bits (default 1)"),
                            cl::init(1), cl::cat(category));
static cl::opt<int> maxBits("max-bits",
                            cl::desc("--calibrate: most bits (default 8)"),
                            cl::init(8), cl::cat(category));
static cl::opt<std::string>
    outEnergies("out-energies",
                cl::desc("--calibrate: write the energies, f32 [Hkv, D/2]"),
                cl::value_desc("file.npy"), cl::cat(category));
static cl::opt<std::string>
    outBits("out-bits", cl::desc("--calibrate: write the bits, i32 [Hkv, D/2]"),
            cl::value_desc("file.npy"), cl::cat(category));
static cl::opt<bool> calibrateTopologyMode(
    "calibrate-topology",
    cl::desc("Static block topology from calibration q.npy [N, Hq, Sq, D], "
             "k.npy [N, Hkv, Skv, D] and v.npy [N, Hkv, Skv, Dv] (f32; v "
             "defaults to k): per query head, the top-p block mask whose p "
             "meets --target-error, as an MLIR dense attribute"),
    cl::cat(category));
static cl::opt<double> targetError(
    "target-error",
    cl::desc("--calibrate-topology: relative output error allowed per head "
             "(default 0.05)"),
    cl::init(0.05), cl::cat(category));
static cl::opt<int64_t>
    topologyBlockQ("block-q",
                   cl::desc("--calibrate-topology: query block (default 64)"),
                   cl::init(64), cl::cat(category));
static cl::opt<int64_t>
    topologyBlockK("block-k",
                   cl::desc("--calibrate-topology: key block (default 64)"),
                   cl::init(64), cl::cat(category));
static cl::opt<bool>
    topologyCausal("causal",
                   cl::desc("--calibrate-topology: causal attention (ends "
                            "aligned)"),
                   cl::cat(category));
static cl::opt<std::string> outTopology(
    "out-topology",
    cl::desc("--calibrate-topology: write a module whose attention reads the "
             "mask as a constant (what --tessera-sparsify specialises)"),
    cl::value_desc("file.mlir"), cl::cat(category));
static cl::opt<bool> riceEncode(
    "rice-encode",
    cl::desc("Rice-code an int8 .npy (lattice codes) into a .rice file: "
             "--rice-encode codes.npy out.rice"),
    cl::cat(category));
static cl::opt<bool>
    riceDecode("rice-decode",
               cl::desc("Decode a .rice file into an int8 .npy: "
                        "--rice-decode in.rice out.npy"),
               cl::cat(category));
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

/// The module or artifact to run (the one positional argument of that mode).
static std::string inputFile;

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

/// `v` as printf's %g writes it (6 significant digits, no trailing zeros).
std::string gStr(double v) {
  return llvm::formatv("{0}", llvm::format("%g", v)).str();
}

/// "[a, b, c]" of `n` values printed by `print`.
template <typename T, typename F>
std::string listStr(const T *values, size_t n, F print) {
  std::string s = "[";
  for (size_t i = 0; i < n; ++i)
    s += (i ? ", " : "") + print(values[i]);
  return s + "]";
}

/// Reads `path` as an f32 .npy for --calibrate; `what` names it.
std::optional<HostTensor> readF32(const std::string &path, const char *what,
                                  std::string &error) {
  std::optional<HostTensor> t = readNpy(path, error);
  if (t && t->dtype() != DType::F32) {
    error = std::string("--calibrate: ") + what + " ('" + path + "') is " +
            shapeStr(t->dtype(), t->shape()) + "; calibration reads f32";
    return std::nullopt;
  }
  return t;
}

/// tessera-run --calibrate q.npy k.npy: Block-GTQ's per-KV-head RoPE-block
/// energies and greedy bit widths (ALGORITHMS.md 4b).
int runCalibrate() {
  if (minBits < 1 || minBits > 8)
    return fail("--min-bits (" + std::to_string(minBits) +
                ") must be in [1, 8]");
  if (maxBits < 1 || maxBits > 8)
    return fail("--max-bits (" + std::to_string(maxBits) +
                ") must be in [1, 8]");
  if (minBits > maxBits)
    return fail("--min-bits (" + std::to_string(minBits) +
                ") must not exceed --max-bits (" + std::to_string(maxBits) +
                ")");
  if (!(avgBits >= minBits && avgBits <= maxBits))
    return fail(llvm::formatv("--avg-bits ({0}) must be in [--min-bits, "
                              "--max-bits] = [{1}, {2}]",
                              gStr(avgBits), minBits.getValue(),
                              maxBits.getValue())
                    .str());
  std::string error;
  std::optional<HostTensor> q = readF32(positionals[0], "q", error);
  if (!q)
    return fail(error);
  std::optional<HostTensor> k = readF32(positionals[1], "k", error);
  if (!k)
    return fail(error);
  std::vector<float> energies;
  if (!ropeBlockEnergies(static_cast<const float *>(q->data()), q->shape(),
                         static_cast<const float *>(k->data()), k->shape(),
                         energies, error))
    return fail("--calibrate: " + error);
  const std::vector<int64_t> &qs = q->shape(), &ks = k->shape();
  int64_t hkv = ks[1], blocks = qs[3] / 2;
  llvm::outs() << llvm::formatv(
      "Block-GTQ calibration: B={0} Hq={1} Hkv={2} S={3} D={4}; {5} RoPE "
      "blocks per KV head, {6} query head(s) per KV head; budget floor({5} * "
      "{7}) = {8} bits (min {9}, max {10})\n",
      qs[0], qs[1], hkv, qs[2], qs[3], blocks, qs[1] / hkv, gStr(avgBits),
      bitBudget(blocks, avgBits), minBits.getValue(), maxBits.getValue());
  HostTensor energyTensor(DType::F32, {hkv, blocks}),
      bitTensor(DType::I32, {hkv, blocks});
  auto *energyOut = static_cast<float *>(energyTensor.data());
  auto *bitsOut = static_cast<int32_t *>(bitTensor.data());
  for (int64_t h = 0; h < hkv; ++h) {
    const float *s = energies.data() + h * blocks;
    std::vector<int32_t> bits =
        allocateBits(s, static_cast<size_t>(blocks), avgBits, minBits, maxBits);
    std::copy(s, s + blocks, energyOut + h * blocks);
    std::copy(bits.begin(), bits.end(), bitsOut + h * blocks);
    std::string bitList = listStr(bits.data(), bits.size(),
                                  [](int32_t b) { return std::to_string(b); });
    llvm::outs() << "kv head " << h << ": energies "
                 << listStr(s, static_cast<size_t>(blocks),
                            [](float e) { return gStr(e); })
                 << " bits " << bitList
                 << " #tessera.quant<block_gtq, bits = " << bitList << ">\n";
  }
  if (!outEnergies.empty() && !writeNpy(outEnergies, energyTensor, error))
    return fail(error);
  if (!outBits.empty() && !writeNpy(outBits, bitTensor, error))
    return fail(error);
  return 0;
}

/// tessera-run --calibrate-topology q.npy k.npy [v.npy]: ALGORITHMS.md 3's
/// per-head static mask at the error target.
int runCalibrateTopology() {
  std::string error;
  std::optional<HostTensor> q = readF32(positionals[0], "q", error);
  if (!q)
    return fail(error);
  std::optional<HostTensor> k = readF32(positionals[1], "k", error);
  if (!k)
    return fail(error);
  std::optional<HostTensor> v;
  if (positionals.size() == 3 && !(v = readF32(positionals[2], "v", error)))
    return fail(error);
  const HostTensor &vt = v ? *v : *k;
  TopologyOptions options;
  options.blockQ = topologyBlockQ;
  options.blockK = topologyBlockK;
  options.causal = topologyCausal;
  options.targetError = targetError;
  Topology t;
  if (!tessera::calibrateTopology(
          static_cast<const float *>(q->data()), q->shape(),
          static_cast<const float *>(k->data()), k->shape(),
          static_cast<const float *>(vt.data()), vt.shape(), options, t, error))
    return fail("--calibrate-topology: " + error);
  const std::vector<int64_t> &qs = q->shape(), &ks = k->shape();
  llvm::outs() << llvm::formatv(
      "block topology calibration: N={0} Hq={1} Hkv={2} Sq={3} Skv={4} "
      "D={5}; blocks {6}x{7} ({8} x {9} per head){10}; target relative error "
      "{11}\n",
      qs[0], qs[1], ks[1], qs[2], ks[2], qs[3], options.blockQ, options.blockK,
      t.queryBlocks, t.keyBlocks, options.causal ? ", causal" : "",
      gStr(options.targetError));
  for (int64_t h = 0; h < t.heads; ++h)
    llvm::outs() << llvm::formatv("head {0}: p {1} density {2} error {3}\n", h,
                                  gStr(t.p[h]), gStr(t.density[h]),
                                  gStr(t.error[h]));
  std::string attr = topologyAttr(t);
  llvm::outs() << "mask: " << attr << "\n";
  if (outTopology.empty())
    return 0;
  // A module with the mask as a constant: the attention of one calibration
  // input's shape (batch 1) reading it.
  auto ty = [](std::vector<int64_t> s, const char *elt) {
    std::string out = "tensor<";
    for (int64_t d : s)
      out += std::to_string(d) + "x";
    return out + elt + ">";
  };
  std::string qT = ty({1, qs[1], qs[2], qs[3]}, "f32"),
              kT = ty({1, ks[1], ks[2], ks[3]}, "f32"),
              vT = ty({1, ks[1], ks[2], vt.shape()[3]}, "f32"),
              oT = ty({1, qs[1], qs[2], vt.shape()[3]}, "f32"),
              lT = ty({1, qs[1], qs[2]}, "f32"),
              mT = ty({t.heads, t.queryBlocks, t.keyBlocks}, "i1");
  std::error_code ec;
  llvm::raw_fd_ostream os(outTopology, ec);
  if (ec)
    return fail("cannot write '" + outTopology + "': " + ec.message());
  os << "// Static block topology from tessera-run --calibrate-topology "
        "(target relative error "
     << gStr(options.targetError) << ").\n"
     << "func.func @attention(%q: " << qT << ", %k: " << kT << ", %v: " << vT
     << ") -> " << oT << " {\n"
     << "  %mask = arith.constant " << attr << "\n"
     << "  %o, %lse = tessera.attention %q, %k, %v mask(%mask : " << mT
     << ") {block_q = " << options.blockQ << ", block_k = " << options.blockK
     << (options.causal ? ", causal" : "") << "} : " << qT << ", " << kT << ", "
     << vT << " -> " << oT << ", " << lT << "\n"
     << "  return %o : " << oT << "\n}\n";
  os.close();
  if (os.has_error())
    return fail("cannot write '" + outTopology + "': " + os.error().message());
  llvm::outs() << "  -> " << outTopology << "\n";
  return 0;
}

/// tessera-run --rice-encode codes.npy out.rice.
int runRiceEncode() {
  const std::string &in = positionals[0], &out = positionals[1];
  std::string error;
  std::optional<HostTensor> codes = readNpy(in, error);
  if (!codes)
    return fail(error);
  if (codes->dtype() != DType::I8)
    return fail("--rice-encode: '" + in + "' is " +
                shapeStr(codes->dtype(), codes->shape()) +
                "; Rice coding takes int8 codes (|i1)");
  rice::Stream stream = rice::encode(static_cast<const int8_t *>(codes->data()),
                                     codes->numElements());
  std::vector<uint8_t> file = rice::writeContainer(stream, codes->shape());
  std::error_code ec;
  llvm::raw_fd_ostream os(out, ec);
  if (ec)
    return fail("cannot write '" + out + "': " + ec.message());
  os.write(reinterpret_cast<const char *>(file.data()), file.size());
  os.close();
  if (os.has_error())
    return fail("cannot write '" + out + "': " + os.error().message());
  llvm::outs() << llvm::formatv(
      "rice-encoded {0} values of {1} with k = {2}: {3} bits, {4:f4} "
      "bits/value -> {5} ({6} bytes)\n",
      stream.count, shapeStr(DType::I8, codes->shape()), stream.k, stream.bits,
      stream.count ? double(stream.bits) / double(stream.count) : 0.0, out,
      file.size());
  return 0;
}

/// tessera-run --rice-decode in.rice out.npy.
int runRiceDecode() {
  const std::string &in = positionals[0], &out = positionals[1];
  auto buffer = llvm::MemoryBuffer::getFile(in, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return fail("cannot read '" + in + "': " + buffer.getError().message());
  llvm::StringRef data = (*buffer)->getBuffer();
  rice::Stream stream;
  std::vector<int64_t> shape;
  std::vector<int8_t> values;
  std::string error;
  if (!rice::readContainer(reinterpret_cast<const uint8_t *>(data.data()),
                           data.size(), stream, shape, values, error))
    return fail("'" + in + "': " + error);
  HostTensor codes(DType::I8, shape);
  std::copy(values.begin(), values.end(), static_cast<int8_t *>(codes.data()));
  if (!writeNpy(out, codes, error))
    return fail(error);
  llvm::outs() << llvm::formatv(
      "rice-decoded {0} values of {1} with k = {2}: {3} bits, {4:f4} "
      "bits/value -> {5}\n",
      stream.count, shapeStr(DType::I8, shape), stream.k, stream.bits,
      stream.count ? double(stream.bits) / double(stream.count) : 0.0, out);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv, "Tessera runner: run and benchmark tessera modules\n");

  // The host tools over .npy files take two positional files each.
  int modes = calibrate + calibrateTopologyMode + riceEncode + riceDecode;
  if (modes > 1)
    return fail("--calibrate, --calibrate-topology, --rice-encode and "
                "--rice-decode are separate modes: give one");
  if (calibrateTopologyMode) {
    if (positionals.size() != 2 && positionals.size() != 3)
      return fail("expected two or three files: tessera-run "
                  "--calibrate-topology q.npy k.npy [v.npy] (got " +
                  std::to_string(positionals.size()) + ")");
    return runCalibrateTopology();
  }
  if (modes == 1) {
    const char *mode = calibrate    ? "--calibrate q.npy k.npy"
                       : riceEncode ? "--rice-encode codes.npy out.rice"
                                    : "--rice-decode in.rice out.npy";
    if (positionals.size() != 2)
      return fail(std::string("expected two files: tessera-run ") + mode +
                  " (got " + std::to_string(positionals.size()) + ")");
    return calibrate    ? runCalibrate()
           : riceEncode ? runRiceEncode()
                        : runRiceDecode();
  }
  if (positionals.size() != 1)
    return fail("expected one module or artifact to run, got " +
                std::to_string(positionals.size()) + " files");
  inputFile = positionals[0];

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

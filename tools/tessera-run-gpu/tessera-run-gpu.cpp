//===- tessera-run-gpu.cpp - Run .tsr artifacts on a GPU (no LLVM) --------===//
//
// tessera-run-gpu MODEL.tsr [--entry=NAME] [--input=a.npy ...] [--output=o.npy
// ...]
//                 [--random-inputs=SEED] [--save-inputs=DIR] [--bench=N]
//                 [--device=N|sim]  (sim: run under tessera-sim)
//                 [--print-manifest]
//
// The GPU half of tessera-run, linked only against the runtime: build artifacts
// with tessera-compile on any machine, carry this binary, libtessera_runtime.so
// and the artifact to a machine with a driver. `tessera-run MODEL.tsr
// --device=cuda` does the same.
//
//===----------------------------------------------------------------------===//
#include "tessera/Support/GPURunner.h"
#include "tessera/Support/Npy.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <sys/stat.h>
#include <vector>

using namespace tessera;

namespace {

int fail(const std::string &message) {
  std::cerr << "tessera-run-gpu: error: " << message << "\n";
  return 1;
}

bool option(const std::string &arg, const std::string &name,
            std::string &value) {
  std::string prefix = "--" + name + "=";
  if (arg.rfind(prefix, 0) != 0)
    return false;
  value = arg.substr(prefix.size());
  return true;
}

} // namespace

int main(int argc, char **argv) {
  std::string model, entryName, saveDir, value;
  std::vector<std::string> inputs, outputs, shapes;
  long long seed = -1;
  int bench = 0, ordinal = 0;
  bool printManifest = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (option(arg, "entry", entryName) || option(arg, "save-inputs", saveDir))
      continue;
    if (option(arg, "input", value)) {
      inputs.push_back(value);
    } else if (option(arg, "output", value)) {
      outputs.push_back(value);
    } else if (option(arg, "shape", value)) {
      shapes.push_back(value);
    } else if (option(arg, "random-inputs", value)) {
      seed = std::atoll(value.c_str());
    } else if (option(arg, "bench", value)) {
      bench = std::atoi(value.c_str());
    } else if (option(arg, "device", value)) {
      if (value == "sim") {
        std::string error;
        if (!tessera::gpu::useSimulatorDriver(error)) {
          std::cerr << "tessera-run-gpu: error: " << error << "\n";
          return 1;
        }
      } else {
        ordinal = std::atoi(value.c_str());
      }
    } else if (arg == "--print-manifest") {
      printManifest = true;
    } else if (arg == "--help" || arg == "-h") {
      std::cout
          << "usage: tessera-run-gpu MODEL.tsr [--entry=NAME] [--input=a.npy "
             "...] "
             "[--output=o.npy ...] [--random-inputs=SEED "
             "[--shape=NAME=AxB...]] [--save-inputs=DIR] "
             "[--bench=N] [--device=N|sim] [--print-manifest]\n";
      return 0;
    } else if (arg.rfind("--", 0) == 0 || !model.empty()) {
      return fail("unknown argument '" + arg + "' (see --help)");
    } else {
      model = arg;
    }
  }
  if (model.empty())
    return fail("no artifact given (see --help)");

  std::string error;
  std::unique_ptr<gpu::Runner> runner =
      gpu::Runner::open(model, ordinal, error);
  if (!runner)
    return fail(error);
  const gpu::Manifest &manifest = runner->manifest();
  if (printManifest)
    for (const gpu::Manifest::Entry &e : manifest.entries)
      std::cout << "entry @" << e.name << ": " << e.inputs.size() << " inputs, "
                << e.launches.size() << " launches, " << e.outputs.size()
                << " outputs\n";
  if (entryName.empty()) {
    if (manifest.entries.size() != 1)
      return fail("the artifact has " +
                  std::to_string(manifest.entries.size()) +
                  " entries; choose one with --entry=NAME");
    entryName = manifest.entries.front().name;
  }
  const gpu::Manifest::Entry *entry = nullptr;
  for (const gpu::Manifest::Entry &e : manifest.entries)
    if (e.name == entryName)
      entry = &e;
  if (!entry)
    return fail("no entry @" + entryName + " in the artifact");
  EntryABI abi = entry->abi();

  std::vector<HostTensor> in;
  if (seed >= 0) {
    if (!randomInputs(abi, shapes, static_cast<uint64_t>(seed), in, error))
      return fail(error);
  } else {
    if (inputs.size() != abi.inputs.size())
      return fail("entry @" + entryName + " takes " +
                  std::to_string(abi.inputs.size()) + " inputs, got " +
                  std::to_string(inputs.size()) +
                  " --input files (or use --random-inputs=SEED)");
    for (size_t i = 0; i < inputs.size(); ++i) {
      std::optional<HostTensor> t = readNpy(inputs[i], error);
      if (!t)
        return fail(error);
      if (!abi.inputs[i].accepts(t->dtype(), t->shape()))
        return fail("input #" + std::to_string(i) + " ('" + inputs[i] +
                    "') does not match " + abi.inputs[i].str());
      in.push_back(std::move(*t));
    }
  }
  if (!saveDir.empty()) {
    mkdir(saveDir.c_str(), 0755);
    for (size_t i = 0; i < in.size(); ++i)
      if (!writeNpy(saveDir + "/" + abi.inputs[i].name + ".npy", in[i], error))
        return fail(error);
  }
  if (outputs.size() > abi.outputs.size())
    return fail("entry @" + entryName + " returns " +
                std::to_string(abi.outputs.size()) + " results");

  std::vector<HostTensor> out;
  std::vector<float> ms;
  if (!runner->run(entryName, in, out, error, 1))
    return fail(error);
  std::cout << "ran @" << entryName << " on " << runner->describeDevice()
            << ": " << entry->launches.size() << " launch(es)\n";
  for (size_t i = 0; i < out.size(); ++i) {
    TensorSpec actual = abi.outputs[i];
    actual.shape = out[i].shape();
    std::cout << actual.str() << "  " << summarize(out[i]);
    if (i < outputs.size()) {
      if (!writeNpy(outputs[i], out[i], error))
        return fail(error);
      std::cout << "  -> " << outputs[i];
    }
    std::cout << "\n";
  }
  if (bench > 0) {
    std::vector<HostTensor> scratch;
    if (!runner->run(entryName, in, scratch, error, bench, &ms))
      return fail(error);
    std::sort(ms.begin(), ms.end());
    char line[256];
    std::snprintf(line, sizeof(line),
                  "bench @%s: %d runs, device time median %.3f ms, min %.3f "
                  "ms, max %.3f ms",
                  entryName.c_str(), bench, ms[ms.size() / 2], ms.front(),
                  ms.back());
    std::cout << line << "\n";
  }
  return 0;
}

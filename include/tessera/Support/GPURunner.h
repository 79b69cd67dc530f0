//===- GPURunner.h - Executing .tsr artifacts on a GPU ----------*- C++ -*-===//
//
// Parses a .tsr manifest and runs an entry through the runtime: allocate its
// buffers, upload the inputs, launch its kernels in order, download the
// outputs. Links the runtime and no LLVM/MLIR, so tessera-run-gpu can be
// carried to a GPU machine alone.
//
//===----------------------------------------------------------------------===//
#ifndef TESSERA_SUPPORT_GPURUNNER_H
#define TESSERA_SUPPORT_GPURUNNER_H

#include "tessera/Support/Tensor.h"

#include <memory>
#include <string>
#include <vector>

namespace tessera::gpu {

/// The manifest of a .tsr artifact (docs/tsr-format.md).
struct Manifest {
  struct Tensor {
    std::string id;
    DType dtype;
    std::vector<int64_t> shape;
  };
  struct Launch {
    std::string kernel;
    unsigned grid[3], block[3], sharedBytes;
    std::vector<std::string> args;
  };
  struct Entry {
    std::string name;
    std::vector<Tensor> inputs, buffers;
    std::vector<Launch> launches;
    std::vector<std::string> outputs;
    /// The entry's calling convention (inputs, then the buffers it returns).
    EntryABI abi() const;
  };
  std::vector<Entry> entries;
};

/// Parses manifest text; on failure returns false with a message naming the
/// line.
bool parseManifest(const std::string &text, Manifest &out, std::string &error);

/// A loaded artifact on one device.
/// Makes the runtime use tessera-sim (libtessera_sim_cuda.so, found beside
/// the running tool in ../lib) as its CUDA driver; call before any runtime
/// call. Returns false with `error` set if the library is not there.
bool useSimulatorDriver(std::string &error);

class Runner {
public:
  /// Opens `path`, creates the runtime on device `ordinal` and loads the image
  /// that fits the device. Returns null with `error` set (no driver, no image
  /// for the device, ...).
  static std::unique_ptr<Runner> open(const std::string &path, int ordinal,
                                      std::string &error);
  ~Runner();

  const Manifest &manifest() const;
  /// "NVIDIA H100 (sm_90, image sm_90)".
  std::string describeDevice() const;
  /// Runs `entry` `repeat` times (the last run's outputs are returned); when
  /// `milliseconds` is given it receives the device time of each run.
  bool run(const std::string &entry, const std::vector<HostTensor> &inputs,
           std::vector<HostTensor> &outputs, std::string &error, int repeat = 1,
           std::vector<float> *milliseconds = nullptr);

private:
  struct Impl;
  explicit Runner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl;
};

} // namespace tessera::gpu

#endif // TESSERA_SUPPORT_GPURUNNER_H

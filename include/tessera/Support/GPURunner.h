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

/// The manifest of a .tsr artifact (docs/tsr-format.md). Version 2 adds
/// run-time sizes: `?` input dims, `size` lines computed from the inputs'
/// shapes, `check` lines, and sizes in buffer shapes, grids and kernel
/// arguments (passed as i64).
struct Manifest {
  struct Tensor {
    std::string id;
    DType dtype;
    /// Each dim: a number, "?" (inputs), or a size id (buffers).
    std::vector<std::string> dims;
  };
  /// `size <id> dim <tensor> <axis>` or `size <id> <op> <a> <b>` with op in
  /// add sub mul div min max and operands size ids or numbers.
  struct Size {
    std::string id, op, a, b;
  };
  /// `check <a> <b> <message>`: the call fails with `message` unless a == b
  /// (`checkge`: unless a >= b).
  struct Check {
    std::string a, b, message;
    bool atLeast = false;
  };
  struct Launch {
    std::string kernel;
    std::string grid[3]; ///< numbers or size ids
    unsigned block[3], sharedBytes;
    std::vector<std::string> args; ///< buffer ids, size ids or numbers
  };
  /// `const <id> <dtype> <shape> <v0> <v1> ...`: integer data uploaded before
  /// the launches (a constant block table, say).
  struct Constant {
    Tensor tensor;
    std::vector<int64_t> values;
  };
  struct Entry {
    std::string name;
    std::vector<Tensor> inputs, buffers;
    std::vector<Constant> constants;
    std::vector<Size> sizes;
    std::vector<Check> checks;
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

//===- Sim.h - tessera-sim: a functional simulator of PTX -------*- C++ -*-===//
//
// Runs the PTX that Tessera (and nvcc) emit on the host: grids of CTAs, CTAs of
// warps of 32 lanes executed in lockstep under an active mask, with checkers in
// the spirit of compute-sanitizer (out-of-bounds and misaligned accesses,
// shared-memory races between barriers, reads of uninitialised shared memory,
// barrier divergence, deadlock). Functional only: no timing, caches or clocks.
// Plain C++17: no LLVM, no MLIR, no CUDA. docs/simulator.md describes what is
// modelled.
//
//===----------------------------------------------------------------------===//
#ifndef TESSERA_SIM_SIM_H
#define TESSERA_SIM_SIM_H

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tessera::sim {

struct Module;   // a parsed PTX module (Ptx.h)
struct Function; // one .entry of it

/// What the checkers look for; all on by default (tests run with them on).
struct CheckOptions {
  bool bounds = true;        ///< out-of-bounds and misaligned accesses
  bool races = true;         ///< shared-memory hazards between barriers
  bool uninitialized = true; ///< reads of shared memory never written
  bool barriers = true;      ///< barrier divergence inside a warp
  /// wgmma: the wgmma.fence rule, and async-proxy reads of shared memory
  /// written through the generic proxy without fence.proxy.async
  bool wgmma = true;
};

/// How a launch is executed.
struct LaunchOptions {
  CheckOptions checks;
  /// CTAs resident at once (they interleave, so CTAs that wait on each other
  /// make progress); 0 means "as many as the grid has, up to 132".
  unsigned residentCtas = 0;
  /// Warp instructions a warp runs before the next warp gets a turn.
  unsigned quantum = 64;
  /// A launch that executes more warp instructions than this is stopped (an
  /// endless loop is an error, not a hang); 0 disables the limit.
  uint64_t instructionLimit = 20'000'000'000ull;
};

/// Parses a checker list: "all", "none" or a comma list of bounds, races,
/// uninitialized, barriers, wgmma. False with `error` naming an unknown entry.
bool parseCheckOptions(const std::string &spec, CheckOptions &out,
                       std::string &error);

/// A tiled tensor map (CUDA's opaque 128-byte CUtensorMap), as the
/// simulator encodes it: what cuTensorMapEncodeTiled was given, checked.
/// cp.async.bulk.tensor reads it from wherever the kernel's operand points
/// (a __grid_constant__ parameter, global or constant memory).
struct TensorMap {
  static constexpr uint32_t kMagic = 0x544d4150; ///< "TMAP"
  uint32_t magic = 0;
  uint8_t rank = 0;         ///< 1..5
  uint8_t elementBytes = 0; ///< 1, 2, 4 or 8
  uint8_t swizzle = 0;      ///< 0 none, 1 32B, 2 64B, 3 128B (CUDA's enum)
  uint8_t nanFill = 0;      ///< out-of-bounds float elements read as NaN
  uint64_t global = 0;      ///< device address of element (0, ..., 0)
  uint64_t dims[5] = {};    ///< elements per dimension, innermost first
  uint32_t box[5] = {};     ///< box extent per dimension
  uint8_t elementStrides[5] = {};
  uint8_t isFloat = 0;
  uint8_t reserved[2] = {};
  uint64_t strides[5] = {}; ///< bytes; strides[0] = elementBytes
};
static_assert(sizeof(TensorMap) <= 128, "a CUtensorMap is 128 bytes");

/// cuTensorMapEncodeTiled's contract (CUDA driver API): `dataType` and
/// `swizzle` in CUDA's enum values, `strides` the rank - 1 byte strides of
/// dimensions 1.. (dimension 0 is dense). Interleaved layouts and the L2
/// promotion hint are not modelled (interleave must be 0). False with
/// `error` saying which rule a value breaks.
bool encodeTensorMapTiled(TensorMap &out, unsigned dataType, unsigned rank,
                          uint64_t global, const uint64_t *dims,
                          const uint64_t *strides, const uint32_t *box,
                          const uint32_t *elementStrides, unsigned interleave,
                          unsigned swizzle, unsigned oobFill,
                          std::string &error);

/// Launch geometry.
struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
  uint64_t count() const { return uint64_t(x) * y * z; }
};

/// What a launch did.
struct LaunchStats {
  uint64_t warpInstructions = 0;
  uint64_t threadInstructions = 0;
  double seconds = 0;
};

/// Device memory: allocations at distinct, never reused device addresses with
/// unmapped gaps between them, so a stray access lands nowhere.
class Memory {
public:
  Memory();
  ~Memory();
  Memory(const Memory &) = delete;
  Memory &operator=(const Memory &) = delete;

  /// Allocates `bytes` (> 0), zero-filled; returns its device address.
  uint64_t allocate(size_t bytes);
  /// Frees an allocation by its base address; false if there is none.
  bool free(uint64_t address);
  /// Host pointer of [address, address + bytes) if one allocation holds it all.
  uint8_t *translate(uint64_t address, size_t bytes);
  /// Describes where `address` falls ("12 bytes past a 256-byte allocation at
  /// 0x...") for diagnostics.
  std::string describe(uint64_t address, size_t bytes) const;

private:
  struct Allocation {
    uint64_t base;
    std::vector<uint8_t> data;
  };
  std::map<uint64_t, Allocation> allocations_;
  uint64_t next_;
};

/// A loaded module: parsed PTX plus its module-scope variables.
class LoadedModule {
public:
  ~LoadedModule();
  /// The kernel named `name`, or null.
  const Function *kernel(const std::string &name) const;
  const Module &module() const { return *module_; }

private:
  friend class Device;
  std::unique_ptr<Module> module_;
  uint64_t globalsBase_ = 0;
};

/// The simulated GPU: memory and modules. Not thread-safe; the driver shim
/// (CudaDriver.cpp) serialises calls.
class Device {
public:
  /// Compute capability the device reports (major * 10 + minor).
  explicit Device(int computeCapability = 90);
  ~Device();

  Memory &memory() { return memory_; }
  int computeCapability() const { return computeCapability_; }

  /// Parses PTX text. On failure returns null and sets `error` to
  /// "line N: message".
  std::unique_ptr<LoadedModule> load(const std::string &ptx,
                                     std::string &error);

  /// Runs `kernel` to completion. `params` holds the bytes of the kernel's
  /// parameters laid out as the .param declarations say (each at its natural
  /// alignment). Returns false with `error` set to a report naming the kernel,
  /// the PTX line, the CTA and the thread when a checker fires or an
  /// instruction cannot be executed.
  bool launch(const LoadedModule &module, const Function &kernel, Dim3 grid,
              Dim3 block, unsigned dynamicSharedBytes,
              const std::vector<const void *> &params,
              const LaunchOptions &options, LaunchStats &stats,
              std::string &error);

private:
  Memory memory_;
  int computeCapability_;
};

} // namespace tessera::sim

#endif // TESSERA_SIM_SIM_H

//===- CudaDriver.cpp - libcuda's entry points over the simulator ---------===//
//
// Built as libtessera_sim_cuda.so: it exports the CUDA driver functions that
// the runtime resolves from libcuda.so.1 (runtime/src/driver.cpp), backed by
// one simulated device. Pointing the runtime at it (TSRT_CUDA_DRIVER, or
// `--device=sim` in the tools) runs the real artifact, manifest, argument
// packing and launch code against the simulator.
//
// Settings (environment, read at cuInit):
//   TESSERA_SIM_CC      compute capability the device reports (default 90)
//   TESSERA_SIM_CHECKS  "all" (default), "none", or a comma list of bounds,
//                       races, uninitialized, barriers, wgmma
//   TESSERA_SIM_CTAS    CTAs resident at once (default: up to 132)
//   TESSERA_SIM_STATS   "1": one line of statistics per launch on stderr
// A launch that a checker stops prints its report on stderr ("tessera-sim:
// ...") and fails with CUDA_ERROR_LAUNCH_FAILED, which then sticks, as a
// real fault does.
//
//===----------------------------------------------------------------------===//
#include "Ptx.h"
#include "tessera-sim/Sim.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#define SIM_API extern "C" __attribute__((visibility("default")))

using namespace tessera::sim;

namespace {

constexpr int kSuccess = 0;
constexpr int kInvalidValue = 1;
constexpr int kOutOfMemory = 2;
constexpr int kNotInitialized = 3;
constexpr int kInvalidDevice = 101;
constexpr int kInvalidImage = 200;
constexpr int kInvalidHandle = 400;
constexpr int kNotFound = 500;
constexpr int kInvalidPtx = 218;
constexpr int kLaunchFailed = 719;

struct State {
  std::mutex mutex;
  std::unique_ptr<Device> device;
  LaunchOptions options;
  bool stats = false;
  int sticky = kSuccess;
};

State &state() {
  static State s;
  return s;
}

struct SimFunction {
  const LoadedModule *module;
  const Function *fn;
};

struct SimModule {
  std::unique_ptr<LoadedModule> loaded;
  std::vector<std::unique_ptr<SimFunction>> functions;
};

struct SimEvent {
  std::chrono::steady_clock::time_point when;
};

} // namespace

SIM_API int cuInit(unsigned) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.device) {
    const char *cc = std::getenv("TESSERA_SIM_CC");
    s.device = std::make_unique<Device>(cc && *cc ? std::atoi(cc) : 90);
    const char *checks = std::getenv("TESSERA_SIM_CHECKS");
    std::string error;
    if (!parseCheckOptions(checks ? checks : "", s.options.checks, error)) {
      std::fprintf(stderr,
                   "tessera-sim: TESSERA_SIM_CHECKS: %s; running with all "
                   "checkers\n",
                   error.c_str());
      s.options.checks = CheckOptions();
    }
    if (const char *ctas = std::getenv("TESSERA_SIM_CTAS"))
      s.options.residentCtas = static_cast<unsigned>(std::atoi(ctas));
    const char *st = std::getenv("TESSERA_SIM_STATS");
    s.stats = st && std::strcmp(st, "1") == 0;
  }
  return kSuccess;
}

SIM_API int cuDeviceGetCount(int *n) {
  *n = 1;
  return kSuccess;
}

SIM_API int cuDeviceGet(int *d, int ordinal) {
  if (ordinal != 0)
    return kInvalidDevice;
  *d = 0;
  return kSuccess;
}

SIM_API int cuDeviceGetName(char *name, int len, int) {
  if (len <= 0)
    return kInvalidValue;
  std::snprintf(name, static_cast<size_t>(len), "tessera-sim");
  return kSuccess;
}

SIM_API int cuDeviceGetAttribute(int *v, int attr, int) {
  State &s = state();
  if (!s.device)
    return kNotInitialized;
  if (attr == 75)
    *v = s.device->computeCapability() / 10;
  else if (attr == 76)
    *v = s.device->computeCapability() % 10;
  else
    return kInvalidValue;
  return kSuccess;
}

SIM_API int cuDevicePrimaryCtxRetain(void **ctx, int) {
  static int context;
  *ctx = &context;
  return kSuccess;
}
SIM_API int cuDevicePrimaryCtxRelease_v2(int) { return kSuccess; }
SIM_API int cuCtxSetCurrent(void *) { return kSuccess; }

SIM_API int cuMemAlloc_v2(uint64_t *p, size_t bytes) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.device)
    return kNotInitialized;
  if (bytes == 0)
    return kInvalidValue;
  if (bytes > (size_t(1) << 36))
    return kOutOfMemory;
  *p = s.device->memory().allocate(bytes);
  return kSuccess;
}

SIM_API int cuMemFree_v2(uint64_t p) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.device)
    return kNotInitialized;
  return s.device->memory().free(p) ? kSuccess : kInvalidValue;
}

SIM_API int cuMemcpyHtoD_v2(uint64_t dst, const void *src, size_t n) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.sticky)
    return s.sticky;
  uint8_t *p = s.device ? s.device->memory().translate(dst, n) : nullptr;
  if (!p)
    return kInvalidValue;
  std::memcpy(p, src, n);
  return kSuccess;
}

SIM_API int cuMemcpyDtoH_v2(void *dst, uint64_t src, size_t n) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.sticky)
    return s.sticky;
  uint8_t *p = s.device ? s.device->memory().translate(src, n) : nullptr;
  if (!p)
    return kInvalidValue;
  std::memcpy(dst, p, n);
  return kSuccess;
}

SIM_API int cuStreamCreate(void **stream, unsigned) {
  static int streams;
  *stream = &streams;
  return kSuccess;
}
SIM_API int cuStreamDestroy_v2(void *) { return kSuccess; }
SIM_API int cuStreamSynchronize(void *) { return state().sticky; }

SIM_API int cuEventCreate(SimEvent **e, unsigned) {
  *e = new SimEvent{std::chrono::steady_clock::now()};
  return kSuccess;
}
SIM_API int cuEventDestroy_v2(SimEvent *e) {
  delete e;
  return kSuccess;
}
SIM_API int cuEventRecord(SimEvent *e, void *) {
  if (!e)
    return kInvalidHandle;
  e->when = std::chrono::steady_clock::now();
  return kSuccess;
}
SIM_API int cuEventSynchronize(SimEvent *) { return state().sticky; }
/// Host wall time between the two records: the simulator has no clock of the
/// device's (docs/simulator.md).
SIM_API int cuEventElapsedTime_v2(float *ms, SimEvent *start, SimEvent *stop) {
  if (!start || !stop)
    return kInvalidHandle;
  *ms = std::chrono::duration<float, std::milli>(stop->when - start->when)
            .count();
  return kSuccess;
}

SIM_API int cuModuleLoadDataEx(void **module, const void *image, unsigned n,
                               int *options, void **values) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.device)
    return kNotInitialized;
  auto log = [&](const std::string &text) {
    char *buffer = nullptr;
    size_t size = 0;
    for (unsigned i = 0; i < n; ++i) {
      if (options[i] == 5) // CU_JIT_ERROR_LOG_BUFFER
        buffer = static_cast<char *>(values[i]);
      else if (options[i] == 6) // CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES
        size = reinterpret_cast<size_t>(values[i]);
    }
    if (buffer && size) {
      std::strncpy(buffer, text.c_str(), size - 1);
      buffer[size - 1] = '\0';
    }
  };
  const char *bytes = static_cast<const char *>(image);
  if (std::memcmp(bytes,
                  "\x7f"
                  "ELF",
                  4) == 0) {
    log("tessera-sim runs PTX only; this image is a cubin");
    return kInvalidImage;
  }
  std::string error;
  std::unique_ptr<LoadedModule> loaded = s.device->load(bytes, error);
  if (!loaded) {
    log("tessera-sim: " + error);
    return kInvalidPtx;
  }
  auto *m = new SimModule{std::move(loaded), {}};
  *module = m;
  return kSuccess;
}

SIM_API int cuModuleUnload(SimModule *m) {
  std::lock_guard<std::mutex> lock(state().mutex);
  delete m;
  return kSuccess;
}

SIM_API int cuModuleGetFunction(SimFunction **f, SimModule *m,
                                const char *name) {
  if (!m)
    return kInvalidHandle;
  const Function *fn = m->loaded->kernel(name);
  if (!fn)
    return kNotFound;
  m->functions.push_back(
      std::make_unique<SimFunction>(SimFunction{m->loaded.get(), fn}));
  *f = m->functions.back().get();
  return kSuccess;
}

SIM_API int cuFuncSetAttribute(SimFunction *, int, int) { return kSuccess; }

/// The tensor maps TMA loads read (cp.async.bulk.tensor); enums as CUDA's.
SIM_API int cuTensorMapEncodeTiled(void *map, int dataType, unsigned rank,
                                   void *global, const uint64_t *dims,
                                   const uint64_t *strides, const uint32_t *box,
                                   const uint32_t *elementStrides,
                                   int interleave, int swizzle, int,
                                   int oobFill) {
  if (!map || !dims || !box || !elementStrides || (rank > 1 && !strides) ||
      dataType < 0 || interleave < 0 || swizzle < 0 || oobFill < 0)
    return kInvalidValue;
  TensorMap m;
  std::string error;
  if (!encodeTensorMapTiled(m, unsigned(dataType), rank,
                            reinterpret_cast<uint64_t>(global), dims, strides,
                            box, elementStrides, unsigned(interleave),
                            unsigned(swizzle), unsigned(oobFill), error)) {
    std::fprintf(stderr, "tessera-sim: %s\n", error.c_str());
    return kInvalidValue;
  }
  std::memset(map, 0, 128);
  std::memcpy(map, &m, sizeof m);
  return kSuccess;
}

SIM_API int cuLaunchKernel(SimFunction *f, unsigned gx, unsigned gy,
                           unsigned gz, unsigned bx, unsigned by, unsigned bz,
                           unsigned shared, void *, void **params, void **) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.sticky)
    return s.sticky;
  if (!f)
    return kInvalidHandle;
  std::vector<const void *> args;
  for (size_t i = 0; i < f->fn->params.size(); ++i)
    args.push_back(params ? params[i] : nullptr);
  for (const void *a : args)
    if (!a)
      return kInvalidValue;
  LaunchStats stats;
  std::string error;
  if (!s.device->launch(*f->module, *f->fn, Dim3{gx, gy, gz}, Dim3{bx, by, bz},
                        shared, args, s.options, stats, error)) {
    std::fprintf(stderr, "tessera-sim: %s\n", error.c_str());
    s.sticky = kLaunchFailed;
    return kLaunchFailed;
  }
  if (s.stats)
    std::fprintf(
        stderr,
        "tessera-sim: %s grid (%u,%u,%u) block (%u,%u,%u): %llu warp "
        "instructions in %.3f s (%.1f M/s)\n",
        f->fn->name.c_str(), gx, gy, gz, bx, by, bz,
        static_cast<unsigned long long>(stats.warpInstructions), stats.seconds,
        stats.seconds > 0 ? stats.warpInstructions / stats.seconds / 1e6 : 0.0);
  return kSuccess;
}

SIM_API int cuGetErrorName(int code, const char **name) {
  switch (code) {
  case kSuccess:
    *name = "CUDA_SUCCESS";
    return kSuccess;
  case kInvalidValue:
    *name = "CUDA_ERROR_INVALID_VALUE";
    return kSuccess;
  case kOutOfMemory:
    *name = "CUDA_ERROR_OUT_OF_MEMORY";
    return kSuccess;
  case kNotInitialized:
    *name = "CUDA_ERROR_NOT_INITIALIZED";
    return kSuccess;
  case kInvalidDevice:
    *name = "CUDA_ERROR_INVALID_DEVICE";
    return kSuccess;
  case kInvalidImage:
    *name = "CUDA_ERROR_INVALID_IMAGE";
    return kSuccess;
  case kInvalidPtx:
    *name = "CUDA_ERROR_INVALID_PTX";
    return kSuccess;
  case kInvalidHandle:
    *name = "CUDA_ERROR_INVALID_HANDLE";
    return kSuccess;
  case kNotFound:
    *name = "CUDA_ERROR_NOT_FOUND";
    return kSuccess;
  case kLaunchFailed:
    *name = "CUDA_ERROR_LAUNCH_FAILED";
    return kSuccess;
  default:
    *name = nullptr;
    return kInvalidValue;
  }
}

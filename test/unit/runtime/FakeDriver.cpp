//===- FakeDriver.cpp - A stand-in libcuda for the runtime's tests --------===//
//
// Exports the driver entry points the runtime resolves, so the runtime's
// loading, error mapping and device queries are tested on machines without a
// GPU. FAKE_CUDA_MODE selects the behaviour: "no_device" makes cuInit fail with
// CUDA_ERROR_NO_DEVICE (100); anything else reports one device, "Tessera Fake
// GPU", compute capability 9.0.
//
//===----------------------------------------------------------------------===//
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace {
int retained = 0;
bool noDevice() {
  const char *mode = std::getenv("FAKE_CUDA_MODE");
  return mode && std::strcmp(mode, "no_device") == 0;
}
} // namespace

extern "C" {
__attribute__((visibility("default"))) int cuInit(unsigned) {
  return noDevice() ? 100 : 0;
}
__attribute__((visibility("default"))) int cuDeviceGetCount(int *n) {
  *n = 1;
  return 0;
}
__attribute__((visibility("default"))) int cuDeviceGet(int *d, int ordinal) {
  if (ordinal != 0)
    return 101; // CUDA_ERROR_INVALID_DEVICE
  *d = 0;
  return 0;
}
__attribute__((visibility("default"))) int cuDeviceGetName(char *name, int len,
                                                           int) {
  std::strncpy(name, "Tessera Fake GPU", static_cast<size_t>(len));
  return 0;
}
__attribute__((visibility("default"))) int cuDeviceGetAttribute(int *v,
                                                                int attr, int) {
  if (attr == 75)
    *v = 9;
  else if (attr == 76)
    *v = 0;
  else
    return 1; // CUDA_ERROR_INVALID_VALUE
  return 0;
}
__attribute__((visibility("default"))) int cuDevicePrimaryCtxRetain(void **ctx,
                                                                    int) {
  ++retained;
  *ctx = &retained;
  return 0;
}
__attribute__((visibility("default"))) int cuDevicePrimaryCtxRelease_v2(int) {
  --retained;
  return 0;
}
#define FAKE_API __attribute__((visibility("default")))

/// What the last cuLaunchKernel saw, for the tests to inspect (dlsym
/// "fake_last_launch").
struct FakeLaunch {
  unsigned grid[3], block[3], shared;
  int numParams;
  uint64_t params[8]; // each parameter's first 8 bytes
  const char *kernel;
};
FAKE_API FakeLaunch fake_last_launch;
FAKE_API int fake_launch_count;

FAKE_API int cuCtxSetCurrent(void *) { return 0; }
FAKE_API int cuMemAlloc_v2(uint64_t *p, size_t bytes) {
  void *m = std::malloc(bytes);
  if (!m)
    return 2; // CUDA_ERROR_OUT_OF_MEMORY
  *p = reinterpret_cast<uint64_t>(m);
  return 0;
}
FAKE_API int cuMemFree_v2(uint64_t p) {
  std::free(reinterpret_cast<void *>(p));
  return 0;
}
FAKE_API int cuMemcpyHtoD_v2(uint64_t dst, const void *src, size_t n) {
  std::memcpy(reinterpret_cast<void *>(dst), src, n);
  return 0;
}
FAKE_API int cuMemcpyDtoH_v2(void *dst, uint64_t src, size_t n) {
  std::memcpy(dst, reinterpret_cast<void *>(src), n);
  return 0;
}
static int fakeObject;
FAKE_API int cuStreamCreate(void **s, unsigned) {
  *s = &fakeObject;
  return 0;
}
FAKE_API int cuStreamDestroy_v2(void *) { return 0; }
FAKE_API int cuStreamSynchronize(void *) { return 0; }
static int eventClock;
FAKE_API int cuEventCreate(int **e, unsigned) {
  *e = new int(0);
  return 0;
}
FAKE_API int cuEventDestroy_v2(int *e) {
  delete e;
  return 0;
}
FAKE_API int cuEventRecord(int *e, void *) {
  *e = ++eventClock;
  return 0;
}
FAKE_API int cuEventSynchronize(int *) { return 0; }
/// One "millisecond" per event recorded in between.
FAKE_API int cuEventElapsedTime_v2(float *ms, int *start, int *stop) {
  *ms = static_cast<float>(*stop - *start);
  return 0;
}
/// Accepts PTX that declares a version; anything else fails like the driver's
/// JIT, with a log.
FAKE_API int cuModuleLoadDataEx(void **module, const void *image, unsigned n,
                                int *options, void **values) {
  const char *text = static_cast<const char *>(image);
  if (std::strstr(text, ".version") || std::memcmp(text,
                                                   "\x7f"
                                                   "ELF",
                                                   4) == 0) {
    *module = &fakeObject;
    return 0;
  }
  for (unsigned i = 0; i < n; ++i)
    if (options[i] == 5) // CU_JIT_ERROR_LOG_BUFFER
      std::strcpy(static_cast<char *>(values[i]),
                  "ptxas fatal: line 1: no .version directive");
  return 218; // CUDA_ERROR_INVALID_PTX
}
FAKE_API int cuModuleUnload(void *) { return 0; }
/// Every kernel exists except those named "missing_..."; the handle is the
/// kernel's name.
FAKE_API int cuModuleGetFunction(const char **f, void *, const char *name) {
  if (std::strncmp(name, "missing_", 8) == 0)
    return 500; // CUDA_ERROR_NOT_FOUND
  *f = strdup(name);
  return 0;
}
FAKE_API int cuFuncSetAttribute(void *, int, int) { return 0; }
FAKE_API int cuLaunchKernel(const char *f, unsigned gx, unsigned gy,
                            unsigned gz, unsigned bx, unsigned by, unsigned bz,
                            unsigned shared, void *, void **params, void **) {
  fake_last_launch = FakeLaunch{{gx, gy, gz}, {bx, by, bz}, shared, 0, {}, f};
  ++fake_launch_count;
  // Only "fake_kernel" has a known signature: a pointer, an i32, an i64 and an
  // f32; read each parameter's own size, as the driver would from the kernel's
  // signature.
  if (std::strcmp(f, "fake_kernel") != 0)
    return 0;
  const size_t sizes[4] = {8, 4, 8, 4};
  for (int i = 0; i < 4; ++i)
    std::memcpy(&fake_last_launch.params[i], params[i], sizes[i]);
  fake_last_launch.numParams = 4;
  return 0;
}

FAKE_API int cuGetErrorName(int code, const char **name) {
  switch (code) {
  case 100:
    *name = "CUDA_ERROR_NO_DEVICE";
    return 0;
  case 101:
    *name = "CUDA_ERROR_INVALID_DEVICE";
    return 0;
  case 218:
    *name = "CUDA_ERROR_INVALID_PTX";
    return 0;
  case 500:
    *name = "CUDA_ERROR_NOT_FOUND";
    return 0;
  default:
    *name = nullptr;
    return 1;
  }
}
}

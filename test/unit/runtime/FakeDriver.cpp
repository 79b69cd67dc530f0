//===- FakeDriver.cpp - A stand-in libcuda for testing the runtime's binding ===//
//
// Exports the driver entry points the runtime resolves, so the runtime's loading, error
// mapping and device queries are tested on machines without a GPU. FAKE_CUDA_MODE selects
// the behaviour: "no_device" makes cuInit fail with CUDA_ERROR_NO_DEVICE (100); anything else
// reports one device, "Tessera Fake GPU", compute capability 9.0.
//
//===----------------------------------------------------------------------===//
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
__attribute__((visibility("default"))) int cuInit(unsigned) { return noDevice() ? 100 : 0; }
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
__attribute__((visibility("default"))) int cuDeviceGetName(char *name, int len, int) {
  std::strncpy(name, "Tessera Fake GPU", static_cast<size_t>(len));
  return 0;
}
__attribute__((visibility("default"))) int cuDeviceGetAttribute(int *v, int attr, int) {
  if (attr == 75)
    *v = 9;
  else if (attr == 76)
    *v = 0;
  else
    return 1; // CUDA_ERROR_INVALID_VALUE
  return 0;
}
__attribute__((visibility("default"))) int cuDevicePrimaryCtxRetain(void **ctx, int) {
  ++retained;
  *ctx = &retained;
  return 0;
}
__attribute__((visibility("default"))) int cuDevicePrimaryCtxRelease_v2(int) {
  --retained;
  return 0;
}
__attribute__((visibility("default"))) int cuGetErrorName(int code, const char **name) {
  switch (code) {
  case 100:
    *name = "CUDA_ERROR_NO_DEVICE";
    return 0;
  case 101:
    *name = "CUDA_ERROR_INVALID_DEVICE";
    return 0;
  default:
    *name = nullptr;
    return 1;
  }
}
}

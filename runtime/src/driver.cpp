//===- driver.cpp - Loading the CUDA driver at run time -------------------===//
#include "driver.h"
#include "status.h"

#include <cstdlib>
#include <dlfcn.h>
#include <initializer_list>
#include <mutex>
#include <string>

namespace {

struct LoadResult {
  tsrt::Driver driver{};
  tsrt_code code = TSRT_OK;
  std::string message;
};

/// Resolves the first of `names` that the driver exports (versioned names
/// first).
template <typename Fn>
bool resolve(void *handle, std::initializer_list<const char *> names, Fn &slot,
             LoadResult &result) {
  for (const char *name : names)
    if ((slot = reinterpret_cast<Fn>(dlsym(handle, name))))
      return true;
  const char *name = *names.begin();
  result.code = TSRT_NO_DRIVER;
  result.message = std::string("the CUDA driver lacks ") + name;
  return false;
}

LoadResult load() {
  LoadResult result;
  const char *path = std::getenv("TSRT_CUDA_DRIVER");
  if (!path || !*path)
    path = "libcuda.so.1";
  void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    result.code = TSRT_NO_DRIVER;
    const char *why = dlerror();
    result.message = std::string("no CUDA driver found: ") + (why ? why : path);
    return result;
  }
  tsrt::Driver &d = result.driver;
  if (!resolve(handle, {"cuInit"}, d.cuInit, result) ||
      !resolve(handle, {"cuDeviceGetCount"}, d.cuDeviceGetCount, result) ||
      !resolve(handle, {"cuDeviceGet"}, d.cuDeviceGet, result) ||
      !resolve(handle, {"cuDeviceGetName"}, d.cuDeviceGetName, result) ||
      !resolve(handle, {"cuDeviceGetAttribute"}, d.cuDeviceGetAttribute,
               result) ||
      !resolve(handle, {"cuDevicePrimaryCtxRetain"}, d.cuDevicePrimaryCtxRetain,
               result) ||
      !resolve(handle, {"cuDevicePrimaryCtxRelease_v2"},
               d.cuDevicePrimaryCtxRelease, result) ||
      !resolve(handle, {"cuGetErrorName"}, d.cuGetErrorName, result) ||
      !resolve(handle, {"cuCtxSetCurrent"}, d.cuCtxSetCurrent, result) ||
      !resolve(handle, {"cuMemAlloc_v2"}, d.cuMemAlloc, result) ||
      !resolve(handle, {"cuMemFree_v2"}, d.cuMemFree, result) ||
      !resolve(handle, {"cuMemcpyHtoD_v2"}, d.cuMemcpyHtoD, result) ||
      !resolve(handle, {"cuMemcpyDtoH_v2"}, d.cuMemcpyDtoH, result) ||
      !resolve(handle, {"cuStreamCreate"}, d.cuStreamCreate, result) ||
      !resolve(handle, {"cuStreamDestroy_v2"}, d.cuStreamDestroy, result) ||
      !resolve(handle, {"cuStreamSynchronize"}, d.cuStreamSynchronize,
               result) ||
      !resolve(handle, {"cuEventCreate"}, d.cuEventCreate, result) ||
      !resolve(handle, {"cuEventDestroy_v2"}, d.cuEventDestroy, result) ||
      !resolve(handle, {"cuEventRecord"}, d.cuEventRecord, result) ||
      !resolve(handle, {"cuEventSynchronize"}, d.cuEventSynchronize, result) ||
      !resolve(handle, {"cuEventElapsedTime_v2", "cuEventElapsedTime"},
               d.cuEventElapsedTime, result) ||
      !resolve(handle, {"cuModuleLoadDataEx"}, d.cuModuleLoadDataEx, result) ||
      !resolve(handle, {"cuModuleUnload"}, d.cuModuleUnload, result) ||
      !resolve(handle, {"cuModuleGetFunction"}, d.cuModuleGetFunction,
               result) ||
      !resolve(handle, {"cuFuncSetAttribute"}, d.cuFuncSetAttribute, result) ||
      !resolve(handle, {"cuLaunchKernel"}, d.cuLaunchKernel, result))
    return result;
  tsrt::CUresult rc = d.cuInit(0);
  if (rc != tsrt::CUDA_SUCCESS) {
    const char *name = nullptr;
    d.cuGetErrorName(rc, &name);
    result.code = TSRT_NO_DEVICE;
    result.message = std::string("cuInit failed: ") +
                     (name ? name : "unknown CUDA error") + " (" +
                     std::to_string(rc) + ")";
  }
  return result;
}

} // namespace

tsrt_status tsrt::loadDriver(const Driver **out) {
  static const LoadResult loaded = load();
  if (loaded.code != TSRT_OK)
    return makeStatus(loaded.code, "%s", loaded.message.c_str());
  *out = &loaded.driver;
  return nullptr;
}

tsrt_status tsrt::cudaStatus(const Driver &driver, CUresult result,
                             const char *call) {
  const char *name = nullptr;
  if (driver.cuGetErrorName(result, &name) != CUDA_SUCCESS || !name)
    name = "unknown CUDA error";
  return makeStatus(result == 2 ? TSRT_OUT_OF_MEMORY : TSRT_CUDA_ERROR,
                    "%s failed: %s (%d)", call, name, result);
}

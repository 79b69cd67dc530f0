//===- runtime.cpp - Runtime handle: driver, device and primary context ---===//
#include "internal.h"
#include "status.h"

#include <new>

using tsrt::makeStatus;

tsrt_status tsrt::makeCurrent(tsrt_runtime runtime) {
  if (CUresult rc = runtime->driver->cuCtxSetCurrent(runtime->context))
    return cudaStatus(*runtime->driver, rc, "cuCtxSetCurrent");
  return nullptr;
}

extern "C" {

tsrt_status tsrt_device_count(int *out) {
  if (!out)
    return makeStatus(TSRT_INVALID_ARGUMENT, "tsrt_device_count: out is NULL");
  const tsrt::Driver *d = nullptr;
  if (tsrt_status s = tsrt::loadDriver(&d))
    return s;
  if (tsrt::CUresult rc = d->cuDeviceGetCount(out))
    return tsrt::cudaStatus(*d, rc, "cuDeviceGetCount");
  return nullptr;
}

tsrt_status tsrt_runtime_create(int ordinal, tsrt_runtime *out) {
  if (!out)
    return makeStatus(TSRT_INVALID_ARGUMENT,
                      "tsrt_runtime_create: out is NULL");
  *out = nullptr;
  const tsrt::Driver *d = nullptr;
  if (tsrt_status s = tsrt::loadDriver(&d))
    return s;
  int count = 0;
  if (tsrt::CUresult rc = d->cuDeviceGetCount(&count))
    return tsrt::cudaStatus(*d, rc, "cuDeviceGetCount");
  if (ordinal < 0 || ordinal >= count)
    return makeStatus(
        count == 0 ? TSRT_NO_DEVICE : TSRT_INVALID_ARGUMENT,
        "device ordinal %d out of range: the driver sees %d device(s)", ordinal,
        count);
  tsrt::CUdevice device = 0;
  if (tsrt::CUresult rc = d->cuDeviceGet(&device, ordinal))
    return tsrt::cudaStatus(*d, rc, "cuDeviceGet");
  tsrt::CUcontext context = nullptr;
  if (tsrt::CUresult rc = d->cuDevicePrimaryCtxRetain(&context, device))
    return tsrt::cudaStatus(*d, rc, "cuDevicePrimaryCtxRetain");
  auto *runtime = new (std::nothrow) tsrt_runtime_impl{d, device, context};
  if (!runtime) {
    d->cuDevicePrimaryCtxRelease(device);
    return makeStatus(TSRT_OUT_OF_MEMORY, "out of host memory");
  }
  *out = runtime;
  return nullptr;
}

void tsrt_runtime_destroy(tsrt_runtime runtime) {
  if (!runtime)
    return;
  runtime->driver->cuDevicePrimaryCtxRelease(runtime->device);
  delete runtime;
}

tsrt_status tsrt_device_info(tsrt_runtime runtime, char *name, size_t name_size,
                             int *compute_capability) {
  if (!runtime || !name || name_size == 0 || !compute_capability)
    return makeStatus(TSRT_INVALID_ARGUMENT,
                      "tsrt_device_info: NULL or empty argument");
  const tsrt::Driver &d = *runtime->driver;
  int size = name_size > 4096 ? 4096 : static_cast<int>(name_size);
  if (tsrt::CUresult rc = d.cuDeviceGetName(name, size, runtime->device))
    return tsrt::cudaStatus(d, rc, "cuDeviceGetName");
  name[name_size - 1] = '\0';
  int major = 0, minor = 0;
  if (tsrt::CUresult rc = d.cuDeviceGetAttribute(
          &major, tsrt::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
          runtime->device))
    return tsrt::cudaStatus(d, rc, "cuDeviceGetAttribute");
  if (tsrt::CUresult rc = d.cuDeviceGetAttribute(
          &minor, tsrt::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
          runtime->device))
    return tsrt::cudaStatus(d, rc, "cuDeviceGetAttribute");
  *compute_capability = major * 10 + minor;
  return nullptr;
}

} // extern "C"

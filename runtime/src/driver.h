//===- driver.h - The CUDA driver API, loaded with dlopen ---------*- C++ -*-===//
//
// The few driver types and entry points the runtime uses, declared here (the driver ABI is
// stable) so that the runtime builds without the CUDA toolkit and never links libcuda.
//
//===----------------------------------------------------------------------===//
#ifndef TESSERA_RUNTIME_DRIVER_H
#define TESSERA_RUNTIME_DRIVER_H

#include "tessera-runtime/runtime.h"

namespace tsrt {

using CUresult = int;
using CUdevice = int;
struct CUctx_st;
using CUcontext = CUctx_st *;

constexpr CUresult CUDA_SUCCESS = 0;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;

/// Entry points resolved from libcuda.so.1 (versioned names where cuda.h maps them).
struct Driver {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDeviceGetCount)(int *);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDeviceGetName)(char *, int, CUdevice);
  CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice);
  CUresult (*cuGetErrorName)(CUresult, const char **);
};

/// Loads and initialises the driver once per process. On success *out points at the
/// resolved entry points (valid for the life of the process). The library path is
/// libcuda.so.1 unless the environment variable TSRT_CUDA_DRIVER names another.
tsrt_status loadDriver(const Driver **out);

/// A status for a failed driver call: TSRT_CUDA_ERROR with the CUDA error's name.
tsrt_status cudaStatus(const Driver &driver, CUresult result, const char *call);

} // namespace tsrt

#endif // TESSERA_RUNTIME_DRIVER_H

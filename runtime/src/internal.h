//===- internal.h - Runtime handle layouts shared by sources ----*- C++ -*-===//
#ifndef TESSERA_RUNTIME_INTERNAL_H
#define TESSERA_RUNTIME_INTERNAL_H

#include "driver.h"

#include <string>

struct tsrt_runtime_impl {
  const tsrt::Driver *driver;
  tsrt::CUdevice device;
  tsrt::CUcontext context;
};

struct tsrt_stream_impl {
  tsrt_runtime runtime;
  tsrt::CUstream stream;
};

struct tsrt_buffer_impl {
  tsrt_runtime runtime;
  tsrt::CUdeviceptr address;
  size_t bytes;
};

struct tsrt_timer_impl {
  tsrt_runtime runtime;
  tsrt::CUevent start, stop;
};

struct tsrt_module_impl;

struct tsrt_kernel_impl {
  tsrt_module_impl *module;
  tsrt::CUfunction function;
  std::string name;
};

namespace tsrt {

/// Makes the runtime's context current on this thread; a failure becomes a
/// status.
tsrt_status makeCurrent(tsrt_runtime runtime);

/// The driver stream of `stream` (null: the default stream).
inline CUstream streamOf(tsrt_stream stream) {
  return stream ? stream->stream : nullptr;
}

} // namespace tsrt

#endif // TESSERA_RUNTIME_INTERNAL_H

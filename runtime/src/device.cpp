//===- device.cpp - Device buffers, streams and timers --------------------===//
#include "internal.h"
#include "status.h"

#include <new>

using tsrt::makeStatus;

namespace {
/// Runs `call` in the runtime's context, mapping a driver error to a status
/// named `what`.
template <typename Call>
tsrt_status inContext(tsrt_runtime runtime, const char *what, Call call) {
  if (tsrt_status s = tsrt::makeCurrent(runtime))
    return s;
  if (tsrt::CUresult rc = call(*runtime->driver))
    return tsrt::cudaStatus(*runtime->driver, rc, what);
  return nullptr;
}
} // namespace

extern "C" {

tsrt_status tsrt_stream_create(tsrt_runtime runtime, tsrt_stream *out) {
  if (!runtime || !out)
    return makeStatus(TSRT_INVALID_ARGUMENT,
                      "tsrt_stream_create: NULL argument");
  *out = nullptr;
  tsrt::CUstream stream = nullptr;
  if (tsrt_status s =
          inContext(runtime, "cuStreamCreate", [&](const tsrt::Driver &d) {
            return d.cuStreamCreate(&stream, tsrt::CU_STREAM_NON_BLOCKING);
          }))
    return s;
  *out = new (std::nothrow) tsrt_stream_impl{runtime, stream};
  if (!*out) {
    runtime->driver->cuStreamDestroy(stream);
    return makeStatus(TSRT_OUT_OF_MEMORY, "out of host memory");
  }
  return nullptr;
}

void tsrt_stream_destroy(tsrt_stream stream) {
  if (!stream)
    return;
  if (tsrt_status s = tsrt::makeCurrent(stream->runtime))
    tsrt_status_free(s);
  stream->runtime->driver->cuStreamDestroy(stream->stream);
  delete stream;
}

tsrt_status tsrt_stream_synchronize(tsrt_runtime runtime, tsrt_stream stream) {
  if (!runtime)
    return makeStatus(TSRT_INVALID_ARGUMENT,
                      "tsrt_stream_synchronize: runtime is NULL");
  return inContext(runtime, "cuStreamSynchronize", [&](const tsrt::Driver &d) {
    return d.cuStreamSynchronize(tsrt::streamOf(stream));
  });
}

tsrt_status tsrt_buffer_alloc(tsrt_runtime runtime, size_t bytes,
                              tsrt_buffer *out) {
  if (!runtime || !out || bytes == 0)
    return makeStatus(
        TSRT_INVALID_ARGUMENT,
        "tsrt_buffer_alloc: NULL argument or zero bytes requested");
  *out = nullptr;
  tsrt::CUdeviceptr address = 0;
  if (tsrt_status s =
          inContext(runtime, "cuMemAlloc", [&](const tsrt::Driver &d) {
            return d.cuMemAlloc(&address, bytes);
          }))
    return s;
  *out = new (std::nothrow) tsrt_buffer_impl{runtime, address, bytes};
  if (!*out) {
    runtime->driver->cuMemFree(address);
    return makeStatus(TSRT_OUT_OF_MEMORY, "out of host memory");
  }
  return nullptr;
}

void tsrt_buffer_free(tsrt_buffer buffer) {
  if (!buffer)
    return;
  if (tsrt_status s = tsrt::makeCurrent(buffer->runtime))
    tsrt_status_free(s);
  buffer->runtime->driver->cuMemFree(buffer->address);
  delete buffer;
}

size_t tsrt_buffer_size(tsrt_buffer buffer) {
  return buffer ? buffer->bytes : 0;
}

tsrt_status tsrt_buffer_upload(tsrt_buffer buffer, const void *host,
                               size_t bytes) {
  if (!buffer || (!host && bytes))
    return makeStatus(TSRT_INVALID_ARGUMENT,
                      "tsrt_buffer_upload: NULL argument");
  if (bytes > buffer->bytes)
    return makeStatus(
        TSRT_INVALID_ARGUMENT,
        "tsrt_buffer_upload: %zu bytes do not fit a buffer of %zu", bytes,
        buffer->bytes);
  return inContext(buffer->runtime, "cuMemcpyHtoD", [&](const tsrt::Driver &d) {
    return d.cuMemcpyHtoD(buffer->address, host, bytes);
  });
}

tsrt_status tsrt_buffer_download(tsrt_buffer buffer, void *host, size_t bytes) {
  if (!buffer || (!host && bytes))
    return makeStatus(TSRT_INVALID_ARGUMENT,
                      "tsrt_buffer_download: NULL argument");
  if (bytes > buffer->bytes)
    return makeStatus(TSRT_INVALID_ARGUMENT,
                      "tsrt_buffer_download: %zu bytes exceed a buffer of %zu",
                      bytes, buffer->bytes);
  return inContext(buffer->runtime, "cuMemcpyDtoH", [&](const tsrt::Driver &d) {
    return d.cuMemcpyDtoH(host, buffer->address, bytes);
  });
}

tsrt_status tsrt_timer_create(tsrt_runtime runtime, tsrt_timer *out) {
  if (!runtime || !out)
    return makeStatus(TSRT_INVALID_ARGUMENT,
                      "tsrt_timer_create: NULL argument");
  *out = nullptr;
  tsrt::CUevent start = nullptr, stop = nullptr;
  if (tsrt_status s =
          inContext(runtime, "cuEventCreate", [&](const tsrt::Driver &d) {
            tsrt::CUresult rc = d.cuEventCreate(&start, tsrt::CU_EVENT_DEFAULT);
            return rc ? rc : d.cuEventCreate(&stop, tsrt::CU_EVENT_DEFAULT);
          })) {
    if (start)
      runtime->driver->cuEventDestroy(start);
    return s;
  }
  *out = new (std::nothrow) tsrt_timer_impl{runtime, start, stop};
  if (!*out) {
    runtime->driver->cuEventDestroy(start);
    runtime->driver->cuEventDestroy(stop);
    return makeStatus(TSRT_OUT_OF_MEMORY, "out of host memory");
  }
  return nullptr;
}

void tsrt_timer_destroy(tsrt_timer timer) {
  if (!timer)
    return;
  timer->runtime->driver->cuEventDestroy(timer->start);
  timer->runtime->driver->cuEventDestroy(timer->stop);
  delete timer;
}

tsrt_status tsrt_timer_start(tsrt_timer timer, tsrt_stream stream) {
  if (!timer)
    return makeStatus(TSRT_INVALID_ARGUMENT, "tsrt_timer_start: timer is NULL");
  return inContext(timer->runtime, "cuEventRecord", [&](const tsrt::Driver &d) {
    return d.cuEventRecord(timer->start, tsrt::streamOf(stream));
  });
}

tsrt_status tsrt_timer_stop(tsrt_timer timer, tsrt_stream stream) {
  if (!timer)
    return makeStatus(TSRT_INVALID_ARGUMENT, "tsrt_timer_stop: timer is NULL");
  return inContext(timer->runtime, "cuEventRecord", [&](const tsrt::Driver &d) {
    return d.cuEventRecord(timer->stop, tsrt::streamOf(stream));
  });
}

tsrt_status tsrt_timer_elapsed_ms(tsrt_timer timer, float *ms) {
  if (!timer || !ms)
    return makeStatus(TSRT_INVALID_ARGUMENT,
                      "tsrt_timer_elapsed_ms: NULL argument");
  return inContext(
      timer->runtime, "cuEventElapsedTime", [&](const tsrt::Driver &d) {
        tsrt::CUresult rc = d.cuEventSynchronize(timer->stop);
        return rc ? rc : d.cuEventElapsedTime(ms, timer->start, timer->stop);
      });
}

} // extern "C"

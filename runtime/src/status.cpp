//===- status.cpp - tsrt_status: codes and owned messages -----------------===//
#include "status.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>

struct tsrt_status_impl {
  tsrt_code code;
  std::string message;
};

namespace {
/// Returned when allocating a status fails; never freed.
tsrt_status_impl outOfMemoryStatus{TSRT_OUT_OF_MEMORY, "out of host memory"};
} // namespace

tsrt_status tsrt::makeStatus(tsrt_code code, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  char buffer[1024];
  std::vsnprintf(buffer, sizeof(buffer), fmt, args);
  va_end(args);
  auto *status = new (std::nothrow) tsrt_status_impl{code, buffer};
  return status ? status : &outOfMemoryStatus;
}

extern "C" {

tsrt_code tsrt_status_code(tsrt_status status) {
  return status ? status->code : TSRT_OK;
}

const char *tsrt_status_message(tsrt_status status) {
  return status ? status->message.c_str() : "";
}

void tsrt_status_free(tsrt_status status) {
  if (status != &outOfMemoryStatus)
    delete status;
}

const char *tsrt_code_name(tsrt_code code) {
  switch (code) {
  case TSRT_OK:
    return "TSRT_OK";
  case TSRT_INVALID_ARGUMENT:
    return "TSRT_INVALID_ARGUMENT";
  case TSRT_NO_DRIVER:
    return "TSRT_NO_DRIVER";
  case TSRT_NO_DEVICE:
    return "TSRT_NO_DEVICE";
  case TSRT_CUDA_ERROR:
    return "TSRT_CUDA_ERROR";
  case TSRT_OUT_OF_MEMORY:
    return "TSRT_OUT_OF_MEMORY";
  case TSRT_INTERNAL:
    return "TSRT_INTERNAL";
  }
  return "TSRT_UNKNOWN";
}

int tsrt_api_version(void) { return TSRT_API_VERSION; }

} // extern "C"

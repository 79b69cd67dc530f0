//===- status.h - Internal helpers building tsrt_status values --*- C++ -*-===//
#ifndef TESSERA_RUNTIME_STATUS_H
#define TESSERA_RUNTIME_STATUS_H

#include "tessera-runtime/runtime.h"

namespace tsrt {

/// A new status with a printf-style message; the caller owns it.
tsrt_status makeStatus(tsrt_code code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

} // namespace tsrt

#endif // TESSERA_RUNTIME_STATUS_H

//===- StatusGuard.h - Owning wrapper for tsrt_status in tests --*- C++ -*-===//
#ifndef TESSERA_TEST_UNIT_RUNTIME_STATUSGUARD_H
#define TESSERA_TEST_UNIT_RUNTIME_STATUSGUARD_H

#include "tessera-runtime/runtime.h"

#include <string>

namespace tessera::test {

/// Owns a status so that a failing assertion does not leak it.
struct Status {
  explicit Status(tsrt_status s) : s(s) {}
  Status(const Status &) = delete;
  Status &operator=(const Status &) = delete;
  ~Status() { tsrt_status_free(s); }
  tsrt_code code() const { return tsrt_status_code(s); }
  std::string message() const { return tsrt_status_message(s); }
  tsrt_status s;
};

} // namespace tessera::test

#endif // TESSERA_TEST_UNIT_RUNTIME_STATUSGUARD_H

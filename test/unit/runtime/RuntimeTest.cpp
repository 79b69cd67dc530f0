//===- RuntimeTest.cpp - Runtime C API without a GPU ------------------------===//
//
// Each test runs in its own process (gtest_discover_tests), so a test can choose which
// "driver" the runtime loads through TSRT_CUDA_DRIVER before its first call.
//
//===----------------------------------------------------------------------===//
#include "tessera-runtime/runtime.h"

#include <cstdlib>
#include <gtest/gtest.h>
#include <string>

namespace {

/// Owns a status so a failing assertion does not leak it.
struct Status {
  explicit Status(tsrt_status s) : s(s) {}
  ~Status() { tsrt_status_free(s); }
  tsrt_code code() const { return tsrt_status_code(s); }
  std::string message() const { return tsrt_status_message(s); }
  tsrt_status s;
};

void useDriver(const char *path) { ASSERT_EQ(setenv("TSRT_CUDA_DRIVER", path, 1), 0); }

TEST(RuntimeStatus, NullIsSuccess) {
  EXPECT_EQ(tsrt_status_code(nullptr), TSRT_OK);
  EXPECT_STREQ(tsrt_status_message(nullptr), "");
  tsrt_status_free(nullptr);
  EXPECT_STREQ(tsrt_code_name(TSRT_NO_DRIVER), "TSRT_NO_DRIVER");
  EXPECT_STREQ(tsrt_code_name(TSRT_CUDA_ERROR), "TSRT_CUDA_ERROR");
  EXPECT_EQ(tsrt_api_version(), TSRT_API_VERSION);
}

TEST(RuntimeStatus, InvalidArgumentsAreStatusesNotCrashes) {
  Status s(tsrt_runtime_create(0, nullptr));
  EXPECT_EQ(s.code(), TSRT_INVALID_ARGUMENT);
  EXPECT_EQ(s.message(), "tsrt_runtime_create: out is NULL");
  Status c(tsrt_device_count(nullptr));
  EXPECT_EQ(c.code(), TSRT_INVALID_ARGUMENT);
  char name[8];
  int cc = 0;
  Status i(tsrt_device_info(nullptr, name, sizeof(name), &cc));
  EXPECT_EQ(i.code(), TSRT_INVALID_ARGUMENT);
  tsrt_runtime_destroy(nullptr);
}

TEST(RuntimeDriver, MissingDriverIsReported) {
  useDriver("/nonexistent/libcuda.so.1");
  tsrt_runtime rt = reinterpret_cast<tsrt_runtime>(0x1);
  Status s(tsrt_runtime_create(0, &rt));
  EXPECT_EQ(s.code(), TSRT_NO_DRIVER);
  EXPECT_EQ(s.message().rfind("no CUDA driver found: ", 0), 0u) << s.message();
  EXPECT_EQ(rt, nullptr);
  int n = -1;
  Status c(tsrt_device_count(&n));
  EXPECT_EQ(c.code(), TSRT_NO_DRIVER);
}

TEST(RuntimeDriver, LibraryWithoutDriverSymbolsIsReported) {
  useDriver("libc.so.6");
  int n = 0;
  Status s(tsrt_device_count(&n));
  EXPECT_EQ(s.code(), TSRT_NO_DRIVER);
  EXPECT_EQ(s.message(), "the CUDA driver lacks cuInit");
}

TEST(RuntimeDriver, CuInitFailureNamesTheCudaError) {
  useDriver(TESSERA_FAKE_DRIVER);
  ASSERT_EQ(setenv("FAKE_CUDA_MODE", "no_device", 1), 0);
  tsrt_runtime rt = nullptr;
  Status s(tsrt_runtime_create(0, &rt));
  EXPECT_EQ(s.code(), TSRT_NO_DEVICE);
  EXPECT_EQ(s.message(), "cuInit failed: CUDA_ERROR_NO_DEVICE (100)");
}

TEST(RuntimeDriver, FakeDeviceIsQueriedThroughTheDriver) {
  useDriver(TESSERA_FAKE_DRIVER);
  int n = 0;
  Status c(tsrt_device_count(&n));
  ASSERT_EQ(c.code(), TSRT_OK) << c.message();
  EXPECT_EQ(n, 1);
  tsrt_runtime rt = nullptr;
  Status bad(tsrt_runtime_create(3, &rt));
  EXPECT_EQ(bad.code(), TSRT_INVALID_ARGUMENT);
  EXPECT_EQ(bad.message(), "device ordinal 3 out of range: the driver sees 1 device(s)");
  Status ok(tsrt_runtime_create(0, &rt));
  ASSERT_EQ(ok.code(), TSRT_OK) << ok.message();
  char name[64];
  int cc = 0;
  Status info(tsrt_device_info(rt, name, sizeof(name), &cc));
  ASSERT_EQ(info.code(), TSRT_OK) << info.message();
  EXPECT_STREQ(name, "Tessera Fake GPU");
  EXPECT_EQ(cc, 90);
  tsrt_runtime_destroy(rt);
}

TEST(RuntimeDriver, RealDriverWhenPresent) {
  unsetenv("TSRT_CUDA_DRIVER");
  int n = 0;
  Status s(tsrt_device_count(&n));
  if (s.code() == TSRT_NO_DRIVER || s.code() == TSRT_NO_DEVICE)
    GTEST_SKIP() << "no GPU here: " << s.message();
  ASSERT_EQ(s.code(), TSRT_OK) << s.message();
  EXPECT_GT(n, 0);
}

} // namespace

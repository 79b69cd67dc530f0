//===- RuntimeTest.cpp - Runtime C API without a GPU ----------------------===//
//
// Each test runs in its own process (gtest_discover_tests), so a test can
// choose which "driver" the runtime loads through TSRT_CUDA_DRIVER before its
// first call.
//
//===----------------------------------------------------------------------===//
#include "tessera-runtime/runtime.h"

#include "StatusGuard.h"
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>

#include <gtest/gtest.h>
#include <string>

namespace {

using tessera::test::Status;

void useDriver(const char *path) {
  ASSERT_EQ(setenv("TSRT_CUDA_DRIVER", path, 1), 0);
}

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
  EXPECT_EQ(bad.message(),
            "device ordinal 3 out of range: the driver sees 1 device(s)");
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

namespace {

/// What the fake driver records about the last launch (see FakeDriver.cpp).
struct FakeLaunch {
  unsigned grid[3], block[3], shared;
  int numParams;
  uint64_t params[8];
  const char *kernel;
};

/// A runtime on the fake driver; the test fails if it cannot be created.
struct FakeRuntime {
  FakeRuntime() {
    useDriver(TESSERA_FAKE_DRIVER);
    Status s(tsrt_runtime_create(0, &rt));
    EXPECT_EQ(s.code(), TSRT_OK) << s.message();
  }
  ~FakeRuntime() { tsrt_runtime_destroy(rt); }
  tsrt_runtime rt = nullptr;
};

TEST(RuntimeDevice, BufferRoundTripAndBounds) {
  FakeRuntime f;
  ASSERT_TRUE(f.rt);
  tsrt_buffer buf = nullptr;
  Status a(tsrt_buffer_alloc(f.rt, 64, &buf));
  ASSERT_EQ(a.code(), TSRT_OK) << a.message();
  EXPECT_EQ(tsrt_buffer_size(buf), 64u);
  float in[16], out[16] = {0};
  for (int i = 0; i < 16; ++i)
    in[i] = 0.5f * i;
  Status up(tsrt_buffer_upload(buf, in, sizeof(in)));
  ASSERT_EQ(up.code(), TSRT_OK) << up.message();
  Status down(tsrt_buffer_download(buf, out, sizeof(out)));
  ASSERT_EQ(down.code(), TSRT_OK) << down.message();
  EXPECT_EQ(std::memcmp(in, out, sizeof(in)), 0);
  char big[65];
  Status over(tsrt_buffer_upload(buf, big, sizeof(big)));
  EXPECT_EQ(over.code(), TSRT_INVALID_ARGUMENT);
  EXPECT_EQ(over.message(),
            "tsrt_buffer_upload: 65 bytes do not fit a buffer of 64");
  Status zero(tsrt_buffer_alloc(f.rt, 0, &buf));
  EXPECT_EQ(zero.code(), TSRT_INVALID_ARGUMENT);
  tsrt_buffer_free(buf);
}

TEST(RuntimeModule, PtxErrorsCarryTheJitLog) {
  FakeRuntime f;
  ASSERT_TRUE(f.rt);
  tsrt_module m = nullptr;
  const char bad[] = "not ptx";
  Status s(tsrt_module_load_ptx(f.rt, bad, sizeof(bad) - 1, &m));
  EXPECT_EQ(s.code(), TSRT_CUDA_ERROR);
  EXPECT_EQ(
      s.message(),
      "cuModuleLoadDataEx (PTX) failed: CUDA_ERROR_INVALID_PTX (218): ptxas "
      "fatal: line 1: no .version directive");
  EXPECT_EQ(m, nullptr);
}

TEST(RuntimeModule, LaunchPacksArgumentsInOrder) {
  FakeRuntime f;
  ASSERT_TRUE(f.rt);
  const char ptx[] = ".version 8.0\n.target sm_80\n";
  tsrt_module m = nullptr;
  Status load(tsrt_module_load_ptx(f.rt, ptx, sizeof(ptx) - 1, &m));
  ASSERT_EQ(load.code(), TSRT_OK) << load.message();
  tsrt_kernel k = nullptr;
  Status missing(tsrt_module_get_kernel(m, "missing_kernel", &k));
  EXPECT_EQ(missing.code(), TSRT_CUDA_ERROR);
  EXPECT_EQ(missing.message(), "kernel 'missing_kernel': cuModuleGetFunction "
                               "failed: CUDA_ERROR_NOT_FOUND (500)");
  Status found(tsrt_module_get_kernel(m, "fake_kernel", &k));
  ASSERT_EQ(found.code(), TSRT_OK) << found.message();
  tsrt_kernel again = nullptr;
  Status cached(tsrt_module_get_kernel(m, "fake_kernel", &again));
  EXPECT_EQ(again, k);

  tsrt_buffer buf = nullptr;
  Status a(tsrt_buffer_alloc(f.rt, 16, &buf));
  ASSERT_EQ(a.code(), TSRT_OK);
  tsrt_arg args[4];
  args[0].kind = TSRT_ARG_BUFFER;
  args[0].value.buffer = buf;
  args[1].kind = TSRT_ARG_I32;
  args[1].value.i32 = -7;
  args[2].kind = TSRT_ARG_I64;
  args[2].value.i64 = int64_t{1} << 40;
  args[3].kind = TSRT_ARG_F32;
  args[3].value.f32 = 0.25f;
  tsrt_launch_config config = {{4, 2, 1}, {128, 1, 1}, 65536};
  Status launch(tsrt_launch(k, &config, args, 4, nullptr));
  ASSERT_EQ(launch.code(), TSRT_OK) << launch.message();

  void *driver = dlopen(TESSERA_FAKE_DRIVER, RTLD_NOW | RTLD_NOLOAD);
  ASSERT_NE(driver, nullptr);
  auto *seen = static_cast<FakeLaunch *>(dlsym(driver, "fake_last_launch"));
  ASSERT_NE(seen, nullptr);
  EXPECT_STREQ(seen->kernel, "fake_kernel");
  EXPECT_EQ(seen->grid[0], 4u);
  EXPECT_EQ(seen->grid[1], 2u);
  EXPECT_EQ(seen->block[0], 128u);
  EXPECT_EQ(seen->shared, 65536u);
  void *address = nullptr;
  std::memcpy(&address, &seen->params[0], 8);
  float hostCheck[4] = {1, 2, 3, 4}, viaDevice[4] = {0};
  ASSERT_EQ(tsrt_status_code(tsrt_buffer_upload(buf, hostCheck, 16)), TSRT_OK);
  std::memcpy(viaDevice, address,
              16); // the fake's device memory is host memory
  EXPECT_EQ(std::memcmp(hostCheck, viaDevice, 16), 0)
      << "argument 0 is the buffer's address";
  int32_t i32;
  std::memcpy(&i32, &seen->params[1], 4);
  EXPECT_EQ(i32, -7);
  int64_t i64;
  std::memcpy(&i64, &seen->params[2], 8);
  EXPECT_EQ(i64, int64_t{1} << 40);
  float f32;
  std::memcpy(&f32, &seen->params[3], 4);
  EXPECT_EQ(f32, 0.25f);

  tsrt_launch_config empty = {{0, 1, 1}, {1, 1, 1}, 0};
  Status bad(tsrt_launch(k, &empty, args, 4, nullptr));
  EXPECT_EQ(bad.code(), TSRT_INVALID_ARGUMENT);
  tsrt_arg nullBuffer;
  nullBuffer.kind = TSRT_ARG_BUFFER;
  nullBuffer.value.buffer = nullptr;
  Status nb(tsrt_launch(k, &config, &nullBuffer, 1, nullptr));
  EXPECT_EQ(nb.message(),
            "tsrt_launch 'fake_kernel': argument 0 is a NULL buffer");
  tsrt_buffer_free(buf);
  tsrt_module_unload(m);
}

TEST(RuntimeDevice, StreamsAndTimers) {
  FakeRuntime f;
  ASSERT_TRUE(f.rt);
  tsrt_stream stream = nullptr;
  Status s(tsrt_stream_create(f.rt, &stream));
  ASSERT_EQ(s.code(), TSRT_OK) << s.message();
  tsrt_timer timer = nullptr;
  Status t(tsrt_timer_create(f.rt, &timer));
  ASSERT_EQ(t.code(), TSRT_OK) << t.message();
  ASSERT_EQ(tsrt_status_code(tsrt_timer_start(timer, stream)), TSRT_OK);
  ASSERT_EQ(tsrt_status_code(tsrt_timer_stop(timer, stream)), TSRT_OK);
  float ms = -1;
  Status e(tsrt_timer_elapsed_ms(timer, &ms));
  ASSERT_EQ(e.code(), TSRT_OK) << e.message();
  EXPECT_EQ(ms, 1.0f); // the fake's clock ticks once per recorded event
  Status sync(tsrt_stream_synchronize(f.rt, stream));
  EXPECT_EQ(sync.code(), TSRT_OK);
  tsrt_timer_destroy(timer);
  tsrt_stream_destroy(stream);
}

} // namespace

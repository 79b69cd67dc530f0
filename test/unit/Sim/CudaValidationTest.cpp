//===- CudaValidationTest.cpp - nvcc's PTX under tessera-sim --------------===//
//
// Ground truth not written by us: CUDA C++ kernels (test/sim/cuda/*.cu) whose
// meaning NVIDIA fixes at the source level, compiled by nvcc at build time and
// run under the simulator against plain C++ references written from that
// source. Without nvcc the tests skip and say why.
//
//===----------------------------------------------------------------------===//
#include "tessera-sim/Sim.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <tuple>

using namespace tessera::sim;

namespace {

#ifdef TESSERA_VALIDATION_PTX_DIR
const char *kPtxDir = TESSERA_VALIDATION_PTX_DIR;
#else
const char *kPtxDir = nullptr;
#endif

/// Loads test/sim/cuda/<name>.cu's PTX, or skips the test.
class Validation : public ::testing::Test {
protected:
  std::unique_ptr<LoadedModule> load(const std::string &name) {
    std::string path = std::string(kPtxDir ? kPtxDir : "") + "/" + name;
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    std::string error;
    auto module = device.load(text.str(), error);
    EXPECT_TRUE(module) << path << ": " << error;
    return module;
  }

  void SetUp() override {
    if (!kPtxDir)
      GTEST_SKIP() << "nvcc was not found at configure time, so the CUDA "
                      "validation kernels were not compiled";
  }

  template <typename T> uint64_t upload(const std::vector<T> &v) {
    uint64_t a = device.memory().allocate(v.size() * sizeof(T));
    std::memcpy(device.memory().translate(a, v.size() * sizeof(T)), v.data(),
                v.size() * sizeof(T));
    return a;
  }
  template <typename T> std::vector<T> download(uint64_t a, size_t count) {
    std::vector<T> v(count);
    std::memcpy(v.data(), device.memory().translate(a, count * sizeof(T)),
                count * sizeof(T));
    return v;
  }

  void launch(const LoadedModule &m, const char *kernel, Dim3 grid, Dim3 block,
              const std::vector<const void *> &params) {
    const Function *fn = m.kernel(kernel);
    ASSERT_TRUE(fn) << kernel;
    LaunchOptions options;                  // every checker on
    options.instructionLimit = 100'000'000; // a hang fails, and fast
    LaunchStats stats;
    std::string error;
    ASSERT_TRUE(
        device.launch(m, *fn, grid, block, 0, params, options, stats, error))
        << error;
  }

  Device device{90}; // an H100-class device: sm_80 and sm_90a PTX both run
  std::mt19937 rng{std::random_device{}()};
};

TEST_F(Validation, WarpShufflesAndVotes) {
  auto m = load("warp.ptx");
  ASSERT_TRUE(m);
  for (int n : {64, 100, 257}) {
    std::uniform_int_distribution<int> dist(-500, 2000);
    std::vector<int> in(n);
    for (int &x : in)
      x = dist(rng);
    int threads = (n + 31) / 32 * 32;
    uint64_t dIn = upload(in);
    uint64_t dOut = upload(std::vector<int>(size_t(threads) * 5, 0));
    Dim3 grid{unsigned((threads + 63) / 64)}, block{64};
    launch(*m, "shuffles", grid, block, {&dIn, &dOut, &n});
    std::vector<int> out = download<int>(dOut, size_t(n) * 5);
    // The reference: what the CUDA source means, warp by warp.
    auto v = [&](int j) { return j < n ? in[j] : 0; };
    for (int i = 0; i < n; ++i) {
      int lane = i % 32, wb = i - lane;
      int r0 = v(wb + (lane * 7 + 3) % 32);
      int r1 = lane >= 3 ? v(i - 3) : v(i);
      int seg = lane & ~15;
      int r2 = lane + 5 < seg + 16 ? v(i + 5) : v(i);
      int r3 = v(wb + (lane ^ 9));
      unsigned ballot = 0;
      bool any = false, all = true;
      for (int l = 0; l < 32; ++l) {
        ballot |= unsigned(v(wb + l) & 1) << l;
        any |= v(wb + l) > 1000;
        all &= v(wb + l) >= 0;
      }
      int r4 = int(ballot) ^ (any ? 1 : 0) ^ (all ? 2 : 0);
      int expected[5] = {r0, r1, r2, r3, r4};
      for (int j = 0; j < 5; ++j)
        ASSERT_EQ(out[size_t(i) * 5 + j], expected[j])
            << "n " << n << " thread " << i << " result " << j;
    }
  }
}

TEST_F(Validation, GridAtomics) {
  auto m = load("warp.ptx");
  ASSERT_TRUE(m);
  for (int n : {1, 33, 700}) {
    int bins = 7;
    std::uniform_int_distribution<int> dist(-2000, 2000);
    std::vector<int> in(n);
    for (int &x : in)
      x = dist(rng);
    uint64_t dIn = upload(in);
    uint64_t dHist = upload(std::vector<int>(bins, 0));
    uint64_t dStats = upload(std::vector<int>{0, INT_MAX, INT_MIN, 0, 0});
    uint64_t dSum = upload(std::vector<float>{0.f});
    uint64_t dMax = upload(std::vector<float>{-1e30f});
    Dim3 grid{unsigned((n + 127) / 128)}, block{128};
    launch(*m, "atomics", grid, block,
           {&dIn, &n, &dHist, &bins, &dStats, &dSum, &dMax});
    std::vector<int> hist(bins, 0);
    int sum = 0, mn = INT_MAX, mx = INT_MIN, bits = 0;
    for (int i = 0; i < n; ++i) {
      ++hist[((in[i] % bins) + bins) % bins];
      sum += in[i];
      mn = std::min(mn, in[i]);
      mx = std::max(mx, in[i]);
      bits |= 1 << (i % 31);
    }
    EXPECT_EQ(download<int>(dHist, bins), hist) << "n " << n;
    std::vector<int> stats = download<int>(dStats, 5);
    EXPECT_EQ(stats, (std::vector<int>{sum, mn, mx, bits, n})) << "n " << n;
    // Multiples of 0.25 below 2^21 in magnitude: every order sums exactly.
    EXPECT_EQ(download<float>(dSum, 1)[0], float(sum) * 0.25f) << "n " << n;
    EXPECT_EQ(download<float>(dMax, 1)[0], float(mx) * 0.5f) << "n " << n;
  }
}

} // namespace

namespace {

TEST_F(Validation, CooperativeGroupsReduceAndScan) {
  auto m = load("groups.ptx");
  ASSERT_TRUE(m);
  for (int n : {16, 200, 513}) {
    std::uniform_int_distribution<int> dist(-1000, 1000);
    std::vector<int> in(n);
    for (int &x : in)
      x = dist(rng);
    const int threads = 128;
    int blocks = (n + threads - 1) / threads;
    uint64_t dIn = upload(in);
    uint64_t dSums = upload(std::vector<int>(blocks, 0));
    uint64_t dScan = upload(std::vector<int>(n, 0));
    launch(*m, "groups", Dim3{unsigned(blocks)}, Dim3{unsigned(threads)},
           {&dIn, &n, &dSums, &dScan});
    std::vector<int> sums(blocks, 0), scan(n);
    for (int i = 0; i < n; ++i) {
      sums[i / threads] += in[i];
      // Inclusive scan within the tile of 16 threads holding i.
      int acc = 0;
      for (int j = i - i % 16; j <= i; ++j)
        acc += in[j];
      scan[i] = acc;
    }
    EXPECT_EQ(download<int>(dSums, blocks), sums) << "n " << n;
    EXPECT_EQ(download<int>(dScan, n), scan) << "n " << n;
  }
}

TEST_F(Validation, SharedMemoryAtomicsAcrossWarps) {
  auto m = load("groups.ptx");
  ASSERT_TRUE(m);
  for (int n : {1, 300, 1000}) {
    std::uniform_int_distribution<int> dist(0, 1 << 20);
    std::vector<int> in(n);
    for (int &x : in)
      x = dist(rng);
    uint64_t dIn = upload(in);
    uint64_t dHist = upload(std::vector<int>(32, 0));
    launch(*m, "shared_hist", Dim3{unsigned((n + 255) / 256)}, Dim3{256},
           {&dIn, &n, &dHist});
    std::vector<int> hist(32, 0);
    for (int x : in)
      ++hist[x & 31];
    EXPECT_EQ(download<int>(dHist, 32), hist) << "n " << n;
  }
}

} // namespace

namespace {

TEST_F(Validation, MemcpyAsyncGroups) {
  auto m = load("copy.ptx");
  ASSERT_TRUE(m);
  for (int n : {128, 300, 1000}) {
    std::uniform_real_distribution<float> dist(-1.f, 1.f);
    std::vector<float> in(n);
    for (float &x : in)
      x = dist(rng);
    uint64_t dIn = upload(in);
    uint64_t dOut = upload(std::vector<float>(128, 0.f));
    launch(*m, "stream_tiles", Dim3{1}, Dim3{128}, {&dIn, &dOut, &n});
    std::vector<float> ref(128, 0.f);
    for (int i = 0; i < n; ++i)
      ref[i % 128] += in[i]; // the kernel's order: tile by tile
    EXPECT_EQ(download<float>(dOut, 128), ref) << "n " << n;
  }
}

TEST_F(Validation, MemcpyAsyncReadBeforeWaitIsReported) {
  auto m = load("copy.ptx");
  ASSERT_TRUE(m);
  int n = 300;
  uint64_t dIn = upload(std::vector<float>(n, 1.f));
  uint64_t dOut = upload(std::vector<float>(128, 0.f));
  const Function *fn = m->kernel("stream_tiles_no_wait");
  ASSERT_TRUE(fn);
  std::vector<const void *> params = {&dIn, &dOut, &n};
  LaunchStats stats;
  std::string error;
  EXPECT_FALSE(device.launch(*m, *fn, Dim3{1}, Dim3{128}, 0, params,
                             LaunchOptions(), stats, error));
  EXPECT_NE(error.find("which has not completed (missing "
                       "cp.async.wait_group?)"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("PTX line"), std::string::npos) << error;
}

} // namespace

namespace {

TEST_F(Validation, PipelineWithMbarriers) {
  auto m = load("pipeline.ptx");
  ASSERT_TRUE(m);
  for (int tiles : {1, 2, 7}) {
    const int blocks = 3, kTile = 256;
    std::uniform_real_distribution<float> dist(-1.f, 1.f);
    std::vector<float> in(size_t(blocks) * tiles * kTile);
    for (float &x : in)
      x = dist(rng);
    uint64_t dIn = upload(in);
    uint64_t dOut = upload(std::vector<float>(blocks * kTile, 0.f));
    launch(*m, "pipelined", Dim3{blocks}, Dim3{kTile}, {&dIn, &dOut, &tiles});
    std::vector<float> ref(blocks * kTile, 0.f);
    for (int b = 0; b < blocks; ++b)
      for (int t = 0; t < kTile; ++t) {
        float acc = 0.f;
        for (int k = 0; k < tiles; ++k)
          acc = std::fma(in[(size_t(b) * tiles + k) * kTile + t], float(k + 1),
                         acc);
        ref[b * kTile + t] = acc;
      }
    EXPECT_EQ(download<float>(dOut, blocks * kTile), ref) << "tiles " << tiles;
  }
}

} // namespace

namespace {

TEST_F(Validation, WarpSpecialisationOnNamedBarriers) {
  auto m = load("named.ptx");
  ASSERT_TRUE(m);
  for (int tiles : {1, 2, 5}) {
    std::uniform_real_distribution<float> dist(-1.f, 1.f);
    std::vector<float> in(size_t(tiles) * 128);
    for (float &x : in)
      x = dist(rng);
    uint64_t dIn = upload(in);
    uint64_t dOut = upload(std::vector<float>(96, 0.f));
    launch(*m, "producer_consumer", Dim3{1}, Dim3{160}, {&dIn, &dOut, &tiles});
    std::vector<float> ref(96, 0.f);
    for (int c = 0; c < 64; ++c)
      for (int k = 0; k < tiles; ++k) { // the kernel's order and rounding
        float a = in[k * 128 + c] * float(k + 1);
        float b = in[k * 128 + c + 64] * float(k + 1);
        ref[c] += a + b;
      }
    for (int l = 0; l < 32; ++l)
      for (int k = 0; k < tiles; ++k)
        ref[64 + l] += in[l * tiles + k];
    EXPECT_EQ(download<float>(dOut, 96), ref) << "tiles " << tiles;
  }
}

} // namespace

namespace {

/// The 16-bit pattern of `x`, which must be exactly representable: bf16 keeps
/// the top half of the f32 bits; f16 re-biases the exponent (no subnormals
/// are produced by the inputs below).
uint16_t exact16(float x, bool bf16) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  if (bf16)
    return uint16_t(bits >> 16);
  if (x == 0.f)
    return uint16_t((bits >> 16) & 0x8000);
  uint32_t sign = (bits >> 16) & 0x8000;
  int exp = int((bits >> 23) & 0xff) - 127 + 15;
  return uint16_t(sign | (uint32_t(exp) << 10) | ((bits >> 13) & 0x3ff));
}

/// nvcuda::wmma 16x16x16 GEMMs: C = 0.5 * A * B for several warps' tiles.
/// Inputs are multiples of 1/8 in [-4, 4], so every product and sum is exact
/// in f32 and the comparison is exact: any misplaced fragment element shows.
class WmmaValidation : public Validation {
protected:
  void check(const LoadedModule &m, const char *kernel, bool bf16,
             bool bColMajor) {
    for (auto [M, N, K] : {std::tuple{16, 16, 16}, std::tuple{32, 48, 64},
                           std::tuple{64, 32, 32}}) {
      std::uniform_int_distribution<int> dist(-32, 32);
      std::vector<float> a(size_t(M) * K), b(size_t(K) * N);
      std::vector<uint16_t> a16(a.size()), b16(b.size());
      for (size_t i = 0; i < a.size(); ++i)
        a16[i] = exact16(a[i] = dist(rng) / 8.f, bf16);
      // b holds B[k][n]; the device's copy is col-major (n * K + k) or
      // row-major.
      for (int k = 0; k < K; ++k)
        for (int n = 0; n < N; ++n) {
          float x = b[size_t(k) * N + n] = dist(rng) / 8.f;
          b16[bColMajor ? size_t(n) * K + k : size_t(k) * N + n] =
              exact16(x, bf16);
        }
      uint64_t dA = upload(a16), dB = upload(b16);
      uint64_t dC = upload(std::vector<float>(size_t(M) * N, -1.f));
      int warps = (M / 16) * (N / 16);
      launch(m, kernel, Dim3{unsigned((warps + 1) / 2)}, Dim3{64},
             {&dA, &dB, &dC, &M, &N, &K});
      std::vector<float> c = download<float>(dC, size_t(M) * N);
      for (int i = 0; i < M; ++i)
        for (int j = 0; j < N; ++j) {
          float acc = 0.f;
          for (int k = 0; k < K; ++k)
            acc += a[size_t(i) * K + k] * b[size_t(k) * N + j];
          ASSERT_EQ(c[size_t(i) * N + j], 0.5f * acc)
              << kernel << " " << M << "x" << N << "x" << K << " at (" << i
              << ", " << j << ")";
        }
    }
  }
};

TEST_F(WmmaValidation, F16RowTimesColMajor) {
  auto m = load("wmma.ptx");
  ASSERT_TRUE(m);
  check(*m, "wmma_f16_rowcol", false, true);
}

TEST_F(WmmaValidation, Bf16RowTimesRowMajor) {
  auto m = load("wmma.ptx");
  ASSERT_TRUE(m);
  check(*m, "wmma_bf16_rowrow", true, false);
}

} // namespace

namespace {

#ifdef TESSERA_VALIDATION_CUTLASS
constexpr bool kHaveCutlass = true;
#else
constexpr bool kHaveCutlass = false;
#endif

/// CuTe warpgroup GEMMs (test/sim/cuda/gmma.cu): C = A * B^T, 64 x 64 x 64,
/// exact inputs as for wmma, in each canonical shared-memory layout CuTe
/// builds and describes to wgmma.
class GmmaValidation : public Validation {
protected:
  void SetUp() override {
    Validation::SetUp();
    if (!kHaveCutlass)
      GTEST_SKIP() << "the CUTLASS headers (PyPI nvidia-cutlass, fetched by "
                      "scripts/install-deps.sh into .cache/) were not found "
                      "at configure time, so gmma.cu was not compiled";
  }

  void check(const char *kernel, bool bf16) {
    auto m = load("gmma.ptx");
    ASSERT_TRUE(m);
    std::uniform_int_distribution<int> dist(-32, 32);
    std::vector<float> a(64 * 64), b(64 * 64);
    std::vector<uint16_t> a16(a.size()), b16(b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      a16[i] = exact16(a[i] = dist(rng) / 8.f, bf16);
      b16[i] = exact16(b[i] = dist(rng) / 8.f, bf16);
    }
    uint64_t dA = upload(a16), dB = upload(b16);
    uint64_t dC = upload(std::vector<float>(64 * 64, -1.f));
    launch(*m, kernel, Dim3{1}, Dim3{128}, {&dA, &dB, &dC});
    std::vector<float> c = download<float>(dC, 64 * 64);
    for (int i = 0; i < 64; ++i)
      for (int j = 0; j < 64; ++j) {
        float acc = 0.f;
        for (int k = 0; k < 64; ++k)
          acc += a[i * 64 + k] * b[j * 64 + k];
        ASSERT_EQ(c[i * 64 + j], acc)
            << kernel << " at (" << i << ", " << j << ")";
      }
  }
};

TEST_F(GmmaValidation, KMajorNoSwizzle) { check("gmma_k_inter", true); }
TEST_F(GmmaValidation, KMajorSwizzle32) { check("gmma_k_sw32", true); }
TEST_F(GmmaValidation, KMajorSwizzle64) { check("gmma_k_sw64", true); }
TEST_F(GmmaValidation, KMajorSwizzle128) { check("gmma_k_sw128", true); }
TEST_F(GmmaValidation, MNMajorNoSwizzle) { check("gmma_mn_inter", true); }
TEST_F(GmmaValidation, MNMajorSwizzle32) { check("gmma_mn_sw32", true); }
TEST_F(GmmaValidation, MNMajorSwizzle64) { check("gmma_mn_sw64", true); }
TEST_F(GmmaValidation, MNMajorSwizzle128) { check("gmma_mn_sw128", true); }
TEST_F(GmmaValidation, F16KMajorTimesMNMajor) {
  check("gmma_f16_mixed", false);
}
TEST_F(GmmaValidation, AFromRegisters) { check("gmma_rs", true); }

/// A 2-D bf16 tensor map over `rows` x `cols` elements with a row pitch of
/// `pitch` bytes, as cuTensorMapEncodeTiled makes it (CUDA's enum values:
/// data type 9 = bf16; swizzle 0 none .. 3 = 128 bytes).
struct alignas(64) MapImage {
  uint8_t bytes[128] = {};
};
MapImage map2d(uint64_t base, uint64_t rows, uint64_t cols, uint64_t pitch,
               uint32_t boxRows, uint32_t boxCols, unsigned swizzle) {
  TensorMap m;
  uint64_t dims[2] = {cols, rows}, strides[1] = {pitch};
  uint32_t box[2] = {boxCols, boxRows}, unit[2] = {1, 1};
  std::string error;
  EXPECT_TRUE(encodeTensorMapTiled(m, 9, 2, base, dims, strides, box, unit, 0,
                                   swizzle, 0, error))
      << error;
  MapImage image;
  std::memcpy(image.bytes, &m, sizeof m);
  return image;
}

float bf16Value(uint16_t bits) {
  uint32_t b = uint32_t(bits) << 16;
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

/// TMA loads (test/sim/cuda/tma.cu) through CuTe's SM90_TMA_LOAD_2D and
/// CUTLASS transaction barriers, alone and feeding warpgroup GEMMs.
class TmaValidation : public GmmaValidation {};

TEST_F(TmaValidation, BoxesWithZeroFillAndPitch) {
  auto m = load("tma.ptx");
  ASSERT_TRUE(m);
  // (rows, cols, pitch in elements, box rows, box cols)
  for (auto [R, C, P, BR, BC] :
       {std::tuple{100, 72, 72, 32, 40}, std::tuple{17, 40, 64, 16, 64},
        std::tuple{64, 64, 80, 64, 8}}) {
    std::uniform_int_distribution<int> dist(-64, 64);
    std::vector<uint16_t> a(size_t(R) * P);
    for (uint16_t &x : a)
      x = exact16(dist(rng) / 16.f, true);
    uint64_t dA = upload(a);
    unsigned gx = (C + BC - 1) / BC, gy = (R + BR - 1) / BR;
    uint64_t dOut =
        upload(std::vector<uint16_t>(size_t(gx) * gy * BR * BC, 0xffff));
    MapImage map = map2d(dA, R, C, uint64_t(P) * 2, BR, BC, 0);
    launch(*m, "tma_boxes", Dim3{gx, gy}, Dim3{128},
           {map.bytes, &dOut, &BR, &BC});
    std::vector<uint16_t> out =
        download<uint16_t>(dOut, size_t(gx) * gy * BR * BC);
    for (unsigned by = 0; by < gy; ++by)
      for (unsigned bx = 0; bx < gx; ++bx)
        for (int i = 0; i < BR; ++i)
          for (int j = 0; j < BC; ++j) {
            int r = int(by) * BR + i, c = int(bx) * BC + j;
            float expected =
                r < R && c < C ? 2.f * bf16Value(a[size_t(r) * P + c]) : 0.f;
            size_t at = ((size_t(by) * gx + bx) * BR + i) * BC + j;
            ASSERT_EQ(bf16Value(out[at]), expected)
                << R << "x" << C << " box " << BR << "x" << BC << " CTA (" << bx
                << "," << by << ") element (" << i << "," << j << ")";
          }
  }
}

TEST_F(TmaValidation, SwizzledLoadsFeedWarpgroupMma) {
  auto m = load("tma.ptx");
  ASSERT_TRUE(m);
  for (auto [M, N, K] : {std::tuple{64, 64, 64}, std::tuple{100, 72, 136},
                         std::tuple{8, 130, 200}}) {
    std::uniform_int_distribution<int> dist(-32, 32);
    std::vector<float> a(size_t(M) * K), b(size_t(N) * K);
    std::vector<uint16_t> a16(a.size()), b16(b.size());
    for (size_t i = 0; i < a.size(); ++i)
      a16[i] = exact16(a[i] = dist(rng) / 8.f, true);
    for (size_t i = 0; i < b.size(); ++i)
      b16[i] = exact16(b[i] = dist(rng) / 8.f, true);
    uint64_t dA = upload(a16), dB = upload(b16);
    uint64_t dC = upload(std::vector<float>(size_t(M) * N, -1.f));
    MapImage mapA = map2d(dA, M, K, uint64_t(K) * 2, 64, 64, 3);
    MapImage mapB = map2d(dB, N, K, uint64_t(K) * 2, 64, 64, 3);
    launch(*m, "tma_gmma",
           Dim3{unsigned((N + 63) / 64), unsigned((M + 63) / 64)}, Dim3{128},
           {mapA.bytes, mapB.bytes, &dC, &M, &N, &K});
    std::vector<float> c = download<float>(dC, size_t(M) * N);
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) {
        float acc = 0.f;
        for (int k = 0; k < K; ++k)
          acc += a[size_t(i) * K + k] * b[size_t(j) * K + k];
        ASSERT_EQ(c[size_t(i) * N + j], acc)
            << M << "x" << N << "x" << K << " at (" << i << ", " << j << ")";
      }
  }
}

TEST_F(TmaValidation, ReadBeforeTheBarrierWaitIsReported) {
  auto m = load("tma.ptx");
  ASSERT_TRUE(m);
  uint64_t dA = upload(std::vector<uint16_t>(64 * 64, 0x3f80));
  uint64_t dOut = upload(std::vector<uint16_t>(128, 0));
  MapImage map = map2d(dA, 64, 64, 128, 16, 16, 0);
  const Function *fn = m->kernel("tma_no_wait");
  ASSERT_TRUE(fn);
  LaunchStats stats;
  std::string error;
  EXPECT_FALSE(device.launch(*m, *fn, Dim3{1}, Dim3{128}, 0, {map.bytes, &dOut},
                             LaunchOptions(), stats, error));
  EXPECT_NE(error.find("the destination of the cp.async.bulk.tensor of PTX "
                       "line "),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("whose mbarrier phase has not completed"),
            std::string::npos)
      << error;
}

TEST_F(TmaValidation, StoresWriteTheBoxInsideTheTensor) {
  auto m = load("tma.ptx");
  ASSERT_TRUE(m);
  // (rows, cols, pitch in elements, box rows, box cols); the output tensor
  // has the input's shape and pitch.
  for (auto [R, C, P, BR, BC] :
       {std::tuple{100, 72, 72, 32, 40}, std::tuple{17, 40, 64, 16, 64}}) {
    std::uniform_int_distribution<int> dist(-64, 64);
    std::vector<uint16_t> in(size_t(R) * P);
    for (uint16_t &x : in)
      x = exact16(dist(rng) / 16.f, true);
    uint64_t dIn = upload(in);
    uint64_t dOut = upload(std::vector<uint16_t>(size_t(R) * P, 0x7fc1));
    MapImage map = map2d(dOut, R, C, uint64_t(P) * 2, BR, BC, 0);
    unsigned gx = (C + BC - 1) / BC, gy = (R + BR - 1) / BR;
    launch(*m, "tma_store", Dim3{gx, gy}, Dim3{128},
           {map.bytes, &dIn, &R, &C, &P, &BR, &BC});
    std::vector<uint16_t> out = download<uint16_t>(dOut, size_t(R) * P);
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < P; ++c) {
        size_t at = size_t(r) * P + c;
        if (c >= C) { // the pitch's padding: never written
          ASSERT_EQ(out[at], 0x7fc1) << "row " << r << " column " << c;
          continue;
        }
        // 3 v - 1 with v a multiple of 1/16 in [-4, 4]: exact in bf16.
        ASSERT_EQ(bf16Value(out[at]), 3.f * bf16Value(in[at]) - 1.f)
            << R << "x" << C << " at (" << r << ", " << c << ")";
      }
  }
}

TEST_F(TmaValidation, StoreWithoutProxyFenceIsReported) {
  auto m = load("tma.ptx");
  ASSERT_TRUE(m);
  int R = 32, C = 32, P = 32, BR = 32, BC = 32;
  uint64_t dIn = upload(std::vector<uint16_t>(R * P, 0x3f80));
  uint64_t dOut = upload(std::vector<uint16_t>(R * P, 0));
  MapImage map = map2d(dOut, R, C, uint64_t(P) * 2, BR, BC, 0);
  const Function *fn = m->kernel("tma_store_no_fence");
  ASSERT_TRUE(fn);
  LaunchStats stats;
  std::string error;
  EXPECT_FALSE(device.launch(*m, *fn, Dim3{1}, Dim3{128}, 0,
                             {map.bytes, &dIn, &R, &C, &P, &BR, &BC},
                             LaunchOptions(), stats, error));
  EXPECT_NE(error.find("TMA store reads shared offset"), std::string::npos)
      << error;
  EXPECT_NE(error.find("through the generic proxy with no fence.proxy.async"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("PTX line"), std::string::npos) << error;
}

TEST(TensorMapEncoding, RulesOfTheDriverApiAreChecked) {
  TensorMap m;
  std::string error;
  uint64_t dims[2] = {64, 64}, pitch[1] = {128}, oddPitch[1] = {136};
  uint32_t box[2] = {64, 64}, unit[2] = {1, 1}, bigBox[2] = {64, 300};
  EXPECT_TRUE(encodeTensorMapTiled(m, 9, 2, 0x1000, dims, pitch, box, unit, 0,
                                   3, 0, error));
  EXPECT_FALSE(encodeTensorMapTiled(m, 9, 2, 0x1008, dims, pitch, box, unit, 0,
                                    0, 0, error));
  EXPECT_NE(error.find("is not 16-byte aligned"), std::string::npos) << error;
  EXPECT_FALSE(encodeTensorMapTiled(m, 9, 2, 0x1000, dims, oddPitch, box, unit,
                                    0, 0, 0, error));
  EXPECT_NE(error.find("is not a multiple of 16"), std::string::npos) << error;
  EXPECT_FALSE(encodeTensorMapTiled(m, 9, 2, 0x1000, dims, pitch, bigBox, unit,
                                    0, 0, 0, error));
  EXPECT_NE(error.find("box size 300 of dimension 1 outside 1..256"),
            std::string::npos)
      << error;
  // 64 bf16 = 128 bytes: too wide for the 64-byte swizzle.
  EXPECT_FALSE(encodeTensorMapTiled(m, 9, 2, 0x1000, dims, pitch, box, unit, 0,
                                    2, 0, error));
  EXPECT_NE(error.find("exceeds the swizzle span of 64 bytes"),
            std::string::npos)
      << error;
}

} // namespace

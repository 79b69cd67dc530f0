//===- BitAllocationTest.cpp - Block-GTQ calibration energies -------------===//
//
// tessera::ropeBlockEnergies (what tessera-run --calibrate computes) against a
// direct sum over ALGORITHMS.md 4b's definition, and its shape diagnostics.
// The allocation itself is tested against the compiled op in
// Numerics/BitAllocateNumericsTest.cpp.
//
//===----------------------------------------------------------------------===//
#include "tessera/Support/BitAllocation.h"

#include <gtest/gtest.h>
#include <random>

using namespace tessera;

namespace {

// Fresh Gaussian Q/K with a GQA group of 3: each energy within 1e-6 relative
// (f32 output) of the definition summed in double.
TEST(RopeBlockEnergies, MatchDefinition) {
  const int64_t b = 2, hq = 6, hkv = 2, s = 5, d = 8, half = d / 2;
  std::mt19937_64 rng(11);
  std::normal_distribution<float> normal;
  std::vector<float> q(b * hq * s * d), k(b * hkv * s * d);
  for (float &x : q)
    x = normal(rng);
  for (float &x : k)
    x = 2.0f * normal(rng);
  std::vector<float> e;
  std::string error;
  ASSERT_TRUE(ropeBlockEnergies(q.data(), {b, hq, s, d}, k.data(),
                                {b, hkv, s, d}, e, error))
      << error;
  ASSERT_EQ(e.size(), static_cast<size_t>(hkv * half));
  for (int64_t h = 0; h < hkv; ++h)
    for (int64_t i = 0; i < half; ++i) {
      double qs = 0, ks = 0;
      int64_t nq = 0, nk = 0;
      for (int64_t bi = 0; bi < b; ++bi)
        for (int64_t t = 0; t < s; ++t) {
          for (int64_t g = h * (hq / hkv); g < (h + 1) * (hq / hkv); ++g) {
            const float *row = &q[((bi * hq + g) * s + t) * d];
            qs +=
                double(row[i]) * row[i] + double(row[i + half]) * row[i + half];
            ++nq;
          }
          const float *row = &k[((bi * hkv + h) * s + t) * d];
          ks += double(row[i]) * row[i] + double(row[i + half]) * row[i + half];
          ++nk;
        }
      double want = 0.5 * (qs / nq + ks / nk);
      EXPECT_NEAR(e[h * half + i], want, 1e-6 * want) << h << "," << i;
    }
}

TEST(RopeBlockEnergies, ShapeErrors) {
  std::vector<float> x(64), e;
  std::string error;
  EXPECT_FALSE(ropeBlockEnergies(x.data(), {1, 3, 2, 8}, x.data(), {1, 2, 2, 8},
                                 e, error));
  EXPECT_EQ(error,
            "the key head count (2) must divide the query head count (3)");
  EXPECT_FALSE(ropeBlockEnergies(x.data(), {1, 2, 2, 7}, x.data(), {1, 2, 2, 7},
                                 e, error));
  EXPECT_EQ(error, "the head dim (7) must be even (RoPE blocks pair dims i and "
                   "i + D/2)");
  EXPECT_FALSE(ropeBlockEnergies(x.data(), {1, 2, 2, 8}, x.data(), {1, 2, 3, 8},
                                 e, error));
  EXPECT_EQ(error, "q and k differ in length (S): q [1, 2, 2, 8], k [1, 2, 3, "
                   "8]");
  EXPECT_FALSE(
      ropeBlockEnergies(x.data(), {2, 2, 8}, x.data(), {1, 2, 2, 8}, e, error));
  EXPECT_EQ(error, "q and k must be [B, H, S, D] (rank 4); got q [2, 2, 8] "
                   "and k [1, 2, 2, 8]");
}

} // namespace

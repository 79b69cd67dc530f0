//===- BitAllocateNumericsTest.cpp - Compiled tessera.bit_allocate --------===//
//
// The compiled op must give ALGORITHMS.md 4b's test vectors exactly, and on
// fresh random energies (heavy-tailed, with zeros and ties) the same bits as
// an independent reference written here and as the host allocator
// (tessera/Support/BitAllocation.h) that the calibration tool uses.
//
//===----------------------------------------------------------------------===//
#include "Harness.h"

#include "tessera/Support/BitAllocation.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

using namespace tessera;
using namespace tessera::test;

namespace {

/// ALGORITHMS.md 4b, written from the text: gains in double with std::pow,
/// the argmax by std::max_element (the first largest), the budget in total
/// bits.
std::vector<int32_t> referenceBits(const std::vector<float> &s, double avg,
                                   int lo, int hi) {
  size_t n = s.size();
  std::vector<int32_t> b(n, lo);
  const int64_t budget = static_cast<int64_t>(std::floor(n * avg));
  while (std::accumulate(b.begin(), b.end(), int64_t{0}) < budget) {
    std::vector<double> gain(n);
    for (size_t i = 0; i < n; ++i)
      gain[i] = b[i] >= hi ? -1.0 : s[i] * std::pow(4.0, -b[i]);
    auto best = std::max_element(gain.begin(), gain.end());
    if (*best <= 0)
      break;
    ++b[static_cast<size_t>(best - gain.begin())];
  }
  return b;
}

std::string attrs(double avg, int lo, int hi) {
  std::string a = std::to_string(avg);
  return "{avg_bits = " + a + " : f64, min_bits = " + std::to_string(lo) +
         ", max_bits = " + std::to_string(hi) + "}";
}

/// Compiles `bits = bit_allocate(energies)` over `shape` ("4", "?x3x64") and
/// runs it on `s` of `runShape`.
std::vector<int32_t> compiledBits(const std::string &shape,
                                  const std::vector<int64_t> &runShape,
                                  const std::vector<float> &s, double avg,
                                  int lo, int hi) {
  std::string in = "tensor<" + shape + "xf32>",
              out = "tensor<" + shape + "xi32>";
  auto m = compileOrFail("func.func @alloc(%s: " + in + ") -> " + out +
                         " {\n  %b = tessera.bit_allocate %s " +
                         attrs(avg, lo, hi) + " : " + in + " -> " + out +
                         "\n  return %b : " + out + "\n}\n");
  if (!m)
    return {};
  std::vector<HostTensor> inputs;
  inputs.emplace_back(DType::F32, runShape);
  std::memcpy(inputs[0].data(), s.data(), s.size() * sizeof(float));
  std::vector<HostTensor> outputs = run(*m, inputs);
  if (outputs.size() != 1)
    return {};
  EXPECT_EQ(outputs[0].dtype(), DType::I32);
  EXPECT_EQ(outputs[0].shape(), runShape);
  const auto *p = static_cast<const int32_t *>(outputs[0].data());
  return std::vector<int32_t>(p, p + outputs[0].numElements());
}

// The test vectors of ALGORITHMS.md 4b. The budget counts every bit, the
// min_bits start included: s = [16, 4, 1, 1] at 2 bits on average is 8 bits
// in all, [4, 2, 1, 1].
TEST(BitAllocate, TestVectors) {
  std::vector<float> s1{16, 4, 1, 1};
  std::vector<int32_t> want1{4, 2, 1, 1};
  EXPECT_EQ(compiledBits("4", {4}, s1, 2.0, 1, 8), want1);
  EXPECT_EQ(allocateBits(s1.data(), s1.size(), 2.0, 1, 8), want1);

  std::vector<float> s2{100, 1, 1, 1, 0, 0, 0, 0};
  std::vector<int32_t> want2{8, 4, 4, 4, 1, 1, 1, 1};
  EXPECT_EQ(compiledBits("8", {8}, s2, 3.0, 1, 8), want2);
  EXPECT_EQ(allocateBits(s2.data(), s2.size(), 3.0, 1, 8), want2);

  // Equal energies get equal bits (the defaults: avg 3, min 1, max 8).
  std::vector<float> s3(64, 0.37f);
  std::vector<int32_t> want3(64, 3);
  EXPECT_EQ(compiledBits("64", {64}, s3, 3.0, 1, 8), want3);
  EXPECT_EQ(allocateBits(s3.data(), s3.size(), 3.0, 1, 8), want3);
}

// The op's defaults are avg 3, min 1, max 8.
TEST(BitAllocate, Defaults) {
  auto m = compileOrFail(
      "func.func @alloc(%s: tensor<8xf32>) -> tensor<8xi32> {\n"
      "  %b = tessera.bit_allocate %s : tensor<8xf32> -> tensor<8xi32>\n"
      "  return %b : tensor<8xi32>\n}\n");
  ASSERT_TRUE(m);
  std::vector<float> s{100, 1, 1, 1, 0, 0, 0, 0};
  std::vector<HostTensor> in;
  in.emplace_back(DType::F32, std::vector<int64_t>{8});
  std::memcpy(in[0].data(), s.data(), sizeof(float) * 8);
  std::vector<HostTensor> out = run(*m, in);
  ASSERT_EQ(out.size(), 1u);
  const auto *p = static_cast<const int32_t *>(out[0].data());
  EXPECT_EQ(std::vector<int32_t>(p, p + 8),
            (std::vector<int32_t>{8, 4, 4, 4, 1, 1, 1, 1}));
}

struct ACase {
  std::string shape;        // the MLIR shape
  std::vector<int64_t> run; // the shape run
  double avg;
  int lo, hi;
};

class BitAllocateRandom : public ::testing::TestWithParam<ACase> {};

// Fresh heavy-tailed energies (log-normal, spanning ~8 decades as RoPE blocks
// do), with exact zeros and ties mixed in, row by row against the reference.
TEST_P(BitAllocateRandom, MatchesReference) {
  const ACase c = GetParam();
  int64_t n = 1;
  for (int64_t d : c.run)
    n *= d;
  int64_t len = c.run.back();
  std::mt19937_64 rng(static_cast<uint64_t>(n * 31 + c.lo * 7 + c.hi) +
                      static_cast<uint64_t>(c.avg * 100));
  std::normal_distribution<double> normal;
  std::uniform_int_distribution<int> pick(0, 9);
  std::vector<float> s(static_cast<size_t>(n));
  for (float &x : s) {
    int kind = pick(rng);
    x = kind == 0 ? 0.0f : static_cast<float>(std::exp(3.0 * normal(rng)));
    if (kind == 1)
      x = 2.0f; // ties across blocks
  }
  std::vector<int32_t> got = compiledBits(c.shape, c.run, s, c.avg, c.lo, c.hi);
  ASSERT_EQ(got.size(), s.size());
  int64_t budget = static_cast<int64_t>(std::floor(len * c.avg));
  for (int64_t r = 0; r < n / len; ++r) {
    std::vector<float> row(s.begin() + r * len, s.begin() + (r + 1) * len);
    std::vector<int32_t> want = referenceBits(row, c.avg, c.lo, c.hi);
    std::vector<int32_t> gotRow(got.begin() + r * len,
                                got.begin() + (r + 1) * len);
    EXPECT_EQ(gotRow, want) << "row " << r;
    EXPECT_EQ(allocateBits(row.data(), row.size(), c.avg, c.lo, c.hi), want)
        << "row " << r;
    // Fewer positive energies than the budget needs leaves bits unspent;
    // otherwise every bit of the budget is given.
    int64_t positive =
        std::count_if(row.begin(), row.end(), [](float x) { return x > 0; });
    if (positive * (c.hi - c.lo) >= budget - len * c.lo) {
      EXPECT_EQ(std::accumulate(gotRow.begin(), gotRow.end(), int64_t{0}),
                budget)
          << "row " << r;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, BitAllocateRandom,
    ::testing::Values(ACase{"64", {64}, 3.0, 1, 8},
                      ACase{"4x2x64", {4, 2, 64}, 2.0, 1, 8},
                      ACase{"3x32", {3, 32}, 2.5, 2, 4},
                      ACase{"?x3x64", {5, 3, 64}, 3.0, 1, 8},
                      ACase{"?x3x64", {1, 3, 64}, 4.25, 1, 6},
                      ACase{"?x?x16", {2, 7, 16}, 1.0, 1, 8},
                      ACase{"6x8", {6, 8}, 8.0, 1, 8}),
    [](const ::testing::TestParamInfo<ACase> &info) {
      std::string name = info.param.shape;
      std::replace(name.begin(), name.end(), '?', 'D');
      return "s" + name + "_" + std::to_string(info.index);
    });

} // namespace

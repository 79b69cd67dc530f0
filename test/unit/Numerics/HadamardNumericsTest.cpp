//===- HadamardNumericsTest.cpp - Compiled FWHT vs the Sylvester matrix ---===//
#include "Harness.h"
#include "Reference.h"

#include <cmath>

using namespace tessera;
using namespace tessera::test;

namespace {

struct HCase {
  int64_t rows, d;
  std::optional<uint64_t> seed;
  bool inverse;
  DType dtype;
};

class Hadamard : public ::testing::TestWithParam<HCase> {};

TEST_P(Hadamard, MatchesExplicitMatrix) {
  const HCase c = GetParam();
  std::string t = "tensor<" + std::to_string(c.rows) + "x" +
                  std::to_string(c.d) + "x" +
                  (c.dtype == DType::BF16 ? "bf16" : "f32") + ">";
  std::string attrs;
  if (c.seed)
    attrs = "seed = " + std::to_string(*c.seed);
  if (c.inverse)
    attrs += std::string(attrs.empty() ? "" : ", ") + "inverse";
  auto m = compileOrFail("func.func @h(%x: " + t + ") -> " + t +
                         " {\n  %y = tessera.hadamard %x" +
                         (attrs.empty() ? "" : " {" + attrs + "}") + " : " + t +
                         "\n  return %y : " + t + "\n}\n");
  ASSERT_TRUE(m);
  std::mt19937_64 rng(c.d * 7 + c.inverse);
  auto x = randomValues(c.rows * c.d, c.dtype, rng);
  std::vector<HostTensor> in;
  in.push_back(makeTensor(c.dtype, {c.rows, c.d}, x));
  std::vector<double> y = valuesOf(run(*m, in)[0]);
  std::vector<double> ref = reference::hadamard(x, c.d, c.seed, c.inverse);
  double tol = c.dtype == DType::F32 ? 1e-5 : 1e-2, scale = 0, worst = 0;
  for (double r : ref)
    scale = std::max(scale, std::fabs(r));
  for (size_t i = 0; i < y.size(); ++i)
    worst = std::max(worst, std::fabs(y[i] - ref[i]) / scale);
  EXPECT_LE(worst, tol);
}

INSTANTIATE_TEST_SUITE_P(
    Sizes, Hadamard,
    ::testing::Values(HCase{3, 8, std::nullopt, false, DType::F32},
                      HCase{5, 64, 42, false, DType::F32},
                      HCase{5, 64, 42, true, DType::F32},
                      HCase{2, 128, 7, false, DType::BF16},
                      HCase{1, 1024, 123, false, DType::F32},
                      HCase{4, 16, 0, true, DType::F32}),
    [](const ::testing::TestParamInfo<HCase> &info) {
      return "d" + std::to_string(info.param.d) +
             (info.param.seed ? "_seeded" : "_plain") +
             (info.param.inverse ? "_inverse" : "_forward") +
             (info.param.dtype == DType::BF16 ? "_bf16" : "_f32");
    });

// The seeded transform and its inverse compose to the identity.
TEST(HadamardRoundTrip, InverseUndoesForward) {
  auto m = compileOrFail(
      "func.func @rt(%x: tensor<6x256xf32>) -> tensor<6x256xf32> {\n"
      "  %y = tessera.hadamard %x {seed = 99} : tensor<6x256xf32>\n"
      "  %z = tessera.hadamard %y {seed = 99, inverse} : tensor<6x256xf32>\n"
      "  return %z : tensor<6x256xf32>\n}\n");
  ASSERT_TRUE(m);
  std::mt19937_64 rng(5);
  auto x = randomValues(6 * 256, DType::F32, rng);
  std::vector<HostTensor> in;
  in.push_back(makeTensor(DType::F32, {6, 256}, x));
  std::vector<double> z = valuesOf(run(*m, in)[0]);
  for (size_t i = 0; i < x.size(); ++i)
    ASSERT_NEAR(z[i], x[i], 1e-5) << i;
}

} // namespace

//===- RaggedAttentionTest.cpp - Varlen (cu_seqlens) attention -----------===//
//
// Sequences of different lengths packed along the length dim of [1, H, total,
// D] tensors, delimited by i32 prefix sums: each sequence against the naive
// reference on its own rows, causal aligned per sequence, packed rows past the
// last sequence O = 0 / LSE = -inf, split key ranges, bf16; bad prefix sums
// rejected in checked mode and clamped (in bounds) otherwise.
//
//===----------------------------------------------------------------------===//
#include "Harness.h"
#include "Reference.h"

#include <cmath>
#include <cstring>

using namespace tessera;
using namespace tessera::test;

namespace {

std::string raggedModule(const char *elt, const std::string &attrs) {
  std::string q = std::string("tensor<1x8x?x64x") + elt + ">";
  std::string kv = std::string("tensor<1x2x?x64x") + elt + ">";
  std::string l = "tensor<1x8x?xf32>", c = "tensor<?xi32>";
  return "func.func @f(%q: " + q + ", %k: " + kv + ", %v: " + kv +
         ", %cq: " + c + ", %ck: " + c + ") -> (" + q + ", " + l +
         ") {\n  %o, %l = tessera.attention %q, %k, %v varlen(%cq, %ck : " + c +
         ", " + c + ") {" + attrs + "} : " + q + ", " + kv + ", " + kv +
         " -> " + q + ", " + l + "\n  return %o, %l : " + q + ", " + l +
         "\n}\n";
}

HostTensor i32Tensor(const std::vector<int32_t> &v) {
  HostTensor t(DType::I32, {static_cast<int64_t>(v.size())});
  std::memcpy(t.data(), v.data(), v.size() * 4);
  return t;
}

/// Packs sequences of (query, key) lengths; `padQ`/`padK` extra rows past
/// the last sequence.
void runRagged(DType dtype, const std::string &attrs, bool causal,
               std::optional<int64_t> window,
               const std::vector<std::pair<int64_t, int64_t>> &lens,
               int64_t padQ, int64_t padK) {
  auto m =
      compileOrFail(raggedModule(dtype == DType::F32 ? "f32" : "bf16", attrs));
  ASSERT_TRUE(m);
  std::vector<int32_t> cq{0}, ck{0};
  for (auto [sq, sk] : lens) {
    cq.push_back(cq.back() + static_cast<int32_t>(sq));
    ck.push_back(ck.back() + static_cast<int32_t>(sk));
  }
  int64_t tq = cq.back() + padQ, tk = ck.back() + padK;
  std::mt19937_64 rng(tq * 131 + tk);
  auto qv = randomValues(8 * tq * 64, dtype, rng);
  auto kv = randomValues(2 * tk * 64, dtype, rng);
  auto vv = randomValues(2 * tk * 64, dtype, rng);
  std::vector<HostTensor> in;
  in.push_back(makeTensor(dtype, {1, 8, tq, 64}, qv));
  in.push_back(makeTensor(dtype, {1, 2, tk, 64}, kv));
  in.push_back(makeTensor(dtype, {1, 2, tk, 64}, vv));
  in.push_back(i32Tensor(cq));
  in.push_back(i32Tensor(ck));
  std::vector<HostTensor> out = run(*m, in);
  ASSERT_EQ(out.size(), 2u);
  std::vector<double> o = valuesOf(out[0]), l = valuesOf(out[1]);
  double tol = dtype == DType::F32 ? 1e-5 : 1e-2;
  // Reference per sequence on its own rows (a head-major slice of the pack).
  for (size_t s = 0; s < lens.size(); ++s) {
    auto [sq, sk] = lens[s];
    auto slice = [&](const std::vector<double> &x, int64_t heads, int64_t total,
                     int64_t start, int64_t n) {
      std::vector<double> y;
      for (int64_t h = 0; h < heads; ++h)
        y.insert(y.end(), x.begin() + (h * total + start) * 64,
                 x.begin() + (h * total + start + n) * 64);
      return y;
    };
    reference::Attention ref;
    ref.Hq = 8, ref.Hkv = 2, ref.Sq = sq, ref.Skv = sk, ref.D = ref.Dv = 64;
    ref.causal = causal;
    ref.window = window;
    std::vector<double> oRef, lRef;
    if (sq == 0)
      continue;
    if (sk == 0) {
      oRef.assign(8 * sq * 64, 0.0);
      lRef.assign(8 * sq, -INFINITY);
    } else {
      reference::attention(ref, slice(qv, 8, tq, cq[s], sq),
                           slice(kv, 2, tk, ck[s], sk),
                           slice(vv, 2, tk, ck[s], sk), oRef, lRef);
    }
    double scale = 1e-30, worst = 0;
    for (double x : oRef)
      scale = std::max(scale, std::fabs(x));
    for (int64_t h = 0; h < 8; ++h)
      for (int64_t i = 0; i < sq; ++i) {
        int64_t row = h * tq + cq[s] + i, rr = h * sq + i;
        for (int64_t d = 0; d < 64; ++d)
          worst = std::max(
              worst, std::fabs(o[row * 64 + d] - oRef[rr * 64 + d]) / scale);
        if (std::isinf(lRef[rr]))
          EXPECT_TRUE(std::isinf(l[row]) && l[row] < 0)
              << "sequence " << s << " row " << i;
        else
          EXPECT_LE(std::fabs(l[row] - lRef[rr]),
                    tol * (1 + std::fabs(lRef[rr])))
              << "sequence " << s << " row " << i;
      }
    EXPECT_LE(worst, tol) << "sequence " << s;
  }
  // Packed rows no sequence owns.
  for (int64_t h = 0; h < 8; ++h)
    for (int64_t i = cq.back(); i < tq; ++i) {
      EXPECT_TRUE(std::isinf(l[h * tq + i]) && l[h * tq + i] < 0);
      for (int64_t d = 0; d < 64; ++d)
        EXPECT_EQ(o[(h * tq + i) * 64 + d], 0.0);
    }
}

const std::vector<std::pair<int64_t, int64_t>> kLens = {
    {1, 100}, {70, 70}, {0, 5}, {130, 200}, {3, 0}, {65, 40}};

TEST(RaggedAttention, CausalGqaF32) {
  runRagged(DType::F32, "causal", true, std::nullopt, kLens, 7, 3);
}
TEST(RaggedAttention, CausalWindowCheckedF32) {
  runRagged(DType::F32, "causal, window = 30, checked", true, 30, kLens, 0, 0);
}
TEST(RaggedAttention, DenseSplitKeyRanges) {
  runRagged(DType::F32, "tile = #tessera.tile<query = 16, kv_splits = 3>",
            false, std::nullopt, kLens, 5, 0);
}
TEST(RaggedAttention, CausalBF16) {
  runRagged(DType::BF16, "causal", true, std::nullopt, kLens, 2, 2);
}

TEST(RaggedAttention, BadPrefixSums) {
  auto checked = compileOrFail(raggedModule("f32", "causal, checked"));
  auto fast = compileOrFail(raggedModule("f32", "causal"));
  ASSERT_TRUE(checked && fast);
  struct Bad {
    std::vector<int32_t> cq, ck;
    const char *message;
  };
  for (const Bad &bad :
       {Bad{{1, 10, 20}, {0, 10, 20}, "cu_seqlens_q does not start at 0"},
        Bad{{0, 12, 8},
            {0, 10, 20},
            "cu_seqlens_q decreases (got an entry, expected at least the one "
            "before it) (got 8, expected 12)"},
        Bad{{0, 10, 20},
            {0, 10, 21},
            "cu_seqlens_k ends past the packed rows (got its last entry, "
            "expected at most the total) (got 21, expected 20)"},
        Bad{{0, 10, 20},
            {0, 10},
            "cu_seqlens_k has a different size from "
            "cu_seqlens_q (got 2, expected 3)"}}) {
    for (bool isChecked : {true, false}) {
      std::mt19937_64 rng(1);
      std::vector<HostTensor> in;
      in.push_back(makeTensor(DType::F32, {1, 8, 20, 64},
                              randomValues(8 * 20 * 64, DType::F32, rng)));
      for (int kv = 0; kv < 2; ++kv)
        in.push_back(makeTensor(DType::F32, {1, 2, 20, 64},
                                randomValues(2 * 20 * 64, DType::F32, rng)));
      in.push_back(i32Tensor(bad.cq));
      in.push_back(i32Tensor(bad.ck));
      std::string error;
      std::vector<HostTensor> out =
          run(isChecked ? *checked : *fast, in, &error);
      bool sizeRule = bad.ck.size() != bad.cq.size();
      if (isChecked || sizeRule) {
        EXPECT_NE(error.find(bad.message), std::string::npos)
            << "expected '" << bad.message << "', got: " << error;
      } else {
        EXPECT_EQ(error, "") << "fast mode clamps";
        for (double x : valuesOf(out[0]))
          EXPECT_FALSE(std::isnan(x));
      }
    }
  }
}

} // namespace

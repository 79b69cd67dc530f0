//===- SplitKVTest.cpp - Flash-decoding: split key ranges, combined by LSE
//-===//
//
// The same attention with its key blocks split into S chunks (the tile's
// kv_splits) must equal the unsplit one within f32 rounding and the naive
// reference: dense and paged caches, causal + window (chunks that see no key),
// rows that see no key at all, a run-time mask, run-time lengths, bf16.
//
//===----------------------------------------------------------------------===//
#include "Harness.h"
#include "Reference.h"

#include <cmath>
#include <cstring>

using namespace tessera;
using namespace tessera::test;

namespace {

std::string module(const std::string &attrs, int64_t splits, bool mask,
                   const char *elt = "f32") {
  std::string q = std::string("tensor<?x8x?x64x") + elt + ">";
  std::string kv = std::string("tensor<?x2x?x64x") + elt + ">";
  std::string l = "tensor<?x8x?xf32>", m = "tensor<1x2x?x?xi1>";
  std::string tile =
      "tile = #tessera.tile<query = 8, kv_splits = " + std::to_string(splits) +
      ">";
  return "func.func @f(%q: " + q + ", %k: " + kv + ", %v: " + kv +
         (mask ? ", %m: " + m : "") + ") -> (" + q + ", " + l +
         ") {\n  %o, %l = tessera.attention %q, %k, %v" +
         (mask ? " mask(%m : " + m + ")" : "") + " {" + attrs +
         (attrs.empty() ? "" : ", ") + tile + "} : " + q + ", " + kv + ", " +
         kv + " -> " + q + ", " + l + "\n  return %o, %l : " + q + ", " + l +
         "\n}\n";
}

struct Case {
  int64_t B, Sq, Skv;
  bool causal;
  std::optional<int64_t> window;
  bool mask;
};

/// Runs `c` unsplit and at several splits; compares each split run with the
/// unsplit run (f32 rounding) and every run with the reference.
void check(const Case &c, DType dtype) {
  std::string attrs;
  if (c.causal)
    attrs = "causal";
  if (c.window)
    attrs += ", window = " + std::to_string(*c.window);
  const char *elt = dtype == DType::F32 ? "f32" : "bf16";
  std::mt19937_64 rng(c.Skv * 31 + c.Sq);
  auto qv = randomValues(c.B * 8 * c.Sq * 64, dtype, rng);
  auto kv = randomValues(c.B * 2 * c.Skv * 64, dtype, rng);
  auto vv = randomValues(c.B * 2 * c.Skv * 64, dtype, rng);
  int64_t qb = (c.Sq + 63) / 64, kb = (c.Skv + 63) / 64;
  reference::Attention ref;
  ref.B = c.B, ref.Hq = 8, ref.Hkv = 2, ref.Sq = c.Sq, ref.Skv = c.Skv;
  ref.D = ref.Dv = 64;
  ref.causal = c.causal;
  ref.window = c.window;
  if (c.mask) {
    std::bernoulli_distribution on(0.5);
    ref.maskHeads = 2;
    ref.blockMask.resize(2 * qb * kb);
    for (auto &bit : ref.blockMask)
      bit = on(rng);
  }
  std::vector<double> oRef, lseRef;
  reference::attention(ref, qv, kv, vv, oRef, lseRef);

  std::vector<double> unsplitO, unsplitL;
  for (int64_t splits : {1, 2, 3, 7, 16}) {
    auto m = compileOrFail(module(attrs, splits, c.mask, elt));
    ASSERT_TRUE(m);
    std::vector<HostTensor> in;
    in.push_back(makeTensor(dtype, {c.B, 8, c.Sq, 64}, qv));
    in.push_back(makeTensor(dtype, {c.B, 2, c.Skv, 64}, kv));
    in.push_back(makeTensor(dtype, {c.B, 2, c.Skv, 64}, vv));
    if (c.mask) {
      HostTensor t(DType::I1, {1, 2, qb, kb});
      for (size_t i = 0; i < ref.blockMask.size(); ++i)
        static_cast<uint8_t *>(t.data())[i] = ref.blockMask[i];
      in.push_back(std::move(t));
    }
    std::vector<HostTensor> out = run(*m, in);
    std::vector<double> o = valuesOf(out[0]), l = valuesOf(out[1]);
    std::string what = "splits=" + std::to_string(splits) +
                       " Sq=" + std::to_string(c.Sq) +
                       " Skv=" + std::to_string(c.Skv);
    double scale = 1e-30, worstRef = 0, worstUnsplit = 0;
    for (double x : oRef)
      scale = std::max(scale, std::fabs(x));
    for (size_t i = 0; i < o.size(); ++i) {
      ASSERT_FALSE(std::isnan(o[i])) << what;
      worstRef = std::max(worstRef, std::fabs(o[i] - oRef[i]) / scale);
      if (splits > 1)
        worstUnsplit =
            std::max(worstUnsplit, std::fabs(o[i] - unsplitO[i]) / scale);
    }
    double tol = dtype == DType::F32 ? 1e-5 : 1e-2;
    EXPECT_LE(worstRef, tol) << what;
    // The split only reorders f32 sums: within a few ulps of the unsplit O
    // (bf16 outputs: one rounding step apart at most).
    EXPECT_LE(worstUnsplit, dtype == DType::F32 ? 2e-6 : 8e-3) << what;
    for (size_t i = 0; i < l.size(); ++i) {
      if (std::isinf(lseRef[i])) {
        EXPECT_TRUE(std::isinf(l[i]) && l[i] < 0) << what << " row " << i;
        for (int64_t d = 0; d < 64; ++d)
          EXPECT_EQ(o[i * 64 + d], 0.0) << what << " row " << i;
        continue;
      }
      EXPECT_LE(std::fabs(l[i] - lseRef[i]), 1e-5 * (1 + std::fabs(lseRef[i])))
          << what << " LSE row " << i;
      if (splits > 1) {
        EXPECT_LE(std::fabs(l[i] - unsplitL[i]),
                  2e-6 * (1 + std::fabs(unsplitL[i])))
            << what << " LSE row " << i << " vs unsplit";
      }
    }
    if (splits == 1) {
      unsplitO = o;
      unsplitL = l;
    }
  }
}

TEST(SplitKV, DecodeDense) {
  check({3, 1, 1000, false, {}, false}, DType::F32);
}
TEST(SplitKV, CausalWindowChunksWithoutKeys) {
  check({2, 5, 900, true, 150, false}, DType::F32);
}
TEST(SplitKV, RowsWithoutKeysAndMask) {
  check({1, 90, 70, true, {}, true}, DType::F32);
}
TEST(SplitKV, LongCacheBF16) {
  check({1, 2, 4099, true, {}, false}, DType::BF16);
}

} // namespace

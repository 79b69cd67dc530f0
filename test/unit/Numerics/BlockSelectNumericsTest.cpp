//===- BlockSelectNumericsTest.cpp - Compiled tessera.block_select --------===//
//
// The compiled op against an independent reference of ALGORITHMS.md 2 written
// here (double precision, explicit sorts): every pool, top_k, top-p, dual
// top-p, forced diagonal and sinks, GQA, projections, shapes that are not
// multiples of the block sizes and run-time lengths. Then block_select feeding
// attention: everything kept equals dense attention, and the routed mask
// gives the reference attention over the reference's mask (f32, 1e-5
// relative to the output's scale).
//
//===----------------------------------------------------------------------===//
#include "Harness.h"
#include "Reference.h"
#include "RoutingReference.h"

#include "tessera/Support/BlockTopology.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

using namespace tessera;
using namespace tessera::test;
using namespace tessera::test::routing;

namespace {

std::string tensorT(const std::vector<int64_t> &s, const std::string &elt) {
  return "tensor<" + dims(s) + "x" + elt + ">";
}

std::string attrsOf(const Sel &c) {
  std::string a = "{block_q = " + std::to_string(c.blockQ) +
                  ", block_k = " + std::to_string(c.blockK) +
                  ", pool = #tessera<pool " + c.pool + ">";
  if (c.topK)
    a += ", top_k = " + std::to_string(*c.topK);
  if (c.topP)
    a += ", top_p = " + std::to_string(*c.topP) + " : f32";
  if (c.layerP)
    a += ", layer_top_p = " + std::to_string(*c.layerP) + " : f32";
  if (c.sinks)
    a += ", sink_blocks = " + std::to_string(c.sinks);
  if (c.scale)
    a += ", scale = " + std::to_string(*c.scale) + " : f32";
  if (c.causal)
    a += ", causal";
  return a + "}";
}

/// `@sel(q, k[, wq, wk]) -> (mask, counts)`; with `dynamic`, Q and K are
/// `?` along the lengths and the results are cast to the run's static shapes.
std::string selectModule(const Sel &c) {
  int64_t QB = cdiv(c.Sq, c.blockQ), KB = cdiv(c.Skv, c.blockK);
  int64_t cw = c.pool == "max_min_avg" ? 3 : 1;
  auto len = [&](int64_t n) { return c.dynamic ? int64_t(-1) : n; };
  auto ty = [&](std::vector<int64_t> s, const std::string &e) {
    std::string out = "tensor<";
    for (int64_t d : s)
      out += (d < 0 ? std::string("?") : std::to_string(d)) + "x";
    return out + e + ">";
  };
  std::string elt = c.dtype == DType::BF16  ? "bf16"
                    : c.dtype == DType::F16 ? "f16"
                                            : "f32";
  std::string q = ty({c.B, c.Hq, len(c.Sq), c.D}, elt),
              k = ty({c.B, c.Hkv, len(c.Skv), c.D}, elt);
  std::string m = ty({c.B, c.Hkv, len(QB), c.dynamic ? -1 : cdiv(KB, 32)},
                     "i32"),
              n = ty({c.B, c.Hkv, len(QB)}, "i32");
  std::string ms = tensorT({c.B, c.Hkv, QB, cdiv(KB, 32)}, "i32"),
              ns = tensorT({c.B, c.Hkv, QB}, "i32");
  std::string wq = tensorT({c.Hkv, c.D, c.P}, "f32"),
              wk = tensorT({c.Hkv, cw * c.D, c.P}, "f32");
  std::string s = "func.func @sel(%q: " + q + ", %k: " + k;
  if (c.P)
    s += ", %wq: " + wq + ", %wk: " + wk;
  s +=
      ") -> (" + ms + ", " + ns + ") {\n  %m, %n = tessera.block_select %q, %k";
  if (c.P)
    s += " proj(%wq, %wk : " + wq + ", " + wk + ")";
  s += " " + attrsOf(c) + " : " + q + ", " + k + " -> " + m + ", " + n + "\n";
  if (c.dynamic) {
    s += "  %mc = tensor.cast %m : " + m + " to " + ms + "\n";
    s += "  %nc = tensor.cast %n : " + n + " to " + ns + "\n";
    s += "  return %mc, %nc : " + ms + ", " + ns + "\n}\n";
  } else {
    s += "  return %m, %n : " + ms + ", " + ns + "\n}\n";
  }
  return s;
}

struct Inputs {
  std::vector<double> q, k, wq, wk;
};

Inputs randomInputs(const Sel &c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Inputs in;
  in.q = randomValues(c.B * c.Hq * c.Sq * c.D, c.dtype, rng);
  in.k = randomValues(c.B * c.Hkv * c.Skv * c.D, c.dtype, rng);
  // Spread the scores: scale K so block logits differ by O(1) (a power of
  // two: exact in every dtype).
  for (double &x : in.k)
    x *= 4.0;
  if (c.dupBlocks)
    for (int64_t r = 0; r < c.B * c.Hkv; ++r)
      for (int64_t t = c.blockK; t < c.Skv; ++t)
        for (int64_t d = 0; d < c.D; ++d)
          in.k[(r * c.Skv + t) * c.D + d] =
              in.k[(r * c.Skv + t % c.blockK) * c.D + d];
  if (c.P) {
    int64_t cw = c.pool == "max_min_avg" ? 3 : 1;
    in.wq = randomValues(c.Hkv * c.D * c.P, DType::F32, rng);
    in.wk = randomValues(c.Hkv * cw * c.D * c.P, DType::F32, rng);
  }
  return in;
}

/// Runs the compiled op; returns the unpacked flags and the counts.
bool runSelect(const Sel &c, const Inputs &in, std::vector<uint8_t> &keep,
               std::vector<int32_t> &counts) {
  auto m = compileOrFail(selectModule(c));
  if (!m)
    return false;
  int64_t cw = c.pool == "max_min_avg" ? 3 : 1;
  std::vector<HostTensor> inputs;
  inputs.push_back(makeTensor(c.dtype, {c.B, c.Hq, c.Sq, c.D}, in.q));
  inputs.push_back(makeTensor(c.dtype, {c.B, c.Hkv, c.Skv, c.D}, in.k));
  if (c.P) {
    inputs.push_back(makeTensor(DType::F32, {c.Hkv, c.D, c.P}, in.wq));
    inputs.push_back(makeTensor(DType::F32, {c.Hkv, cw * c.D, c.P}, in.wk));
  }
  std::vector<HostTensor> out = run(*m, inputs);
  if (out.size() != 2)
    return false;
  int64_t QB = cdiv(c.Sq, c.blockQ), KB = cdiv(c.Skv, c.blockK),
          KBw = cdiv(KB, 32);
  const auto *words = static_cast<const int32_t *>(out[0].data());
  keep.assign(c.B * c.Hkv * QB * KB, 0);
  for (int64_t r = 0; r < c.B * c.Hkv * QB; ++r) {
    for (int64_t kb = 0; kb < KB; ++kb)
      keep[r * KB + kb] =
          (static_cast<uint32_t>(words[r * KBw + kb / 32]) >> (kb % 32)) & 1;
    // Bits past the last block stay 0.
    for (int64_t kb = KB; kb < KBw * 32; ++kb)
      EXPECT_EQ((static_cast<uint32_t>(words[r * KBw + kb / 32]) >> (kb % 32)) &
                    1,
                0u)
          << "padding bit " << kb << " of row " << r;
  }
  const auto *n = static_cast<const int32_t *>(out[1].data());
  counts.assign(n, n + c.B * c.Hkv * QB);
  return true;
}

class BlockSelectRandom : public ::testing::TestWithParam<Sel> {};

// The compiled mask and counts equal the reference's on fresh inputs.
TEST_P(BlockSelectRandom, MatchesReference) {
  const Sel c = GetParam();
  Inputs in = randomInputs(c, std::hash<std::string>{}(c.name));
  Selection want = referenceSelect(c, in.q, in.k, in.wq, in.wk);
  std::vector<uint8_t> got;
  std::vector<int32_t> counts;
  ASSERT_TRUE(runSelect(c, in, got, counts));
  int64_t QB = cdiv(c.Sq, c.blockQ), KB = cdiv(c.Skv, c.blockK);
  for (int64_t r = 0; r < c.B * c.Hkv * QB; ++r) {
    std::vector<uint8_t> g(got.begin() + r * KB, got.begin() + (r + 1) * KB),
        w(want.keep.begin() + r * KB, want.keep.begin() + (r + 1) * KB);
    EXPECT_EQ(g, w) << "row (b, h, qb) = " << r;
    EXPECT_EQ(counts[r], std::accumulate(w.begin(), w.end(), 0)) << "row " << r;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Modes, BlockSelectRandom,
    ::testing::Values(
        Sel{"topk_avg", 1, 4, 2, 64, 64, 8, 16, 16, "avg", 2},
        Sel{"topk_max_causal_gqa", 2, 8, 2, 70, 90, 16, 16, 8, "max", 3,
            std::nullopt, std::nullopt, 0, true},
        Sel{"topk_min_sinks", 1, 3, 1, 50, 77, 8, 16, 16, "min", 1,
            std::nullopt, std::nullopt, 2, true},
        Sel{"topp_avg", 1, 4, 2, 48, 100, 8, 16, 8, "avg", std::nullopt, 0.7},
        Sel{"topp_causal_sinks", 2, 6, 3, 33, 61, 8, 8, 8, "avg", std::nullopt,
            0.5, std::nullopt, 1, true},
        Sel{"topp_sq_gt_skv", 1, 2, 1, 40, 24, 8, 8, 8, "max", std::nullopt,
            0.6, std::nullopt, 0, true},
        Sel{"topp_one", 1, 2, 2, 32, 40, 8, 16, 8, "avg", std::nullopt, 1.0},
        Sel{"dual_cap", 2, 4, 2, 64, 128, 8, 16, 8, "avg", std::nullopt, 0.9,
            0.5, 0, true},
        Sel{"dual_cap_sinks", 1, 8, 4, 45, 300, 8, 16, 16, "max", std::nullopt,
            0.8, 0.6, 1, false},
        Sel{"dual_loose", 1, 2, 1, 20, 50, 8, 8, 8, "avg", std::nullopt, 0.5,
            0.95},
        Sel{"proj_max_min_avg", 1, 4, 2, 40, 72, 8, 16, 8, "max_min_avg", 2,
            std::nullopt, std::nullopt, 0, true, 6},
        Sel{"proj_avg_topp", 1, 4, 1, 32, 64, 8, 8, 8, "avg", std::nullopt,
            0.75, std::nullopt, 0, false, 4, 0.3},
        Sel{"many_words", 1, 2, 1, 16, 700, 4, 16, 8, "avg", 5},
        Sel{"dynamic_topk", 2, 4, 2, 37, 83, 8, 16, 8, "max", 3, std::nullopt,
            std::nullopt, 1, true, 0, std::nullopt, true},
        Sel{"dynamic_dual", 1, 4, 2, 50, 130, 8, 16, 16, "avg", std::nullopt,
            0.8, 0.5, 0, true, 0, std::nullopt, true},
        Sel{"ties_topk", 1, 2, 1, 16, 128, 8, 16, 16, "avg", 3, std::nullopt,
            std::nullopt, 0, false, 0, std::nullopt, false, true},
        Sel{"ties_topp", 1, 2, 1, 16, 128, 8, 16, 16, "max", std::nullopt, 0.3,
            std::nullopt, 0, false, 0, std::nullopt, false, true},
        Sel{"bf16_topp_causal",
            1,
            8,
            2,
            60,
            200,
            16,
            16,
            16,
            "avg",
            std::nullopt,
            0.7,
            std::nullopt,
            1,
            true,
            0,
            std::nullopt,
            false,
            false,
            DType::BF16},
        Sel{"f16_dual_dynamic",
            2,
            4,
            2,
            40,
            150,
            8,
            8,
            16,
            "max",
            std::nullopt,
            0.9,
            0.6,
            0,
            true,
            0,
            std::nullopt,
            true,
            false,
            DType::F16}),
    [](const ::testing::TestParamInfo<Sel> &info) { return info.param.name; });

// Top-p keeps the smallest mass-covering set: per query block, the kept
// non-forced blocks reach p, and dropping the least of them falls below p;
// none of the blocks left out scores above a kept one.
TEST(BlockSelect, TopPKeepsSmallestCoveringSet) {
  Sel c{"cover", 1, 4, 2, 64, 256, 8, 16, 16, "avg", std::nullopt, 0.8};
  Inputs in = randomInputs(c, 99);
  Selection ref = referenceSelect(c, in.q, in.k, in.wq, in.wk);
  std::vector<uint8_t> got;
  std::vector<int32_t> counts;
  ASSERT_TRUE(runSelect(c, in, got, counts));
  int64_t QB = cdiv(c.Sq, c.blockQ), KB = cdiv(c.Skv, c.blockK);
  for (int64_t r = 0; r < c.Hkv * QB; ++r) {
    int64_t qb = r % QB;
    int64_t diag =
        (std::min((qb + 1) * c.blockQ, c.Sq) - 1 + c.Skv - c.Sq) / c.blockK;
    // The kept set is the top-p set plus the forced diagonal, which may or
    // may not belong to it.
    double mass = 0, least = 1, maxOut = 0;
    for (int64_t kb = 0; kb < KB; ++kb) {
      double s = ref.score[r * KB + kb];
      if (!got[r * KB + kb])
        maxOut = std::max(maxOut, s);
      else if (kb != diag) {
        mass += s;
        least = std::min(least, s);
      }
    }
    double d = ref.score[r * KB + diag];
    if (mass < *c.topP) { // the diagonal is part of the set
      EXPECT_GE(mass + d, *c.topP - 1e-6) << "row " << r;
      EXPECT_LT(mass + d - std::min(least, d), *c.topP) << "row " << r;
      least = std::min(least, d);
    } else {
      EXPECT_LT(mass - least, *c.topP) << "row " << r;
    }
    EXPECT_LE(maxOut, least + 1e-12) << "row " << r;
  }
}

// The dual cap keeps at most layer_top_p of the layer's mass (plus the one
// block that crosses it, and the forced blocks) and never adds a block.
TEST(BlockSelect, DualCapBoundsTheLayer) {
  Sel loose{"loose", 1, 8, 4, 64, 256, 8, 16, 16, "avg", std::nullopt, 0.9};
  Sel capped = loose;
  capped.layerP = 0.4;
  Inputs in = randomInputs(loose, 5);
  std::vector<uint8_t> a, b;
  std::vector<int32_t> na, nb;
  ASSERT_TRUE(runSelect(loose, in, a, na));
  ASSERT_TRUE(runSelect(capped, in, b, nb));
  Selection ref = referenceSelect(loose, in.q, in.k, in.wq, in.wk);
  double total = 0, kept = 0, top = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_LE(b[i], a[i]) << "block " << i;
    total += ref.score[i];
  }
  int64_t QB = cdiv(loose.Sq, loose.blockQ), KB = cdiv(loose.Skv, loose.blockK);
  for (int64_t r = 0; r < loose.Hkv * QB; ++r) {
    int64_t diag = std::min((r % QB + 1) * 16, loose.Sq) - 1 + 192;
    for (int64_t kb = 0; kb < KB; ++kb)
      if (b[r * KB + kb] && kb != diag / 16) {
        kept += ref.score[r * KB + kb];
        top = std::max(top, ref.score[r * KB + kb]);
      }
  }
  EXPECT_LT(kept, 0.4 * total + top);
  EXPECT_LT(std::accumulate(nb.begin(), nb.end(), 0),
            std::accumulate(na.begin(), na.end(), 0));
}

// Run-time sizes the verifier could not compare are checked before any work:
// the call fails with the op's location and both numbers.
TEST(BlockSelect, RuntimeBatchMismatchFails) {
  Sel c{"mismatch", 2, 4, 2, 37, 83, 8, 16, 8, "max", 3};
  c.dynamic = true;
  // The batch is `?` too: compile with it dynamic.
  std::string mlir = selectModule(c);
  for (std::string from : {"tensor<2x4x?x8", "tensor<2x2x?x8"}) {
    std::string to = "tensor<?" + from.substr(8);
    for (size_t at = mlir.find(from); at != std::string::npos;
         at = mlir.find(from, at + to.size()))
      mlir.replace(at, from.size(), to);
  }
  auto m = compileOrFail(mlir);
  ASSERT_TRUE(m);
  Inputs in = randomInputs(c, 3);
  std::vector<HostTensor> inputs;
  inputs.push_back(makeTensor(DType::F32, {2, 4, 37, 8}, in.q));
  in.k.resize(1 * 2 * 83 * 8);
  inputs.push_back(makeTensor(DType::F32, {1, 2, 83, 8}, in.k));
  std::string error;
  run(*m, inputs, &error);
  EXPECT_NE(error.find("'tessera.block_select' key batch differs from the "
                       "query batch (got 1, expected 2)"),
            std::string::npos)
      << error;
}

/// `@route(q, k, v) -> o`: block_select's mask straight into attention (same
/// block sizes), Sq/Skv `?` when `dynamic`.
std::string routedModule(const Sel &c, int64_t Dv, bool dynamic) {
  int64_t QB = cdiv(c.Sq, c.blockQ), KB = cdiv(c.Skv, c.blockK);
  auto L = [&](int64_t n) {
    return dynamic ? std::string("?") : std::to_string(n);
  };
  std::string sq = L(c.Sq), skv = L(c.Skv);
  std::string b = std::to_string(c.B), hq = std::to_string(c.Hq),
              hkv = std::to_string(c.Hkv);
  std::string q = "tensor<" + b + "x" + hq + "x" + sq + "x" +
                  std::to_string(c.D) + "xf32>",
              k = "tensor<" + b + "x" + hkv + "x" + skv + "x" +
                  std::to_string(c.D) + "xf32>",
              v = "tensor<" + b + "x" + hkv + "x" + skv + "x" +
                  std::to_string(Dv) + "xf32>",
              o = "tensor<" + b + "x" + hq + "x" + sq + "x" +
                  std::to_string(Dv) + "xf32>",
              l = "tensor<" + b + "x" + hq + "x" + sq + "xf32>";
  std::string m = "tensor<" + b + "x" + hkv + "x" + L(QB) + "x" +
                  (dynamic ? "?" : std::to_string(cdiv(KB, 32))) + "xi32>",
              n = "tensor<" + b + "x" + hkv + "x" + L(QB) + "xi32>";
  std::string blocks = "block_q = " + std::to_string(c.blockQ) +
                       ", block_k = " + std::to_string(c.blockK);
  return "func.func @route(%q: " + q + ", %k: " + k + ", %v: " + v + ") -> " +
         o + " {\n  %m, %n = tessera.block_select %q, %k " + attrsOf(c) +
         " : " + q + ", " + k + " -> " + m + ", " + n +
         "\n  %o, %lse = tessera.attention %q, %k, %v mask(%m : " + m + ") {" +
         blocks + (c.causal ? ", causal" : "") + "} : " + q + ", " + k + ", " +
         v + " -> " + o + ", " + l + "\n  return %o : " + o + "\n}\n";
}

double maxRelError(const std::vector<double> &got,
                   const std::vector<double> &want) {
  double scale = 0, err = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    scale = std::max(scale, std::abs(want[i]));
    err = std::max(err, std::abs(got[i] - want[i]));
  }
  return err / std::max(scale, 1e-30);
}

struct Routed {
  Sel sel;
  int64_t Dv;
  bool dynamic;
  bool keepAll; ///< compare with dense attention (no mask) instead
};

class BlockSelectAttention : public ::testing::TestWithParam<Routed> {};

// Attention over block_select's mask equals the reference attention over the
// reference's mask; with every block kept (top_k = KB), dense attention. (With
// static lengths --tessera-sparsify drops such a mask; the run-time-length
// case reads it.)
TEST_P(BlockSelectAttention, MatchesReference) {
  const Routed r = GetParam();
  const Sel &c = r.sel;
  Inputs in = randomInputs(c, std::hash<std::string>{}(c.name) + 1);
  std::mt19937_64 rng(17);
  std::vector<double> v =
      randomValues(c.B * c.Hkv * c.Skv * r.Dv, DType::F32, rng);
  auto m = compileOrFail(routedModule(c, r.Dv, r.dynamic));
  ASSERT_TRUE(m);
  std::vector<HostTensor> inputs;
  inputs.push_back(makeTensor(DType::F32, {c.B, c.Hq, c.Sq, c.D}, in.q));
  inputs.push_back(makeTensor(DType::F32, {c.B, c.Hkv, c.Skv, c.D}, in.k));
  inputs.push_back(makeTensor(DType::F32, {c.B, c.Hkv, c.Skv, r.Dv}, v));
  std::vector<HostTensor> out = run(*m, inputs);
  ASSERT_EQ(out.size(), 1u);

  reference::Attention a;
  a.B = c.B;
  a.Hq = c.Hq;
  a.Hkv = c.Hkv;
  a.Sq = c.Sq;
  a.Skv = c.Skv;
  a.D = c.D;
  a.Dv = r.Dv;
  a.causal = c.causal;
  a.blockQ = c.blockQ;
  a.blockK = c.blockK;
  if (!r.keepAll) {
    ASSERT_EQ(c.B, 1) << "the reference mask has no batch dim";
    Selection s = referenceSelect(c, in.q, in.k, in.wq, in.wk);
    a.blockMask = s.keep;
    a.maskHeads = c.Hkv;
    int64_t kept = std::accumulate(s.keep.begin(), s.keep.end(), int64_t{0});
    EXPECT_LT(kept, static_cast<int64_t>(s.keep.size())) << "nothing pruned";
  }
  std::vector<double> o, lse;
  reference::attention(a, in.q, in.k, v, o, lse);
  EXPECT_LT(maxRelError(valuesOf(out[0]), o), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(
    Routing, BlockSelectAttention,
    ::testing::Values(
        Routed{Sel{"all_kept", 2, 4, 2, 50, 70, 16, 16, 16, "avg", 5}, 16,
               false, true},
        Routed{Sel{"all_kept_causal", 1, 8, 2, 40, 96, 8, 8, 16, "max", 6,
                   std::nullopt, std::nullopt, 0, true},
               8, false, true},
        Routed{Sel{"all_kept_dynamic", 2, 4, 1, 33, 65, 8, 16, 16, "avg", 5,
                   std::nullopt, std::nullopt, 0, true},
               8, true, true},
        Routed{Sel{"routed_topp", 1, 4, 2, 64, 128, 16, 16, 16, "avg",
                   std::nullopt, 0.6, std::nullopt, 1, true},
               16, false, false},
        Routed{Sel{"routed_topk_dynamic", 1, 6, 3, 45, 150, 8, 16, 16, "max", 2,
                   std::nullopt, std::nullopt, 0, false},
               8, true, false},
        Routed{Sel{"routed_dual_dynamic", 1, 4, 2, 70, 200, 8, 16, 16, "avg",
                   std::nullopt, 0.9, 0.5, 1, true},
               8, true, false}),
    [](const ::testing::TestParamInfo<Routed> &info) {
      return info.param.sel.name;
    });

} // namespace

namespace {

// The static topology's top-p (tessera/Support/BlockTopology.h): per query
// block the smallest covering prefix in descending mass (lower index first on
// ties), the diagonal forced; causal blocks above the diagonal never kept.
TEST(BlockTopology, TopPMaskKeepsCoveringPrefixAndDiagonal) {
  TopologyOptions o;
  o.blockQ = o.blockK = 16;
  o.causal = true;
  // Sq = Skv = 48: 3 x 3 blocks; row qb sees key blocks 0..qb.
  std::vector<double> mass{1.0, 0,   0,    //
                           0.7, 0.3, 0,    //
                           0.2, 0.4, 0.4}; // a tie: block 1 before 2
  std::vector<uint8_t> m = topPBlockMask(mass, 48, 48, 0.5, o);
  EXPECT_EQ(m, (std::vector<uint8_t>{1, 0, 0, 1, 1, 0, 0, 1, 1}));
  // p = 0.3: row 2 keeps block 1 alone by mass, plus its diagonal 2.
  m = topPBlockMask(mass, 48, 48, 0.3, o);
  EXPECT_EQ(m, (std::vector<uint8_t>{1, 0, 0, 1, 1, 0, 0, 1, 1}));
  // p = 1 keeps every visible block, never one above the diagonal.
  m = topPBlockMask(mass, 48, 48, 1.0, o);
  EXPECT_EQ(m, (std::vector<uint8_t>{1, 0, 0, 1, 1, 0, 1, 1, 1}));
  // p = 0.9 in row 2: 0.4 (block 1), 0.4 (block 2), then 0.2 (0.8 < 0.9).
  m = topPBlockMask(mass, 48, 48, 0.9, o);
  EXPECT_EQ(m[6], 1);
}

// Calibration on random inputs: every head meets the target on its
// calibration set (recomputed here independently), a zero target keeps every
// visible block, and a looser target never keeps more blocks.
TEST(BlockTopology, CalibrationMeetsTarget) {
  int64_t n = 2, hq = 4, hkv = 2, s = 96, d = 8;
  std::mt19937_64 rng(11);
  auto draw = [&](size_t count) {
    std::vector<double> x = randomValues(count, DType::F32, rng);
    return std::vector<float>(x.begin(), x.end());
  };
  std::vector<float> q = draw(n * hq * s * d), k = draw(n * hkv * s * d),
                     v = draw(n * hkv * s * d);
  for (float &x : q)
    x *= 2.0f;
  TopologyOptions o;
  o.blockQ = o.blockK = 16;
  o.causal = true;
  std::vector<int64_t> qs{n, hq, s, d}, ks{n, hkv, s, d};
  Topology exact, loose, looser;
  std::string error;
  o.targetError = 0.0;
  ASSERT_TRUE(calibrateTopology(q.data(), qs, k.data(), ks, v.data(), ks, o,
                                exact, error))
      << error;
  o.targetError = 0.05;
  ASSERT_TRUE(calibrateTopology(q.data(), qs, k.data(), ks, v.data(), ks, o,
                                loose, error));
  o.targetError = 0.3;
  ASSERT_TRUE(calibrateTopology(q.data(), qs, k.data(), ks, v.data(), ks, o,
                                looser, error));
  int64_t qbs = 6, kbs = 6;
  for (int64_t h = 0; h < hq; ++h) {
    EXPECT_EQ(exact.density[h], 1.0) << "head " << h;
    EXPECT_LE(loose.error[h], 0.05) << "head " << h;
    EXPECT_LE(looser.error[h], 0.3) << "head " << h;
    int64_t a = 0, b = 0;
    for (int64_t i = 0; i < qbs * kbs; ++i) {
      a += loose.mask[h * qbs * kbs + i];
      b += looser.mask[h * qbs * kbs + i];
    }
    EXPECT_LE(b, a) << "head " << h;
    // The error of the loose mask, recomputed with the attention reference.
    reference::Attention ra;
    ra.B = 1;
    ra.Hq = 1;
    ra.Hkv = 1;
    ra.Sq = ra.Skv = s;
    ra.D = ra.Dv = d;
    ra.causal = true;
    ra.blockQ = ra.blockK = 16;
    double err = 0, norm = 0;
    for (int64_t b2 = 0; b2 < n; ++b2) {
      auto slice = [&](const std::vector<float> &x, int64_t heads,
                       int64_t head) {
        auto begin = x.begin() + ((b2 * heads + head) * s) * d;
        return std::vector<double>(begin, begin + s * d);
      };
      std::vector<double> qh = slice(q, hq, h), kh = slice(k, hkv, h / 2),
                          vh = slice(v, hkv, h / 2), dense, masked, lse;
      reference::attention(ra, qh, kh, vh, dense, lse);
      ra.blockMask.assign(loose.mask.begin() + h * qbs * kbs,
                          loose.mask.begin() + (h + 1) * qbs * kbs);
      reference::attention(ra, qh, kh, vh, masked, lse);
      ra.blockMask.clear();
      for (size_t i = 0; i < dense.size(); ++i) {
        err += (masked[i] - dense[i]) * (masked[i] - dense[i]);
        norm += dense[i] * dense[i];
      }
    }
    EXPECT_NEAR(std::sqrt(err / norm), loose.error[h], 1e-9) << "head " << h;
  }
  EXPECT_LT(std::accumulate(looser.density.begin(), looser.density.end(), 0.0),
            hq * 1.0);
}

} // namespace

namespace {

/// A routed decode over a paged cache: K in a page pool [P, 8, Hkv, 16]
/// (plain or quantized in the module) read through a shuffled block table.
struct PagedSel {
  std::string name;
  std::string scheme; ///< "" (plain f32 pool) or a #tessera.quant
  int64_t Sq = 1;
  std::string pool = "avg";
  std::optional<int64_t> topK = std::nullopt;
  std::optional<double> topP = std::nullopt;
  bool causal = false;
  int64_t sinks = 0;
};

std::ostream &operator<<(std::ostream &os, const PagedSel &c) {
  return os << c.name;
}

class BlockSelectPaged : public ::testing::TestWithParam<PagedSel> {};

// block_select over a paged (and packed) key pool equals the reference run on
// each sequence's keys alone: gathered through the table from the module's
// own dequantized pool, Skv = kv_lens[b]. Blocks past a sequence's end are
// never kept, whatever the table's capacity.
TEST_P(BlockSelectPaged, MatchesReferencePerSequence) {
  const PagedSel p = GetParam();
  constexpr int64_t B = 4, Hq = 4, Hkv = 2, D = 16, page = 8, maxPages = 9;
  constexpr int64_t blockQ = 4, blockK = 16;
  const std::vector<int32_t> lens = {72, 23, 0, 41};
  int64_t pages = 0;
  for (int32_t n : lens)
    pages += (n + page - 1) / page;
  pages += 2; // pages no sequence owns
  std::mt19937_64 rng(std::hash<std::string>{}(p.name));
  std::vector<int32_t> order(pages), table(B * maxPages, -1);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  size_t next = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < (lens[b] + page - 1) / page; ++j)
      table[b * maxPages + j] = order[next++];
  std::vector<double> q = randomValues(B * Hq * p.Sq * D, DType::F32, rng);
  std::vector<double> k = randomValues(pages * page * Hkv * D, DType::F32, rng);
  for (double &x : k)
    x *= 4.0;

  Sel c;
  c.Hq = Hq, c.Hkv = Hkv, c.Sq = p.Sq, c.D = D, c.blockQ = blockQ,
  c.blockK = blockK, c.pool = p.pool, c.topK = p.topK, c.topP = p.topP,
  c.causal = p.causal, c.sinks = p.sinks;
  int64_t QB = cdiv(p.Sq, blockQ), KB = cdiv(maxPages * page, blockK),
          KBw = cdiv(KB, 32);
  std::string poolT = tensorT({pages, page, Hkv, D}, "f32");
  std::string kT = p.scheme.empty()
                       ? poolT
                       : "!tessera.qtensor<" + dims({pages, page, Hkv, D}) +
                             "xf32, " + p.scheme + ">";
  std::string qT = tensorT({B, Hq, p.Sq, D}, "f32");
  std::string tT = tensorT({B, maxPages}, "i32"), nT = tensorT({B}, "i32");
  std::string mT = tensorT({B, Hkv, QB, KBw}, "i32"),
              cT = tensorT({B, Hkv, QB}, "i32");
  std::string attrs = attrsOf(c);
  attrs.insert(attrs.size() - 1, ", page_size = 8");
  std::string mlir = "func.func @sel(%q: " + qT + ", %k: " + poolT +
                     ", %t: " + tT + ", %n: " + nT + ") -> (" + mT + ", " + cT +
                     ", " + poolT + ") {\n";
  std::string kv = "%k", kd = "%k";
  if (!p.scheme.empty()) {
    mlir += "  %kp = tessera.quantize %k : " + poolT + " -> " + kT + "\n";
    mlir += "  %kd = tessera.dequantize %kp : " + kT + " -> " + poolT + "\n";
    kv = "%kp", kd = "%kd";
  }
  mlir += "  %m, %c = tessera.block_select %q, " + kv +
          " paged(%t, %n : " + tT + ", " + nT + ") " + attrs + " : " + qT +
          ", " + kT + " -> " + mT + ", " + cT + "\n  return %m, %c, " + kd +
          " : " + mT + ", " + cT + ", " + poolT + "\n}\n";
  auto m = compileOrFail(mlir);
  ASSERT_TRUE(m);
  std::vector<HostTensor> in;
  in.push_back(makeTensor(DType::F32, {B, Hq, p.Sq, D}, q));
  in.push_back(makeTensor(DType::F32, {pages, page, Hkv, D}, k));
  HostTensor t(DType::I32, {B, maxPages}), n(DType::I32, {B});
  std::memcpy(t.data(), table.data(), table.size() * 4);
  std::memcpy(n.data(), lens.data(), lens.size() * 4);
  in.push_back(std::move(t));
  in.push_back(std::move(n));
  std::vector<HostTensor> out = run(*m, in);
  ASSERT_EQ(out.size(), 3u);
  const auto *words = static_cast<const int32_t *>(out[0].data());
  const auto *counts = static_cast<const int32_t *>(out[1].data());
  std::vector<double> keys = valuesOf(out[2]);

  for (int64_t b = 0; b < B; ++b) {
    int64_t len = lens[b], kbLen = cdiv(len, blockK);
    Sel cb = c;
    cb.B = 1;
    cb.Skv = len;
    Selection want;
    if (len > 0) {
      std::vector<double> kb(Hkv * len * D),
          qb(q.begin() + b * Hq * p.Sq * D,
             q.begin() + (b + 1) * Hq * p.Sq * D);
      for (int64_t h = 0; h < Hkv; ++h)
        for (int64_t j = 0; j < len; ++j)
          for (int64_t d = 0; d < D; ++d)
            kb[(h * len + j) * D + d] =
                keys[((table[b * maxPages + j / page] * page + j % page) * Hkv +
                      h) *
                         D +
                     d];
      want = referenceSelect(cb, qb, kb, {}, {});
    }
    for (int64_t h = 0; h < Hkv; ++h)
      for (int64_t qb = 0; qb < QB; ++qb) {
        int64_t r = (b * Hkv + h) * QB + qb, kept = 0;
        for (int64_t blk = 0; blk < KBw * 32; ++blk) {
          int bit =
              (static_cast<uint32_t>(words[r * KBw + blk / 32]) >> (blk % 32)) &
              1;
          int expect = blk < kbLen ? want.keep[(h * QB + qb) * kbLen + blk] : 0;
          EXPECT_EQ(bit, expect) << "b " << b << " h " << h << " qb " << qb
                                 << " block " << blk << " (len " << len << ")";
          kept += bit;
        }
        EXPECT_EQ(counts[r], kept) << "b " << b << " h " << h << " qb " << qb;
      }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Pools, BlockSelectPaged,
    ::testing::Values(
        PagedSel{"plain_topk_decode", "", 1, "avg", 2},
        PagedSel{"plain_topp_causal", "", 6, "max", std::nullopt, 0.7, true, 1},
        PagedSel{"tq_mse_topk_causal",
                 "#tessera.quant<tq_mse, bits = 3, seed = 4>", 1, "avg", 2,
                 std::nullopt, true},
        PagedSel{"int4_min_topp", "#tessera.quant<int, bits = 4, asymmetric>",
                 5, "min", std::nullopt, 0.6, false, 1},
        PagedSel{"block_gtq_max_topk",
                 "#tessera.quant<block_gtq, bits = [4, 4, 3, 3, 3, 3, 2, 2], "
                 "seed = 9>",
                 1, "max", 3, std::nullopt, true}),
    [](const ::testing::TestParamInfo<PagedSel> &info) {
      return info.param.name;
    });

} // namespace

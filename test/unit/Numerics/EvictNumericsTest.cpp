//===- EvictNumericsTest.cpp - tessera.evict against references -----------===//
//
// Each policy of ALGORITHMS.md 5 compiled for the CPU and run on fresh random
// K/V/Q, against an independent double-precision reference written from the
// algorithm: the kept index sets must be equal (sink_window, snapkv,
// compresskv, h2o) and the compacted K/V the kept rows copied bit for bit;
// the reservoir's inclusion frequencies must match the A-Res inclusion
// probabilities of the reference walk weights (chi-square, fixed seeds).
//
//===----------------------------------------------------------------------===//
#include "Harness.h"

#include "tessera/Support/Eviction.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <set>

using namespace tessera;
using namespace tessera::test;

namespace {

/// A problem: K/V [B, Hkv, S, D], Q [B, Hq, Sw, D].
struct Problem {
  int64_t b = 1, hkv = 2, hq = 4, s = 64, sw = 8, d = 16;
  std::vector<double> q, k, v, scores;
};

Problem makeProblem(int64_t b, int64_t hkv, int64_t hq, int64_t s, int64_t sw,
                    int64_t d, uint64_t seed) {
  Problem p;
  p.b = b, p.hkv = hkv, p.hq = hq, p.s = s, p.sw = sw, p.d = d;
  std::mt19937_64 rng(seed);
  p.q = randomValues(b * hq * sw * d, DType::F32, rng);
  p.k = randomValues(b * hkv * s * d, DType::F32, rng);
  p.v = randomValues(b * hkv * s * d, DType::F32, rng);
  std::uniform_real_distribution<double> uni(0.0, 4.0);
  for (int64_t i = 0; i < b * hkv * s; ++i)
    p.scores.push_back(static_cast<float>(uni(rng)));
  return p;
}

std::string tensorT(std::vector<int64_t> shape, const std::string &elt) {
  std::string s = "tensor<";
  for (int64_t x : shape)
    s += (x < 0 ? std::string("?") : std::to_string(x)) + "x";
  return s + elt + ">";
}

/// One `@f` around one tessera.evict; `sDim` < 0 makes S a run-time size.
std::string evictModule(const Problem &p, const std::string &policy,
                        const std::string &attrs, int64_t budget, bool perLayer,
                        bool query, bool scores, int64_t sDim = 0) {
  int64_t s = sDim < 0 ? -1 : p.s;
  int64_t n = s < 0 ? -1 : std::min(budget, s);
  std::string kt = tensorT({p.b, p.hkv, s, p.d}, "f32");
  std::string qt = tensorT({p.b, p.hq, p.sw, p.d}, "f32");
  std::string st = tensorT({p.b, p.hkv, s}, "f32");
  std::string it = tensorT({p.b, perLayer ? 1 : p.hkv, n}, "i64");
  std::string ot = tensorT({p.b, p.hkv, n, p.d}, "f32");
  std::string sot = tensorT({p.b, p.hkv, n}, "f32");
  std::string args = "%k: " + kt + ", %v: " + kt;
  if (query)
    args += ", %q: " + qt;
  if (scores)
    args += ", %s: " + st;
  std::string results = it + ", " + ot + ", " + ot + (scores ? ", " + sot : "");
  return "func.func @f(" + args + ") -> (" + results + ") {\n  %i, %k2, %v2" +
         (scores ? std::string(", %s2") : "") + " = tessera.evict " + policy +
         " %k, %v" + (query ? " query(%q : " + qt + ")" : "") +
         (scores ? " scores(%s : " + st + ")" : "") +
         " {budget = " + std::to_string(budget) + attrs + "} : " + kt + ", " +
         kt + " -> " + results + "\n  return %i, %k2, %v2" +
         (scores ? std::string(", %s2") : "") + " : " + results + "\n}\n";
}

std::vector<HostTensor> inputsOf(const Problem &p, bool query, bool scores) {
  std::vector<HostTensor> in;
  in.push_back(makeTensor(DType::F32, {p.b, p.hkv, p.s, p.d}, p.k));
  in.push_back(makeTensor(DType::F32, {p.b, p.hkv, p.s, p.d}, p.v));
  if (query)
    in.push_back(makeTensor(DType::F32, {p.b, p.hq, p.sw, p.d}, p.q));
  if (scores)
    in.push_back(makeTensor(DType::F32, {p.b, p.hkv, p.s}, p.scores));
  return in;
}

/// The m best of `key` over [lo, hi) (higher first, ties to the earlier
/// token, or the later one with `laterWins`).
std::vector<int64_t> topM(const std::vector<double> &key, int64_t lo,
                          int64_t hi, int64_t m, bool laterWins = false) {
  std::vector<int64_t> c;
  for (int64_t j = lo; j < hi; ++j)
    c.push_back(j);
  std::sort(c.begin(), c.end(), [&](int64_t a, int64_t b) {
    if (key[a] != key[b])
      return key[a] > key[b];
    return laterWins ? a > b : a < b;
  });
  c.resize(std::min<int64_t>(m, c.size()));
  return c;
}

/// Sinks, the recent window and the m best candidates, sorted.
std::vector<int64_t> keepSet(int64_t s, int64_t budget, int64_t sinks,
                             int64_t recent, const std::vector<double> &key,
                             bool laterWins = false) {
  std::vector<int64_t> kept;
  if (s <= budget) {
    kept.resize(s);
    std::iota(kept.begin(), kept.end(), 0);
    return kept;
  }
  for (int64_t j = 0; j < sinks; ++j)
    kept.push_back(j);
  for (int64_t j = s - recent; j < s; ++j)
    kept.push_back(j);
  for (int64_t j :
       topM(key, sinks, s - recent, budget - sinks - recent, laterWins))
    kept.push_back(j);
  std::sort(kept.begin(), kept.end());
  return kept;
}

double dotQK(const Problem &p, int64_t bi, int64_t h, int64_t r, int64_t g,
             int64_t j) {
  double acc = 0;
  for (int64_t x = 0; x < p.d; ++x)
    acc += p.q[((bi * p.hq + h) * p.sw + r) * p.d + x] *
           p.k[((bi * p.hkv + g) * p.s + j) * p.d + x];
  return acc / std::sqrt(static_cast<double>(p.d));
}

void softmaxInPlace(std::vector<double> &x) {
  double mx = *std::max_element(x.begin(), x.end()), sum = 0;
  for (double &v : x)
    sum += (v = std::exp(v - mx));
  for (double &v : x)
    v /= sum;
}

/// SnapKV's pooled vote of query head h (KV head g) over keys [0, S - w).
std::vector<double> windowVote(const Problem &p, int64_t bi, int64_t h,
                               int64_t g, int64_t w, int64_t kernel) {
  int64_t prefix = p.s - w;
  std::vector<double> mass(prefix, 0.0), pooled(prefix, 0.0);
  for (int64_t i = 0; i < w; ++i) {
    int64_t pos = p.s - w + i, r = p.sw - w + i;
    std::vector<double> row(pos + 1);
    for (int64_t j = 0; j <= pos; ++j)
      row[j] = dotQK(p, bi, h, r, g, j);
    softmaxInPlace(row);
    for (int64_t j = 0; j < prefix; ++j)
      mass[j] += row[j];
  }
  // avg_pool1d(kernel, padding kernel / 2, stride 1), zero padding counted.
  for (int64_t j = 0; j < prefix; ++j) {
    for (int64_t t = -kernel / 2; t <= kernel / 2; ++t)
      if (j + t >= 0 && j + t < prefix)
        pooled[j] += mass[j + t];
    pooled[j] /= static_cast<double>(kernel);
  }
  return pooled;
}

/// The index set of snapkv for (bi, heads [gLo, gHi)).
std::vector<int64_t> snapkvRef(const Problem &p, int64_t bi, int64_t gLo,
                               int64_t gHi, int64_t budget, int64_t w,
                               int64_t kernel, int64_t sinks) {
  std::vector<double> score(p.s, 0.0);
  int64_t group = p.hq / p.hkv;
  if (p.s > budget)
    for (int64_t g = gLo; g < gHi; ++g)
      for (int64_t hh = 0; hh < group; ++hh) {
        std::vector<double> vote =
            windowVote(p, bi, g * group + hh, g, w, kernel);
        for (size_t j = 0; j < vote.size(); ++j)
          score[j] += vote[j] / static_cast<double>((gHi - gLo) * group);
      }
  return keepSet(p.s, budget, sinks, w, score);
}

/// Outputs: indices [B, IH, n] i64, kept K and V [B, Hkv, n, D].
void expectCompacted(const Problem &p, const std::vector<HostTensor> &out,
                     int64_t ih,
                     const std::vector<std::vector<int64_t>> &expected,
                     const std::string &what) {
  ASSERT_GE(out.size(), 3u) << what;
  int64_t n = out[0].shape()[2];
  const auto *idx = static_cast<const int64_t *>(out[0].data());
  for (int64_t bi = 0; bi < p.b; ++bi)
    for (int64_t r = 0; r < ih; ++r) {
      const std::vector<int64_t> &want = expected[bi * ih + r];
      ASSERT_EQ(static_cast<int64_t>(want.size()), n) << what;
      std::vector<int64_t> got(idx + (bi * ih + r) * n,
                               idx + (bi * ih + r + 1) * n);
      EXPECT_EQ(got, want) << what << " batch " << bi << " set " << r;
    }
  // Kept K/V rows are the input rows at the kept indices, bit for bit.
  const auto *k2 = static_cast<const float *>(out[1].data());
  const auto *v2 = static_cast<const float *>(out[2].data());
  for (int64_t bi = 0; bi < p.b; ++bi)
    for (int64_t h = 0; h < p.hkv; ++h)
      for (int64_t c = 0; c < n; ++c) {
        int64_t j = idx[(bi * ih + (ih == 1 ? 0 : h)) * n + c];
        for (int64_t x = 0; x < p.d; ++x) {
          size_t src = ((bi * p.hkv + h) * p.s + j) * p.d + x;
          size_t dst = ((bi * p.hkv + h) * n + c) * p.d + x;
          ASSERT_EQ(k2[dst], static_cast<float>(p.k[src])) << what;
          ASSERT_EQ(v2[dst], static_cast<float>(p.v[src])) << what;
        }
      }
}

//===----------------------------------------------------------------------===//
// Layer budgets (CompressKV)
//===----------------------------------------------------------------------===//

TEST(Evict, CompressKVLayerBudgets) {
  EXPECT_EQ(allocateLayerBudgets({0.5, 0.25, 0.25}, 100),
            (std::vector<int64_t>{134, 83, 83}));
  // 32 + round(.97 * 72) = 102, 32 + round(.01 * 72) = 33: one over the
  // total of 200, taken from the highest score first.
  EXPECT_EQ(allocateLayerBudgets({0.97, 0.01, 0.01, 0.01}, 50),
            (std::vector<int64_t>{101, 33, 33, 33}));
  // 32 + 272 clipped to 3 * Bavg = 300; the 4 missing go one at a time to
  // the others in order of s (ties to the first), the capped layer skipped.
  std::vector<int64_t> clipped =
      allocateLayerBudgets({1.0, 0.0, 0.0, 0.0}, 100);
  EXPECT_EQ(clipped, (std::vector<int64_t>{300, 34, 33, 33}));
  EXPECT_EQ(std::accumulate(clipped.begin(), clipped.end(), int64_t{0}), 400);
}

//===----------------------------------------------------------------------===//
// Policies against the references
//===----------------------------------------------------------------------===//

TEST(Evict, SinkWindowKeepsSinksAndRecent) {
  Problem p = makeProblem(2, 2, 2, 50, 1, 16, 11);
  auto m = compileOrFail(
      evictModule(p, "sink_window", ", sinks = 3", 12, false, false, false));
  ASSERT_TRUE(m);
  auto in = inputsOf(p, false, false);
  auto out = run(*m, in);
  std::vector<std::vector<int64_t>> want(
      p.b * p.hkv, keepSet(p.s, 12, 3, 9, std::vector<double>(p.s)));
  expectCompacted(p, out, p.hkv, want, "sink_window");
}

TEST(Evict, SnapKVMatchesReferenceGQA) {
  for (uint64_t seed : {1, 2, 3}) {
    Problem p = makeProblem(2, 2, 4, 72, 10, 16, 100 + seed);
    auto m = compileOrFail(
        evictModule(p, "snapkv", ", window = 8", 24, false, true, false));
    ASSERT_TRUE(m);
    auto in = inputsOf(p, true, false);
    auto out = run(*m, in);
    std::vector<std::vector<int64_t>> want;
    for (int64_t bi = 0; bi < p.b; ++bi)
      for (int64_t g = 0; g < p.hkv; ++g)
        want.push_back(snapkvRef(p, bi, g, g + 1, 24, 8, 5, 0));
    expectCompacted(p, out, p.hkv, want, "snapkv seed " + std::to_string(seed));
  }
}

TEST(Evict, SnapKVOverBF16Cache) {
  // bf16 K/V/Q (scores accumulate in f32); the reference reads the same
  // bf16-rounded values. Kept rows are the input's bf16 bits.
  Problem p = makeProblem(1, 2, 4, 56, 8, 16, 91);
  std::mt19937_64 rng(91);
  p.q = randomValues(p.q.size(), DType::BF16, rng);
  p.k = randomValues(p.k.size(), DType::BF16, rng);
  p.v = randomValues(p.v.size(), DType::BF16, rng);
  std::string mlir =
      evictModule(p, "snapkv", ", window = 8", 20, false, true, false);
  for (size_t at = mlir.find("f32>"); at != std::string::npos;
       at = mlir.find("f32>", at))
    mlir.replace(at, 3, "bf16");
  auto m = compileOrFail(mlir);
  ASSERT_TRUE(m);
  std::vector<HostTensor> in = {makeTensor(DType::BF16, {1, 2, 56, 16}, p.k),
                                makeTensor(DType::BF16, {1, 2, 56, 16}, p.v),
                                makeTensor(DType::BF16, {1, 4, 8, 16}, p.q)};
  auto out = run(*m, in);
  ASSERT_EQ(out.size(), 3u);
  const auto *idx = static_cast<const int64_t *>(out[0].data());
  std::vector<double> k2 = valuesOf(out[1]), v2 = valuesOf(out[2]);
  for (int64_t g = 0; g < 2; ++g) {
    std::vector<int64_t> want = snapkvRef(p, 0, g, g + 1, 20, 8, 5, 0);
    EXPECT_EQ(std::vector<int64_t>(idx + g * 20, idx + (g + 1) * 20), want);
    for (int64_t c = 0; c < 20; ++c)
      for (int64_t x = 0; x < 16; ++x) {
        ASSERT_EQ(k2[(g * 20 + c) * 16 + x], p.k[(g * 56 + want[c]) * 16 + x]);
        ASSERT_EQ(v2[(g * 20 + c) * 16 + x], p.v[(g * 56 + want[c]) * 16 + x]);
      }
  }
}

TEST(Evict, SnapKVPerLayerWithSinksAndKernel) {
  Problem p = makeProblem(1, 2, 6, 60, 8, 16, 7);
  auto m =
      compileOrFail(evictModule(p, "snapkv",
                                ", window = 6, kernel = 3, sinks = 2, scope = "
                                "#tessera<evict_scope per_layer>",
                                20, true, true, false));
  ASSERT_TRUE(m);
  auto in = inputsOf(p, true, false);
  auto out = run(*m, in);
  expectCompacted(p, out, 1, {snapkvRef(p, 0, 0, p.hkv, 20, 6, 3, 2)},
                  "snapkv per layer");
}

TEST(Evict, CompressKVUsesListedHeads) {
  Problem p = makeProblem(2, 2, 4, 64, 8, 16, 21);
  // Ranked heads 3, 0, 2, 1; first_k = 2 scores with heads 3 and 0 only.
  auto m = compileOrFail(evictModule(
      p, "compresskv", ", heads = array<i64: 3, 0, 2, 1>, first_k = 2", 20,
      true, true, false));
  ASSERT_TRUE(m);
  auto in = inputsOf(p, true, false);
  auto out = run(*m, in);
  std::vector<std::vector<int64_t>> want;
  int64_t group = p.hq / p.hkv;
  for (int64_t bi = 0; bi < p.b; ++bi) {
    std::vector<double> score(p.s, 0.0);
    for (int64_t h : {3, 0}) {
      std::vector<double> vote = windowVote(p, bi, h, h / group, 8, 5);
      for (size_t j = 0; j < vote.size(); ++j)
        score[j] += vote[j] / 2.0;
    }
    want.push_back(keepSet(p.s, 20, 0, 8, score));
  }
  expectCompacted(p, out, 1, want, "compresskv");
}

TEST(Evict, H2OKeepsHeavyHittersAndReturnsTheirScores) {
  Problem p = makeProblem(2, 2, 2, 40, 1, 16, 31);
  // Ties: evicting the argmin (the earliest of equal scores) keeps the later.
  p.scores[5] = p.scores[6] = 100.0f;
  auto m = compileOrFail(
      evictModule(p, "h2o", ", window = 4, sinks = 1", 9, false, false, true));
  ASSERT_TRUE(m);
  auto in = inputsOf(p, false, true);
  auto out = run(*m, in);
  std::vector<std::vector<int64_t>> want;
  for (int64_t r = 0; r < p.b * p.hkv; ++r) {
    std::vector<double> o(p.scores.begin() + r * p.s,
                          p.scores.begin() + (r + 1) * p.s);
    want.push_back(keepSet(p.s, 9, 1, 4, o, /*laterWins=*/true));
  }
  expectCompacted(p, out, p.hkv, want, "h2o");
  ASSERT_EQ(out.size(), 4u);
  const auto *kept = static_cast<const float *>(out[3].data());
  for (int64_t r = 0; r < p.b * p.hkv; ++r)
    for (int64_t c = 0; c < 9; ++c)
      EXPECT_EQ(kept[r * 9 + c],
                static_cast<float>(p.scores[r * p.s + want[r][c]]));
}

TEST(Evict, BudgetAtLeastSKeepsEverything) {
  Problem p = makeProblem(1, 2, 4, 20, 8, 16, 41);
  for (const char *policy : {"snapkv", "reservoir"}) {
    std::string attrs = std::string(policy) == "snapkv" ? ", window = 8" : "";
    auto m =
        compileOrFail(evictModule(p, policy, attrs, 32, false, true, false));
    ASSERT_TRUE(m);
    auto in = inputsOf(p, true, false);
    auto out = run(*m, in);
    std::vector<int64_t> all(p.s);
    std::iota(all.begin(), all.end(), 0);
    expectCompacted(p, out, p.hkv, {all, all}, policy);
  }
}

TEST(Evict, DynamicSequenceLength) {
  // The op sees S = ? (n = min(budget, S) at run time); the entry ABI needs
  // results sized by the inputs, so the module casts them to this run's n.
  for (int64_t s : {70, 12}) {
    Problem p = makeProblem(1, 2, 4, s, 8, 16, 51 + s);
    int64_t n = std::min<int64_t>(16, s);
    std::string kd = tensorT({1, 2, -1, 16}, "f32"),
                ks = tensorT({1, 2, s, 16}, "f32");
    std::string qt = tensorT({1, 4, 8, 16}, "f32");
    std::string id = tensorT({1, 2, -1}, "i64"), is = tensorT({1, 2, n}, "i64");
    std::string od = tensorT({1, 2, -1, 16}, "f32"),
                os = tensorT({1, 2, n, 16}, "f32");
    std::string mlir =
        "func.func @f(%k: " + ks + ", %v: " + ks + ", %q: " + qt + ") -> (" +
        is + ", " + os + ", " + os + ") {\n  %kd = tensor.cast %k : " + ks +
        " to " + kd + "\n  %vd = tensor.cast %v : " + ks + " to " + kd +
        "\n  %i, %k2, %v2 = tessera.evict snapkv %kd, %vd query(%q : " + qt +
        ") {budget = 16, window = 8} : " + kd + ", " + kd + " -> " + id + ", " +
        od + ", " + od + "\n  %is = tensor.cast %i : " + id + " to " + is +
        "\n  %ks = tensor.cast %k2 : " + od + " to " + os +
        "\n  %vs = tensor.cast %v2 : " + od + " to " + os +
        "\n  return %is, %ks, %vs : " + is + ", " + os + ", " + os + "\n}\n";
    auto m = compileOrFail(mlir);
    ASSERT_TRUE(m);
    auto in = inputsOf(p, true, false);
    auto out = run(*m, in);
    std::vector<std::vector<int64_t>> want;
    for (int64_t g = 0; g < p.hkv; ++g)
      want.push_back(snapkvRef(p, 0, g, g + 1, 16, 8, 5, 0));
    expectCompacted(p, out, p.hkv, want, "dynamic S = " + std::to_string(s));
  }
}

//===----------------------------------------------------------------------===//
// Packed K/V: compacted storage rows, no decode
//===----------------------------------------------------------------------===//

TEST(Evict, PackedKVCompactsStorageRowsBitExact) {
  Problem p = makeProblem(1, 2, 4, 48, 8, 32, 61);
  const std::string kq = "#tessera.quant<tq_mse, bits = 4>";
  const std::string vq =
      "#tessera.quant<int, bits = 4, group = 16, asymmetric>";
  std::string kt = tensorT({1, 2, 48, 32}, "f32"),
              ot = tensorT({1, 2, 16, 32}, "f32");
  std::string qt = tensorT({1, 4, 8, 32}, "f32");
  std::string kp = "!tessera.qtensor<1x2x48x32xf32, " + kq + ">";
  std::string vp = "!tessera.qtensor<1x2x48x32xf32, " + vq + ">";
  std::string kp2 = "!tessera.qtensor<1x2x16x32xf32, " + kq + ">";
  std::string vp2 = "!tessera.qtensor<1x2x16x32xf32, " + vq + ">";
  std::string mlir =
      "func.func @f(%k: " + kt + ", %v: " + kt + ", %q: " + qt + ") -> (" + kp +
      ", " + vp + ", " + kt + ", tensor<1x2x16xi64>, " + kp2 + ", " + vp2 +
      ") {\n  %pk = tessera.quantize %k : " + kt + " -> " + kp +
      "\n  %pv = tessera.quantize %v : " + kt + " -> " + vp +
      "\n  %dk = tessera.dequantize %pk : " + kp + " -> " + kt +
      "\n  %i, %k2, %v2 = tessera.evict snapkv %pk, %pv query(%q : " + qt +
      ") {budget = 16, window = 8} : " + kp + ", " + vp +
      " -> tensor<1x2x16xi64>, " + kp2 + ", " + vp2 + "\n  return %pk, %pv, " +
      "%dk, %i, %k2, %v2 : " + kp + ", " + vp + ", " + kt +
      ", tensor<1x2x16xi64>, " + kp2 + ", " + vp2 + "\n}\n";
  auto m = compileOrFail(mlir);
  ASSERT_TRUE(m);
  std::vector<HostTensor> in = {makeTensor(DType::F32, {1, 2, 48, 32}, p.k),
                                makeTensor(DType::F32, {1, 2, 48, 32}, p.v),
                                makeTensor(DType::F32, {1, 4, 8, 32}, p.q)};
  auto out = run(*m, in);
  // Outputs: K codes, norms; V codes, scales, zeros; dequantized K; indices;
  // kept K codes, norms; kept V codes, scales, zeros.
  ASSERT_EQ(out.size(), 12u);
  // Scores come from the decoded keys: the reference runs on dequantize(K).
  Problem decoded = p;
  decoded.k = valuesOf(out[5]);
  std::vector<std::vector<int64_t>> want;
  for (int64_t g = 0; g < 2; ++g)
    want.push_back(snapkvRef(decoded, 0, g, g + 1, 16, 8, 5, 0));
  const auto *idx = static_cast<const int64_t *>(out[6].data());
  for (int64_t g = 0; g < 2; ++g)
    EXPECT_EQ(std::vector<int64_t>(idx + g * 16, idx + (g + 1) * 16), want[g]);
  const int full[] = {0, 1, 2, 3, 4}, kept[] = {7, 8, 9, 10, 11};
  for (int c = 0; c < 5; ++c) {
    const HostTensor &src = out[full[c]], &dst = out[kept[c]];
    size_t rowBytes = src.numBytes() / (2 * 48);
    ASSERT_EQ(dst.numBytes(), rowBytes * 2 * 16) << "component " << c;
    const auto *s = static_cast<const uint8_t *>(src.data());
    const auto *d = static_cast<const uint8_t *>(dst.data());
    for (int64_t g = 0; g < 2; ++g)
      for (int64_t r = 0; r < 16; ++r)
        EXPECT_EQ(std::memcmp(d + (g * 16 + r) * rowBytes,
                              s + (g * 48 + idx[g * 16 + r]) * rowBytes,
                              rowBytes),
                  0)
            << "component " << c << " head " << g << " slot " << r;
  }
}

//===----------------------------------------------------------------------===//
// Reservoir: A-Res over attention-walk weights
//===----------------------------------------------------------------------===//

/// The walk weights of KV head 0 of batch 0: s0 the group's attention rows
/// averaged, s_{t+1} = s_t A over the keys' causal self-attention, w = sum_t
/// gamma^t s_t.
std::vector<double> walkWeights(const Problem &p, int64_t steps, double gamma) {
  int64_t group = p.hq / p.hkv;
  std::vector<double> cur(p.s, 0.0), w(p.s, 0.0);
  for (int64_t h = 0; h < group; ++h)
    for (int64_t r = 0; r < p.sw; ++r) {
      std::vector<double> row(p.s);
      for (int64_t j = 0; j < p.s; ++j)
        row[j] = dotQK(p, 0, h, r, 0, j);
      softmaxInPlace(row);
      for (int64_t j = 0; j < p.s; ++j)
        cur[j] += row[j] / static_cast<double>(group * p.sw);
    }
  double gt = 1.0;
  for (int64_t t = 0;; ++t) {
    for (int64_t j = 0; j < p.s; ++j)
      w[j] += gt * cur[j];
    if (t == steps)
      break;
    gt *= gamma;
    std::vector<double> next(p.s, 0.0);
    for (int64_t i = 0; i < p.s; ++i) {
      std::vector<double> row(i + 1);
      for (int64_t j = 0; j <= i; ++j) {
        double acc = 0;
        for (int64_t x = 0; x < p.d; ++x)
          acc += p.k[i * p.d + x] * p.k[j * p.d + x];
        row[j] = acc / std::sqrt(static_cast<double>(p.d));
      }
      softmaxInPlace(row);
      for (int64_t j = 0; j <= i; ++j)
        next[j] += cur[i] * row[j];
    }
    cur = next;
  }
  return w;
}

/// A-Res inclusion probabilities of keeping m of weights `w`, by Monte
/// Carlo (keys u^(1/w), the m largest).
std::vector<double> aresInclusion(const std::vector<double> &w, int64_t m,
                                  int trials) {
  std::mt19937_64 rng(12345);
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  std::vector<double> pi(w.size(), 0.0);
  std::vector<std::pair<double, size_t>> keys(w.size());
  for (int t = 0; t < trials; ++t) {
    for (size_t j = 0; j < w.size(); ++j)
      keys[j] = {std::log(uni(rng)) / w[j], j};
    std::partial_sort(keys.begin(), keys.begin() + m, keys.end(),
                      std::greater<>());
    for (int64_t i = 0; i < m; ++i)
      pi[keys[i].second] += 1.0 / trials;
  }
  return pi;
}

/// Module: N identical batches of one problem, so each batch is one more
/// independent draw (the RNG counts the set's row).
std::string reservoirModule(const Problem &p, int64_t budget, int64_t seed) {
  return evictModule(p, "reservoir",
                     ", seed = " + std::to_string(seed) +
                         ", steps = 2, gamma = 0.8 : f32, layer = 3, step = 5",
                     budget, false, true, false);
}

Problem replicated(const Problem &one, int64_t copies) {
  Problem p = one;
  p.b = copies;
  p.q.clear(), p.k.clear(), p.v.clear(), p.scores.clear();
  for (int64_t c = 0; c < copies; ++c) {
    p.q.insert(p.q.end(), one.q.begin(), one.q.end());
    p.k.insert(p.k.end(), one.k.begin(), one.k.end());
    p.v.insert(p.v.end(), one.v.begin(), one.v.end());
  }
  return p;
}

TEST(Evict, ReservoirInclusionMatchesARes) {
  Problem one = makeProblem(1, 1, 2, 12, 2, 8, 71);
  for (double &x : one.q)
    x *= 3.0; // peaky attention: weights far from uniform
  const int64_t copies = 2000, budget = 4;
  std::vector<double> w = walkWeights(one, 2, 0.8);
  std::vector<double> pi = aresInclusion(w, budget, 400000);
  Problem p = replicated(one, copies);
  // Chi-square over the S inclusion counts (each binomial, variance
  // N pi (1 - pi)), 11 degrees of freedom: 31.26 is the 0.999 quantile.
  for (int64_t seed : {1, 2, 3}) {
    auto m = compileOrFail(reservoirModule(p, budget, seed));
    ASSERT_TRUE(m);
    auto in = inputsOf(p, true, false);
    auto out = run(*m, in);
    const auto *idx = static_cast<const int64_t *>(out[0].data());
    std::vector<double> count(p.s, 0.0);
    for (int64_t c = 0; c < copies; ++c) {
      std::set<int64_t> distinct(idx + c * budget, idx + (c + 1) * budget);
      ASSERT_EQ(distinct.size(), size_t(budget));
      ASSERT_TRUE(std::is_sorted(idx + c * budget, idx + (c + 1) * budget));
      for (int64_t j : distinct)
        count[j] += 1;
    }
    double chi2 = 0;
    for (int64_t j = 0; j < p.s; ++j) {
      double e = copies * pi[j], var = e * (1 - pi[j]);
      if (var > 1e-9)
        chi2 += (count[j] - e) * (count[j] - e) / var;
    }
    EXPECT_LT(chi2, 31.26) << "seed " << seed;
    // A uniform choice would be far off: the weights are skewed.
    double uniform = 0;
    for (int64_t j = 0; j < p.s; ++j) {
      double e = copies * double(budget) / p.s;
      uniform +=
          (count[j] - e) * (count[j] - e) / (e * (1 - double(budget) / p.s));
    }
    EXPECT_GT(uniform, 100.0) << "seed " << seed;
  }
}

TEST(Evict, ReservoirIsDeterministicPerSeed) {
  Problem p = makeProblem(2, 2, 4, 40, 2, 16, 81);
  auto a = compileOrFail(reservoirModule(p, 10, 9));
  auto b = compileOrFail(reservoirModule(p, 10, 9));
  auto c = compileOrFail(reservoirModule(p, 10, 10));
  ASSERT_TRUE(a && b && c);
  auto in = inputsOf(p, true, false);
  auto first = run(*a, in), again = run(*a, in), other = run(*b, in),
       reseeded = run(*c, in);
  auto bytes = [](const HostTensor &t) {
    const auto *d = static_cast<const uint8_t *>(t.data());
    return std::vector<uint8_t>(d, d + t.numBytes());
  };
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(bytes(first[i]), bytes(again[i])) << "output " << i;
    EXPECT_EQ(bytes(first[i]), bytes(other[i])) << "output " << i;
  }
  EXPECT_NE(bytes(first[0]), bytes(reseeded[0]));
  // Compacted rows follow the indices.
  const auto *idx = static_cast<const int64_t *>(first[0].data());
  std::vector<std::vector<int64_t>> sets;
  for (int64_t r = 0; r < p.b * p.hkv; ++r)
    sets.emplace_back(idx + r * 10, idx + (r + 1) * 10);
  expectCompacted(p, first, p.hkv, sets, "reservoir");
}

TEST(Evict, ReservoirUniformsAreInOpenUnitInterval) {
  uint64_t stream = reservoirStream(1, 2, 3, 4);
  EXPECT_EQ(stream, reservoirStream(1, 2, 3, 4));
  EXPECT_NE(stream, reservoirStream(1, 2, 4, 4));
  for (int64_t j = 0; j < 1000; ++j) {
    float u = reservoirUniform(stream, j);
    EXPECT_GT(u, 0.0f);
    EXPECT_LT(u, 1.0f);
  }
}

//===----------------------------------------------------------------------===//
// Paged caches: each sequence compacted as the dense op compacts it
//===----------------------------------------------------------------------===//

/// Page pools [P, ps, Hkv, D] behind a randomly permuted block table
/// [B, maxPages] (every sequence has its own pages; some pool pages belong to
/// no sequence), lengths [B], Q [B, Hq, Sw, D], scores [B, Hkv, cap].
struct PagedProblem {
  int64_t b = 4, hkv = 2, hq = 4, sw = 8, d = 16, ps = 4, maxPages = 10,
          pages = 0;
  std::vector<int64_t> lens;
  std::vector<int32_t> table;
  std::vector<double> k, v, q, scores;
  int64_t cap() const { return maxPages * ps; }
  /// Element offset of (page, slot, head) in a pool of row length `len`.
  size_t rowAt(int64_t b, int64_t h, int64_t j, int64_t len) const {
    int64_t page = table[b * maxPages + j / ps];
    return static_cast<size_t>(((page * ps + j % ps) * hkv + h) * len);
  }
};

PagedProblem makePaged(std::vector<int64_t> lens, int64_t d, uint64_t seed) {
  PagedProblem p;
  p.b = static_cast<int64_t>(lens.size());
  p.lens = std::move(lens);
  p.d = d;
  p.pages = p.b * p.maxPages + 5;
  std::mt19937_64 rng(seed);
  std::vector<int32_t> order(p.pages);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  p.table.assign(order.begin(), order.begin() + p.b * p.maxPages);
  size_t pool = static_cast<size_t>(p.pages * p.ps * p.hkv * d);
  p.k = randomValues(pool, DType::F32, rng);
  p.v = randomValues(pool, DType::F32, rng);
  p.q = randomValues(p.b * p.hq * p.sw * d, DType::F32, rng);
  std::uniform_real_distribution<double> uni(0.0, 4.0);
  for (int64_t i = 0; i < p.b * p.hkv * p.cap(); ++i)
    p.scores.push_back(static_cast<float>(uni(rng)));
  return p;
}

/// The dense problem of sequence `seq`, gathered through the table and
/// repeated over seq + 1 batch entries (the op's batch index seeds the
/// reservoir's RNG, so sequence `seq` is compared at batch index `seq`).
Problem gatherSequence(const PagedProblem &pp, int64_t seq) {
  Problem p;
  p.b = seq + 1, p.hkv = pp.hkv, p.hq = pp.hq, p.sw = pp.sw, p.d = pp.d;
  p.s = pp.lens[seq];
  for (int64_t c = 0; c <= seq; ++c) {
    for (int64_t h = 0; h < p.hkv; ++h)
      for (int64_t j = 0; j < p.s; ++j) {
        size_t at = pp.rowAt(seq, h, j, p.d);
        p.k.insert(p.k.end(), pp.k.begin() + at, pp.k.begin() + at + p.d);
        p.v.insert(p.v.end(), pp.v.begin() + at, pp.v.begin() + at + p.d);
      }
    size_t qRow = static_cast<size_t>(seq * p.hq * p.sw * p.d);
    p.q.insert(p.q.end(), pp.q.begin() + qRow,
               pp.q.begin() + qRow + p.hq * p.sw * p.d);
    for (int64_t h = 0; h < p.hkv; ++h) {
      size_t at = static_cast<size_t>((seq * p.hkv + h) * pp.cap());
      p.scores.insert(p.scores.end(), pp.scores.begin() + at,
                      pp.scores.begin() + at + p.s);
    }
  }
  return p;
}

/// One `@f` around a paged tessera.evict over pools of `poolT` / `poolV`.
std::string pagedModule(const PagedProblem &p, const std::string &policy,
                        const std::string &attrs, int64_t budget, bool perLayer,
                        bool query, bool scores) {
  std::string kt = tensorT({p.pages, p.ps, p.hkv, p.d}, "f32");
  std::string qt = tensorT({p.b, p.hq, p.sw, p.d}, "f32");
  std::string st = tensorT({p.b, p.hkv, p.cap()}, "f32");
  std::string tt = tensorT({p.b, p.maxPages}, "i32"),
              lt = tensorT({p.b}, "i32");
  std::string it = tensorT({p.b, perLayer ? 1 : p.hkv, budget}, "i64");
  std::string sot = tensorT({p.b, p.hkv, budget}, "f32");
  std::string args = "%k: " + kt + ", %v: " + kt;
  if (query)
    args += ", %q: " + qt;
  if (scores)
    args += ", %s: " + st;
  args += ", %t: " + tt + ", %l: " + lt;
  std::string results =
      it + ", " + kt + ", " + kt + (scores ? ", " + sot : "") + ", " + lt;
  std::string names =
      std::string("%i, %k2, %v2") + (scores ? ", %s2" : "") + ", %n2";
  return "func.func @f(" + args + ") -> (" + results + ") {\n  " + names +
         " = tessera.evict " + policy + " %k, %v" +
         (query ? " query(%q : " + qt + ")" : "") +
         (scores ? " scores(%s : " + st + ")" : "") + " paged(%t, %l : " + tt +
         ", " + lt + ") {budget = " + std::to_string(budget) +
         ", page_size = " + std::to_string(p.ps) + attrs + "} : " + kt + ", " +
         kt + " -> " + results + "\n  return " + names + " : " + results +
         "\n}\n";
}

std::vector<HostTensor> pagedInputs(const PagedProblem &p, bool query,
                                    bool scores) {
  std::vector<HostTensor> in;
  in.push_back(makeTensor(DType::F32, {p.pages, p.ps, p.hkv, p.d}, p.k));
  in.push_back(makeTensor(DType::F32, {p.pages, p.ps, p.hkv, p.d}, p.v));
  if (query)
    in.push_back(makeTensor(DType::F32, {p.b, p.hq, p.sw, p.d}, p.q));
  if (scores)
    in.push_back(makeTensor(DType::F32, {p.b, p.hkv, p.cap()}, p.scores));
  HostTensor t(DType::I32, {p.b, p.maxPages});
  std::memcpy(t.data(), p.table.data(), p.table.size() * sizeof(int32_t));
  HostTensor l(DType::I32, {p.b});
  for (int64_t i = 0; i < p.b; ++i)
    static_cast<int32_t *>(l.data())[i] = static_cast<int32_t>(p.lens[i]);
  in.push_back(std::move(t));
  in.push_back(std::move(l));
  return in;
}

struct PagedPolicy {
  std::string policy, attrs;
  bool perLayer, query, scores;
};

TEST(Evict, PagedMatchesDensePerSequence) {
  // Lengths: longer than the budget, shorter (9 < 12), not multiples of the
  // page size (4), and the table's full capacity (40).
  const int64_t budget = 12;
  const std::string perLayer = ", scope = #tessera<evict_scope per_layer>";
  const PagedPolicy policies[] = {
      {"sink_window", ", sinks = 2", false, false, false},
      {"sink_window", ", sinks = 2" + perLayer, true, false, false},
      {"snapkv", ", window = 4, sinks = 1, kernel = 3", false, true, false},
      {"snapkv", ", window = 4" + perLayer, true, true, false},
      {"compresskv",
       ", window = 4, heads = array<i64: 3, 0, 2, 1>, first_k = 2", true, true,
       false},
      {"h2o", ", window = 3, sinks = 1", false, false, true},
      {"h2o", ", window = 2" + perLayer, true, false, true},
      {"reservoir", ", seed = 3, steps = 1, layer = 1, step = 2", false, true,
       false},
      {"reservoir", ", seed = 4, sinks = 2" + perLayer, true, true, false},
  };
  uint64_t seed = 500;
  for (const PagedPolicy &c : policies) {
    std::string what = c.policy + (c.perLayer ? " per layer" : " per head");
    PagedProblem p = makePaged({37, 9, 22, 40}, 16, ++seed);
    auto m = compileOrFail(pagedModule(p, c.policy, c.attrs, budget, c.perLayer,
                                       c.query, c.scores));
    ASSERT_TRUE(m) << what;
    auto in = pagedInputs(p, c.query, c.scores);
    auto out = run(*m, in);
    ASSERT_EQ(out.size(), c.scores ? 5u : 4u) << what;
    const auto *idx = static_cast<const int64_t *>(out[0].data());
    const auto *lens = static_cast<const int32_t *>(out.back().data());
    int64_t ih = c.perLayer ? 1 : p.hkv;
    // The pools expected: the inputs, with each sequence's kept rows moved
    // to its first n_b positions (taken from the dense op's kept K/V).
    std::vector<float> wantK(p.k.begin(), p.k.end()),
        wantV(p.v.begin(), p.v.end());
    for (int64_t seq = 0; seq < p.b; ++seq) {
      Problem dense = gatherSequence(p, seq);
      int64_t n = std::min(budget, dense.s);
      EXPECT_EQ(lens[seq], n) << what << " sequence " << seq;
      auto dm = compileOrFail(evictModule(dense, c.policy, c.attrs, budget,
                                          c.perLayer, c.query, c.scores));
      ASSERT_TRUE(dm) << what;
      auto din = inputsOf(dense, c.query, c.scores);
      auto dout = run(*dm, din);
      ASSERT_GE(dout.size(), 3u) << what;
      const auto *didx = static_cast<const int64_t *>(dout[0].data());
      for (int64_t r = 0; r < ih; ++r) {
        const int64_t *got = idx + (seq * ih + r) * budget;
        std::vector<int64_t> want(didx + (seq * ih + r) * n,
                                  didx + (seq * ih + r + 1) * n);
        want.resize(budget, -1);
        EXPECT_EQ(std::vector<int64_t>(got, got + budget), want)
            << what << " sequence " << seq << " set " << r;
      }
      const auto *dk = static_cast<const float *>(dout[1].data());
      const auto *dv = static_cast<const float *>(dout[2].data());
      for (int64_t h = 0; h < p.hkv; ++h)
        for (int64_t cslot = 0; cslot < n; ++cslot) {
          size_t at = p.rowAt(seq, h, cslot, p.d);
          size_t from =
              static_cast<size_t>(((seq * p.hkv + h) * n + cslot) * p.d);
          std::copy(dk + from, dk + from + p.d, wantK.begin() + at);
          std::copy(dv + from, dv + from + p.d, wantV.begin() + at);
        }
      if (c.scores) {
        ASSERT_EQ(dout.size(), 4u) << what;
        const auto *ds = static_cast<const float *>(dout[3].data());
        const auto *ks = static_cast<const float *>(out[3].data());
        for (int64_t h = 0; h < p.hkv; ++h)
          for (int64_t cslot = 0; cslot < budget; ++cslot) {
            EXPECT_EQ(ks[(seq * p.hkv + h) * budget + cslot],
                      cslot < n ? ds[((seq * p.hkv + h) * n) + cslot] : 0.0f)
                << what << " kept score " << seq << ", " << h << ", " << cslot;
          }
      }
    }
    // Bit-exact pools: moved rows equal the dense op's, all others unchanged.
    EXPECT_EQ(std::memcmp(out[1].data(), wantK.data(), out[1].numBytes()), 0)
        << what << " keys pool";
    EXPECT_EQ(std::memcmp(out[2].data(), wantV.data(), out[2].numBytes()), 0)
        << what << " values pool";
  }
}

TEST(Evict, PagedClampsBadTableEntriesAndLengths) {
  // An out-of-range entry and lengths past the capacity or negative are
  // clamped: the call is memory-safe and the well-formed sequence is exact.
  PagedProblem p = makePaged({30, 60, -5}, 16, 77);
  p.table[1 * p.maxPages + 2] = 100000;
  auto m = compileOrFail(
      pagedModule(p, "snapkv", ", window = 4", 12, false, true, false));
  ASSERT_TRUE(m);
  auto in = pagedInputs(p, true, false);
  auto out = run(*m, in);
  ASSERT_EQ(out.size(), 4u);
  const auto *lens = static_cast<const int32_t *>(out[3].data());
  EXPECT_EQ(lens[0], 12);
  EXPECT_EQ(lens[1], 12); // clamped to the capacity 40, then the budget
  EXPECT_EQ(lens[2], 0);  // clamped to 0: nothing kept
  const auto *idx = static_cast<const int64_t *>(out[0].data());
  for (int64_t h = 0; h < p.hkv; ++h) {
    std::vector<int64_t> got(idx + (2 * p.hkv + h) * 12,
                             idx + (2 * p.hkv + h + 1) * 12);
    EXPECT_EQ(got, std::vector<int64_t>(12, -1));
  }
  Problem dense = gatherSequence(p, 0);
  for (int64_t g = 0; g < p.hkv; ++g) {
    EXPECT_EQ(std::vector<int64_t>(idx + g * 12, idx + (g + 1) * 12),
              snapkvRef(dense, 0, g, g + 1, 12, 4, 5, 0));
  }
}

TEST(Evict, PagedPackedPoolsCompactWithoutDecode) {
  // K as tq_mse, V as asymmetric int4 pages: every storage component row
  // (codes, norms, scales, zeros) moved bit for bit; the indices are the
  // dense op's over the sequence's decoded keys.
  PagedProblem p = makePaged({29, 7, 40}, 32, 91);
  const int64_t budget = 12;
  const std::string kq = "#tessera.quant<tq_mse, bits = 4>";
  const std::string vq = "#tessera.quant<int, bits = 4, asymmetric>";
  std::string ft = tensorT({p.pages, p.ps, p.hkv, p.d}, "f32");
  std::string dims = std::to_string(p.pages) + "x" + std::to_string(p.ps) +
                     "x" + std::to_string(p.hkv) + "x" + std::to_string(p.d);
  std::string kp = "!tessera.qtensor<" + dims + "xf32, " + kq + ">";
  std::string vp = "!tessera.qtensor<" + dims + "xf32, " + vq + ">";
  std::string qt = tensorT({p.b, p.hq, p.sw, p.d}, "f32");
  std::string tt = tensorT({p.b, p.maxPages}, "i32"),
              lt = tensorT({p.b}, "i32");
  std::string it = tensorT({p.b, p.hkv, budget}, "i64");
  std::string results = kp + ", " + vp + ", " + ft + ", " + it + ", " + kp +
                        ", " + vp + ", " + lt;
  std::string mlir =
      "func.func @f(%k: " + ft + ", %v: " + ft + ", %q: " + qt + ", %t: " + tt +
      ", %l: " + lt + ") -> (" + results +
      ") {\n  %pk = tessera.quantize %k : " + ft + " -> " + kp +
      "\n  %pv = tessera.quantize %v : " + ft + " -> " + vp +
      "\n  %dk = tessera.dequantize %pk : " + kp + " -> " + ft +
      "\n  %i, %k2, %v2, %n2 = tessera.evict snapkv %pk, %pv query(%q : " + qt +
      ") paged(%t, %l : " + tt + ", " + lt +
      ") {budget = " + std::to_string(budget) +
      ", page_size = " + std::to_string(p.ps) + ", window = 4} : " + kp + ", " +
      vp + " -> " + it + ", " + kp + ", " + vp + ", " + lt +
      "\n  return %pk, %pv, %dk, %i, %k2, %v2, %n2 : " + results + "\n}\n";
  auto m = compileOrFail(mlir);
  ASSERT_TRUE(m);
  auto in = pagedInputs(p, true, false);
  auto out = run(*m, in);
  // K codes, norms; V codes, scales, zeros; decoded K; indices; the
  // compacted K codes, norms; V codes, scales, zeros; new lengths.
  ASSERT_EQ(out.size(), 13u);
  const auto *idx = static_cast<const int64_t *>(out[6].data());
  PagedProblem decoded = p;
  decoded.k = valuesOf(out[5]);
  for (int64_t seq = 0; seq < p.b; ++seq) {
    Problem dense = gatherSequence(decoded, seq);
    int64_t n = std::min(budget, dense.s);
    EXPECT_EQ(static_cast<const int32_t *>(out[12].data())[seq], n);
    for (int64_t g = 0; g < p.hkv; ++g) {
      std::vector<int64_t> want =
          snapkvRef(dense, seq, g, g + 1, budget, 4, 5, 0);
      want.resize(budget, -1);
      const int64_t *got = idx + (seq * p.hkv + g) * budget;
      EXPECT_EQ(std::vector<int64_t>(got, got + budget), want)
          << "sequence " << seq << " head " << g;
    }
  }
  const int full[] = {0, 1, 2, 3, 4}, kept[] = {7, 8, 9, 10, 11};
  for (int c = 0; c < 5; ++c) {
    const HostTensor &src = out[full[c]], &dst = out[kept[c]];
    ASSERT_EQ(dst.numBytes(), src.numBytes()) << "component " << c;
    size_t rowBytes = src.numBytes() / (p.pages * p.ps * p.hkv);
    const auto *s = static_cast<const uint8_t *>(src.data());
    std::vector<uint8_t> want(s, s + src.numBytes());
    for (int64_t seq = 0; seq < p.b; ++seq)
      for (int64_t g = 0; g < p.hkv; ++g)
        for (int64_t slot = 0; slot < std::min(budget, p.lens[seq]); ++slot) {
          int64_t j = idx[(seq * p.hkv + g) * budget + slot];
          std::memcpy(want.data() + p.rowAt(seq, g, slot, 1) * rowBytes,
                      s + p.rowAt(seq, g, j, 1) * rowBytes, rowBytes);
        }
    EXPECT_EQ(std::memcmp(dst.data(), want.data(), want.size()), 0)
        << "component " << c;
  }
}

} // namespace

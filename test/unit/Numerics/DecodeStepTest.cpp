//===- DecodeStepTest.cpp - examples/decode_step.mlir, composed -----------===//
//
// The decode step of issue #11 (block_select -> attention over packed, paged
// K/V -> evict(snapkv) -> kv_write of the new token) against a reference
// composed here from references that share no code with the lowering:
// routing (RoutingReference.h, ALGORITHMS.md 2), attention over the kept
// blocks (Reference.cpp), SnapKV written below from ALGORITHMS.md 5 and
// docs/eviction.md, and the page bookkeeping (gather, compaction inside a
// sequence's pages, the append). The packed cache is made by a module that
// quantizes random pools with the example's schemes and decodes them (f32),
// so every reference step works on exactly what the compiled step decodes;
// those codecs are checked against ALGORITHMS.md in CodecNumericsTest.
//
//===----------------------------------------------------------------------===//
#include "Harness.h"
#include "Reference.h"
#include "RoutingReference.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <numeric>
#include <sstream>

using namespace tessera;
using namespace tessera::test;

namespace {

constexpr int64_t B = 4, Hq = 8, Hkv = 2, D = 64, kPage = 16;
constexpr int64_t kBudget = 320, kTopK = 2, kSinkBlocks = 1, kBlock = 64;

std::string readExample(const std::string &name) {
  std::ifstream in(std::string(TESSERA_SOURCE_DIR) + "/examples/" + name);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// The integers of the constant `dense<...>` that follows `marker`.
std::vector<int32_t> constantAfter(const std::string &src,
                                   const std::string &marker) {
  size_t at = src.find(marker);
  if (at == std::string::npos)
    return {};
  size_t begin = src.find("dense<", at) + 6, end = src.find('>', begin);
  std::vector<int32_t> out;
  std::string num;
  for (size_t i = begin; i <= end; ++i) {
    char ch = src[i];
    if (ch == '-' || (ch >= '0' && ch <= '9')) {
      num += ch;
    } else if (!num.empty()) {
      out.push_back(std::stoi(num));
      num.clear();
    }
  }
  return out;
}

/// The text of the `#tessera.quant<scheme...>` attribute in `src`.
std::string schemeOf(const std::string &src, const std::string &scheme) {
  size_t at = src.find("#tessera.quant<" + scheme);
  return src.substr(at, src.find(">>", at) + 1 - at);
}

/// SnapKV (ALGORITHMS.md 5, docs/eviction.md) for one sequence and KV head,
/// observation window w = 1 (the step's one query row), kernel 5, no sinks:
/// the sorted kept positions. `k` is [len, D] of KV head g, `q` the query
/// heads [Hq, D].
std::vector<int64_t> snapkvKept(const std::vector<double> &q,
                                const std::vector<double> &k, int64_t len,
                                int64_t g) {
  if (len <= kBudget) {
    std::vector<int64_t> all(len);
    std::iota(all.begin(), all.end(), 0);
    return all;
  }
  int64_t group = Hq / Hkv, prefix = len - 1;
  double scale = 1.0 / std::sqrt(static_cast<double>(D));
  std::vector<double> vote(prefix, 0.0);
  for (int64_t h = g * group; h < (g + 1) * group; ++h) {
    std::vector<double> logit(len);
    double mx = -INFINITY, sum = 0;
    for (int64_t j = 0; j < len; ++j) {
      double dot = 0;
      for (int64_t d = 0; d < D; ++d)
        dot += q[h * D + d] * k[j * D + d];
      logit[j] = dot * scale;
      mx = std::max(mx, logit[j]);
    }
    for (double x : logit)
      sum += std::exp(x - mx);
    // avg_pool1d(kernel 5, padding 2, count_include_pad): a sum over the
    // window divided by 5, zeros outside [0, prefix).
    for (int64_t j = 0; j < prefix; ++j) {
      double pooled = 0;
      for (int64_t t = j - 2; t <= j + 2; ++t)
        if (t >= 0 && t < prefix)
          pooled += std::exp(logit[t] - mx) / sum;
      vote[j] += pooled / 5.0 / static_cast<double>(group);
    }
  }
  std::vector<int64_t> order(prefix);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {
    return vote[x] != vote[y] ? vote[x] > vote[y] : x < y;
  });
  std::vector<int64_t> kept(order.begin(), order.begin() + (kBudget - 1));
  kept.push_back(len - 1);
  std::sort(kept.begin(), kept.end());
  return kept;
}

// The example's step equals the composed reference: the attention output
// (over the blocks the reference routing keeps, of the decoded cache), the
// new lengths, and both caches after eviction and the append, decoded: kept
// rows moved bit-exactly (never re-encoded), the new token's slot equal to its
// own quantize round trip, every other slot unchanged.
TEST(Examples, DecodeStepMatchesComposedReference) {
  std::string src = readExample("decode_step.mlir");
  ASSERT_FALSE(src.empty());
  // The parameters the reference assumes, as the example states them.
  for (const char *attr :
       {"top_k = 2, sink_blocks = 1, causal, block_k = 64, page_size = 16",
        "budget = 320, window = 1, page_size = 16", "evict snapkv"})
    ASSERT_NE(src.find(attr), std::string::npos) << attr;
  std::vector<int32_t> table = constantAfter(src, "%table = arith.constant");
  std::vector<int32_t> lens = constantAfter(src, "%lens = arith.constant");
  ASSERT_EQ(lens.size(), static_cast<size_t>(B));
  ASSERT_EQ(table.size() % B, 0u);
  const int64_t maxPages = table.size() / B;
  // The pools' page count: the first dim of the packed K type.
  const int64_t pages =
      std::stoll(src.substr(src.find("!tessera.qtensor<") + 17));
  auto m = compileOrFail(src);
  ASSERT_TRUE(m);

  // The packed cache: random pools quantized with the example's schemes (as
  // f32 qtensors: the same storage, and an f32 decode for the reference).
  std::string kScheme = schemeOf(src, "block_gtq"),
              vScheme = schemeOf(src, "tq_mse");
  auto poolOf = [&](const std::string &elt) {
    return "tensor<" + dims({pages, kPage, Hkv, D}) + "x" + elt + ">";
  };
  auto packedOf = [&](const std::string &scheme) {
    return "!tessera.qtensor<" + dims({pages, kPage, Hkv, D}) + "xf32, " +
           scheme + ">";
  };
  std::string pool = poolOf("f32"), kq = packedOf(kScheme),
              vq = packedOf(vScheme);
  auto pack =
      compileOrFail("func.func @pack(%k: " + pool + ", %v: " + pool + ") -> (" +
                    kq + ", " + vq + ", " + pool + ", " + pool +
                    ") {\n  %kq = tessera.quantize %k : " + pool + " -> " + kq +
                    "\n  %vq = tessera.quantize %v : " + pool + " -> " + vq +
                    "\n  %kd = tessera.dequantize %kq : " + kq + " -> " + pool +
                    "\n  %vd = tessera.dequantize %vq : " + vq + " -> " + pool +
                    "\n  return %kq, %vq, %kd, %vd : " + kq + ", " + vq + ", " +
                    pool + ", " + pool + "\n}\n");
  // Decodes the step's output pools, and the new tokens' round trips.
  auto unpack = compileOrFail(
      "func.func @unpack(%k: " + kq + ", %v: " + vq + ") -> (" + pool + ", " +
      pool + ") {\n  %kd = tessera.dequantize %k : " + kq + " -> " + pool +
      "\n  %vd = tessera.dequantize %v : " + vq + " -> " + pool +
      "\n  return %kd, %vd : " + pool + ", " + pool + "\n}\n");
  std::string tok = "tensor<" + dims({B, Hkv, 1, D}) + "xf32>";
  auto tokQ = [&](const std::string &s) {
    return "!tessera.qtensor<" + dims({B, Hkv, 1, D}) + "xf32, " + s + ">";
  };
  auto roundTrip = compileOrFail(
      "func.func @rt(%k: " + tok + ", %v: " + tok + ") -> (" + tok + ", " +
      tok + ") {\n  %kq = tessera.quantize %k : " + tok + " -> " +
      tokQ(kScheme) + "\n  %vq = tessera.quantize %v : " + tok + " -> " +
      tokQ(vScheme) + "\n  %kd = tessera.dequantize %kq : " + tokQ(kScheme) +
      " -> " + tok + "\n  %vd = tessera.dequantize %vq : " + tokQ(vScheme) +
      " -> " + tok + "\n  return %kd, %vd : " + tok + ", " + tok + "\n}\n");
  ASSERT_TRUE(pack && unpack && roundTrip);

  std::mt19937_64 rng(2027);
  int64_t poolSize = pages * kPage * Hkv * D;
  auto kRaw = randomValues(poolSize, DType::BF16, rng);
  auto vRaw = randomValues(poolSize, DType::BF16, rng);
  auto q = randomValues(B * Hq * D, DType::BF16, rng);
  auto kNew = randomValues(B * Hkv * D, DType::BF16, rng);
  auto vNew = randomValues(B * Hkv * D, DType::BF16, rng);
  // Spread the block scores so routing has something to choose (a power
  // of two: exact).
  for (double &x : q)
    x *= 4.0;

  std::vector<HostTensor> packIn;
  packIn.push_back(makeTensor(DType::F32, {pages, kPage, Hkv, D}, kRaw));
  packIn.push_back(makeTensor(DType::F32, {pages, kPage, Hkv, D}, vRaw));
  std::vector<HostTensor> packed = run(*pack, packIn);
  // [k components..., v components..., kd, vd]
  ASSERT_GE(packed.size(), 4u);
  std::vector<double> kDec = valuesOf(packed[packed.size() - 2]);
  std::vector<double> vDec = valuesOf(packed[packed.size() - 1]);
  packed.resize(packed.size() - 2);

  std::vector<HostTensor> in;
  in.push_back(makeTensor(DType::BF16, {B, Hq, 1, D}, q));
  in.push_back(makeTensor(DType::BF16, {B, Hkv, 1, D}, kNew));
  in.push_back(makeTensor(DType::BF16, {B, Hkv, 1, D}, vNew));
  for (HostTensor &t : packed)
    in.push_back(std::move(t));
  size_t nComponents = in.size() - 3;
  std::vector<HostTensor> out = run(*m, in);
  ASSERT_EQ(out.size(), 2 + nComponents);

  // Reference, one sequence at a time.
  auto slotOf = [&](int64_t b, int64_t j) {
    return table[b * maxPages + j / kPage] * kPage + j % kPage;
  };
  auto row = [&](int64_t slot, int64_t h) { return (slot * Hkv + h) * D; };
  std::vector<double> o = valuesOf(out[0]);
  std::vector<double> kWant = kDec, vWant = vDec;
  std::vector<HostTensor> tokIn;
  tokIn.push_back(makeTensor(DType::F32, {B, Hkv, 1, D}, kNew));
  tokIn.push_back(makeTensor(DType::F32, {B, Hkv, 1, D}, vNew));
  std::vector<HostTensor> tokRound = run(*roundTrip, tokIn);
  ASSERT_EQ(tokRound.size(), 2u);
  std::vector<double> kTok = valuesOf(tokRound[0]),
                      vTok = valuesOf(tokRound[1]);
  double scale = 0, worst = 0, routedApart = 0;
  int64_t blocksSkipped = 0;
  std::vector<int32_t> newLens(B);
  for (int64_t b = 0; b < B; ++b) {
    int64_t len = lens[b];
    std::vector<double> kb(Hkv * len * D), vb(Hkv * len * D);
    for (int64_t h = 0; h < Hkv; ++h)
      for (int64_t j = 0; j < len; ++j)
        for (int64_t d = 0; d < D; ++d) {
          kb[(h * len + j) * D + d] = kDec[row(slotOf(b, j), h) + d];
          vb[(h * len + j) * D + d] = vDec[row(slotOf(b, j), h) + d];
        }
    std::vector<double> qb(q.begin() + b * Hq * D,
                           q.begin() + (b + 1) * Hq * D);
    // 1. Routing.
    routing::Sel sel;
    sel.Hq = Hq, sel.Hkv = Hkv, sel.Sq = 1, sel.Skv = len, sel.D = D;
    sel.blockQ = kBlock, sel.blockK = kBlock, sel.topK = kTopK;
    sel.sinks = kSinkBlocks, sel.causal = true;
    routing::Selection chosen = routing::referenceSelect(sel, qb, kb, {}, {});
    // 2. Attention over the kept blocks.
    reference::Attention a;
    a.Hq = Hq, a.Hkv = Hkv, a.Sq = 1, a.Skv = len, a.D = D, a.Dv = D;
    a.causal = true;
    a.blockQ = a.blockK = kBlock;
    a.blockMask = chosen.keep;
    a.maskHeads = Hkv;
    std::vector<double> oRef, lseRef, oDense, lseDense;
    reference::attention(a, qb, kb, vb, oRef, lseRef);
    a.blockMask.clear();
    reference::attention(a, qb, kb, vb, oDense, lseDense);
    for (uint8_t f : chosen.keep)
      blocksSkipped += f ? 0 : 1;
    for (size_t i = 0; i < oRef.size(); ++i)
      scale = std::max(scale, std::fabs(oRef[i]));
    for (size_t i = 0; i < oRef.size(); ++i) {
      worst = std::max(worst, std::fabs(o[b * Hq * D + i] - oRef[i]));
      routedApart = std::max(routedApart, std::fabs(oDense[i] - oRef[i]));
    }
    // 3. Eviction: each KV head's kept rows move to positions 0..n-1.
    int64_t n = std::min<int64_t>(len, kBudget);
    newLens[b] = static_cast<int32_t>(n);
    for (int64_t h = 0; h < Hkv; ++h) {
      std::vector<double> kh(kb.begin() + h * len * D,
                             kb.begin() + (h + 1) * len * D);
      std::vector<int64_t> kept = snapkvKept(qb, kh, len, h);
      ASSERT_EQ(static_cast<int64_t>(kept.size()), n);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t d = 0; d < D; ++d) {
          kWant[row(slotOf(b, i), h) + d] =
              kDec[row(slotOf(b, kept[i]), h) + d];
          vWant[row(slotOf(b, i), h) + d] =
              vDec[row(slotOf(b, kept[i]), h) + d];
        }
      // 4. The new token at position n: its own round trip.
      for (int64_t d = 0; d < D; ++d) {
        kWant[row(slotOf(b, n), h) + d] = kTok[(b * Hkv + h) * D + d];
        vWant[row(slotOf(b, n), h) + d] = vTok[(b * Hkv + h) * D + d];
      }
    }
  }
  // bf16 output from f32 accumulation over the same decoded cache: a few
  // bf16 ulps of the output's scale.
  EXPECT_LE(worst / scale, 1e-2);
  // The routing dropped blocks and that changed the answer: a step that
  // ignored the mask would fail the comparison above.
  EXPECT_GT(blocksSkipped, 0);
  EXPECT_GT(routedApart / scale, 5e-2);

  const auto *gotLens = static_cast<const int32_t *>(out.back().data());
  EXPECT_EQ(std::vector<int32_t>(gotLens, gotLens + B), newLens);
  std::vector<HostTensor> caches(std::make_move_iterator(out.begin() + 1),
                                 std::make_move_iterator(out.end() - 1));
  std::vector<HostTensor> decoded = run(*unpack, caches);
  ASSERT_EQ(decoded.size(), 2u);
  std::vector<double> kGot = valuesOf(decoded[0]), vGot = valuesOf(decoded[1]);
  int64_t kBad = 0, vBad = 0;
  for (size_t i = 0; i < kGot.size(); ++i) {
    kBad += kGot[i] != kWant[i];
    vBad += vGot[i] != vWant[i];
  }
  EXPECT_EQ(kBad, 0) << "K elements differing from the reference cache";
  EXPECT_EQ(vBad, 0) << "V elements differing from the reference cache";
}

} // namespace

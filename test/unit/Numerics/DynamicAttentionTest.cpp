//===- DynamicAttentionTest.cpp - One compiled module, many lengths -------===//
//
// tessera.attention with `?` batch and sequence lengths: compiled once, called
// at several (B, Sq, Skv), each result against the naive reference; sizes that
// must agree but are only known at run time are rejected with a message.
//
//===----------------------------------------------------------------------===//
#include "Harness.h"
#include "Reference.h"

#include <cmath>

using namespace tessera;
using namespace tessera::test;

namespace {

/// (B, Sq, Skv) per call: decode (Sq = 1), Sq > Skv (rows that see no key
/// under causal), lengths that are no multiple of any tile, a 4k cache.
struct Lengths {
  int64_t B, Sq, Skv;
};
const Lengths kCalls[] = {
    {1, 1, 1}, {2, 77, 133}, {1, 133, 77}, {3, 1, 1000}, {1, 40, 4099}};

std::string dynamicModule(const char *elt, const std::string &attrs,
                          bool mask) {
  std::string q = std::string("tensor<?x8x?x64x") + elt + ">";
  std::string kv = std::string("tensor<?x2x?x64x") + elt + ">";
  std::string l = "tensor<?x8x?xf32>";
  std::string m = "tensor<1x2x?x?xi32>";
  return "func.func @attn(%q: " + q + ", %k: " + kv + ", %v: " + kv +
         (mask ? ", %m: " + m : "") + ") -> (" + q + ", " + l + ") {\n" +
         "  %o, %l = tessera.attention %q, %k, %v" +
         (mask ? " mask(%m : " + m + ")" : "") + " {" + attrs + "} : " + q +
         ", " + kv + ", " + kv + " -> " + q + ", " + l + "\n" +
         "  return %o, %l : " + q + ", " + l + "\n}\n";
}

/// Max |x - ref| / max |ref| over O, and whether rows without keys are 0/-inf.
void expectMatches(const std::vector<HostTensor> &out,
                   const std::vector<double> &oRef,
                   const std::vector<double> &lseRef, double tol,
                   const std::string &what) {
  ASSERT_EQ(out.size(), 2u);
  std::vector<double> o = valuesOf(out[0]), lse = valuesOf(out[1]);
  ASSERT_EQ(o.size(), oRef.size()) << what;
  ASSERT_EQ(lse.size(), lseRef.size()) << what;
  double scale = 1e-30, worst = 0;
  for (double x : oRef)
    scale = std::max(scale, std::fabs(x));
  for (size_t i = 0; i < o.size(); ++i) {
    ASSERT_FALSE(std::isnan(o[i])) << what << ": NaN in O at " << i;
    worst = std::max(worst, std::fabs(o[i] - oRef[i]) / scale);
  }
  EXPECT_LE(worst, tol) << what;
  for (size_t i = 0; i < lse.size(); ++i) {
    if (std::isinf(lseRef[i])) {
      EXPECT_TRUE(std::isinf(lse[i]) && lse[i] < 0) << what << " row " << i;
      continue;
    }
    EXPECT_LE(std::fabs(lse[i] - lseRef[i]), tol * (1 + std::fabs(lseRef[i])))
        << what << " LSE row " << i;
  }
}

void runAtEveryLength(DType dtype, bool causal, std::optional<int64_t> window) {
  std::string attrs;
  if (causal)
    attrs += "causal";
  if (window)
    attrs += std::string(attrs.empty() ? "" : ", ") +
             "window = " + std::to_string(*window);
  auto compiled = compileOrFail(
      dynamicModule(dtype == DType::F32 ? "f32" : "bf16", attrs, false));
  ASSERT_TRUE(compiled);
  const EntryABI &e = compiled->entries().front();
  ASSERT_EQ(e.inputs[0].shape,
            (std::vector<int64_t>{kDynamicDim, 8, kDynamicDim, 64}));
  std::mt19937_64 rng(12345 + static_cast<int>(dtype));
  for (const Lengths &n : kCalls) {
    reference::Attention ref;
    ref.B = n.B, ref.Hq = 8, ref.Hkv = 2, ref.Sq = n.Sq, ref.Skv = n.Skv;
    ref.D = ref.Dv = 64;
    ref.causal = causal;
    ref.window = window;
    auto qv = randomValues(n.B * 8 * n.Sq * 64, dtype, rng);
    auto kv = randomValues(n.B * 2 * n.Skv * 64, dtype, rng);
    auto vv = randomValues(n.B * 2 * n.Skv * 64, dtype, rng);
    std::vector<HostTensor> in;
    in.push_back(makeTensor(dtype, {n.B, 8, n.Sq, 64}, qv));
    in.push_back(makeTensor(dtype, {n.B, 2, n.Skv, 64}, kv));
    in.push_back(makeTensor(dtype, {n.B, 2, n.Skv, 64}, vv));
    std::vector<double> oRef, lseRef;
    reference::attention(ref, qv, kv, vv, oRef, lseRef);
    std::vector<HostTensor> out = run(*compiled, in);
    ASSERT_EQ(out[0].shape(), (std::vector<int64_t>{n.B, 8, n.Sq, 64}));
    expectMatches(out, oRef, lseRef, dtype == DType::F32 ? 1e-5 : 1e-2,
                  "B=" + std::to_string(n.B) + " Sq=" + std::to_string(n.Sq) +
                      " Skv=" + std::to_string(n.Skv));
  }
}

TEST(DynamicAttention, DenseF32AtFiveLengths) {
  runAtEveryLength(DType::F32, false, std::nullopt);
}

TEST(DynamicAttention, CausalWindowGqaF32AtFiveLengths) {
  runAtEveryLength(DType::F32, true, 50);
}

TEST(DynamicAttention, CausalBF16AtFiveLengths) {
  runAtEveryLength(DType::BF16, true, std::nullopt);
}

/// A run-time block mask: its grid follows the lengths of each call.
TEST(DynamicAttention, PackedMaskFollowsTheLengths) {
  auto compiled = compileOrFail(dynamicModule("f32", "causal", true));
  ASSERT_TRUE(compiled);
  std::mt19937_64 rng(7);
  std::bernoulli_distribution on(0.6);
  for (const Lengths &n : {Lengths{1, 100, 300}, Lengths{2, 64, 2100}}) {
    int64_t qb = (n.Sq + 63) / 64, kb = (n.Skv + 63) / 64,
            words = (kb + 31) / 32;
    reference::Attention ref;
    ref.B = n.B, ref.Hq = 8, ref.Hkv = 2, ref.Sq = n.Sq, ref.Skv = n.Skv;
    ref.D = ref.Dv = 64;
    ref.causal = true;
    ref.maskHeads = 2;
    ref.blockMask.resize(2 * qb * kb);
    for (auto &bit : ref.blockMask)
      bit = on(rng);
    auto qv = randomValues(n.B * 8 * n.Sq * 64, DType::F32, rng);
    auto kv = randomValues(n.B * 2 * n.Skv * 64, DType::F32, rng);
    auto vv = randomValues(n.B * 2 * n.Skv * 64, DType::F32, rng);
    std::vector<HostTensor> in;
    in.push_back(makeTensor(DType::F32, {n.B, 8, n.Sq, 64}, qv));
    in.push_back(makeTensor(DType::F32, {n.B, 2, n.Skv, 64}, kv));
    in.push_back(makeTensor(DType::F32, {n.B, 2, n.Skv, 64}, vv));
    HostTensor m(DType::I32, {1, 2, qb, words});
    auto *w = static_cast<uint32_t *>(m.data());
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t r = 0; r < qb; ++r)
        for (int64_t j = 0; j < kb; ++j)
          if (ref.blockMask[(h * qb + r) * kb + j])
            w[(h * qb + r) * words + j / 32] |= 1u << (j % 32);
    in.push_back(std::move(m));
    std::vector<double> oRef, lseRef;
    reference::attention(ref, qv, kv, vv, oRef, lseRef);
    expectMatches(run(*compiled, in), oRef, lseRef, 1e-5,
                  "mask at Skv=" + std::to_string(n.Skv));
  }
}

/// Sizes that only the call reveals are checked by the compiled code: the
/// call fails with a message naming the rule and the op's location.
TEST(DynamicAttention, RunTimeSizeMismatchesAreErrors) {
  auto compiled = compileOrFail(dynamicModule("f32", "causal", true));
  ASSERT_TRUE(compiled);
  auto make = [](std::vector<int64_t> shape, DType dt = DType::F32) {
    HostTensor t(dt, std::move(shape));
    return t;
  };
  struct Bad {
    std::vector<std::vector<int64_t>> shapes;
    const char *message;
  } bad[] = {
      {{{1, 8, 10, 64}, {1, 2, 70, 64}, {1, 2, 69, 64}, {1, 2, 1, 1}},
       "key length differs from the value length (got 70, expected 69)"},
      {{{2, 8, 10, 64}, {1, 2, 70, 64}, {1, 2, 70, 64}, {1, 2, 1, 1}},
       "key batch differs from the query batch"},
      {{{1, 8, 10, 64}, {1, 2, 70, 64}, {1, 2, 70, 64}, {1, 2, 1, 1}},
       "mask has the wrong number of i32 words"},
      {{{1, 8, 65, 64}, {1, 2, 70, 64}, {1, 2, 70, 64}, {1, 2, 1, 1}},
       "mask has the wrong number of query blocks"},
  };
  // The third case: 70 keys are 2 blocks, 1 word: that one is right; make it
  // wrong with 2 words.
  bad[2].shapes[3] = {1, 2, 1, 2};
  for (const Bad &b : bad) {
    std::vector<HostTensor> in;
    for (size_t i = 0; i < 3; ++i)
      in.push_back(make(b.shapes[i]));
    in.push_back(make(b.shapes[3], DType::I32));
    std::string error;
    run(*compiled, in, &error);
    EXPECT_NE(error.find(b.message), std::string::npos)
        << "expected '" << b.message << "', got: " << error;
    EXPECT_NE(error.find("test.mlir:2:"), std::string::npos)
        << "the message names the op's location: " << error;
  }
}

} // namespace

namespace {

/// The rotate-pack-attend composition (examples/kv_int4_attention.mlir) with
/// `shape` types for Q [B, 8, Sq, 64] and K/V [B, 2, Skv, 64].
std::string composed(const std::string &b, const std::string &sq,
                     const std::string &skv) {
  std::string q = "tensor<" + b + "x8x" + sq + "x64xf32>";
  std::string kv = "tensor<" + b + "x2x" + skv + "x64xf32>";
  std::string k4 = "!tessera.qtensor<" + b + "x2x" + skv +
                   "x64xf32, #tessera.quant<int, bits = 4, group = 32>>";
  std::string v8 = "!tessera.qtensor<" + b + "x2x" + skv +
                   "x64xf32, #tessera.quant<int, bits = 8>>";
  std::string l = "tensor<" + b + "x8x" + sq + "xf32>";
  return "func.func @f(%q: " + q + ", %k: " + kv + ", %v: " + kv + ") -> (" +
         q + ", " + l + ", " + kv + ") {\n" +
         "  %qr = tessera.hadamard %q {seed = 7} : " + q + "\n" +
         "  %kr = tessera.hadamard %k {seed = 7} : " + kv + "\n" +
         "  %kp = tessera.quantize %kr : " + kv + " -> " + k4 + "\n" +
         "  %vp = tessera.quantize %v : " + kv + " -> " + v8 + "\n" +
         "  %kd = tessera.dequantize %kp : " + k4 + " -> " + kv + "\n" +
         "  %o, %lse = tessera.attention %qr, %kp, %vp {causal, window = 90} "
         ": " +
         q + ", " + k4 + ", " + v8 + " -> " + q + ", " + l + "\n" +
         "  return %o, %lse, %kd : " + q + ", " + l + ", " + kv + "\n}\n";
}

/// Hadamard, quantize and dequantize take run-time leading dims too: the
/// composition compiled once with `?` gives, at each length, exactly what the
/// same module compiled for that length's static shapes gives.
TEST(DynamicRowOps, ComposedDecodeEqualsStaticCompiles) {
  auto dynamic = compileOrFail(composed("?", "?", "?"));
  ASSERT_TRUE(dynamic);
  std::mt19937_64 rng(77);
  for (const Lengths &n : {Lengths{1, 1, 300}, Lengths{2, 33, 130}}) {
    auto fixed = compileOrFail(composed(
        std::to_string(n.B), std::to_string(n.Sq), std::to_string(n.Skv)));
    ASSERT_TRUE(fixed);
    auto qv = randomValues(n.B * 8 * n.Sq * 64, DType::F32, rng);
    auto kv = randomValues(n.B * 2 * n.Skv * 64, DType::F32, rng);
    auto vv = randomValues(n.B * 2 * n.Skv * 64, DType::F32, rng);
    auto inputs = [&] {
      std::vector<HostTensor> in;
      in.push_back(makeTensor(DType::F32, {n.B, 8, n.Sq, 64}, qv));
      in.push_back(makeTensor(DType::F32, {n.B, 2, n.Skv, 64}, kv));
      in.push_back(makeTensor(DType::F32, {n.B, 2, n.Skv, 64}, vv));
      return in;
    };
    std::vector<HostTensor> a = inputs(), c = inputs();
    std::vector<HostTensor> outD = run(*dynamic, a), outS = run(*fixed, c);
    ASSERT_EQ(outD.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      ASSERT_EQ(outD[i].shape(), outS[i].shape()) << "output " << i;
      std::vector<double> x = valuesOf(outD[i]), y = valuesOf(outS[i]);
      for (size_t j = 0; j < x.size(); ++j)
        ASSERT_TRUE(x[j] == y[j] || (std::isnan(x[j]) && std::isnan(y[j])))
            << "output " << i << " element " << j << ": " << x[j] << " vs "
            << y[j] << " at Skv = " << n.Skv;
    }
  }
}

} // namespace

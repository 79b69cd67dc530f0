//===- ExamplesTest.cpp - Each example reproduces its reference -----------===//
//
// examples/kv_int4_attention.mlir: rotate Q and K by the seeded Hadamard, pack
// K as 4-bit groups of 32 and V as 8-bit rows, attend causally with a 128-token
// window. The reference composes the independent Hadamard, int quantization and
// attention references. The kernel rotates in f32 while the reference rotates
// in double, so a K value within an ulp of a rounding boundary may land on the
// neighbouring 4-bit level; the tolerance (2e-3 of the output scale) covers a
// few such flips and nothing larger.
//
//===----------------------------------------------------------------------===//
#include "Harness.h"
#include "Reference.h"

#include <cmath>
#include <fstream>
#include <sstream>

using namespace tessera;
using namespace tessera::test;

namespace {

std::string readExample(const std::string &name) {
  std::ifstream in(std::string(TESSERA_SOURCE_DIR) + "/examples/" + name);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(Examples, KvInt4AttentionMatchesComposedReference) {
  std::string source = readExample("kv_int4_attention.mlir");
  ASSERT_FALSE(source.empty());
  auto m = compileOrFail(source);
  ASSERT_TRUE(m);
  const int64_t Hq = 8, Hkv = 2, Sq = 16, Skv = 256, D = 128;
  std::mt19937_64 rng(2026);
  auto q = randomValues(Hq * Sq * D, DType::F32, rng);
  auto k = randomValues(Hkv * Skv * D, DType::F32, rng);
  auto v = randomValues(Hkv * Skv * D, DType::F32, rng);
  std::vector<HostTensor> in;
  in.push_back(makeTensor(DType::F32, {1, Hq, Sq, D}, q));
  in.push_back(makeTensor(DType::F32, {1, Hkv, Skv, D}, k));
  in.push_back(makeTensor(DType::F32, {1, Hkv, Skv, D}, v));
  std::vector<HostTensor> out = run(*m, in);

  std::vector<double> qr = reference::hadamard(q, D, 7, false);
  std::vector<double> kr = reference::hadamard(k, D, 7, false);
  std::vector<double> kDeq, vDeq;
  for (int64_t r = 0; r < Hkv * Skv; ++r) {
    std::vector<float> krow(kr.begin() + r * D, kr.begin() + (r + 1) * D);
    std::vector<float> vrow(v.begin() + r * D, v.begin() + (r + 1) * D);
    auto kq = reference::quantizeInt(krow, 4, 32, true);
    auto vq = reference::quantizeInt(vrow, 8, 0, true);
    kDeq.insert(kDeq.end(), kq.dequantized.begin(), kq.dequantized.end());
    vDeq.insert(vDeq.end(), vq.dequantized.begin(), vq.dequantized.end());
  }
  reference::Attention a;
  a.B = 1, a.Hq = Hq, a.Hkv = Hkv, a.Sq = Sq, a.Skv = Skv, a.D = D, a.Dv = D;
  a.causal = true;
  a.window = 128;
  std::vector<double> oRef, lseRef;
  reference::attention(a, qr, kDeq, vDeq, oRef, lseRef);

  std::vector<double> o = valuesOf(out[0]), lse = valuesOf(out[1]);
  double scale = 0, worst = 0, worstL = 0;
  for (double x : oRef)
    scale = std::max(scale, std::fabs(x));
  for (size_t i = 0; i < o.size(); ++i)
    worst = std::max(worst, std::fabs(o[i] - oRef[i]) / scale);
  for (size_t i = 0; i < lse.size(); ++i)
    worstL = std::max(worstL, std::fabs(lse[i] - lseRef[i]) /
                                  (1 + std::fabs(lseRef[i])));
  EXPECT_LE(worst, 2e-3);
  EXPECT_LE(worstL, 2e-3);
  // Without the rotation and packing the answer is clearly different: the test
  // can fail.
  std::vector<double> oPlain, lsePlain;
  reference::attention(a, q, k, v, oPlain, lsePlain);
  double apart = 0;
  for (size_t i = 0; i < o.size(); ++i)
    apart = std::max(apart, std::fabs(o[i] - oPlain[i]) / scale);
  EXPECT_GT(apart, 1e-2);
}

// examples/k3v3_decode.mlir: its output equals reference attention over the
// K/V its own quantizers produce (a module packing and unpacking the same
// cache with the example's two schemes, whose codecs CodecNumericsTest checks
// against ALGORITHMS.md), and differs from attention over the f32 cache by
// the quantization error only.
TEST(Examples, K3V3DecodeMatchesAttentionOverItsPackedCache) {
  std::string source = readExample("k3v3_decode.mlir");
  ASSERT_FALSE(source.empty());
  auto m = compileOrFail(source);
  ASSERT_TRUE(m);
  // The example's schemes, read from its own text.
  auto attrOf = [&](const std::string &scheme) {
    size_t at = source.find("#tessera.quant<" + scheme);
    size_t end = source.find(">>", at);
    return source.substr(at, end + 1 - at);
  };
  std::string kAttr = attrOf("block_gtq"), vAttr = attrOf("tq_mse");
  const int64_t Hq = 8, Hkv = 2, Skv = 300, D = 64;
  std::string t = "tensor<1x2x300x64xbf16>";
  auto roundTrip = [&](const std::string &attr) {
    std::string qt = "!tessera.qtensor<1x2x300x64xbf16, " + attr + ">";
    return "func.func @r(%x: " + t + ") -> " + t +
           " {\n  %p = tessera.quantize %x : " + t + " -> " + qt +
           "\n  %y = tessera.dequantize %p : " + qt + " -> " + t +
           "\n  return %y : " + t + "\n}\n";
  };
  auto kRound = compileOrFail(roundTrip(kAttr));
  auto vRound = compileOrFail(roundTrip(vAttr));
  ASSERT_TRUE(kRound && vRound);
  std::mt19937_64 rng(33);
  auto q = randomValues(Hq * D, DType::BF16, rng);
  auto k = randomValues(Hkv * Skv * D, DType::BF16, rng);
  auto v = randomValues(Hkv * Skv * D, DType::BF16, rng);
  std::vector<HostTensor> in;
  in.push_back(makeTensor(DType::BF16, {1, Hq, 1, D}, q));
  in.push_back(makeTensor(DType::BF16, {1, Hkv, Skv, D}, k));
  in.push_back(makeTensor(DType::BF16, {1, Hkv, Skv, D}, v));
  std::vector<HostTensor> out = run(*m, in);
  std::vector<HostTensor> kin, vin;
  kin.push_back(makeTensor(DType::BF16, {1, Hkv, Skv, D}, k));
  vin.push_back(makeTensor(DType::BF16, {1, Hkv, Skv, D}, v));
  std::vector<double> kDeq = valuesOf(run(*kRound, kin)[0]);
  std::vector<double> vDeq = valuesOf(run(*vRound, vin)[0]);

  reference::Attention a;
  a.B = 1, a.Hq = Hq, a.Hkv = Hkv, a.Sq = 1, a.Skv = Skv, a.D = D, a.Dv = D;
  a.causal = true;
  std::vector<double> oRef, lseRef, oF32, lseF32;
  reference::attention(a, q, kDeq, vDeq, oRef, lseRef);
  reference::attention(a, q, k, v, oF32, lseF32);
  std::vector<double> o = valuesOf(out[0]), lse = valuesOf(out[1]);
  double scale = 0, worst = 0, worstL = 0, apart = 0;
  for (double x : oRef)
    scale = std::max(scale, std::fabs(x));
  for (size_t i = 0; i < o.size(); ++i) {
    worst = std::max(worst, std::fabs(o[i] - oRef[i]) / scale);
    apart = std::max(apart, std::fabs(o[i] - oF32[i]) / scale);
  }
  for (size_t i = 0; i < lse.size(); ++i)
    worstL = std::max(worstL, std::fabs(lse[i] - lseRef[i]));
  // bf16 output and bf16 rotated queries: a few bf16 ulps.
  EXPECT_LE(worst, 1e-2);
  EXPECT_LE(worstL, 1e-2);
  // The packed cache is a 3-bit approximation: clearly not the f32 answer,
  // and not far from it either.
  EXPECT_GT(apart, 2e-2);
  EXPECT_LT(apart, 0.6);
}

} // namespace

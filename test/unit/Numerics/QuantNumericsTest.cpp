//===- QuantNumericsTest.cpp - Int quantization and packed-KV attention ---===//
//
// The compiled quantize must produce exactly the reference's bytes, scales and
// zero points (the op fixes the float arithmetic), dequantize must invert them
// exactly, a packed tensor must cross an entry boundary as its components, and
// attention over packed K/V must equal attention over the dequantized values.
//
//===----------------------------------------------------------------------===//
#include "Harness.h"
#include "Reference.h"

#include <cstring>
#include <sstream>

using namespace tessera;
using namespace tessera::test;

namespace {

struct QCase {
  int bits;
  int64_t group;
  bool symmetric;
};

std::string quantAttr(const QCase &c) {
  std::ostringstream os;
  os << "#tessera.quant<int, bits = " << c.bits;
  if (c.group)
    os << ", group = " << c.group;
  os << (c.symmetric ? ", symmetric>" : ", asymmetric>");
  return os.str();
}

class IntQuant : public ::testing::TestWithParam<QCase> {};

TEST_P(IntQuant, PacksLikeTheReferenceAndRoundTrips) {
  const QCase c = GetParam();
  const int64_t rows = 5, d = 64;
  std::string qt = "!tessera.qtensor<5x64xf32, " + quantAttr(c) + ">";
  std::string mlir = "func.func @q(%x: tensor<5x64xf32>) -> (" + qt +
                     ", tensor<5x64xf32>) {\n"
                     "  %p = tessera.quantize %x : tensor<5x64xf32> -> " +
                     qt +
                     "\n"
                     "  %y = tessera.dequantize %p : " +
                     qt +
                     " -> tensor<5x64xf32>\n"
                     "  return %p, %y : " +
                     qt + ", tensor<5x64xf32>\n}\n";
  auto m = compileOrFail(mlir);
  ASSERT_TRUE(m);
  const EntryABI &abi = m->entries().front();
  ASSERT_EQ(abi.outputs.size(), c.symmetric ? 3u : 4u);
  EXPECT_EQ(abi.outputs[0].name, "result0.codes");
  EXPECT_EQ(abi.outputs[1].name, "result0.scales");

  std::mt19937_64 rng(c.bits * 100 + c.group + c.symmetric);
  auto x = randomValues(rows * d, DType::F32, rng);
  x[3] = x[4] = 0; // some exact zeros; a constant group below
  for (int64_t j = 0; j < (c.group ? c.group : d); ++j)
    x[4 * d + j] = 0.25;
  std::vector<HostTensor> in;
  in.push_back(makeTensor(DType::F32, {rows, d}, x));
  std::vector<HostTensor> out = run(*m, in);

  int64_t bytes = (d * c.bits + 7) / 8, groups = c.group ? d / c.group : 1;
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<float> row(x.begin() + r * d, x.begin() + (r + 1) * d);
    reference::IntQuantized ref =
        reference::quantizeInt(row, c.bits, c.group, c.symmetric);
    const auto *codes = static_cast<const uint8_t *>(out[0].data()) + r * bytes;
    EXPECT_EQ(std::vector<uint8_t>(codes, codes + bytes), ref.codes)
        << "row " << r;
    const auto *scales = static_cast<const float *>(out[1].data()) + r * groups;
    EXPECT_EQ(std::vector<float>(scales, scales + groups), ref.scales)
        << "row " << r;
    if (!c.symmetric) {
      const auto *zeros =
          static_cast<const float *>(out[2].data()) + r * groups;
      EXPECT_EQ(std::vector<float>(zeros, zeros + groups), ref.zeros)
          << "row " << r;
    }
    const auto *y = static_cast<const float *>(out.back().data()) + r * d;
    EXPECT_EQ(std::vector<float>(y, y + d), ref.dequantized) << "row " << r;
  }
}

INSTANTIATE_TEST_SUITE_P(
    BitsGroups, IntQuant,
    ::testing::Values(QCase{2, 16, true}, QCase{3, 0, true},
                      QCase{3, 32, false}, QCase{4, 32, true},
                      QCase{4, 16, false}, QCase{8, 0, true},
                      QCase{8, 64, false}, QCase{1, 32, false},
                      QCase{5, 16, false}),
    [](const ::testing::TestParamInfo<QCase> &info) {
      return "b" + std::to_string(info.param.bits) + "_g" +
             std::to_string(info.param.group) +
             (info.param.symmetric ? "_sym" : "_asym");
    });

// Rounding is C's roundf (halves away from zero), done in integer-free arith by
// the lowering (no libm/libdevice call): with min 0 and max 255 the 8-bit
// asymmetric scale is exactly 1, so the codes are round(x) of the values
// themselves, halves and their neighbours included.
TEST(IntQuantRounding, HalvesGoAwayFromZero) {
  std::string qt =
      "!tessera.qtensor<1x16xf32, #tessera.quant<int, bits = 8, asymmetric>>";
  auto m = compileOrFail("func.func @q(%x: tensor<1x16xf32>) -> " + qt +
                         " {\n"
                         "  %p = tessera.quantize %x : tensor<1x16xf32> -> " +
                         qt +
                         "\n"
                         "  return %p : " +
                         qt + "\n}\n");
  ASSERT_TRUE(m);
  const float below = std::nextafter(0.5f, 0.0f),
              above = std::nextafter(1.5f, 2.0f);
  std::vector<double> x{0,     255,   0.5,   1.5,   2.5,   126.5,
                        253.5, below, above, 2.25f, 3.75f, 254.5f,
                        7.0f,  0.75f, 99.5f, 100.5f};
  std::vector<uint8_t> expected{0, 255, 1, 2,   3, 127, 254, 0,
                                2, 2,   4, 255, 7, 1,   100, 101};
  std::vector<HostTensor> in;
  in.push_back(makeTensor(DType::F32, {1, 16}, x));
  std::vector<HostTensor> out = run(*m, in);
  const auto *codes = static_cast<const uint8_t *>(out[0].data());
  EXPECT_EQ(std::vector<uint8_t>(codes, codes + 16), expected);
  EXPECT_EQ(static_cast<const float *>(out[1].data())[0], 1.0f) << "scale";
}

// Known bytes: 4-bit codes go two per byte, low nibble first; 3-bit codes 8 per
// 3 bytes.
TEST(IntQuantLayout, NibbleAndThreeBitPacking) {
  std::vector<float> ramp{-7, -6, -5, -4, -3, -2, -1, 0};
  reference::IntQuantized q4 = reference::quantizeInt(ramp, 4, 0, true);
  // scale 1; codes q + 8 = 1..8 -> bytes 0x21, 0x43, 0x65, 0x87.
  EXPECT_EQ(q4.codes, (std::vector<uint8_t>{0x21, 0x43, 0x65, 0x87}));
  std::vector<float> r3{0, 1, 2, 3, 4, 5, 6, 7};
  reference::IntQuantized q3 = reference::quantizeInt(r3, 3, 0, false);
  // codes c_i = i: b0 = c0|c1<<3|c2<<6, b1 = c2>>2|c3<<1|c4<<4|c5<<7, b2 =
  // c5>>1|c6<<2|c7<<5.
  uint8_t b0 = 0 | 1 << 3 | (2 << 6 & 0xFF),
          b1 = 2 >> 2 | 3 << 1 | 4 << 4 | (5 << 7 & 0xFF),
          b2 = 5 >> 1 | 6 << 2 | (7 << 5 & 0xFF);
  EXPECT_EQ(q3.codes, (std::vector<uint8_t>{b0, b1, b2}));

  auto m = compileOrFail("func.func @q(%x: tensor<1x8xf32>) -> "
                         "!tessera.qtensor<1x8xf32, #tessera.quant<int, "
                         "bits = 3, asymmetric>> {\n  %p = tessera.quantize %x "
                         ": tensor<1x8xf32> -> "
                         "!tessera.qtensor<1x8xf32, #tessera.quant<int, bits = "
                         "3, asymmetric>>\n  return %p : "
                         "!tessera.qtensor<1x8xf32, #tessera.quant<int, bits = "
                         "3, asymmetric>>\n}\n");
  ASSERT_TRUE(m);
  std::vector<HostTensor> in;
  in.push_back(makeTensor(DType::F32, {1, 8}, {0, 1, 2, 3, 4, 5, 6, 7}));
  std::vector<HostTensor> out = run(*m, in);
  const auto *codes = static_cast<const uint8_t *>(out[0].data());
  EXPECT_EQ(std::vector<uint8_t>(codes, codes + 3),
            (std::vector<uint8_t>{b0, b1, b2}));
}

// A packed tensor crosses the entry boundary as its components: here the caller
// hands in codes and scales it packed itself.
TEST(IntQuantBoundary, DequantizeCallerPackedComponents) {
  std::string qt =
      "!tessera.qtensor<3x32xf32, #tessera.quant<int, bits = 4, group = 8>>";
  auto m = compileOrFail("func.func @dq(%p: " + qt +
                         ") -> tensor<3x32xf32> {\n  %y = "
                         "tessera.dequantize %p : " +
                         qt +
                         " -> tensor<3x32xf32>\n  return %y : "
                         "tensor<3x32xf32>\n}\n");
  ASSERT_TRUE(m);
  const EntryABI &abi = m->entries().front();
  ASSERT_EQ(abi.inputs.size(), 2u);
  EXPECT_EQ(abi.inputs[0].str(), "arg0.codes: i8[3, 16]");
  EXPECT_EQ(abi.inputs[1].str(), "arg0.scales: f32[3, 4]");
  std::mt19937_64 rng(3);
  auto x = randomValues(3 * 32, DType::F32, rng);
  HostTensor codes(DType::I8, {3, 16}), scales(DType::F32, {3, 4});
  std::vector<float> expected;
  for (int r = 0; r < 3; ++r) {
    reference::IntQuantized q = reference::quantizeInt(
        std::vector<float>(x.begin() + r * 32, x.begin() + (r + 1) * 32), 4, 8,
        true);
    std::memcpy(static_cast<uint8_t *>(codes.data()) + r * 16, q.codes.data(),
                16);
    std::memcpy(static_cast<float *>(scales.data()) + r * 4, q.scales.data(),
                16);
    expected.insert(expected.end(), q.dequantized.begin(), q.dequantized.end());
  }
  std::vector<HostTensor> in;
  in.push_back(std::move(codes));
  in.push_back(std::move(scales));
  std::vector<HostTensor> out = run(*m, in);
  const auto *y = static_cast<const float *>(out[0].data());
  EXPECT_EQ(std::vector<float>(y, y + 96), expected);
}

// Attention reading int4 K and int8 V (packed by the caller) equals attention
// over the dequantized values.
TEST(PackedKVAttention, MatchesAttentionOnDequantizedValues) {
  const int64_t B = 1, Hq = 8, Hkv = 2, Sq = 19, Skv = 150, D = 64;
  std::string kq = "!tessera.qtensor<1x2x150x64xf32, #tessera.quant<int, bits "
                   "= 4, group = 32>>";
  std::string vq = "!tessera.qtensor<1x2x150x64xf32, #tessera.quant<int, bits "
                   "= 8, asymmetric>>";
  std::string mlir =
      "func.func @a(%q: tensor<1x8x19x64xf32>, %k: " + kq + ", %v: " + vq +
      ") -> (tensor<1x8x19x64xf32>, tensor<1x8x19xf32>) {\n  %o, %l = "
      "tessera.attention %q, %k, "
      "%v {causal, window = 100, block_q = 16, block_k = 32} : "
      "tensor<1x8x19x64xf32>, " +
      kq + ", " + vq +
      " -> tensor<1x8x19x64xf32>, tensor<1x8x19xf32>\n  return %o, %l : "
      "tensor<1x8x19x64xf32>, tensor<1x8x19xf32>\n}\n";
  auto m = compileOrFail(mlir);
  ASSERT_TRUE(m);
  std::mt19937_64 rng(11);
  auto q = randomValues(B * Hq * Sq * D, DType::F32, rng);
  auto k = randomValues(B * Hkv * Skv * D, DType::F32, rng);
  auto v = randomValues(B * Hkv * Skv * D, DType::F32, rng);
  HostTensor kCodes(DType::I8, {1, 2, 150, 32}),
      kScales(DType::F32, {1, 2, 150, 2});
  HostTensor vCodes(DType::I8, {1, 2, 150, 64}),
      vScales(DType::F32, {1, 2, 150, 1}), vZeros(DType::F32, {1, 2, 150, 1});
  std::vector<double> kDeq, vDeq;
  for (int64_t r = 0; r < Hkv * Skv; ++r) {
    auto kr = reference::quantizeInt(
        std::vector<float>(k.begin() + r * D, k.begin() + (r + 1) * D), 4, 32,
        true);
    auto vr = reference::quantizeInt(
        std::vector<float>(v.begin() + r * D, v.begin() + (r + 1) * D), 8, 0,
        false);
    std::memcpy(static_cast<uint8_t *>(kCodes.data()) + r * 32, kr.codes.data(),
                32);
    std::memcpy(static_cast<float *>(kScales.data()) + r * 2, kr.scales.data(),
                8);
    std::memcpy(static_cast<uint8_t *>(vCodes.data()) + r * 64, vr.codes.data(),
                64);
    static_cast<float *>(vScales.data())[r] = vr.scales[0];
    static_cast<float *>(vZeros.data())[r] = vr.zeros[0];
    kDeq.insert(kDeq.end(), kr.dequantized.begin(), kr.dequantized.end());
    vDeq.insert(vDeq.end(), vr.dequantized.begin(), vr.dequantized.end());
  }
  std::vector<HostTensor> in;
  in.push_back(makeTensor(DType::F32, {B, Hq, Sq, D}, q));
  in.push_back(std::move(kCodes));
  in.push_back(std::move(kScales));
  in.push_back(std::move(vCodes));
  in.push_back(std::move(vScales));
  in.push_back(std::move(vZeros));
  std::vector<HostTensor> out = run(*m, in);

  reference::Attention ref;
  ref.B = B, ref.Hq = Hq, ref.Hkv = Hkv, ref.Sq = Sq, ref.Skv = Skv, ref.D = D,
  ref.Dv = D;
  ref.causal = true;
  ref.window = 100;
  std::vector<double> oRef, lseRef;
  reference::attention(ref, q, kDeq, vDeq, oRef, lseRef);
  std::vector<double> o = valuesOf(out[0]);
  double scale = 0, worst = 0;
  for (double x : oRef)
    scale = std::max(scale, std::fabs(x));
  for (size_t i = 0; i < o.size(); ++i)
    worst = std::max(worst, std::fabs(o[i] - oRef[i]) / scale);
  EXPECT_LE(worst, 1e-5);
}

} // namespace

//===- AttentionNumericsTest.cpp - Compiled attention vs a naive reference ===//
//
// Fresh random inputs for each case; shapes that are not multiples of the tile
// sizes, Sq != Skv both ways, GQA 8:2 and 8:1, causal + window, block masks
// (boolean and bit-packed), fully masked rows, packed (int) K/V, f32/bf16/f16.
// Tolerances: f32 1e-5 relative to the output's scale; bf16/f16 1e-2, judged
// against the reference on the same rounded inputs.
//
//===----------------------------------------------------------------------===//
#include "Harness.h"
#include "Reference.h"

#include <cmath>
#include <limits>
#include <sstream>

using namespace tessera;
using namespace tessera::test;

namespace {

/// Constant: the mask is an arith.constant in the module, which
/// tessera-sparsify turns into a compile-time block list (the static-topology
/// path of the lowering).
enum class MaskKind { None, Bool, Packed, Constant };

struct Case {
  std::string name;
  int64_t B, Hq, Hkv, Sq, Skv, D, Dv;
  bool causal = false;
  std::optional<int64_t> window = std::nullopt;
  DType dtype = DType::F32;
  int64_t blockQ = 64, blockK = 64;
  MaskKind mask = MaskKind::None;
  int64_t maskHeads = 1;
  double density = 0.5; ///< fraction of enabled mask blocks
  std::optional<double> scale = std::nullopt;
  /// Query rows per work item (`tile = #tessera.tile<query = N>`); 0 leaves the
  /// choice to tessera-tile-attention.
  int64_t tileQ = 0;
};

/// `c` with an explicit query tile of `rows` (a divisor of its block_q),
/// renamed.
Case tiled(Case c, int64_t rows, const std::string &name) {
  c.tileQ = rows;
  c.name = name;
  return c;
}

std::ostream &operator<<(std::ostream &os, const Case &c) {
  return os << c.name;
}

const char *mlirType(DType d) {
  return d == DType::BF16 ? "bf16" : d == DType::F16 ? "f16" : "f32";
}

/// The test module: one entry `@attn(q, k, v[, mask]) -> (o, lse)`; a constant
/// mask holds `bits` (heads x query blocks x key blocks).
std::string moduleFor(const Case &c, const std::vector<uint8_t> &bits = {}) {
  std::string e = mlirType(c.dtype);
  auto t = [&](std::vector<int64_t> s, const std::string &elt) {
    return "tensor<" + dims(s) + "x" + elt + ">";
  };
  std::string q = t({c.B, c.Hq, c.Sq, c.D}, e),
              k = t({c.B, c.Hkv, c.Skv, c.D}, e),
              v = t({c.B, c.Hkv, c.Skv, c.Dv}, e),
              o = t({c.B, c.Hq, c.Sq, c.Dv}, e),
              l = t({c.B, c.Hq, c.Sq}, "f32");
  int64_t qb = (c.Sq + c.blockQ - 1) / c.blockQ,
          kb = (c.Skv + c.blockK - 1) / c.blockK;
  std::string m;
  if (c.mask == MaskKind::Bool)
    m = t({c.maskHeads, qb, kb}, "i1");
  if (c.mask == MaskKind::Packed)
    m = t({1, c.maskHeads, qb, (kb + 31) / 32}, "i32");
  std::string constant;
  if (c.mask == MaskKind::Constant) {
    std::ostringstream lit;
    lit << "  %m = arith.constant dense<[";
    for (int64_t h = 0; h < c.maskHeads; ++h) {
      lit << (h ? ", [" : "[");
      for (int64_t r = 0; r < qb; ++r) {
        lit << (r ? ", [" : "[");
        for (int64_t j = 0; j < kb; ++j)
          lit << (j ? ", " : "")
              << (bits[(h * qb + r) * kb + j] ? "true" : "false");
        lit << "]";
      }
      lit << "]";
    }
    lit << "]> : " << t({c.maskHeads, qb, kb}, "i1") << "\n";
    constant = lit.str();
  }
  std::string maskUse =
      m.empty() ? (constant.empty()
                       ? ""
                       : " mask(%m : " + t({c.maskHeads, qb, kb}, "i1") + ")")
                : " mask(%m : " + m + ")";
  std::vector<std::string> attrs;
  if (c.causal)
    attrs.push_back("causal");
  if (c.window)
    attrs.push_back("window = " + std::to_string(*c.window));
  if (c.scale) {
    std::ostringstream s;
    s.precision(9);
    s << std::fixed << *c.scale;
    attrs.push_back("scale = " + s.str() + " : f32");
  }
  attrs.push_back("block_q = " + std::to_string(c.blockQ));
  attrs.push_back("block_k = " + std::to_string(c.blockK));
  if (c.tileQ)
    attrs.push_back("tile = #tessera.tile<query = " + std::to_string(c.tileQ) +
                    ">");
  std::string a;
  for (size_t i = 0; i < attrs.size(); ++i)
    a += (i ? ", " : "") + attrs[i];
  std::ostringstream os;
  os << "func.func @attn(%q: " << q << ", %k: " << k << ", %v: " << v
     << (m.empty() ? "" : ", %m: " + m) << ") -> (" << o << ", " << l << ") {\n"
     << constant << "  %o, %l = tessera.attention %q, %k, %v" << maskUse << " {"
     << a << "} : " << q << ", " << k << ", " << v << " -> " << o << ", " << l
     << "\n"
     << "  return %o, %l : " << o << ", " << l << "\n}\n";
  return os.str();
}

class AttentionNumerics : public ::testing::TestWithParam<Case> {};

TEST_P(AttentionNumerics, MatchesNaiveReference) {
  const Case &c = GetParam();
  std::mt19937_64 rng(std::hash<std::string>()(c.name));
  std::vector<uint8_t> constantBits;
  if (c.mask == MaskKind::Constant) {
    int64_t qb = (c.Sq + c.blockQ - 1) / c.blockQ,
            kb = (c.Skv + c.blockK - 1) / c.blockK;
    std::bernoulli_distribution on(c.density);
    constantBits.resize(c.maskHeads * qb * kb);
    for (auto &bit : constantBits)
      bit = on(rng);
  }
  std::string mlir = moduleFor(c, constantBits);
  auto compiled = compileOrFail(mlir);
  ASSERT_TRUE(compiled);

  auto qv = randomValues(c.B * c.Hq * c.Sq * c.D, c.dtype, rng);
  auto kv = randomValues(c.B * c.Hkv * c.Skv * c.D, c.dtype, rng);
  auto vv = randomValues(c.B * c.Hkv * c.Skv * c.Dv, c.dtype, rng);
  std::vector<HostTensor> inputs;
  inputs.push_back(makeTensor(c.dtype, {c.B, c.Hq, c.Sq, c.D}, qv));
  inputs.push_back(makeTensor(c.dtype, {c.B, c.Hkv, c.Skv, c.D}, kv));
  inputs.push_back(makeTensor(c.dtype, {c.B, c.Hkv, c.Skv, c.Dv}, vv));

  reference::Attention ref;
  ref.B = c.B, ref.Hq = c.Hq, ref.Hkv = c.Hkv, ref.Sq = c.Sq, ref.Skv = c.Skv,
  ref.D = c.D, ref.Dv = c.Dv;
  ref.causal = c.causal;
  ref.window = c.window;
  ref.scale = c.scale;
  ref.blockQ = c.blockQ;
  ref.blockK = c.blockK;
  if (c.mask != MaskKind::None) {
    int64_t qb = (c.Sq + c.blockQ - 1) / c.blockQ,
            kb = (c.Skv + c.blockK - 1) / c.blockK;
    std::bernoulli_distribution on(c.density);
    ref.maskHeads = c.maskHeads;
    ref.blockMask.resize(c.maskHeads * qb * kb);
    for (auto &bit : ref.blockMask)
      bit = on(rng);
    if (c.mask == MaskKind::Constant) {
      ref.blockMask = constantBits;
    } else if (c.mask == MaskKind::Bool) {
      HostTensor m(DType::I1, {c.maskHeads, qb, kb});
      for (size_t i = 0; i < ref.blockMask.size(); ++i)
        static_cast<uint8_t *>(m.data())[i] = ref.blockMask[i];
      inputs.push_back(std::move(m));
    } else {
      int64_t words = (kb + 31) / 32;
      HostTensor m(DType::I32, {1, c.maskHeads, qb, words});
      auto *w = static_cast<uint32_t *>(m.data());
      for (int64_t h = 0; h < c.maskHeads; ++h)
        for (int64_t r = 0; r < qb; ++r)
          for (int64_t j = 0; j < kb; ++j)
            if (ref.blockMask[(h * qb + r) * kb + j])
              w[(h * qb + r) * words + j / 32] |= 1u << (j % 32);
      inputs.push_back(std::move(m));
    }
  }
  std::vector<double> oRef, lseRef;
  reference::attention(ref, qv, kv, vv, oRef, lseRef);

  std::vector<HostTensor> outputs = run(*compiled, inputs);
  ASSERT_EQ(outputs.size(), 2u);
  std::vector<double> o = valuesOf(outputs[0]), lse = valuesOf(outputs[1]);

  double tol = c.dtype == DType::F32 ? 1e-5 : 1e-2;
  double oScale = 1e-30;
  for (double x : oRef)
    oScale = std::max(oScale, std::fabs(x));
  double worstO = 0, worstL = 0;
  size_t maskedRows = 0;
  for (size_t i = 0; i < o.size(); ++i) {
    ASSERT_FALSE(std::isnan(o[i])) << "NaN in O at " << i;
    worstO = std::max(worstO, std::fabs(o[i] - oRef[i]) / oScale);
  }
  for (size_t i = 0; i < lse.size(); ++i) {
    ASSERT_FALSE(std::isnan(lse[i])) << "NaN in LSE at " << i;
    if (std::isinf(lseRef[i])) {
      ++maskedRows;
      EXPECT_TRUE(std::isinf(lse[i]) && lse[i] < 0)
          << "row " << i << " should be -inf";
      for (int64_t d = 0; d < c.Dv; ++d)
        EXPECT_EQ(o[i * c.Dv + d], 0.0)
            << "fully masked row " << i << " must give O = 0";
      continue;
    }
    worstL = std::max(worstL, std::fabs(lse[i] - lseRef[i]) /
                                  (1.0 + std::fabs(lseRef[i])));
  }
  EXPECT_LE(worstO, tol) << "max |O - ref| / max|ref| for " << c.name;
  EXPECT_LE(worstL, c.dtype == DType::F32 ? 1e-5 : 1e-3)
      << "LSE for " << c.name;
  RecordProperty("worst_o_rel", std::to_string(worstO));
  RecordProperty("masked_rows", std::to_string(maskedRows));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, AttentionNumerics,
    ::testing::Values(
        Case{"dense_77x133_d64", 2, 2, 2, 77, 133, 64, 64},
        Case{"decode_gqa8to2_d96", 1, 8, 2, 1, 77, 96, 96},
        Case{"causal_gqa8to1_d128", 1, 8, 1, 133, 133, 128, 128, true},
        Case{"causal_window50_77x200", 1, 4, 2, 77, 200, 64, 64, true, 50},
        Case{"causal_sq_gt_skv_masked_rows", 1, 2, 2, 200, 77, 64, 64, true},
        Case{"odd_head_dims_59_40", 1, 2, 1, 33, 45, 59, 40, false,
             std::nullopt, DType::F32, 16, 16},
        Case{"small_tiles_causal_window", 2, 4, 4, 130, 300, 32, 32, true, 37,
             DType::F32, 16, 32},
        Case{"bool_mask_kv_heads", 1, 8, 2, 130, 300, 64, 64, true,
             std::nullopt, DType::F32, 16, 32, MaskKind::Bool, 2},
        Case{"packed_mask_q_heads_44_blocks", 1, 4, 2, 40, 700, 64, 64, false,
             std::nullopt, DType::F32, 16, 16, MaskKind::Packed, 4, 0.3},
        Case{"mask_all_zero", 1, 2, 2, 64, 128, 64, 64, false, std::nullopt,
             DType::F32, 64, 64, MaskKind::Bool, 1, 0.0},
        Case{"constant_mask_causal_window_static_topology", 1, 4, 2, 150, 333,
             64, 64, true, 120, DType::F32, 32, 32, MaskKind::Constant, 4, 0.5},
        Case{"constant_mask_kv_heads_bf16", 2, 8, 2, 100, 260, 128, 128, false,
             std::nullopt, DType::BF16, 64, 64, MaskKind::Constant, 2, 0.4},
        Case{"explicit_scale", 1, 2, 2, 17, 29, 64, 64, false, std::nullopt,
             DType::F32, 64, 64, MaskKind::None, 1, 0.5, 0.3},
        Case{"bf16_causal_gqa_d128", 1, 8, 2, 77, 133, 128, 128, true,
             std::nullopt, DType::BF16},
        Case{"bf16_window_sq1", 2, 8, 1, 1, 300, 128, 128, true, 64,
             DType::BF16},
        Case{"f16_dense_d64", 1, 4, 4, 65, 65, 64, 64, false, std::nullopt,
             DType::F16},
        // Work items smaller than the mask blocks (tessera-tile-attention's CPU
        // choice for small problems): causal/window/mask/topology stay per mask
        // block, rows per tile.
        tiled(Case{"", 1, 8, 2, 133, 200, 64, 64, true, 90}, 16,
              "tile16_of_block64_causal_window_gqa"),
        tiled(Case{"", 1, 2, 2, 200, 77, 64, 64, true}, 8,
              "tile8_causal_sq_gt_skv_masked_rows"),
        tiled(Case{"", 1, 8, 2, 130, 300, 64, 64, true, std::nullopt,
                   DType::F32, 32, 32, MaskKind::Bool, 2},
              8, "tile8_of_block32_bool_mask_kv_heads"),
        tiled(Case{"", 1, 4, 2, 150, 333, 64, 64, true, 120, DType::F32, 32, 32,
                   MaskKind::Constant, 4, 0.5},
              16, "tile16_of_block32_static_topology"),
        tiled(Case{"", 1, 8, 2, 77, 133, 128, 128, true, std::nullopt,
                   DType::BF16},
              32, "tile32_bf16_causal_gqa_d128")),
    [](const ::testing::TestParamInfo<Case> &info) { return info.param.name; });

// A block mask with every bit set visits exactly the dense blocks in the same
// order, so it must reproduce dense attention bit for bit.
TEST(AttentionMask, AllOnesEqualsDenseExactly) {
  Case dense{"dense",      1,          4,  2, 100, 257, 64, 64, true,
             std::nullopt, DType::F32, 32, 32};
  Case masked = dense;
  masked.mask = MaskKind::Packed;
  masked.maskHeads = 2;
  auto a = compileOrFail(moduleFor(dense));
  auto b = compileOrFail(moduleFor(masked));
  ASSERT_TRUE(a && b);
  std::mt19937_64 rng(7);
  auto qv = randomValues(1 * 4 * 100 * 64, DType::F32, rng);
  auto kv = randomValues(1 * 2 * 257 * 64, DType::F32, rng);
  auto vv = randomValues(1 * 2 * 257 * 64, DType::F32, rng);
  std::vector<HostTensor> in;
  in.push_back(makeTensor(DType::F32, {1, 4, 100, 64}, qv));
  in.push_back(makeTensor(DType::F32, {1, 2, 257, 64}, kv));
  in.push_back(makeTensor(DType::F32, {1, 2, 257, 64}, vv));
  std::vector<HostTensor> denseOut = run(*a, in);
  HostTensor ones(DType::I32, {1, 2, 4, 1});
  for (int i = 0; i < 8; ++i)
    static_cast<uint32_t *>(ones.data())[i] = 0xFFFFFFFFu;
  in.push_back(std::move(ones));
  std::vector<HostTensor> maskedOut = run(*b, in);
  EXPECT_EQ(valuesOf(denseOut[0]), valuesOf(maskedOut[0]));
  EXPECT_EQ(valuesOf(denseOut[1]), valuesOf(maskedOut[1]));
}

} // namespace

//===- AttrTest.cpp - Parsing, printing and verifying tessera attributes --===//
#include "TestSupport.h"

#include "mlir/AsmParser/AsmParser.h"

using namespace mlir;
using namespace mlir::tessera;
using ::tessera::test::DialectTest;

namespace {

class AttrTest : public DialectTest {
protected:
  Attribute parse(StringRef text) { return parseAttribute(text, &ctx); }
};

TEST_F(AttrTest, QuantRoundTripsEveryScheme) {
  const char *canonical[] = {
      "#tessera.quant<int, bits = 8, symmetric>",
      "#tessera.quant<int, bits = 4, group = 32, asymmetric>",
      "#tessera.quant<tq_mse, bits = 3, rotation = hadamard, seed = 7, norm = "
      "f16>",
      "#tessera.quant<block_gtq, bits = [4, 2, 1, 1], rotation = haar, seed = "
      "0, norm = f32>",
      "#tessera.quant<lattice, lattice = d4, alpha = 0.75, rice, rotation = "
      "hadamard, seed = 2>",
      "#tessera.quant<graded, bits = 3>",
  };
  for (const char *text : canonical) {
    Attribute a = parse(text);
    ASSERT_TRUE(a) << text;
    EXPECT_EQ(print(a), text);
    EXPECT_EQ(parse(print(a)), a)
        << "uniqued attribute differs after a round trip: " << text;
  }
}

TEST_F(AttrTest, QuantDefaultsAndAccessors) {
  auto q = cast<QuantAttr>(parse("#tessera.quant<lattice, lattice = a2>"));
  EXPECT_EQ(q.getScheme(), QuantScheme::Lattice);
  EXPECT_EQ(q.getRotation(), Rotation::Hadamard);
  EXPECT_EQ(q.getLatticeDim(), 2);
  EXPECT_DOUBLE_EQ(q.getAlpha().convertToDouble(), 1.0);
  EXPECT_TRUE(q.isKVScheme());
  auto g = cast<QuantAttr>(parse("#tessera.quant<graded, bits = 4>"));
  EXPECT_FALSE(g.isKVScheme());
  EXPECT_EQ(g.getUniformBits(), 4);
  auto i = QuantAttr::get(&ctx, QuantScheme::Int, {6});
  EXPECT_EQ(print(i), "#tessera.quant<int, bits = 6, symmetric>");
}

// Only reachable from C++ (the parser rejects 'dither' outside lattice).
TEST_F(AttrTest, QuantVerifierRejectsDitherOutsideLattice) {
  LogicalResult verdict = QuantAttr::verify(
      [&] { return emitError(UnknownLoc::get(&ctx)); }, QuantScheme::TqMse,
      ArrayRef<int64_t>{3}, 0, true, Rotation::Hadamard, 0, LatticeKind::E8,
      llvm::APFloat(1.0), false, Float32Type::get(&ctx), /*dither=*/true);
  EXPECT_TRUE(failed(verdict));
  ASSERT_EQ(diags.size(), 1u);
  EXPECT_EQ(diags[0], "dither applies to lattice quantization only");
}

// Only reachable from C++ (the parser rejects 'bits' on lattice before
// building).
TEST_F(AttrTest, QuantVerifierRejectsBitsOnLattice) {
  LogicalResult verdict = QuantAttr::verify(
      [&] { return emitError(UnknownLoc::get(&ctx)); }, QuantScheme::Lattice,
      ArrayRef<int64_t>{4}, 0, true, Rotation::Hadamard, 0, LatticeKind::E8,
      llvm::APFloat(1.0), false, Float32Type::get(&ctx), /*dither=*/false);
  EXPECT_TRUE(failed(verdict));
  ASSERT_EQ(diags.size(), 1u);
  EXPECT_EQ(diags[0],
            "lattice quantization takes no 'bits' (its rate follows 'alpha')");
}

TEST_F(AttrTest, QuantHeadDimRules) {
  auto q =
      cast<QuantAttr>(parse("#tessera.quant<block_gtq, bits = [4, 2, 1, 1]>"));
  auto emit = [&] { return emitError(UnknownLoc::get(&ctx)); };
  EXPECT_TRUE(succeeded(q.verifyForHeadDim(emit, 8)));
  EXPECT_TRUE(failed(q.verifyForHeadDim(emit, 16)));
  ASSERT_EQ(diags.size(), 1u);
  EXPECT_EQ(diags[0], "block_gtq needs one bit width per RoPE block: expected "
                      "8 (head dim 16 / 2), got 4");
}

TEST_F(AttrTest, OptimizerRoundTripsAndDefaults) {
  const char *canonical[] = {
      "#tessera.optimizer<sgd, lr = 0.1, momentum = 0.9, dampening = 0.0, "
      "weight_decay = 0.0>",
      "#tessera.optimizer<adam, lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = "
      "1.0e-08, "
      "weight_decay = 0.0>",
      "#tessera.optimizer<adamw, lr = 3.0e-04, beta1 = 0.9, beta2 = 0.95, eps "
      "= 1.0e-08, "
      "weight_decay = 0.1, stochastic_rounding>",
  };
  for (const char *text : canonical) {
    Attribute a = parse(text);
    ASSERT_TRUE(a) << text;
    EXPECT_EQ(print(a), text);
  }
  auto adamw = OptimizerAttr::getDefault(&ctx, OptimizerKind::AdamW);
  EXPECT_EQ(adamw, parse("#tessera.optimizer<adamw>"));
  EXPECT_DOUBLE_EQ(adamw.getWeightDecay().convertToDouble(), 1e-2);
  EXPECT_EQ(adamw.getNumStateTensors(), 2u);
  EXPECT_EQ(
      OptimizerAttr::getDefault(&ctx, OptimizerKind::SGD).getNumStateTensors(),
      0u);
  EXPECT_EQ(
      cast<OptimizerAttr>(parse("#tessera.optimizer<sgd, momentum = 0.5>"))
          .getNumStateTensors(),
      1u);
}

TEST_F(AttrTest, OptimizerRejectsNonElementwiseFields) {
  EXPECT_FALSE(parse("#tessera.optimizer<adamw, max_grad_norm = 1.0>"));
  ASSERT_FALSE(diags.empty());
  EXPECT_NE(diags.back().find("global-norm clipping"), std::string::npos)
      << diags.back();
}

TEST_F(AttrTest, EnumAttrsPrintTheirKeyword) {
  EXPECT_EQ(print(EvictPolicyAttr::get(&ctx, EvictPolicy::CompressKV)),
            "#tessera<evict_policy compresskv>");
  EXPECT_EQ(parse("#tessera<pool max_min_avg>"),
            BlockPoolAttr::get(&ctx, BlockPool::MaxMinAvg));
  EXPECT_EQ(symbolizeEvictPolicy("h2o"), EvictPolicy::H2O);
  EXPECT_FALSE(symbolizeOptimizerKind("lamb").has_value());
}

} // namespace

//===- QTensorTest.cpp - !tessera.qtensor: storage layout of each scheme --===//
#include "TestSupport.h"

#include "mlir/AsmParser/AsmParser.h"

using namespace mlir;
using namespace mlir::tessera;
using ::tessera::test::DialectTest;

namespace {

class QTensorTest : public DialectTest {
protected:
  QTensorType qt(StringRef text) {
    return cast<QTensorType>(parseType(text, &ctx));
  }

  /// "name:shape xelt" for each storage component, e.g. "codes:2x3x64xi8".
  std::vector<std::string> layout(QTensorType t) {
    std::vector<std::string> out;
    for (const auto &c : t.getStorageComponents())
      out.push_back(
          c.name.str() + ":" +
          print(c.type).substr(7 /*"tensor<"*/, print(c.type).size() - 8));
    return out;
  }
};

using Layout = std::vector<std::string>;

TEST_F(QTensorTest, UniformIntSymmetricAndAsymmetric) {
  EXPECT_EQ(layout(qt("!tessera.qtensor<2x3x128xf32, #tessera.quant<int, bits "
                      "= 4, group = 32>>")),
            (Layout{"codes:2x3x64xi8", "scales:2x3x4xf32"}));
  EXPECT_EQ(layout(qt("!tessera.qtensor<5x96xbf16, #tessera.quant<int, bits = "
                      "3, asymmetric>>")),
            (Layout{"codes:5x36xi8", "scales:5x1xf32", "zeros:5x1xf32"}));
}

TEST_F(QTensorTest, TurboQuantPacksCodesAndOneNormPerVector) {
  // 128 dims at 3 bits = 48 bytes per token (8 codes in 3 bytes).
  EXPECT_EQ(
      layout(qt(
          "!tessera.qtensor<1x2x100x128xbf16, #tessera.quant<tq_mse, bits = 3, "
          "norm = f16>>")),
      (Layout{"codes:1x2x100x48xi8", "norms:1x2x100xf16"}));
}

TEST_F(QTensorTest, BlockGtqGroupsDimsByWidth) {
  // bits [4, 2, 1, 1] over RoPE blocks of 2 dims: 4-bit group 2 dims (1 byte),
  // 2-bit group 2 dims (1 byte), 1-bit group 4 dims (1 byte); one norm per
  // group.
  EXPECT_EQ(layout(qt("!tessera.qtensor<7x8xf32, #tessera.quant<block_gtq, "
                      "bits = [4, 2, 1, 1]>>")),
            (Layout{"codes:7x3xi8", "norms:7x3xf32"}));
}

TEST_F(QTensorTest, LatticeAndGraded) {
  EXPECT_EQ(
      layout(qt(
          "!tessera.qtensor<4x64xf32, #tessera.quant<lattice, lattice = e8>>")),
      (Layout{"codes:4x64xi8", "norms:4xf32"}));
  // 4 nested planes of 64 one-bit codes per row, and tables of 2 + 4 + 8 + 16
  // centroids.
  EXPECT_EQ(
      layout(
          qt("!tessera.qtensor<16x64xbf16, #tessera.quant<graded, bits = 4>>")),
      (Layout{"planes:4x16x8xi8", "lut:16x30xf32"}));
}

TEST_F(QTensorTest, ShapedTypeInterface) {
  QTensorType t =
      qt("!tessera.qtensor<1x?x16xf16, #tessera.quant<int, bits = 8>>");
  auto shaped = cast<ShapedType>(t);
  EXPECT_EQ(shaped.getRank(), 3);
  EXPECT_TRUE(shaped.isDynamicDim(1));
  EXPECT_TRUE(shaped.getElementType().isF16());
  auto cloned = cast<QTensorType>(shaped.clone({1, 4, 16}));
  EXPECT_EQ(cloned.getScheme(), t.getScheme());
  EXPECT_EQ(cloned.getLogicalTensorType(),
            RankedTensorType::get({1, 4, 16}, Float16Type::get(&ctx)));
}

TEST_F(QTensorTest, RejectsBadHeadDimForScheme) {
  EXPECT_FALSE(parseType(
      "!tessera.qtensor<4x96xf32, #tessera.quant<tq_mse, bits = 3>>", &ctx));
  ASSERT_FALSE(diags.empty());
  EXPECT_EQ(diags.back(),
            "hadamard rotation needs a power-of-two quantized dim, got 96 (use "
            "rotation = haar)");
}

} // namespace

//===- BuilderTest.cpp - Building every tessera op with the C++ builders --===//
#include "TestSupport.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Verifier.h"

using namespace mlir;
using namespace mlir::tessera;
using ::tessera::test::DialectTest;

namespace {

class BuilderTest : public DialectTest {
protected:
  BuilderTest() : b(&ctx) {
    module = ModuleOp::create(b.getUnknownLoc());
    b.setInsertionPointToEnd(module->getBody());
  }

  /// Starts a function taking `args`; the builder inserts into its body.
  func::FuncOp startFunc(TypeRange args) {
    auto fn = func::FuncOp::create(b, b.getUnknownLoc(), "f",
                                   b.getFunctionType(args, {}));
    b.setInsertionPointToStart(fn.addEntryBlock());
    return fn;
  }
  void finish() { func::ReturnOp::create(b, b.getUnknownLoc()); }

  /// The module verifies, and prints then parses back to the same text.
  void expectVerifiesAndRoundTrips() {
    ASSERT_TRUE(succeeded(verify(*module)))
        << (diags.empty() ? "" : diags.front());
    std::string text = print(*module);
    OwningOpRef<ModuleOp> reparsed = parseSourceString<ModuleOp>(text, &ctx);
    ASSERT_TRUE(reparsed) << text;
    EXPECT_EQ(print(*reparsed), text);
  }

  OpBuilder b;
  OwningOpRef<ModuleOp> module;
};

TEST_F(BuilderTest, AttentionInfersResultTypes) {
  Type bf16 = b.getBF16Type();
  auto fn =
      startFunc({tensor({2, 8, 77, 128}, bf16), tensor({2, 2, 133, 128}, bf16),
                 tensor({2, 2, 133, 96}, bf16)});
  auto args = fn.getArguments();
  auto op = AttentionOp::create(b, b.getUnknownLoc(), args[0], args[1], args[2],
                                Value(),
                                /*causal=*/true, /*window=*/64, /*scale=*/0.5f);
  finish();
  EXPECT_EQ(op.getOutput().getType(), tensor({2, 8, 77, 96}, bf16));
  EXPECT_EQ(op.getLse().getType(), tensor({2, 8, 77}));
  EXPECT_TRUE(op.getCausal());
  EXPECT_EQ(op.getWindow(), std::optional<int64_t>(64));
  EXPECT_FLOAT_EQ(op.getEffectiveScale(), 0.5f);
  EXPECT_EQ(op.getBlockQ(), 64);
  expectVerifiesAndRoundTrips();
}

TEST_F(BuilderTest, AttentionDefaultScaleIsInverseSqrtHeadDim) {
  auto fn = startFunc(
      {tensor({1, 4, 16, 64}), tensor({1, 4, 16, 64}), tensor({1, 4, 16, 64})});
  auto args = fn.getArguments();
  auto op =
      AttentionOp::create(b, b.getUnknownLoc(), args[0], args[1], args[2]);
  finish();
  EXPECT_FLOAT_EQ(op.getEffectiveScale(), 0.125f);
  expectVerifiesAndRoundTrips();
}

TEST_F(BuilderTest, AttentionOnPackedKVThroughQuantize) {
  auto fn = startFunc({tensor({1, 8, 1, 64}), tensor({1, 2, 300, 64}),
                       tensor({1, 2, 300, 64})});
  auto args = fn.getArguments();
  auto tq = QuantAttr::get(&ctx, QuantScheme::TqMse, {3});
  auto k = QuantizeOp::create(b, b.getUnknownLoc(), args[1], tq);
  auto v = QuantizeOp::create(b, b.getUnknownLoc(), args[2],
                              QuantAttr::get(&ctx, QuantScheme::Int, {4}));
  auto op =
      AttentionOp::create(b, b.getUnknownLoc(), args[0], k, v, Value(), true);
  auto d = DequantizeOp::create(b, b.getUnknownLoc(), k);
  finish();
  EXPECT_EQ(d.getOutput().getType(), tensor({1, 2, 300, 64}));
  EXPECT_EQ(op.getOutput().getType(), tensor({1, 8, 1, 64}));
  EXPECT_TRUE(isa<QTensorType>(op.getKey().getType()));
  expectVerifiesAndRoundTrips();
}

TEST_F(BuilderTest, BlockSelectFeedsAttention) {
  auto fn = startFunc({tensor({1, 8, 1000, 64}), tensor({1, 2, 1000, 64})});
  auto args = fn.getArguments();
  Type i32 = b.getI32Type();
  auto sel = BlockSelectOp::create(
      b, b.getUnknownLoc(), tensor({1, 2, 16, 1}, i32), tensor({1, 2, 16}, i32),
      args[0], args[1], Value(), Value(), /*block_table=*/Value(),
      /*kv_lens=*/Value(), /*block_q=*/64, /*block_k=*/64, BlockPool::Max,
      b.getI64IntegerAttr(4), FloatAttr(), FloatAttr(),
      /*sink_blocks=*/1, /*causal=*/true, /*scale=*/FloatAttr(),
      /*page_size=*/IntegerAttr());
  AttentionOp::create(b, b.getUnknownLoc(), args[0], args[1], args[1],
                      sel.getMask(), true);
  finish();
  expectVerifiesAndRoundTrips();
}

TEST_F(BuilderTest, HadamardAndBitAllocate) {
  auto fn = startFunc({tensor({3, 128}), tensor({2, 64})});
  auto args = fn.getArguments();
  auto h = HadamardOp::create(b, b.getUnknownLoc(), args[0].getType(), args[0],
                              b.getI64IntegerAttr(7), /*inverse=*/false);
  HadamardOp::create(b, b.getUnknownLoc(), h.getType(), h,
                     b.getI64IntegerAttr(7), true);
  auto ba = BitAllocateOp::create(
      b, b.getUnknownLoc(), tensor({2, 64}, b.getI32Type()), args[1],
      b.getF64FloatAttr(2.5), b.getI64IntegerAttr(1), b.getI64IntegerAttr(6));
  finish();
  EXPECT_EQ(ba.getMaxBits(), 6);
  expectVerifiesAndRoundTrips();
}

TEST_F(BuilderTest, EvictEffectiveDefaults) {
  auto fn = startFunc({tensor({1, 2, 1024, 64}), tensor({1, 2, 1024, 64}),
                       tensor({1, 8, 32, 64})});
  auto args = fn.getArguments();
  Type i64 = b.getI64Type();
  auto ev =
      EvictOp::create(b, b.getUnknownLoc(), tensor({1, 2, 256}, i64),
                      tensor({1, 2, 256, 64}), tensor({1, 2, 256, 64}),
                      /*kept_scores=*/Type(), /*new_lens=*/Type(),
                      EvictPolicy::SnapKV, args[0], args[1], args[2], Value(),
                      /*block_table=*/Value(), /*kv_lens=*/Value(),
                      /*budget=*/256, EvictScopeAttr(), IntegerAttr(),
                      IntegerAttr(), IntegerAttr(), DenseI64ArrayAttr(),
                      IntegerAttr(), IntegerAttr(), FloatAttr(), IntegerAttr(),
                      /*layer=*/IntegerAttr(), /*step=*/IntegerAttr(),
                      /*page_size=*/IntegerAttr());
  finish();
  EXPECT_EQ(ev.getEffectiveWindow(), 32);
  EXPECT_EQ(ev.getEffectiveSinks(), 0);
  EXPECT_EQ(ev.getEffectiveScope(), EvictScope::PerHead);
  expectVerifiesAndRoundTrips();
}

TEST_F(BuilderTest, LinearBackwardUpdateWithAdamState) {
  auto fn = startFunc({tensor({64, 32}), tensor({64, 16}), tensor({16, 32}),
                       b.getI64Type(), tensor({16, 32}), tensor({16, 32})});
  auto a = fn.getArguments();
  auto opt = OptimizerAttr::getDefault(&ctx, OptimizerKind::AdamW);
  auto op = LinearBackwardUpdateOp::create(
      b, b.getUnknownLoc(), tensor({64, 32}), tensor({16, 32}),
      TypeRange{tensor({16, 32}), tensor({16, 32})}, a[0], a[1], a[2], a[3],
      ValueRange{a[4], a[5]}, opt);
  finish();
  EXPECT_EQ(op.getNewState().size(), 2u);
  expectVerifiesAndRoundTrips();
}

TEST_F(BuilderTest, TaskGraphWithDependentTasks) {
  Type t = tensor({4, 64});
  auto fn = startFunc({t});
  auto graph =
      TaskGraphOp::create(b, b.getUnknownLoc(), TypeRange{t}, fn.getArgument(0),
                          b.getI64IntegerAttr(132), /*iterations=*/1);
  Block *gb = b.createBlock(&graph.getBody(), {}, {t}, {b.getUnknownLoc()});
  auto makeTask = [&](StringRef name, Value in) {
    auto task = TaskOp::create(b, b.getUnknownLoc(), TypeRange{t}, name,
                               ValueRange{in}, 2);
    OpBuilder::InsertionGuard guard(b);
    Block *tb = b.createBlock(&task.getBody(), {}, {t}, {b.getUnknownLoc()});
    auto h = HadamardOp::create(b, b.getUnknownLoc(), t, tb->getArgument(0),
                                IntegerAttr(), false);
    YieldOp::create(b, b.getUnknownLoc(), ValueRange{h});
    return task;
  };
  auto first = makeTask("rotate", gb->getArgument(0));
  auto second = makeTask("unrotate", first.getResult(0));
  YieldOp::create(b, b.getUnknownLoc(), ValueRange{second.getResult(0)});
  b.setInsertionPointAfter(graph);
  finish();
  EXPECT_EQ(second.getInputs()[0].getDefiningOp(), first.getOperation());
  expectVerifiesAndRoundTrips();
}

TEST_F(BuilderTest, VerifierRejectsBuiltOpWithMessage) {
  auto fn = startFunc(
      {tensor({1, 8, 16, 64}), tensor({1, 3, 16, 64}), tensor({1, 3, 16, 64})});
  auto args = fn.getArguments();
  AttentionOp::create(b, b.getUnknownLoc(), args[0], args[1], args[2]);
  finish();
  EXPECT_TRUE(failed(verify(*module)));
  ASSERT_FALSE(diags.empty());
  EXPECT_EQ(diags.front(), "'tessera.attention' op key head count (3) must "
                           "divide query head count (8)");
}

} // namespace

//===- CAPIDynamicTest.cpp - Run-time sizes through the C API -------------===//
//
// The embedding API with `?` dims: the signature shows -1, tessera_output_shape
// sizes the outputs from the inputs, one module serves several lengths, and
// sizes that disagree at run time fail the call with a status and a message.
//
//===----------------------------------------------------------------------===//
#include "Harness.h"
#include "Reference.h"
#include "tessera-c/Tessera.h"

#include <cmath>
#include <cstring>

using namespace tessera;
using namespace tessera::test;

namespace {

const char *kModule = R"(
func.func @attn(%q: tensor<?x4x?x32xf32>, %k: tensor<?x2x?x32xf32>, %v: tensor<?x2x?x32xf32>)
    -> (tensor<?x4x?x32xf32>, tensor<?x4x?xf32>) {
  %o, %l = tessera.attention %q, %k, %v {causal} : tensor<?x4x?x32xf32>, tensor<?x2x?x32xf32>, tensor<?x2x?x32xf32> -> tensor<?x4x?x32xf32>, tensor<?x4x?xf32>
  return %o, %l : tensor<?x4x?x32xf32>, tensor<?x4x?xf32>
}
)";

struct Diagnostics {
  std::string text;
  static void collect(tessera_severity, const char *location,
                      const char *message, void *self) {
    static_cast<Diagnostics *>(self)->text +=
        std::string(location) + ": " + message + "\n";
  }
};

tessera_buffer bufferOf(HostTensor &t, tessera_dtype dtype) {
  return {t.data(), dtype, static_cast<int64_t>(t.shape().size()),
          t.shape().data()};
}

TEST(CAPIDynamic, OneModuleServesSeveralLengths) {
  tessera_compiler compiler = nullptr;
  ASSERT_EQ(tessera_compiler_create(&compiler), TESSERA_OK);
  Diagnostics diags;
  tessera_compiler_set_diagnostic_handler(compiler, Diagnostics::collect,
                                          &diags);
  ASSERT_EQ(tessera_compiler_set_option(compiler, "cache_dir", "off"),
            TESSERA_OK);
  tessera_module module = nullptr;
  ASSERT_EQ(tessera_compile_source(compiler, kModule, std::strlen(kModule),
                                   "dyn.mlir", "cpu", &module),
            TESSERA_OK)
      << diags.text;

  tessera_dtype dtype;
  int64_t rank;
  const int64_t *shape;
  ASSERT_EQ(tessera_entry_tensor(module, "attn", 0, 0, &dtype, &rank, &shape),
            TESSERA_OK);
  ASSERT_EQ(rank, 4);
  EXPECT_EQ(shape[0], -1);
  EXPECT_EQ(shape[1], 4);
  EXPECT_EQ(shape[2], -1);

  std::mt19937_64 rng(99);
  struct Len {
    int64_t B, Sq, Skv;
  };
  for (Len n : {Len{1, 1, 300}, Len{2, 45, 45}, Len{1, 70, 20}}) {
    auto qv = randomValues(n.B * 4 * n.Sq * 32, DType::F32, rng);
    auto kv = randomValues(n.B * 2 * n.Skv * 32, DType::F32, rng);
    auto vv = randomValues(n.B * 2 * n.Skv * 32, DType::F32, rng);
    std::vector<HostTensor> in;
    in.push_back(makeTensor(DType::F32, {n.B, 4, n.Sq, 32}, qv));
    in.push_back(makeTensor(DType::F32, {n.B, 2, n.Skv, 32}, kv));
    in.push_back(makeTensor(DType::F32, {n.B, 2, n.Skv, 32}, vv));
    std::vector<tessera_buffer> inBufs;
    for (HostTensor &t : in)
      inBufs.push_back(bufferOf(t, TESSERA_F32));
    int64_t oShape[4], lShape[3];
    ASSERT_EQ(tessera_output_shape(module, "attn", inBufs.data(), 3, 0, oShape),
              TESSERA_OK);
    ASSERT_EQ(tessera_output_shape(module, "attn", inBufs.data(), 3, 1, lShape),
              TESSERA_OK);
    EXPECT_EQ(std::vector<int64_t>(oShape, oShape + 4),
              (std::vector<int64_t>{n.B, 4, n.Sq, 32}));
    HostTensor o(DType::F32, std::vector<int64_t>(oShape, oShape + 4));
    HostTensor l(DType::F32, std::vector<int64_t>(lShape, lShape + 3));
    tessera_buffer outBufs[2] = {bufferOf(o, TESSERA_F32),
                                 bufferOf(l, TESSERA_F32)};
    ASSERT_EQ(tessera_invoke(module, "attn", inBufs.data(), 3, outBufs, 2),
              TESSERA_OK)
        << diags.text;

    reference::Attention ref;
    ref.B = n.B, ref.Hq = 4, ref.Hkv = 2, ref.Sq = n.Sq, ref.Skv = n.Skv;
    ref.D = ref.Dv = 32;
    ref.causal = true;
    std::vector<double> oRef, lseRef;
    reference::attention(ref, qv, kv, vv, oRef, lseRef);
    std::vector<double> got = valuesOf(o);
    double worst = 0, scale = 1e-30;
    for (double x : oRef)
      scale = std::max(scale, std::fabs(x));
    for (size_t i = 0; i < got.size(); ++i)
      worst = std::max(worst, std::fabs(got[i] - oRef[i]) / scale);
    EXPECT_LE(worst, 1e-5) << "Sq=" << n.Sq << " Skv=" << n.Skv;
  }

  // K and V of different lengths: the compiled code's check fails the call.
  HostTensor q(DType::F32, {1, 4, 3, 32}), k(DType::F32, {1, 2, 9, 32}),
      v(DType::F32, {1, 2, 8, 32}), o(DType::F32, {1, 4, 3, 32}),
      l(DType::F32, {1, 4, 3});
  tessera_buffer in[3] = {bufferOf(q, TESSERA_F32), bufferOf(k, TESSERA_F32),
                          bufferOf(v, TESSERA_F32)};
  tessera_buffer out[2] = {bufferOf(o, TESSERA_F32), bufferOf(l, TESSERA_F32)};
  diags.text.clear();
  EXPECT_EQ(tessera_invoke(module, "attn", in, 3, out, 2),
            TESSERA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(diags.text.find("key length differs from the value length (got "
                            "9, expected 8)"),
            std::string::npos)
      << diags.text;
  // Outputs whose shape does not follow from the inputs are refused up front.
  HostTensor wrong(DType::F32, {1, 4, 4, 32});
  out[0] = bufferOf(wrong, TESSERA_F32);
  in[2] = bufferOf(k, TESSERA_F32);
  diags.text.clear();
  EXPECT_EQ(tessera_invoke(module, "attn", in, 3, out, 2),
            TESSERA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(diags.text.find("output #0 of @attn must be result0: f32[1, 4, 3, "
                            "32]"),
            std::string::npos)
      << diags.text;
  tessera_module_destroy(module);
  tessera_compiler_destroy(compiler);
}

} // namespace

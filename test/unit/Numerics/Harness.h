//===- Harness.h - Compile, run and compare for numerics tests --*- C++ -*-===//
#ifndef TESSERA_TEST_NUMERICS_HARNESS_H
#define TESSERA_TEST_NUMERICS_HARNESS_H

#include "tessera/JIT/JIT.h"
#include "tessera/Support/Tensor.h"

#include <cstdlib>
#include <gtest/gtest.h>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace tessera::test {

/// Compiles `mlir` for the host (no cache), failing the test with the
/// diagnostics otherwise. TESSERA_TEST_VECTOR_WIDTH pins the vector width
/// (ctest runs the suite again at 8, an AVX2 host's, so results never depend
/// on which CPU the suite happens to run on).
inline std::unique_ptr<jit::CompiledModule>
compileOrFail(const std::string &mlir) {
  std::string diags;
  jit::CompileOptions options;
  options.cacheDir = "off";
  if (const char *w = std::getenv("TESSERA_TEST_VECTOR_WIDTH"); w && *w)
    options.vectorWidth = std::atoll(w);
  auto m = jit::compile(mlir, "test.mlir", options,
                        [&](const std::string &sev, const std::string &loc,
                            const std::string &msg) {
                          diags += loc + ": " + sev + ": " + msg + "\n";
                        });
  EXPECT_TRUE(m) << diags << "\n" << mlir;
  return m;
}

/// Calls the module's only entry with `inputs` (their shapes give the sizes
/// of dynamic dims) and returns its outputs; when `error` is given, a failed
/// call stores its diagnostics there instead of failing the test.
inline std::vector<HostTensor> run(jit::CompiledModule &m,
                                   std::vector<HostTensor> &inputs,
                                   std::string *error = nullptr) {
  const EntryABI &e = m.entries().front();
  std::vector<HostTensor> outputs;
  std::vector<void *> in, out;
  std::vector<std::vector<int64_t>> inShapes, outShapes;
  for (HostTensor &t : inputs) {
    in.push_back(t.data());
    inShapes.push_back(t.shape());
  }
  std::string diags;
  if (!resolveShapes(e, inShapes, outShapes, diags)) {
    if (error)
      *error = diags;
    else
      ADD_FAILURE() << diags;
    return outputs;
  }
  for (size_t i = 0; i < e.outputs.size(); ++i) {
    outputs.emplace_back(e.outputs[i].dtype, outShapes[i]);
    out.push_back(outputs.back().data());
  }
  bool ok = m.invoke(e.name, in, inShapes, out,
                     [&](const std::string &, const std::string &,
                         const std::string &msg) { diags += msg + "\n"; });
  if (error)
    *error = ok ? "" : diags;
  else
    EXPECT_TRUE(ok) << diags;
  return outputs;
}

/// Fresh standard-normal values, rounded to what `dtype` can hold.
inline std::vector<double> randomValues(size_t n, DType dtype,
                                        std::mt19937_64 &rng) {
  std::normal_distribution<double> normal;
  std::vector<double> v(n);
  for (double &x : v) {
    float f = static_cast<float>(normal(rng));
    if (dtype == DType::BF16)
      f = bf16ToFloat(floatToBF16(f));
    else if (dtype == DType::F16)
      f = halfToFloat(floatToHalf(f));
    x = f;
  }
  return v;
}

/// A host tensor of `dtype` holding `values`.
inline HostTensor makeTensor(DType dtype, std::vector<int64_t> shape,
                             const std::vector<double> &values) {
  HostTensor t(dtype, std::move(shape));
  for (size_t i = 0; i < values.size(); ++i) {
    float f = static_cast<float>(values[i]);
    switch (dtype) {
    case DType::F32:
      static_cast<float *>(t.data())[i] = f;
      break;
    case DType::BF16:
      static_cast<uint16_t *>(t.data())[i] = floatToBF16(f);
      break;
    case DType::F16:
      static_cast<uint16_t *>(t.data())[i] = floatToHalf(f);
      break;
    default:
      ADD_FAILURE() << "makeTensor: not a float dtype";
    }
  }
  return t;
}

/// The values of a float host tensor as doubles.
inline std::vector<double> valuesOf(const HostTensor &t) {
  std::vector<double> v(t.numElements());
  for (size_t i = 0; i < v.size(); ++i) {
    switch (t.dtype()) {
    case DType::F32:
      v[i] = static_cast<const float *>(t.data())[i];
      break;
    case DType::BF16:
      v[i] = bf16ToFloat(static_cast<const uint16_t *>(t.data())[i]);
      break;
    case DType::F16:
      v[i] = halfToFloat(static_cast<const uint16_t *>(t.data())[i]);
      break;
    default:
      ADD_FAILURE() << "valuesOf: not a float dtype";
    }
  }
  return v;
}

/// "AxBxC" for an MLIR shape.
inline std::string dims(const std::vector<int64_t> &shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? "x" : "") + std::to_string(shape[i]);
  return s;
}

} // namespace tessera::test

#endif // TESSERA_TEST_NUMERICS_HARNESS_H

//===- Tensor.h - Host tensors: dtypes, specs, owned buffers ----*- C++ -*-===//
//
// What crosses the boundary between Tessera's compiled entries and their
// callers (tessera-run, the C API, tests): element types, tensor specs (name,
// dtype, shape) and owned host buffers. Plain C++; no MLIR.
//
//===----------------------------------------------------------------------===//
#ifndef TESSERA_SUPPORT_TENSOR_H
#define TESSERA_SUPPORT_TENSOR_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tessera {

/// Element types of entry arguments. The numeric values are part of the C API.
enum class DType : int {
  F32 = 0,
  F16 = 1,
  BF16 = 2,
  I8 = 3,
  U8 = 4,
  I32 = 5,
  I64 = 6,
  I1 = 7
};

/// "f32", "bf16", ...
const char *dtypeName(DType dtype);
/// Parses a name printed by dtypeName.
std::optional<DType> parseDType(const std::string &name);
/// Bytes per element.
size_t dtypeSize(DType dtype);

/// A dim of a spec that is a run-time size (`?` in the MLIR type).
constexpr int64_t kDynamicDim = -1;

/// Where a run-time dim of an entry's output comes from: dim `dim` of input
/// `input` (indices into EntryABI::inputs and that input's shape).
struct DimSource {
  int64_t input = -1, dim = -1;
};

/// An argument or result of a compiled entry.
struct TensorSpec {
  std::string name;
  DType dtype = DType::F32;
  /// kDynamicDim where the size is given at call time.
  std::vector<int64_t> shape;
  /// Outputs only: for each dim, where its size comes from when it is
  /// dynamic (input -1 for static dims).
  std::vector<DimSource> dimSources;

  bool isStatic() const;
  /// Whether a tensor of `dtype` and `shape` fits this spec (any size where
  /// a dim is dynamic).
  bool accepts(DType dtype, const std::vector<int64_t> &shape) const;

  size_t numElements() const;
  size_t numBytes() const { return numElements() * dtypeSize(dtype); }
  /// "q: f32[1, 8, 16, 128]" ("?" for a dynamic dim).
  std::string str() const;
};

/// The calling convention of a compiled entry: its tensors in order. A
/// !tessera.qtensor argument contributes one spec per storage component, named
/// "<arg>.<component>".
struct EntryABI {
  std::string name;
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  /// Floating-point operations of one call, counted from its attention ops (2
  /// per multiply-add over the (query, key) pairs that causal/window leave
  /// visible; block masks are data and are not counted); 0 when the entry has
  /// none.
  double flops = 0;
  /// Whether an attention op takes a block mask (then `flops` counts the dense
  /// work).
  bool blockSparse = false;
};

/// The output shapes of a call of `entry` with inputs of `inputShapes`, or an
/// error message (an input of the wrong rank, a static dim that differs, an
/// output dim that no input gives). Sizes must be non-negative.
bool resolveShapes(const EntryABI &entry,
                   const std::vector<std::vector<int64_t>> &inputShapes,
                   std::vector<std::vector<int64_t>> &outputShapes,
                   std::string &error);

/// Parses a tool's `--shape=NAME=AxBx...` value ("NAME=AxBx..."); false if it
/// is not that, with non-negative sizes.
bool parseShapeArg(const std::string &text, std::string &name,
                   std::vector<int64_t> &dims);

/// The shapes of `specs` when they are all static (else the dynamic dims are
/// kDynamicDim).
std::vector<std::vector<int64_t>> specShapes(const std::vector<TensorSpec> &s);

/// A host tensor that owns its bytes (64-byte aligned).
class HostTensor {
public:
  HostTensor() = default;
  HostTensor(DType dtype, std::vector<int64_t> shape);

  DType dtype() const { return dtype_; }
  const std::vector<int64_t> &shape() const { return shape_; }
  size_t numElements() const;
  size_t numBytes() const { return numElements() * dtypeSize(dtype_); }
  void *data() { return storage_.data() + offset_; }
  const void *data() const { return storage_.data() + offset_; }

private:
  DType dtype_ = DType::F32;
  std::vector<int64_t> shape_;
  std::vector<unsigned char> storage_;
  size_t offset_ = 0;
};

/// Counter-based random draws (splitmix64, Box-Muller), identical on every
/// platform, so a seed names the same inputs everywhere (the CPU and the GPU
/// runners share it).
class RandomStream {
public:
  explicit RandomStream(uint64_t seed) : state(seed) {}
  uint64_t next();
  /// Uniform in (0, 1).
  double uniform();
  double normal();
  /// Standard normal values for float tensors (rounded to the dtype), random
  /// bits otherwise.
  void fill(HostTensor &tensor);

private:
  uint64_t state;
};

/// The inputs of `entry` drawn from `seed` (RandomStream, in order); inputs
/// with run-time dims take their shapes from `shapeArgs` ("NAME=AxB..." as
/// the tools' --shape gives them). False with `error` set otherwise.
bool randomInputs(const EntryABI &entry,
                  const std::vector<std::string> &shapeArgs, uint64_t seed,
                  std::vector<HostTensor> &out, std::string &error);

/// Element `i` of a tensor as a double.
double elementAsDouble(const HostTensor &tensor, size_t i);
/// "mean=... absmax=..." (and the count of non-finite values, if any).
std::string summarize(const HostTensor &tensor);

/// bf16 <-> f32 (round to nearest even; NaN stays NaN).
uint16_t floatToBF16(float f);
float bf16ToFloat(uint16_t h);
/// IEEE half <-> f32 (round to nearest even).
uint16_t floatToHalf(float f);
float halfToFloat(uint16_t h);

} // namespace tessera

#endif // TESSERA_SUPPORT_TENSOR_H

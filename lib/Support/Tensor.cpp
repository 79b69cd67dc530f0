//===- Tensor.cpp - Host tensors: dtypes, specs, owned buffers ------------===//
#include "tessera/Support/Tensor.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <sstream>

using namespace tessera;

const char *tessera::dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "f32";
  case DType::F16:
    return "f16";
  case DType::BF16:
    return "bf16";
  case DType::I8:
    return "i8";
  case DType::U8:
    return "u8";
  case DType::I32:
    return "i32";
  case DType::I64:
    return "i64";
  case DType::I1:
    return "i1";
  }
  return "?";
}

std::optional<DType> tessera::parseDType(const std::string &name) {
  for (DType d : {DType::F32, DType::F16, DType::BF16, DType::I8, DType::U8,
                  DType::I32, DType::I64, DType::I1})
    if (name == dtypeName(d))
      return d;
  return std::nullopt;
}

size_t tessera::dtypeSize(DType dtype) {
  switch (dtype) {
  case DType::F32:
  case DType::I32:
    return 4;
  case DType::F16:
  case DType::BF16:
    return 2;
  case DType::I8:
  case DType::U8:
  case DType::I1:
    return 1;
  case DType::I64:
    return 8;
  }
  return 1;
}

static size_t product(const std::vector<int64_t> &shape) {
  size_t n = 1;
  for (int64_t d : shape)
    n *= static_cast<size_t>(d);
  return n;
}

size_t TensorSpec::numElements() const { return product(shape); }

std::string TensorSpec::str() const {
  std::ostringstream os;
  os << name << ": " << dtypeName(dtype) << "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    os << (i ? ", " : "");
    if (shape[i] == kDynamicDim)
      os << "?";
    else
      os << shape[i];
  }
  os << "]";
  return os.str();
}

bool TensorSpec::isStatic() const {
  return std::none_of(shape.begin(), shape.end(),
                      [](int64_t d) { return d == kDynamicDim; });
}

bool TensorSpec::accepts(DType d, const std::vector<int64_t> &s) const {
  if (d != dtype || s.size() != shape.size())
    return false;
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] < 0 || (shape[i] != kDynamicDim && shape[i] != s[i]))
      return false;
  return true;
}

bool tessera::parseShapeArg(const std::string &text, std::string &name,
                            std::vector<int64_t> &dims) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    return false;
  name = text.substr(0, eq);
  dims.clear();
  std::string rest = text.substr(eq + 1);
  size_t pos = 0;
  while (true) {
    size_t x = rest.find('x', pos);
    std::string num = rest.substr(pos, x == std::string::npos ? x : x - pos);
    if (num.empty() || num.size() > 12 ||
        num.find_first_not_of("0123456789") != std::string::npos)
      return false;
    dims.push_back(std::stoll(num));
    if (x == std::string::npos)
      return true;
    pos = x + 1;
  }
}

std::vector<std::vector<int64_t>>
tessera::specShapes(const std::vector<TensorSpec> &specs) {
  std::vector<std::vector<int64_t>> shapes;
  for (const TensorSpec &s : specs)
    shapes.push_back(s.shape);
  return shapes;
}

bool tessera::resolveShapes(
    const EntryABI &entry, const std::vector<std::vector<int64_t>> &inputShapes,
    std::vector<std::vector<int64_t>> &outputShapes, std::string &error) {
  auto dims = [](const std::vector<int64_t> &shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i)
      s += (i ? ", " : "") + (shape[i] == kDynamicDim
                                  ? std::string("?")
                                  : std::to_string(shape[i]));
    return s + "]";
  };
  if (inputShapes.size() != entry.inputs.size()) {
    error = "entry @" + entry.name + " takes " +
            std::to_string(entry.inputs.size()) + " inputs, got " +
            std::to_string(inputShapes.size());
    return false;
  }
  for (size_t i = 0; i < inputShapes.size(); ++i) {
    const TensorSpec &spec = entry.inputs[i];
    const std::vector<int64_t> &got = inputShapes[i];
    bool ok = got.size() == spec.shape.size();
    for (size_t d = 0; ok && d < got.size(); ++d)
      ok = got[d] >= 0 &&
           (spec.shape[d] == kDynamicDim || spec.shape[d] == got[d]);
    if (!ok) {
      error = "entry @" + entry.name + ": input " + std::to_string(i) + " (" +
              spec.name + ") has shape " + dims(got) + "; it takes " +
              dims(spec.shape);
      return false;
    }
  }
  outputShapes.clear();
  for (const TensorSpec &spec : entry.outputs) {
    std::vector<int64_t> shape = spec.shape;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] != kDynamicDim)
        continue;
      DimSource src =
          d < spec.dimSources.size() ? spec.dimSources[d] : DimSource{};
      if (src.input < 0 ||
          static_cast<size_t>(src.input) >= inputShapes.size() || src.dim < 0 ||
          static_cast<size_t>(src.dim) >= inputShapes[src.input].size()) {
        error = "entry @" + entry.name + ": output " + spec.name + " dim " +
                std::to_string(d) + " is dynamic and no input gives its size";
        return false;
      }
      shape[d] = inputShapes[src.input][src.dim];
    }
    outputShapes.push_back(std::move(shape));
  }
  return true;
}

HostTensor::HostTensor(DType dtype, std::vector<int64_t> shape)
    : dtype_(dtype), shape_(std::move(shape)) {
  storage_.assign(numBytes() + 64, 0);
  auto address = reinterpret_cast<uintptr_t>(storage_.data());
  offset_ = (64 - address % 64) % 64;
}

size_t HostTensor::numElements() const { return product(shape_); }

uint16_t tessera::floatToBF16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if (std::isnan(f))
    return static_cast<uint16_t>((bits >> 16) | 0x40);
  uint32_t rounding = 0x7FFF + ((bits >> 16) & 1);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

float tessera::bf16ToFloat(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t tessera::floatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t mant = x & 0x7FFFFF;
  int32_t exp = static_cast<int32_t>((x >> 23) & 0xFF);
  if (exp == 0xFF)
    return static_cast<uint16_t>(sign | 0x7C00 | (mant ? 0x200 : 0));
  int32_t e = exp - 127 + 15;
  if (e >= 0x1F)
    return static_cast<uint16_t>(sign | 0x7C00);
  if (e <= 0) {
    if (e < -10)
      return static_cast<uint16_t>(sign);
    mant |= 0x800000;
    uint32_t shift = static_cast<uint32_t>(14 - e);
    uint32_t half = mant >> shift;
    uint32_t rest = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rest > mid || (rest == mid && (half & 1)))
      ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = (static_cast<uint32_t>(e) << 10) | (mant >> 13);
  uint32_t rest = mant & 0x1FFF;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1)))
    ++half;
  return static_cast<uint16_t>(sign | half);
}

float tessera::halfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while (!(mant & 0x400));
      bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) |
             ((mant & 0x3FF) << 13);
    }
  } else if (exp == 0x1F) {
    bits = sign | 0x7F800000 | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint64_t RandomStream::next() {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

double RandomStream::uniform() {
  return (static_cast<double>(next() >> 11) + 0.5) / 9007199254740992.0;
}

double RandomStream::normal() {
  return std::sqrt(-2.0 * std::log(uniform())) *
         std::cos(6.283185307179586 * uniform());
}

void RandomStream::fill(HostTensor &t) {
  size_t n = t.numElements();
  switch (t.dtype()) {
  case DType::F32:
    for (size_t i = 0; i < n; ++i)
      static_cast<float *>(t.data())[i] = static_cast<float>(normal());
    break;
  case DType::F16:
    for (size_t i = 0; i < n; ++i)
      static_cast<uint16_t *>(t.data())[i] =
          floatToHalf(static_cast<float>(normal()));
    break;
  case DType::BF16:
    for (size_t i = 0; i < n; ++i)
      static_cast<uint16_t *>(t.data())[i] =
          floatToBF16(static_cast<float>(normal()));
    break;
  case DType::I1:
    for (size_t i = 0; i < n; ++i)
      static_cast<uint8_t *>(t.data())[i] = next() & 1;
    break;
  default:
    for (size_t i = 0; i < t.numBytes(); ++i)
      static_cast<uint8_t *>(t.data())[i] = static_cast<uint8_t>(next());
    break;
  }
}

double tessera::elementAsDouble(const HostTensor &t, size_t i) {
  switch (t.dtype()) {
  case DType::F32:
    return static_cast<const float *>(t.data())[i];
  case DType::F16:
    return halfToFloat(static_cast<const uint16_t *>(t.data())[i]);
  case DType::BF16:
    return bf16ToFloat(static_cast<const uint16_t *>(t.data())[i]);
  case DType::I8:
    return static_cast<const int8_t *>(t.data())[i];
  case DType::U8:
  case DType::I1:
    return static_cast<const uint8_t *>(t.data())[i];
  case DType::I32:
    return static_cast<const int32_t *>(t.data())[i];
  case DType::I64:
    return static_cast<double>(static_cast<const int64_t *>(t.data())[i]);
  }
  return 0;
}

std::string tessera::summarize(const HostTensor &t) {
  double sum = 0, absMax = 0;
  size_t nonFinite = 0;
  for (size_t k = 0; k < t.numElements(); ++k) {
    double x = elementAsDouble(t, k);
    if (!std::isfinite(x)) {
      ++nonFinite;
      continue;
    }
    sum += x;
    absMax = std::max(absMax, std::fabs(x));
  }
  char buffer[128];
  std::snprintf(buffer, sizeof(buffer), "mean=%e absmax=%e",
                sum / static_cast<double>(std::max<size_t>(1, t.numElements())),
                absMax);
  std::string s = buffer;
  if (nonFinite)
    s += " non-finite=" + std::to_string(nonFinite);
  return s;
}

bool tessera::randomInputs(const EntryABI &entry,
                           const std::vector<std::string> &shapeArgs,
                           uint64_t seed, std::vector<HostTensor> &out,
                           std::string &error) {
  std::map<std::string, std::vector<int64_t>> given;
  for (const std::string &arg : shapeArgs) {
    std::string name;
    std::vector<int64_t> dims;
    if (!parseShapeArg(arg, name, dims)) {
      error =
          "--shape='" + arg + "' is not NAME=AxBx... with non-negative sizes";
      return false;
    }
    given[name] = dims;
  }
  RandomStream rng(seed);
  out.clear();
  for (const TensorSpec &s : entry.inputs) {
    std::vector<int64_t> shape = s.shape;
    if (auto it = given.find(s.name); it != given.end())
      shape = it->second;
    else if (!s.isStatic()) {
      error = "input " + s.str() +
              " has run-time dims: give its shape with --shape=" + s.name +
              "=AxBx... or use --input files";
      return false;
    }
    if (!s.accepts(s.dtype, shape)) {
      TensorSpec got = s;
      got.shape = shape;
      error = "entry @" + entry.name + ": input " + got.str() +
              " does not fit " + s.str();
      return false;
    }
    out.emplace_back(s.dtype, shape);
    rng.fill(out.back());
  }
  return true;
}

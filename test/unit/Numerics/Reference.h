//===- Reference.h - Independent references of tessera ops ------*- C++ -*-===//
//
// Straightforward, unoptimised implementations of the ops' semantics
// (shared/docs/ALGORITHMS.md) in double precision, sharing no code with the
// lowerings: the numerics tests compare the compiled kernels against these.
// Later stages add their ops' references beside these.
//
//===----------------------------------------------------------------------===//
#ifndef TESSERA_TEST_NUMERICS_REFERENCE_H
#define TESSERA_TEST_NUMERICS_REFERENCE_H

#include <cstdint>
#include <optional>
#include <vector>

namespace tessera::reference {

/// Problem sizes and attributes of one attention.
struct Attention {
  int64_t B = 1, Hq = 1, Hkv = 1, Sq = 1, Skv = 1, D = 1, Dv = 1;
  bool causal = false;
  std::optional<int64_t> window = std::nullopt;
  std::optional<double> scale = std::nullopt;
  int64_t blockQ = 64, blockK = 64;
  /// Optional block mask, one flag per (head index, query block, key block);
  /// `maskHeads` is 1, Hkv or Hq (the op's broadcast rule).
  std::vector<uint8_t> blockMask;
  int64_t maskHeads = 1;
};

/// O [B,Hq,Sq,Dv] and LSE [B,Hq,Sq] of naive softmax(scale Q K^T) V over the
/// visible keys; rows with no visible key give O = 0 and LSE = -inf. Inputs are
/// row-major.
void attention(const Attention &a, const std::vector<double> &q,
               const std::vector<double> &k, const std::vector<double> &v,
               std::vector<double> &o, std::vector<double> &lse);

/// The randomized Hadamard transform of each row of `x` (rows of length d, a
/// power of two), by multiplying with the explicit Sylvester matrix: y = H
/// diag(s) x / sqrt(d), or x = diag(s) H y / sqrt(d) when inverse. Signs from
/// `seed` as the op defines them; none when there is no seed.
std::vector<double> hadamard(const std::vector<double> &x, int64_t d,
                             std::optional<uint64_t> seed, bool inverse);

/// Uniform integer quantization of one row (float arithmetic exactly as the op
/// specifies): returns the packed code bytes (LSB-first bit stream), the
/// per-group scales and zero points, and the dequantized row.
struct IntQuantized {
  std::vector<uint8_t> codes;
  std::vector<float> scales, zeros;
  std::vector<float> dequantized;
};
IntQuantized quantizeInt(const std::vector<float> &row, int bits, int64_t group,
                         bool symmetric);

} // namespace tessera::reference

#endif // TESSERA_TEST_NUMERICS_REFERENCE_H

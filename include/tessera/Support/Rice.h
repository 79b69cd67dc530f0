//===- Rice.h - Rice coding of int8 arrays (lattice codes) ----*- C++ -*-===//
//
// The at-rest format of the lattice scheme's `codes` component (int8 lattice
// coordinates; ALGORITHMS.md 4c). Plain C++; no MLIR, no LLVM.
//
// Each value v is zigzagged, z = 2v (v >= 0) else -2v - 1 (so int8 maps onto
// 0..255), and written as a Rice code with parameter k: the quotient z >> k in
// unary as that many 1 bits and a terminating 0 bit, then the k low bits of z,
// least significant first. A code is (z >> k) + 1 + k bits long. Codes follow
// each other with no gaps; the stream is packed LSB-first (stream bit i is bit
// i % 8 of byte i / 8) and its last byte is padded with 0 bits. k is chosen in
// 0..7 to minimise the total length, the smallest k on ties.
//
// The .rice container (tessera-run --rice-encode / --rice-decode), all
// integers little-endian:
//   offset 0   4 bytes  magic "TRCE"
//   offset 4   u8       version (1)
//   offset 5   u8       k (0..7)
//   offset 6   u16      rank r (<= 32)
//   offset 8   u64      count: the number of values (the product of the dims)
//   offset 16  u64      n: payload bytes, ceil(total code bits / 8)
//   offset 24  r x i64  dims (the array's shape, C order)
//   then       n bytes  the payload (the code stream above)
// The file is exactly 24 + 8r + n bytes.
//
//===----------------------------------------------------------------------===//
#ifndef TESSERA_SUPPORT_RICE_H
#define TESSERA_SUPPORT_RICE_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tessera::rice {

/// The largest parameter worth trying for int8 input: zigzag values are below
/// 2^8, so k = 8 already writes every quotient as a lone 0 bit.
constexpr unsigned kMaxParameter = 7;

/// z(v) = 2v for v >= 0, else -2v - 1.
inline uint32_t zigzag(int32_t v) {
  return v >= 0 ? 2u * static_cast<uint32_t>(v)
                : 2u * static_cast<uint32_t>(-(v + 1)) + 1u;
}
/// The inverse of zigzag.
inline int32_t unzigzag(uint32_t z) {
  return (z & 1u) ? -static_cast<int32_t>(z >> 1) - 1
                  : static_cast<int32_t>(z >> 1);
}
/// The length in bits of v's code with parameter k: (z(v) >> k) + 1 + k.
inline uint64_t codeLength(int8_t v, unsigned k) {
  return (zigzag(v) >> k) + 1 + k;
}

/// The total length in bits of the codes of `values[0..n)` with parameter k.
uint64_t encodedBits(const int8_t *values, size_t n, unsigned k);
/// The k in 0..kMaxParameter with the fewest total bits (the smallest on
/// ties; 0 for no values).
unsigned bestParameter(const int8_t *values, size_t n);

/// A Rice-coded stream: `count` values, `bits` code bits packed into `bytes`.
struct Stream {
  unsigned k = 0;
  uint64_t count = 0;
  uint64_t bits = 0;
  std::vector<uint8_t> bytes;
};

/// Codes `values[0..n)` with the best parameter.
Stream encode(const int8_t *values, size_t n);
/// Codes `values[0..n)` with parameter `k` (<= kMaxParameter).
Stream encode(const int8_t *values, size_t n, unsigned k);

/// Decodes `count` values coded with parameter `k` from `bytes[0..size)` into
/// `out`. Never reads past `size`. Fails, with the reason in `error`, when
/// the stream ends inside a code, a quotient is too long for an int8 value,
/// the padding bits are not zero, or bytes are left over after the codes.
bool decode(const uint8_t *bytes, size_t size, unsigned k, uint64_t count,
            std::vector<int8_t> &out, std::string &error);

/// The .rice container of `stream`, holding an array of `shape`.
std::vector<uint8_t> writeContainer(const Stream &stream,
                                    const std::vector<int64_t> &shape);
/// Reads a .rice container from `data[0..size)` and decodes it into `values`
/// of `shape`; `stream` gets its k, count, bits and payload. Fails, with the
/// reason in `error`, on any header field out of range, a size that is not
/// exactly the header's, or a payload that does not decode (see decode).
bool readContainer(const uint8_t *data, size_t size, Stream &stream,
                   std::vector<int64_t> &shape, std::vector<int8_t> &values,
                   std::string &error);

} // namespace tessera::rice

#endif // TESSERA_SUPPORT_RICE_H

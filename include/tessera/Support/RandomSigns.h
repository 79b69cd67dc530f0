//===- RandomSigns.h - Signs of randomized Hadamard transforms --*- C++ -*-===//
//
// Part of the ops' semantics, so every lowering (and every target) draws the
// same signs:
//   s_i = -1 if the top bit of splitmix64(seed + (i + 1) * 0x9E3779B97F4A7C15)
//   is set, else +1.
// splitmix64 is Steele, Lea and Flood's finaliser (z ^= z >> 30; z *=
// 0xBF58476D1CE4E5B9; z ^= z >> 27; z *= 0x94D049BB133111EB; z ^= z >> 31).
// Counter-based: s_i needs no state.
//
//===----------------------------------------------------------------------===//
#ifndef TESSERA_SUPPORT_RANDOMSIGNS_H
#define TESSERA_SUPPORT_RANDOMSIGNS_H

#include <cstdint>

namespace mlir::tessera {

/// The splitmix64 finaliser of `x`.
inline uint64_t splitmix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

/// Sign i (+1 or -1) of the randomized Hadamard transform seeded with `seed`.
inline int randomSign(uint64_t seed, int64_t i) {
  uint64_t z =
      splitmix64(seed + static_cast<uint64_t>(i + 1) * 0x9E3779B97F4A7C15ULL);
  return (z >> 63) ? -1 : 1;
}

} // namespace mlir::tessera

#endif // TESSERA_SUPPORT_RANDOMSIGNS_H

//===- Numeric.h - Bit-exact conversions of the simulator -------*- C++ -*-===//
//
// f16 and bf16 conversions with exact round-to-nearest-even (and the directed
// modes PTX names), written against the IEEE 754 encodings rather than the
// host's conversion instructions, so results do not depend on the host CPU.
//
//===----------------------------------------------------------------------===//
#ifndef TESSERA_SIM_NUMERIC_H
#define TESSERA_SIM_NUMERIC_H

#include <cmath>
#include <cstdint>
#include <cstring>

namespace tessera::sim {

enum class Round { Nearest, Zero, Down, Up };

inline uint32_t bitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float floatOf(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint64_t bitsOf(double d) {
  uint64_t u;
  std::memcpy(&u, &d, 8);
  return u;
}
inline double doubleOf(uint64_t u) {
  double d;
  std::memcpy(&d, &u, 8);
  return d;
}

inline float bf16ToFloat(uint16_t h) { return floatOf(uint32_t(h) << 16); }

/// f32 -> bf16: drop 16 mantissa bits with the given rounding; NaN stays a
/// (quiet) NaN.
inline uint16_t floatToBf16(float f, Round r = Round::Nearest) {
  uint32_t u = bitsOf(f);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>((u >> 16) | 0x40u);
  uint32_t sign = u >> 31;
  uint32_t rest = u & 0xffffu;
  uint32_t upper = u >> 16;
  bool inc = false;
  switch (r) {
  case Round::Nearest:
    inc = rest > 0x8000u || (rest == 0x8000u && (upper & 1u));
    break;
  case Round::Zero:
    break;
  case Round::Down:
    inc = sign && rest;
    break;
  case Round::Up:
    inc = !sign && rest;
    break;
  }
  return static_cast<uint16_t>(upper + (inc ? 1u : 0u));
}

inline float f16ToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h >> 15) << 31;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t man = h & 0x3ffu;
  if (exp == 0x1f)
    return floatOf(sign | 0x7f800000u | (man << 13));
  if (exp == 0) {
    if (man == 0)
      return floatOf(sign);
    // Subnormal: man * 2^-24, exact in f32.
    float v = static_cast<float>(man) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  return floatOf(sign | ((exp + 112) << 23) | (man << 13));
}

/// f32 -> f16 with exact rounding, subnormals and overflow to infinity (or to
/// the largest finite value under round-toward-zero and the directed modes
/// away from the overflow side).
inline uint16_t floatToF16(float f, Round r = Round::Nearest) {
  uint32_t u = bitsOf(f);
  uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  uint32_t absu = u & 0x7fffffffu;
  if (absu > 0x7f800000u)
    return static_cast<uint16_t>(sign | 0x7e00u);
  if (absu == 0x7f800000u)
    return static_cast<uint16_t>(sign | 0x7c00u);
  double a = std::fabs(static_cast<double>(f));
  // Scale so that the f16 quantum at this magnitude becomes 1.
  int e;
  std::frexp(a, &e); // a = m * 2^e, m in [0.5, 1)
  int quantumExp = std::max(e - 11, -24);
  double scaled = std::ldexp(a, -quantumExp);
  double whole = std::floor(scaled);
  double frac = scaled - whole;
  bool negative = sign != 0;
  bool inc = false;
  switch (r) {
  case Round::Nearest:
    inc = frac > 0.5 || (frac == 0.5 && std::fmod(whole, 2.0) != 0.0);
    break;
  case Round::Zero:
    break;
  case Round::Down:
    inc = negative && frac > 0;
    break;
  case Round::Up:
    inc = !negative && frac > 0;
    break;
  }
  double rounded = std::ldexp(whole + (inc ? 1 : 0), quantumExp);
  if (rounded >= 65520.0 || rounded > 65504.0) {
    bool toInf = r == Round::Nearest || (r == Round::Up && !negative) ||
                 (r == Round::Down && negative);
    return static_cast<uint16_t>(sign | (toInf ? 0x7c00u : 0x7bffu));
  }
  if (rounded == 0)
    return sign;
  int re;
  double rm = std::frexp(rounded, &re); // rounded = rm * 2^re
  int exp16 = re - 1 + 15;              // value = 1.x * 2^(re-1)
  if (exp16 <= 0) {                     // subnormal: man = rounded / 2^-24
    uint32_t man = static_cast<uint32_t>(std::ldexp(rounded, 24));
    return static_cast<uint16_t>(sign | man);
  }
  uint32_t man = static_cast<uint32_t>(std::ldexp(rm * 2 - 1, 10));
  return static_cast<uint16_t>(sign | (uint32_t(exp16) << 10) | man);
}

/// Flushes an f32 subnormal to a zero of the same sign (.ftz).
inline float flush(float f) {
  uint32_t u = bitsOf(f);
  if ((u & 0x7f800000u) == 0 && (u & 0x7fffffu))
    return floatOf(u & 0x80000000u);
  return f;
}

} // namespace tessera::sim

#endif // TESSERA_SIM_NUMERIC_H

//===- BitAllocation.cpp - Block-GTQ energies and greedy bit allocation ---===//
#include "tessera/Support/BitAllocation.h"

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace tessera;

int64_t tessera::bitBudget(int64_t blocks, double avgBits) {
  return static_cast<int64_t>(
      std::floor(static_cast<double>(blocks) * avgBits));
}

namespace {

/// 4^(-b) as an f32 built from its exponent bits, as the compiled op does (no
/// libm call; exact for the widths 1..8 the op allows).
float quarterPow(int32_t b) {
  uint32_t bits = static_cast<uint32_t>(127 - 2 * b) << 23;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

float gainOf(float s, int32_t b, int32_t maxBits) {
  return b >= maxBits ? -1.0f : s * quarterPow(b);
}

} // namespace

std::vector<int32_t> tessera::allocateBits(const float *s, size_t n,
                                           double avgBits, int32_t minBits,
                                           int32_t maxBits) {
  std::vector<int32_t> bits(n, minBits);
  std::vector<float> gains(n);
  for (size_t i = 0; i < n; ++i)
    gains[i] = gainOf(s[i], minBits, maxBits);
  int64_t extra = bitBudget(static_cast<int64_t>(n), avgBits) -
                  static_cast<int64_t>(n) * minBits;
  for (int64_t spent = 0; spent < extra; ++spent) {
    // Below any gain a block can have (-1 at max bits), so the first block
    // with a non-NaN gain starts the scan.
    float best = -2.0f;
    size_t arg = 0;
    for (size_t i = 0; i < n; ++i)
      if (gains[i] > best) {
        best = gains[i];
        arg = i;
      }
    if (!(best > 0.0f))
      break;
    gains[arg] = gainOf(s[arg], ++bits[arg], maxBits);
  }
  return bits;
}

bool tessera::ropeBlockEnergies(const float *q,
                                const std::vector<int64_t> &qShape,
                                const float *k,
                                const std::vector<int64_t> &kShape,
                                std::vector<float> &energies,
                                std::string &error) {
  auto str = [](const std::vector<int64_t> &shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i)
      s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
  };
  if (qShape.size() != 4 || kShape.size() != 4) {
    error = "q and k must be [B, H, S, D] (rank 4); got q " + str(qShape) +
            " and k " + str(kShape);
    return false;
  }
  for (const auto &shape : {qShape, kShape})
    for (int64_t d : shape)
      if (d <= 0) {
        error = "q and k must have no empty dim; got q " + str(qShape) +
                " and k " + str(kShape);
        return false;
      }
  const char *names[] = {"batch (B)", "", "length (S)", "head dim (D)"};
  for (int i : {0, 2, 3})
    if (qShape[i] != kShape[i]) {
      error = std::string("q and k differ in ") + names[i] + ": q " +
              str(qShape) + ", k " + str(kShape);
      return false;
    }
  int64_t b = qShape[0], hq = qShape[1], hkv = kShape[1], s = qShape[2],
          d = qShape[3];
  if (hq % hkv != 0) {
    error = "the key head count (" + std::to_string(hkv) +
            ") must divide the query head count (" + std::to_string(hq) + ")";
    return false;
  }
  if (d % 2 != 0) {
    error = "the head dim (" + std::to_string(d) +
            ") must be even (RoPE blocks pair dims i and i + D/2)";
    return false;
  }
  int64_t half = d / 2, group = hq / hkv;
  energies.assign(static_cast<size_t>(hkv * half), 0.0f);
  std::vector<double> sumQ(static_cast<size_t>(half)),
      sumK(static_cast<size_t>(half));
  auto accumulate = [&](const float *x, std::vector<double> &sum) {
    for (int64_t i = 0; i < half; ++i) {
      double lo = x[i], hi = x[i + half];
      sum[static_cast<size_t>(i)] += lo * lo + hi * hi;
    }
  };
  for (int64_t h = 0; h < hkv; ++h) {
    std::fill(sumQ.begin(), sumQ.end(), 0.0);
    std::fill(sumK.begin(), sumK.end(), 0.0);
    for (int64_t bi = 0; bi < b; ++bi) {
      for (int64_t g = 0; g < group; ++g)
        for (int64_t t = 0; t < s; ++t)
          accumulate(q + ((bi * hq + h * group + g) * s + t) * d, sumQ);
      for (int64_t t = 0; t < s; ++t)
        accumulate(k + ((bi * hkv + h) * s + t) * d, sumK);
    }
    double nq = static_cast<double>(b * group * s),
           nk = static_cast<double>(b * s);
    for (int64_t i = 0; i < half; ++i)
      energies[static_cast<size_t>(h * half + i)] =
          static_cast<float>(0.5 * (sumQ[static_cast<size_t>(i)] / nq +
                                    sumK[static_cast<size_t>(i)] / nk));
  }
  return true;
}

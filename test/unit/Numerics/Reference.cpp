//===- Reference.cpp - Independent references of tessera ops --------------===//
#include "Reference.h"

#include <algorithm>
#include <cmath>
#include <limits>

using namespace tessera::reference;

void tessera::reference::attention(const Attention &a,
                                   const std::vector<double> &q,
                                   const std::vector<double> &k,
                                   const std::vector<double> &v,
                                   std::vector<double> &o,
                                   std::vector<double> &lse) {
  o.assign(a.B * a.Hq * a.Sq * a.Dv, 0.0);
  lse.assign(a.B * a.Hq * a.Sq, -std::numeric_limits<double>::infinity());
  double scale = a.scale ? *a.scale : 1.0 / std::sqrt(static_cast<double>(a.D));
  int64_t g = a.Hq / a.Hkv, off = a.Skv - a.Sq;
  int64_t qBlocks = (a.Sq + a.blockQ - 1) / a.blockQ,
          kBlocks = (a.Skv + a.blockK - 1) / a.blockK;
  std::vector<double> s(a.Skv);
  std::vector<bool> visible(a.Skv);
  for (int64_t b = 0; b < a.B; ++b)
    for (int64_t h = 0; h < a.Hq; ++h) {
      int64_t kh = h / g;
      int64_t mh = a.maskHeads == a.Hq ? h : a.maskHeads == a.Hkv ? kh : 0;
      for (int64_t i = 0; i < a.Sq; ++i) {
        double m = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < a.Skv; ++j) {
          bool ok = true;
          if (a.causal && j > i + off)
            ok = false;
          if (a.window && j <= i + off - *a.window)
            ok = false;
          if (!a.blockMask.empty() &&
              !a.blockMask[(mh * qBlocks + i / a.blockQ) * kBlocks +
                           j / a.blockK])
            ok = false;
          visible[j] = ok;
          if (!ok)
            continue;
          double dot = 0;
          for (int64_t d = 0; d < a.D; ++d)
            dot += q[((b * a.Hq + h) * a.Sq + i) * a.D + d] *
                   k[((b * a.Hkv + kh) * a.Skv + j) * a.D + d];
          s[j] = dot * scale;
          m = std::max(m, s[j]);
        }
        if (m == -std::numeric_limits<double>::infinity())
          continue;
        double l = 0;
        double *out = &o[((b * a.Hq + h) * a.Sq + i) * a.Dv];
        for (int64_t j = 0; j < a.Skv; ++j) {
          if (!visible[j])
            continue;
          double p = std::exp(s[j] - m);
          l += p;
          for (int64_t d = 0; d < a.Dv; ++d)
            out[d] += p * v[((b * a.Hkv + kh) * a.Skv + j) * a.Dv + d];
        }
        for (int64_t d = 0; d < a.Dv; ++d)
          out[d] /= l;
        lse[(b * a.Hq + h) * a.Sq + i] = m + std::log(l);
      }
    }
}

namespace {
/// Sign i of the op's randomized Hadamard: the top bit of a splitmix64 draw.
int sign(uint64_t seed, int64_t i) {
  uint64_t z = seed + static_cast<uint64_t>(i + 1) * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return (z >> 63) ? -1 : 1;
}
} // namespace

std::vector<double> tessera::reference::hadamard(const std::vector<double> &x,
                                                 int64_t d,
                                                 std::optional<uint64_t> seed,
                                                 bool inverse) {
  // Sylvester construction: H_1 = [1], H_2n = [[H, H], [H, -H]].
  std::vector<int> h(1, 1);
  for (int64_t n = 1; n < d; n *= 2) {
    std::vector<int> next(4 * n * n);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = 0; c < n; ++c) {
        int e = h[r * n + c];
        next[r * 2 * n + c] = e;
        next[r * 2 * n + c + n] = e;
        next[(r + n) * 2 * n + c] = e;
        next[(r + n) * 2 * n + c + n] = -e;
      }
    h = std::move(next);
  }
  std::vector<double> y(x.size());
  double norm = 1.0 / std::sqrt(static_cast<double>(d));
  for (size_t row = 0; row < x.size() / d; ++row)
    for (int64_t r = 0; r < d; ++r) {
      double acc = 0;
      for (int64_t c = 0; c < d; ++c) {
        double xc = x[row * d + c];
        if (seed && !inverse)
          xc *= sign(*seed, c);
        acc += h[r * d + c] * xc;
      }
      acc *= norm;
      if (seed && inverse)
        acc *= sign(*seed, r);
      y[row * d + r] = acc;
    }
  return y;
}

IntQuantized tessera::reference::quantizeInt(const std::vector<float> &row,
                                             int bits, int64_t group,
                                             bool symmetric) {
  IntQuantized out;
  int64_t d = static_cast<int64_t>(row.size());
  if (group == 0)
    group = d;
  out.codes.assign((d * bits + 7) / 8, 0);
  int64_t levels = int64_t{1} << bits;
  float qmax = symmetric ? static_cast<float>(levels / 2 - 1)
                         : static_cast<float>(levels - 1);
  for (int64_t g0 = 0; g0 < d; g0 += group) {
    float hi = -std::numeric_limits<float>::infinity(),
          lo = std::numeric_limits<float>::infinity();
    for (int64_t j = g0; j < g0 + group; ++j) {
      hi = std::max(hi, symmetric ? std::fabs(row[j]) : row[j]);
      lo = std::min(lo, row[j]);
    }
    float scale = symmetric ? hi / qmax : (hi - lo) / qmax;
    float zero = symmetric ? 0.0f : lo;
    out.scales.push_back(scale);
    out.zeros.push_back(zero);
    float inv = scale > 0 ? 1.0f / scale : 0.0f;
    for (int64_t j = g0; j < g0 + group; ++j) {
      float q = std::round((row[j] - zero) * inv);
      q = std::min(std::max(q, symmetric ? -qmax : 0.0f), qmax);
      uint32_t code = static_cast<uint32_t>(
          symmetric ? q + static_cast<float>(levels / 2) : q);
      for (int bit = 0; bit < bits; ++bit)
        if (code >> bit & 1) {
          int64_t pos = j * bits + bit;
          out.codes[pos / 8] |= static_cast<uint8_t>(1u << (pos % 8));
        }
      float deq =
          symmetric
              ? static_cast<float>(static_cast<int32_t>(code) - levels / 2) *
                    scale
              : static_cast<float>(code) * scale + zero;
      out.dequantized.push_back(deq);
    }
  }
  return out;
}

//===- BlockTopology.cpp - Static block topology calibration --------------===//
//
// Scores are computed once per (input, head) and kept; each bisection step
// only re-runs the masked softmax-times-V of one head, so a head's search
// costs iterations x N x Sq x Skv x Dv.
//
//===----------------------------------------------------------------------===//
#include "tessera/Support/BlockTopology.h"

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace tessera;

namespace {

int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// The last key query row `i` sees with ends aligned.
int64_t limitOf(int64_t i, int64_t sq, int64_t skv) { return i + skv - sq; }

} // namespace

std::vector<uint8_t> tessera::topPBlockMask(const std::vector<double> &mass,
                                            int64_t sq, int64_t skv, double p,
                                            const TopologyOptions &o) {
  int64_t qbs = cdiv(sq, o.blockQ), kbs = cdiv(skv, o.blockK);
  std::vector<uint8_t> mask(qbs * kbs, 0);
  for (int64_t qb = 0; qb < qbs; ++qb) {
    int64_t last = std::min((qb + 1) * o.blockQ, sq) - 1;
    int64_t limit = limitOf(last, sq, skv);
    std::vector<int64_t> order;
    for (int64_t kb = 0; kb < kbs; ++kb)
      if (!o.causal || kb * o.blockK <= limit)
        order.push_back(kb);
    // (std::sort with an index tie-break, not stable_sort: libstdc++'s calls
    // the deprecated get_temporary_buffer, an error under -Werror.)
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      double ma = mass[qb * kbs + a], mb = mass[qb * kbs + b];
      return ma != mb ? ma > mb : a < b;
    });
    double before = 0;
    for (int64_t kb : order) {
      if (p < 1 && before >= p)
        break;
      mask[qb * kbs + kb] = 1;
      before += mass[qb * kbs + kb];
    }
    if (kbs > 0 && (!o.causal || limit >= 0))
      mask[qb * kbs + (limit >= 0 ? std::min(limit / o.blockK, kbs - 1) : 0)] =
          1;
  }
  return mask;
}

bool tessera::calibrateTopology(const float *q, const std::vector<int64_t> &qs,
                                const float *k, const std::vector<int64_t> &ks,
                                const float *v, const std::vector<int64_t> &vs,
                                const TopologyOptions &o, Topology &t,
                                std::string &error) {
  auto str = [](const std::vector<int64_t> &s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i)
      out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
  };
  if (qs.size() != 4 || ks.size() != 4 || vs.size() != 4) {
    error = "q, k and v must have rank 4 ([N, H, S, D]); got " + str(qs) +
            ", " + str(ks) + ", " + str(vs);
    return false;
  }
  int64_t n = qs[0], hq = qs[1], sq = qs[2], d = qs[3];
  int64_t hkv = ks[1], skv = ks[2], dv = vs[3];
  if (ks[0] != n || vs[0] != n || vs[1] != hkv || vs[2] != skv || ks[3] != d) {
    error = "k " + str(ks) + " and v " + str(vs) + " must match q " + str(qs) +
            " in N and D, and each other in N, Hkv and Skv";
    return false;
  }
  if (hkv <= 0 || hq % hkv != 0) {
    error = "the key head count (" + std::to_string(hkv) +
            ") must divide the query head count (" + std::to_string(hq) + ")";
    return false;
  }
  if (n <= 0 || sq <= 0 || skv <= 0 || d <= 0 || dv <= 0) {
    error = "every dim must be positive; got q " + str(qs) + ", v " + str(vs);
    return false;
  }
  if (o.blockQ <= 0 || o.blockK <= 0 || !(o.targetError >= 0)) {
    error = "block sizes must be positive and the target error non-negative";
    return false;
  }
  int64_t g = hq / hkv, qbs = cdiv(sq, o.blockQ), kbs = cdiv(skv, o.blockK);
  double scale = 1.0 / std::sqrt(static_cast<double>(d));
  t.heads = hq;
  t.queryBlocks = qbs;
  t.keyBlocks = kbs;
  t.mass.assign(hq * qbs * kbs, 0.0);
  t.mask.assign(hq * qbs * kbs, 0);
  t.p.assign(hq, 1.0);
  t.error.assign(hq, 0.0);
  t.density.assign(hq, 1.0);

  for (int64_t h = 0; h < hq; ++h) {
    int64_t kh = h / g;
    // Scaled logits per (input, row, key) of head h; -inf where causal
    // hides the key.
    std::vector<std::vector<double>> all(n, std::vector<double>(sq * skv));
    std::vector<double> dense(n * sq * dv, 0.0);
    for (int64_t b = 0; b < n; ++b) {
      const float *qh = q + ((b * hq + h) * sq) * d;
      const float *kh0 = k + ((b * hkv + kh) * skv) * d;
      const float *vh = v + ((b * hkv + kh) * skv) * dv;
      for (int64_t i = 0; i < sq; ++i) {
        double mx = -INFINITY;
        for (int64_t j = 0; j < skv; ++j) {
          double s = -INFINITY;
          if (!o.causal || j <= limitOf(i, sq, skv)) {
            s = 0;
            for (int64_t c = 0; c < d; ++c)
              s += static_cast<double>(qh[i * d + c]) * kh0[j * d + c];
            s *= scale;
          }
          all[b][i * skv + j] = s;
          mx = std::max(mx, s);
        }
        if (mx == -INFINITY)
          continue;
        double sum = 0;
        for (int64_t j = 0; j < skv; ++j)
          sum += std::exp(all[b][i * skv + j] - mx);
        int64_t qb = i / o.blockQ;
        int64_t rows = std::min((qb + 1) * o.blockQ, sq) - qb * o.blockQ;
        for (int64_t j = 0; j < skv; ++j) {
          double pr = std::exp(all[b][i * skv + j] - mx) / sum;
          t.mass[(h * qbs + qb) * kbs + j / o.blockK] +=
              pr / static_cast<double>(rows * n);
          for (int64_t c = 0; c < dv; ++c)
            dense[(b * sq + i) * dv + c] += pr * vh[j * dv + c];
        }
      }
    }
    double norm = 0;
    for (double x : dense)
      norm += x * x;
    std::vector<double> mass(t.mass.begin() + h * qbs * kbs,
                             t.mass.begin() + (h + 1) * qbs * kbs);
    // The relative output error of head h under `mask`.
    auto errorOf = [&](const std::vector<uint8_t> &mask) {
      double err = 0;
      std::vector<double> o2(dv);
      for (int64_t b = 0; b < n; ++b) {
        const float *vh = v + ((b * hkv + kh) * skv) * dv;
        for (int64_t i = 0; i < sq; ++i) {
          int64_t qb = i / o.blockQ;
          double mx = -INFINITY;
          for (int64_t j = 0; j < skv; ++j)
            if (mask[qb * kbs + j / o.blockK])
              mx = std::max(mx, all[b][i * skv + j]);
          std::fill(o2.begin(), o2.end(), 0.0);
          if (mx != -INFINITY) {
            double sum = 0;
            for (int64_t j = 0; j < skv; ++j)
              if (mask[qb * kbs + j / o.blockK])
                sum += std::exp(all[b][i * skv + j] - mx);
            for (int64_t j = 0; j < skv; ++j)
              if (mask[qb * kbs + j / o.blockK]) {
                double pr = std::exp(all[b][i * skv + j] - mx) / sum;
                for (int64_t c = 0; c < dv; ++c)
                  o2[c] += pr * vh[j * dv + c];
              }
          }
          for (int64_t c = 0; c < dv; ++c) {
            double e = o2[c] - dense[(b * sq + i) * dv + c];
            err += e * e;
          }
        }
      }
      return norm > 0 ? std::sqrt(err / norm) : std::sqrt(err);
    };
    // Bisection: hi always meets the target (p = 1 keeps every visible
    // block, error 0), lo = 0 is taken not to.
    double lo = 0, hi = 1;
    std::vector<uint8_t> best = topPBlockMask(mass, sq, skv, 1.0, o);
    double bestErr = errorOf(best);
    for (int it = 0; it < o.iterations; ++it) {
      double mid = 0.5 * (lo + hi);
      std::vector<uint8_t> m = topPBlockMask(mass, sq, skv, mid, o);
      double e = errorOf(m);
      if (e <= o.targetError) {
        hi = mid;
        best = m;
        bestErr = e;
      } else {
        lo = mid;
      }
    }
    std::copy(best.begin(), best.end(), t.mask.begin() + h * qbs * kbs);
    t.p[h] = hi;
    t.error[h] = bestErr;
    int64_t visible = 0, kept = 0;
    for (int64_t qb = 0; qb < qbs; ++qb) {
      int64_t limit = limitOf(std::min((qb + 1) * o.blockQ, sq) - 1, sq, skv);
      for (int64_t kb = 0; kb < kbs; ++kb)
        if (!o.causal || kb * o.blockK <= limit) {
          ++visible;
          kept += best[qb * kbs + kb];
        }
    }
    t.density[h] = visible ? static_cast<double>(kept) / visible : 0.0;
  }
  return true;
}

std::string tessera::topologyAttr(const Topology &t) {
  std::string s = "dense<[";
  for (int64_t h = 0; h < t.heads; ++h) {
    s += h ? ", [" : "[";
    for (int64_t qb = 0; qb < t.queryBlocks; ++qb) {
      s += qb ? ", [" : "[";
      for (int64_t kb = 0; kb < t.keyBlocks; ++kb)
        s += std::string(kb ? ", " : "") +
             (t.mask[(h * t.queryBlocks + qb) * t.keyBlocks + kb] ? "true"
                                                                  : "false");
      s += "]";
    }
    s += "]";
  }
  return s + "]> : tensor<" + std::to_string(t.heads) + "x" +
         std::to_string(t.queryBlocks) + "x" + std::to_string(t.keyBlocks) +
         "xi1>";
}

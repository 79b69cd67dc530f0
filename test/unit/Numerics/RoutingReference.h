//===- RoutingReference.h - tessera.block_select reference -----*- C++ -*-===//
//
// ALGORITHMS.md 2 written from the text (double precision, explicit sorts),
// shared by the block_select numerics and the decode-step composition tests.
// It shares no code with the lowering.
//
//===----------------------------------------------------------------------===//
#ifndef TESSERA_TEST_NUMERICS_ROUTINGREFERENCE_H
#define TESSERA_TEST_NUMERICS_ROUTINGREFERENCE_H

#include "tessera/Support/Tensor.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace tessera::test::routing {

inline int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

struct Sel {
  std::string name;
  int64_t B = 1, Hq = 1, Hkv = 1, Sq = 1, Skv = 1, D = 8;
  int64_t blockQ = 16, blockK = 16;
  std::string pool = "avg";
  std::optional<int64_t> topK = std::nullopt;
  std::optional<double> topP = std::nullopt, layerP = std::nullopt;
  int64_t sinks = 0;
  bool causal = false;
  int64_t P = 0; ///< projection width; 0: no projections
  std::optional<double> scale = std::nullopt;
  bool dynamic = false;     ///< compile Sq and Skv as `?`
  bool dupBlocks = false;   ///< every key block a copy of block 0 (score ties)
  DType dtype = DType::F32; ///< of Q and K (projections stay f32)
};

inline std::ostream &operator<<(std::ostream &os, const Sel &c) {
  return os << c.name;
}

/// The reference's result: a flag per (b, kv head, query block, key block),
/// and the block scores (for property checks).
struct Selection {
  std::vector<uint8_t> keep;
  std::vector<double> score;
  std::vector<uint8_t> visible;
};

/// ALGORITHMS.md 2 from the text (and the op's documented choices): pooled
/// keys, the pooled query, softmax over the visible blocks, then a sort per
/// query block (and per layer for the cap), forced blocks last.
inline Selection referenceSelect(const Sel &c, const std::vector<double> &q,
                                 const std::vector<double> &k,
                                 const std::vector<double> &wq,
                                 const std::vector<double> &wk) {
  int64_t QB = cdiv(c.Sq, c.blockQ), KB = cdiv(c.Skv, c.blockK);
  int64_t g = c.Hq / c.Hkv, D = c.D;
  int64_t cw = c.pool == "max_min_avg" ? 3 : 1;
  int64_t W = c.P ? c.P : D;
  double scale = c.scale ? *c.scale : 1.0 / std::sqrt(static_cast<double>(D));
  Selection s;
  s.keep.assign(c.B * c.Hkv * QB * KB, 0);
  s.score.assign(s.keep.size(), 0.0);
  s.visible.assign(s.keep.size(), 0);
  auto K = [&](int64_t b, int64_t h, int64_t t, int64_t d) {
    return k[((b * c.Hkv + h) * c.Skv + t) * D + d];
  };
  auto Q = [&](int64_t b, int64_t h, int64_t t, int64_t d) {
    return q[((b * c.Hq + h) * c.Sq + t) * D + d];
  };
  auto at = [&](int64_t b, int64_t h, int64_t qb, int64_t kb) {
    return ((b * c.Hkv + h) * QB + qb) * KB + kb;
  };
  for (int64_t b = 0; b < c.B; ++b) {
    for (int64_t h = 0; h < c.Hkv; ++h) {
      // Pooled (projected) keys.
      std::vector<std::vector<double>> kp(KB);
      for (int64_t kb = 0; kb < KB; ++kb) {
        int64_t t0 = kb * c.blockK, t1 = std::min(t0 + c.blockK, c.Skv);
        std::vector<double> mx(D, -INFINITY), mn(D, INFINITY), av(D, 0.0);
        for (int64_t t = t0; t < t1; ++t)
          for (int64_t d = 0; d < D; ++d) {
            mx[d] = std::max(mx[d], K(b, h, t, d));
            mn[d] = std::min(mn[d], K(b, h, t, d));
            av[d] += K(b, h, t, d) / static_cast<double>(t1 - t0);
          }
        std::vector<double> pooled;
        if (c.pool == "max_min_avg") {
          pooled = mx;
          pooled.insert(pooled.end(), mn.begin(), mn.end());
          pooled.insert(pooled.end(), av.begin(), av.end());
        } else {
          pooled = c.pool == "max" ? mx : c.pool == "min" ? mn : av;
        }
        if (c.P) {
          kp[kb].assign(W, 0.0);
          for (int64_t p = 0; p < W; ++p)
            for (int64_t i = 0; i < cw * D; ++i)
              kp[kb][p] += pooled[i] * wk[(h * cw * D + i) * W + p];
        } else {
          kp[kb] = pooled;
        }
      }
      for (int64_t qb = 0; qb < QB; ++qb) {
        int64_t r0 = qb * c.blockQ, r1 = std::min(r0 + c.blockQ, c.Sq);
        std::vector<double> qp(D, 0.0);
        for (int64_t j = 0; j < g; ++j)
          for (int64_t t = r0; t < r1; ++t)
            for (int64_t d = 0; d < D; ++d)
              qp[d] +=
                  Q(b, h * g + j, t, d) / static_cast<double>(g * (r1 - r0));
        if (c.P) {
          std::vector<double> y(W, 0.0);
          for (int64_t p = 0; p < W; ++p)
            for (int64_t d = 0; d < D; ++d)
              y[p] += qp[d] * wq[(h * D + d) * W + p];
          qp = y;
        }
        int64_t limit = r1 - 1 + c.Skv - c.Sq;
        std::vector<double> logit(KB, -INFINITY);
        double mx = -INFINITY;
        for (int64_t kb = 0; kb < KB; ++kb) {
          bool vis = !c.causal || kb * c.blockK <= limit;
          s.visible[at(b, h, qb, kb)] = vis;
          if (!vis)
            continue;
          double dot = 0;
          for (int64_t p = 0; p < W; ++p)
            dot += qp[p] * kp[kb][p];
          logit[kb] = scale * dot;
          mx = std::max(mx, logit[kb]);
        }
        double sum = 0;
        for (int64_t kb = 0; kb < KB; ++kb)
          if (s.visible[at(b, h, qb, kb)])
            sum += std::exp(logit[kb] - mx);
        std::vector<int64_t> order;
        for (int64_t kb = 0; kb < KB; ++kb)
          if (s.visible[at(b, h, qb, kb)]) {
            s.score[at(b, h, qb, kb)] = std::exp(logit[kb] - mx) / sum;
            order.push_back(kb);
          }
        // (std::sort with an index tie-break: libstdc++'s stable_sort calls
        // the deprecated get_temporary_buffer, an error in CI's -Werror.)
        std::sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {
          double sx = s.score[at(b, h, qb, x)], sy = s.score[at(b, h, qb, y)];
          return sx != sy ? sx > sy : x < y;
        });
        double cum = 0;
        for (size_t r = 0; r < order.size(); ++r) {
          bool keep =
              c.topK ? static_cast<int64_t>(r) < *c.topK : cum < *c.topP;
          if (!keep)
            break;
          s.keep[at(b, h, qb, order[r])] = 1;
          cum += s.score[at(b, h, qb, order[r])];
        }
      }
    }
    if (c.layerP) {
      double total = 0, cand = 0;
      std::vector<int64_t> order;
      for (int64_t i = at(b, 0, 0, 0); i < at(b + 1, 0, 0, 0); ++i) {
        total += s.score[i];
        if (s.keep[i]) {
          order.push_back(i);
          cand += s.score[i];
        }
      }
      double target = *c.layerP * total;
      if (target > 0 && cand >= target) {
        std::sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {
          return s.score[x] != s.score[y] ? s.score[x] > s.score[y] : x < y;
        });
        double cum = 0;
        for (int64_t i : order) {
          if (cum >= target)
            s.keep[i] = 0;
          cum += s.score[i];
        }
      }
    }
    for (int64_t h = 0; h < c.Hkv; ++h)
      for (int64_t qb = 0; qb < QB; ++qb) {
        int64_t r1 = std::min((qb + 1) * c.blockQ, c.Sq);
        int64_t limit = r1 - 1 + c.Skv - c.Sq;
        if (KB > 0 && (!c.causal || limit >= 0))
          s.keep[at(b, h, qb, limit >= 0 ? limit / c.blockK : 0)] = 1;
        for (int64_t kb = 0; kb < std::min(c.sinks, KB); ++kb)
          if (s.visible[at(b, h, qb, kb)])
            s.keep[at(b, h, qb, kb)] = 1;
      }
  }
  return s;
}

} // namespace tessera::test::routing

#endif // TESSERA_TEST_NUMERICS_ROUTINGREFERENCE_H

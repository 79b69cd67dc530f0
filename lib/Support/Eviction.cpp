//===- Eviction.cpp - Host-side pieces of KV-cache eviction ---------------===//
#include "tessera/Support/Eviction.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace tessera {
namespace {
constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ULL;

uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

uint64_t fold(uint64_t z, int64_t counter) {
  return mix(z + static_cast<uint64_t>(counter + 1) * kGolden);
}
} // namespace

std::vector<int64_t> allocateLayerBudgets(const std::vector<double> &s,
                                          int64_t avgBudget,
                                          int64_t minBudget) {
  auto layers = static_cast<int64_t>(s.size());
  int64_t total = layers * avgBudget, cap = 3 * avgBudget;
  double spare = static_cast<double>(total - minBudget * layers);
  std::vector<int64_t> budgets(s.size());
  for (size_t l = 0; l < s.size(); ++l)
    budgets[l] = std::clamp<int64_t>(
        minBudget + static_cast<int64_t>(std::round(s[l] * spare)), minBudget,
        cap);
  // Decreasing s, the first layer on ties.
  std::vector<size_t> order(s.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return s[a] != s[b] ? s[a] > s[b] : a < b;
  });
  int64_t sum = std::accumulate(budgets.begin(), budgets.end(), int64_t{0});
  while (sum != total) {
    int64_t step = sum < total ? 1 : -1;
    bool moved = false;
    for (size_t l : order) {
      if (sum == total)
        break;
      int64_t next = budgets[l] + step;
      if (next < minBudget || next > cap)
        continue;
      budgets[l] = next;
      sum += step;
      moved = true;
    }
    if (!moved) // Every layer at a bound: the total is out of reach.
      break;
  }
  return budgets;
}

uint64_t reservoirStream(uint64_t seed, int64_t layer, int64_t head,
                         int64_t step) {
  return fold(fold(fold(seed, layer), head), step);
}

uint32_t reservoirBits(uint64_t stream, int64_t j) {
  return static_cast<uint32_t>(fold(stream, j) >> 41);
}

float reservoirUniform(uint64_t stream, int64_t j) {
  return (static_cast<float>(reservoirBits(stream, j)) + 0.5f) * 0x1p-23f;
}

} // namespace tessera

//===- Eviction.h - Host-side pieces of KV-cache eviction -------*- C++ -*-===//
//
// The parts of ALGORITHMS.md 5 that are plain functions of a few numbers:
// CompressKV's layer budget allocation (what each layer's `tessera.evict`
// budget should be) and the counter-based uniforms of the reservoir policy's
// Efraimidis-Spirakis keys, which the compiled op regenerates in IR bit for
// bit. Plain C++; no MLIR.
//
//===----------------------------------------------------------------------===//
#ifndef TESSERA_SUPPORT_EVICTION_H
#define TESSERA_SUPPORT_EVICTION_H

#include <cstdint>
#include <vector>

namespace tessera {

/// CompressKV's per-layer budgets for layer scores `s` (one per layer,
/// summing to 1) and an average budget `avgBudget`: B_l = minBudget +
/// round(s_l * (L * avgBudget - minBudget * L)) (halves away from zero),
/// clipped to [minBudget, 3 * avgBudget]; then, while the sum differs from
/// L * avgBudget, one token is added to (or taken from) the layers in order
/// of decreasing s (the first layer on ties), skipping layers at a bound.
/// s = [.5, .25, .25], avgBudget = 100 gives [134, 83, 83].
std::vector<int64_t> allocateLayerBudgets(const std::vector<double> &s,
                                          int64_t avgBudget,
                                          int64_t minBudget = 32);

/// The reservoir policy's RNG stream of one index set: splitmix64 chained
/// over the counters seed, layer, head and step (each folded in as
/// z = splitmix64(z + (c + 1) * 0x9E3779B97F4A7C15)). `head` is the row of
/// the index set: b * Hkv + h per head, b per layer.
uint64_t reservoirStream(uint64_t seed, int64_t layer, int64_t head,
                         int64_t step);

/// Bits 63..41 of splitmix64(stream + (j + 1) * 0x9E3779B97F4A7C15): the
/// uniform of token j is (bits + 0.5) * 2^-23, exact in f32 and in (0, 1).
uint32_t reservoirBits(uint64_t stream, int64_t j);

/// The uniform u_j in (0, 1) of token j, from reservoirBits.
float reservoirUniform(uint64_t stream, int64_t j);

} // namespace tessera

#endif // TESSERA_SUPPORT_EVICTION_H

//===- BitAllocation.h - Block-GTQ energies and bit allocation -*- C++ -*-===//
//
// The host side of Block-GTQ's RoPE-aware bit allocation (ALGORITHMS.md 4b):
// the per-block energies of calibration Q/K and the greedy allocation that
// tessera.bit_allocate computes in compiled code. Plain C++; no MLIR. The
// compiled op (lib/Conversion/Common/BitAllocate.cpp) emits the same steps in
// IR; the numerics tests hold the two to the same bits.
//
//===----------------------------------------------------------------------===//
#ifndef TESSERA_SUPPORT_BITALLOCATION_H
#define TESSERA_SUPPORT_BITALLOCATION_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

/// The total bit budget of `blocks` RoPE blocks at `avgBits` on average:
/// floor(blocks * avgBits), computed in double. It counts every bit, the
/// `minBits` each block starts with included.
int64_t bitBudget(int64_t blocks, double avgBits);

/// The greedy allocation of ALGORITHMS.md 4b over the energies `s[0..n)`:
/// every block starts at `minBits`; while the bits given are fewer than
/// bitBudget(n, avgBits), the block with the largest gain s_i * 4^(-b_i)
/// (-1 once b_i >= maxBits) gets one more bit, the first such block on ties;
/// the loop stops early when the largest gain is not positive. Gains are f32
/// products by exact powers of two, as in the compiled op, so both agree bit
/// for bit; a NaN energy never wins a bit. Requires 1 <= minBits <= maxBits
/// and minBits <= avgBits (the op's verifier's rules).
std::vector<int32_t> allocateBits(const float *s, size_t n, double avgBits,
                                  int32_t minBits, int32_t maxBits);

/// Per-KV-head RoPE-block energies of calibration queries `q` [B, Hq, S, D]
/// and keys `k` [B, Hkv, S, D] (row-major f32): for KV head h and block
/// i < D/2 (dims i and i + D/2, the split-half RoPE layout),
///   s_i = 0.5 * (mean_n ||q_n^(i)||^2 + mean_n ||k_n^(i)||^2),
/// where the query samples n are every (batch, position) of every query head
/// of h's GQA group (Hq / Hkv heads) and the key samples every (batch,
/// position) of head h. Accumulated in double; returned as f32 [Hkv, D/2],
/// the energies tessera.bit_allocate takes. On a shape rule broken (ranks,
/// B/S/D differing, Hkv not dividing Hq, odd D, an empty dim) returns false
/// and says why in `error`.
bool ropeBlockEnergies(const float *q, const std::vector<int64_t> &qShape,
                       const float *k, const std::vector<int64_t> &kShape,
                       std::vector<float> &energies, std::string &error);

} // namespace tessera

#endif // TESSERA_SUPPORT_BITALLOCATION_H

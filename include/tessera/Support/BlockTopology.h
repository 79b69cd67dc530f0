//===- BlockTopology.h - Static block topology calibration -----*- C++ -*-===//
//
// ALGORITHMS.md 3 (ScalingAttention's static topology) on the host: average
// block masses of calibration attention, per-head top-p over blocks with the
// diagonal forced, and each head's p found by bisection to meet a relative
// output-error target. The result is a constant block mask that
// --tessera-sparsify turns into a compile-time `#tessera.block_topology`.
// Plain C++; no MLIR (tessera-run --calibrate-topology drives it;
// docs/routing.md).
//
//===----------------------------------------------------------------------===//
#ifndef TESSERA_SUPPORT_BLOCKTOPOLOGY_H
#define TESSERA_SUPPORT_BLOCKTOPOLOGY_H

#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

/// The calibration's settings: the mask grid (the attention's block sizes),
/// causal visibility (ends aligned), the relative output-error target and
/// the bisection's step count.
struct TopologyOptions {
  int64_t blockQ = 64, blockK = 64;
  bool causal = false;
  double targetError = 0.05;
  int iterations = 20;
};

/// A calibrated topology: per query head, the mask [Hq, QB, KB] (1 = the
/// key block is visited), the head's p, its relative output error on the
/// calibration set and its density (kept / visible blocks); `mass` is the
/// averaged block mass [Hq, QB, KB] the masks were chosen from.
struct Topology {
  int64_t heads = 0, queryBlocks = 0, keyBlocks = 0;
  std::vector<double> mass;
  std::vector<uint8_t> mask;
  std::vector<double> p, error, density;
};

/// The top-p mask of one head from its averaged masses `mass` [QB, KB]: per
/// query block, the visible blocks in descending mass order (lower index
/// first on ties) are kept while the mass kept before them is below `p`
/// (p >= 1 keeps every visible block), then the diagonal block (that of key
/// `last row + Skv - Sq`) is forced on.
std::vector<uint8_t> topPBlockMask(const std::vector<double> &mass, int64_t sq,
                                   int64_t skv, double p,
                                   const TopologyOptions &options);

/// Calibrates a topology from q [N, Hq, Sq, D], k [N, Hkv, Skv, D] and
/// v [N, Hkv, Skv, Dv] (row-major f32; the N inputs are the calibration
/// set). Block mass of (head, query block, key block) = the attention
/// probability mass of the block averaged over its query rows, then over
/// the N inputs (each query block's masses sum to 1). For each head, p is
/// bisected on [0, 1] for the smallest p whose mask keeps the relative
/// output error sqrt(sum |O_masked - O|^2 / sum |O|^2) over the N inputs at
/// or below the target. False with a message in `error` on a shape rule
/// broken.
bool calibrateTopology(const float *q, const std::vector<int64_t> &qShape,
                       const float *k, const std::vector<int64_t> &kShape,
                       const float *v, const std::vector<int64_t> &vShape,
                       const TopologyOptions &options, Topology &result,
                       std::string &error);

/// The mask as an MLIR dense attribute, `dense<[[[true, false, ...]]]> :
/// tensor<HqxQBxKBxi1>`.
std::string topologyAttr(const Topology &t);

} // namespace tessera

#endif // TESSERA_SUPPORT_BLOCKTOPOLOGY_H

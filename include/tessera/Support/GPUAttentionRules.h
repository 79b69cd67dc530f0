//===- GPUAttentionRules.h - What the GPU attention kernels can run -*- C++
//-*-===//
//
// The one place that says how tessera.attention maps onto the GPU: warps own
// 16 query rows (one mma.sync m16 tile), CTAs have 2 or 4 warps (a wgmma
// warpgroup needs 4), key blocks of 64 are staged in shared memory, the
// block-mask grid is 64 x 64, head dims are multiples of 16 up to 128. The
// dialect's verifier, --tessera-tile-attention, the GPU conversion's checks and
// the kernel builder all read these. Plain C++ (no MLIR), so the runtime and
// tests may include it too.
//
//===----------------------------------------------------------------------===//
#ifndef TESSERA_SUPPORT_GPUATTENTIONRULES_H
#define TESSERA_SUPPORT_GPUATTENTIONRULES_H

#include <cstdint>
#include <string>

namespace tessera::gpu_attention {

/// Query rows per warp: the M of mma.sync.m16n8k16.
constexpr int64_t kRowsPerWarp = 16;
/// Keys per shared-memory block (8 n-tiles of mma.sync, N of wgmma m64n64).
constexpr int64_t kBlockK = 64;
/// The mask/topology grid the kernels tile (block_q = block_k = 64).
constexpr int64_t kBlockQ = 64;
/// Warps per CTA; wgmma needs one warpgroup.
constexpr int64_t kDefaultWarps = 4, kWgmmaWarps = 4;
constexpr bool validWarps(int64_t warps) { return warps == 2 || warps == 4; }
/// Head dims: whole k-slices of 16, at most 128 (registers and shared memory).
constexpr int64_t kHeadDimStep = 16, kMaxHeadDim = 128;

/// Why a problem cannot run on the GPU kernels, or "" when it can. `warps` is
/// the tile's warp count (0: no GPU tile chosen yet) and `tileQ` its rows.
inline std::string unsupportedReason(int64_t headDim, int64_t valueDim,
                                     int64_t blockQ, int64_t blockK,
                                     int64_t tileQ, int64_t warps, bool wgmma) {
  auto str = [](int64_t v) { return std::to_string(v); };
  if (headDim % kHeadDimStep || valueDim % kHeadDimStep ||
      headDim > kMaxHeadDim || valueDim > kMaxHeadDim)
    return "GPU attention needs head dims that are multiples of " +
           str(kHeadDimStep) + " and at most " + str(kMaxHeadDim) +
           "; got D = " + str(headDim) + ", Dv = " + str(valueDim);
  if (blockQ != kBlockQ || blockK != kBlockK)
    return "GPU attention tiles " + str(kBlockQ) + " x " + str(kBlockK) +
           "; block_q (" + str(blockQ) + ") and block_k (" + str(blockK) +
           ") must be 64";
  if (warps == 0 && tileQ != kDefaultWarps * kRowsPerWarp)
    return "tile of " + str(tileQ) +
           " query rows has no warp count: a CPU tile cannot run on the GPU "
           "(run --tessera-tile-attention=target=gpu)";
  if (warps != 0 && !validWarps(warps))
    return "GPU attention runs 2 or 4 warps per CTA; tile has " + str(warps);
  if (wgmma && warps != 0 && warps != kWgmmaWarps)
    return "wgmma needs a warpgroup (4 warps, 64 query rows) per CTA; tile "
           "has " +
           str(warps) + " warps";
  return "";
}

} // namespace tessera::gpu_attention

#endif // TESSERA_SUPPORT_GPUATTENTIONRULES_H

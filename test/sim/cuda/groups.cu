// Validation kernels for tessera-sim (docs/simulator.md, "Ground truth"):
// cooperative groups (tiles, cg::reduce, cg::inclusive_scan, block sync) and
// shared-memory atomics from several warps, whose meaning CUDA C++ fixes.
#include <cooperative_groups.h>
#include <cooperative_groups/reduce.h>
#include <cooperative_groups/scan.h>

namespace cg = cooperative_groups;

// Per block: the sum over the block through cg::reduce on tiles of 16 and
// shared memory; per tile: its rank-ordered inclusive scan.
extern "C" __global__ void groups(const int *in, int n, int *blockSums,
                                  int *scan) {
  cg::thread_block block = cg::this_thread_block();
  cg::thread_block_tile<16> tile = cg::tiled_partition<16>(block);
  __shared__ int partial[64];
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  int v = i < n ? in[i] : 0;
  int tileSum = cg::reduce(tile, v, cg::plus<int>());
  int incl = cg::inclusive_scan(tile, v);
  if (i < n)
    scan[i] = incl;
  if (tile.thread_rank() == 0)
    partial[tile.meta_group_rank()] = tileSum;
  block.sync();
  if (block.thread_rank() == 0) {
    int s = 0;
    for (unsigned t = 0; t < tile.meta_group_size(); ++t)
      s += partial[t];
    blockSums[blockIdx.x] = s;
  }
}

// A per-block histogram in shared memory built with atomicAdd by every warp
// between two barriers, then added to the global one.
extern "C" __global__ void shared_hist(const int *in, int n, int *hist) {
  __shared__ int local[32];
  if (threadIdx.x < 32)
    local[threadIdx.x] = 0;
  __syncthreads();
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    atomicAdd(&local[in[i] & 31], 1);
  __syncthreads();
  if (threadIdx.x < 32)
    atomicAdd(&hist[threadIdx.x], local[threadIdx.x]);
}

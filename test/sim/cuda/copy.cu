// Validation kernels for tessera-sim (docs/simulator.md, "Ground truth"):
// cooperative_groups::memcpy_async + wait_prior, which nvcc lowers to
// cp.async with commit and wait groups, as CUDA C++ defines them.
#include <cooperative_groups.h>
#include <cooperative_groups/memcpy_async.h>

namespace cg = cooperative_groups;

// out[t] = sum over the tiles of 128 floats of `in` (n of them) of element t,
// double-buffered: tile t + 1 is in flight while tile t is read.
template <bool kWait>
__device__ void streamTiles(const float *in, float *out, int n) {
  __shared__ alignas(16) float tile[2][128];
  auto block = cg::this_thread_block();
  int tiles = (n + 127) / 128;
  float acc = 0.f;
  cg::memcpy_async(block, tile[0], in, sizeof(float) * (n < 128 ? n : 128));
  for (int t = 0; t < tiles; ++t) {
    if (t + 1 < tiles) {
      int rest = n - (t + 1) * 128;
      cg::memcpy_async(block, tile[(t + 1) & 1], in + (t + 1) * 128,
                       sizeof(float) * (rest < 128 ? rest : 128));
      if (kWait)
        cg::wait_prior<1>(block);
    } else if (kWait) {
      cg::wait(block);
    }
    if (t * 128 + int(threadIdx.x) < n)
      acc += tile[t & 1][threadIdx.x];
    block.sync();
  }
  out[threadIdx.x] = acc;
}

extern "C" __global__ void stream_tiles(const float *in, float *out, int n) {
  streamTiles<true>(in, out, n);
}

// A planted bug: the tiles are read without waiting for their copies.
extern "C" __global__ void stream_tiles_no_wait(const float *in, float *out,
                                                int n) {
  streamTiles<false>(in, out, n);
}

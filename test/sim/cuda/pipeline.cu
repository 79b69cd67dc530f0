// Validation kernels for tessera-sim (docs/simulator.md, "Ground truth"): a
// block-scoped cuda::pipeline, which nvcc lowers to cp.async, mbarriers
// (init/arrive/test_wait.parity/inval), cp.async.mbarrier.arrive, coalesced
// groups (activemask, match.any, bfind) and nanosleep back-off.
#include <cooperative_groups.h>
#include <cuda/pipeline>

namespace cg = cooperative_groups;

// out[b * 256 + t] = sum over k of tile k of block b, element t, times k + 1:
// each block streams `tiles` tiles of 256 floats through a 3-stage pipeline.
extern "C" __global__ void pipelined(const float *in, float *out, int tiles) {
  constexpr int kTile = 256, kStages = 3;
  __shared__ alignas(16) float buf[kStages][kTile];
  auto block = cg::this_thread_block();
  // make_pipeline initialises the state's mbarriers (nvcc warns that the
  // constructor does not run for __shared__; CMake silences warning 20054).
  __shared__ cuda::pipeline_shared_state<cuda::thread_scope_block, kStages>
      state;
  auto pipe = cuda::make_pipeline(block, &state);
  const float *base = in + size_t(blockIdx.x) * tiles * kTile;
  float acc = 0.f;
  int fetched = 0;
  for (int t = 0; t < tiles; ++t) {
    for (; fetched < tiles && fetched < t + kStages; ++fetched) {
      pipe.producer_acquire();
      cuda::memcpy_async(block, buf[fetched % kStages],
                         base + size_t(fetched) * kTile,
                         cuda::aligned_size_t<16>(sizeof(float) * kTile), pipe);
      pipe.producer_commit();
    }
    pipe.consumer_wait();
    acc += buf[t % kStages][threadIdx.x] * float(t + 1);
    pipe.consumer_release();
  }
  out[blockIdx.x * blockDim.x + threadIdx.x] = acc;
}

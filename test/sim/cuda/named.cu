// Validation kernel for tessera-sim (docs/simulator.md, "Ground truth"):
// warp specialisation on named barriers with thread counts (bar.sync /
// bar.arrive, whose meaning the PTX ISA fixes; CUDA C++ reaches them through
// inline PTX, as CUTLASS's NamedBarrier does). Two producer warps fill a
// shared tile, two consumer warps reduce it, handing the buffer back and forth
// on barriers 1 ("full") and 2 ("empty") of 128 threads each; a fifth warp
// meanwhile works alone and only meets the others at the final __syncthreads.

__device__ __forceinline__ void barSync(int id, int threads) {
  asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(threads) : "memory");
}
__device__ __forceinline__ void barArrive(int id, int threads) {
  asm volatile("bar.arrive %0, %1;" ::"r"(id), "r"(threads) : "memory");
}

// out[t] for consumer thread t (0..63) = sum over tiles k of
// tile_k[t] + tile_k[t + 64], tile_k[i] = in[k * 128 + i] * (k + 1);
// out[64 + l] for lane l of the fifth warp = sum of in[l * tiles ..].
extern "C" __global__ void producer_consumer(const float *in, float *out,
                                             int tiles) {
  __shared__ float tile[128];
  int warp = threadIdx.x / 32, t = threadIdx.x;
  const int kFull = 1, kEmpty = 2;
  if (warp < 2) { // producers: 64 threads write 2 values each
    for (int k = 0; k < tiles; ++k) {
      barSync(kEmpty, 128); // wait until the consumers released the buffer
      tile[t] = in[k * 128 + t] * float(k + 1);
      tile[t + 64] = in[k * 128 + t + 64] * float(k + 1);
      barArrive(kFull, 128);
    }
  } else if (warp < 4) { // consumers
    int c = t - 64;
    float acc = 0.f;
    barArrive(kEmpty, 128); // the buffer starts empty
    for (int k = 0; k < tiles; ++k) {
      barSync(kFull, 128);
      acc += tile[c] + tile[c + 64];
      if (k + 1 < tiles)
        barArrive(kEmpty, 128);
    }
    out[c] = acc;
  } else { // a bystander warp
    int l = t - 128;
    float acc = 0.f;
    for (int k = 0; k < tiles; ++k)
      acc += in[l * tiles + k];
    out[64 + l] = acc;
  }
  __syncthreads();
}

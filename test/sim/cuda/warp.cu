// Validation kernels for tessera-sim (docs/simulator.md, "Ground truth"):
// their meaning is fixed by CUDA C++ (__shfl_*_sync, warp votes, atomics).
// test/unit/Sim/CudaValidationTest.cpp runs nvcc's PTX of them under the
// simulator against plain C++ references of what this source means.

// out[i * 5 + j]: five shuffles of in[i] for each thread i.
extern "C" __global__ void shuffles(const int *in, int *out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  int v = i < n ? in[i] : 0;
  unsigned full = 0xffffffffu;
  int lane = threadIdx.x % 32;
  int r0 = __shfl_sync(full, v, (lane * 7 + 3) % 32);
  int r1 = __shfl_up_sync(full, v, 3);
  int r2 = __shfl_down_sync(full, v, 5, 16);
  int r3 = __shfl_xor_sync(full, v, 9);
  unsigned ballot = __ballot_sync(full, v & 1);
  int r4 = int(ballot) ^ (__any_sync(full, v > 1000) ? 1 : 0) ^
           (__all_sync(full, v >= 0) ? 2 : 0);
  if (i < n) {
    out[i * 5 + 0] = r0;
    out[i * 5 + 1] = r1;
    out[i * 5 + 2] = r2;
    out[i * 5 + 3] = r3;
    out[i * 5 + 4] = r4;
  }
}

// Histogram, sum, min/max, exchange and a CAS-built float max across the grid.
extern "C" __global__ void atomics(const int *in, int n, int *hist, int bins,
                                   int *stats, float *fsum, float *fmax) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n)
    return;
  int v = in[i];
  atomicAdd(&hist[((v % bins) + bins) % bins], 1);
  atomicAdd(&stats[0], v);
  atomicMin(&stats[1], v);
  atomicMax(&stats[2], v);
  atomicOr(&stats[3], 1 << (i % 31));
  atomicInc(reinterpret_cast<unsigned *>(&stats[4]), 1000000u);
  atomicAdd(fsum, float(v) * 0.25f);
  float f = float(v) * 0.5f;
  int *as = reinterpret_cast<int *>(fmax);
  int old = *as, assumed;
  do {
    assumed = old;
    if (__int_as_float(assumed) >= f)
      break;
    old = atomicCAS(as, assumed, __float_as_int(f));
  } while (old != assumed);
}

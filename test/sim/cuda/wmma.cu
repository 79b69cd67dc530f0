// Validation kernels for tessera-sim (docs/simulator.md, "Ground truth"):
// nvcuda::wmma GEMMs (f16 row x col, bf16 row x row), whose meaning CUDA C++
// fixes; nvcc lowers them to the wmma.load/mma/store PTX instructions.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>

#include <type_traits>

using namespace nvcuda;

// C[M x N] (f32, row-major) = A[M x K] (row-major) * B[K x N] (col-major when
// kBColMajor, else row-major); one warp per 16 x 16 tile of C; M, N, K
// multiples of 16.
template <typename T, bool kBColMajor>
__device__ void wmmaGemm(const T *a, const T *b, float *c, int m, int n,
                         int k) {
  int warp = (blockIdx.x * blockDim.x + threadIdx.x) / 32;
  int tilesN = n / 16;
  int tm = warp / tilesN, tn = warp % tilesN;
  if (tm * 16 >= m)
    return;
  using BLayout = typename std::conditional<kBColMajor, wmma::col_major,
                                            wmma::row_major>::type;
  wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, T, BLayout> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> fc;
  wmma::fill_fragment(fc, 0.0f);
  for (int kk = 0; kk < k; kk += 16) {
    wmma::load_matrix_sync(fa, a + tm * 16 * k + kk, k);
    if (kBColMajor)
      wmma::load_matrix_sync(fb, b + tn * 16 * k + kk, k);
    else
      wmma::load_matrix_sync(fb, b + kk * n + tn * 16, n);
    wmma::mma_sync(fc, fa, fb, fc);
  }
  // Element-wise work on an accumulator fragment is layout-independent.
  for (int i = 0; i < fc.num_elements; ++i)
    fc.x[i] = fc.x[i] * 0.5f;
  wmma::store_matrix_sync(c + tm * 16 * n + tn * 16, fc, n,
                          wmma::mem_row_major);
}

extern "C" __global__ void wmma_f16_rowcol(const __half *a, const __half *b,
                                           float *c, int m, int n, int k) {
  wmmaGemm<__half, true>(a, b, c, m, n, k);
}
extern "C" __global__ void wmma_bf16_rowrow(const __nv_bfloat16 *a,
                                            const __nv_bfloat16 *b, float *c,
                                            int m, int n, int k) {
  wmmaGemm<__nv_bfloat16, false>(a, b, c, m, n, k);
}

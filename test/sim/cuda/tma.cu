// Validation kernels for tessera-sim (docs/simulator.md, "Ground truth"),
// sm_90a: tensor-memory-accelerator loads (cp.async.bulk.tensor through
// CuTe's SM90_TMA_LOAD_2D) completing on CUTLASS transaction barriers, on
// their own and feeding CuTe warpgroup GEMMs. The tensor maps come from
// cuTensorMapEncodeTiled (the simulator's, in the tests), whose meaning the
// CUDA driver API fixes: a box of the tensor at given coordinates, elements
// outside the tensor read as zero, written to shared memory box-row-major,
// swizzled as the map says.
#include <cute/arch/copy_sm90_tma.hpp>
#include <cute/arch/mma_sm90.hpp>
#include <cute/atom/mma_atom.hpp>
#include <cute/tensor.hpp>
#include <cutlass/arch/barrier.h>

#include <cuda.h>

using namespace cute;
using bf16 = cutlass::bfloat16_t;
using Barrier = cutlass::arch::ClusterTransactionBarrier;

// Each CTA loads the box at (blockIdx.x * boxCols, blockIdx.y * boxRows) of a
// 2-D bf16 tensor (map without swizzle) and writes it to out, box after box
// (CTA (x, y) at (y * gridDim.x + x) * boxRows * boxCols), row-major. The
// load is issued twice into two buffers on one barrier (phase 0 then 1).
extern "C" __global__ void tma_boxes(const __grid_constant__ CUtensorMap map,
                                     bf16 *out, int boxRows, int boxCols) {
  __shared__ alignas(128) bf16 tile[2][64 * 64];
  __shared__ alignas(8) uint64_t bar;
  int x0 = blockIdx.x * boxCols, y0 = blockIdx.y * boxRows;
  uint32_t bytes = uint32_t(boxRows * boxCols * sizeof(bf16));
  if (threadIdx.x == 0) {
    Barrier::init(&bar, 1);
    cutlass::arch::fence_barrier_init();
  }
  __syncthreads();
  for (int round = 0; round < 2; ++round) {
    if (threadIdx.x == 0) {
      Barrier::arrive_and_expect_tx(&bar, bytes);
      SM90_TMA_LOAD_2D::copy(&map, &bar, 0, tile[round], x0, y0);
    }
    Barrier::wait(&bar, round);
    // No warp may fall a whole phase behind: a waiter on parity 0 that
    // arrives after phase 1 completed would wait for phase 2 (tessera-sim
    // found this kernel hanging without the barrier).
    __syncthreads();
  }
  bf16 *dst =
      out + size_t(blockIdx.y * gridDim.x + blockIdx.x) * boxRows * boxCols;
  for (int i = threadIdx.x; i < boxRows * boxCols; i += blockDim.x) {
    bf16 a = tile[0][i], b = tile[1][i];
    dst[i] = bf16(float(a) + float(b)); // both rounds loaded the same box
  }
}

// C (M x N, f32, row-major) = A (M x K, row-major) * B^T, B (N x K,
// row-major): one warpgroup per 64 x 64 tile of C, k-tiles of 64 loaded by
// TMA with the 128-byte swizzle into the canonical K-major SW128 layout and
// multiplied there by wgmma; a barrier phase per k-tile. M, N, K need not be
// multiples of 64: the map zero-fills what lies outside.
extern "C" __global__ void tma_gmma(const __grid_constant__ CUtensorMap mapA,
                                    const __grid_constant__ CUtensorMap mapB,
                                    float *c, int m, int n, int k) {
  using Layout = decltype(tile_to_shape(GMMA::Layout_K_SW128_Atom<bf16>{},
                                        Shape<_64, _64>{}));
  __shared__ alignas(1024) bf16 smemA[64 * 64];
  __shared__ alignas(1024) bf16 smemB[64 * 64];
  __shared__ alignas(8) uint64_t bar;
  Tensor sA = make_tensor(make_smem_ptr(smemA), Layout{});
  Tensor sB = make_tensor(make_smem_ptr(smemB), Layout{});
  if (threadIdx.x == 0) {
    Barrier::init(&bar, 1);
    cutlass::arch::fence_barrier_init();
  }
  __syncthreads();

  TiledMMA mma = make_tiled_mma(
      SM90_64x64x16_F32BF16BF16_SS<GMMA::Major::K, GMMA::Major::K>{});
  ThrMMA thr = mma.get_thread_slice(threadIdx.x);
  Tensor tCrA = thr.make_fragment_A(thr.partition_A(sA));
  Tensor tCrB = thr.make_fragment_B(thr.partition_B(sB));
  Tensor gC =
      make_tensor(make_gmem_ptr(c), make_shape(m, n), make_stride(n, Int<1>{}));
  Tensor gTile =
      local_tile(gC, Shape<_64, _64>{}, make_coord(blockIdx.y, blockIdx.x));
  Tensor tCgC = thr.partition_C(gTile);
  Tensor tCrC = thr.make_fragment_C(tCgC);
  clear(tCrC);
  int kTiles = (k + 63) / 64;
  for (int t = 0; t < kTiles; ++t) {
    if (threadIdx.x == 0) {
      Barrier::arrive_and_expect_tx(&bar, 2 * 64 * 64 * sizeof(bf16));
      SM90_TMA_LOAD_2D::copy(&mapA, &bar, 0, smemA, t * 64, blockIdx.y * 64);
      SM90_TMA_LOAD_2D::copy(&mapB, &bar, 0, smemB, t * 64, blockIdx.x * 64);
    }
    Barrier::wait(&bar, t & 1);
    warpgroup_fence_operand(tCrC);
    warpgroup_arrive();
    gemm(mma, tCrA, tCrB, tCrC);
    warpgroup_commit_batch();
    warpgroup_wait<0>();
    warpgroup_fence_operand(tCrC);
    __syncthreads(); // every warp is done with the tiles before the next load
  }
  // The C tile may stick out of C: store what lies inside.
  Tensor cTile =
      local_tile(make_identity_tensor(make_shape(m, n)), Shape<_64, _64>{},
                 make_coord(blockIdx.y, blockIdx.x));
  Tensor tCcC = thr.partition_C(cTile);
  for (int i = 0; i < size(tCrC); ++i)
    if (elem_less(tCcC(i), make_coord(m, n)))
      tCgC(i) = tCrC(i);
}

// A planted bug: the box is read after a bar.sync but without waiting on the
// barrier the TMA load completes on. The simulator must report the read.
extern "C" __global__ void tma_no_wait(const __grid_constant__ CUtensorMap map,
                                       bf16 *out) {
  __shared__ alignas(128) bf16 tile[64 * 64];
  __shared__ alignas(8) uint64_t bar;
  if (threadIdx.x == 0) {
    Barrier::init(&bar, 1);
    cutlass::arch::fence_barrier_init();
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    Barrier::arrive_and_expect_tx(&bar, 16 * 16 * sizeof(bf16));
    SM90_TMA_LOAD_2D::copy(&map, &bar, 0, tile, 0, 0);
  }
  __syncthreads();
  out[threadIdx.x] = tile[threadIdx.x];
}

// TMA stores: each CTA fills a box in shared memory (generic stores, made
// visible to the async proxy by fence.proxy.async) with 3 * in[i] - 1 of the
// tensor's elements and stores it through CuTe's SM90_TMA_STORE_2D at
// (blockIdx.x * boxCols, blockIdx.y * boxRows); what lies outside the tensor
// is not written. kFence = false is a planted bug: no proxy fence.
template <bool kFence>
__device__ void storeBoxes(const CUtensorMap &map, const bf16 *in, int rows,
                           int cols, int pitch, int boxRows, int boxCols) {
  __shared__ alignas(128) bf16 tile[64 * 64];
  int x0 = blockIdx.x * boxCols, y0 = blockIdx.y * boxRows;
  for (int i = threadIdx.x; i < boxRows * boxCols; i += blockDim.x) {
    int r = y0 + i / boxCols, c = x0 + i % boxCols;
    float v = r < rows && c < cols ? float(in[size_t(r) * pitch + c]) : 0.f;
    tile[i] = bf16(3.f * v - 1.f);
  }
  if (kFence)
    cutlass::arch::fence_view_async_shared();
  __syncthreads();
  if (threadIdx.x == 0) {
    SM90_TMA_STORE_2D::copy(&map, tile, x0, y0);
    tma_store_arrive();
    tma_store_wait<0>();
  }
  __syncthreads();
}

extern "C" __global__ void tma_store(const __grid_constant__ CUtensorMap map,
                                     const bf16 *in, int rows, int cols,
                                     int pitch, int boxRows, int boxCols) {
  storeBoxes<true>(map, in, rows, cols, pitch, boxRows, boxCols);
}
extern "C" __global__ void
tma_store_no_fence(const __grid_constant__ CUtensorMap map, const bf16 *in,
                   int rows, int cols, int pitch, int boxRows, int boxCols) {
  storeBoxes<false>(map, in, rows, cols, pitch, boxRows, boxCols);
}

// Validation kernels for tessera-sim (docs/simulator.md, "Ground truth"),
// sm_90a: CUTLASS/CuTe warpgroup GEMMs whose shared-memory layouts CuTe builds
// (no swizzle, 32/64/128-byte swizzles; K-major and MN-major operands; A from
// shared memory or registers) and whose wgmma descriptors CuTe encodes. What
// each computes is fixed at the C++ level: C = A * B^T.
#include <cute/arch/mma_sm90.hpp>
#include <cute/atom/mma_atom.hpp>
#include <cute/tensor.hpp>
#include <cutlass/arch/barrier.h>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

using namespace cute;

// One warpgroup computes C (64 x 64, f32, row-major) = A (64 x 64, row-major,
// M x K) * B^T with B (64 x 64, row-major, N x K). The operands are staged in
// shared memory in the layouts LayoutA / LayoutB (each tiled from a CuTe GMMA
// atom) through generic stores, then made visible to the async proxy.
template <class T, class Atom, class LayoutA, class LayoutB, bool kAInRegs>
__device__ void gmmaTile(const T *a, const T *b, float *c) {
  __shared__ alignas(1024) T smemA[64 * 64];
  __shared__ alignas(1024) T smemB[64 * 64];
  Tensor sA = make_tensor(make_smem_ptr(smemA), LayoutA{});
  Tensor sB = make_tensor(make_smem_ptr(smemB), LayoutB{});
  for (int i = threadIdx.x; i < 64 * 64; i += blockDim.x) {
    int r = i / 64, k = i % 64;
    sA(r, k) = a[i];
    sB(r, k) = b[i];
  }
  cutlass::arch::fence_view_async_shared();
  __syncthreads();

  TiledMMA mma = make_tiled_mma(Atom{});
  ThrMMA thr = mma.get_thread_slice(threadIdx.x);
  Tensor gC = make_tensor(make_gmem_ptr(c),
                          make_layout(make_shape(Int<64>{}, Int<64>{}),
                                      make_stride(Int<64>{}, Int<1>{})));
  Tensor tCsA = thr.partition_A(sA);
  Tensor tCsB = thr.partition_B(sB);
  Tensor tCgC = thr.partition_C(gC);
  Tensor tCrB = thr.make_fragment_B(tCsB);
  Tensor tCrC = thr.make_fragment_C(tCgC);
  clear(tCrC);
  if constexpr (kAInRegs) {
    Tensor tCrA = thr.partition_fragment_A(sA);
    copy(tCsA, tCrA);
    warpgroup_fence_operand(tCrA);
    warpgroup_fence_operand(tCrC);
    warpgroup_arrive();
    gemm(mma, tCrA, tCrB, tCrC);
    warpgroup_commit_batch();
    warpgroup_wait<0>();
    warpgroup_fence_operand(tCrA);
  } else {
    Tensor tCrA = thr.make_fragment_A(tCsA);
    warpgroup_fence_operand(tCrC);
    warpgroup_arrive();
    gemm(mma, tCrA, tCrB, tCrC);
    warpgroup_commit_batch();
    warpgroup_wait<0>();
  }
  warpgroup_fence_operand(tCrC);
  copy(tCrC, tCgC);
}

template <class Atom>
using Tile64 = decltype(tile_to_shape(Atom{}, Shape<_64, _64>{}));

using bf16 = cutlass::bfloat16_t;
using f16 = cutlass::half_t;
using GMMA::Major;

// A and B K-major in each canonical layout.
#define K_MAJOR(NAME, ATOM)                                                    \
  extern "C" __global__ void NAME(const bf16 *a, const bf16 *b, float *c) {    \
    gmmaTile<bf16, SM90_64x64x16_F32BF16BF16_SS<Major::K, Major::K>,           \
             Tile64<GMMA::ATOM<bf16>>, Tile64<GMMA::ATOM<bf16>>, false>(a, b,  \
                                                                        c);    \
  }
K_MAJOR(gmma_k_inter, Layout_K_INTER_Atom)
K_MAJOR(gmma_k_sw32, Layout_K_SW32_Atom)
K_MAJOR(gmma_k_sw64, Layout_K_SW64_Atom)
K_MAJOR(gmma_k_sw128, Layout_K_SW128_Atom)

// A and B MN-major (transposed operands) in each canonical layout.
#define MN_MAJOR(NAME, ATOM)                                                   \
  extern "C" __global__ void NAME(const bf16 *a, const bf16 *b, float *c) {    \
    gmmaTile<bf16, SM90_64x64x16_F32BF16BF16_SS<Major::MN, Major::MN>,         \
             Tile64<GMMA::ATOM<bf16>>, Tile64<GMMA::ATOM<bf16>>, false>(a, b,  \
                                                                        c);    \
  }
MN_MAJOR(gmma_mn_inter, Layout_MN_INTER_Atom)
MN_MAJOR(gmma_mn_sw32, Layout_MN_SW32_Atom)
MN_MAJOR(gmma_mn_sw64, Layout_MN_SW64_Atom)
MN_MAJOR(gmma_mn_sw128, Layout_MN_SW128_Atom)

// f16, A K-major with a 128-byte swizzle, B MN-major with a 32-byte one.
extern "C" __global__ void gmma_f16_mixed(const f16 *a, const f16 *b,
                                          float *c) {
  gmmaTile<f16, SM90_64x64x16_F32F16F16_SS<Major::K, Major::MN>,
           Tile64<GMMA::Layout_K_SW128_Atom<f16>>,
           Tile64<GMMA::Layout_MN_SW32_Atom<f16>>, false>(a, b, c);
}

// A from registers (K-major by definition), B MN-major with a 64-byte swizzle.
extern "C" __global__ void gmma_rs(const bf16 *a, const bf16 *b, float *c) {
  gmmaTile<bf16, SM90_64x64x16_F32BF16BF16_RS<Major::K, Major::MN>,
           Tile64<GMMA::Layout_K_SW128_Atom<bf16>>,
           Tile64<GMMA::Layout_MN_SW64_Atom<bf16>>, true>(a, b, c);
}

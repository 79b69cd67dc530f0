/* fma_peak.c - Measures this CPU's single-core f32 FMA throughput (GFLOP/s): 16
 * independent register-resident chains of 16-lane AVX-512 FMAs (8-lane AVX2
 * where AVX-512 is missing), enough to cover FMA latency on two FMA ports. Used
 * by bench/attention_cpu.py for the "fraction of peak" column. */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

#if defined(__AVX512F__)
typedef __m512 vec;
#define LANES 16
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
static float sum(vec v) { return _mm512_reduce_add_ps(v); }
#else
typedef __m256 vec;
#define LANES 8
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
static float sum(vec v) {
  float l[8];
  _mm256_storeu_ps(l, v);
  return l[0] + l[1] + l[2] + l[3] + l[4] + l[5] + l[6] + l[7];
}
#endif

int main(void) {
  const long iters = 100000000L;
  vec b = SET1(0.999999f), c = SET1(1e-7f);
  vec a0 = SET1(0), a1 = SET1(1), a2 = SET1(2), a3 = SET1(3), a4 = SET1(4),
      a5 = SET1(5), a6 = SET1(6), a7 = SET1(7), a8 = SET1(8), a9 = SET1(9),
      a10 = SET1(10), a11 = SET1(11), a12 = SET1(12), a13 = SET1(13),
      a14 = SET1(14), a15 = SET1(15);
  double t0 = now();
  for (long n = 0; n < iters; ++n) {
    a0 = FMA(a0, b, c);
    a1 = FMA(a1, b, c);
    a2 = FMA(a2, b, c);
    a3 = FMA(a3, b, c);
    a4 = FMA(a4, b, c);
    a5 = FMA(a5, b, c);
    a6 = FMA(a6, b, c);
    a7 = FMA(a7, b, c);
    a8 = FMA(a8, b, c);
    a9 = FMA(a9, b, c);
    a10 = FMA(a10, b, c);
    a11 = FMA(a11, b, c);
    a12 = FMA(a12, b, c);
    a13 = FMA(a13, b, c);
    a14 = FMA(a14, b, c);
    a15 = FMA(a15, b, c);
  }
  double t = now() - t0;
  float sink = sum(a0) + sum(a1) + sum(a2) + sum(a3) + sum(a4) + sum(a5) +
               sum(a6) + sum(a7) + sum(a8) + sum(a9) + sum(a10) + sum(a11) +
               sum(a12) + sum(a13) + sum(a14) + sum(a15);
  printf("%.2f\n", 2.0 * LANES * 16 * (double)iters / t / 1e9);
  fprintf(stderr, "(checksum %g)\n", sink);
  return 0;
}

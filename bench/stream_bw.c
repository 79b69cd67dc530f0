/* stream_bw.c - Measures this machine's read memory bandwidth (GB/s of bytes
 * read), the roofline of decode attention, which streams K and V once and does
 * little arithmetic per byte. A STREAM-like read-only kernel: every core
 * (OpenMP) sums its share of one 2 GiB f32 array, far larger than any cache;
 * the best of several reps is printed. Plain C, no intrinsics: -O3
 * -march=native vectorises the 64-lane accumulator for whatever the host has
 * (AVX-512, AVX2, ...). Used by bench/decode_cpu.py for the "% of measured
 * bandwidth" columns.
 *
 *   cc -O3 -march=native -fopenmp stream_bw.c -o stream_bw && ./stream_bw
 *   [GIB] [REPS]   (defaults: 2 GiB, 10 reps)                                */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Independent partial sums: 64 floats = several vector registers, enough to
 * hide the add latency, so the loop is limited by memory, not by one chain. */
#define LANES 64

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Sums a[0, n) (n a multiple of LANES) with LANES independent accumulators. */
static float sum_chunk(const float *restrict a, long n) {
  float acc[LANES] = {0};
  for (long i = 0; i < n; i += LANES)
    for (int j = 0; j < LANES; ++j)
      acc[j] += a[i + j];
  float s = 0;
  for (int j = 0; j < LANES; ++j)
    s += acc[j];
  return s;
}

int main(int argc, char **argv) {
  double gib = argc > 1 ? atof(argv[1]) : 2.0;
  int reps = argc > 2 ? atoi(argv[2]) : 10;
  long n = (long)(gib * (1L << 30) / sizeof(float)) / LANES * LANES;
  float *a = aligned_alloc(4096, n * sizeof(float));
  if (!a) {
    fprintf(stderr, "stream_bw: cannot allocate %.1f GiB\n", gib);
    return 1;
  }
  int threads = omp_get_max_threads();
  /* Each thread owns one contiguous slice, LANES-aligned; the same static
   * split initialises (first touch, NUMA-local pages) and reads it. */
  long per = (n / threads) / LANES * LANES;
#pragma omp parallel
  {
    int t = omp_get_thread_num();
    long lo = t * per, hi = t == threads - 1 ? n : lo + per;
    for (long i = lo; i < hi; ++i)
      a[i] = (float)(i & 1023) * 1e-3f;
  }

  double best = 1e30, sink = 0;
  for (int r = 0; r <= reps; ++r) { /* rep 0 is a warm-up */
    double total = 0;
    double t0 = now();
#pragma omp parallel reduction(+ : total)
    {
      int t = omp_get_thread_num();
      long lo = t * per, hi = t == threads - 1 ? n : lo + per;
      total += sum_chunk(a + lo, hi - lo);
    }
    double dt = now() - t0;
    sink += total;
    if (r > 0 && dt < best)
      best = dt;
  }
  printf("%.2f\n", n * sizeof(float) / best / 1e9);
  fprintf(stderr, "(%d threads, %.1f GiB, best of %d, checksum %g)\n", threads,
          n * sizeof(float) / (double)(1L << 30), reps, sink);
  free(a);
  return 0;
}

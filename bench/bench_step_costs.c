/* Costs behind the spiking step loop's design, each against a baseline measured in the same run
 * (one thread unless said):
 *   1. an OpenMP parallel region whose if() is false, at top level and nested inside another
 *      region (as each shard of a batch runs), against the 64-float loop it wraps: why small loops
 *      go through SF_PAR_IF (src/core/par.h) and open no region at all;
 *   2. one expectation-compensation pass (sf_ec_increment: 16 bytes per element) with its arrays in
 *      L1, L2 and beyond;
 *   3. EC of GELU over a shard's tensor (16 samples x 17 tokens x 128) as three passes over the
 *      whole tensor against the fused blocks of ec_rows.c (the same results). */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/vmath.h"
#include "snn/ec_kernels.h"
#include "snn/ec_rows.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static volatile float sink;

/* ns per call of a 64-float loop: plain, or inside a parallel region whose if() is false */
static double loop64(int region, int reps) {
  float a[64] = {0};
  double t0 = now();
  for (int r = 0; r < reps; r++) {
    if (region) {
#pragma omp parallel for if (r < 0)
      for (int i = 0; i < 64; i++) a[i] += 1.0f;
    } else {
      for (int i = 0; i < 64; i++) a[i] += 1.0f;
    }
    sink = a[r & 63];
  }
  return (now() - t0) / reps * 1e9;
}

int main(void) {
  const int reps = 200000;
  double plain = loop64(0, reps), top = loop64(1, reps), nested = 0;
#pragma omp parallel num_threads(2)
  {
    double v = loop64(1, reps);
#pragma omp master
    nested = v;
  }
  printf("64-float loop %.0f ns; inside an if(false) region: top level %.0f ns (%.0fx), nested %.0f ns (%.0fx)\n", plain, top, top / plain, nested,
         nested / plain);

  const int64_t sizes[3] = {1024, 16384, 1 << 20};
  const char *where[3] = {"L1", "L2", "beyond L2"};
  double per[3];
  for (int k = 0; k < 3; k++) {
    const int64_t n = sizes[k];
    float *y = calloc((size_t)n, 4), *f = calloc((size_t)n, 4), *p = calloc((size_t)n, 4);
    const int R = (int)(400000000 / n);
    double t0 = now();
    for (int r = 0; r < R; r++) sf_ec_increment(y, f, p, (float)(r % 8 + 1), n);
    per[k] = (now() - t0) / R / (double)n * 1e9;
    sink = y[n / 2];
    free(y), free(f), free(p);
  }
  printf("one EC pass (sf_ec_increment): %.3f ns/element in L1, %.3f in L2 (%.1fx), %.3f %s (%.1fx)\n", per[0], per[1], per[1] / per[0], per[2], where[2],
         per[2] / per[0]);

  const int64_t n = 16 * 17 * 128;
  float *x = malloc(sizeof(float) * n), *cum = calloc(n, 4), *prev = calloc(n, 4), *y = calloc(n, 4), *mean = calloc(n, 4), *fo = calloc(n, 4);
  for (int64_t i = 0; i < n; i++) x[i] = (float)((i * 7919) % 1000) / 500.0f - 1.0f;
  const sf_ec_rows_op gelu = {SF_EC_ROWS_GELU, 1, 0, NULL, NULL};
  const int R = 400;
  double best[2] = {1e9, 1e9};
  for (int round = 0; round < 3; round++)
    for (int fused = 0; fused < 2; fused++) {
      double t0 = now();
      for (int r = 0; r < R; r++) {
        const float t = (float)(r % 8 + 1);
        if (fused) sf_ec_rows_step(&gelu, cum, x, prev, y, mean, fo, 1.0f / t, t, n);
        else {
          sf_ec_accumulate(cum, mean, x, 1.0f / t, n);
          sf_vgelu(fo, mean, n);
          sf_ec_increment(y, fo, prev, t, n);
        }
      }
      const double s = (now() - t0) / R;
      best[fused] = s < best[fused] ? s : best[fused];
    }
  printf("EC of GELU on [16, 17, 128]: three passes %.1f us, fused blocks %.1f us (%.2fx faster)\n", best[0] * 1e6, best[1] * 1e6, best[0] / best[1]);
  free(x), free(cum), free(prev), free(y), free(mean), free(fo);
  return 0;
}

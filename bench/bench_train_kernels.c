/* The trainer's spike-fed layer kernels against their dense baseline, measured in the same run:
 * the event-driven forward (each spike adds its weight row) and weight gradient (the rows where an
 * input spiked, gathered) against sgemm on the spikes as floats, at several firing rates, for the
 * layer shapes of the 784-512-256-10 MLP at T = 8, batch 128 (R = 1024 rows, K = 512 inputs,
 * N = 256 outputs). Prints the best of 5 repetitions of each and the ratio dense / event.
 *   usage: bench_train_kernels [R K N] */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spikeformer/rng.h"
#include "spikeformer/threads.h"
#include "train/train_kernels.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
  const int64_t R = argc > 3 ? atoll(argv[1]) : 1024, K = argc > 3 ? atoll(argv[2]) : 512, N = argc > 3 ? atoll(argv[3]) : 256;
  sf_threads_set(1);
  sf_rng rng;
  sf_rng_seed(&rng, 1);
  int8_t *k = malloc((size_t)(R * K));
  float *theta = malloc(sizeof(float) * (size_t)K), *W = malloc(sizeof(float) * (size_t)(K * N)), *b = calloc((size_t)N, sizeof(float));
  float *Y = malloc(sizeof(float) * (size_t)(R * N)), *S = malloc(sizeof(float) * (size_t)(R * K)), *dW = calloc((size_t)(K * N), sizeof(float));
  for (int64_t i = 0; i < K * N; i++) W[i] = sf_rng_normal(&rng) * 0.05f;
  for (int64_t i = 0; i < K; i++) theta[i] = 0.5f + sf_rng_uniform(&rng);
  for (int64_t i = 0; i < R * N; i++) Y[i] = sf_rng_normal(&rng);
  float *dY = malloc(sizeof(float) * (size_t)(R * N));
  memcpy(dY, Y, sizeof(float) * (size_t)(R * N));
  tk_lists ls = {0};
  printf("spike-fed layer kernels, R=%lld rows, K=%lld inputs, N=%lld outputs, 1 thread, best of 5 (ms)\n", (long long)R, (long long)K, (long long)N);
  printf("%8s | %10s %10s %7s | %10s %10s %7s\n", "activity", "fwd sgemm", "fwd event", "ratio", "dW sgemm", "dW event", "ratio");
  const double acts[] = {0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5};
  for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
    for (int64_t i = 0; i < R * K; i++) k[i] = sf_rng_uniform(&rng) < acts[a];
    double best[4] = {1e9, 1e9, 1e9, 1e9};
    for (int rep = 0; rep < 5; rep++) {
      double t0 = now_s();
      for (int64_t r = 0; r < R; r++) {
        for (int64_t j = 0; j < K; j++) S[r * K + j] = theta[j] * (float)k[r * K + j];
        memcpy(Y + r * N, b, sizeof(float) * (size_t)N);
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)R, (int)N, (int)K, 1.0f, S, (int)K, W, (int)N, 1.0f, Y, (int)N);
      double t1 = now_s();
      tk_spike_linear_forward(k, theta, R, K, W, b, N, Y, &ls);
      double t2 = now_s();
      for (int64_t i = 0; i < R * K; i++) S[i] = theta[i % K] * (float)k[i];
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)N, (int)R, 1.0f, S, (int)K, dY, (int)N, 1.0f, dW, (int)N);
      double t3 = now_s();
      if (tk_spike_linear_backward_weights(&ls, R, K, dY, N, dW)) return 1;
      double t4 = now_s();
      const double t[4] = {t1 - t0, t2 - t1, t3 - t2, t4 - t3};
      for (int q = 0; q < 4; q++) best[q] = t[q] < best[q] ? t[q] : best[q];
    }
    printf("%8.2f | %10.3f %10.3f %6.2fx | %10.3f %10.3f %6.2fx\n", acts[a], 1e3 * best[0], 1e3 * best[1], best[0] / best[1], 1e3 * best[2], 1e3 * best[3],
           best[2] / best[3]);
  }
  tk_lists_free(&ls);
  free(k); free(theta); free(W); free(b); free(Y); free(S); free(dW); free(dY);
  return 0;
}

/* Synaptic events per second per core on a layer that fits in cache (256 inputs x 256 outputs:
 * 256 KiB of float weights, 128 KiB as int16, in L2): random spikes at 10% activity, one thread.
 * An event = one weight accumulated into one output (a spike times its fan-out). Measures the
 * float event kernel and the int8 runtime's event kernel (int8 weights, int16 partial sums, int32
 * totals), step by step and over a block of 32 steps of one sample (the time-major chain's kernels:
 * each weight row read once for all the steps its input fires at; and per-step event lists summed
 * in registers on widened weight panels, the path of binary neurons). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "snn/spike_kernels.h"
#include "snn/spike_kernels_q8.h"
#include "snn/spike_lists_q8.h"
#include "spikeformer/rng.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(void) {
  const int64_t rows = 64, K = 256, N = 256;
  float *X = calloc((size_t)(rows * K), sizeof(float)), *W = malloc(sizeof(float) * (size_t)(K * N)), *Y = calloc((size_t)(rows * N), sizeof(float));
  sf_rng r;
  sf_rng_seed(&r, 1);
  for (int64_t i = 0; i < K * N; i++) W[i] = sf_rng_uniform(&r) - 0.5f;
  for (int64_t i = 0; i < rows * K; i++) X[i] = sf_rng_uniform(&r) < 0.1f ? 1.0f : 0.0f;
  double best = 0;
  for (int rep = 0; rep < 5; rep++) {
    int64_t ev = 0;
    double t0 = now();
    int iters = 0;
    while (now() - t0 < 0.3) {
      ev += sf_spike_linear_events(X, rows, K, W, N, Y);
      iters++;
    }
    double rate = (double)ev * (double)N / (now() - t0);
    if (rate > best) best = rate;
  }
  /* the int8 runtime's event kernel on the same spikes and weights (scaled to int8) */
  int8_t *Xq = calloc((size_t)(rows * K) + 4, 1);
  int8_t *Wq = malloc((size_t)(K * N));
  int32_t *acc = calloc((size_t)(rows * N), sizeof(int32_t));
  for (int64_t i = 0; i < rows * K; i++) Xq[i] = X[i] != 0.0f;
  for (int64_t i = 0; i < K * N; i++) Wq[i] = (int8_t)(W[i] * 254.0f);
  double best8 = 0;
  for (int rep = 0; rep < 5; rep++) {
    int64_t ev = 0;
    double t0 = now();
    while (now() - t0 < 0.3) ev += sf_q8_linear_events16(Xq, rows, K, Wq, N, 1, NULL, acc);
    double rate = (double)ev * (double)N / (now() - t0);
    if (rate > best8) best8 = rate;
  }
  /* the same rows read as 32 steps of one sample (two blocks of 32 steps), events over the block */
  const int nb = 32;
  uint32_t *bits = malloc(sizeof(uint32_t) * (size_t)K);
  int16_t *I = aligned_alloc(64, sizeof(int16_t) * (size_t)(nb * N));
  double best_blk = 0;
  for (int rep = 0; rep < 5; rep++) {
    int64_t ev = 0;
    double t0 = now();
    while (now() - t0 < 0.3)
      for (int64_t b0 = 0; b0 + nb <= rows; b0 += nb) {
        sf_q8_step_bits(Xq + b0 * K, nb, K, bits);
        for (int64_t i = 0; i < nb * N; i++) I[i] = 0;
        sf_q8_events_steps(Xq + b0 * K, nb, K, bits, Wq, N, I, N);
        ev += sf_q8_count_nonzero(Xq + b0 * K, nb * K);
      }
    double rate = (double)ev * (double)N / (now() - t0);
    if (rate > best_blk) best_blk = rate;
  }
  /* the chain's kernel for binary neurons: the same blocks as per-step lists (which the neuron
   * kernel writes as it steps; built here once) summed in registers on widened weight panels */
  int32_t *lists = malloc(sizeof(int32_t) * (size_t)(rows / nb) * nb * (K + 16)), *counts = malloc(sizeof(int32_t) * (size_t)rows);
  int16_t *W16 = malloc(sizeof(int16_t) * (size_t)sf_q8_w16_size(K, N));
  int64_t ev_lists = 0;
  sf_q8_pack_w16(Wq, K, N, W16);
  for (int64_t t = 0; t < rows; t++) {
    counts[t] = 0;
    for (int64_t k = 0; k < K; k++)
      if (Xq[t * K + k]) lists[t * (K + 16) + counts[t]++] = (int32_t)k;
    ev_lists += counts[t];
  }
  double best_lists = 0;
  for (int rep = 0; rep < 5; rep++) {
    int64_t ev = 0;
    double t0 = now();
    while (now() - t0 < 0.3) {
      for (int64_t b0 = 0; b0 + nb <= rows; b0 += nb) sf_q8_events_lists(lists + b0 * (K + 16), counts + b0, nb, K, W16, N, I, N);
      ev += ev_lists;
    }
    double rate = (double)ev * (double)N / (now() - t0);
    if (rate > best_lists) best_lists = rate;
  }
  printf("{\"synaptic_events_per_second_per_core\": %.3e, \"isa\": \"%s\", \"int8_events_per_second_per_core\": %.3e, \"int8_isa\": \"%s\", "
         "\"int8_block_events_per_second_per_core\": %.3e, \"int8_lists_events_per_second_per_core\": %.3e, \"layer\": \"%lldx%lld\", "
         "\"activity\": 0.1}\n",
         best, sf_axpy_isa(), best8, sf_q8_isa(), best_blk, best_lists, (long long)K, (long long)N);
  free(lists);
  free(counts);
  free(W16);
  free(bits);
  free(I);
  free(Xq);
  free(Wq);
  free(acc);
  free(X);
  free(W);
  free(Y);
  return 0;
}

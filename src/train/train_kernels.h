/* The trainer's hot loops, each in portable C and compiled again for AVX2 + FMA and AVX-512 (the
 * level in use, spikeformer/cpu.h, read at each call); the OpenMP loops stay outside the
 * target-specific code. Work is split by columns (neurons, weight rows) so that every output element
 * is computed by one thread in one order: results do not depend on the thread count.
 *
 * Shapes: T steps, B samples, R = T B rows (step-major, row t B + b), n neurons of a layer,
 * K inputs and N outputs of a weighted layer. */
#ifndef SF_TRAIN_KERNELS_H
#define SF_TRAIN_KERNELS_H
#include <stdint.h>

#include "spikeformer/train.h"

typedef struct {
  const float *theta;   /* [n] thresholds */
  float beta;           /* leak (1: IF) */
  int K;                /* spikes per step at most */
  sf_surrogate surrogate;
  float slope;
  int detach_reset;
  /* segments of the steps (gradient checkpointing over time; NULL: the whole run from v_0 = theta / 2) */
  const float *v_in;    /* [B, n] membranes before the first step (NULL: theta / 2) */
  float *v_out;         /* [B, n] membranes after the last step (NULL: not kept) */
  const float *dv_in;   /* backward: [B, n] dL/dv after the last step, from the steps after (NULL: 0) */
  float *dv_out;        /* backward: [B, n] dL/dv before the first step (may be dv_in; NULL: the start is
                           v_0 = theta / 2, whose gradient goes to dtheta) */
} tk_neurons;

/* tk_neuron_forward: in [T, B, n] currents (in_stride = B n), or one [B, n] for every step
 * (in_stride 0) -> u [T, B, n] membranes before the spike, k [T, B, n] spike counts:
 *   v_0 = theta / 2; u_t = beta v_(t-1) + i_t; k_t = clamp(floor(u_t / theta), 0, K); v_t = u_t - theta k_t
 * Returns the spikes (sum of k). */
double tk_neuron_forward(const tk_neurons *p, const float *in, int64_t in_stride, int64_t B, int64_t n, int T, float *u, int8_t *k);

/* tk_neuron_backward: ds [T, B, n] = dL/ds_t (ds_stride = B n; 0: one [B, n] for every step) ->
 * di = dL/di_t: [T, B, n], or with sum_over_t the sum over the steps [B, n] (a current that is the
 * same at every step); dtheta [n] += dL/dtheta (NULL: not wanted). Per step, from the last:
 *   dk = theta ds + rate_unit - (reset attached) theta dv;  du = dk sum_j g(u - j theta) + dv;
 *   dtheta += ds k - (attached) dv k - dk sum_j j g(u - j theta);  di = du;  dv <- beta du
 * and at the start (v_0 = theta / 2) dtheta += dv / 2. */
void tk_neuron_backward(const tk_neurons *p, const float *ds, int64_t ds_stride, const float *u, const int8_t *k, int64_t B, int64_t n, int T,
                        float rate_unit, int sum_over_t, float *di, float *dtheta);

/* Spike lists (the event-driven kernels' workspace, kept between calls): lists of up to `cap`
 * entries in all, an index and a multiplier each. */
typedef struct {
  int32_t *idx, *cnt;
  float *mul;
  int64_t cap, cap_lists;
} tk_lists;
void tk_lists_free(tk_lists *w);

/* tk_spike_linear_forward (event-driven): Y [R, N] = b [N] + (theta k) W, k [R, K] spike counts,
 * theta [K], W [K, N]: each spike adds k theta times its weight row, in input order (as the
 * runtime's event path), a block of 128 output columns at a time over all rows so that the block's
 * weights stay in the cache. Returns the spikes. */
int64_t tk_spike_linear_forward(const int8_t *k, const float *theta, int64_t R, int64_t K, const float *W, const float *b, int64_t N, float *Y, tk_lists *ls);

/* tk_spike_linear_backward_weights (event-driven): dW [K, N] += (theta k)^T dY, from the spike
 * lists tk_spike_linear_forward built for the same k [R, K]: each spike adds its row's dY, times
 * k theta, into its input's weight gradient row. */
sf_status tk_spike_linear_backward_weights(const tk_lists *ls, int64_t R, int64_t K, const float *dY, int64_t N, float *dW);

/* tk_column_sums: db [N] += sum over the R rows of dY [R, N] */
void tk_column_sums(const float *dY, int64_t R, int64_t N, float *db);

/* tk_adamw: one AdamW update of n parameters (optimizer.h has the formula; c1 = 1 / (1 - b1^t),
 * c2 = 1 / sqrt(1 - b2^t), decay = 1 - lr wd or 1) */
void tk_adamw(int64_t n, float *p, const float *g, float *m, float *v, float lr, float b1, float b2, float eps, float c1, float c2, float decay);

/* the share of non-zero counts in k [R, K] */
double tk_activity(const int8_t *k, int64_t R, int64_t K);

#endif

/* int32-membrane neurons of the int8 runtime. Per position j of a block of len neurons:
 *   u = v + x;  k = clamp(floor(u / Th), lo, K);  v = u - k Th (clamped to +-2^30);  kq = k
 * where x is an int32 current in membrane units (the feeding int8 layer's accumulators) or a float
 * current rounded to units. Integer arithmetic throughout: every implementation gives the same k. */
#ifndef SF_SNN_NEURON_KERNELS_Q8_H
#define SF_SNN_NEURON_KERNELS_Q8_H
#include <stdint.h>

/* One step of int32-membrane neurons over len elements; per-position tables Th (threshold in
 * units), iTh = 1 / Th, iu = 1 / unit, th = theta (the value a spike carries):
 *   u = v + x (x = xa, the feeding int8 layer's accumulators, or round(xf / unit) for float currents)
 *   (with leak: v = round(leak v) first); k = clamp(floor(u / Th), lo, K); v = u - k Th;
 *   kq = k; y = k th (y may be NULL: counts only). th_max: the largest Th in the tables; th_shift:
 *   s when every Th is 2^s (floor division becomes a shift), else -1.
 *   Returns the unit spikes (sum |k|) and the non-zero count in *nz. */
int64_t sf_q8_neuron_block(const int32_t *xa, const float *xf, int32_t *v, int8_t *kq, float *y, const int32_t *Th, const float *iTh,
                           const float *iu, const float *th, int64_t len, float leak, int lo, int K, int32_t th_max, int th_shift,
                           int64_t *nz);
/* Binary integrate-and-fire neurons (K = 1, no leak) of one row over a block of nb <= 32 steps,
 * the arithmetic of sf_q8_neuron_block with K = 1 at every step (k = 1 if u >= Th, -1 if signed
 * and u < 0), each membrane kept in a register across the steps. Currents: the int16 sums
 * x16 [nb, len] (sf_q8_events_*) plus a bias row bias [len] where x16 is given, else
 * xa[t * ldx + j] (ldx = 0: the same at every step, a constant input). Outputs, each optional (NULL):
 *   kq    [nb, len] the spikes;
 *   bits  [len] bit t set where the neuron fired at step t (the masks of sf_q8_events_steps);
 *   lists [nb, len + 16] per step, the neurons that fired, ascending (spike_lists_q8.h; whole
 *         vectors are stored, hence the 16 spare entries; for unsigned neurons, whose spikes are 1).
 * counts[t] = the spikes at step t (required). Returns the spikes of the block. */
int64_t sf_q8_neuron_if_block(const int32_t *xa, int64_t ldx, const int16_t *x16, const int32_t *bias, int nb, int32_t *v, const int32_t *Th, int64_t len,
                              int is_signed, int8_t *kq, uint32_t *bits, int32_t *lists, int32_t *counts);

#endif

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
/* The same for binary IF neurons (K = 1, no leak, int32 currents xa, no float output), and where
 * bits is given, bits[j] |= bit for every neuron that fires (the step mask of sf_q8_events_steps).
 * Returns the spikes (= the non-zero count, also in *nz). */
int64_t sf_q8_neuron_if(const int32_t *xa, int32_t *v, int8_t *kq, const int32_t *Th, int64_t len, int is_signed, uint32_t *bits, uint32_t bit,
                        int64_t *nz);
/* The same with the currents as int16 block sums x16 plus an int32 bias row (sf_q8_events_steps). */
int64_t sf_q8_neuron_if16(const int16_t *x16, const int32_t *bias, int32_t *v, int8_t *kq, const int32_t *Th, int64_t len, int is_signed,
                          uint32_t *bits, uint32_t bit, int64_t *nz);

#endif

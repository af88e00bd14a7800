/* Running sums of expectation compensation (EC), the per-step float work of a spiking layer that
 * is not fed by spikes alone (LayerNorm, softmax, GELU, products of two spike trains):
 *   accumulate: cum[n] += x[n]; mean[n] = cum[n] * inv_t        (the input's running mean; mean may be NULL)
 *   increment:  y[n] = t * f[n] - prev[n]; prev[n] = t * f[n]     (the output increment of step t)
 * AVX-512 / AVX2 / C variants give identical results (one rounding per operation, no FMA). */
#ifndef SF_SNN_EC_KERNELS_H
#define SF_SNN_EC_KERNELS_H
#include <stdint.h>

void sf_ec_accumulate(float *cum, float *mean, const float *x, float inv_t, int64_t n);
void sf_ec_increment(float *y, const float *f, float *prev, float t, int64_t n);

#endif

/* Event-driven synaptic kernels: spikes select weight rows that are accumulated.
 *   X [rows, K] spike increments (k * theta, mostly zero), W [K, N], Y [rows, N]
 *   event path:     for each non-zero x[r, k]: Y[r, :] += x[r, k] * W[k, :]
 *   bitpacked path: the same over a bit-plane scan (ctz) of the non-zero mask
 *   dense path:     sgemm (chosen where activity is high)
 * The row update is vectorised: AVX-512, AVX2 + FMA or portable C, by the level in use
 * (spikeformer/cpu.h, read at each call). */
#ifndef SF_SNN_SPIKE_KERNELS_H
#define SF_SNN_SPIKE_KERNELS_H
#include <stdint.h>

#include "spikeformer/snn.h" /* sf_spike_path */

/* y[0:n] += a * w[0:n] */
void sf_axpy(int64_t n, float a, const float *w, float *y);
/* "avx512", "avx2" or "c": the code the float kernels run at the current level */
const char *sf_axpy_isa(void);
/* Y (already holding bias or zeros) += X W, event-driven over the non-zeros of X; returns events. */
int64_t sf_spike_linear_events(const float *X, int64_t rows, int64_t K, const float *W, int64_t N, float *Y);
/* Dense path in the same accumulation order (bit-identical results to the event path). */
int64_t sf_spike_linear_dense(const float *X, int64_t rows, int64_t K, const float *W, int64_t N, float *Y);
/* Same result via a bit-packed non-zero mask per row. */
int64_t sf_spike_linear_bitpacked(const float *X, int64_t rows, int64_t K, const float *W, int64_t N, float *Y);

#endif

/* One step of float-membrane neurons (IF / LIF / burst) over len elements:
 *   u = leak * v + x; k = clamp(floor(u * inv_theta), lo, K); v = u - k * theta; y = k * theta
 * theta / inv_theta: per element (th_stride 1) or one value (th_stride 0). Returns the unit spikes
 * (sum |k|) and the non-zero outputs in *nz. AVX-512 / AVX2 / C give identical results. */
int64_t sf_neuron_step_f32(const float *x, float *v, float *y, const float *theta, const float *inv_theta, int th_stride,
                           int64_t len, float leak, int lo, int K, int64_t *nz);

/* The same with reset to zero: u = leak * v + x; q = |u| * inv_theta; k = min(ceil(q) - 1, K) where
 * q > 1 (a spike when |u| > theta, strictly, as snnTorch, NIR and Lava fire), signed as u and
 * clamped to [lo, K]; v = 0 where k != 0, else u; y = k * theta. Plain C. */
int64_t sf_neuron_step_zero_f32(const float *x, float *v, float *y, const float *theta, const float *inv_theta, int th_stride,
                                int64_t len, float leak, int lo, int K, int64_t *nz);

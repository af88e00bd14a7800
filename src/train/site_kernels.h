/* The spiking ViT's neurons at one step, forward / backward (vit_snn.h has the model), each body
 * written once and compiled for portable C, AVX2 + FMA and AVX-512 (the level in use read at each
 * call; no contraction into fused multiply-adds, so the three give the same bits). Rows are split
 * over the threads; the thresholds' gradient is written per element and summed per channel in row
 * order, so results do not depend on the thread count.
 *
 * Shapes: a site's values for the batch, R rows of C channels ([R, C], element (r, c) has
 * theta[c]); the state arrays are [R, C] and carry between steps. */
#ifndef SF_TRAIN_SITE_KERNELS_H
#define SF_TRAIN_SITE_KERNELS_H
#include <stdint.h>

#include "spikeformer/train.h"

typedef struct {
  float beta;            /* leak (1: IF) */
  int K, is_signed;      /* counts in [-K or 0, K] */
  sf_surrogate surrogate;
  float slope;
  int detach_reset;
  float rate_unit;       /* backward: the rate penalty's gradient per spike */
} sk_params;

/* sk_site_forward, step t (1-based) from the site's input mean m [R, C]:
 *   x = t m - (t - 1) mprev; mprev = m; u = beta v + x (v = theta / 2 at t = 1);
 *   k = clamp(floor(u / theta), lo, K); v = u - k theta; ssum += k theta; s = ssum / t
 * writes s, u, k [R, C] and the state (mprev, v, ssum); returns the spikes (sum |k|). */
double sk_site_forward(const sk_params *p, int t, int64_t R, int64_t C, const float *theta, const float *m, float *mprev, float *v, float *ssum, float *s,
                       float *u, int8_t *k);

/* sk_site_backward, step t (the last step first; `last` marks t = T, where the state starts at 0)
 * from ds [R, C] = dL/ds_t (NULL: none at this step); the state G (dL/d(k theta) summed over the
 * steps' means) and Dn (du of step t + 1) [R, C]:
 *   G += ds / t;  dv = beta Dn (dL/dv_t);  dk = theta G - (reset attached) theta dv
 *   over the jumps j in (lo, K]: g_j = surrogate((u - j theta) / theta) / theta,
 *     c_j = dk + rate_unit sign(j);  du += c_j g_j;  dtheta -= c_j j g_j
 *   du += dv;  dtheta += G k - (attached) dv k (+ beta du / 2 at t = 1: v_0 = theta / 2)
 *   dm = t (du - Dn) (x_(t+1) = (t + 1) m_(t+1) - t m_t);  Dn = du
 * writes dm [R, C] and adds the thresholds' gradient into dtheta [C]; part is scratch of
 * sk_site_scratch(R, C) floats (per-task sums, added in task order). */
void sk_site_backward(const sk_params *p, int t, int last, int64_t R, int64_t C, const float *theta, const float *ds, const float *u, const int8_t *k, float *G,
                      float *Dn, float *dm, float *part, float *dtheta);
int64_t sk_site_scratch(int64_t R, int64_t C);

#endif

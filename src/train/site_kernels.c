/* The spiking ViT's neurons at one step (site_kernels.h). */
#include "train/site_kernels.h"

#include <math.h>

#include "core/par.h"
#include "spikeformer/cpu.h"
#include "train/surrogate_inline.h"

#define INLINE static inline __attribute__((always_inline))
#if defined(__x86_64__)
#define T_AVX2 __attribute__((target("avx2,fma")))
#define T_512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#endif

typedef enum { LVL_C = 0, LVL_AVX2, LVL_512 } level;
static level lvl(void) {
  const sf_isa l = sf_cpu_isa();
  return l >= SF_ISA_AVX512 ? LVL_512 : l == SF_ISA_AVX2 ? LVL_AVX2 : LVL_C;
}

/* ---- forward: rows [r0, r1) ---- */

INLINE double forward_body(const sk_params *p, int t, int64_t r0, int64_t r1, int64_t C, const float *theta, const float *m, float *mprev, float *v,
                           float *ssum, float *s, float *u, int8_t *k) {
  const float ft = (float)t, ft1 = (float)(t - 1), inv_t = 1.0f / (float)t, beta = p->beta;
  const float flo = p->is_signed ? (float)-p->K : 0.0f, fK = (float)p->K;
  double spikes = 0;
  for (int64_t r = r0; r < r1; r++) {
    const int64_t o = r * C;
    float sp = 0;
#pragma omp simd reduction(+ : sp)
    for (int64_t c = 0; c < C; c++) {
      const float th = theta[c];
      /* (at t = 1 the state is not read: select, not multiply, so stale values cannot leak in) */
      const float mp = t == 1 ? 0.0f : mprev[o + c], v0 = t == 1 ? 0.5f * th : v[o + c], s0 = t == 1 ? 0.0f : ssum[o + c];
      const float x = ft * m[o + c] - ft1 * mp;
      mprev[o + c] = m[o + c];
      const float uu = beta * v0 + x;
      float q = floorf(uu * (1.0f / th));
      q = q < flo ? flo : q;
      q = q > fK ? fK : q;
      v[o + c] = uu - q * th;
      const float ss = s0 + q * th;
      ssum[o + c] = ss;
      s[o + c] = ss * inv_t;
      u[o + c] = uu;
      k[o + c] = (int8_t)q;
      sp += fabsf(q);
    }
    spikes += sp;
  }
  return spikes;
}

/* ---- backward: rows [r0, r1), the thresholds' gradient summed into part [C] ---- */

INLINE void backward_body(const sk_params *p, int t, int last, int64_t r0, int64_t r1, int64_t C, const float *theta, const float *ds, const float *u,
                          const int8_t *k, float *G, float *Dn, float *dm, float *part, const int kind) {
  const float inv_t = 1.0f / (float)t, ft = (float)t, beta = p->beta, att = p->detach_reset ? 0.0f : 1.0f, sl = p->slope, ru = p->rate_unit;
  const float half = t == 1 ? 0.5f * beta : 0.0f;
  const int jlo = p->is_signed ? -p->K + 1 : 1, K = p->K;
  for (int64_t c = 0; c < C; c++) part[c] = 0.0f;
  for (int64_t r = r0; r < r1; r++) {
    const int64_t o = r * C;
    if (jlo == 0 && K == 1) { /* signed IF / LIF: jumps at u = 0 (k -1 -> 0) and u = theta (0 -> 1) */
#pragma omp simd
      for (int64_t c = 0; c < C; c++) {
        /* Dn holds du of step t + 1: dv_t = beta du_(t+1), and x_(t+1) = (t + 1) m_(t+1) - t m_t */
        const float Ge = (last ? 0.0f : G[o + c]) + (ds ? ds[o + c] : 0.0f) * inv_t, dxe = last ? 0.0f : Dn[o + c], dve = beta * dxe;
        const float th = theta[c], it = 1.0f / th, kk = (float)k[o + c], uu = u[o + c];
        const float dk = th * Ge - att * th * dve;
        const float g0 = surrogate(kind, sl, uu * it) * it, g1 = surrogate(kind, sl, (uu - th) * it) * it;
        const float c0 = dk - ru, c1 = dk + ru;
        const float du = c0 * g0 + c1 * g1 + dve;
        G[o + c] = Ge;
        dm[o + c] = ft * (du - dxe);
        Dn[o + c] = du;
        part[c] += Ge * kk - att * dve * kk - c1 * g1 + half * du;
      }
    } else {
      for (int64_t c = 0; c < C; c++) {
        const float Ge = (last ? 0.0f : G[o + c]) + (ds ? ds[o + c] : 0.0f) * inv_t, dxe = last ? 0.0f : Dn[o + c], dve = beta * dxe;
        const float th = theta[c], it = 1.0f / th, kk = (float)k[o + c], uu = u[o + c];
        const float dk = th * Ge - att * th * dve;
        float du = dve, dth = Ge * kk - att * dve * kk;
        for (int j = jlo; j <= K; j++) {
          const float g = surrogate(kind, sl, (uu - (float)j * th) * it) * it, cj = dk + (j > 0 ? ru : -ru);
          du += cj * g;
          dth -= cj * (float)j * g;
        }
        G[o + c] = Ge;
        dm[o + c] = ft * (du - dxe);
        Dn[o + c] = du;
        part[c] += dth + half * du;
      }
    }
  }
}

/* one function per level (and per surrogate kind for the backward: the kind folds into the loop) */
#define FWD_ARGS const sk_params *p, int t, int64_t r0, int64_t r1, int64_t C, const float *theta, const float *m, float *mprev, float *v, float *ssum, float *s, float *u, int8_t *k
#define FWD_PASS p, t, r0, r1, C, theta, m, mprev, v, ssum, s, u, k
#define BWD_ARGS const sk_params *p, int t, int last, int64_t r0, int64_t r1, int64_t C, const float *theta, const float *ds, const float *u, const int8_t *k, float *G, float *Dn, float *dm, float *part
#define BWD_PASS p, t, last, r0, r1, C, theta, ds, u, k, G, Dn, dm, part
#define LEVEL(ATTR, SUFFIX)                                                                                        \
  ATTR static double fwd_##SUFFIX(FWD_ARGS) { return forward_body(FWD_PASS); }                                   \
  ATTR static void bwd_fast_##SUFFIX(BWD_ARGS) { backward_body(BWD_PASS, SF_SURROGATE_FAST_SIGMOID); }          \
  ATTR static void bwd_atan_##SUFFIX(BWD_ARGS) { backward_body(BWD_PASS, SF_SURROGATE_ATAN); }                  \
  ATTR static void bwd_sigm_##SUFFIX(BWD_ARGS) { backward_body(BWD_PASS, SF_SURROGATE_SIGMOID); }               \
  ATTR static void bwd_tri_##SUFFIX(BWD_ARGS) { backward_body(BWD_PASS, SF_SURROGATE_TRIANGLE); }               \
  ATTR static void bwd_st_##SUFFIX(BWD_ARGS) { backward_body(BWD_PASS, SF_SURROGATE_STRAIGHT_THROUGH); }        \
  static void (*const bwd_##SUFFIX[SF_SURROGATE_COUNT])(BWD_ARGS) = {bwd_fast_##SUFFIX, bwd_atan_##SUFFIX, bwd_sigm_##SUFFIX, bwd_tri_##SUFFIX, bwd_st_##SUFFIX};
LEVEL(, c)
#if defined(__x86_64__)
LEVEL(T_AVX2, avx2)
LEVEL(T_512, 512)
#endif

/* rows per task: enough work to pay for a thread */
#define ROWS_PER_TASK(C) ((C) >= 64 ? 64 : 256)

double sk_site_forward(const sk_params *p, int t, int64_t R, int64_t C, const float *theta, const float *m, float *mprev, float *v, float *ssum, float *s,
                       float *u, int8_t *k) {
  double (*f)(FWD_ARGS) = fwd_c;
#if defined(__x86_64__)
  const level l = lvl();
  f = l == LVL_512 ? fwd_512 : l == LVL_AVX2 ? fwd_avx2 : fwd_c;
#endif
  const int64_t per = ROWS_PER_TASK(C), tasks = (R + per - 1) / per;
  double spikes = 0;
  SF_PAR_IF(tasks > 1 && R * C > 16384, "omp parallel for reduction(+ : spikes) schedule(static)",
  for (int64_t i = 0; i < tasks; i++) {
    const int64_t r0 = i * per, r1 = r0 + per < R ? r0 + per : R;
    spikes += f(p, t, r0, r1, C, theta, m, mprev, v, ssum, s, u, k);
  });
  return spikes;
}

int64_t sk_site_scratch(int64_t R, int64_t C) {
  const int64_t per = ROWS_PER_TASK(C);
  return (R + per - 1) / per * C;
}

void sk_site_backward(const sk_params *p, int t, int last, int64_t R, int64_t C, const float *theta, const float *ds, const float *u, const int8_t *k, float *G,
                      float *Dn, float *dm, float *part, float *dtheta) {
  void (*f)(BWD_ARGS) = bwd_c[p->surrogate];
#if defined(__x86_64__)
  const level l = lvl();
  if (l == LVL_512) f = bwd_512[p->surrogate];
  else if (l == LVL_AVX2) f = bwd_avx2[p->surrogate];
#endif
  const int64_t per = ROWS_PER_TASK(C), tasks = (R + per - 1) / per;
  SF_PAR_IF(tasks > 1 && R * C > 16384, "omp parallel for schedule(static)",
  for (int64_t i = 0; i < tasks; i++) {
    const int64_t r0 = i * per, r1 = r0 + per < R ? r0 + per : R;
    f(p, t, last, r0, r1, C, theta, ds, u, k, G, Dn, dm, part + i * C);
  });
  /* the tasks' partial sums in task order (the same whatever the threads) */
  for (int64_t i = 0; i < tasks; i++)
    for (int64_t c = 0; c < C; c++) dtheta[c] += part[i * C + c];
}

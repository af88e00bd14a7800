/* The trainer's hot loops (train_kernels.h). Each loop body is written once, inline, and compiled
 * three times: portable C, AVX2 + FMA and AVX-512 (the compiler vectorises the same code for each
 * target; none contracts a * b + c into a fused multiply-add, so the three give the same bits). The
 * event-driven layer kernels also have AVX-512 versions written with intrinsics: a block of output
 * columns stays in registers while the spikes' weight rows are added into it. */
#include "train/train_kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "core/par.h"
#include "spikeformer/cpu.h"

#define INLINE static inline __attribute__((always_inline))
#if defined(__x86_64__)
#define T_AVX2 __attribute__((target("avx2,fma")))
#define T_512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#endif

/* columns a neuron chunk handles (its state lives on the stack) */
#define NCHUNK 64
/* output columns a weight-row block keeps in registers */
#define WBLOCK 128

typedef enum { LVL_C = 0, LVL_AVX2, LVL_512 } level;
static level lvl(void) {
  const sf_isa l = sf_cpu_isa();
  return l >= SF_ISA_AVX512 ? LVL_512 : l == SF_ISA_AVX2 ? LVL_AVX2 : LVL_C;
}

/* ---- neurons over time ---- */

INLINE double neuron_forward_body(const tk_neurons *p, const float *in, int64_t in_stride, int64_t B, int64_t n, int T, float *u, int8_t *k, int64_t h0,
                                  int64_t w) {
  const float beta = p->beta, fK = (float)p->K;
  float th[NCHUNK], inv[NCHUNK], v[NCHUNK];
  for (int64_t j = 0; j < w; j++) {
    th[j] = p->theta[h0 + j];
    inv[j] = 1.0f / th[j];
  }
  double spikes = 0;
  for (int64_t b = 0; b < B; b++) {
    if (p->v_in)
      for (int64_t j = 0; j < w; j++) v[j] = p->v_in[b * n + h0 + j];
    else
      for (int64_t j = 0; j < w; j++) v[j] = 0.5f * th[j];
    for (int t = 0; t < T; t++) {
      const float *x = in + t * in_stride + b * n + h0;
      float *uo = u + ((int64_t)t * B + b) * n + h0;
      int8_t *ko = k + ((int64_t)t * B + b) * n + h0;
#pragma omp simd
      for (int64_t j = 0; j < w; j++) {
        const float uu = beta * v[j] + x[j];
        float kf = floorf(uu * inv[j]); /* as the runtime decides (snn_neuron_step_f32) */
        kf = kf > 0.0f ? kf : 0.0f; /* (a NaN membrane, from diverged weights, sends nothing) */
        kf = kf > fK ? fK : kf;
        uo[j] = uu;
        ko[j] = (int8_t)(int32_t)kf;
        v[j] = uu - th[j] * kf;
      }
      int32_t cnt = 0;
      for (int64_t j = 0; j < w; j++) cnt += ko[j];
      spikes += (double)cnt;
    }
    if (p->v_out)
      for (int64_t j = 0; j < w; j++) p->v_out[b * n + h0 + j] = v[j];
  }
  return spikes;
}

static double neuron_forward_c(const tk_neurons *p, const float *in, int64_t s, int64_t B, int64_t n, int T, float *u, int8_t *k, int64_t h0, int64_t w) {
  return w == NCHUNK ? neuron_forward_body(p, in, s, B, n, T, u, k, h0, NCHUNK) : neuron_forward_body(p, in, s, B, n, T, u, k, h0, w);
}
#if defined(__x86_64__)
T_AVX2 static double neuron_forward_avx2(const tk_neurons *p, const float *in, int64_t s, int64_t B, int64_t n, int T, float *u, int8_t *k, int64_t h0,
                                         int64_t w) {
  return w == NCHUNK ? neuron_forward_body(p, in, s, B, n, T, u, k, h0, NCHUNK) : neuron_forward_body(p, in, s, B, n, T, u, k, h0, w);
}
T_512 static double neuron_forward_512(const tk_neurons *p, const float *in, int64_t s, int64_t B, int64_t n, int T, float *u, int8_t *k, int64_t h0,
                                       int64_t w) {
  return w == NCHUNK ? neuron_forward_body(p, in, s, B, n, T, u, k, h0, NCHUNK) : neuron_forward_body(p, in, s, B, n, T, u, k, h0, w);
}
#endif

double tk_neuron_forward(const tk_neurons *p, const float *in, int64_t in_stride, int64_t B, int64_t n, int T, float *u, int8_t *k) {
  typedef double (*fn)(const tk_neurons *, const float *, int64_t, int64_t, int64_t, int, float *, int8_t *, int64_t, int64_t);
  fn f = neuron_forward_c;
#if defined(__x86_64__)
  const level l = lvl();
  f = l == LVL_512 ? neuron_forward_512 : l == LVL_AVX2 ? neuron_forward_avx2 : neuron_forward_c;
#endif
  const int64_t chunks = (n + NCHUNK - 1) / NCHUNK;
  double spikes = 0;
  SF_PAR_IF(chunks > 1 && B * n * T > 32768, "omp parallel for reduction(+ : spikes) schedule(static)",
  for (int64_t c = 0; c < chunks; c++) {
    const int64_t h0 = c * NCHUNK;
    spikes += f(p, in, in_stride, B, n, T, u, k, h0, n - h0 < NCHUNK ? n - h0 : NCHUNK);
  });
  return spikes;
}

#include "train/surrogate_inline.h"

INLINE void neuron_backward_body(const tk_neurons *p, const float *ds, int64_t ds_stride, const float *u, const int8_t *k, int64_t B, int64_t n, int T,
                                 float rate_unit, int sum_over_t, float *di, float *dtheta, int64_t h0, int64_t w, const int kind) {
  const float beta = p->beta, s = p->slope, att = p->detach_reset ? 0.0f : 1.0f;
  const int K = p->K;
  float th[NCHUNK], dv[NCHUNK], acc[NCHUNK], dth[NCHUNK];
  for (int64_t j = 0; j < w; j++) {
    th[j] = p->theta[h0 + j];
    dth[j] = 0.0f;
  }
  for (int64_t b = 0; b < B; b++) {
    for (int64_t j = 0; j < w; j++) {
      dv[j] = p->dv_in ? p->dv_in[b * n + h0 + j] : 0.0f;
      acc[j] = 0.0f;
    }
    for (int t = T - 1; t >= 0; t--) {
      const int64_t row = ((int64_t)t * B + b) * n + h0;
      const float *dsr = ds + t * ds_stride + b * n + h0, *ur = u + row;
      const int8_t *kr = k + row;
      float *dir = sum_over_t ? acc : di + row;
      if (K == 1) {
#pragma omp simd
        for (int64_t j = 0; j < w; j++) {
          const float g = surrogate(kind, s, ur[j] - th[j]), kk = (float)kr[j];
          const float dk = th[j] * dsr[j] + rate_unit - att * th[j] * dv[j];
          const float du = dk * g + dv[j];
          dth[j] += dsr[j] * kk - att * dv[j] * kk - dk * g;
          dir[j] = sum_over_t ? dir[j] + du : du;
          dv[j] = beta * du;
        }
      } else {
        for (int64_t j = 0; j < w; j++) {
          float gs = 0.0f, gj = 0.0f;
          for (int q = 1; q <= K; q++) {
            const float g = surrogate(kind, s, ur[j] - (float)q * th[j]);
            gs += g;
            gj += (float)q * g;
          }
          const float kk = (float)kr[j];
          const float dk = th[j] * dsr[j] + rate_unit - att * th[j] * dv[j];
          const float du = dk * gs + dv[j];
          dth[j] += dsr[j] * kk - att * dv[j] * kk - dk * gj;
          dir[j] = sum_over_t ? dir[j] + du : du;
          dv[j] = beta * du;
        }
      }
    }
    if (p->dv_out) /* an earlier segment continues from here */
      for (int64_t j = 0; j < w; j++) p->dv_out[b * n + h0 + j] = dv[j];
    else
      for (int64_t j = 0; j < w; j++) dth[j] += 0.5f * dv[j]; /* v_0 = theta / 2 */
    if (sum_over_t)
      for (int64_t j = 0; j < w; j++) di[b * n + h0 + j] = acc[j];
  }
  if (dtheta)
    for (int64_t j = 0; j < w; j++) dtheta[h0 + j] += dth[j];
}

/* one function per surrogate kind and level: the kind folds into the loop */
#define BWD_ARGS const tk_neurons *p, const float *ds, int64_t dss, const float *u, const int8_t *k, int64_t B, int64_t n, int T, float ru, int sot, float *di, float *dth, int64_t h0, int64_t w
#define BWD_PASS p, ds, dss, u, k, B, n, T, ru, sot, di, dth, h0, w
#define BWD_LEVEL(ATTR, SUFFIX)                                                                                  \
  ATTR static void bwd_fast_##SUFFIX(BWD_ARGS) { neuron_backward_body(BWD_PASS, SF_SURROGATE_FAST_SIGMOID); }   \
  ATTR static void bwd_atan_##SUFFIX(BWD_ARGS) { neuron_backward_body(BWD_PASS, SF_SURROGATE_ATAN); }           \
  ATTR static void bwd_sigm_##SUFFIX(BWD_ARGS) { neuron_backward_body(BWD_PASS, SF_SURROGATE_SIGMOID); }        \
  ATTR static void bwd_tri_##SUFFIX(BWD_ARGS) { neuron_backward_body(BWD_PASS, SF_SURROGATE_TRIANGLE); }        \
  ATTR static void bwd_st_##SUFFIX(BWD_ARGS) { neuron_backward_body(BWD_PASS, SF_SURROGATE_STRAIGHT_THROUGH); } \
  static void (*const bwd_##SUFFIX[SF_SURROGATE_COUNT])(BWD_ARGS) = {bwd_fast_##SUFFIX, bwd_atan_##SUFFIX, bwd_sigm_##SUFFIX, bwd_tri_##SUFFIX, bwd_st_##SUFFIX};
BWD_LEVEL(, c)
#if defined(__x86_64__)
BWD_LEVEL(T_AVX2, avx2)
BWD_LEVEL(T_512, 512)
#endif

void tk_neuron_backward(const tk_neurons *p, const float *ds, int64_t ds_stride, const float *u, const int8_t *k, int64_t B, int64_t n, int T,
                        float rate_unit, int sum_over_t, float *di, float *dtheta) {
  void (*f)(BWD_ARGS) = bwd_c[p->surrogate];
#if defined(__x86_64__)
  const level l = lvl();
  if (l == LVL_512) f = bwd_512[p->surrogate];
  else if (l == LVL_AVX2) f = bwd_avx2[p->surrogate];
#endif
  const int64_t chunks = (n + NCHUNK - 1) / NCHUNK;
  SF_PAR_IF(chunks > 1 && B * n * T > 32768, "omp parallel for schedule(static)",
  for (int64_t c = 0; c < chunks; c++) {
    const int64_t h0 = c * NCHUNK;
    f(p, ds, ds_stride, u, k, B, n, T, rate_unit, sum_over_t, di, dtheta, h0, n - h0 < NCHUNK ? n - h0 : NCHUNK);
  });
}

/* ---- event-driven weighted layers ---- */

void tk_lists_free(tk_lists *w) {
  free(w->idx);
  free(w->mul);
  free(w->cnt);
  memset(w, 0, sizeof *w);
}

/* room for `lists` lists of up to `len` entries each */
static sf_status lists_reserve(tk_lists *w, int64_t lists, int64_t len) {
  if (lists * len <= w->cap && lists <= w->cap_lists) return SF_OK;
  const int64_t cap = lists * len > w->cap ? lists * len : w->cap, cl = lists > w->cap_lists ? lists : w->cap_lists;
  free(w->idx);
  free(w->mul);
  free(w->cnt);
  w->idx = malloc(sizeof(int32_t) * (size_t)(cap ? cap : 1));
  w->mul = malloc(sizeof(float) * (size_t)(cap ? cap : 1));
  w->cnt = malloc(sizeof(int32_t) * (size_t)(cl ? cl : 1));
  if (!w->idx || !w->mul || !w->cnt) {
    tk_lists_free(w);
    return sf_error(SF_ERR_NOMEM, "out of memory for the spike lists (%lld entries)", (long long)cap);
  }
  w->cap = cap;
  w->cap_lists = cl;
  return SF_OK;
}

/* the spikes of rows [r0, r1) of k [R, K] as lists: row r's inputs idx[r K ..] and k theta
 * (mul), cnt[r] of them. Returns the spikes. */
INLINE int64_t row_lists_body(const int8_t *k, const float *theta, int64_t r0, int64_t r1, int64_t K, int32_t *idx, float *mul, int32_t *cnt) {
  int64_t spikes = 0;
  for (int64_t r = r0; r < r1; r++) {
    const int8_t *kr = k + r * K;
    int32_t *ir = idx + r * K;
    float *mr = mul + r * K;
    int32_t c = 0;
    for (int64_t j = 0; j < K; j++)
      if (kr[j]) {
        ir[c] = (int32_t)j;
        mr[c++] = theta[j] * (float)kr[j];
        spikes += kr[j];
      }
    cnt[r] = c;
  }
  return spikes;
}

/* y [w] (+)= sum_i mul_i W[idx_i, c0 .. c0 + w): one block of output columns */
INLINE void gather_block_body(const float *W, int64_t ldw, const int32_t *idx, const float *mul, int64_t cnt, const float *init, float *y, int64_t w) {
  float acc[WBLOCK];
  for (int64_t q = 0; q < w; q++) acc[q] = init ? init[q] : 0.0f;
  for (int64_t i = 0; i < cnt; i++) {
    const float *wr = W + (int64_t)idx[i] * ldw, m = mul[i];
#pragma omp simd
    for (int64_t q = 0; q < w; q++) acc[q] += m * wr[q];
  }
  for (int64_t q = 0; q < w; q++) y[q] = acc[q];
}

/* the forward over rows [r0, r1) for output columns [c0, c0 + w) */
static void forward_block_c(const float *W, const float *b, int64_t N, float *Y, const tk_lists *ls, int64_t K, int64_t r0, int64_t r1, int64_t c0, int64_t w) {
  for (int64_t r = r0; r < r1; r++) gather_block_body(W + c0, N, ls->idx + r * K, ls->mul + r * K, ls->cnt[r], b + c0, Y + r * N + c0, w);
}
static int64_t row_lists_c(const int8_t *k, const float *theta, int64_t r0, int64_t r1, int64_t K, tk_lists *ls) {
  return row_lists_body(k, theta, r0, r1, K, ls->idx, ls->mul, ls->cnt);
}

#if defined(__x86_64__)
T_AVX2 static void forward_block_avx2(const float *W, const float *b, int64_t N, float *Y, const tk_lists *ls, int64_t K, int64_t r0, int64_t r1, int64_t c0,
                                      int64_t w) {
  /* the runtime's AVX2 event path fuses the multiply-add: so does this one */
  for (int64_t r = r0; r < r1; r++) {
    const int32_t *idx = ls->idx + r * K;
    const float *mul = ls->mul + r * K;
    const int64_t cnt = ls->cnt[r];
    float *y = Y + r * N + c0;
    int64_t q0 = 0;
    for (; q0 + 32 <= w; q0 += 32) {
      __m256 a0 = _mm256_loadu_ps(b + c0 + q0), a1 = _mm256_loadu_ps(b + c0 + q0 + 8), a2 = _mm256_loadu_ps(b + c0 + q0 + 16),
             a3 = _mm256_loadu_ps(b + c0 + q0 + 24);
      for (int64_t i = 0; i < cnt; i++) {
        const float *wr = W + (int64_t)idx[i] * N + c0 + q0;
        const __m256 m = _mm256_set1_ps(mul[i]);
        a0 = _mm256_fmadd_ps(m, _mm256_loadu_ps(wr), a0);
        a1 = _mm256_fmadd_ps(m, _mm256_loadu_ps(wr + 8), a1);
        a2 = _mm256_fmadd_ps(m, _mm256_loadu_ps(wr + 16), a2);
        a3 = _mm256_fmadd_ps(m, _mm256_loadu_ps(wr + 24), a3);
      }
      _mm256_storeu_ps(y + q0, a0);
      _mm256_storeu_ps(y + q0 + 8, a1);
      _mm256_storeu_ps(y + q0 + 16, a2);
      _mm256_storeu_ps(y + q0 + 24, a3);
    }
    for (; q0 < w; q0++) {
      float a = b[c0 + q0];
      for (int64_t i = 0; i < cnt; i++) a = __builtin_fmaf(mul[i], W[(int64_t)idx[i] * N + c0 + q0], a);
      y[q0] = a;
    }
  }
}
T_AVX2 static int64_t row_lists_avx2(const int8_t *k, const float *theta, int64_t r0, int64_t r1, int64_t K, tk_lists *ls) {
  return row_lists_body(k, theta, r0, r1, K, ls->idx, ls->mul, ls->cnt);
}

/* the lists by a 64-byte mask scan */
T_512 static int64_t row_lists_512(const int8_t *k, const float *theta, int64_t r0, int64_t r1, int64_t K, tk_lists *ls) {
  int64_t spikes = 0;
  for (int64_t r = r0; r < r1; r++) {
    const int8_t *kr = k + r * K;
    int32_t *ir = ls->idx + r * K;
    float *mr = ls->mul + r * K;
    int32_t c = 0;
    for (int64_t j0 = 0; j0 < K; j0 += 64) {
      const __mmask64 lm = K - j0 >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (K - j0)) - 1);
      const __m512i x = _mm512_maskz_loadu_epi8(lm, kr + j0);
      uint64_t m = _mm512_mask_test_epi8_mask(lm, x, x);
      while (m) {
        const int64_t j = j0 + __builtin_ctzll(m);
        m &= m - 1;
        ir[c] = (int32_t)j;
        mr[c++] = theta[j] * (float)kr[j];
        spikes += kr[j];
      }
    }
    ls->cnt[r] = c;
  }
  return spikes;
}

/* WBLOCK = 128 columns in 8 registers (the block's weights stay in the cache over the rows) */
T_512 static void forward_block_512(const float *W, const float *b, int64_t N, float *Y, const tk_lists *ls, int64_t K, int64_t r0, int64_t r1, int64_t c0,
                                    int64_t w) {
  for (int64_t r = r0; r < r1; r++) {
    const int32_t *idx = ls->idx + r * K;
    const float *mul = ls->mul + r * K;
    const int64_t cnt = ls->cnt[r];
    float *y = Y + r * N + c0;
    if (w == 128) {
      __m512 a0 = _mm512_loadu_ps(b + c0), a1 = _mm512_loadu_ps(b + c0 + 16), a2 = _mm512_loadu_ps(b + c0 + 32), a3 = _mm512_loadu_ps(b + c0 + 48);
      __m512 a4 = _mm512_loadu_ps(b + c0 + 64), a5 = _mm512_loadu_ps(b + c0 + 80), a6 = _mm512_loadu_ps(b + c0 + 96), a7 = _mm512_loadu_ps(b + c0 + 112);
      for (int64_t i = 0; i < cnt; i++) {
        const float *wr = W + (int64_t)idx[i] * N + c0;
        const __m512 m = _mm512_set1_ps(mul[i]);
        a0 = _mm512_fmadd_ps(m, _mm512_loadu_ps(wr), a0);
        a1 = _mm512_fmadd_ps(m, _mm512_loadu_ps(wr + 16), a1);
        a2 = _mm512_fmadd_ps(m, _mm512_loadu_ps(wr + 32), a2);
        a3 = _mm512_fmadd_ps(m, _mm512_loadu_ps(wr + 48), a3);
        a4 = _mm512_fmadd_ps(m, _mm512_loadu_ps(wr + 64), a4);
        a5 = _mm512_fmadd_ps(m, _mm512_loadu_ps(wr + 80), a5);
        a6 = _mm512_fmadd_ps(m, _mm512_loadu_ps(wr + 96), a6);
        a7 = _mm512_fmadd_ps(m, _mm512_loadu_ps(wr + 112), a7);
      }
      _mm512_storeu_ps(y, a0);
      _mm512_storeu_ps(y + 16, a1);
      _mm512_storeu_ps(y + 32, a2);
      _mm512_storeu_ps(y + 48, a3);
      _mm512_storeu_ps(y + 64, a4);
      _mm512_storeu_ps(y + 80, a5);
      _mm512_storeu_ps(y + 96, a6);
      _mm512_storeu_ps(y + 112, a7);
      continue;
    }
    for (int64_t q0 = 0; q0 < w; q0 += 16) {
      const __mmask16 lm = w - q0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (w - q0)) - 1);
      __m512 a = _mm512_maskz_loadu_ps(lm, b + c0 + q0);
      for (int64_t i = 0; i < cnt; i++) a = _mm512_fmadd_ps(_mm512_set1_ps(mul[i]), _mm512_maskz_loadu_ps(lm, W + (int64_t)idx[i] * N + c0 + q0), a);
      _mm512_mask_storeu_ps(y + q0, lm, a);
    }
  }
}
#endif

/* rows per parallel task */
#define ROW_TASK 32

int64_t tk_spike_linear_forward(const int8_t *k, const float *theta, int64_t R, int64_t K, const float *W, const float *b, int64_t N, float *Y, tk_lists *ls) {
  typedef int64_t (*lists_fn)(const int8_t *, const float *, int64_t, int64_t, int64_t, tk_lists *);
  typedef void (*block_fn)(const float *, const float *, int64_t, float *, const tk_lists *, int64_t, int64_t, int64_t, int64_t, int64_t);
  lists_fn lf = row_lists_c;
  block_fn bf = forward_block_c;
#if defined(__x86_64__)
  const level l = lvl();
  lf = l == LVL_512 ? row_lists_512 : l == LVL_AVX2 ? row_lists_avx2 : row_lists_c;
  bf = l == LVL_512 ? forward_block_512 : l == LVL_AVX2 ? forward_block_avx2 : forward_block_c;
#endif
  if (lists_reserve(ls, R, K)) {
    /* out of memory for the lists: the plain loop (same sums) */
    int64_t spikes = 0;
    for (int64_t r = 0; r < R; r++) {
      for (int64_t c = 0; c < N; c++) Y[r * N + c] = b[c];
      for (int64_t j = 0; j < K; j++)
        if (k[r * K + j]) {
          spikes += k[r * K + j];
          for (int64_t c = 0; c < N; c++) Y[r * N + c] += theta[j] * (float)k[r * K + j] * W[j * N + c];
        }
    }
    return spikes;
  }
  const int64_t tasks = (R + ROW_TASK - 1) / ROW_TASK;
  int64_t spikes = 0;
  SF_PAR_IF(tasks > 1 && R * K > 65536, "omp parallel for reduction(+ : spikes) schedule(static)",
  for (int64_t q = 0; q < tasks; q++) spikes += lf(k, theta, q * ROW_TASK, (q + 1) * ROW_TASK < R ? (q + 1) * ROW_TASK : R, K, ls););
  /* a block of output columns at a time over all rows: the block's weight rows stay in the cache */
  for (int64_t c0 = 0; c0 < N; c0 += WBLOCK) {
    const int64_t w = N - c0 < WBLOCK ? N - c0 : WBLOCK;
    SF_PAR_IF(tasks > 1 && R * K > 65536, "omp parallel for schedule(static)",
    for (int64_t q = 0; q < tasks; q++) bf(W, b, N, Y, ls, K, q * ROW_TASK, (q + 1) * ROW_TASK < R ? (q + 1) * ROW_TASK : R, c0, w););
  }
  return spikes;
}

/* dW [K, N] columns [c0, c0 + w) += sum over the rows r and their spikes (j, m = k theta) of
 * m dY[r, c0 ..]: row r's slice of dY is read once and added into the weight rows of its spikes */
INLINE void backward_block_body(const float *dY, int64_t N, float *dW, const tk_lists *ls, int64_t R, int64_t K, int64_t c0, int64_t w) {
  for (int64_t r = 0; r < R; r++) {
    const int32_t *idx = ls->idx + r * K;
    const float *mul = ls->mul + r * K;
    const float *y = dY + r * N + c0;
    for (int64_t i = 0; i < ls->cnt[r]; i++) {
      float *out = dW + (int64_t)idx[i] * N + c0;
      const float m = mul[i];
#pragma omp simd
      for (int64_t q = 0; q < w; q++) out[q] += m * y[q];
    }
  }
}
static void backward_block_c(const float *dY, int64_t N, float *dW, const tk_lists *ls, int64_t R, int64_t K, int64_t c0, int64_t w) {
  backward_block_body(dY, N, dW, ls, R, K, c0, w);
}
#if defined(__x86_64__)
T_AVX2 static void backward_block_avx2(const float *dY, int64_t N, float *dW, const tk_lists *ls, int64_t R, int64_t K, int64_t c0, int64_t w) {
  backward_block_body(dY, N, dW, ls, R, K, c0, w);
}
/* a 64-column slice of the row in 4 registers */
T_512 static void backward_block_512(const float *dY, int64_t N, float *dW, const tk_lists *ls, int64_t R, int64_t K, int64_t c0, int64_t w) {
  if (w != 64) {
    backward_block_body(dY, N, dW, ls, R, K, c0, w);
    return;
  }
  for (int64_t r = 0; r < R; r++) {
    const int32_t *idx = ls->idx + r * K;
    const float *mul = ls->mul + r * K;
    const float *y = dY + r * N + c0;
    const __m512 y0 = _mm512_loadu_ps(y), y1 = _mm512_loadu_ps(y + 16), y2 = _mm512_loadu_ps(y + 32), y3 = _mm512_loadu_ps(y + 48);
    for (int64_t i = 0; i < ls->cnt[r]; i++) {
      float *out = dW + (int64_t)idx[i] * N + c0;
      const __m512 m = _mm512_set1_ps(mul[i]);
      _mm512_storeu_ps(out, _mm512_fmadd_ps(m, y0, _mm512_loadu_ps(out)));
      _mm512_storeu_ps(out + 16, _mm512_fmadd_ps(m, y1, _mm512_loadu_ps(out + 16)));
      _mm512_storeu_ps(out + 32, _mm512_fmadd_ps(m, y2, _mm512_loadu_ps(out + 32)));
      _mm512_storeu_ps(out + 48, _mm512_fmadd_ps(m, y3, _mm512_loadu_ps(out + 48)));
    }
  }
}
#endif

/* output columns per task of the weight gradient */
#define DW_BLOCK 64

sf_status tk_spike_linear_backward_weights(const tk_lists *ls, int64_t R, int64_t K, const float *dY, int64_t N, float *dW) {
  if (!ls->cnt || ls->cap < R * K || ls->cap_lists < R)
    return sf_error(SF_ERR_INTERNAL, "the weight gradient needs the spike lists of the forward (%lld x %lld)", (long long)R, (long long)K);
  void (*bf)(const float *, int64_t, float *, const tk_lists *, int64_t, int64_t, int64_t, int64_t) = backward_block_c;
#if defined(__x86_64__)
  const level l = lvl();
  bf = l == LVL_512 ? backward_block_512 : l == LVL_AVX2 ? backward_block_avx2 : backward_block_c;
#endif
  /* each task owns a block of dW's columns: every element summed by one thread, in row order */
  const int64_t tasks = (N + DW_BLOCK - 1) / DW_BLOCK;
  SF_PAR_IF(tasks > 1 && R * K > 65536, "omp parallel for schedule(dynamic, 1)",
  for (int64_t q = 0; q < tasks; q++) {
    const int64_t c0 = q * DW_BLOCK;
    bf(dY, N, dW, ls, R, K, c0, N - c0 < DW_BLOCK ? N - c0 : DW_BLOCK);
  });
  return SF_OK;
}

/* ---- small pieces ---- */

INLINE void column_sums_body(const float *dY, int64_t r0, int64_t r1, int64_t N, float *db, int64_t c0, int64_t c1) {
  for (int64_t r = r0; r < r1; r++) {
    const float *y = dY + r * N;
#pragma omp simd
    for (int64_t c = c0; c < c1; c++) db[c] += y[c];
  }
}
static void column_sums_c(const float *dY, int64_t R, int64_t N, float *db, int64_t c0, int64_t c1) { column_sums_body(dY, 0, R, N, db, c0, c1); }
#if defined(__x86_64__)
T_AVX2 static void column_sums_avx2(const float *dY, int64_t R, int64_t N, float *db, int64_t c0, int64_t c1) { column_sums_body(dY, 0, R, N, db, c0, c1); }
T_512 static void column_sums_512(const float *dY, int64_t R, int64_t N, float *db, int64_t c0, int64_t c1) { column_sums_body(dY, 0, R, N, db, c0, c1); }
#endif

void tk_column_sums(const float *dY, int64_t R, int64_t N, float *db) {
  void (*f)(const float *, int64_t, int64_t, float *, int64_t, int64_t) = column_sums_c;
#if defined(__x86_64__)
  const level l = lvl();
  f = l == LVL_512 ? column_sums_512 : l == LVL_AVX2 ? column_sums_avx2 : column_sums_c;
#endif
  const int64_t blocks = N >= 256 ? 4 : 1, per = (N + blocks - 1) / blocks;
  SF_PAR_IF(blocks > 1 && R * N > 65536, "omp parallel for schedule(static)",
  for (int64_t q = 0; q < blocks; q++) {
    const int64_t c0 = q * per, c1 = c0 + per < N ? c0 + per : N;
    if (c0 < c1) f(dY, R, N, db, c0, c1);
  });
}

INLINE void adamw_body(int64_t n, float *p, const float *g, float *m, float *v, float lr, float b1, float b2, float eps, float c1, float c2, float decay) {
#pragma omp simd
  for (int64_t j = 0; j < n; j++) {
    m[j] = b1 * m[j] + (1.0f - b1) * g[j];
    v[j] = b2 * v[j] + (1.0f - b2) * g[j] * g[j];
    p[j] = p[j] * decay - lr * (m[j] * c1) / (sqrtf(v[j]) * c2 + eps);
  }
}
static void adamw_c(int64_t n, float *p, const float *g, float *m, float *v, float lr, float b1, float b2, float eps, float c1, float c2, float decay) {
  adamw_body(n, p, g, m, v, lr, b1, b2, eps, c1, c2, decay);
}
#if defined(__x86_64__)
T_AVX2 static void adamw_avx2(int64_t n, float *p, const float *g, float *m, float *v, float lr, float b1, float b2, float eps, float c1, float c2, float decay) {
  adamw_body(n, p, g, m, v, lr, b1, b2, eps, c1, c2, decay);
}
T_512 static void adamw_512(int64_t n, float *p, const float *g, float *m, float *v, float lr, float b1, float b2, float eps, float c1, float c2, float decay) {
  adamw_body(n, p, g, m, v, lr, b1, b2, eps, c1, c2, decay);
}
#endif

void tk_adamw(int64_t n, float *p, const float *g, float *m, float *v, float lr, float b1, float b2, float eps, float c1, float c2, float decay) {
  void (*f)(int64_t, float *, const float *, float *, float *, float, float, float, float, float, float, float) = adamw_c;
#if defined(__x86_64__)
  const level l = lvl();
  f = l == LVL_512 ? adamw_512 : l == LVL_AVX2 ? adamw_avx2 : adamw_c;
#endif
  const int64_t blocks = n >= 65536 ? 16 : 1, per = (n + blocks - 1) / blocks;
  SF_PAR_IF(blocks > 1, "omp parallel for schedule(static)",
  for (int64_t q = 0; q < blocks; q++) {
    const int64_t a = q * per, e = a + per < n ? a + per : n;
    if (a < e) f(e - a, p + a, g + a, m + a, v + a, lr, b1, b2, eps, c1, c2, decay);
  });
}

double tk_activity(const int8_t *k, int64_t R, int64_t K) {
  int64_t nz = 0;
  SF_PAR_IF(R * K > 262144, "omp parallel for reduction(+ : nz) schedule(static)",
  for (int64_t e = 0; e < R * K; e++) nz += k[e] != 0;);
  return R * K > 0 ? (double)nz / (double)(R * K) : 0.0;
}

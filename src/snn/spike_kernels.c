/* Float synaptic kernels (event, bit-packed and dense paths over one row update, axpy) and
 * float-membrane neurons, each in AVX-512, AVX2 + FMA and portable C. Every call dispatches on the
 * current level (spikeformer/cpu.h): AVX-512 code from SF_ISA_AVX512 up, AVX2 code at SF_ISA_AVX2. */
#include "snn/spike_kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "core/par.h"
#include "spikeformer/cpu.h"

static void axpy_c(int64_t n, float a, const float *w, float *y) {
  for (int64_t i = 0; i < n; i++) y[i] += a * w[i];
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static void axpy_avx2(int64_t n, float a, const float *w, float *y) {
  __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256 y0 = _mm256_fmadd_ps(va, _mm256_loadu_ps(w + i), _mm256_loadu_ps(y + i));
    __m256 y1 = _mm256_fmadd_ps(va, _mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(y + i + 8));
    __m256 y2 = _mm256_fmadd_ps(va, _mm256_loadu_ps(w + i + 16), _mm256_loadu_ps(y + i + 16));
    __m256 y3 = _mm256_fmadd_ps(va, _mm256_loadu_ps(w + i + 24), _mm256_loadu_ps(y + i + 24));
    _mm256_storeu_ps(y + i, y0);
    _mm256_storeu_ps(y + i + 8, y1);
    _mm256_storeu_ps(y + i + 16, y2);
    _mm256_storeu_ps(y + i + 24, y3);
  }
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(w + i), _mm256_loadu_ps(y + i)));
  for (; i < n; i++) y[i] = __builtin_fmaf(a, w[i], y[i]);
}

/* 16 lanes, the tail masked: every element takes one fused multiply-add, as on the AVX2 path */
__attribute__((target("avx512f"))) static void axpy_512(int64_t n, float a, const float *w, float *y) {
  __m512 va = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512 y0 = _mm512_fmadd_ps(va, _mm512_loadu_ps(w + i), _mm512_loadu_ps(y + i));
    __m512 y1 = _mm512_fmadd_ps(va, _mm512_loadu_ps(w + i + 16), _mm512_loadu_ps(y + i + 16));
    _mm512_storeu_ps(y + i, y0);
    _mm512_storeu_ps(y + i + 16, y1);
  }
  for (; i < n; i += 16) {
    __mmask16 m = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, w + i), _mm512_maskz_loadu_ps(m, y + i)));
  }
}
#endif

typedef void (*axpy_fn)(int64_t, float, const float *, float *);

/* the float kernels' code at the current level: SF_ISA_AVX512 (or higher), SF_ISA_AVX2 or SF_ISA_C */
static sf_isa float_level(void) {
  const sf_isa l = sf_cpu_isa();
  return l >= SF_ISA_AVX512 ? SF_ISA_AVX512 : l;
}

static axpy_fn pick(sf_isa level) {
#if defined(__x86_64__)
  if (level == SF_ISA_AVX512) return axpy_512;
  if (level == SF_ISA_AVX2) return axpy_avx2;
#else
  (void)level;
#endif
  return axpy_c;
}

void sf_axpy(int64_t n, float a, const float *w, float *y) { pick(float_level())(n, a, w, y); }
const char *sf_axpy_isa(void) { return sf_isa_name(float_level()); }

#if defined(__x86_64__)
/* scan 8 inputs at a time; only non-zero ones trigger a row update */
__attribute__((target("avx2,fma"))) static int64_t events_row_avx2(const float *X, int64_t r, int64_t K, const float *W, int64_t N, float *Y) {
  int64_t events = 0;
  {
    const float *x = X + r * K;
    float *y = Y + r * N;
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) {
      unsigned m = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + k), _mm256_setzero_ps(), _CMP_NEQ_UQ));
      while (m) {
        int b = __builtin_ctz(m);
        m &= m - 1;
        axpy_avx2(N, x[k + b], W + (k + b) * N, y);
        events++;
      }
    }
    for (; k < K; k++)
      if (x[k] != 0.0f) { axpy_avx2(N, x[k], W + k * N, y); events++; }
  }
  return events;
}

/* scan 16 inputs at a time */
__attribute__((target("avx512f"))) static int64_t events_row_512(const float *X, int64_t r, int64_t K, const float *W, int64_t N, float *Y) {
  int64_t events = 0;
  const float *x = X + r * K;
  float *y = Y + r * N;
  for (int64_t k = 0; k < K; k += 16) {
    __mmask16 lm = K - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (K - k)) - 1);
    unsigned m = (unsigned)_mm512_mask_cmp_ps_mask(lm, _mm512_maskz_loadu_ps(lm, x + k), _mm512_setzero_ps(), _CMP_NEQ_UQ);
    while (m) {
      int b = __builtin_ctz(m);
      m &= m - 1;
      axpy_512(N, x[k + b], W + (k + b) * N, y);
      events++;
    }
  }
  return events;
}

/* the rows over threads; the OpenMP loop stays outside the target functions (clang outlines
 * parallel regions into functions that would not inherit the target attribute) */
typedef int64_t (*events_row_fn)(const float *, int64_t, int64_t, const float *, int64_t, float *);
static int64_t events_rows(events_row_fn row, const float *X, int64_t rows, int64_t K, const float *W, int64_t N, float *Y) {
  int64_t events = 0;
  SF_PAR_IF(rows * K > 16384, "omp parallel for reduction(+ : events) schedule(static)",
  for (int64_t r = 0; r < rows; r++) events += row(X, r, K, W, N, Y););
  return events;
}
#endif

int64_t sf_spike_linear_events(const float *X, int64_t rows, int64_t K, const float *W, int64_t N, float *Y) {
  const sf_isa level = float_level();
#if defined(__x86_64__)
  if (level == SF_ISA_AVX512) return events_rows(events_row_512, X, rows, K, W, N, Y);
  if (level == SF_ISA_AVX2) return events_rows(events_row_avx2, X, rows, K, W, N, Y);
#endif
  axpy_fn f = pick(level);
  int64_t events = 0;
  SF_PAR_IF(rows * K > 16384, "omp parallel for reduction(+ : events) schedule(static)",
  for (int64_t r = 0; r < rows; r++) {
    const float *x = X + r * K;
    float *y = Y + r * N;
    for (int64_t k = 0; k < K; k++)
      if (x[k] != 0.0f) { f(N, x[k], W + k * N, y); events++; }
  });
  return events;
}

int64_t sf_spike_linear_bitpacked(const float *X, int64_t rows, int64_t K, const float *W, int64_t N, float *Y) {
  axpy_fn f = pick(float_level());
  int64_t words = (K + 63) / 64, events = 0;
  SF_PAR_IF(rows * K > 16384, "omp parallel for reduction(+ : events) schedule(static)",
  for (int64_t r = 0; r < rows; r++) {
    const float *x = X + r * K;
    float *y = Y + r * N;
    for (int64_t wi = 0; wi < words; wi++) {
      uint64_t bits = 0;
      int64_t base = wi * 64, lim = K - base < 64 ? K - base : 64;
      for (int64_t b = 0; b < lim; b++) bits |= (uint64_t)(x[base + b] != 0.0f) << b;
      while (bits) {
        int b = __builtin_ctzll(bits);
        bits &= bits - 1;
        f(N, x[base + b], W + (base + b) * N, y);
        events++;
      }
    }
  });
  return events;
}

#if defined(__x86_64__)
/* 4 rows x 16 columns held in registers across the whole K loop; per element the FMA chain runs
 * over k in increasing order, exactly as the event path's row updates do. */
__attribute__((target("avx2,fma"))) static void dense_rows_avx2(const float *X, int64_t rows, int64_t r0, int64_t K, const float *W, int64_t N, float *Y) {
  {
    int64_t nr = rows - r0 < 4 ? rows - r0 : 4;
    int64_t n0 = 0;
    if (nr == 4) {
      for (; n0 + 16 <= N; n0 += 16) {
        __m256 a[4][2];
        for (int i = 0; i < 4; i++) { a[i][0] = _mm256_loadu_ps(Y + (r0 + i) * N + n0); a[i][1] = _mm256_loadu_ps(Y + (r0 + i) * N + n0 + 8); }
        for (int64_t k = 0; k < K; k++) {
          __m256 w0 = _mm256_loadu_ps(W + k * N + n0), w1 = _mm256_loadu_ps(W + k * N + n0 + 8);
          for (int i = 0; i < 4; i++) {
            __m256 xv = _mm256_set1_ps(X[(r0 + i) * K + k]);
            a[i][0] = _mm256_fmadd_ps(xv, w0, a[i][0]);
            a[i][1] = _mm256_fmadd_ps(xv, w1, a[i][1]);
          }
        }
        for (int i = 0; i < 4; i++) { _mm256_storeu_ps(Y + (r0 + i) * N + n0, a[i][0]); _mm256_storeu_ps(Y + (r0 + i) * N + n0 + 8, a[i][1]); }
      }
    }
    /* leftovers: same order, scalar FMA */
    for (int64_t i = 0; i < nr; i++)
      for (int64_t n = (nr == 4 ? n0 : 0); n < N; n++) {
        float acc = Y[(r0 + i) * N + n];
        for (int64_t k = 0; k < K; k++) acc = __builtin_fmaf(X[(r0 + i) * K + k], W[k * N + n], acc);
        Y[(r0 + i) * N + n] = acc;
      }
  }
}

/* 4 rows x 64 columns (the last block masked) held in 16 named registers across the whole K loop:
 * per k four weight loads and four broadcasts feed sixteen fused multiply-adds; the same chain over
 * increasing k per element as every other path. Missing rows of a last block repeat row 0 and are
 * not stored. */
__attribute__((target("avx512f"))) static void dense_rows_512(const float *X, int64_t rows, int64_t r0, int64_t K, const float *W, int64_t N, float *Y) {
  const int64_t nr = rows - r0 < 4 ? rows - r0 : 4;
  const float *x0 = X + r0 * K, *x1 = nr > 1 ? x0 + K : x0, *x2 = nr > 2 ? x0 + 2 * K : x0, *x3 = nr > 3 ? x0 + 3 * K : x0;
  for (int64_t n0 = 0; n0 < N; n0 += 64) {
    __mmask16 m[4];
    for (int c = 0; c < 4; c++) {
      int64_t left = N - n0 - 16 * c;
      m[c] = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1);
    }
    const __mmask16 m0 = m[0], m1 = m[1], m2 = m[2], m3 = m[3];
    float *y0 = Y + r0 * N + n0, *y1 = nr > 1 ? y0 + N : y0, *y2 = nr > 2 ? y0 + 2 * N : y0, *y3 = nr > 3 ? y0 + 3 * N : y0;
#define LOAD_ROW(y, a0, a1, a2, a3)                                                                 \
  __m512 a0 = _mm512_maskz_loadu_ps(m0, y), a1 = _mm512_maskz_loadu_ps(m1, y + 16),              \
         a2 = _mm512_maskz_loadu_ps(m2, y + 32), a3 = _mm512_maskz_loadu_ps(m3, y + 48)
    LOAD_ROW(y0, a00, a01, a02, a03);
    LOAD_ROW(y1, a10, a11, a12, a13);
    LOAD_ROW(y2, a20, a21, a22, a23);
    LOAD_ROW(y3, a30, a31, a32, a33);
#undef LOAD_ROW
    for (int64_t k = 0; k < K; k++) {
      const float *wk = W + k * N + n0;
      const __m512 w0 = _mm512_maskz_loadu_ps(m0, wk), w1 = _mm512_maskz_loadu_ps(m1, wk + 16);
      const __m512 w2 = _mm512_maskz_loadu_ps(m2, wk + 32), w3 = _mm512_maskz_loadu_ps(m3, wk + 48);
#define FMA_ROW(xr, a0, a1, a2, a3)                                                                 \
  {                                                                                                 \
    const __m512 xv = _mm512_set1_ps(xr[k]);                                                        \
    a0 = _mm512_fmadd_ps(xv, w0, a0); a1 = _mm512_fmadd_ps(xv, w1, a1);                             \
    a2 = _mm512_fmadd_ps(xv, w2, a2); a3 = _mm512_fmadd_ps(xv, w3, a3);                             \
  }
      FMA_ROW(x0, a00, a01, a02, a03);
      FMA_ROW(x1, a10, a11, a12, a13);
      FMA_ROW(x2, a20, a21, a22, a23);
      FMA_ROW(x3, a30, a31, a32, a33);
#undef FMA_ROW
    }
#define STORE_ROW(y, a0, a1, a2, a3)                                                                \
  _mm512_mask_storeu_ps(y, m0, a0); _mm512_mask_storeu_ps(y + 16, m1, a1);                          \
  _mm512_mask_storeu_ps(y + 32, m2, a2); _mm512_mask_storeu_ps(y + 48, m3, a3)
    /* the highest rows first: a missing row aliases row 0, which is stored last */
    if (nr > 3) { STORE_ROW(y3, a30, a31, a32, a33); }
    if (nr > 2) { STORE_ROW(y2, a20, a21, a22, a23); }
    if (nr > 1) { STORE_ROW(y1, a10, a11, a12, a13); }
    STORE_ROW(y0, a00, a01, a02, a03);
#undef STORE_ROW
  }
}

static void dense_block_512(const float *X, int64_t rows, int64_t K, const float *W, int64_t N, float *Y) {
  int64_t blocks = (rows + 3) / 4;
  SF_PAR_IF(rows * K > 16384, "omp parallel for schedule(static)",
  for (int64_t b = 0; b < blocks; b++) dense_rows_512(X, rows, b * 4, K, W, N, Y););
}

/* the OpenMP loop lives outside the target("avx2") functions (clang outlines parallel regions
 * into functions that would not inherit the target attribute) */
static void dense_block_avx2(const float *X, int64_t rows, int64_t K, const float *W, int64_t N, float *Y) {
  int64_t blocks = (rows + 3) / 4;
  SF_PAR_IF(rows * K > 16384, "omp parallel for schedule(static)",
  for (int64_t b = 0; b < blocks; b++) dense_rows_avx2(X, rows, b * 4, K, W, N, Y););
}
#endif

int64_t sf_spike_linear_dense(const float *X, int64_t rows, int64_t K, const float *W, int64_t N, float *Y) {
  const sf_isa level = float_level();
#if defined(__x86_64__)
  if (level == SF_ISA_AVX512) { dense_block_512(X, rows, K, W, N, Y); return rows * K; }
  if (level == SF_ISA_AVX2) { dense_block_avx2(X, rows, K, W, N, Y); return rows * K; }
#endif
  axpy_fn f = pick(level);
  SF_PAR_IF(rows * K > 16384, "omp parallel for schedule(static)",
  for (int64_t r = 0; r < rows; r++) {
    const float *x = X + r * K;
    float *y = Y + r * N;
    for (int64_t k = 0; k < K; k++) f(N, x[k], W + k * N, y); /* adding 0 * w leaves y unchanged */
  });
  return rows * K;
}

/* ---- float-membrane neurons ---- */

static int64_t neuron_f32_c(const float *x, float *v, float *y, const float *th, const float *ith, int st, int64_t len, float leak,
                            float flo, float fK, int64_t *nz) {
  int64_t spikes = 0, z = 0;
  for (int64_t j = 0; j < len; j++) {
    float t = th[st ? j : 0];
    float u = leak * v[j] + x[j];
    float kf = floorf(u * ith[st ? j : 0]);
    kf = kf < flo ? flo : kf;
    kf = kf > fK ? fK : kf;
    v[j] = u - kf * t;
    y[j] = kf * t;
    spikes += abs((int)kf);
    z += kf != 0;
  }
  *nz = z;
  return spikes;
}

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static int64_t neuron_f32_512(const float *x, float *v, float *y, const float *th, const float *ith, int st,
                                                                 int64_t len, float leak, float flo, float fK, int64_t *nz) {
  const __m512 vl = _mm512_set1_ps(leak), vlo = _mm512_set1_ps(flo), vK = _mm512_set1_ps(fK), zero = _mm512_setzero_ps();
  const __m512 th0 = _mm512_set1_ps(th[0]), ith0 = _mm512_set1_ps(ith[0]);
  __m512i sp = _mm512_setzero_si512();
  int64_t z = 0;
  for (int64_t j = 0; j < len; j += 16) {
    __mmask16 m = len - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (len - j)) - 1);
    __m512 t = st ? _mm512_maskz_loadu_ps(m, th + j) : th0, it = st ? _mm512_maskz_loadu_ps(m, ith + j) : ith0;
    __m512 u = _mm512_add_ps(_mm512_mul_ps(vl, _mm512_maskz_loadu_ps(m, v + j)), _mm512_maskz_loadu_ps(m, x + j));
    __m512 kf = _mm512_roundscale_ps(_mm512_mul_ps(u, it), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    kf = _mm512_min_ps(_mm512_max_ps(kf, vlo), vK);
    __m512 ky = _mm512_mul_ps(kf, t);
    _mm512_mask_storeu_ps(v + j, m, _mm512_sub_ps(u, ky));
    _mm512_mask_storeu_ps(y + j, m, ky);
    sp = _mm512_add_epi32(sp, _mm512_maskz_abs_epi32(m, _mm512_cvttps_epi32(kf)));
    z += __builtin_popcount((unsigned)_mm512_mask_cmp_ps_mask(m, kf, zero, _CMP_NEQ_UQ));
  }
  *nz = z;
  return _mm512_reduce_add_epi32(sp);
}

__attribute__((target("avx2"))) static int64_t neuron_f32_256(const float *x, float *v, float *y, const float *th, const float *ith, int st,
                                                              int64_t len, float leak, float flo, float fK, int64_t *nz) {
  const __m256 vl = _mm256_set1_ps(leak), vlo = _mm256_set1_ps(flo), vK = _mm256_set1_ps(fK), zero = _mm256_setzero_ps();
  const __m256 th0 = _mm256_set1_ps(th[0]), ith0 = _mm256_set1_ps(ith[0]);
  __m256i sp = _mm256_setzero_si256();
  int64_t z = 0, j = 0;
  for (; j + 8 <= len; j += 8) {
    __m256 t = st ? _mm256_loadu_ps(th + j) : th0, it = st ? _mm256_loadu_ps(ith + j) : ith0;
    __m256 u = _mm256_add_ps(_mm256_mul_ps(vl, _mm256_loadu_ps(v + j)), _mm256_loadu_ps(x + j));
    __m256 kf = _mm256_floor_ps(_mm256_mul_ps(u, it));
    kf = _mm256_min_ps(_mm256_max_ps(kf, vlo), vK);
    __m256 ky = _mm256_mul_ps(kf, t);
    _mm256_storeu_ps(v + j, _mm256_sub_ps(u, ky));
    _mm256_storeu_ps(y + j, ky);
    sp = _mm256_add_epi32(sp, _mm256_abs_epi32(_mm256_cvttps_epi32(kf)));
    z += __builtin_popcount((unsigned)_mm256_movemask_ps(_mm256_cmp_ps(kf, zero, _CMP_NEQ_UQ)));
  }
  int32_t lanes[8];
  _mm256_storeu_si256((__m256i *)lanes, sp);
  int64_t spikes = 0, zt = 0;
  for (int k = 0; k < 8; k++) spikes += lanes[k];
  spikes += neuron_f32_c(x + j, v + j, y + j, st ? th + j : th, st ? ith + j : ith, st, len - j, leak, flo, fK, &zt);
  *nz = z + zt;
  return spikes;
}
#endif

int64_t sf_neuron_step_f32(const float *x, float *v, float *y, const float *theta, const float *inv_theta, int th_stride,
                           int64_t len, float leak, int lo, int K, int64_t *nz) {
  const float flo = (float)lo, fK = (float)K;
#if defined(__x86_64__)
  const sf_isa level = float_level();
  if (level == SF_ISA_AVX512) return neuron_f32_512(x, v, y, theta, inv_theta, th_stride, len, leak, flo, fK, nz);
  if (level == SF_ISA_AVX2) return neuron_f32_256(x, v, y, theta, inv_theta, th_stride, len, leak, flo, fK, nz);
#endif
  return neuron_f32_c(x, v, y, theta, inv_theta, th_stride, len, leak, flo, fK, nz);
}

int64_t sf_neuron_step_zero_f32(const float *x, float *v, float *y, const float *th, const float *ith, int st, int64_t len, float leak, int lo,
                                int K, int64_t *nz) {
  const float flo = (float)lo, fK = (float)K;
  int64_t spikes = 0, z = 0;
  for (int64_t j = 0; j < len; j++) {
    const float t = th[st ? j : 0];
    const float u = leak * v[j] + x[j];
    const float q = fabsf(u) * ith[st ? j : 0];
    float kf = q > 1.0f ? ceilf(q) - 1.0f : 0.0f;
    kf = u < 0 ? -kf : kf;
    kf = kf < flo ? flo : kf;
    kf = kf > fK ? fK : kf;
    v[j] = kf != 0.0f ? 0.0f : u;
    y[j] = kf * t;
    spikes += abs((int)kf);
    z += kf != 0;
  }
  *nz = z;
  return spikes;
}

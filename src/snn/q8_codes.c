/* Between floats and the int8 runtime's integers (see q8_codes.h): the analog input layer's 8-bit
 * codes and float currents, float currents in membrane units, accumulators back to float. AVX-512
 * and portable C, identical results. */
#include "snn/q8_codes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "snn/q8_isa.h"

/* One row's 8-bit codes: see sf_q8_code_rows. Returns 1 for unsigned codes. */
static int code_row_c(const float *x, int64_t K, int8_t *q, float *scale) {
  float mn = 0, mx = 0;
  for (int64_t k = 0; k < K; k++) {
    mn = x[k] < mn ? x[k] : mn;
    mx = x[k] > mx ? x[k] : mx;
  }
  const int u8 = mn >= 0;
  const float amax = u8 ? mx : (mx > -mn ? mx : -mn), sc = amax > 0 ? amax / (u8 ? 255.0f : 127.0f) : 1.0f, inv = 1.0f / sc;
  const float lo = u8 ? 0.0f : -127.0f, hi = u8 ? 255.0f : 127.0f, shift = u8 ? 128.0f : 0.0f;
  for (int64_t k = 0; k < K; k++) {
    float c = floorf(x[k] * inv + 0.5f);
    c = c < lo ? lo : c > hi ? hi : c == c ? c : 0.0f; /* (a NaN codes as 0) */
    q[k] = (int8_t)(int)(c - shift);
  }
  *scale = sc;
  return u8;
}

static void units_c(const float *x, const float *iu, int64_t n, int32_t *out) {
  for (int64_t j = 0; j < n; j++) {
    float f = x[j] * iu[j];
    f = f > 1e9f ? 1e9f : f < -1e9f ? -1e9f : f;
    out[j] = (int32_t)floorf(f + 0.5f);
  }
}

#if defined(__x86_64__)
/* The same arithmetic 16 lanes at a time (the same results). */
__attribute__((target("avx512f,avx512bw,avx512vl"))) static int code_row_512(const float *x, int64_t K, int8_t *q, float *scale) {
  __m512 vmn = _mm512_setzero_ps(), vmx = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; k += 16) {
    const __mmask16 m = K - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (K - k)) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + k);
    vmn = _mm512_min_ps(v, vmn); /* (a NaN in v gives the second operand) */
    vmx = _mm512_max_ps(v, vmx);
  }
  const float mn = _mm512_reduce_min_ps(vmn), mx = _mm512_reduce_max_ps(vmx);
  const int u8 = mn >= 0;
  const float amax = u8 ? mx : (mx > -mn ? mx : -mn), sc = amax > 0 ? amax / (u8 ? 255.0f : 127.0f) : 1.0f, inv = 1.0f / sc;
  const __m512 vinv = _mm512_set1_ps(inv), half = _mm512_set1_ps(0.5f), lo = _mm512_set1_ps(u8 ? 0.0f : -127.0f), hi = _mm512_set1_ps(u8 ? 255.0f : 127.0f);
  const __m512 shift = _mm512_set1_ps(u8 ? 128.0f : 0.0f);
  for (int64_t k = 0; k < K; k += 16) {
    const __mmask16 m = K - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (K - k)) - 1);
    __m512 c = _mm512_roundscale_ps(_mm512_add_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + k), vinv), half), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    c = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(c, c, _CMP_ORD_Q), c);
    c = _mm512_min_ps(_mm512_max_ps(c, lo), hi);
    _mm_mask_storeu_epi8(q + k, m, _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(_mm512_sub_ps(c, shift))));
  }
  *scale = sc;
  return u8;
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) static void units_512(const float *x, const float *iu, int64_t n, int32_t *out) {
  const __m512 half = _mm512_set1_ps(0.5f), big = _mm512_set1_ps(1e9f), nbig = _mm512_set1_ps(-1e9f);
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 m = n - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j)) - 1);
    __m512 f = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + j), _mm512_maskz_loadu_ps(m, iu + j));
    f = _mm512_min_ps(_mm512_max_ps(f, nbig), big);
    _mm512_mask_storeu_epi32(out + j, m, _mm512_cvttps_epi32(_mm512_roundscale_ps(_mm512_add_ps(f, half), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC)));
  }
}
#endif

static void input_currents_c(const int32_t *a, int64_t N, float xs, int32_t off, const float *ws, const int32_t *cs, const float *bias, float *y) {
  for (int64_t c = 0; c < N; c++) y[c] = xs * ws[c] * (float)(a[c] + off * cs[c]) + (bias ? bias[c] : 0.0f);
}

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512bw,avx512vl"))) static void input_currents_512(const int32_t *a, int64_t N, float xs, int32_t off, const float *ws,
                                                                                  const int32_t *cs, const float *bias, float *y) {
  const __m512 vxs = _mm512_set1_ps(xs);
  const __m512i voff = _mm512_set1_epi32(off);
  for (int64_t c = 0; c < N; c += 16) {
    const __mmask16 m = N - c >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (N - c)) - 1);
    const __m512i v = _mm512_add_epi32(_mm512_maskz_loadu_epi32(m, a + c), _mm512_mullo_epi32(voff, _mm512_maskz_loadu_epi32(m, cs + c)));
    const __m512 t = _mm512_mul_ps(_mm512_mul_ps(vxs, _mm512_maskz_loadu_ps(m, ws + c)), _mm512_cvtepi32_ps(v));
    _mm512_mask_storeu_ps(y + c, m, _mm512_add_ps(t, bias ? _mm512_maskz_loadu_ps(m, bias + c) : _mm512_setzero_ps()));
  }
}
#endif

void sf_q8_input_currents(const int32_t *ACC, int64_t rows, int64_t N, const float *xscale, const uint8_t *xu8, const float *wscale,
                          const int32_t *colsum, const float *bias, float *Y) {
  const sf_isa level = sf_q8_level();
  (void)level;
  for (int64_t r = 0; r < rows; r++) {
    const int32_t off = xu8[r] ? 128 : 0;
#if defined(__x86_64__)
    if (level == SF_ISA_AVX512_VNNI) { input_currents_512(ACC + r * N, N, xscale[r], off, wscale, colsum, bias, Y + r * N); continue; }
#endif
    input_currents_c(ACC + r * N, N, xscale[r], off, wscale, colsum, bias, Y + r * N);
  }
}

void sf_q8_code_rows(const float *X, int64_t rows, int64_t K, int8_t *xq, float *xscale, uint8_t *xu8) {
  const sf_isa level = sf_q8_level();
  (void)level;
  for (int64_t r = 0; r < rows; r++) {
#if defined(__x86_64__)
    if (level == SF_ISA_AVX512_VNNI) { xu8[r] = (uint8_t)code_row_512(X + r * K, K, xq + r * K, &xscale[r]); continue; }
#endif
    xu8[r] = (uint8_t)code_row_c(X + r * K, K, xq + r * K, &xscale[r]);
  }
}

void sf_q8_units(const float *x, const float *iu, int64_t n, int32_t *out) {
#if defined(__x86_64__)
  if (sf_q8_level() == SF_ISA_AVX512_VNNI) { units_512(x, iu, n, out); return; }
#endif
  units_c(x, iu, n, out);
}

/* ---- accumulators to float currents ---- */

static void dequantise_c(const int32_t *ACC, int64_t rows, int64_t N, const float *scale, const float *bias, float *Y) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < N; c++) Y[r * N + c] = scale[c] * (float)ACC[r * N + c] + (bias ? bias[c] : 0.0f);
}

#if defined(__x86_64__)
/* the same two roundings (multiply, then add) 16 lanes at a time */
__attribute__((target("avx512f"))) static void dequantise_512(const int32_t *ACC, int64_t rows, int64_t N, const float *scale, const float *bias,
                                                              float *Y) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < N; c += 16) {
      __mmask16 m = N - c >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (N - c)) - 1);
      __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, scale + c), _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(m, ACC + r * N + c)));
      _mm512_mask_storeu_ps(Y + r * N + c, m, _mm512_add_ps(v, bias ? _mm512_maskz_loadu_ps(m, bias + c) : _mm512_setzero_ps()));
    }
}
#endif

void sf_q8_dequantise(const int32_t *ACC, int64_t rows, int64_t N, const float *scale, const float *bias, float *Y) {
#if defined(__x86_64__)
  if (sf_q8_level() == SF_ISA_AVX512_VNNI) { dequantise_512(ACC, rows, N, scale, bias, Y); return; }
#endif
  dequantise_c(ACC, rows, N, scale, bias, Y);
}

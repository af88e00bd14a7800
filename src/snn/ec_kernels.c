/* Expectation-compensation running sums (see ec_kernels.h), dispatched at each call on the current
 * level (spikeformer/cpu.h): AVX-512 code from SF_ISA_AVX512 up, AVX2 code at SF_ISA_AVX2. */
#include "snn/ec_kernels.h"

#include <stddef.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "spikeformer/cpu.h"

static void accumulate_c(float *cum, float *mean, const float *x, float inv_t, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    cum[i] += x[i];
    if (mean) mean[i] = cum[i] * inv_t;
  }
}

static void increment_c(float *y, const float *f, float *prev, float t, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    float cur = t * f[i];
    y[i] = cur - prev[i];
    prev[i] = cur;
  }
}

#if defined(__x86_64__)
/* whole vectors unmasked, the tail masked (the same arithmetic either way) */
__attribute__((target("avx512f"))) static void accumulate_512(float *cum, float *mean, const float *x, float inv_t, int64_t n) {
  const __m512 vi = _mm512_set1_ps(inv_t);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 c = _mm512_add_ps(_mm512_loadu_ps(cum + i), _mm512_loadu_ps(x + i));
    _mm512_storeu_ps(cum + i, c);
    if (mean) _mm512_storeu_ps(mean + i, _mm512_mul_ps(c, vi));
  }
  if (i < n) {
    __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    __m512 c = _mm512_add_ps(_mm512_maskz_loadu_ps(m, cum + i), _mm512_maskz_loadu_ps(m, x + i));
    _mm512_mask_storeu_ps(cum + i, m, c);
    if (mean) _mm512_mask_storeu_ps(mean + i, m, _mm512_mul_ps(c, vi));
  }
}

__attribute__((target("avx512f"))) static void increment_512(float *y, const float *f, float *prev, float t, int64_t n) {
  const __m512 vt = _mm512_set1_ps(t);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 cur = _mm512_mul_ps(vt, _mm512_loadu_ps(f + i));
    _mm512_storeu_ps(y + i, _mm512_sub_ps(cur, _mm512_loadu_ps(prev + i)));
    _mm512_storeu_ps(prev + i, cur);
  }
  if (i < n) {
    __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    __m512 cur = _mm512_mul_ps(vt, _mm512_maskz_loadu_ps(m, f + i));
    _mm512_mask_storeu_ps(y + i, m, _mm512_sub_ps(cur, _mm512_maskz_loadu_ps(m, prev + i)));
    _mm512_mask_storeu_ps(prev + i, m, cur);
  }
}

__attribute__((target("avx2"))) static void accumulate_256(float *cum, float *mean, const float *x, float inv_t, int64_t n) {
  const __m256 vi = _mm256_set1_ps(inv_t);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 c = _mm256_add_ps(_mm256_loadu_ps(cum + i), _mm256_loadu_ps(x + i));
    _mm256_storeu_ps(cum + i, c);
    if (mean) _mm256_storeu_ps(mean + i, _mm256_mul_ps(c, vi));
  }
  accumulate_c(cum + i, mean ? mean + i : NULL, x + i, inv_t, n - i);
}

__attribute__((target("avx2"))) static void increment_256(float *y, const float *f, float *prev, float t, int64_t n) {
  const __m256 vt = _mm256_set1_ps(t);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 cur = _mm256_mul_ps(vt, _mm256_loadu_ps(f + i));
    _mm256_storeu_ps(y + i, _mm256_sub_ps(cur, _mm256_loadu_ps(prev + i)));
    _mm256_storeu_ps(prev + i, cur);
  }
  increment_c(y + i, f + i, prev + i, t, n - i);
}
#endif

void sf_ec_accumulate(float *cum, float *mean, const float *x, float inv_t, int64_t n) {
#if defined(__x86_64__)
  const sf_isa k = sf_cpu_isa();
  if (k >= SF_ISA_AVX512) { accumulate_512(cum, mean, x, inv_t, n); return; }
  if (k == SF_ISA_AVX2) { accumulate_256(cum, mean, x, inv_t, n); return; }
#endif
  accumulate_c(cum, mean, x, inv_t, n);
}

void sf_ec_increment(float *y, const float *f, float *prev, float t, int64_t n) {
#if defined(__x86_64__)
  const sf_isa k = sf_cpu_isa();
  if (k >= SF_ISA_AVX512) { increment_512(y, f, prev, t, n); return; }
  if (k == SF_ISA_AVX2) { increment_256(y, f, prev, t, n); return; }
#endif
  increment_c(y, f, prev, t, n);
}

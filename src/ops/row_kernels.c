/* Row-wise LayerNorm and softmax (see row_kernels.h). LayerNorm's AVX-512 code runs from level
 * SF_ISA_AVX512 up (spikeformer/cpu.h, read at each call), its C code below. */
#include "ops/row_kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "core/par.h"
#include "core/vmath.h"
#include "spikeformer/cpu.h"

static int use_512(void) { return sf_cpu_isa() >= SF_ISA_AVX512; }

static void layernorm_row_c(const float *x, float *y, int64_t D, const float *scale, const float *bias, float eps, float *mean_out,
                            float *inv_out) {
  float mean = 0.0f, var = 0.0f;
  for (int64_t i = 0; i < D; i++) mean += x[i];
  mean /= (float)D;
  for (int64_t i = 0; i < D; i++) { float d = x[i] - mean; var += d * d; }
  var /= (float)D;
  float inv = 1.0f / sqrtf(var + eps);
  for (int64_t i = 0; i < D; i++) {
    float v = (x[i] - mean) * inv;
    if (scale) v *= scale[i];
    if (bias) v += bias[i];
    y[i] = v;
  }
  if (mean_out) *mean_out = mean;
  if (inv_out) *inv_out = inv;
}

/* softmax in three passes over a block of rows: shift each row by its max, one exp over the block,
 * normalise each row */
static void shift_row_c(const float *x, float *y, int64_t len) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < len; i++) mx = x[i] > mx ? x[i] : mx;
  for (int64_t i = 0; i < len; i++) y[i] = x[i] - mx;
}

static void normalise_row_c(float *y, int64_t len) {
  float sum = 0.0f;
  for (int64_t i = 0; i < len; i++) sum += y[i];
  float inv = 1.0f / sum;
  for (int64_t i = 0; i < len; i++) y[i] *= inv;
}

#if defined(__x86_64__)
static inline __mmask16 tail_mask(int64_t left) { return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1); }

__attribute__((target("avx512f"))) static void layernorm_row_512(const float *x, float *y, int64_t D, const float *scale, const float *bias,
                                                                 float eps, float *mean_out, float *inv_out) {
  __m512 s = _mm512_setzero_ps();
  for (int64_t i = 0; i < D; i += 16) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(tail_mask(D - i), x + i));
  const float mean = _mm512_reduce_add_ps(s) / (float)D;
  const __m512 vm = _mm512_set1_ps(mean);
  __m512 q = _mm512_setzero_ps();
  for (int64_t i = 0; i < D; i += 16) {
    __mmask16 m = tail_mask(D - i);
    __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, x + i), vm);
    q = _mm512_fmadd_ps(d, d, q);
  }
  const float inv = 1.0f / sqrtf(_mm512_reduce_add_ps(q) / (float)D + eps);
  const __m512 vi = _mm512_set1_ps(inv);
  for (int64_t i = 0; i < D; i += 16) {
    __mmask16 m = tail_mask(D - i);
    __m512 v = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vm), vi);
    if (scale) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, scale + i));
    if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias + i));
    _mm512_mask_storeu_ps(y + i, m, v);
  }
  if (mean_out) *mean_out = mean;
  if (inv_out) *inv_out = inv;
}

#endif

static void layernorm_row(int v, const float *x, float *y, int64_t D, const float *scale, const float *bias, float eps, float *mean_out,
                          float *inv_out) {
#if defined(__x86_64__)
  if (v) { layernorm_row_512(x, y, D, scale, bias, eps, mean_out, inv_out); return; }
#endif
  (void)v;
  layernorm_row_c(x, y, D, scale, bias, eps, mean_out, inv_out);
}

void sf_layernorm_rows(const float *X, float *Y, int64_t rows, int64_t D, const float *scale, const float *bias, float eps, float *mean,
                       float *inv_std) {
  const int v = use_512();
  SF_PAR_IF(rows * D > 32768, "omp parallel for schedule(static)",
            for (int64_t r = 0; r < rows; r++)
              layernorm_row(v, X + r * D, Y + r * D, D, scale, bias, eps, mean ? mean + r : NULL, inv_std ? inv_std + r : NULL););
}

/* rows [r0, r1) of a softmax */
static void softmax_block(const float *X, float *Y, int64_t r0, int64_t r1, int64_t len) {
  for (int64_t r = r0; r < r1; r++) shift_row_c(X + r * len, Y + r * len, len);
  sf_vexp(Y + r0 * len, Y + r0 * len, (r1 - r0) * len);
  for (int64_t r = r0; r < r1; r++) normalise_row_c(Y + r * len, len);
}

void sf_softmax_rows(const float *X, float *Y, int64_t rows, int64_t len) {
  /* short rows (attention over tokens): the shift and the sums stay scalar and inlined (cheaper than
   * masked vectors per row here); the exp runs vectorised over whole blocks of rows */
  if (len <= 0) return;
  const int64_t rb = len < 1024 ? 1024 / len : 1;
  SF_PAR_IF(rows * len > 32768, "omp parallel for schedule(static)",
            for (int64_t r0 = 0; r0 < rows; r0 += rb) softmax_block(X, Y, r0, r0 + rb < rows ? r0 + rb : rows, len););
}

/* Direct kernel for products of small matrices (see small_gemm.h). */
#include "ops/small_gemm.h"

#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

int sf_small_gemm_fits(int64_t M, int64_t N, int64_t K) { return M > 0 && N > 0 && K > 0 && N <= 32 && M <= 128 && K <= 128; }

static void small_gemm_c(int64_t M, int64_t N, int64_t K, float alpha, const float *A, const float *B, float *Y) {
  for (int64_t m = 0; m < M; m++) {
    float acc[32] = {0};
    for (int64_t k = 0; k < K; k++) {
      float a = A[m * K + k];
      const float *b = B + k * N;
      for (int64_t n = 0; n < N; n++) acc[n] += a * b[n];
    }
    for (int64_t n = 0; n < N; n++) Y[m * N + n] = alpha * acc[n];
  }
}

#if defined(__x86_64__)
/* each output row in two masked registers, the K loop a chain of fused multiply-adds */
__attribute__((target("avx512f"))) static void small_gemm_512(int64_t M, int64_t N, int64_t K, float alpha, const float *A, const float *B,
                                                              float *Y) {
  const __mmask16 m0 = N >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << N) - 1);
  const __mmask16 m1 = N >= 32 ? (__mmask16)0xFFFF : N <= 16 ? (__mmask16)0 : (__mmask16)((1u << (N - 16)) - 1);
  const __m512 va = _mm512_set1_ps(alpha);
  int64_t m = 0;
  for (; m + 2 <= M; m += 2) {
    __m512 a00 = _mm512_setzero_ps(), a01 = a00, a10 = a00, a11 = a00;
    for (int64_t k = 0; k < K; k++) {
      __m512 b0 = _mm512_maskz_loadu_ps(m0, B + k * N), b1 = _mm512_maskz_loadu_ps(m1, B + k * N + 16);
      __m512 x0 = _mm512_set1_ps(A[m * K + k]), x1 = _mm512_set1_ps(A[(m + 1) * K + k]);
      a00 = _mm512_fmadd_ps(x0, b0, a00); a01 = _mm512_fmadd_ps(x0, b1, a01);
      a10 = _mm512_fmadd_ps(x1, b0, a10); a11 = _mm512_fmadd_ps(x1, b1, a11);
    }
    _mm512_mask_storeu_ps(Y + m * N, m0, _mm512_mul_ps(va, a00));
    _mm512_mask_storeu_ps(Y + m * N + 16, m1, _mm512_mul_ps(va, a01));
    _mm512_mask_storeu_ps(Y + (m + 1) * N, m0, _mm512_mul_ps(va, a10));
    _mm512_mask_storeu_ps(Y + (m + 1) * N + 16, m1, _mm512_mul_ps(va, a11));
  }
  for (; m < M; m++) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;
    for (int64_t k = 0; k < K; k++) {
      __m512 x = _mm512_set1_ps(A[m * K + k]);
      a0 = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(m0, B + k * N), a0);
      a1 = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(m1, B + k * N + 16), a1);
    }
    _mm512_mask_storeu_ps(Y + m * N, m0, _mm512_mul_ps(va, a0));
    _mm512_mask_storeu_ps(Y + m * N + 16, m1, _mm512_mul_ps(va, a1));
  }
}
#endif

void sf_small_gemm(int64_t M, int64_t N, int64_t K, float alpha, const float *A, const float *B, float *Y) {
#if defined(__x86_64__)
  static int k512 = -1;
  if (k512 < 0) {
    const char *env = getenv("SF_ISA");
    k512 = (!env || (strcmp(env, "c") && strcmp(env, "avx2"))) && __builtin_cpu_supports("avx512f");
  }
  if (k512) { small_gemm_512(M, N, K, alpha, A, B, Y); return; }
#endif
  small_gemm_c(M, N, K, alpha, A, B, Y);
}

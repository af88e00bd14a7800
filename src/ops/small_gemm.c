/* Direct kernel for products of small matrices (see small_gemm.h): AVX-512 code from level
 * SF_ISA_AVX512 up (spikeformer/cpu.h, read at each call), C below. */
#include "ops/small_gemm.h"

#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "spikeformer/cpu.h"

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
/* R rows of Y [R, N] from R rows of A [R, K] and all of B [K, N]: each output row in one masked
 * register (N <= 16) or two (TWO), the K loop a chain of fused multiply-adds per register. Up to 8
 * chains run side by side, enough to hide the FMA latency; every output element still sums its K
 * products in order, so the result does not depend on R. */
__attribute__((target("avx512f"), always_inline)) static inline void rows_512(const int R, const int TWO, int64_t N, int64_t K, __m512 va,
                                                                             __mmask16 m0, __mmask16 m1, const float *A, const float *B,
                                                                             float *Y) {
  __m512 acc0[8], acc1[8];
  for (int r = 0; r < R; r++) acc0[r] = acc1[r] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; k++) {
    const __m512 b0 = _mm512_maskz_loadu_ps(m0, B + k * N), b1 = TWO ? _mm512_maskz_loadu_ps(m1, B + k * N + 16) : b0;
    for (int r = 0; r < R; r++) {
      const __m512 x = _mm512_set1_ps(A[r * K + k]);
      acc0[r] = _mm512_fmadd_ps(x, b0, acc0[r]);
      if (TWO) acc1[r] = _mm512_fmadd_ps(x, b1, acc1[r]);
    }
  }
  for (int r = 0; r < R; r++) {
    _mm512_mask_storeu_ps(Y + r * N, m0, _mm512_mul_ps(va, acc0[r]));
    if (TWO) _mm512_mask_storeu_ps(Y + r * N + 16, m1, _mm512_mul_ps(va, acc1[r]));
  }
}

__attribute__((target("avx512f"))) static void small_gemm_512(int64_t M, int64_t N, int64_t K, float alpha, const float *A, const float *B,
                                                              float *Y) {
  const __mmask16 m0 = N >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << N) - 1);
  const __mmask16 m1 = N >= 32 ? (__mmask16)0xFFFF : N <= 16 ? (__mmask16)0 : (__mmask16)((1u << (N - 16)) - 1);
  const __m512 va = _mm512_set1_ps(alpha);
  int64_t m = 0;
  if (N > 16) {
    for (; m + 4 <= M; m += 4) rows_512(4, 1, N, K, va, m0, m1, A + m * K, B, Y + m * N);
    for (; m < M; m++) rows_512(1, 1, N, K, va, m0, m1, A + m * K, B, Y + m * N);
  } else {
    for (; m + 8 <= M; m += 8) rows_512(8, 0, N, K, va, m0, m1, A + m * K, B, Y + m * N);
    for (; m + 2 <= M; m += 2) rows_512(2, 0, N, K, va, m0, m1, A + m * K, B, Y + m * N);
    for (; m < M; m++) rows_512(1, 0, N, K, va, m0, m1, A + m * K, B, Y + m * N);
  }
}
#endif

void sf_small_gemm(int64_t M, int64_t N, int64_t K, float alpha, const float *A, const float *B, float *Y) {
#if defined(__x86_64__)
  if (sf_cpu_isa() >= SF_ISA_AVX512) { small_gemm_512(M, N, K, alpha, A, B, Y); return; }
#endif
  small_gemm_c(M, N, K, alpha, A, B, Y);
}

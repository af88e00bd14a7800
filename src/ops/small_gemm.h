/* Products of small matrices (attention heads: [tokens, head_dim] x [head_dim, tokens]), where a
 * BLAS call costs more than the arithmetic:
 *   Y[M, N] = alpha * A[M, K] B[K, N]   (row-major, leading dimensions K and N)
 * sf_small_gemm_fits says when the direct kernel applies (N <= 32, M and K <= 128); it is vectorised
 * with AVX-512 from level SF_ISA_AVX512 up (spikeformer/cpu.h) and plain C otherwise. */
#ifndef SF_OPS_SMALL_GEMM_H
#define SF_OPS_SMALL_GEMM_H
#include <stdint.h>

int sf_small_gemm_fits(int64_t M, int64_t N, int64_t K);
void sf_small_gemm(int64_t M, int64_t N, int64_t K, float alpha, const float *A, const float *B, float *Y);

#endif

/* Row-wise normalisations over contiguous rows (the last axis). LayerNorm runs on AVX-512 from level
 * SF_ISA_AVX512 up (spikeformer/cpu.h; masked vectors, any row length), plain C otherwise; softmax's exp is vectorised over
 * blocks of rows (core/vmath.h).
 *   LayerNorm: X [rows, D] -> Y [rows, D] = (X - mean) / sqrt(var + eps) * scale + bias
 *              (scale, bias [D] or NULL; mean / inv_std [rows] written when not NULL)
 *   softmax:   X [rows, len] -> Y [rows, len] = exp(X - max) / sum (Y may equal X) */
#ifndef SF_OPS_ROW_KERNELS_H
#define SF_OPS_ROW_KERNELS_H
#include <stdint.h>

void sf_layernorm_rows(const float *X, float *Y, int64_t rows, int64_t D, const float *scale, const float *bias, float eps, float *mean,
                       float *inv_std);
void sf_softmax_rows(const float *X, float *Y, int64_t rows, int64_t len);

#endif

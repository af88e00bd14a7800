/* Between floats and the int8 runtime's integers: the analog input layer's 8-bit codes, float
 * currents in membrane units, accumulators back to float currents. */
#ifndef SF_SNN_Q8_CODES_H
#define SF_SNN_Q8_CODES_H
#include <stdint.h>

/* 8-bit codes of float rows X [rows, K] for the analog input layer, per row: unsigned (scale
 * max / 255, stored as code - 128) where every input is >= 0, else signed (scale max |x| / 127);
 * codes round half up, clamp to the range, NaN -> 0. xscale[r], xu8[r]: the row's scale and kind. */
void sf_q8_code_rows(const float *X, int64_t rows, int64_t K, int8_t *xq, float *xscale, uint8_t *xu8);
/* Back to float for the analog input layer: Y[r, c] = xscale[r] wscale[c] (ACC[r, c] + 128 colsum[c]
 * where row r has unsigned codes) + bias[c] (bias may be NULL). */
void sf_q8_input_currents(const int32_t *ACC, int64_t rows, int64_t N, const float *xscale, const uint8_t *xu8, const float *wscale,
                          const int32_t *colsum, const float *bias, float *Y);
/* Float currents in membrane units: out = floor(clamp(x * iu, -1e9, 1e9) + 1/2). */
void sf_q8_units(const float *x, const float *iu, int64_t n, int32_t *out);
/* Float currents from accumulators: Y[r, c] = scale[c] * ACC[r, c] + bias[c] (bias may be NULL). */
void sf_q8_dequantise(const int32_t *ACC, int64_t rows, int64_t N, const float *scale, const float *bias, float *Y);

#endif

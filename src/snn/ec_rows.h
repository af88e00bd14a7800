/* Expectation compensation fused with the function it compensates, for the functions a converted
 * transformer evaluates at every step on every element (GELU, LayerNorm, softmax). Per block of
 * whole rows (about 1024 elements, so that the block stays in L1 between the passes):
 *   cum += x; mean = cum / t           (sf_ec_accumulate)
 *   f = op(mean)                        (GELU: sf_vgelu; LayerNorm, softmax: their row kernels)
 *   y = t f - prev; prev = t f          (sf_ec_increment)
 * Every element gets exactly the arithmetic of the three passes over the whole tensor (each
 * kernel works element by element or row by row), so the results are bit-identical to them.
 * Shapes: cum, x, prev, y [n] = [n / D, D]; mean, f: scratch of sf_ec_rows_block(op) floats. */
#ifndef SF_SNN_EC_ROWS_H
#define SF_SNN_EC_ROWS_H
#include <stdint.h>

typedef enum { SF_EC_ROWS_NONE, SF_EC_ROWS_GELU, SF_EC_ROWS_LAYERNORM, SF_EC_ROWS_SOFTMAX } sf_ec_rows_kind;

typedef struct {
  sf_ec_rows_kind kind;
  int64_t D;                 /* row length (GELU: 1) */
  float eps;                 /* LayerNorm */
  const float *scale, *bias; /* LayerNorm: [D], or NULL */
} sf_ec_rows_op;

/* elements per block: whole rows, about 1024 */
int64_t sf_ec_rows_block(const sf_ec_rows_op *op);
/* one step over n elements (whole rows), block by block */
void sf_ec_rows_step(const sf_ec_rows_op *op, float *cum, const float *x, float *prev, float *y, float *mean, float *f, float inv_t,
                     float t, int64_t n);

#endif

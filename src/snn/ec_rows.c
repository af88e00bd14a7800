/* Expectation compensation fused with GELU, LayerNorm or softmax, block by block (see ec_rows.h). */
#include "snn/ec_rows.h"

#include <stddef.h>

#include "core/vmath.h"
#include "ops/row_kernels.h"
#include "snn/ec_kernels.h"

#define BLOCK_ELEMENTS 1024

int64_t sf_ec_rows_block(const sf_ec_rows_op *op) {
  const int64_t D = op->D > 0 ? op->D : 1;
  return D >= BLOCK_ELEMENTS ? D : BLOCK_ELEMENTS / D * D;
}

void sf_ec_rows_step(const sf_ec_rows_op *op, float *cum, const float *x, float *prev, float *y, float *mean, float *f, float inv_t,
                     float t, int64_t n) {
  const int64_t block = sf_ec_rows_block(op), D = op->D > 0 ? op->D : 1;
  for (int64_t e0 = 0; e0 < n; e0 += block) {
    const int64_t len = n - e0 < block ? n - e0 : block;
    sf_ec_accumulate(cum + e0, mean, x + e0, inv_t, len);
    switch (op->kind) {
      case SF_EC_ROWS_GELU: sf_vgelu(f, mean, len); break;
      case SF_EC_ROWS_LAYERNORM: sf_layernorm_rows(mean, f, len / D, D, op->scale, op->bias, op->eps, NULL, NULL); break;
      case SF_EC_ROWS_SOFTMAX: sf_softmax_rows(mean, f, len / D, D); break;
      case SF_EC_ROWS_NONE: return;
    }
    sf_ec_increment(y + e0, f, prev + e0, t, len);
  }
}

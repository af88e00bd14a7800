/* Numpy-style broadcasting over up to 3 operands: the output shape is iterated as
 * outer dims x one inner dim; each operand has per-dim strides (0 where broadcast). */
#ifndef SF_OPS_BROADCAST_H
#define SF_OPS_BROADCAST_H
#include <stdint.h>

#include "spikeformer/tensor.h"

typedef struct {
  int nd;                      /* collapsed rank (>= 1) */
  int64_t shape[SF_MAX_DIMS];
  int64_t stride[3][SF_MAX_DIMS];
  int n_ops;
  int64_t outer;               /* product of shape[0..nd-2] */
} sf_bcast;

void sf_bcast_init(sf_bcast *b, int out_nd, const int64_t *out_shape, int n_ops, const sf_tensor *const *ops);
/* Offsets of each operand for outer index `o` (0 <= o < outer). */
void sf_bcast_offsets(const sf_bcast *b, int64_t o, int64_t *off);

#endif

#include "ops/broadcast.h"

#include <string.h>

void sf_bcast_init(sf_bcast *b, int out_nd, const int64_t *out_shape, int n_ops, const sf_tensor *const *ops) {
  int64_t st[3][SF_MAX_DIMS];
  b->n_ops = n_ops;
  for (int k = 0; k < n_ops; k++) {
    const sf_tensor *t = ops[k];
    int off = out_nd - t->ndim;
    int64_t s = 1;
    for (int d = out_nd - 1; d >= 0; d--) {
      int64_t dim = d >= off ? t->shape[d - off] : 1;
      st[k][d] = (dim == 1 && out_shape[d] != 1) ? 0 : s;
      if (dim == 1) st[k][d] = 0;
      s *= dim;
    }
  }
  /* Collapse adjacent dims where every operand is contiguous across them. Drop size-1 dims. */
  int nd = 0;
  int64_t shape[SF_MAX_DIMS], cs[3][SF_MAX_DIMS];
  for (int d = 0; d < out_nd; d++) {
    if (out_shape[d] == 1) continue;
    if (nd > 0) {
      int ok = 1;
      for (int k = 0; k < n_ops; k++)
        if (cs[k][nd - 1] != st[k][d] * out_shape[d]) ok = 0;
      if (ok) {
        shape[nd - 1] *= out_shape[d];
        for (int k = 0; k < n_ops; k++) cs[k][nd - 1] = st[k][d];
        continue;
      }
    }
    shape[nd] = out_shape[d];
    for (int k = 0; k < n_ops; k++) cs[k][nd] = st[k][d];
    nd++;
  }
  if (nd == 0) {
    nd = 1;
    shape[0] = 1;
    for (int k = 0; k < n_ops; k++) cs[k][0] = 0;
  }
  b->nd = nd;
  memcpy(b->shape, shape, sizeof(int64_t) * (size_t)nd);
  for (int k = 0; k < n_ops; k++) memcpy(b->stride[k], cs[k], sizeof(int64_t) * (size_t)nd);
  b->outer = 1;
  for (int d = 0; d < nd - 1; d++) b->outer *= shape[d];
}

void sf_bcast_offsets(const sf_bcast *b, int64_t o, int64_t *off) {
  for (int k = 0; k < b->n_ops; k++) off[k] = 0;
  for (int d = b->nd - 2; d >= 0; d--) {
    int64_t i = o % b->shape[d];
    o /= b->shape[d];
    for (int k = 0; k < b->n_ops; k++) off[k] += i * b->stride[k][d];
  }
}

/* Reductions over a set of axes.
 *   X [d0..dn] -> Y [d with reduced axes set to 1 (keepdims=1) or removed]
 * Axes from the `axes` attribute (older opsets) or the second input (ReduceSum >= 13, all >= 18). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"

typedef enum { R_MEAN, R_SUM, R_MAX, R_MIN, R_PROD, R_SUMSQ, R_L1, R_L2, R_LOGSUMEXP } rop;

static rop rop_of(const char *t) {
  if (!strcmp(t, "ReduceMean")) return R_MEAN;
  if (!strcmp(t, "ReduceSum")) return R_SUM;
  if (!strcmp(t, "ReduceMax")) return R_MAX;
  if (!strcmp(t, "ReduceMin")) return R_MIN;
  if (!strcmp(t, "ReduceProd")) return R_PROD;
  if (!strcmp(t, "ReduceSumSquare")) return R_SUMSQ;
  if (!strcmp(t, "ReduceL1")) return R_L1;
  if (!strcmp(t, "ReduceL2")) return R_L2;
  return R_LOGSUMEXP;
}

/* mask[i] = 1 if axis i is reduced */
static sf_status reduce_axes(sf_op_ctx *c, int *mask) {
  const sf_tensor *x = c->in[0];
  int r = x->ndim;
  memset(mask, 0, sizeof(int) * SF_MAX_DIMS);
  int64_t axes[SF_MAX_DIMS];
  int n = -1;
  if (c->n_in > 1 && c->in[1]) {
    sf_status st = sf_need_const(c, 1, "axes");
    if (st) return st;
    n = sf_input_ints(c, 1, axes, SF_MAX_DIMS);
    if (n < 0) return sf_op_fail(c, SF_ERR_SHAPE, "too many axes");
  } else {
    const int64_t *a;
    n = sf_node_attr_ints(c->node, "axes", &a);
    if (n > SF_MAX_DIMS) return sf_op_fail(c, SF_ERR_SHAPE, "too many axes");
    for (int i = 0; i < n; i++) axes[i] = a[i];
  }
  if (n <= 0) {
    if (n == 0 && sf_node_attr_int(c->node, "noop_with_empty_axes", 0)) return SF_OK;
    for (int i = 0; i < r; i++) mask[i] = 1;
    return SF_OK;
  }
  for (int i = 0; i < n; i++) {
    int ax;
    sf_status st = sf_norm_axis(c, axes[i], r, &ax);
    if (st) return st;
    mask[ax] = 1;
  }
  return SF_OK;
}

static sf_status infer_reduce(sf_op_ctx *c) {
  const sf_tensor *x = c->in[0];
  if (x->dtype != SF_F32 && x->dtype != SF_I64 && x->dtype != SF_I32 && x->dtype != SF_F64)
    return sf_op_fail(c, SF_ERR_UNSUPPORTED, "dtype %s", sf_dtype_name(x->dtype));
  int mask[SF_MAX_DIMS];
  sf_status st = reduce_axes(c, mask);
  if (st) return st;
  int keep = (int)sf_node_attr_int(c->node, "keepdims", 1);
  int64_t shape[SF_MAX_DIMS];
  int nd = 0;
  for (int i = 0; i < x->ndim; i++) {
    if (!mask[i]) shape[nd++] = x->shape[i];
    else if (keep) shape[nd++] = 1;
  }
  sf_tensor_describe(c->out[0], x->dtype, nd, shape);
  return SF_OK;
}

static sf_status exec_reduce(sf_op_ctx *c) {
  const sf_tensor *x = c->in[0];
  rop op = rop_of(c->node->op_type);
  int mask[SF_MAX_DIMS];
  sf_status st = reduce_axes(c, mask);
  if (st) return st;
  int64_t n_out = sf_tensor_numel(c->out[0]), n_in = sf_tensor_numel(x);
  double *acc = malloc(sizeof(double) * (size_t)(n_out ? n_out : 1));
  int64_t *cnt = calloc((size_t)(n_out ? n_out : 1), sizeof(int64_t));
  if (!acc || !cnt) { free(acc); free(cnt); return sf_op_fail(c, SF_ERR_NOMEM, "out of memory"); }
  double init = op == R_MAX ? -INFINITY : op == R_MIN ? INFINITY : op == R_PROD ? 1.0 : 0.0;
  for (int64_t i = 0; i < n_out; i++) acc[i] = init;
  /* output strides over the kept dims (reduced dims contribute 0) */
  int64_t ostride[SF_MAX_DIMS], s = 1;
  for (int i = x->ndim - 1; i >= 0; i--) {
    ostride[i] = mask[i] ? 0 : s;
    if (!mask[i]) s *= x->shape[i];
  }
  double mx_shift = 0;
  (void)mx_shift;
  int64_t idx[SF_MAX_DIMS] = {0};
  int64_t o = 0;
  for (int64_t i = 0; i < n_in; i++) {
    double v = sf_tensor_get_f(x, i);
    switch (op) {
      case R_MEAN: case R_SUM: acc[o] += v; break;
      case R_MAX: if (v > acc[o] || isnan(v)) acc[o] = v; break;
      case R_MIN: if (v < acc[o] || isnan(v)) acc[o] = v; break;
      case R_PROD: acc[o] *= v; break;
      case R_SUMSQ: case R_L2: acc[o] += v * v; break;
      case R_L1: acc[o] += fabs(v); break;
      case R_LOGSUMEXP: acc[o] += exp(v); break;
    }
    cnt[o]++;
    for (int d = x->ndim - 1; d >= 0; d--) {
      idx[d]++;
      o += ostride[d];
      if (idx[d] < x->shape[d]) break;
      o -= ostride[d] * idx[d];
      idx[d] = 0;
    }
  }
  for (int64_t i = 0; i < n_out; i++) {
    double v = acc[i];
    if (op == R_MEAN) v = cnt[i] ? v / (double)cnt[i] : NAN;
    else if (op == R_L2) v = sqrt(v);
    else if (op == R_LOGSUMEXP) v = log(v);
    switch (c->out[0]->dtype) {
      case SF_F32: ((float *)c->out[0]->data)[i] = (float)v; break;
      case SF_F64: ((double *)c->out[0]->data)[i] = v; break;
      case SF_I64: ((int64_t *)c->out[0]->data)[i] = (int64_t)v; break;
      case SF_I32: ((int32_t *)c->out[0]->data)[i] = (int32_t)v; break;
      default: break;
    }
  }
  free(acc);
  free(cnt);
  return SF_OK;
}

#define RED(name, id, spk) {name, "", 1, 2, SF_OPF_SHAPE_NEEDS_DATA, infer_reduce, exec_reduce, "reduction over axes", id, spk}
const sf_op_def sf_ops_reduce[] = {
  RED("ReduceMean", SF_OP_REDUCE_MEAN, SF_SPK_LINEAR), RED("ReduceSum", SF_OP_REDUCE_SUM, SF_SPK_LINEAR), RED("ReduceMax", SF_OP_REDUCE_MAX, SF_SPK_MAX), RED("ReduceMin", SF_OP_REDUCE_MIN, SF_SPK_FLOAT), RED("ReduceProd", SF_OP_REDUCE_PROD, SF_SPK_FLOAT),
  RED("ReduceSumSquare", SF_OP_REDUCE_SUM_SQUARE, SF_SPK_FLOAT), RED("ReduceL1", SF_OP_REDUCE_L1, SF_SPK_FLOAT), RED("ReduceL2", SF_OP_REDUCE_L2, SF_SPK_FLOAT), RED("ReduceLogSumExp", SF_OP_REDUCE_LOG_SUM_EXP, SF_SPK_FLOAT),
  {NULL, NULL, 0, 0, 0, NULL, NULL, NULL, SF_OP_COUNT, SF_SPK_NONE}
};

/* Normalisation and softmax.
 *   LayerNormalization: X [..., D...] normalised over axes >= axis, * Scale + B -> Y [same]
 *   BatchNormalization (inference): X [N, C, ...], scale/B/mean/var [C] -> Y [same]
 *   Softmax / LogSoftmax: X [...] -> Y [same] along axis (opset < 13: over the flattened tail from axis) */
#include <math.h>
#include <string.h>

#include "core/par.h"
#include "core/vmath.h"
#include "ops/ops.h"
#include "ops/row_kernels.h"

static sf_status infer_ln(sf_op_ctx *c) {
  const sf_tensor *x = c->in[0];
  if (x->dtype != SF_F32) return sf_op_fail(c, SF_ERR_UNSUPPORTED, "LayerNormalization on %s (float32 only)", sf_dtype_name(x->dtype));
  int axis;
  sf_status st = sf_norm_axis(c, sf_node_attr_int(c->node, "axis", -1), x->ndim, &axis);
  if (st) return st;
  int64_t inner = sf_shape_numel(x->ndim - axis, x->shape + axis);
  for (int k = 1; k < 3 && k < c->n_in; k++)
    if (c->in[k] && c->in[k]->dtype != SF_F32) return sf_op_fail(c, SF_ERR_UNSUPPORTED, "input %d must be float32", k);
  for (int k = 1; k < 3 && k < c->n_in; k++)
    if (c->in[k]) {
      int64_t n = sf_tensor_numel(c->in[k]);
      if (n != inner && n != 1) return sf_op_fail(c, SF_ERR_SHAPE, "%s has %lld elements, normalised size is %lld",
                                                  k == 1 ? "Scale" : "B", (long long)n, (long long)inner);
    }
  sf_tensor_describe(c->out[0], SF_F32, x->ndim, x->shape);
  int64_t sshape[SF_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++) sshape[i] = i < axis ? x->shape[i] : 1;
  for (int k = 1; k < c->n_out; k++) sf_tensor_describe(c->out[k], SF_F32, x->ndim, sshape);
  return SF_OK;
}

static sf_status exec_ln(sf_op_ctx *c) {
  const sf_tensor *x = c->in[0];
  int axis;
  sf_norm_axis(c, sf_node_attr_int(c->node, "axis", -1), x->ndim, &axis);
  float eps = sf_node_attr_float(c->node, "epsilon", 1e-5f);
  int64_t D = sf_shape_numel(x->ndim - axis, x->shape + axis), rows = sf_tensor_numel(x) / (D ? D : 1);
  const float *X = x->data, *S = c->n_in > 1 && c->in[1] ? c->in[1]->data : NULL;
  const float *B = c->n_in > 2 && c->in[2] ? c->in[2]->data : NULL;
  int sb = S && sf_tensor_numel(c->in[1]) == D, bb = B && sf_tensor_numel(c->in[2]) == D;
  float *Y = c->out[0]->data;
  float *M = c->n_out > 1 && c->out[1] ? c->out[1]->data : NULL;
  float *I = c->n_out > 2 && c->out[2] ? c->out[2]->data : NULL;
  if ((!S || sb) && (!B || bb)) {
    /* per-element (or no) scale and bias: the vectorised rows */
    sf_layernorm_rows(X, Y, rows, D, S, B, eps, M, I);
    return SF_OK;
  }
  SF_PAR_IF(rows * D > 32768, "omp parallel for schedule(static)",
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = X + r * D;
    float *yr = Y + r * D;
    float mean = 0.0f;
    _Pragma("omp simd reduction(+ : mean)")
    for (int64_t i = 0; i < D; i++) mean += xr[i];
    mean /= (float)D;
    float var = 0.0f;
    _Pragma("omp simd reduction(+ : var)")
    for (int64_t i = 0; i < D; i++) { float d = xr[i] - mean; var += d * d; }
    var /= (float)D;
    float inv = 1.0f / sqrtf(var + eps);
    /* a single scale or bias value broadcast over the row */
    for (int64_t i = 0; i < D; i++) {
      float v = (xr[i] - mean) * inv;
      if (S) v *= S[sb ? i : 0];
      if (B) v += B[bb ? i : 0];
      yr[i] = v;
    }
    if (M) M[r] = mean;
    if (I) I[r] = inv;
  });
  return SF_OK;
}

static sf_status infer_bn(sf_op_ctx *c) {
  const sf_tensor *x = c->in[0];
  if (x->dtype != SF_F32) return sf_op_fail(c, SF_ERR_UNSUPPORTED, "BatchNormalization on non-float32 input");
  if (sf_node_attr_int(c->node, "training_mode", 0)) return sf_op_fail(c, SF_ERR_UNSUPPORTED, "training_mode=1 (inference only)");
  if (c->n_out > 1) return sf_op_fail(c, SF_ERR_UNSUPPORTED, "running-statistics outputs (training mode) are not supported");
  if (x->ndim < 2) return sf_op_fail(c, SF_ERR_SHAPE, "input rank %d < 2", x->ndim);
  for (int k = 1; k < 5; k++)
    if (c->in[k]->dtype != SF_F32) return sf_op_fail(c, SF_ERR_UNSUPPORTED, "input %d must be float32", k);
  for (int k = 1; k < 5; k++)
    if (sf_tensor_numel(c->in[k]) != x->shape[1])
      return sf_op_fail(c, SF_ERR_SHAPE, "input %d has %lld elements, expected C=%lld", k, (long long)sf_tensor_numel(c->in[k]), (long long)x->shape[1]);
  sf_tensor_describe(c->out[0], SF_F32, x->ndim, x->shape);
  return SF_OK;
}

static sf_status exec_bn(sf_op_ctx *c) {
  const sf_tensor *x = c->in[0];
  float eps = sf_node_attr_float(c->node, "epsilon", 1e-5f);
  int64_t N = x->shape[0], C = x->shape[1], HW = sf_tensor_numel(x) / ((N * C) > 0 ? (N * C) : 1);
  const float *sc = c->in[1]->data, *bi = c->in[2]->data, *mu = c->in[3]->data, *var = c->in[4]->data;
  const float *X = x->data;
  float *Y = c->out[0]->data;
  for (int64_t n = 0; n < N; n++)
    for (int64_t ch = 0; ch < C; ch++) {
      float a = sc[ch] / sqrtf(var[ch] + eps), b = bi[ch] - mu[ch] * a;
      const float *xp = X + (n * C + ch) * HW;
      float *yp = Y + (n * C + ch) * HW;
      for (int64_t i = 0; i < HW; i++) yp[i] = xp[i] * a + b;
    }
  return SF_OK;
}

static sf_status infer_softmax(sf_op_ctx *c) {
  const sf_tensor *x = c->in[0];
  if (x->dtype != SF_F32) return sf_op_fail(c, SF_ERR_UNSUPPORTED, "%s on non-float32 input", c->node->op_type);
  int axis;
  sf_status st = sf_norm_axis(c, sf_node_attr_int(c->node, "axis", c->opset >= 13 ? -1 : 1), x->ndim ? x->ndim : 1, &axis);
  if (st) return st;
  sf_tensor_describe(c->out[0], SF_F32, x->ndim, x->shape);
  return SF_OK;
}

static sf_status exec_softmax(sf_op_ctx *c) {
  const sf_tensor *x = c->in[0];
  int logsm = !strcmp(c->node->op_type, "LogSoftmax");
  int axis;
  sf_norm_axis(c, sf_node_attr_int(c->node, "axis", c->opset >= 13 ? -1 : 1), x->ndim ? x->ndim : 1, &axis);
  int64_t outer = sf_shape_numel(axis, x->shape), len, inner;
  if (c->opset >= 13) {
    len = x->ndim ? x->shape[axis] : 1;
    inner = sf_shape_numel(x->ndim - axis - 1, x->shape + axis + 1);
  } else {
    len = sf_shape_numel(x->ndim - axis, x->shape + axis);
    inner = 1;
  }
  const float *X = x->data;
  float *Y = c->out[0]->data;
  if (inner == 1 && !logsm && len > 0) {
    sf_softmax_rows(X, Y, outer, len);
    return SF_OK;
  }
  SF_PAR_IF(outer * len * inner > 32768, "omp parallel for schedule(static)",
  for (int64_t o = 0; o < outer * inner; o++) {
    int64_t base = (o / inner) * len * inner + (o % inner);
    float mx = -INFINITY;
    for (int64_t i = 0; i < len; i++) mx = fmaxf(mx, X[base + i * inner]);
    float sum = 0.0f;
    for (int64_t i = 0; i < len; i++) {
      float e = expf(X[base + i * inner] - mx);
      Y[base + i * inner] = e;
      sum += e;
    }
    if (logsm) {
      float ls = logf(sum);
      for (int64_t i = 0; i < len; i++) Y[base + i * inner] = X[base + i * inner] - mx - ls;
    } else {
      float inv = 1.0f / sum;
      for (int64_t i = 0; i < len; i++) Y[base + i * inner] *= inv;
    }
  });
  return SF_OK;
}

const sf_op_def sf_ops_norm[] = {
  {"LayerNormalization", "", 1, 3, 0, infer_ln, exec_ln, "layer normalisation over the trailing axes", SF_OP_LAYER_NORM, SF_SPK_FLOAT},
  {"LayerNormalization", "spikeformer", 1, 3, 0, infer_ln, exec_ln, "layer normalisation fused from its decomposition", SF_OP_LAYER_NORM, SF_SPK_FLOAT},
  {"BatchNormalization", "", 5, 5, SF_OPF_FOLDS_INTO_WEIGHTS, infer_bn, exec_bn, "batch normalisation (inference)", SF_OP_BATCH_NORM, SF_SPK_LINEAR},
  {"Softmax", "", 1, 1, 0, infer_softmax, exec_softmax, "softmax along an axis", SF_OP_SOFTMAX, SF_SPK_FLOAT},
  {"LogSoftmax", "", 1, 1, 0, infer_softmax, exec_softmax, "log-softmax along an axis", SF_OP_LOG_SOFTMAX, SF_SPK_FLOAT},
  {NULL, NULL, 0, 0, 0, NULL, NULL, NULL, SF_OP_COUNT, SF_SPK_NONE}
};

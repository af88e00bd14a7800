/* Pooling.
 *   MaxPool / AveragePool: X [N, C, H, W] (or [N, C, L]) -> [N, C, oH, oW]
 *   GlobalAveragePool / GlobalMaxPool: X [N, C, ...] -> [N, C, 1, ...] */
#include <float.h>
#include <math.h>
#include <string.h>

#include "core/par.h"
#include "ops/conv_geom.h"
#include "ops/ops.h"

static sf_status infer_pool(sf_op_ctx *c) {
  const sf_tensor *x = c->in[0];
  if (x->dtype != SF_F32) return sf_op_fail(c, SF_ERR_UNSUPPORTED, "pooling on %s (float32 only)", sf_dtype_name(x->dtype));
  if (c->n_out > 1) return sf_op_fail(c, SF_ERR_UNSUPPORTED, "MaxPool Indices output is not supported");
  sf_conv_geom g;
  sf_status st = sf_conv_geom_init(c, x, NULL, (int)sf_node_attr_int(c->node, "ceil_mode", 0), &g);
  if (st) return st;
  int64_t shape[4] = {x->shape[0], x->shape[1], g.out[0], g.out[1]};
  if (g.nsp == 1) shape[2] = g.out[1];
  sf_tensor_describe(c->out[0], SF_F32, x->ndim, shape);
  return SF_OK;
}

static sf_status exec_pool(sf_op_ctx *c) {
  const sf_tensor *x = c->in[0];
  sf_conv_geom g;
  sf_status st = sf_conv_geom_init(c, x, NULL, (int)sf_node_attr_int(c->node, "ceil_mode", 0), &g);
  if (st) return st;
  int is_max = !strcmp(c->node->op_type, "MaxPool");
  int include_pad = (int)sf_node_attr_int(c->node, "count_include_pad", 0);
  int64_t planes = x->shape[0] * x->shape[1], H = g.in[0], W = g.in[1], oh = g.out[0], ow = g.out[1];
  const float *X = x->data;
  float *Y = c->out[0]->data;
  SF_PAR_IF(planes * oh * ow > 32768, "omp parallel for schedule(static)",
  for (int64_t p = 0; p < planes; p++) {
    const float *xp = X + p * H * W;
    float *yp = Y + p * oh * ow;
    for (int64_t y = 0; y < oh; y++)
      for (int64_t xo = 0; xo < ow; xo++) {
        float acc = is_max ? -INFINITY : 0.0f;
        int64_t cnt = 0, cnt_pad = 0;
        for (int64_t ki = 0; ki < g.k[0]; ki++) {
          int64_t iy = y * g.s[0] - g.pb[0] + ki * g.d[0];
          for (int64_t kj = 0; kj < g.k[1]; kj++) {
            int64_t ix = xo * g.s[1] - g.pb[1] + kj * g.d[1];
            /* positions inside the padded extent count for count_include_pad */
            if (iy < H + g.pe[0] && ix < W + g.pe[1]) cnt_pad++;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            float v = xp[iy * W + ix];
            if (is_max) { if (v > acc || isnan(v)) acc = v; }
            else acc += v;
            cnt++;
          }
        }
        if (!is_max) acc = acc / (float)((include_pad ? cnt_pad : cnt) ? (include_pad ? cnt_pad : cnt) : 1);
        yp[y * ow + xo] = acc;
      }
  });
  return SF_OK;
}

static sf_status infer_global(sf_op_ctx *c) {
  const sf_tensor *x = c->in[0];
  if (x->ndim < 3) return sf_op_fail(c, SF_ERR_SHAPE, "input rank %d < 3", x->ndim);
  if (x->dtype != SF_F32) return sf_op_fail(c, SF_ERR_UNSUPPORTED, "float32 only");
  int64_t shape[SF_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++) shape[i] = i < 2 ? x->shape[i] : 1;
  sf_tensor_describe(c->out[0], SF_F32, x->ndim, shape);
  return SF_OK;
}

static sf_status exec_global(sf_op_ctx *c) {
  const sf_tensor *x = c->in[0];
  int is_max = !strcmp(c->node->op_type, "GlobalMaxPool");
  int64_t planes = x->shape[0] * x->shape[1], n = sf_tensor_numel(x) / (planes ? planes : 1);
  const float *X = x->data;
  float *Y = c->out[0]->data;
  for (int64_t p = 0; p < planes; p++) {
    double acc = is_max ? -INFINITY : 0.0;
    for (int64_t i = 0; i < n; i++) {
      float v = X[p * n + i];
      if (is_max) acc = v > acc ? v : acc;
      else acc += v;
    }
    Y[p] = (float)(is_max ? acc : acc / (double)n);
  }
  return SF_OK;
}

const sf_op_def sf_ops_pool[] = {
  {"MaxPool", "", 1, 1, 0, infer_pool, exec_pool, "max over windows", SF_OP_MAX_POOL, SF_SPK_MAX},
  {"AveragePool", "", 1, 1, 0, infer_pool, exec_pool, "mean over windows", SF_OP_AVERAGE_POOL, SF_SPK_LINEAR},
  {"GlobalAveragePool", "", 1, 1, 0, infer_global, exec_global, "mean over all spatial positions", SF_OP_GLOBAL_AVERAGE_POOL, SF_SPK_LINEAR},
  {"GlobalMaxPool", "", 1, 1, 0, infer_global, exec_global, "max over all spatial positions", SF_OP_GLOBAL_MAX_POOL, SF_SPK_MAX},
  {NULL, NULL, 0, 0, 0, NULL, NULL, NULL, SF_OP_COUNT, SF_SPK_NONE}
};

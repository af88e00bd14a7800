/* Convolution via im2col + sgemm, one image per thread.
 *   X [N, C, H, W] (or [N, C, L]), W [M, C/group, kH, kW], B [M] -> Y [N, M, oH, oW] */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "ops/conv_geom.h"
#include "ops/ops.h"

static sf_status conv_geom(sf_op_ctx *c, sf_conv_geom *g) {
  const sf_tensor *x = c->in[0], *w = c->in[1];
  if (w->ndim != x->ndim) return sf_op_fail(c, SF_ERR_SHAPE, "weight rank %d differs from input rank %d", w->ndim, x->ndim);
  const int64_t *ks;
  int nk = sf_node_attr_ints(c->node, "kernel_shape", &ks);
  if (nk >= 0) {
    for (int i = 0; i < nk && i < w->ndim - 2; i++)
      if (ks[i] != w->shape[2 + i]) return sf_op_fail(c, SF_ERR_SHAPE, "kernel_shape disagrees with the weight");
  }
  return sf_conv_geom_init(c, x, w->shape + 2, 0, g);
}

static sf_status infer_conv(sf_op_ctx *c) {
  const sf_tensor *x = c->in[0], *w = c->in[1];
  if (x->dtype != SF_F32 || w->dtype != SF_F32) return sf_op_fail(c, SF_ERR_UNSUPPORTED, "Conv on non-float32 input");
  sf_conv_geom g;
  sf_status st = conv_geom(c, &g);
  if (st) return st;
  int64_t group = sf_node_attr_int(c->node, "group", 1);
  if (group < 1 || x->shape[1] % group || w->shape[0] % group || w->shape[1] * group != x->shape[1])
    return sf_op_fail(c, SF_ERR_SHAPE, "channels %lld, weight %lldx%lld and group %lld do not agree",
                      (long long)x->shape[1], (long long)w->shape[0], (long long)w->shape[1], (long long)group);
  if (c->n_in > 2 && c->in[2] && c->in[2]->dtype != SF_F32) return sf_op_fail(c, SF_ERR_UNSUPPORTED, "bias must be float32");
  if (c->n_in > 2 && c->in[2] && sf_tensor_numel(c->in[2]) != w->shape[0])
    return sf_op_fail(c, SF_ERR_SHAPE, "bias has %lld entries, expected %lld", (long long)sf_tensor_numel(c->in[2]), (long long)w->shape[0]);
  int64_t shape[4] = {x->shape[0], w->shape[0], g.out[0], g.out[1]};
  if (g.nsp == 1) shape[2] = g.out[1];
  sf_tensor_describe(c->out[0], SF_F32, x->ndim, shape);
  return SF_OK;
}

/* col [C*kH*kW, oH*oW] from one image x [C, H, W] */
static void im2col(const float *x, int64_t C, const sf_conv_geom *g, float *col) {
  int64_t oh = g->out[0], ow = g->out[1], H = g->in[0], W = g->in[1];
  for (int64_t ch = 0; ch < C; ch++)
    for (int64_t ki = 0; ki < g->k[0]; ki++)
      for (int64_t kj = 0; kj < g->k[1]; kj++) {
        float *row = col + ((ch * g->k[0] + ki) * g->k[1] + kj) * oh * ow;
        for (int64_t y = 0; y < oh; y++) {
          int64_t iy = y * g->s[0] - g->pb[0] + ki * g->d[0];
          if (iy < 0 || iy >= H) { memset(row + y * ow, 0, sizeof(float) * (size_t)ow); continue; }
          const float *xr = x + (ch * H + iy) * W;
          for (int64_t xx = 0; xx < ow; xx++) {
            int64_t ix = xx * g->s[1] - g->pb[1] + kj * g->d[1];
            row[y * ow + xx] = (ix >= 0 && ix < W) ? xr[ix] : 0.0f;
          }
        }
      }
}

static sf_status exec_conv(sf_op_ctx *c) {
  const sf_tensor *x = c->in[0], *w = c->in[1];
  const sf_tensor *b = c->n_in > 2 ? c->in[2] : NULL;
  sf_conv_geom g;
  sf_status st = conv_geom(c, &g);
  if (st) return st;
  int64_t N = x->shape[0], C = x->shape[1], M = w->shape[0], group = sf_node_attr_int(c->node, "group", 1);
  int64_t Cg = C / group, Mg = M / group, kk = g.k[0] * g.k[1], P = g.out[0] * g.out[1];
  int64_t HW = g.in[0] * g.in[1];
  int direct = kk == 1 && g.s[0] == 1 && g.s[1] == 1 && g.pb[0] == 0 && g.pb[1] == 0 && g.pe[0] == 0 && g.pe[1] == 0;
  size_t colsz = (size_t)(Cg * kk * P);
  int failed = 0;
#pragma omp parallel
  {
    float *col = direct ? NULL : malloc(sizeof(float) * (colsz ? colsz : 1));
    if (!direct && !col) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(dynamic)
    for (int64_t job = 0; job < N * group; job++) {
      if (failed) continue;
      int64_t n = job / group, gi = job % group;
      const float *xi = (const float *)x->data + (n * C + gi * Cg) * HW;
      float *yo = (float *)c->out[0]->data + (n * M + gi * Mg) * P;
      const float *src = xi;
      if (!direct) { im2col(xi, Cg, &g, col); src = col; }
      float beta = 0.0f;
      if (b) {
        for (int64_t m = 0; m < Mg; m++) {
          float bv = ((const float *)b->data)[gi * Mg + m];
          for (int64_t p = 0; p < P; p++) yo[m * P + p] = bv;
        }
        beta = 1.0f;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Mg, (int)P, (int)(Cg * kk), 1.0f,
                  (const float *)w->data + gi * Mg * Cg * kk, (int)(Cg * kk), src, (int)P, beta, yo, (int)P);
    }
    free(col);
  }
  if (failed) return sf_op_fail(c, SF_ERR_NOMEM, "out of memory for im2col buffer");
  return SF_OK;
}

const sf_op_def sf_ops_conv[] = {
  {"Conv", "", 2, 3, 0, infer_conv, exec_conv, "convolution (1-D/2-D, groups, dilations, pads)", SF_OP_CONV, SF_SPK_WEIGHTED},
  {NULL, NULL, 0, 0, 0, NULL, NULL, NULL, SF_OP_COUNT, SF_SPK_NONE}
};

/* Fused scaled dot-product attention (domain "spikeformer"), recognised from
 * MatMul -> [Div|Mul by scale] -> [Add mask] -> Softmax -> MatMul.
 *   Q [..., Sq, d], Kt [..., d, Sk] (keys already transposed), V [..., Sk, dv], mask (additive,
 *   broadcastable to [..., Sq, Sk]) -> Y [..., Sq, dv];  Y = softmax(Q Kt * scale + mask) V
 * One (batch, head) slice per thread. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/vmath.h"
#include "ops/broadcast.h"
#include "ops/ops.h"
#include "ops/small_gemm.h"

static sf_status infer_attention(sf_op_ctx *c) {
  const sf_tensor *q = c->in[0], *kt = c->in[1], *v = c->in[2];
  int r = q->ndim;
  if (r < 2 || kt->ndim != r || v->ndim != r) return sf_op_fail(c, SF_ERR_SHAPE, "Q, Kt, V must share rank >= 2");
  for (int k = 0; k < c->n_in; k++)
    if (c->in[k] && c->in[k]->dtype != SF_F32) return sf_op_fail(c, SF_ERR_UNSUPPORTED, "input %d must be float32", k);
  if (c->n_in > 3 && c->in[3]) {
    int64_t ps[SF_MAX_DIMS], o[SF_MAX_DIMS];
    int no;
    memcpy(ps, q->shape, sizeof(int64_t) * (size_t)r);
    ps[r - 1] = kt->shape[r - 1];
    sf_status st = sf_broadcast_shape(c, r, ps, c->in[3]->ndim, c->in[3]->shape, &no, o);
    if (st) return st;
    for (int i = 0; i < no; i++) if (no != r || o[i] != ps[i]) return sf_op_fail(c, SF_ERR_SHAPE, "mask does not broadcast to the scores");
  }
  for (int i = 0; i < r - 2; i++)
    if (q->shape[i] != kt->shape[i] || q->shape[i] != v->shape[i]) return sf_op_fail(c, SF_ERR_SHAPE, "batch dims differ");
  int64_t Sq = q->shape[r - 2], d = q->shape[r - 1], Sk = kt->shape[r - 1], dv = v->shape[r - 1];
  if (kt->shape[r - 2] != d || v->shape[r - 2] != Sk) return sf_op_fail(c, SF_ERR_SHAPE, "Q/Kt/V inner dims disagree");
  int64_t shape[SF_MAX_DIMS];
  memcpy(shape, q->shape, sizeof(int64_t) * (size_t)r);
  shape[r - 1] = dv;
  (void)Sq;
  sf_tensor_describe(c->out[0], SF_F32, r, shape);
  if (c->n_out > 1) { /* optional: attention probabilities [..., Sq, Sk] */
    shape[r - 1] = Sk;
    sf_tensor_describe(c->out[1], SF_F32, r, shape);
  }
  return SF_OK;
}

static sf_status exec_attention(sf_op_ctx *c) {
  const sf_tensor *q = c->in[0], *kt = c->in[1], *v = c->in[2];
  const sf_tensor *mask = c->n_in > 3 ? c->in[3] : NULL;
  int r = q->ndim;
  int64_t Sq = q->shape[r - 2], d = q->shape[r - 1], Sk = kt->shape[r - 1], dv = v->shape[r - 1];
  int64_t nb = sf_shape_numel(r - 2, q->shape);
  float scale = sf_node_attr_float(c->node, "scale", 1.0f);
  /* mask offsets per batch slice, via a broadcast plan over [..., Sq, Sk] */
  int64_t pshape[SF_MAX_DIMS];
  memcpy(pshape, q->shape, sizeof(int64_t) * (size_t)r);
  pshape[r - 1] = Sk;
  sf_tensor mview = {0};
  sf_bcast bp;
  const float *M = NULL;
  int64_t ms_row = 0, ms_col = 0;
  if (mask) {
    if (mask->dtype != SF_F32) return sf_op_fail(c, SF_ERR_UNSUPPORTED, "mask must be float32");
    mview = *mask;
    const sf_tensor *ops[1] = {&mview};
    /* strides of the mask over the full score shape */
    int off = r - mask->ndim;
    if (off < 0) return sf_op_fail(c, SF_ERR_SHAPE, "mask rank above scores rank");
    (void)bp; (void)ops;
    M = mask->data;
    ms_col = (mask->ndim >= 1 && mask->shape[mask->ndim - 1] != 1) ? 1 : 0;
    ms_row = (mask->ndim >= 2 && mask->shape[mask->ndim - 2] != 1) ? (ms_col ? mask->shape[mask->ndim - 1] : 1) : 0;
  }
  float *probs_out = c->n_out > 1 ? c->out[1]->data : NULL;
  int failed = 0;
#pragma omp parallel
  {
    float *S = malloc(sizeof(float) * (size_t)(Sq * Sk));
    if (!S) failed = 1;
#pragma omp for schedule(static)
    for (int64_t b = 0; b < nb; b++) {
      if (!S) continue;
      const float *Q = (const float *)q->data + b * Sq * d;
      const float *K = (const float *)kt->data + b * d * Sk;
      const float *V = (const float *)v->data + b * Sk * dv;
      float *Y = (float *)c->out[0]->data + b * Sq * dv;
      if (sf_small_gemm_fits(Sq, Sk, d)) sf_small_gemm(Sq, Sk, d, scale, Q, K, S);
      else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Sq, (int)Sk, (int)d, scale, Q, (int)d, K, (int)Sk, 0.0f, S, (int)Sk);
      const float *Mb = NULL;
      if (M) {
        /* batch offset of the mask: broadcast leading dims */
        int64_t moff = 0, rem = b, stride = 1;
        int mr = mask->ndim;
        int64_t mstr[SF_MAX_DIMS];
        for (int i = mr - 1; i >= 0; i--) { mstr[i] = stride; stride *= mask->shape[i]; }
        for (int i = r - 3; i >= 0; i--) {
          int64_t idx = rem % q->shape[i];
          rem /= q->shape[i];
          int mi = i - (r - mr);
          if (mi >= 0 && mask->shape[mi] != 1) moff += idx * mstr[mi];
        }
        Mb = M + moff;
      }
      for (int64_t i = 0; i < Sq; i++) {
        float *row = S + i * Sk;
        if (Mb) for (int64_t j = 0; j < Sk; j++) row[j] += Mb[i * ms_row + j * ms_col];
        float mx = -INFINITY;
        for (int64_t j = 0; j < Sk; j++) mx = fmaxf(mx, row[j]);
        float sum = 0.0f;
        for (int64_t j = 0; j < Sk; j++) row[j] -= mx;
        sf_vexp(row, row, Sk);
        for (int64_t j = 0; j < Sk; j++) sum += row[j];
        float inv = 1.0f / sum;
        for (int64_t j = 0; j < Sk; j++) row[j] *= inv;
      }
      if (probs_out) memcpy(probs_out + b * Sq * Sk, S, sizeof(float) * (size_t)(Sq * Sk));
      if (sf_small_gemm_fits(Sq, dv, Sk)) sf_small_gemm(Sq, dv, Sk, 1.0f, S, V, Y);
      else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Sq, (int)dv, (int)Sk, 1.0f, S, (int)Sk, V, (int)dv, 0.0f, Y, (int)dv);
    }
    free(S);
  }
  if (failed) return sf_op_fail(c, SF_ERR_NOMEM, "out of memory");
  return SF_OK;
}

const sf_op_def sf_ops_attention[] = {
  {"Attention", "spikeformer", 3, 4, 0, infer_attention, exec_attention,
   "softmax(Q Kt * scale + mask) V, fused from MatMul/Softmax/MatMul", SF_OP_ATTENTION, SF_SPK_ATTENTION},
  {NULL, NULL, 0, 0, 0, NULL, NULL, NULL, SF_OP_COUNT, SF_SPK_NONE}
};

/* Matrix products (OpenBLAS sgemm).
 *   MatMul: A [..., M, K] x B [..., K, N] -> [..., M, N]  (numpy semantics, batch broadcast, 1-D promotion)
 *   Gemm:   A [M, K] (or transposed) x B [K, N] (or transposed) * alpha + C * beta -> [M, N]
 *   Linear (spikeformer): X [..., K] x W [K, N] + b [N] -> [..., N]  (fused MatMul + Add) */
#include <cblas.h>
#include <string.h>

#include "core/par.h"
#include "ops/broadcast.h"
#include "ops/ops.h"
#include "ops/small_gemm.h"

static sf_status infer_matmul(sf_op_ctx *c) {
  const sf_tensor *a = c->in[0], *b = c->in[1];
  if (a->ndim < 1 || b->ndim < 1) return sf_op_fail(c, SF_ERR_SHAPE, "MatMul inputs must have rank >= 1");
  if (a->dtype != SF_F32 || b->dtype != SF_F32)
    return sf_op_fail(c, SF_ERR_UNSUPPORTED, "MatMul on %s/%s (float32 only)", sf_dtype_name(a->dtype), sf_dtype_name(b->dtype));
  int64_t K = a->shape[a->ndim - 1];
  int64_t Kb = b->ndim == 1 ? b->shape[0] : b->shape[b->ndim - 2];
  if (K != Kb) {
    char sa[96], sb[96];
    return sf_op_fail(c, SF_ERR_SHAPE, "inner dimensions differ: %s x %s", sf_shape_str(a->ndim, a->shape, sa, sizeof sa),
                      sf_shape_str(b->ndim, b->shape, sb, sizeof sb));
  }
  int64_t batch[SF_MAX_DIMS];
  int nb = 0;
  int na_b = a->ndim > 2 ? a->ndim - 2 : 0, nb_b = b->ndim > 2 ? b->ndim - 2 : 0;
  sf_status st = sf_broadcast_shape(c, na_b, a->shape, nb_b, b->shape, &nb, batch);
  if (st) return st;
  int64_t shape[SF_MAX_DIMS];
  int nd = 0;
  for (int i = 0; i < nb; i++) shape[nd++] = batch[i];
  if (a->ndim >= 2) shape[nd++] = a->shape[a->ndim - 2];
  if (b->ndim >= 2) shape[nd++] = b->shape[b->ndim - 1];
  sf_tensor_describe(c->out[0], SF_F32, nd, shape);
  return SF_OK;
}

static sf_status exec_matmul(sf_op_ctx *c) {
  const sf_tensor *a = c->in[0], *b = c->in[1];
  int64_t K = a->shape[a->ndim - 1];
  int64_t M = a->ndim >= 2 ? a->shape[a->ndim - 2] : 1;
  int64_t N = b->ndim >= 2 ? b->shape[b->ndim - 1] : 1;
  const float *A = a->data, *B = b->data;
  float *Y = c->out[0]->data;
  if (b->ndim <= 2) {
    /* One product: batch folded into rows. */
    int64_t rows = sf_tensor_numel(a) / (K ? K : 1);
    if (rows && N)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)N, (int)K, 1.0f, A, (int)K, B, (int)N,
                  0.0f, Y, (int)N);
    if (K == 0) memset(Y, 0, sf_tensor_nbytes(c->out[0]));
    return SF_OK;
  }
  /* Batched: broadcast batch dims. Describe batch-only views to reuse the broadcaster. */
  sf_tensor va = {0}, vb = {0}, vy = {0};
  int na_b = a->ndim > 2 ? a->ndim - 2 : 0, nb_b = b->ndim - 2;
  int ny_b = c->out[0]->ndim - (a->ndim >= 2) - 1;
  sf_tensor_describe(&va, SF_F32, na_b, a->shape);
  sf_tensor_describe(&vb, SF_F32, nb_b, b->shape);
  sf_tensor_describe(&vy, SF_F32, ny_b, c->out[0]->shape);
  const sf_tensor *ops[3] = {&vy, &va, &vb};
  sf_bcast bp;
  sf_bcast_init(&bp, ny_b, c->out[0]->shape, 3, ops);
  int64_t nbatch = bp.outer * bp.shape[bp.nd - 1];
  int64_t inner = bp.shape[bp.nd - 1];
  const int small = sf_small_gemm_fits(M, N, K); /* per-head attention products: no BLAS call per matrix */
  SF_PAR_IF(nbatch > 1, "omp parallel for schedule(static)",
  for (int64_t i = 0; i < nbatch; i++) {
    int64_t off[3];
    sf_bcast_offsets(&bp, i / inner, off);
    int64_t j = i % inner;
    int64_t ia = off[1] + j * bp.stride[1][bp.nd - 1], ib = off[2] + j * bp.stride[2][bp.nd - 1];
    int64_t iy = off[0] + j * bp.stride[0][bp.nd - 1];
    if (small) sf_small_gemm(M, N, K, 1.0f, A + ia * M * K, B + ib * K * N, Y + iy * M * N);
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.0f, A + ia * M * K, (int)K,
                  B + ib * K * N, (int)N, 0.0f, Y + iy * M * N, (int)N);
  });
  return SF_OK;
}

static sf_status infer_gemm(sf_op_ctx *c) {
  const sf_tensor *a = c->in[0], *b = c->in[1];
  if (a->ndim != 2 || b->ndim != 2) return sf_op_fail(c, SF_ERR_SHAPE, "Gemm needs 2-D A and B (got rank %d and %d)", a->ndim, b->ndim);
  if (a->dtype != SF_F32 || b->dtype != SF_F32) return sf_op_fail(c, SF_ERR_UNSUPPORTED, "Gemm on non-float32 inputs");
  int ta = (int)sf_node_attr_int(c->node, "transA", 0), tb = (int)sf_node_attr_int(c->node, "transB", 0);
  int64_t M = ta ? a->shape[1] : a->shape[0], K = ta ? a->shape[0] : a->shape[1];
  int64_t Kb = tb ? b->shape[1] : b->shape[0], N = tb ? b->shape[0] : b->shape[1];
  if (K != Kb) return sf_op_fail(c, SF_ERR_SHAPE, "inner dimensions differ (%lld vs %lld)", (long long)K, (long long)Kb);
  int64_t shape[2] = {M, N};
  if (c->n_in > 2 && c->in[2]) {
    int nd;
    int64_t tmp[SF_MAX_DIMS];
    sf_status st = sf_broadcast_shape(c, 2, shape, c->in[2]->ndim, c->in[2]->shape, &nd, tmp);
    if (st) return st;
    if (nd != 2 || tmp[0] != M || tmp[1] != N) return sf_op_fail(c, SF_ERR_SHAPE, "C does not broadcast to [M, N]");
  }
  sf_tensor_describe(c->out[0], SF_F32, 2, shape);
  return SF_OK;
}

/* Fill Y [rows, N] with C broadcast (C of rank <= 2). */
static void fill_bias(float *Y, int64_t rows, int64_t N, const sf_tensor *C, float beta) {
  const float *cv = C->data;
  int64_t cr = C->ndim == 2 ? C->shape[0] : 1, cc = C->ndim >= 1 ? C->shape[C->ndim - 1] : 1;
  for (int64_t i = 0; i < rows; i++)
    for (int64_t j = 0; j < N; j++) Y[i * N + j] = beta * cv[(cr == 1 ? 0 : i) * cc + (cc == 1 ? 0 : j)];
}

static sf_status exec_gemm(sf_op_ctx *c) {
  const sf_tensor *a = c->in[0], *b = c->in[1];
  int ta = (int)sf_node_attr_int(c->node, "transA", 0), tb = (int)sf_node_attr_int(c->node, "transB", 0);
  float alpha = sf_node_attr_float(c->node, "alpha", 1.0f), beta = sf_node_attr_float(c->node, "beta", 1.0f);
  int64_t M = c->out[0]->shape[0], N = c->out[0]->shape[1], K = ta ? a->shape[0] : a->shape[1];
  float *Y = c->out[0]->data;
  float bb = 0.0f;
  if (c->n_in > 2 && c->in[2] && beta != 0.0f) {
    if (c->in[2]->dtype != SF_F32) return sf_op_fail(c, SF_ERR_UNSUPPORTED, "Gemm C must be float32");
    fill_bias(Y, M, N, c->in[2], beta);
    bb = 1.0f;
  }
  if (M && N && K)
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K,
                alpha, a->data, (int)a->shape[1], b->data, (int)b->shape[1], bb, Y, (int)N);
  else if (bb == 0.0f)
    memset(Y, 0, sf_tensor_nbytes(c->out[0]));
  return SF_OK;
}

static sf_status infer_linear(sf_op_ctx *c) {
  const sf_tensor *x = c->in[0], *w = c->in[1];
  if (w->ndim != 2 || x->ndim < 1 || x->shape[x->ndim - 1] != w->shape[0])
    return sf_op_fail(c, SF_ERR_SHAPE, "Linear: X last dim must equal W rows");
  for (int k = 0; k < c->n_in; k++)
    if (c->in[k] && c->in[k]->dtype != SF_F32) return sf_op_fail(c, SF_ERR_UNSUPPORTED, "input %d must be float32", k);
  if (c->n_in > 2 && c->in[2] && sf_tensor_numel(c->in[2]) != w->shape[1]) return sf_op_fail(c, SF_ERR_SHAPE, "bias length differs from W columns");
  int64_t shape[SF_MAX_DIMS];
  memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
  shape[x->ndim - 1] = w->shape[1];
  sf_tensor_describe(c->out[0], SF_F32, x->ndim, shape);
  return SF_OK;
}

static sf_status exec_linear(sf_op_ctx *c) {
  const sf_tensor *x = c->in[0], *w = c->in[1];
  int64_t K = w->shape[0], N = w->shape[1], rows = sf_tensor_numel(x) / (K ? K : 1);
  float *Y = c->out[0]->data;
  float beta = 0.0f;
  if (c->n_in > 2 && c->in[2]) {
    const float *b = c->in[2]->data;
    for (int64_t i = 0; i < rows; i++) memcpy(Y + i * N, b, sizeof(float) * (size_t)N);
    beta = 1.0f;
  }
  if (rows && N && K)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)N, (int)K, 1.0f, x->data, (int)K, w->data,
                (int)N, beta, Y, (int)N);
  else if (beta == 0.0f)
    memset(Y, 0, sf_tensor_nbytes(c->out[0]));
  return SF_OK;
}

const sf_op_def sf_ops_matmul[] = {
  {"MatMul", "", 2, 2, 0, infer_matmul, exec_matmul, "matrix product (numpy semantics)", SF_OP_MATMUL, SF_SPK_WEIGHTED},
  {"Gemm", "", 2, 3, 0, infer_gemm, exec_gemm, "alpha*A*B + beta*C", SF_OP_GEMM, SF_SPK_WEIGHTED},
  {"Linear", "spikeformer", 2, 3, 0, infer_linear, exec_linear, "X*W + b (fused MatMul + Add)", SF_OP_LINEAR, SF_SPK_WEIGHTED},
  {NULL, NULL, 0, 0, 0, NULL, NULL, NULL, SF_OP_COUNT, SF_SPK_NONE}
};

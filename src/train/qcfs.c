/* The chain's ANN with QCFS activations (qcfs.h): forward and backward side by side. */
#include "train/qcfs.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/ann_ops.h"
#include "train/train_kernels.h"

void qcfs_free(qcfs_ann *a) {
  for (int l = 0; l <= SNN_NET_MAX_LAYERS; l++) free(a->z[l]);
  for (int l = 0; l < SNN_NET_MAX_LAYERS; l++) free(a->h[l]);
  free(a->dz);
  free(a->dh);
  memset(a, 0, sizeof *a);
}

static sf_status reserve(qcfs_ann *a, const snn_net *net, int64_t B) {
  if (B <= a->cap) return SF_OK;
  int64_t wmax = 0;
  for (int l = 0; l <= net->L; l++) wmax = net->n[l] > wmax ? net->n[l] : wmax;
  for (int l = 1; l <= net->L; l++) {
    free(a->z[l]);
    if (!(a->z[l] = malloc(sizeof(float) * (size_t)(B * net->n[l])))) return sf_error(SF_ERR_NOMEM, "out of memory");
    if (l < net->L) {
      free(a->h[l]);
      if (!(a->h[l] = malloc(sizeof(float) * (size_t)(B * net->n[l])))) return sf_error(SF_ERR_NOMEM, "out of memory");
    }
  }
  free(a->dz);
  free(a->dh);
  if (!(a->dz = malloc(sizeof(float) * (size_t)(B * wmax))) || !(a->dh = malloc(sizeof(float) * (size_t)(B * wmax)))) return sf_error(SF_ERR_NOMEM, "out of memory");
  a->cap = B;
  return SF_OK;
}

/* Y [B, N] = X [B, K] W [K, N] + b [N] */
static void affine(const float *X, int64_t B, int64_t K, const float *W, const float *b, int64_t N, float *Y) {
  for (int64_t r = 0; r < B; r++) memcpy(Y + r * N, b, sizeof(float) * (size_t)N);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)N, (int)K, 1.0f, X, (int)K, W, (int)N, 1.0f, Y, (int)N);
}

sf_status qcfs_forward(qcfs_ann *a, const snn_net *net, const float *x, int64_t B, int levels) {
  sf_status st = reserve(a, net, B);
  if (st) return st;
  a->B = B;
  a->levels = levels;
  const int L = net->L;
  const float *h = x;
  for (int l = 0; l < L; l++) {
    affine(h, B, net->n[l], net->W[l], net->b[l], net->n[l + 1], a->z[l + 1]);
    if (l + 1 < L) {
      ann_qcfs_forward(a->h[l + 1], a->z[l + 1], net->theta[l + 1], B, net->n[l + 1], levels, 0);
      h = a->h[l + 1];
    }
  }
  return SF_OK;
}

void qcfs_backward(qcfs_ann *a, snn_net *net, const float *x, const float *dlogits, int train_lambda) {
  const int L = net->L;
  const int64_t B = a->B;
  memcpy(a->dz, dlogits, sizeof(float) * (size_t)(B * net->n[L]));
  for (int l = L - 1; l >= 0; l--) {
    const int64_t K = net->n[l], N = net->n[l + 1];
    const float *hin = l > 0 ? a->h[l] : x;
    /* dW [K, N] += h^T dz, db += colsum(dz) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)N, (int)B, 1.0f, hin, (int)K, a->dz, (int)N, 1.0f, net->dW[l], (int)N);
    tk_column_sums(a->dz, B, N, net->db[l]);
    if (l == 0) break;
    /* dh [B, K] = dz W^T, then through the activation */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)K, (int)N, 1.0f, a->dz, (int)N, net->W[l], (int)N, 0.0f, a->dh, (int)K);
    memset(a->dz, 0, sizeof(float) * (size_t)(B * K));
    ann_qcfs_backward(a->dz, train_lambda ? net->dtheta[l] : NULL, a->dh, a->z[l], net->theta[l], B, K, a->levels, 0);
  }
}

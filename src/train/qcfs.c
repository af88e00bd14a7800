/* The chain's ANN with QCFS activations (qcfs.h): forward and backward side by side. */
#include "train/qcfs.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* qcfs_act_forward: h [B, n] = lambda clip(floor(z L / lambda + 1/2) / L, 0, 1) */
static void qcfs_act_forward(const float *z, int64_t B, int64_t n, const float *lambda, int L, float *h) {
  for (int64_t r = 0; r < B; r++)
    for (int64_t j = 0; j < n; j++) {
      const float lam = lambda[j], q = floorf(z[r * n + j] * (float)L / lam + 0.5f) / (float)L;
      h[r * n + j] = lam * (q < 0.0f ? 0.0f : q > 1.0f ? 1.0f : q);
    }
}

/* qcfs_act_backward: dz [B, n] from dh; dlambda [n] += the lambda part (qcfs.h) */
static void qcfs_act_backward(const float *z, const float *dh, int64_t B, int64_t n, const float *lambda, int L, float *dz, float *dlambda) {
  for (int64_t r = 0; r < B; r++)
    for (int64_t j = 0; j < n; j++) {
      const float lam = lambda[j], zz = z[r * n + j], q = floorf(zz * (float)L / lam + 0.5f) / (float)L, g = dh[r * n + j];
      if (q < 0.0f) {
        dz[r * n + j] = 0.0f;
      } else if (q > 1.0f) {
        dz[r * n + j] = 0.0f;
        if (dlambda) dlambda[j] += g;
      } else {
        dz[r * n + j] = g;
        if (dlambda) dlambda[j] += g * (q - zz / lam);
      }
    }
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
      qcfs_act_forward(a->z[l + 1], B, net->n[l + 1], net->theta[l + 1], levels, a->h[l + 1]);
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
    qcfs_act_backward(a->z[l], a->dh, B, K, net->theta[l], a->levels, a->dz, train_lambda ? net->dtheta[l] : NULL);
  }
}

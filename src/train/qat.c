/* Quantisation-aware training for the int8 runtime (qat.h). */
#include "train/qat.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

sf_status qat_init(qat *q, const snn_net *net) {
  memset(q, 0, sizeof *q);
  q->L = net->L;
  for (int l = 0; l < net->L; l++) {
    q->mW[l] = net->W[l];
    q->mb[l] = net->b[l];
    if (!(q->W[l] = malloc(sizeof(float) * (size_t)(net->n[l] * net->n[l + 1]))) || !(q->b[l] = malloc(sizeof(float) * (size_t)net->n[l + 1])))
      return sf_error(SF_ERR_NOMEM, "out of memory");
    if (l > 0) {
      q->mtheta[l] = net->theta[l];
      if (!(q->theta[l] = malloc(sizeof(float) * (size_t)net->n[l]))) return sf_error(SF_ERR_NOMEM, "out of memory");
    }
  }
  return SF_OK;
}

void qat_free(qat *q) {
  for (int l = 0; l < q->L; l++) {
    free(q->W[l]);
    free(q->b[l]);
    free(q->theta[l]);
  }
  memset(q, 0, sizeof *q);
}

/* rint to int8 codes, as lrintf and the clamp of quantise_weights */
static float code8(float v) {
  const float r = rintf(v);
  return r > 127.0f ? 127.0f : r < -127.0f ? -127.0f : r;
}

void qat_apply(qat *q, snn_net *net) {
  const int L = q->L;
  for (int l = 0; l < L; l++) {
    const int64_t K = net->n[l], N = net->n[l + 1];
    const float *W = q->mW[l], *th_in = l > 0 ? q->mtheta[l] : NULL;
    float *Wq = q->W[l];
    for (int64_t c = 0; c < N; c++) {
      float mx = 0;
      for (int64_t k = 0; k < K; k++) {
        const float v = fabsf(th_in ? W[k * N + c] * th_in[k] : W[k * N + c]);
        mx = v > mx ? v : mx;
      }
      const float s = mx > 0 ? mx / 127.0f : 1.0f;
      for (int64_t k = 0; k < K; k++) {
        const float v = th_in ? W[k * N + c] * th_in[k] : W[k * N + c];
        Wq[k * N + c] = th_in ? s * code8(v / s) / th_in[k] : s * code8(v / s);
      }
      /* a spike-fed layer's bias and the thresholds of the neurons it feeds, in its units */
      const float b = q->mb[l][c];
      q->b[l][c] = l > 0 ? s * rintf(b / s) : b;
      if (l > 0 && l + 1 < L) {
        const float u = rintf(q->mtheta[l + 1][c] / s);
        q->theta[l + 1][c] = s * (u < 1.0f ? 1.0f : u);
      }
    }
    net->W[l] = Wq;
    net->b[l] = q->b[l];
  }
  /* the first neurons take the analog layer's float currents: their thresholds stay */
  if (L > 1) memcpy(q->theta[1], q->mtheta[1], sizeof(float) * (size_t)net->n[1]);
  for (int l = 1; l < L; l++) net->theta[l] = q->theta[l];
}

void qat_restore(const qat *q, snn_net *net) {
  for (int l = 0; l < q->L; l++) {
    net->W[l] = q->mW[l];
    net->b[l] = q->mb[l];
    if (l > 0) net->theta[l] = q->mtheta[l];
  }
}

void qat_inputs(float *x, int64_t B, int64_t n) {
  for (int64_t b = 0; b < B; b++) {
    float *r = x + b * n, mn = 0, mx = 0;
    for (int64_t k = 0; k < n; k++) {
      mn = r[k] < mn ? r[k] : mn;
      mx = r[k] > mx ? r[k] : mx;
    }
    const int u8 = mn >= 0;
    const float amax = u8 ? mx : (mx > -mn ? mx : -mn), sc = amax > 0 ? amax / (u8 ? 255.0f : 127.0f) : 1.0f, inv = 1.0f / sc;
    const float lo = u8 ? 0.0f : -127.0f, hi = u8 ? 255.0f : 127.0f;
    for (int64_t k = 0; k < n; k++) {
      float c = floorf(r[k] * inv + 0.5f);
      c = c < lo ? lo : c > hi ? hi : c;
      r[k] = c * sc;
    }
  }
}

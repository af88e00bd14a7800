/* The transformer's ops as forward / backward pairs (ann_ops.h). */
#include "train/ann_ops.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "core/par.h"

/* ---- Linear ---- */

void ann_linear_forward(float *out, const float *inp, const float *W, const float *b, int64_t N, int64_t C, int64_t OC) {
  for (int64_t r = 0; r < N; r++) {
    if (b) memcpy(out + r * OC, b, sizeof(float) * (size_t)OC);
    else memset(out + r * OC, 0, sizeof(float) * (size_t)OC);
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)OC, (int)C, 1.0f, inp, (int)C, W, (int)OC, 1.0f, out, (int)OC);
}

void ann_linear_backward(float *dinp, float *dW, float *db, const float *dout, const float *inp, const float *W, int64_t N, int64_t C, int64_t OC) {
  if (dinp) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)C, (int)OC, 1.0f, dout, (int)OC, W, (int)OC, 1.0f, dinp, (int)C);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)C, (int)OC, (int)N, 1.0f, inp, (int)C, dout, (int)OC, 1.0f, dW, (int)OC);
  if (db)
    for (int64_t r = 0; r < N; r++)
      for (int64_t o = 0; o < OC; o++) db[o] += dout[r * OC + o];
}

/* ---- LayerNorm ---- */

void ann_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b, int64_t N, int64_t C, float eps) {
  SF_PAR_IF(N * C > 32768, "omp parallel for schedule(static)",
  for (int64_t r = 0; r < N; r++) {
    const float *x = inp + r * C;
    double m = 0, v = 0;
    for (int64_t c = 0; c < C; c++) m += x[c];
    m /= (double)C;
    for (int64_t c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
    v /= (double)C;
    const float s = (float)(1.0 / sqrt(v + (double)eps));
    for (int64_t c = 0; c < C; c++) out[r * C + c] = ((x[c] - (float)m) * s) * w[c] + b[c];
    mean[r] = (float)m;
    rstd[r] = s;
  });
}

void ann_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w, const float *mean, const float *rstd,
                            int64_t N, int64_t C) {
  /* the input's gradient row by row */
  SF_PAR_IF(N * C > 32768, "omp parallel for schedule(static)",
  for (int64_t r = 0; r < N; r++) {
    const float *x = inp + r * C, *dy = dout + r * C;
    const float m = mean[r], s = rstd[r];
    /* the two row means the input gradient needs: of dxhat and of dxhat xhat */
    double a = 0, bb = 0;
    for (int64_t c = 0; c < C; c++) {
      const float xhat = (x[c] - m) * s, dxhat = dy[c] * w[c];
      a += dxhat;
      bb += dxhat * xhat;
    }
    const float ma = (float)(a / (double)C), mb = (float)(bb / (double)C);
    for (int64_t c = 0; c < C; c++) {
      const float xhat = (x[c] - m) * s, dxhat = dy[c] * w[c];
      dinp[r * C + c] += s * (dxhat - ma - xhat * mb);
    }
  });
  /* the parameters' gradients column block by column block, rows in order */
  SF_PAR_IF(N * C > 32768 && C >= 32, "omp parallel for schedule(static)",
  for (int64_t c0 = 0; c0 < C; c0 += 16) {
    const int64_t c1 = c0 + 16 < C ? c0 + 16 : C;
    for (int64_t r = 0; r < N; r++) {
      const float *x = inp + r * C, *dy = dout + r * C;
      const float m = mean[r], s = rstd[r];
      for (int64_t c = c0; c < c1; c++) {
        db[c] += dy[c];
        dw[c] += dy[c] * ((x[c] - m) * s);
      }
    }
  });
}

/* ---- GELU ---- */

#define SQRT_HALF 0.70710678118654752440f
#define INV_SQRT_2PI 0.39894228040143267794f
#define SQRT_2_OVER_PI 0.79788456080286535588f
#define GELU_C 0.044715f

void ann_gelu_forward(float *out, const float *inp, int64_t n) {
  SF_PAR_IF(n > 32768, "omp parallel for schedule(static)",
  for (int64_t i = 0; i < n; i++) out[i] = 0.5f * inp[i] * (1.0f + erff(inp[i] * SQRT_HALF)););
}

void ann_gelu_backward(float *dinp, const float *dout, const float *inp, int64_t n) {
  SF_PAR_IF(n > 32768, "omp parallel for schedule(static)",
  for (int64_t i = 0; i < n; i++) {
    const float x = inp[i], cdf = 0.5f * (1.0f + erff(x * SQRT_HALF)), pdf = INV_SQRT_2PI * expf(-0.5f * x * x);
    dinp[i] += dout[i] * (cdf + x * pdf);
  });
}

void ann_gelu_tanh_forward(float *out, const float *inp, int64_t n) {
  SF_PAR_IF(n > 32768, "omp parallel for schedule(static)",
  for (int64_t i = 0; i < n; i++) {
    const float x = inp[i];
    out[i] = 0.5f * x * (1.0f + tanhf(SQRT_2_OVER_PI * (x + GELU_C * x * x * x)));
  });
}

void ann_gelu_tanh_backward(float *dinp, const float *dout, const float *inp, int64_t n) {
  SF_PAR_IF(n > 32768, "omp parallel for schedule(static)",
  for (int64_t i = 0; i < n; i++) {
    const float x = inp[i], t = tanhf(SQRT_2_OVER_PI * (x + GELU_C * x * x * x));
    const float d = 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * SQRT_2_OVER_PI * (1.0f + 3.0f * GELU_C * x * x);
    dinp[i] += dout[i] * d;
  });
}

/* ---- softmax ---- */

void ann_softmax_forward(float *p, const float *inp, int64_t N, int64_t C) {
  for (int64_t r = 0; r < N; r++) {
    const float *x = inp + r * C;
    float mx = x[0];
    for (int64_t c = 1; c < C; c++) mx = x[c] > mx ? x[c] : mx;
    double sum = 0;
    for (int64_t c = 0; c < C; c++) {
      p[r * C + c] = expf(x[c] - mx);
      sum += p[r * C + c];
    }
    const float inv = (float)(1.0 / sum);
    for (int64_t c = 0; c < C; c++) p[r * C + c] *= inv;
  }
}

void ann_softmax_backward(float *dinp, const float *dout, const float *p, int64_t N, int64_t C) {
  for (int64_t r = 0; r < N; r++) {
    double dot = 0;
    for (int64_t c = 0; c < C; c++) dot += dout[r * C + c] * p[r * C + c];
    for (int64_t c = 0; c < C; c++) dinp[r * C + c] += p[r * C + c] * (dout[r * C + c] - (float)dot);
  }
}

/* ---- attention ---- */

void ann_attention_probs_forward(float *att, const float *qkv, int64_t B, int64_t S, int64_t H, int64_t D) {
  const int64_t HD = H * D, row = 3 * HD;
  const float scale = 1.0f / sqrtf((float)D);
  SF_PAR_IF(B * H * S * S * D > 65536, "omp parallel for collapse(2) schedule(static)",
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < H; h++) {
      float *a = att + ((b * H + h) * S) * S;
      for (int64_t i = 0; i < S; i++) {
        const float *q = qkv + (b * S + i) * row + h * D;
        for (int64_t j = 0; j < S; j++) {
          const float *k = qkv + (b * S + j) * row + HD + h * D;
          float d = 0;
          for (int64_t c = 0; c < D; c++) d += q[c] * k[c];
          a[i * S + j] = d * scale;
        }
      }
      ann_softmax_forward(a, a, S, S);
    });
}

void ann_attention_probs_backward(float *dqkv, float *datt, const float *qkv, const float *att, int64_t B, int64_t S, int64_t H, int64_t D) {
  const int64_t HD = H * D, row = 3 * HD;
  const float scale = 1.0f / sqrtf((float)D);
  /* (each (b, h) writes its own columns of dqkv: the heads run in parallel) */
  SF_PAR_IF(B * H * S * S * D > 65536, "omp parallel for collapse(2) schedule(static)",
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < H; h++) {
      const float *a = att + ((b * H + h) * S) * S;
      float *ds = datt + ((b * H + h) * S) * S;
      /* through the softmax: dscore = att (datt - rowsum(datt att)), in place */
      for (int64_t i = 0; i < S; i++) {
        double dot = 0;
        for (int64_t j = 0; j < S; j++) dot += ds[i * S + j] * a[i * S + j];
        for (int64_t j = 0; j < S; j++) ds[i * S + j] = a[i * S + j] * (ds[i * S + j] - (float)dot);
      }
      /* dq = dscore k / sqrt D, dk = dscore^T q / sqrt D */
      for (int64_t i = 0; i < S; i++) {
        const float *q = qkv + (b * S + i) * row + h * D;
        float *dq = dqkv + (b * S + i) * row + h * D;
        for (int64_t j = 0; j < S; j++) {
          const float *k = qkv + (b * S + j) * row + HD + h * D;
          float *dk = dqkv + (b * S + j) * row + HD + h * D;
          const float g = ds[i * S + j] * scale;
          for (int64_t c = 0; c < D; c++) {
            dq[c] += g * k[c];
            dk[c] += g * q[c];
          }
        }
      }
    });
}

void ann_attention_mix_forward(float *out, const float *att, const float *qkv, int64_t B, int64_t S, int64_t H, int64_t D) {
  const int64_t HD = H * D, row = 3 * HD;
  SF_PAR_IF(B * H * S * S * D > 65536, "omp parallel for collapse(2) schedule(static)",
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < H; h++) {
      const float *a = att + ((b * H + h) * S) * S;
      for (int64_t i = 0; i < S; i++) {
        float *o = out + (b * S + i) * HD + h * D;
        memset(o, 0, sizeof(float) * (size_t)D);
        for (int64_t j = 0; j < S; j++) {
          const float *v = qkv + (b * S + j) * row + 2 * HD + h * D, w = a[i * S + j];
          for (int64_t c = 0; c < D; c++) o[c] += w * v[c];
        }
      }
    });
}

void ann_attention_mix_backward(float *datt, float *dqkv, const float *dout, const float *att, const float *qkv, int64_t B, int64_t S, int64_t H, int64_t D) {
  const int64_t HD = H * D, row = 3 * HD;
  SF_PAR_IF(B * H * S * S * D > 65536, "omp parallel for collapse(2) schedule(static)",
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < H; h++) {
      const float *a = att + ((b * H + h) * S) * S;
      float *da = datt + ((b * H + h) * S) * S;
      /* datt [S, S] += dout v^T; dv += att^T dout */
      for (int64_t i = 0; i < S; i++) {
        const float *dO = dout + (b * S + i) * HD + h * D;
        for (int64_t j = 0; j < S; j++) {
          const float *v = qkv + (b * S + j) * row + 2 * HD + h * D;
          float *dv = dqkv + (b * S + j) * row + 2 * HD + h * D;
          float d = 0;
          for (int64_t c = 0; c < D; c++) {
            d += dO[c] * v[c];
            dv[c] += a[i * S + j] * dO[c];
          }
          da[i * S + j] += d;
        }
      }
    });
}

void ann_attention_forward(float *out, float *att, const float *qkv, int64_t B, int64_t S, int64_t H, int64_t D) {
  ann_attention_probs_forward(att, qkv, B, S, H, D);
  ann_attention_mix_forward(out, att, qkv, B, S, H, D);
}

void ann_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att, int64_t B, int64_t S, int64_t H, int64_t D, float *datt) {
  memset(datt, 0, sizeof(float) * (size_t)(B * H * S * S));
  ann_attention_mix_backward(datt, dqkv, dout, att, qkv, B, S, H, D);
  ann_attention_probs_backward(dqkv, datt, qkv, att, B, S, H, D);
}

/* ---- residual ---- */

void ann_residual_forward(float *out, const float *a, const float *b, int64_t n) {
  SF_PAR_IF(n > 65536, "omp parallel for simd schedule(static)",
  for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];);
}

void ann_residual_backward(float *da, float *db, const float *dout, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    da[i] += dout[i];
    db[i] += dout[i];
  }
}

/* ---- patch embedding, CLS token, position embedding ---- */

void ann_patch_embed_forward(float *out, float *patches, const float *img, const float *W, const float *bias, const float *cls, const float *pos, int64_t B,
                             int64_t Cin, int64_t Hh, int64_t Ww, int64_t P, int64_t E) {
  const int64_t gh = Hh / P, gw = Ww / P, Np = gh * gw, K = Cin * P * P, S = 1 + Np;
  for (int64_t b = 0; b < B; b++)
    for (int64_t py = 0; py < gh; py++)
      for (int64_t px = 0; px < gw; px++) {
        float *row = patches + (b * Np + py * gw + px) * K;
        for (int64_t c = 0; c < Cin; c++)
          for (int64_t ky = 0; ky < P; ky++)
            for (int64_t kx = 0; kx < P; kx++) row[(c * P + ky) * P + kx] = img[((b * Cin + c) * Hh + py * P + ky) * Ww + px * P + kx];
      }
  for (int64_t b = 0; b < B; b++) {
    float *o = out + b * S * E;
    for (int64_t e = 0; e < E; e++) o[e] = cls[e] + pos[e];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Np, (int)E, (int)K, 1.0f, patches + b * Np * K, (int)K, W, (int)K, 0.0f, o + E, (int)E);
    for (int64_t p = 0; p < Np; p++)
      for (int64_t e = 0; e < E; e++) o[(1 + p) * E + e] += bias[e] + pos[(1 + p) * E + e];
  }
}

void ann_patch_embed_backward(float *dW, float *dbias, float *dcls, float *dpos, const float *dout, const float *patches, int64_t B, int64_t Np, int64_t K,
                              int64_t E) {
  const int64_t S = 1 + Np;
  for (int64_t b = 0; b < B; b++) {
    const float *d = dout + b * S * E;
    for (int64_t e = 0; e < E; e++) dcls[e] += d[e];
    for (int64_t t = 0; t < S; t++)
      for (int64_t e = 0; e < E; e++) dpos[t * E + e] += d[t * E + e];
    for (int64_t p = 0; p < Np; p++)
      for (int64_t e = 0; e < E; e++) dbias[e] += d[(1 + p) * E + e];
    /* dW [E, K] += dtokens^T [E, Np] patches [Np, K] */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)E, (int)K, (int)Np, 1.0f, d + E, (int)E, patches + b * Np * K, (int)K, 1.0f, dW, (int)K);
  }
}

/* ---- pooling ---- */

void ann_pool_forward(float *out, const float *inp, int64_t B, int64_t S, int64_t E, int mean) {
  for (int64_t b = 0; b < B; b++) {
    if (!mean) {
      memcpy(out + b * E, inp + b * S * E, sizeof(float) * (size_t)E);
      continue;
    }
    for (int64_t e = 0; e < E; e++) {
      double s = 0;
      for (int64_t t = 0; t < S; t++) s += inp[(b * S + t) * E + e];
      out[b * E + e] = (float)(s / (double)S);
    }
  }
}

void ann_pool_backward(float *dinp, const float *dout, int64_t B, int64_t S, int64_t E, int mean) {
  for (int64_t b = 0; b < B; b++)
    for (int64_t e = 0; e < E; e++) {
      if (!mean) {
        dinp[b * S * E + e] += dout[b * E + e];
        continue;
      }
      const float g = dout[b * E + e] / (float)S;
      for (int64_t t = 0; t < S; t++) dinp[(b * S + t) * E + e] += g;
    }
}

/* ---- QCFS ---- */

void ann_qcfs_forward(float *out, const float *inp, const float *lambda, int64_t N, int64_t C, int L, int is_signed) {
  const float lo = is_signed ? -(float)L : 0.0f, hi = (float)L;
  for (int64_t r = 0; r < N; r++)
    for (int64_t c = 0; c < C; c++) {
      const float lam = lambda[c], k = floorf(inp[r * C + c] * (float)L / lam + 0.5f);
      out[r * C + c] = lam * ((k < lo ? lo : k > hi ? hi : k) / (float)L);
    }
}

void ann_qcfs_backward(float *dinp, float *dlambda, const float *dout, const float *inp, const float *lambda, int64_t N, int64_t C, int L, int is_signed) {
  const float lo = is_signed ? -(float)L : 0.0f, hi = (float)L;
  for (int64_t r = 0; r < N; r++)
    for (int64_t c = 0; c < C; c++) {
      const float lam = lambda[c], z = inp[r * C + c], k = floorf(z * (float)L / lam + 0.5f), g = dout[r * C + c];
      if (k > hi) {
        if (dlambda) dlambda[c] += g;
      } else if (k < lo) {
        if (dlambda && is_signed) dlambda[c] -= g; /* (unsigned: out = 0 below, nothing to pass) */
      } else {
        dinp[r * C + c] += g;
        if (dlambda) dlambda[c] += g * (k / (float)L - z / lam);
      }
    }
}

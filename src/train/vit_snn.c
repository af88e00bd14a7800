/* The spiking ViT, trainable (vit_snn.h): forward over T steps in the running-mean form, backward
 * through time. */
#include "train/vit_snn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/ann_ops.h"
#include "train/site_kernels.h"

/* ---- the neurons of one site at one step (site_kernels.h): pre, s, u, k [B n] this step's site
 * inputs m_t, spike means, membranes, counts; the state (vm, mprev, ssum; G, dv: the next step's du) [B n] carries
 * between steps. t is 1-based. ---- */

static sk_params params_of(const vit_snn *n, const vs_site *st) {
  sk_params p = {.beta = n->beta, .K = n->K, .is_signed = n->is_signed, .surrogate = n->surrogate, .slope = n->slope, .detach_reset = n->detach_reset};
  p.rate_unit = n->rate_penalty > 0 ? (float)((double)n->rate_penalty * st->rate_weight / ((double)n->B * n->T * (double)n->neurons)) : 0.0f;
  return p;
}

static void site_forward(vit_snn *n, const vs_site *st, int t, const float *pre, float *s, float *u, int8_t *k) {
  const int64_t off = n->B * st->off;
  const sk_params p = params_of(n, st);
  const double spikes = sk_site_forward(&p, t, n->B * st->n / st->C, st->C, st->theta, pre, n->mprev + off, n->vm + off, n->ssum + off, s, u, k);
  n->spikes += spikes;
  n->weighted_spikes += spikes * st->rate_weight;
}

/* ds: [B n] dL/ds_t (NULL: none) -> dpre [B n] = dL/dm_t; the thresholds' gradient into st->dtheta */
static void site_backward(vit_snn *n, const vs_site *st, int t, const float *ds_mean, const float *u, const int8_t *k, float *dpre) {
  const int64_t off = n->B * st->off;
  const sk_params p = params_of(n, st);
  sk_site_backward(&p, t, t == n->T, n->B * st->n / st->C, st->C, st->theta, ds_mean, u, k, n->G + off, n->dv + off, dpre, n->dth_part, st->dtheta);
}

/* ---- the QCFS form of a site (qcfs mode: the ANN with quantisers, one pass) ---- */

static void site_forward_qcfs(vit_snn *n, const vs_site *st, const float *pre, float *s) {
  ann_qcfs_forward(s, pre, st->theta, n->B * st->n / st->C, st->C, n->qcfs_levels, n->is_signed);
}

static void site_backward_qcfs(vit_snn *n, const vs_site *st, const float *ds, const float *pre, float *dpre) {
  const int64_t N = n->B * st->n;
  memset(dpre, 0, sizeof(float) * (size_t)N);
  if (ds) ann_qcfs_backward(dpre, st->dtheta, ds, pre, st->theta, N / st->C, st->C, n->qcfs_levels, n->is_signed);
}

/* the passes a forward makes: T steps, or one for the QCFS ANN */
static int passes(const vit_snn *n) { return n->qcfs_levels ? 1 : n->T; }

/* ---- set-up ---- */

sf_status vit_snn_init(vit_snn *n, vit_net *v, int T, int K, int is_signed, float beta) {
  memset(n, 0, sizeof *n);
  n->v = v;
  n->T = T;
  n->K = K;
  n->is_signed = is_signed;
  n->beta = beta;
  n->surrogate = SF_SURROGATE_TRIANGLE;
  n->slope = 1.0f;
  n->detach_reset = 1;
  const int64_t S = v->S, E = v->E, H = v->H, F = v->F;
  int64_t off = 0, nth = 0;
  double fan_sum = 0;
  for (int l = 0; l < v->L; l++) {
    const int64_t size[VS_PER_LAYER] = {S * E, S * 3 * E, H * S * S, S * E, S * E, S * F};
    const int64_t ch[VS_PER_LAYER] = {E, 3 * E, S, E / H, E, F};
    /* an LN1 spike reaches q, k and v; q, k and v spikes meet S rows of the other operand; a
     * probability spike weighs D values; the attention output feeds the projection, LN2 fc1, GELU fc2 */
    const int64_t fan[VS_PER_LAYER] = {3 * E, S, E / H, E, F, E};
    for (int k = 0; k < VS_PER_LAYER; k++) {
      vs_site *s = &n->site[n->n_sites++];
      s->n = size[k];
      s->C = ch[k];
      s->off = off;
      s->fan_out = (float)fan[k];
      fan_sum += (double)size[k] * fan[k];
      off += size[k];
      nth += ch[k];
    }
  }
  vs_site *f = &n->site[n->n_sites++];
  f->n = E;
  f->C = E;
  f->off = off;
  f->fan_out = (float)v->classes;
  fan_sum += (double)E * v->classes;
  off += E;
  nth += E;
  for (int i = 0; i < n->n_sites; i++) n->site[i].rate_weight = (float)(n->site[i].fan_out / (fan_sum / (double)off));
  n->neurons = off;
  n->n_theta = nth;
  n->theta = malloc(sizeof(float) * (size_t)nth);
  n->dtheta = calloc((size_t)nth, sizeof(float));
  if (!n->theta || !n->dtheta) {
    vit_snn_free(n);
    return sf_error(SF_ERR_NOMEM, "out of memory");
  }
  int64_t at = 0;
  for (int i = 0; i < n->n_sites; i++) {
    n->site[i].theta = n->theta + at;
    n->site[i].dtheta = n->dtheta + at;
    at += n->site[i].C;
  }
  for (int64_t i = 0; i < nth; i++) n->theta[i] = 1.0f;
  return SF_OK;
}

static void free_record(vit_snn *n) {
  void *bufs[] = {n->patches, n->x, n->pre, n->s, n->u, n->k, n->mean1, n->rstd1, n->mean2, n->rstd2, n->res1, n->h, n->meanf, n->rstdf, n->logits, n->vm,
                  n->mprev, n->ssum, n->G, n->dv, n->dx, n->dx0, n->dres, n->dln, n->dqkv, n->datt, n->datty, n->dh, n->dg, n->dpooled,
                  n->dsite, n->dth_part};
  for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
  n->x = n->pre = n->s = n->u = n->mean1 = n->rstd1 = n->mean2 = n->rstd2 = n->res1 = n->h = n->meanf = n->rstdf = n->logits = NULL;
  n->vm = n->mprev = n->ssum = n->G = n->dv = n->dx = n->dx0 = n->dres = n->dln = n->dqkv = n->datt = n->datty = NULL;
  n->dh = n->dg = n->dpooled = n->dsite = n->dth_part = n->patches = NULL;
  n->k = NULL;
  n->cap = 0;
}

void vit_snn_free(vit_snn *n) {
  free_record(n);
  free(n->theta);
  free(n->dtheta);
  memset(n, 0, sizeof *n);
}

void vit_snn_zero_grad(vit_snn *n) {
  vit_net_zero_grad(n->v);
  memset(n->dtheta, 0, sizeof(float) * (size_t)n->n_theta);
}

static sf_status reserve(vit_snn *n, int64_t B) {
  if (B <= n->cap) return SF_OK;
  free_record(n);
  const vit_net *v = n->v;
  const int64_t T = passes(n), L = v->L, S = v->S, E = v->E, F = v->F, H = v->H, R = B * S, NB = B * n->neurons;
  int64_t big = 0; /* the largest site */
  for (int i = 0; i < n->n_sites; i++) big = n->site[i].n > big ? n->site[i].n : big;
  int ok = 1;
#define ALLOC(field, cnt) ok &= (n->field = malloc(sizeof(*n->field) * (size_t)(cnt))) != NULL
  ALLOC(patches, B * v->Np * v->Cin * v->P * v->P); ALLOC(x, T * (L + 1) * R * E); ALLOC(pre, T * NB); ALLOC(s, T * NB); ALLOC(u, T * NB); ALLOC(k, T * NB);
  ALLOC(mean1, T * L * R); ALLOC(rstd1, T * L * R); ALLOC(mean2, T * L * R); ALLOC(rstd2, T * L * R);
  ALLOC(res1, T * L * R * E); ALLOC(h, T * L * R * F); ALLOC(meanf, T * R); ALLOC(rstdf, T * R); ALLOC(logits, B * v->classes);
  ALLOC(vm, NB); ALLOC(mprev, NB); ALLOC(ssum, NB); ALLOC(G, NB); ALLOC(dv, NB);
  ALLOC(dx, R * E); ALLOC(dx0, R * E); ALLOC(dres, R * E); ALLOC(dln, R * E); ALLOC(dqkv, R * 3 * E); ALLOC(datt, B * H * S * S);
  ALLOC(datty, R * E); ALLOC(dh, R * F); ALLOC(dg, R * F); ALLOC(dpooled, B * E); ALLOC(dsite, B * big); ALLOC(dth_part, B * big);
#undef ALLOC
  if (!ok) {
    free_record(n);
    return sf_error(SF_ERR_NOMEM, "out of memory for the spiking ViT's record of %lld images over %d steps", (long long)B, n->T);
  }
  n->cap = B;
  return SF_OK;
}

/* site i's block of a [T, B neurons] record at step ti (0-based) */
#define AT(buf, ti, i) ((buf) + (int64_t)(ti) * B * n->neurons + B * n->site[i].off)

/* site i at step t: its neurons, or its quantiser (dpre into n->dsite) */
static void site_step(vit_snn *n, int i, int t) {
  const int64_t B = n->B;
  const int ti = t - 1;
  if (n->qcfs_levels) site_forward_qcfs(n, &n->site[i], AT(n->pre, ti, i), AT(n->s, ti, i));
  else site_forward(n, &n->site[i], t, AT(n->pre, ti, i), AT(n->s, ti, i), AT(n->u, ti, i), AT(n->k, ti, i));
}

static void site_back(vit_snn *n, int i, int t, const float *ds) {
  const int64_t B = n->B;
  const int ti = t - 1;
  if (n->qcfs_levels) site_backward_qcfs(n, &n->site[i], ds, AT(n->pre, ti, i), n->dsite);
  else site_backward(n, &n->site[i], t, ds, AT(n->u, ti, i), AT(n->k, ti, i), n->dsite);
}

/* ---- forward ---- */

sf_status vit_snn_forward(vit_snn *n, const float *img, int64_t B) {
  sf_status st = reserve(n, B);
  if (st) return st;
  n->B = B;
  n->spikes = n->weighted_spikes = 0;
  vit_net *v = n->v;
  const vit_params *p = &v->p;
  const int64_t L = v->L, S = v->S, E = v->E, F = v->F, H = v->H, D = E / H, R = B * S, C = v->classes;
  /* the embedding is the same current at every step */
  float *x0 = n->x;
  ann_patch_embed_forward(x0, n->patches, img, p->pw, p->pb, p->cls, p->pos, B, v->Cin, v->Hh, v->Ww, v->P, E);
  const int Tp = passes(n);
  for (int t = 1; t <= Tp; t++) {
    const int ti = t - 1;
    float *xs = n->x + (int64_t)ti * (L + 1) * R * E;
    if (ti) memcpy(xs, x0, sizeof(float) * (size_t)(R * E));
    for (int l = 0; l < L; l++) {
      const int b = l * VS_PER_LAYER;
      const int64_t lr = ((int64_t)ti * L + l) * R;
      float *xl = xs + l * R * E, *xn = xs + (l + 1) * R * E, *res1 = n->res1 + lr * E, *h = n->h + lr * F;
#define SITE(i) site_step(n, b + (i), t)
      ann_layernorm_forward(AT(n->pre, ti, b + VS_LN1), n->mean1 + lr, n->rstd1 + lr, xl, p->l[l].ln1w, p->l[l].ln1b, R, E, v->eps);
      SITE(VS_LN1);
      ann_linear_forward(AT(n->pre, ti, b + VS_QKV), AT(n->s, ti, b + VS_LN1), p->l[l].qkvw, p->l[l].qkvb, R, E, 3 * E);
      SITE(VS_QKV);
      ann_attention_probs_forward(AT(n->pre, ti, b + VS_PROBS), AT(n->s, ti, b + VS_QKV), B, S, H, D);
      SITE(VS_PROBS);
      ann_attention_mix_forward(AT(n->pre, ti, b + VS_ATT), AT(n->s, ti, b + VS_PROBS), AT(n->s, ti, b + VS_QKV), B, S, H, D);
      SITE(VS_ATT);
      ann_linear_forward(res1, AT(n->s, ti, b + VS_ATT), p->l[l].projw, p->l[l].projb, R, E, E);
      ann_residual_forward(res1, res1, xl, R * E);
      ann_layernorm_forward(AT(n->pre, ti, b + VS_LN2), n->mean2 + lr, n->rstd2 + lr, res1, p->l[l].ln2w, p->l[l].ln2b, R, E, v->eps);
      SITE(VS_LN2);
      ann_linear_forward(h, AT(n->s, ti, b + VS_LN2), p->l[l].fc1w, p->l[l].fc1b, R, E, F);
      if (v->gelu_tanh) ann_gelu_tanh_forward(AT(n->pre, ti, b + VS_GELU), h, R * F);
      else ann_gelu_forward(AT(n->pre, ti, b + VS_GELU), h, R * F);
      SITE(VS_GELU);
      ann_linear_forward(xn, AT(n->s, ti, b + VS_GELU), p->l[l].fc2w, p->l[l].fc2b, R, F, E);
      ann_residual_forward(xn, xn, res1, R * E);
#undef SITE
    }
    /* final LayerNorm (only the CLS rows matter: the pooled token) and the head at the last step */
    const int fi = n->n_sites - 1;
    float *lnf = n->dln; /* (scratch: the backward recomputes nothing from it) */
    ann_layernorm_forward(lnf, n->meanf + (int64_t)ti * R, n->rstdf + (int64_t)ti * R, xs + L * R * E, p->lnfw, p->lnfb, R, E, v->eps);
    ann_pool_forward(AT(n->pre, ti, fi), lnf, B, S, E, 0);
    site_step(n, fi, t);
    if (t == Tp) ann_linear_forward(n->logits, AT(n->s, ti, fi), p->headw, p->headb, B, E, C);
  }
  return SF_OK;
}

double vit_snn_rate_loss(const vit_snn *n) {
  return n->rate_penalty > 0 ? (double)n->rate_penalty * n->weighted_spikes / ((double)n->B * n->T * (double)n->neurons) : 0.0;
}

/* ---- backward ---- */

void vit_snn_backward(vit_snn *n, const float *dlogits) {
  vit_net *v = n->v;
  const vit_params *p = &v->p;
  vit_params *g = &v->g;
  const int64_t B = n->B, L = v->L, S = v->S, E = v->E, F = v->F, H = v->H, D = E / H, R = B * S, C = v->classes;
  const size_t RE = sizeof(float) * (size_t)(R * E);
  const int fi = n->n_sites - 1;
  memset(n->dx0, 0, RE);
  const int Tp = passes(n);
  for (int t = Tp; t >= 1; t--) {
    const int ti = t - 1;
    const float *xs = n->x + (int64_t)ti * (L + 1) * R * E;
    /* head (last step), the pooled token's neurons, the final LayerNorm */
    float *dps = NULL;
    if (t == Tp) {
      memset(n->dpooled, 0, sizeof(float) * (size_t)(B * E));
      ann_linear_backward(n->dpooled, g->headw, g->headb, dlogits, AT(n->s, ti, fi), p->headw, B, E, C);
      dps = n->dpooled;
    }
    site_back(n, fi, t, dps);
    memset(n->dln, 0, RE);
    ann_pool_backward(n->dln, n->dsite, B, S, E, 0);
    memset(n->dx, 0, RE);
    ann_layernorm_backward(n->dx, g->lnfw, g->lnfb, n->dln, xs + L * R * E, p->lnfw, n->meanf + (int64_t)ti * R, n->rstdf + (int64_t)ti * R, R, E);
    for (int64_t l = L - 1; l >= 0; l--) {
      const int b = (int)l * VS_PER_LAYER;
      const int64_t lr = ((int64_t)ti * L + l) * R;
      const float *xl = xs + l * R * E, *res1 = n->res1 + lr * E, *h = n->h + lr * F;
#define SB(i, dsm) site_back(n, b + (i), t, dsm)
      /* x_(l+1) = res1 + fc2(s_gelu): dres1 = dx + the MLP branch's */
      memcpy(n->dres, n->dx, RE);
      memset(n->dg, 0, sizeof(float) * (size_t)(R * F));
      ann_linear_backward(n->dg, g->l[l].fc2w, g->l[l].fc2b, n->dx, AT(n->s, ti, b + VS_GELU), p->l[l].fc2w, R, F, E);
      SB(VS_GELU, n->dg);
      memset(n->dh, 0, sizeof(float) * (size_t)(R * F));
      if (v->gelu_tanh) ann_gelu_tanh_backward(n->dh, n->dsite, h, R * F);
      else ann_gelu_backward(n->dh, n->dsite, h, R * F);
      memset(n->dln, 0, RE);
      ann_linear_backward(n->dln, g->l[l].fc1w, g->l[l].fc1b, n->dh, AT(n->s, ti, b + VS_LN2), p->l[l].fc1w, R, E, F);
      SB(VS_LN2, n->dln);
      ann_layernorm_backward(n->dres, g->l[l].ln2w, g->l[l].ln2b, n->dsite, res1, p->l[l].ln2w, n->mean2 + lr, n->rstd2 + lr, R, E);
      /* res1 = x_l + proj(s_att): dx_l = dres1 + the attention branch's */
      memcpy(n->dx, n->dres, RE);
      memset(n->datty, 0, RE);
      ann_linear_backward(n->datty, g->l[l].projw, g->l[l].projb, n->dres, AT(n->s, ti, b + VS_ATT), p->l[l].projw, R, E, E);
      SB(VS_ATT, n->datty);
      memset(n->datt, 0, sizeof(float) * (size_t)(B * H * S * S));
      memset(n->dqkv, 0, sizeof(float) * (size_t)(R * 3 * E));
      ann_attention_mix_backward(n->datt, n->dqkv, n->dsite, AT(n->s, ti, b + VS_PROBS), AT(n->s, ti, b + VS_QKV), B, S, H, D);
      SB(VS_PROBS, n->datt);
      ann_attention_probs_backward(n->dqkv, n->dsite, AT(n->s, ti, b + VS_QKV), AT(n->pre, ti, b + VS_PROBS), B, S, H, D);
      SB(VS_QKV, n->dqkv);
      memset(n->dln, 0, RE);
      ann_linear_backward(n->dln, g->l[l].qkvw, g->l[l].qkvb, n->dsite, AT(n->s, ti, b + VS_LN1), p->l[l].qkvw, R, E, 3 * E);
      SB(VS_LN1, n->dln);
      ann_layernorm_backward(n->dx, g->l[l].ln1w, g->l[l].ln1b, n->dsite, xl, p->l[l].ln1w, n->mean1 + lr, n->rstd1 + lr, R, E);
#undef SB
    }
    /* the embedding is the same at every step: its gradient once, from the sum over the steps */
    ann_residual_forward(n->dx0, n->dx0, n->dx, R * E);
  }
  ann_patch_embed_backward(g->pw, g->pb, g->cls, g->pos, n->dx0, n->patches, B, v->Np, (int64_t)v->Cin * v->P * v->P, E);
}

/* ---- the converter's sites ---- */

/* the op a site key starts with ("LayerNormalization_13:0" -> LayerNormalization) */
static int key_is(const char *key, const char *op) { return !strncmp(key, op, strlen(op)) && key[strlen(op)] == '_'; }

sf_status vit_snn_map_sites(const vit_snn *n, int n_keys, const char *const *keys, const int64_t *channels, int *group, int64_t *first) {
  const int L = n->v->L;
  int at = 0;
  for (int l = 0; l < L; l++) {
    /* the converter's order in a layer: LN1, q, k, probs, v, attention out, LN2, GELU */
    static const int grp[8] = {VS_LN1, VS_QKV, VS_QKV, VS_PROBS, VS_QKV, VS_ATT, VS_LN2, VS_GELU};
    static const char *const op[8] = {"LayerNormalization", "Linear", "Linear", "Attention", "Linear", "Attention", "LayerNormalization", "Gelu"};
    const int64_t E = n->v->E;
    const int64_t col[8] = {0, 0, E, 0, 2 * E, 0, 0, 0};
    for (int j = 0; j < 8; j++, at++) {
      if (at >= n_keys) return sf_error(SF_ERR_UNSUPPORTED, "train: the converted ViT has %d neuron sites; a %d-layer ViT has %d", n_keys, L, 8 * L + 1);
      const vs_site *s = &n->site[l * VS_PER_LAYER + grp[j]];
      const int probs = j == 3, attout = j == 5;
      const size_t kl = strlen(keys[at]);
      const int is_probs = kl > 6 && !strcmp(keys[at] + kl - 6, "/probs");
      const int64_t want = grp[j] == VS_QKV ? E : s->C;
      if (!key_is(keys[at], op[j]) || probs != is_probs || (attout && is_probs) || (channels[at] != want && channels[at] != 1))
        return sf_error(SF_ERR_UNSUPPORTED,
                        "train: neuron site %d ('%s', %lld channels) of the converted ViT is not where the trainer expects layer %d's %s (%lld channels)", at,
                        keys[at], (long long)channels[at], l, j == 0 ? "LayerNorm before attention" : j < 3 || j == 4 ? "q, k or v" : probs ? "attention probabilities"
                        : attout ? "attention output" : j == 6 ? "LayerNorm after attention" : "GELU", (long long)want);
      group[at] = l * VS_PER_LAYER + grp[j];
      first[at] = col[j];
    }
  }
  if (at != n_keys - 1 || !key_is(keys[at], "Gather") || (channels[at] != n->v->E && channels[at] != 1))
    return sf_error(SF_ERR_UNSUPPORTED, "train: the converted ViT's last neuron site is '%s'; the pooled CLS token (Gather, %d channels) is expected",
                    at < n_keys ? keys[at] : "(none)", n->v->E);
  group[at] = n->n_sites - 1;
  first[at] = 0;
  return SF_OK;
}

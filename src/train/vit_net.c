/* The ViT as a trainable ANN (vit_net.h). */
#include "train/vit_net.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "io/safetensors.h"
#include "train/ann_ops.h"

/* lay the parameter views over a flat buffer (params or grads); returns the floats used */
static int64_t map(const vit_net *v, float *base, vit_params *p) {
  const int64_t E = v->E, F = v->F, K = (int64_t)v->Cin * v->P * v->P;
  int64_t at = 0;
#define TAKE(field, n) (p->field = base ? base + at : NULL, at += (n))
  TAKE(pw, E * K); TAKE(pb, E); TAKE(cls, E); TAKE(pos, (int64_t)v->S * E);
  for (int l = 0; l < v->L; l++) {
    TAKE(l[l].ln1w, E); TAKE(l[l].ln1b, E); TAKE(l[l].qkvw, E * 3 * E); TAKE(l[l].qkvb, 3 * E); TAKE(l[l].projw, E * E); TAKE(l[l].projb, E);
    TAKE(l[l].ln2w, E); TAKE(l[l].ln2b, E); TAKE(l[l].fc1w, E * F); TAKE(l[l].fc1b, F); TAKE(l[l].fc2w, F * E); TAKE(l[l].fc2b, E);
  }
  TAKE(lnfw, E); TAKE(lnfb, E); TAKE(headw, E * v->classes); TAKE(headb, v->classes);
#undef TAKE
  return at;
}

static int cfg_int(const cJSON *c, const char *k, int dflt) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(c, k);
  return cJSON_IsNumber(x) ? x->valueint : dflt;
}

/* copy a HF tensor into dst: transposed from [out, in] to [in, out] (a Linear weight) when out_in,
 * into columns [col0, col0 + out) of a [in, ld] matrix */
static sf_status put(sf_safetensors *st, const char *name, int64_t n, float *dst, int out_in, int64_t in, int64_t ld, int64_t col0) {
  sf_st_entry *e = sf_safetensors_find(st, name);
  if (!e) return sf_error(SF_ERR_FORMAT, "ViT weights: no tensor %s", name);
  if (sf_tensor_numel(&e->t) != n) return sf_error(SF_ERR_SHAPE, "ViT weights: %s holds %lld values, %lld expected", name, (long long)sf_tensor_numel(&e->t), (long long)n);
  const float *s = e->t.data;
  if (!out_in) {
    memcpy(dst, s, sizeof(float) * (size_t)n);
    return SF_OK;
  }
  const int64_t out = n / in;
  for (int64_t o = 0; o < out; o++)
    for (int64_t i = 0; i < in; i++) dst[i * ld + col0 + o] = s[o * in + i];
  return SF_OK;
}

/* the model from its config.json text and its weights; `where` names them in messages */
static sf_status load_parts(vit_net *v, const char *text, sf_safetensors *w, const char *where) {
  const char *path = where;
  cJSON *c = cJSON_Parse(text);
  if (!c) return sf_error(SF_ERR_FORMAT, "%s: config.json is not JSON", where);
  if (!(v->config = sf_strdup(text))) {
    cJSON_Delete(c);
    return sf_error(SF_ERR_NOMEM, "out of memory");
  }
  v->E = cfg_int(c, "hidden_size", 0);
  v->L = cfg_int(c, "num_hidden_layers", 0);
  v->H = cfg_int(c, "num_attention_heads", 0);
  v->F = cfg_int(c, "intermediate_size", 0);
  v->P = cfg_int(c, "patch_size", 16);
  v->Cin = cfg_int(c, "num_channels", 3);
  v->Hh = v->Ww = cfg_int(c, "image_size", 224);
  const cJSON *eps = cJSON_GetObjectItemCaseSensitive(c, "layer_norm_eps");
  v->eps = cJSON_IsNumber(eps) ? (float)eps->valuedouble : 1e-12f;
  const cJSON *act = cJSON_GetObjectItemCaseSensitive(c, "hidden_act");
  v->gelu_tanh = cJSON_IsString(act) && (!strcmp(act->valuestring, "gelu_new") || !strcmp(act->valuestring, "gelu_pytorch_tanh"));
  const int act_ok = !cJSON_IsString(act) || !strcmp(act->valuestring, "gelu") || v->gelu_tanh;
  cJSON_Delete(c);
  if (!act_ok) return sf_error(SF_ERR_UNSUPPORTED, "%s: hidden_act is not gelu or its tanh form", path);
  if (v->E < 1 || v->L < 1 || v->L > VIT_MAX_LAYERS || v->H < 1 || v->E % v->H || v->F < 1 || v->P < 1 || v->Hh % v->P)
    return sf_error(SF_ERR_FORMAT, "%s: not a ViT this trainer takes (hidden_size %d, layers %d, heads %d, patch %d, image %d)", path, v->E, v->L, v->H, v->P, v->Hh);
  v->Np = (v->Hh / v->P) * (v->Ww / v->P);
  v->S = 1 + v->Np;
  sf_status st;
  sf_st_entry *head = sf_safetensors_find(w, "classifier.bias");
  if (!head) return sf_error(SF_ERR_FORMAT, "%s: no classifier.bias (a ViTForImageClassification is expected)", where);
  v->classes = (int)sf_tensor_numel(&head->t);
  v->n_params = map(v, NULL, &v->p);
  v->params = calloc((size_t)v->n_params, sizeof(float));
  v->grads = calloc((size_t)v->n_params, sizeof(float));
  if (!v->params || !v->grads) return sf_error(SF_ERR_NOMEM, "out of memory");
  map(v, v->params, &v->p);
  map(v, v->grads, &v->g);
  const int64_t E = v->E, F = v->F, K = (int64_t)v->Cin * v->P * v->P;
  vit_params *p = &v->p;
  st = put(w, "vit.embeddings.patch_embeddings.projection.weight", E * K, p->pw, 0, 0, 0, 0);
  if (!st) st = put(w, "vit.embeddings.patch_embeddings.projection.bias", E, p->pb, 0, 0, 0, 0);
  if (!st) st = put(w, "vit.embeddings.cls_token", E, p->cls, 0, 0, 0, 0);
  if (!st) st = put(w, "vit.embeddings.position_embeddings", v->S * E, p->pos, 0, 0, 0, 0);
  char n[256];
  static const char *const qkv[3] = {"query", "key", "value"};
  for (int l = 0; l < v->L && !st; l++) {
#define NAME(fmt) (snprintf(n, sizeof n, "vit.encoder.layer.%d." fmt, l), n)
    st = put(w, NAME("layernorm_before.weight"), E, p->l[l].ln1w, 0, 0, 0, 0);
    if (!st) st = put(w, NAME("layernorm_before.bias"), E, p->l[l].ln1b, 0, 0, 0, 0);
    for (int k = 0; k < 3 && !st; k++) {
      snprintf(n, sizeof n, "vit.encoder.layer.%d.attention.attention.%s.weight", l, qkv[k]);
      st = put(w, n, E * E, p->l[l].qkvw, 1, E, 3 * E, k * E);
      snprintf(n, sizeof n, "vit.encoder.layer.%d.attention.attention.%s.bias", l, qkv[k]);
      if (!st) st = put(w, n, E, p->l[l].qkvb + k * E, 0, 0, 0, 0);
    }
    if (!st) st = put(w, NAME("attention.output.dense.weight"), E * E, p->l[l].projw, 1, E, E, 0);
    if (!st) st = put(w, NAME("attention.output.dense.bias"), E, p->l[l].projb, 0, 0, 0, 0);
    if (!st) st = put(w, NAME("layernorm_after.weight"), E, p->l[l].ln2w, 0, 0, 0, 0);
    if (!st) st = put(w, NAME("layernorm_after.bias"), E, p->l[l].ln2b, 0, 0, 0, 0);
    if (!st) st = put(w, NAME("intermediate.dense.weight"), E * F, p->l[l].fc1w, 1, E, F, 0);
    if (!st) st = put(w, NAME("intermediate.dense.bias"), F, p->l[l].fc1b, 0, 0, 0, 0);
    if (!st) st = put(w, NAME("output.dense.weight"), F * E, p->l[l].fc2w, 1, F, E, 0);
    if (!st) st = put(w, NAME("output.dense.bias"), E, p->l[l].fc2b, 0, 0, 0, 0);
#undef NAME
  }
  if (!st) st = put(w, "vit.layernorm.weight", E, p->lnfw, 0, 0, 0, 0);
  if (!st) st = put(w, "vit.layernorm.bias", E, p->lnfb, 0, 0, 0, 0);
  if (!st) st = put(w, "classifier.weight", E * v->classes, p->headw, 1, E, v->classes, 0);
  if (!st) st = put(w, "classifier.bias", v->classes, p->headb, 0, 0, 0, 0);
  if (st) sf_error_context(st, "%s", where);
  return st;
}

sf_status vit_net_load_hf(vit_net *v, const char *dir) {
  memset(v, 0, sizeof *v);
  char path[4096];
  snprintf(path, sizeof path, "%s/config.json", dir);
  char *text;
  size_t len;
  sf_status st = sf_read_file(path, &text, &len);
  if (st) return st;
  sf_safetensors w = {0};
  if (!(st = sf_safetensors_load_dir(dir, &w))) st = load_parts(v, text, &w, dir);
  sf_safetensors_free(&w);
  free(text);
  if (st) vit_net_free(v);
  return st;
}

sf_status vit_net_load_hf_memory(vit_net *v, const char *config_text, const void *safetensors, size_t len, const char *name) {
  memset(v, 0, sizeof *v);
  sf_safetensors w = {0};
  sf_status st = sf_safetensors_parse(safetensors, len, name, &w);
  if (!st) st = load_parts(v, config_text, &w, name);
  sf_safetensors_free(&w);
  if (st) vit_net_free(v);
  return st;
}

/* one tensor back in Hugging Face's layout: [out, in] from columns [col0, col0 + out) of an
 * [in, ld] matrix when out_in, else as it is */
static sf_status take(sf_tensor *t, char **name, const char *nm, const float *src, int64_t n, int out_in, int64_t in, int64_t ld, int64_t col0, int ndim,
                      const int64_t *shape) {
  if (!(*name = sf_strdup(nm))) return sf_error(SF_ERR_NOMEM, "out of memory");
  sf_status st = sf_tensor_alloc(t, SF_F32, ndim, shape);
  if (st) return st;
  float *d = t->data;
  if (!out_in) memcpy(d, src, sizeof(float) * (size_t)n);
  else
    for (int64_t o = 0; o < n / in; o++)
      for (int64_t i = 0; i < in; i++) d[o * in + i] = src[i * ld + col0 + o];
  return SF_OK;
}

sf_status vit_net_save_safetensors(const vit_net *v, unsigned char **blob, size_t *len) {
  *blob = NULL;
  *len = 0;
  const int64_t E = v->E, F = v->F, S = v->S, Cl = v->classes;
  const int n = 4 + 16 * v->L + 4;
  char **names = calloc((size_t)n, sizeof *names);
  sf_tensor *t = calloc((size_t)n, sizeof *t);
  if (!names || !t) {
    free(names);
    free(t);
    return sf_error(SF_ERR_NOMEM, "out of memory");
  }
  const vit_params *p = &v->p;
  int i = 0;
  char nm[256];
  sf_status st = SF_OK;
#define SHAPE(...) (const int64_t[]){__VA_ARGS__}, (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t))
#define PUT(NAME, SRC, N, OI, IN, LD, C0, ...)                                                                                    if (!st) {                                                                                                                      const int64_t *sh_ = (const int64_t[]){__VA_ARGS__};                                                                          st = take(&t[i], &names[i], NAME, SRC, N, OI, IN, LD, C0, (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), sh_);     i++;                                                                                                                        }
  PUT("vit.embeddings.patch_embeddings.projection.weight", p->pw, E * v->Cin * v->P * v->P, 0, 0, 0, 0, E, v->Cin, v->P, v->P)
  PUT("vit.embeddings.patch_embeddings.projection.bias", p->pb, E, 0, 0, 0, 0, E)
  PUT("vit.embeddings.cls_token", p->cls, E, 0, 0, 0, 0, 1, 1, E)
  PUT("vit.embeddings.position_embeddings", p->pos, S * E, 0, 0, 0, 0, 1, S, E)
  static const char *const qkv[3] = {"query", "key", "value"};
  for (int l = 0; l < v->L; l++) {
#define NAME(fmt) (snprintf(nm, sizeof nm, "vit.encoder.layer.%d." fmt, l), nm)
    PUT(NAME("layernorm_before.weight"), p->l[l].ln1w, E, 0, 0, 0, 0, E)
    PUT(NAME("layernorm_before.bias"), p->l[l].ln1b, E, 0, 0, 0, 0, E)
    for (int k = 0; k < 3; k++) {
      snprintf(nm, sizeof nm, "vit.encoder.layer.%d.attention.attention.%s.weight", l, qkv[k]);
      PUT(nm, p->l[l].qkvw, E * E, 1, E, 3 * E, k * E, E, E)
      snprintf(nm, sizeof nm, "vit.encoder.layer.%d.attention.attention.%s.bias", l, qkv[k]);
      PUT(nm, p->l[l].qkvb + k * E, E, 0, 0, 0, 0, E)
    }
    PUT(NAME("attention.output.dense.weight"), p->l[l].projw, E * E, 1, E, E, 0, E, E)
    PUT(NAME("attention.output.dense.bias"), p->l[l].projb, E, 0, 0, 0, 0, E)
    PUT(NAME("layernorm_after.weight"), p->l[l].ln2w, E, 0, 0, 0, 0, E)
    PUT(NAME("layernorm_after.bias"), p->l[l].ln2b, E, 0, 0, 0, 0, E)
    PUT(NAME("intermediate.dense.weight"), p->l[l].fc1w, E * F, 1, E, F, 0, F, E)
    PUT(NAME("intermediate.dense.bias"), p->l[l].fc1b, F, 0, 0, 0, 0, F)
    PUT(NAME("output.dense.weight"), p->l[l].fc2w, F * E, 1, F, E, 0, E, F)
    PUT(NAME("output.dense.bias"), p->l[l].fc2b, E, 0, 0, 0, 0, E)
#undef NAME
  }
  PUT("vit.layernorm.weight", p->lnfw, E, 0, 0, 0, 0, E)
  PUT("vit.layernorm.bias", p->lnfb, E, 0, 0, 0, 0, E)
  PUT("classifier.weight", p->headw, E * Cl, 1, E, Cl, 0, Cl, E)
  PUT("classifier.bias", p->headb, Cl, 0, 0, 0, 0, Cl)
#undef PUT
#undef SHAPE
  if (!st) st = sf_safetensors_serialize(i, (const char *const *)names, t, blob, len);
  for (int k = 0; k < n; k++) {
    free(names[k]);
    sf_tensor_free(&t[k]);
  }
  free(names);
  free(t);
  return st;
}

static void free_record(vit_net *v) {
  float **bufs[] = {&v->patches, &v->ln1, &v->mean1, &v->rstd1, &v->qkv, &v->att, &v->atty, &v->res1, &v->ln2, &v->mean2, &v->rstd2, &v->h, &v->gelu,
                    &v->lnf, &v->meanf, &v->rstdf, &v->pooled, &v->logits, &v->dx, &v->dx2, &v->dln, &v->dqkv, &v->datty, &v->dh, &v->dg, &v->dpooled,
                    &v->scratch};
  for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) {
    free(*bufs[i]);
    *bufs[i] = NULL;
  }
  for (int l = 0; l <= VIT_MAX_LAYERS; l++) {
    free(v->x[l]);
    v->x[l] = NULL;
  }
}

void vit_net_free(vit_net *v) {
  free_record(v);
  free(v->params);
  free(v->grads);
  free(v->config);
  memset(v, 0, sizeof *v);
}

void vit_net_zero_grad(vit_net *v) { memset(v->grads, 0, sizeof(float) * (size_t)v->n_params); }

/* the record for B images: per layer (L of each) and once */
static sf_status reserve(vit_net *v, int64_t B) {
  if (B <= v->cap) return SF_OK;
  free_record(v);
  const int64_t L = v->L, S = v->S, E = v->E, F = v->F, H = v->H, T = B * S, K = (int64_t)v->Cin * v->P * v->P;
  int ok = 1;
#define ALLOC(field, n) ok &= (v->field = malloc(sizeof(float) * (size_t)(n))) != NULL
  ALLOC(patches, B * v->Np * K);
  for (int l = 0; l <= L; l++) ALLOC(x[l], T * E);
  ALLOC(ln1, L * T * E); ALLOC(mean1, L * T); ALLOC(rstd1, L * T); ALLOC(qkv, L * T * 3 * E); ALLOC(att, L * B * H * S * S); ALLOC(atty, L * T * E);
  ALLOC(res1, L * T * E); ALLOC(ln2, L * T * E); ALLOC(mean2, L * T); ALLOC(rstd2, L * T); ALLOC(h, L * T * F); ALLOC(gelu, L * T * F);
  ALLOC(lnf, T * E); ALLOC(meanf, T); ALLOC(rstdf, T); ALLOC(pooled, B * E); ALLOC(logits, B * v->classes);
  ALLOC(dx, T * E); ALLOC(dx2, T * E); ALLOC(dln, T * E); ALLOC(dqkv, T * 3 * E); ALLOC(datty, T * E); ALLOC(dh, T * F); ALLOC(dg, T * F);
  ALLOC(dpooled, B * E); ALLOC(scratch, B * H * S * S);
#undef ALLOC
  if (!ok) return sf_error(SF_ERR_NOMEM, "out of memory for the ViT's record of %lld images", (long long)B);
  v->cap = B;
  return SF_OK;
}

sf_status vit_net_forward(vit_net *v, const float *img, int64_t B) {
  sf_status st = reserve(v, B);
  if (st) return st;
  v->B = B;
  const int64_t S = v->S, E = v->E, F = v->F, H = v->H, D = E / H, T = B * S;
  const vit_params *p = &v->p;
  ann_patch_embed_forward(v->x[0], v->patches, img, p->pw, p->pb, p->cls, p->pos, B, v->Cin, v->Hh, v->Ww, v->P, E);
  for (int l = 0; l < v->L; l++) {
    float *ln1 = v->ln1 + l * T * E, *qkv = v->qkv + l * T * 3 * E, *att = v->att + l * B * H * S * S, *atty = v->atty + l * T * E;
    float *res1 = v->res1 + l * T * E, *ln2 = v->ln2 + l * T * E, *h = v->h + l * T * F, *g = v->gelu + l * T * F;
    ann_layernorm_forward(ln1, v->mean1 + l * T, v->rstd1 + l * T, v->x[l], p->l[l].ln1w, p->l[l].ln1b, T, E, v->eps);
    ann_linear_forward(qkv, ln1, p->l[l].qkvw, p->l[l].qkvb, T, E, 3 * E);
    ann_attention_forward(atty, att, qkv, B, S, H, D);
    ann_linear_forward(res1, atty, p->l[l].projw, p->l[l].projb, T, E, E);
    ann_residual_forward(res1, res1, v->x[l], T * E);
    ann_layernorm_forward(ln2, v->mean2 + l * T, v->rstd2 + l * T, res1, p->l[l].ln2w, p->l[l].ln2b, T, E, v->eps);
    ann_linear_forward(h, ln2, p->l[l].fc1w, p->l[l].fc1b, T, E, F);
    if (v->gelu_tanh) ann_gelu_tanh_forward(g, h, T * F);
    else ann_gelu_forward(g, h, T * F);
    ann_linear_forward(v->x[l + 1], g, p->l[l].fc2w, p->l[l].fc2b, T, F, E);
    ann_residual_forward(v->x[l + 1], v->x[l + 1], res1, T * E);
  }
  ann_layernorm_forward(v->lnf, v->meanf, v->rstdf, v->x[v->L], p->lnfw, p->lnfb, T, E, v->eps);
  ann_pool_forward(v->pooled, v->lnf, B, S, E, 0);
  ann_linear_forward(v->logits, v->pooled, p->headw, p->headb, B, E, v->classes);
  return SF_OK;
}

void vit_net_backward(vit_net *v, const float *dlogits) {
  const int64_t B = v->B, S = v->S, E = v->E, F = v->F, H = v->H, D = E / H, T = B * S;
  const vit_params *p = &v->p;
  vit_params *g = &v->g;
  const size_t TE = sizeof(float) * (size_t)(T * E);
  /* head, pooling, final LayerNorm: dx = dL/dx_L */
  memset(v->dpooled, 0, sizeof(float) * (size_t)(B * E));
  ann_linear_backward(v->dpooled, g->headw, g->headb, dlogits, v->pooled, p->headw, B, E, v->classes);
  memset(v->dln, 0, TE);
  ann_pool_backward(v->dln, v->dpooled, B, S, E, 0);
  memset(v->dx, 0, TE);
  ann_layernorm_backward(v->dx, g->lnfw, g->lnfb, v->dln, v->x[v->L], p->lnfw, v->meanf, v->rstdf, T, E);
  for (int l = v->L - 1; l >= 0; l--) {
    const float *ln1 = v->ln1 + l * T * E, *qkv = v->qkv + l * T * 3 * E, *att = v->att + l * B * H * S * S, *atty = v->atty + l * T * E;
    const float *res1 = v->res1 + l * T * E, *ln2 = v->ln2 + l * T * E, *h = v->h + l * T * F, *ge = v->gelu + l * T * F;
    /* x_(l+1) = res1 + fc2(GELU(fc1(LN2(res1)))): dres1 = dx + the MLP branch's */
    memcpy(v->dx2, v->dx, TE); /* dres1 */
    memset(v->dg, 0, sizeof(float) * (size_t)(T * F));
    ann_linear_backward(v->dg, g->l[l].fc2w, g->l[l].fc2b, v->dx, ge, p->l[l].fc2w, T, F, E);
    memset(v->dh, 0, sizeof(float) * (size_t)(T * F));
    if (v->gelu_tanh) ann_gelu_tanh_backward(v->dh, v->dg, h, T * F);
    else ann_gelu_backward(v->dh, v->dg, h, T * F);
    memset(v->dln, 0, TE);
    ann_linear_backward(v->dln, g->l[l].fc1w, g->l[l].fc1b, v->dh, ln2, p->l[l].fc1w, T, E, F);
    ann_layernorm_backward(v->dx2, g->l[l].ln2w, g->l[l].ln2b, v->dln, res1, p->l[l].ln2w, v->mean2 + l * T, v->rstd2 + l * T, T, E);
    /* res1 = x_l + proj(attention(LN1(x_l) Wqkv)): dx_l = dres1 + the attention branch's */
    memcpy(v->dx, v->dx2, TE);
    memset(v->datty, 0, TE);
    ann_linear_backward(v->datty, g->l[l].projw, g->l[l].projb, v->dx2, atty, p->l[l].projw, T, E, E);
    memset(v->dqkv, 0, sizeof(float) * (size_t)(T * 3 * E));
    ann_attention_backward(v->dqkv, v->datty, qkv, att, B, S, H, D, v->scratch);
    memset(v->dln, 0, TE);
    ann_linear_backward(v->dln, g->l[l].qkvw, g->l[l].qkvb, v->dqkv, ln1, p->l[l].qkvw, T, E, 3 * E);
    ann_layernorm_backward(v->dx, g->l[l].ln1w, g->l[l].ln1b, v->dln, v->x[l], p->l[l].ln1w, v->mean1 + l * T, v->rstd1 + l * T, T, E);
  }
  ann_patch_embed_backward(g->pw, g->pb, g->cls, g->pos, v->dx, v->patches, B, v->Np, (int64_t)v->Cin * v->P * v->P, E);
}

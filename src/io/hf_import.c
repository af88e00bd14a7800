/* Hugging Face model directories (config.json + model.safetensors, as save_pretrained writes them)
 * built into the IR with transformers' tensor names:
 *   ViTForImageClassification, ViTModel, BertForSequenceClassification, BertModel,
 *   GPT2LMHeadModel, GPT2Model, SpikeformerMLP (our own config for plain MLPs), SpikeformerSequential
 *   (our own config for a chain of layers and explicit spiking neurons: what a NIR import becomes). */
#include <cJSON.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "io/graph_builder.h"
#include "ops/ops.h"
#include "spikeformer/graph.h"

typedef struct {
  cJSON *root;
  const char *path;
  sf_status st;
} cfg;

static double cfg_num(cfg *c, const char *key, double dflt, int required) {
  cJSON *v = cJSON_GetObjectItemCaseSensitive(c->root, key);
  if (cJSON_IsNumber(v)) return v->valuedouble;
  if (required && !c->st) c->st = sf_error(SF_ERR_FORMAT, "%s: config key '%s' is missing or not a number", c->path, key);
  return dflt;
}

/* A whole number in [lo, hi] (sizes from a config.json: 1e12 or 2.5 would not fit an int). */
static int cfg_int(cfg *c, const char *key, int dflt, int required, int lo, int hi) {
  cJSON *v = cJSON_GetObjectItemCaseSensitive(c->root, key);
  double x = cfg_num(c, key, dflt, required);
  if (v && cJSON_IsNumber(v) && !sf_whole_in(x, lo, hi)) {
    if (!c->st) c->st = sf_error(SF_ERR_FORMAT, "%s: config key '%s' must be a whole number from %d to %d (got %g)", c->path, key, lo, hi, x);
    return dflt;
  }
  return (int)x;
}

/* A layer-norm epsilon: finite, positive, below 1. */
static float cfg_eps(cfg *c, const char *key, double dflt) {
  double x = cfg_num(c, key, dflt, 0);
  if (!(x > 0 && x < 1)) {
    if (!c->st) c->st = sf_error(SF_ERR_FORMAT, "%s: config key '%s' must be a number in (0, 1) (got %g)", c->path, key, x);
    return (float)dflt;
  }
  return (float)x;
}

static const char *cfg_str(cfg *c, const char *key, const char *dflt) {
  cJSON *v = cJSON_GetObjectItemCaseSensitive(c->root, key);
  return cJSON_IsString(v) ? v->valuestring : dflt;
}

static int cfg_bool(cfg *c, const char *key, int dflt) {
  cJSON *v = cJSON_GetObjectItemCaseSensitive(c->root, key);
  return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

static int cfg_labels(cfg *c, int dflt) {
  cJSON *v = cJSON_GetObjectItemCaseSensitive(c->root, "id2label");
  if (cJSON_IsObject(v)) return cJSON_GetArraySize(v);
  return cfg_int(c, "num_labels", dflt, 0, 1, 1 << 24);
}

/* Resolve a weight name with or without the model prefix ("vit.", "bert.", "transformer."). */
static void wname(sf_builder *b, char *out, size_t n, const char *prefix, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void wname(sf_builder *b, char *out, size_t n, const char *prefix, const char *fmt, ...) {
  char tail[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tail, sizeof tail, fmt, ap);
  va_end(ap);
  snprintf(out, n, "%s%s", prefix, tail);
  if (!b_has(b, out) && *prefix && b_has(b, tail)) snprintf(out, n, "%s", tail);
}

static void name_output(sf_builder *b, int v, const char *name) {
  if (v < 0 || b->status) return;
  sf_status st = sf_graph_add_output(b->g, v);
  if (!st) st = sf_graph_rename_value(b->g, v, name);
  if (st && !b->status) b->status = st;
}

/* ---------------- ViT ---------------- */
static sf_status build_vit(sf_builder *b, cfg *c, int classifier) {
  int D = cfg_int(c, "hidden_size", 768, 1, 1, 1 << 24), L = cfg_int(c, "num_hidden_layers", 12, 1, 0, 4096);
  int H = cfg_int(c, "num_attention_heads", 12, 1, 1, 1 << 24), img = cfg_int(c, "image_size", 224, 0, 1, 1 << 24);
  int patch = cfg_int(c, "patch_size", 16, 0, 1, 1 << 24), ch = cfg_int(c, "num_channels", 3, 0, 1, 1 << 24);
  float eps = cfg_eps(c, "layer_norm_eps", 1e-12);
  const char *act = cfg_str(c, "hidden_act", "gelu");
  if (c->st) return c->st;
  if (H <= 0 || D % H) return sf_error(SF_ERR_FORMAT, "%s: hidden_size %d is not divisible by num_attention_heads %d", c->path, D, H);
  const char *P = classifier ? "vit." : "";
  char n1[512], n2[512];
  int64_t in_shape[4] = {-1, ch, img, img};
  int x = b_input(b, "pixel_values", SF_F32, 4, in_shape);
  wname(b, n1, sizeof n1, P, "embeddings.patch_embeddings.projection.weight");
  wname(b, n2, sizeof n2, P, "embeddings.patch_embeddings.projection.bias");
  int conv_in[3] = {x, b_weight(b, n1, 0), b_weight(b, n2, 0)};
  int e = b_op(b, "Conv", "", 3, conv_in);
  if (e >= 0) {
    int64_t k[2] = {patch, patch};
    if (sf_node_set_attr_ints(b_last_node(b), "kernel_shape", k, 2) || sf_node_set_attr_ints(b_last_node(b), "strides", k, 2))
      return sf_error(SF_ERR_NOMEM, "out of memory");
  }
  int64_t flat[3] = {0, D, -1};
  int fin[2] = {e, b_const_i64(b, "shape", flat, 3)};
  int tokens = b_op(b, "Reshape", "", 2, fin);
  int tr = b_op(b, "Transpose", "", 1, &tokens);
  if (tr >= 0) {
    int64_t perm[3] = {0, 2, 1};
    if (sf_node_set_attr_ints(b_last_node(b), "perm", perm, 3)) return sf_error(SF_ERR_NOMEM, "out of memory");
  }
  /* CLS token expanded to the batch: Expand(cls, [N, 1, D]) with N from Shape(pixel_values) */
  wname(b, n1, sizeof n1, P, "embeddings.cls_token");
  int cls = b_weight(b, n1, 0);
  int shp = b_op(b, "Shape", "", 1, &x);
  int64_t z = 0, one = 1;
  int sl_in[3] = {shp, b_const_i64(b, "start", &z, 1), b_const_i64(b, "end", &one, 1)};
  int nb = b_op(b, "Slice", "", 3, sl_in);
  int64_t rest[2] = {1, D};
  int cat_in[2] = {nb, b_const_i64(b, "cls_shape", rest, 2)};
  int cshape = b_op(b, "Concat", "", 2, cat_in);
  if (cshape >= 0) b_note(b, sf_node_set_attr_int(b_last_node(b), "axis", 0));
  int ex_in[2] = {cls, cshape};
  int cls_b = b_op(b, "Expand", "", 2, ex_in);
  int cc_in[2] = {cls_b, tr};
  int h = b_op(b, "Concat", "", 2, cc_in);
  if (h >= 0) b_note(b, sf_node_set_attr_int(b_last_node(b), "axis", 1));
  wname(b, n1, sizeof n1, P, "embeddings.position_embeddings");
  h = b_add(b, h, b_weight(b, n1, 0));
  int dh = D / H;
  for (int l = 0; l < L && !b->status; l++) {
    char pre[256], w[512], bb[512];
    snprintf(pre, sizeof pre, "%sencoder.layer.%d", P, l);
    if (!b_has(b, (snprintf(w, sizeof w, "%s.layernorm_before.weight", pre), w)) && *P) snprintf(pre, sizeof pre, "encoder.layer.%d", l);
    snprintf(w, sizeof w, "%s.layernorm_before", pre);
    int a = b_layernorm(b, h, w, "weight", "bias", eps);
    int qkv[3];
    const char *names[3] = {"query", "key", "value"};
    for (int k = 0; k < 3; k++) {
      snprintf(w, sizeof w, "%s.attention.attention.%s.weight", pre, names[k]);
      snprintf(bb, sizeof bb, "%s.attention.attention.%s.bias", pre, names[k]);
      qkv[k] = b_split_heads(b, b_linear(b, a, w, bb, 0), H, dh, k == 1);
    }
    int att = b_merge_heads(b, b_attention(b, qkv[0], qkv[1], qkv[2], -1, 1.0f / sqrtf((float)dh)), D);
    snprintf(w, sizeof w, "%s.attention.output.dense.weight", pre);
    snprintf(bb, sizeof bb, "%s.attention.output.dense.bias", pre);
    h = b_add(b, h, b_linear(b, att, w, bb, 0));
    snprintf(w, sizeof w, "%s.layernorm_after", pre);
    int m = b_layernorm(b, h, w, "weight", "bias", eps);
    snprintf(w, sizeof w, "%s.intermediate.dense.weight", pre);
    snprintf(bb, sizeof bb, "%s.intermediate.dense.bias", pre);
    m = b_act(b, b_linear(b, m, w, bb, 0), act);
    snprintf(w, sizeof w, "%s.output.dense.weight", pre);
    snprintf(bb, sizeof bb, "%s.output.dense.bias", pre);
    h = b_add(b, h, b_linear(b, m, w, bb, 0));
  }
  wname(b, n1, sizeof n1, P, "layernorm");
  h = b_layernorm(b, h, n1, "weight", "bias", eps);
  if (b->status) return b->status;
  if (classifier) {
    int logits = b_linear(b, b_take_token(b, h, 0), "classifier.weight", "classifier.bias", 0);
    if (b->status) return b->status;
    name_output(b, logits, "logits");
  } else {
    name_output(b, h, "last_hidden_state");
    if (b_has(b, "pooler.dense.weight")) {
      int p = b_linear(b, b_take_token(b, h, 0), "pooler.dense.weight", "pooler.dense.bias", 0);
      p = b_op(b, "Tanh", "", 1, &p);
      if (b->status) return b->status;
      name_output(b, p, "pooler_output");
    }
  }
  return b->status;
}

/* extended additive mask from attention_mask [N, S] int: (1 - m) * min -> [N, 1, 1, S] */
static int padding_mask(sf_builder *b, int mask) {
  int m = b_op(b, "Cast", "", 1, &mask);
  if (m >= 0) b_note(b, sf_node_set_attr_int(b_last_node(b), "to", 1));
  int sub_in[2] = {b_const_f32(b, "one", 1.0f), m};
  int inv = b_op(b, "Sub", "", 2, sub_in);
  int mul_in[2] = {inv, b_const_f32(b, "fmin", -FLT_MAX)};
  int add = b_op(b, "Mul", "", 2, mul_in);
  int64_t axes[2] = {1, 2};
  int un_in[2] = {add, b_const_i64(b, "axes", axes, 2)};
  return b_op(b, "Unsqueeze", "", 2, un_in);
}

/* The position embedding table [P, D] of a text model, recording P as the longest sequence it covers */
static int position_table(sf_builder *b, const char *name) {
  int w = b_weight(b, name, 0);
  if (w >= 0 && b->g->values[w].t.ndim == 2) b->g->max_positions = b->g->values[w].t.shape[0];
  return w;
}

/* ---------------- BERT ---------------- */
static sf_status build_bert(sf_builder *b, cfg *c, int classifier) {
  int D = cfg_int(c, "hidden_size", 768, 1, 1, 1 << 24), L = cfg_int(c, "num_hidden_layers", 12, 1, 0, 4096);
  int H = cfg_int(c, "num_attention_heads", 12, 1, 1, 1 << 24);
  float eps = cfg_eps(c, "layer_norm_eps", 1e-12);
  const char *act = cfg_str(c, "hidden_act", "gelu");
  const char *pos_type = cfg_str(c, "position_embedding_type", "absolute");
  if (c->st) return c->st;
  if (strcmp(pos_type, "absolute")) return sf_error(SF_ERR_UNSUPPORTED, "%s: position_embedding_type '%s' (only absolute)", c->path, pos_type);
  if (H <= 0 || D % H) return sf_error(SF_ERR_FORMAT, "%s: hidden_size %d is not divisible by num_attention_heads %d", c->path, D, H);
  const char *P = classifier ? "bert." : "";
  char n1[512];
  int64_t in_shape[2] = {-1, -1};
  int ids = b_input(b, "input_ids", SF_I64, 2, in_shape);
  int am = b_input(b, "attention_mask", SF_I64, 2, in_shape);
  wname(b, n1, sizeof n1, P, "embeddings.word_embeddings.weight");
  int g_in[2] = {b_weight(b, n1, 0), ids};
  int h = b_op(b, "Gather", "", 2, g_in);
  wname(b, n1, sizeof n1, P, "embeddings.position_embeddings.weight");
  h = b_add(b, h, b_rows_like(b, position_table(b, n1), ids, 1));
  wname(b, n1, sizeof n1, P, "embeddings.token_type_embeddings.weight");
  if (b_has(b, n1)) {
    /* token_type_ids default to zeros: add row 0 */
    int64_t z = 0;
    int tt_in[2] = {b_weight(b, n1, 0), b_const_i64(b, "row0", &z, 1)};
    h = b_add(b, h, b_op(b, "Gather", "", 2, tt_in));
  }
  wname(b, n1, sizeof n1, P, "embeddings.LayerNorm");
  h = b_layernorm(b, h, n1, "weight", "bias", eps);
  int mask = padding_mask(b, am);
  int dh = D / H;
  for (int l = 0; l < L && !b->status; l++) {
    char pre[256], w[512], bb[512];
    wname(b, pre, sizeof pre, P, "encoder.layer.%d", l);
    snprintf(w, sizeof w, "%sencoder.layer.%d.attention.self.query.weight", P, l);
    if (!b_has(b, w)) snprintf(pre, sizeof pre, "encoder.layer.%d", l);
    else snprintf(pre, sizeof pre, "%sencoder.layer.%d", P, l);
    int qkv[3];
    const char *names[3] = {"query", "key", "value"};
    for (int k = 0; k < 3; k++) {
      snprintf(w, sizeof w, "%s.attention.self.%s.weight", pre, names[k]);
      snprintf(bb, sizeof bb, "%s.attention.self.%s.bias", pre, names[k]);
      qkv[k] = b_split_heads(b, b_linear(b, h, w, bb, 0), H, dh, k == 1);
    }
    int att = b_merge_heads(b, b_attention(b, qkv[0], qkv[1], qkv[2], mask, 1.0f / sqrtf((float)dh)), D);
    snprintf(w, sizeof w, "%s.attention.output.dense.weight", pre);
    snprintf(bb, sizeof bb, "%s.attention.output.dense.bias", pre);
    h = b_add(b, h, b_linear(b, att, w, bb, 0));
    snprintf(w, sizeof w, "%s.attention.output.LayerNorm", pre);
    h = b_layernorm(b, h, w, "weight", "bias", eps);
    snprintf(w, sizeof w, "%s.intermediate.dense.weight", pre);
    snprintf(bb, sizeof bb, "%s.intermediate.dense.bias", pre);
    int m = b_act(b, b_linear(b, h, w, bb, 0), act);
    snprintf(w, sizeof w, "%s.output.dense.weight", pre);
    snprintf(bb, sizeof bb, "%s.output.dense.bias", pre);
    h = b_add(b, h, b_linear(b, m, w, bb, 0));
    snprintf(w, sizeof w, "%s.output.LayerNorm", pre);
    h = b_layernorm(b, h, w, "weight", "bias", eps);
  }
  if (b->status) return b->status;
  char pw[512], pb[512];
  wname(b, pw, sizeof pw, P, "pooler.dense.weight");
  wname(b, pb, sizeof pb, P, "pooler.dense.bias");
  int pooled = -1;
  if (b_has(b, pw)) {
    pooled = b_linear(b, b_take_token(b, h, 0), pw, pb, 0);
    pooled = b_op(b, "Tanh", "", 1, &pooled);
  }
  if (classifier) {
    if (pooled < 0) return sf_error(SF_ERR_FORMAT, "%s: BertForSequenceClassification without pooler weights", b->dir);
    name_output(b, b_linear(b, pooled, "classifier.weight", "classifier.bias", 0), "logits");
  } else {
    name_output(b, h, "last_hidden_state");
    if (pooled >= 0) name_output(b, pooled, "pooler_output");
  }
  return b->status;
}

/* ---------------- GPT-2 ---------------- */
static sf_status build_gpt2(sf_builder *b, cfg *c, int lm_head) {
  int D = cfg_int(c, "n_embd", 768, 1, 1, 1 << 24), L = cfg_int(c, "n_layer", 12, 1, 0, 4096), H = cfg_int(c, "n_head", 12, 1, 1, 1 << 24);
  int npos = cfg_int(c, "n_positions", 1024, 1, 1, 1 << 24);
  int inner = cfg_int(c, "n_inner", 4 * D, 0, 1, 1 << 24);
  float eps = cfg_eps(c, "layer_norm_epsilon", 1e-5);
  const char *act = cfg_str(c, "activation_function", "gelu_new");
  int scale_attn = cfg_bool(c, "scale_attn_weights", 1);
  if (c->st) return c->st;
  (void)inner;
  if (H <= 0 || D % H) return sf_error(SF_ERR_FORMAT, "%s: n_embd %d is not divisible by n_head %d", c->path, D, H);
  if (cfg_bool(c, "scale_attn_by_inverse_layer_idx", 0) || cfg_bool(c, "reorder_and_upcast_attn", 0))
    return sf_error(SF_ERR_UNSUPPORTED, "%s: scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn are not supported", c->path);
  const char *P = lm_head ? "transformer." : "";
  char n1[512];
  int64_t in_shape[2] = {-1, -1};
  int ids = b_input(b, "input_ids", SF_I64, 2, in_shape);
  int am = b_input(b, "attention_mask", SF_I64, 2, in_shape);
  wname(b, n1, sizeof n1, P, "wte.weight");
  char wte_name[512];
  snprintf(wte_name, sizeof wte_name, "%s", n1);
  int g_in[2] = {b_weight(b, n1, 0), ids};
  int h = b_op(b, "Gather", "", 2, g_in);
  wname(b, n1, sizeof n1, P, "wpe.weight");
  h = b_add(b, h, b_rows_like(b, position_table(b, n1), ids, 1));
  /* causal mask: [npos, npos] constant (0 allowed, -FLT_MAX future) sliced to [S, S] */
  sf_tensor cm;
  int64_t cs[2] = {npos, npos};
  if (npos <= 0 || npos > 8192) return sf_error(SF_ERR_UNSUPPORTED, "%s: n_positions %d", c->path, npos);
  sf_status st = sf_tensor_alloc(&cm, SF_F32, 2, cs);
  if (st) return st;
  for (int i = 0; i < npos; i++)
    for (int j = 0; j < npos; j++) ((float *)cm.data)[i * npos + j] = j <= i ? 0.0f : -FLT_MAX;
  int causal_full = b_const_tensor(b, "causal_mask", &cm);
  int rows = b_rows_like(b, causal_full, ids, 1);
  /* columns: slice axis 1 by the same length */
  int shp = b_op(b, "Shape", "", 1, &ids);
  int64_t one = 1, two = 2, z = 0, ax1 = 1;
  int sl_in[3] = {shp, b_const_i64(b, "start", &one, 1), b_const_i64(b, "end", &two, 1)};
  int slen = b_op(b, "Slice", "", 3, sl_in);
  int sc_in[4] = {rows, b_const_i64(b, "start", &z, 1), slen, b_const_i64(b, "axes", &ax1, 1)};
  int causal = b_op(b, "Slice", "", 4, sc_in);
  int mask = b_add(b, causal, padding_mask(b, am));
  int dh = D / H;
  float scale = scale_attn ? 1.0f / sqrtf((float)dh) : 1.0f;
  for (int l = 0; l < L && !b->status; l++) {
    char pre[256], w[512], bb[512];
    snprintf(pre, sizeof pre, "%sh.%d", P, l);
    snprintf(w, sizeof w, "%s.ln_1.weight", pre);
    if (!b_has(b, w) && *P) snprintf(pre, sizeof pre, "h.%d", l);
    snprintf(w, sizeof w, "%s.ln_1", pre);
    int a = b_layernorm(b, h, w, "weight", "bias", eps);
    snprintf(w, sizeof w, "%s.attn.c_attn.weight", pre);
    snprintf(bb, sizeof bb, "%s.attn.c_attn.bias", pre);
    int qkv = b_linear(b, a, w, bb, 1); /* Conv1D: weight is [in, out] */
    /* split into q, k, v along the last axis */
    if (b->status) break;
    int sp_in[2] = {qkv, -1};
    char name[128];
    snprintf(name, sizeof name, "Split_%d", b->counter++);
    int outs[3];
    for (int k = 0; k < 3; k++) {
      char on[160];
      snprintf(on, sizeof on, "%s:%d", name, k);
      outs[k] = sf_graph_value(b->g, on);
    }
    int idx = sf_graph_add_node(b->g, name, "Split", "", 1, sp_in, 3, outs);
    if (idx < 0) return sf_error(SF_ERR_NOMEM, "out of memory");
    b->g->nodes[idx].def = sf_op_find("Split", "");
    sf_status ast = sf_node_set_attr_int(&b->g->nodes[idx], "axis", 2);
    if (ast) return ast;
    int q = b_split_heads(b, outs[0], H, dh, 0), kt = b_split_heads(b, outs[1], H, dh, 1), v = b_split_heads(b, outs[2], H, dh, 0);
    int att = b_merge_heads(b, b_attention(b, q, kt, v, mask, scale), D);
    snprintf(w, sizeof w, "%s.attn.c_proj.weight", pre);
    snprintf(bb, sizeof bb, "%s.attn.c_proj.bias", pre);
    h = b_add(b, h, b_linear(b, att, w, bb, 1));
    snprintf(w, sizeof w, "%s.ln_2", pre);
    int m = b_layernorm(b, h, w, "weight", "bias", eps);
    snprintf(w, sizeof w, "%s.mlp.c_fc.weight", pre);
    snprintf(bb, sizeof bb, "%s.mlp.c_fc.bias", pre);
    m = b_act(b, b_linear(b, m, w, bb, 1), act);
    snprintf(w, sizeof w, "%s.mlp.c_proj.weight", pre);
    snprintf(bb, sizeof bb, "%s.mlp.c_proj.bias", pre);
    h = b_add(b, h, b_linear(b, m, w, bb, 1));
  }
  wname(b, n1, sizeof n1, P, "ln_f");
  h = b_layernorm(b, h, n1, "weight", "bias", eps);
  if (b->status) return b->status;
  if (lm_head) {
    int tied = cfg_bool(c, "tie_word_embeddings", 1);
    const char *head = b_has(b, "lm_head.weight") && !tied ? "lm_head.weight" : b_has(b, "lm_head.weight") ? "lm_head.weight" : wte_name;
    name_output(b, b_linear(b, h, head, NULL, 0), "logits");
  } else {
    name_output(b, h, "last_hidden_state");
  }
  return b->status;
}

/* ---------------- MLP (SpikeformerMLP) ---------------- */
static sf_status build_mlp(sf_builder *b, cfg *c) {
  cJSON *hs = cJSON_GetObjectItemCaseSensitive(c->root, "hidden_sizes");
  int in_size = cfg_int(c, "input_size", 784, 0, 1, 1 << 24);
  const char *act = cfg_str(c, "hidden_act", "relu");
  if (c->st) return c->st;
  if (!cJSON_IsArray(hs)) return sf_error(SF_ERR_FORMAT, "%s: 'hidden_sizes' must be a list", c->path);
  int side = (int)lround(sqrt((double)in_size));
  int64_t in_shape[SF_MAX_DIMS] = {-1, 1, side, side};
  int in_rank = side * side == in_size ? 4 : 2;
  if (in_rank == 2) in_shape[1] = in_size;
  /* "input_shape": the sample's shape ([C, H, W], [features]...) when it is not a square image */
  cJSON *ish = cJSON_GetObjectItemCaseSensitive(c->root, "input_shape");
  if (ish) {
    int64_t prod = 1;
    in_rank = cJSON_GetArraySize(ish) + 1;
    if (!cJSON_IsArray(ish) || in_rank < 2 || in_rank > SF_MAX_DIMS) return sf_error(SF_ERR_FORMAT, "%s: 'input_shape' must be a list of 1 to %d sizes", c->path, SF_MAX_DIMS - 1);
    for (int d = 1; d < in_rank; d++) {
      cJSON *e = cJSON_GetArrayItem(ish, d - 1);
      if (!cJSON_IsNumber(e) || e->valuedouble < 1 || e->valuedouble > (1 << 24) || e->valuedouble != floor(e->valuedouble))
        return sf_error(SF_ERR_FORMAT, "%s: 'input_shape' entry %d is not a positive integer", c->path, d - 1);
      in_shape[d] = (int64_t)e->valuedouble;
      prod *= in_shape[d];
    }
    if (prod != in_size) return sf_error(SF_ERR_FORMAT, "%s: 'input_shape' holds %lld values, 'input_size' is %d", c->path, (long long)prod, in_size);
  }
  int x = b_input(b, "pixel_values", SF_F32, in_rank, in_shape);
  int h = b_op(b, "Flatten", "", 1, &x);
  int n = cJSON_GetArraySize(hs);
  for (int l = 0; l <= n && !b->status; l++) {
    char w[64], bb[64];
    snprintf(w, sizeof w, "fc%d.weight", l + 1);
    snprintf(bb, sizeof bb, "fc%d.bias", l + 1);
    h = b_linear(b, h, w, bb, 0);
    if (l < n) h = b_act(b, h, act);
  }
  name_output(b, h, "logits");
  return b->status;
}

/* ---------------- SpikeformerSequential ---------------- */
/* config: "input_shape" [sizes of a sample], "layers": a list of
 *   {"type": "flatten"}                                      all but the batch axis into one
 *   {"type": "linear", "weight": W, "bias": B}               W [out, in] (nn.Linear's), B optional
 *   {"type": "conv", "weight": W, "bias": B, "strides", "pads", "dilations", "group"}   ONNX Conv
 *   {"type": "avgpool", "kernel_shape", "strides", "pads"}   ONNX AveragePool (pads counted: count_include_pad)
 *   {"type": "scale", "scale": S}                            x * S (S broadcast over the batch)
 *   {"type": "neuron", "theta": TH, "axis", "leak", "reset": "subtract"|"zero", "v_init"}
 *        an unsigned spiking neuron (spikeformer Neuron: thresholds TH per channel on axis; its ANN
 *        view is ReLU), as the converter would insert it
 * each with an optional "name" (the node's name), tensors named in the safetensors. */
static sf_status seq_ints(cfg *c, const cJSON *l, const char *key, int want, int64_t *out, int64_t dflt, int i) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(l, key);
  if (!a) {
    for (int k = 0; k < want; k++) out[k] = dflt;
    return SF_OK;
  }
  if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != want)
    return sf_error(SF_ERR_FORMAT, "%s: layer %d: '%s' must be a list of %d whole numbers", c->path, i, key, want);
  for (int k = 0; k < want; k++) {
    const cJSON *e = cJSON_GetArrayItem(a, k);
    if (!cJSON_IsNumber(e) || !sf_whole_in(e->valuedouble, 0, 1 << 24))
      return sf_error(SF_ERR_FORMAT, "%s: layer %d: '%s' entry %d must be a whole number in [0, 2^24]", c->path, i, key, k);
    out[k] = (int64_t)e->valuedouble;
  }
  return SF_OK;
}

static sf_status build_sequential(sf_builder *b, cfg *c) {
  cJSON *ish = cJSON_GetObjectItemCaseSensitive(c->root, "input_shape"), *layers = cJSON_GetObjectItemCaseSensitive(c->root, "layers");
  int rank = cJSON_IsArray(ish) ? cJSON_GetArraySize(ish) + 1 : 0;
  if (rank < 2 || rank > SF_MAX_DIMS) return sf_error(SF_ERR_FORMAT, "%s: 'input_shape' must be a list of 1 to %d sizes", c->path, SF_MAX_DIMS - 1);
  if (!cJSON_IsArray(layers) || cJSON_GetArraySize(layers) < 1) return sf_error(SF_ERR_FORMAT, "%s: 'layers' must be a non-empty list", c->path);
  int64_t shape[SF_MAX_DIMS] = {-1};
  for (int d = 1; d < rank; d++) {
    const cJSON *e = cJSON_GetArrayItem(ish, d - 1);
    if (!cJSON_IsNumber(e) || !sf_whole_in(e->valuedouble, 1, 1 << 24)) return sf_error(SF_ERR_FORMAT, "%s: 'input_shape' entry %d is not a positive integer", c->path, d - 1);
    shape[d] = (int64_t)e->valuedouble;
  }
  int h = b_input(b, "input", SF_F32, rank, shape);
  const int n = cJSON_GetArraySize(layers);
  for (int i = 0; i < n && !b->status; i++) {
    const cJSON *l = cJSON_GetArrayItem(layers, i);
    const char *type = cJSON_IsObject(l) ? cfg_str(&(cfg){(cJSON *)l, c->path, SF_OK}, "type", "") : "";
    const char *lname = cJSON_IsObject(l) ? cfg_str(&(cfg){(cJSON *)l, c->path, SF_OK}, "name", NULL) : NULL;
    const char *wn = cJSON_IsObject(l) ? cfg_str(&(cfg){(cJSON *)l, c->path, SF_OK}, "weight", NULL) : NULL;
    const char *bn = cJSON_IsObject(l) ? cfg_str(&(cfg){(cJSON *)l, c->path, SF_OK}, "bias", NULL) : NULL;
    sf_status st = SF_OK;
    if (!strcmp(type, "flatten")) {
      h = b_op(b, "Flatten", "", 1, &h);
      if (h >= 0) st = sf_node_set_attr_int(b_last_node(b), "axis", 1);
    } else if (!strcmp(type, "linear")) {
      if (!wn) return sf_error(SF_ERR_FORMAT, "%s: layer %d (linear) has no 'weight'", c->path, i);
      h = b_linear(b, h, wn, bn, 0);
    } else if (!strcmp(type, "conv")) {
      if (!wn) return sf_error(SF_ERR_FORMAT, "%s: layer %d (conv) has no 'weight'", c->path, i);
      int w = b_weight(b, wn, 0);
      if (w < 0) return b->status;
      const int sd = b->g->values[w].t.ndim - 2;
      if (sd < 1 || sd > 2) return sf_error(SF_ERR_SHAPE, "%s: layer %d (conv): weight '%s' has rank %d (1-D or 2-D convolutions only)", c->path, i, wn, sd + 2);
      int64_t strides[2], pads[4], dil[2], kern[2] = {b->g->values[w].t.shape[2], sd > 1 ? b->g->values[w].t.shape[3] : 1};
      int64_t group = (int64_t)cfg_int(&(cfg){(cJSON *)l, c->path, SF_OK}, "group", 1, 0, 1, 1 << 24);
      if ((st = seq_ints(c, l, "strides", sd, strides, 1, i)) || (st = seq_ints(c, l, "pads", 2 * sd, pads, 0, i)) || (st = seq_ints(c, l, "dilations", sd, dil, 1, i))) return st;
      int in[3] = {h, w, bn ? b_weight(b, bn, 0) : -1};
      h = b_op(b, "Conv", "", bn ? 3 : 2, in);
      if (h >= 0) {
        sf_node *nd = b_last_node(b);
        if ((st = sf_node_set_attr_ints(nd, "kernel_shape", kern, sd)) || (st = sf_node_set_attr_ints(nd, "strides", strides, sd)) ||
            (st = sf_node_set_attr_ints(nd, "pads", pads, 2 * sd)) || (st = sf_node_set_attr_ints(nd, "dilations", dil, sd)) ||
            (st = sf_node_set_attr_int(nd, "group", group)))
          return st;
      }
    } else if (!strcmp(type, "avgpool")) {
      int64_t kern[2], strides[2], pads[4];
      if ((st = seq_ints(c, l, "kernel_shape", 2, kern, 1, i)) || (st = seq_ints(c, l, "strides", 2, strides, 1, i)) || (st = seq_ints(c, l, "pads", 4, pads, 0, i))) return st;
      h = b_op(b, "AveragePool", "", 1, &h);
      if (h >= 0) {
        sf_node *nd = b_last_node(b);
        if ((st = sf_node_set_attr_ints(nd, "kernel_shape", kern, 2)) || (st = sf_node_set_attr_ints(nd, "strides", strides, 2)) ||
            (st = sf_node_set_attr_ints(nd, "pads", pads, 4)) || (st = sf_node_set_attr_int(nd, "count_include_pad", 1)))
          return st;
      }
    } else if (!strcmp(type, "scale")) {
      const char *sn = cfg_str(&(cfg){(cJSON *)l, c->path, SF_OK}, "scale", NULL);
      if (!sn) return sf_error(SF_ERR_FORMAT, "%s: layer %d (scale) has no 'scale'", c->path, i);
      int in[2] = {h, b_weight(b, sn, 0)};
      h = b_op(b, "Mul", "", 2, in);
    } else if (!strcmp(type, "neuron")) {
      cfg lc = {(cJSON *)l, c->path, SF_OK};
      const char *tn = cfg_str(&lc, "theta", NULL), *reset = cfg_str(&lc, "reset", "subtract");
      double leak = cfg_num(&lc, "leak", 1.0, 0), v_init = cfg_num(&lc, "v_init", 0.5, 0);
      int axis = cfg_int(&lc, "axis", 1, 0, 1, SF_MAX_DIMS - 1);
      sf_reset_mode rm;
      if (lc.st) return lc.st;
      if (!tn) return sf_error(SF_ERR_FORMAT, "%s: layer %d (neuron) has no 'theta'", c->path, i);
      if (!(leak >= 0 && leak <= 1)) return sf_error(SF_ERR_FORMAT, "%s: layer %d (neuron): leak %g is not in [0, 1]", c->path, i, leak);
      if (!(v_init >= 0 && v_init < 1)) return sf_error(SF_ERR_FORMAT, "%s: layer %d (neuron): v_init %g is not in [0, 1)", c->path, i, v_init);
      if (sf_reset_parse(reset, &rm)) return sf_error(SF_ERR_FORMAT, "%s: layer %d (neuron): reset '%s' is not subtract or zero", c->path, i, reset);
      int in[2] = {h, b_weight(b, tn, 0)};
      h = b_op(b, "Neuron", "spikeformer", 2, in);
      if (h >= 0) {
        sf_node *nd = b_last_node(b);
        if ((st = sf_node_set_attr_int(nd, "signed", 0)) || (st = sf_node_set_attr_int(nd, "axis", axis)) ||
            (st = sf_node_set_attr_string(nd, "model", leak == 1.0 ? "if" : "lif")) || (st = sf_node_set_attr_int(nd, "levels", 1)) ||
            (st = sf_node_set_attr_float(nd, "leak", (float)leak)) || (rm != SF_RESET_SUBTRACT && (st = sf_node_set_attr_int(nd, "reset", rm))) ||
            ((float)v_init != 0.5f && (st = sf_node_set_attr_float(nd, "v_init", (float)v_init))))
          return st;
      }
    } else {
      return sf_error(SF_ERR_FORMAT, "%s: layer %d: unknown type '%s' (flatten, linear, conv, avgpool, scale, neuron)", c->path, i, type);
    }
    if (st) return st;
    if (h >= 0 && lname) {
      sf_node *nd = b_last_node(b);
      char *nm = sf_strdup(lname);
      if (!nm) return sf_error(SF_ERR_NOMEM, "out of memory");
      free(nd->name);
      nd->name = nm;
    }
  }
  name_output(b, h, "output");
  return b->status;
}

/* Build from config text and (optionally) an in-memory safetensors buffer; dir names the model. */
static sf_status load_hf(const char *dir, const char *text, const char *cpath, const void *st_buf, size_t st_len, sf_graph **out) {
  *out = NULL;
  sf_status st = SF_OK;
  cfg c = {cJSON_Parse(text), cpath, SF_OK};
  if (!c.root || !cJSON_IsObject(c.root)) {
    cJSON_Delete(c.root);
    return sf_error(SF_ERR_FORMAT, "%s: invalid JSON", cpath);
  }
  const char *arch = NULL;
  cJSON *archs = cJSON_GetObjectItemCaseSensitive(c.root, "architectures");
  if (cJSON_IsArray(archs) && cJSON_GetArraySize(archs) > 0 && cJSON_IsString(cJSON_GetArrayItem(archs, 0)))
    arch = cJSON_GetArrayItem(archs, 0)->valuestring;
  const char *mt = cfg_str(&c, "model_type", "");
  if (!arch) {
    if (!strcmp(mt, "vit")) arch = "ViTModel";
    else if (!strcmp(mt, "bert")) arch = "BertModel";
    else if (!strcmp(mt, "gpt2")) arch = "GPT2Model";
    else if (!strcmp(mt, "spikeformer_mlp")) arch = "SpikeformerMLP";
    else if (!strcmp(mt, "spikeformer_sequential")) arch = "SpikeformerSequential";
    else arch = "";
  }
  sf_safetensors w = {0};
  st = st_buf ? sf_safetensors_parse(st_buf, st_len, dir, &w) : sf_safetensors_load_dir(dir, &w);
  if (st) { sf_safetensors_free(&w); cJSON_Delete(c.root); return st; }
  sf_builder b = {sf_graph_new(), &w, dir, arch, SF_OK, 0};
  if (!b.g) st = sf_error(SF_ERR_NOMEM, "out of memory");
  else if (!strcmp(arch, "ViTForImageClassification")) st = build_vit(&b, &c, 1);
  else if (!strcmp(arch, "ViTModel")) st = build_vit(&b, &c, 0);
  else if (!strcmp(arch, "BertForSequenceClassification")) st = build_bert(&b, &c, 1);
  else if (!strcmp(arch, "BertModel")) st = build_bert(&b, &c, 0);
  else if (!strcmp(arch, "GPT2LMHeadModel")) st = build_gpt2(&b, &c, 1);
  else if (!strcmp(arch, "GPT2Model")) st = build_gpt2(&b, &c, 0);
  else if (!strcmp(arch, "SpikeformerMLP")) st = build_mlp(&b, &c);
  else if (!strcmp(arch, "SpikeformerSequential")) st = build_sequential(&b, &c);
  else st = sf_error(SF_ERR_UNSUPPORTED, "%s: architecture '%s' (model_type '%s') is not supported; supported: ViTForImageClassification, "
                     "ViTModel, BertForSequenceClassification, BertModel, GPT2LMHeadModel, GPT2Model, SpikeformerMLP, SpikeformerSequential", cpath, arch, mt);
  if (!st && b.status) st = b.status;
  if (!st && cfg_labels(&c, 0) > 0 && strstr(arch, "Classification")) {
    /* sanity: classifier rows must match the label count */
    sf_st_entry *cw = sf_safetensors_find(&w, "classifier.weight");
    if (cw && cw->t.ndim == 2 && cw->t.shape[0] != cfg_labels(&c, 0))
      st = sf_error(SF_ERR_SHAPE, "%s: classifier.weight has %lld rows but config declares %d labels", dir, (long long)cw->t.shape[0], cfg_labels(&c, 0));
  }
  if (!st) {
    free(b.g->source); free(b.g->format); free(b.g->architecture); free(b.g->producer);
    b.g->source = sf_strdup(dir);
    b.g->format = sf_strdup("safetensors");
    b.g->architecture = sf_strdup(arch);
    b.g->producer = sf_strfmt("transformers %s", cfg_str(&c, "transformers_version", "?"));
    b.g->opset = 17;
    st = sf_graph_toposort(b.g);
  }
  sf_safetensors_free(&w);
  cJSON_Delete(c.root);
  if (st) { sf_graph_free(b.g); return st; }
  *out = b.g;
  return SF_OK;
}

sf_status sf_graph_load_hf(const char *dir, sf_graph **out) {
  *out = NULL;
  char *cpath = sf_strfmt("%s/config.json", dir);
  char *text = NULL;
  size_t n;
  sf_status st = sf_file_exists(cpath) ? sf_read_file(cpath, &text, &n)
                                        : sf_error(SF_ERR_IO, "%s: not a model: no config.json in this directory", dir);
  if (!st) st = load_hf(dir, text, cpath, NULL, 0, out);
  free(text);
  free(cpath);
  return st;
}

sf_status sf_graph_load_hf_memory(const char *name, const char *config_text, const void *safetensors, size_t len, sf_graph **out) {
  char *cpath = sf_strfmt("%s/config.json", name);
  sf_status st = load_hf(name, config_text, cpath, safetensors, len, out);
  free(cpath);
  return st;
}

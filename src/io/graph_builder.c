#include "io/graph_builder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "ops/ops.h"

static int fail(sf_builder *b, sf_status st) {
  if (!b->status) b->status = st;
  return -1;
}

sf_status b_note(sf_builder *b, sf_status st) {
  if (st && !b->status) b->status = st;
  return st;
}

/* y, or -1 (recorded) when setting the attribute that makes it failed */
static int attr_ok(sf_builder *b, int y, sf_status st) { return st ? fail(b, st) : y; }

int b_has(sf_builder *b, const char *name) { return sf_safetensors_find(b->w, name) != NULL; }

int b_weight(sf_builder *b, const char *name, int transpose) {
  if (b->status) return -1;
  char key[512];
  snprintf(key, sizeof key, "%s%s", name, transpose ? "#T" : "");
  int v = sf_graph_find_value(b->g, key);
  if (v >= 0) return v;
  sf_st_entry *e = sf_safetensors_find(b->w, name);
  if (!e) return fail(b, sf_error(SF_ERR_FORMAT, "%s: tensor '%s' not found in the checkpoint (needed by %s)", b->dir, name, b->arch));
  sf_tensor t;
  sf_status st;
  if (transpose) {
    if (e->t.ndim != 2) return fail(b, sf_error(SF_ERR_SHAPE, "%s: tensor '%s' should be 2-D, has rank %d", b->dir, name, e->t.ndim));
    int64_t r = e->t.shape[0], c = e->t.shape[1], shape[2] = {c, r};
    if ((st = sf_tensor_alloc(&t, SF_F32, 2, shape))) return fail(b, st);
    const float *s = e->t.data;
    float *d = t.data;
    for (int64_t i = 0; i < r; i++)
      for (int64_t j = 0; j < c; j++) d[j * r + i] = s[i * c + j];
  } else if ((st = sf_tensor_clone(&t, &e->t))) {
    return fail(b, st);
  }
  v = sf_graph_add_const(b->g, key, &t);
  if (v < 0) { sf_tensor_free(&t); return fail(b, sf_error(SF_ERR_NOMEM, "out of memory")); }
  return v;
}

int b_const_tensor(sf_builder *b, const char *hint, sf_tensor *t) {
  if (b->status) { sf_tensor_free(t); return -1; }
  char name[256];
  snprintf(name, sizeof name, "%s_%d", hint, b->counter++);
  int v = sf_graph_add_const(b->g, name, t);
  if (v < 0) { sf_tensor_free(t); return fail(b, sf_error(SF_ERR_NOMEM, "out of memory")); }
  return v;
}

int b_const_i64(sf_builder *b, const char *hint, const int64_t *vals, int n) {
  sf_tensor t;
  int64_t nn = n;
  sf_status st = sf_tensor_alloc(&t, SF_I64, 1, &nn);
  if (st) return fail(b, st);
  memcpy(t.data, vals, sizeof(int64_t) * (size_t)n);
  return b_const_tensor(b, hint, &t);
}

int b_const_f32(sf_builder *b, const char *hint, float v) {
  sf_tensor t;
  sf_status st = sf_tensor_alloc(&t, SF_F32, 0, NULL);
  if (st) return fail(b, st);
  *(float *)t.data = v;
  return b_const_tensor(b, hint, &t);
}

sf_node *b_last_node(sf_builder *b) { return &b->g->nodes[b->g->n_nodes - 1]; }

int b_op(sf_builder *b, const char *op, const char *domain, int n_in, const int *in) {
  if (b->status) return -1;
  for (int i = 0; i < n_in; i++)
    if (in[i] < -1) return fail(b, sf_error(SF_ERR_INTERNAL, "builder: bad input"));
  char name[128], out[160];
  snprintf(name, sizeof name, "%s_%d", op, b->counter++);
  snprintf(out, sizeof out, "%s:0", name);
  int o = sf_graph_value(b->g, out);
  if (o < 0) return fail(b, sf_error(SF_ERR_NOMEM, "out of memory"));
  int idx = sf_graph_add_node(b->g, name, op, domain, n_in, in, 1, &o);
  if (idx < 0) return fail(b, sf_error(SF_ERR_NOMEM, "out of memory"));
  b->g->nodes[idx].def = sf_op_find(op, domain);
  if (!b->g->nodes[idx].def) return fail(b, sf_error(SF_ERR_INTERNAL, "builder: unknown op %s", op));
  return o;
}

int b_input(sf_builder *b, const char *name, sf_dtype dt, int ndim, const int64_t *shape) {
  if (b->status) return -1;
  int v = sf_graph_value(b->g, name);
  if (v < 0) return fail(b, sf_error(SF_ERR_NOMEM, "out of memory"));
  sf_tensor_describe(&b->g->values[v].t, dt, ndim, shape);
  sf_status st = sf_graph_add_input(b->g, v);
  return st ? fail(b, st) : v;
}

int b_linear(sf_builder *b, int x, const char *wname, const char *bname, int weight_is_in_out) {
  int w = b_weight(b, wname, !weight_is_in_out);
  int bias = bname && b_has(b, bname) ? b_weight(b, bname, 0) : -1;
  if (bname && bias < 0 && !b_has(b, bname)) bias = -1;
  int in[3] = {x, w, bias};
  return b_op(b, "Linear", "spikeformer", bias >= 0 ? 3 : 2, in);
}

int b_layernorm(sf_builder *b, int x, const char *prefix, const char *wsuffix, const char *bsuffix, float eps) {
  char wn[512], bn[512];
  snprintf(wn, sizeof wn, "%s.%s", prefix, wsuffix);
  snprintf(bn, sizeof bn, "%s.%s", prefix, bsuffix);
  /* older checkpoints name LayerNorm parameters gamma / beta */
  if (!b_has(b, wn)) { snprintf(wn, sizeof wn, "%s.gamma", prefix); snprintf(bn, sizeof bn, "%s.beta", prefix); }
  int in[3] = {x, b_weight(b, wn, 0), b_weight(b, bn, 0)};
  int y = b_op(b, "LayerNormalization", "spikeformer", 3, in);
  if (y >= 0) y = attr_ok(b, y, sf_node_set_attr_int(b_last_node(b), "axis", -1));
  if (y >= 0) y = attr_ok(b, y, sf_node_set_attr_float(b_last_node(b), "epsilon", eps));
  return y;
}

int b_act(sf_builder *b, int x, const char *act) {
  if (!strcmp(act, "gelu")) {
    int y = b_op(b, "Gelu", "spikeformer", 1, &x);
    if (y >= 0) y = attr_ok(b, y, sf_node_set_attr_string(b_last_node(b), "approximate", "none"));
    return y;
  }
  if (!strcmp(act, "gelu_new") || !strcmp(act, "gelu_pytorch_tanh") || !strcmp(act, "gelu_fast")) {
    int y = b_op(b, "Gelu", "spikeformer", 1, &x);
    if (y >= 0) y = attr_ok(b, y, sf_node_set_attr_string(b_last_node(b), "approximate", "tanh"));
    return y;
  }
  if (!strcmp(act, "relu")) return b_op(b, "Relu", "", 1, &x);
  if (!strcmp(act, "tanh")) return b_op(b, "Tanh", "", 1, &x);
  if (!strcmp(act, "sigmoid")) return b_op(b, "Sigmoid", "", 1, &x);
  return fail(b, sf_error(SF_ERR_UNSUPPORTED, "%s: hidden_act '%s' is not supported (gelu, gelu_new, relu, tanh, sigmoid)", b->dir, act));
}

static int transpose(sf_builder *b, int x, const int64_t *perm, int n) {
  int y = b_op(b, "Transpose", "", 1, &x);
  if (y >= 0 && sf_node_set_attr_ints(b_last_node(b), "perm", perm, n)) return fail(b, sf_error(SF_ERR_NOMEM, "out of memory"));
  return y;
}

static int reshape(sf_builder *b, int x, const int64_t *shape, int n) {
  int in[2] = {x, b_const_i64(b, "shape", shape, n)};
  return b_op(b, "Reshape", "", 2, in);
}

int b_split_heads(sf_builder *b, int x, int heads, int dh, int transpose_k) {
  int64_t shape[4] = {0, 0, heads, dh};
  int r = reshape(b, x, shape, 4);
  static const int64_t p_q[4] = {0, 2, 1, 3}, p_k[4] = {0, 2, 3, 1};
  return transpose(b, r, transpose_k ? p_k : p_q, 4);
}

int b_merge_heads(sf_builder *b, int x, int d) {
  static const int64_t p[4] = {0, 2, 1, 3};
  int t = transpose(b, x, p, 4);
  int64_t shape[3] = {0, 0, d};
  return reshape(b, t, shape, 3);
}

int b_attention(sf_builder *b, int q, int kt, int v, int mask, float scale) {
  int in[4] = {q, kt, v, mask};
  int y = b_op(b, "Attention", "spikeformer", mask >= 0 ? 4 : 3, in);
  if (y >= 0) y = attr_ok(b, y, sf_node_set_attr_float(b_last_node(b), "scale", scale));
  return y;
}

int b_add(sf_builder *b, int x, int y) {
  int in[2] = {x, y};
  return b_op(b, "Add", "", 2, in);
}

int b_take_token(sf_builder *b, int x, int64_t index) {
  sf_tensor t;
  sf_status st = sf_tensor_alloc(&t, SF_I64, 0, NULL);
  if (st) return fail(b, st);
  *(int64_t *)t.data = index;
  int in[2] = {x, b_const_tensor(b, "token_index", &t)};
  int y = b_op(b, "Gather", "", 2, in);
  if (y >= 0) y = attr_ok(b, y, sf_node_set_attr_int(b_last_node(b), "axis", 1));
  return y;
}

int b_rows_like(sf_builder *b, int table, int like, int axis) {
  int shp = b_op(b, "Shape", "", 1, &like);
  int64_t a0 = axis, a1 = axis + 1, zero = 0, ax0 = 0;
  int in_s[3] = {shp, b_const_i64(b, "start", &a0, 1), b_const_i64(b, "end", &a1, 1)};
  int n = b_op(b, "Slice", "", 3, in_s);
  int in[4] = {table, b_const_i64(b, "start", &zero, 1), n, b_const_i64(b, "axes", &ax0, 1)};
  return b_op(b, "Slice", "", 4, in);
}

/* NIR import (nir.h): a NIR file as a SpikeformerSequential model (hf_import.c) with its neurons in
 * it, saved like any converted model.
 *
 *   NIR                         SpikeFormer
 *   Input(shape S)              input [N, S]
 *   Affine / Linear             Linear (weight [out, in]; no bias: zero)
 *   Conv1d / Conv2d             Conv (symmetric pads; "same" / "valid")
 *   Flatten (to one axis)       Flatten(axis 1)
 *   AvgPool2d                   AveragePool (padding counted, as torch's)
 *   SumPool2d                   AveragePool, k^2 folded into the next layer (or a final scale)
 *   Scale(s)                    folded into the next layer (or a final scale)
 *   LIF(tau, r, v_leak 0, v_threshold, v_reset 0)
 *                               Neuron: leak = 1 - dt / tau, theta = v_threshold / (r dt / tau), reset to
 *                               zero (spike when u > theta), v starts at 0; our spike carries theta, a
 *                               NIR spike 1: the next layer takes 1 / theta
 *   IF(r, v_threshold, v_reset 0)        the same with leak 1 and theta = v_threshold / (r dt)
 *   CubaLIF (tau_syn = dt: no synaptic decay)  LIF with the input scaled by w_in dt / tau_syn
 *   Threshold(threshold)        Neuron with leak 0, reset to zero (a spike when x > threshold)
 *   Output(shape)               the model's output
 * Nested NIRGraphs are inlined (their Input and Output become pass-throughs). dt: the file's
 * metadata "dt" (ours writes it), else the option's, else the dialect's. Our own metadata
 * (spikeformer_reset, spikeformer_v_init) restores reset by subtraction and the initial membrane. */
#include <cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/convert_internal.h"
#include "core/util.h"
#include "io/nir_h5.h"
#include "io/safetensors.h"
#include "spikeformer/nir.h"

/* ---------------- the flat node list ---------------- */

typedef struct {
  char *name;        /* full name (nested: "outer.inner") */
  const nir_node *n; /* NULL: a pass-through (a nested graph's Input / Output) */
  int succ, pred, n_succ, n_pred;
} fnode;

typedef struct {
  const char *path;
  fnode *v;
  int n;
  int *ea, *eb, n_e;  /* every edge */
  sf_status st;
} flat;

static int flat_add(flat *f, const char *name, const nir_node *n) {
  fnode *nv = realloc(f->v, sizeof *nv * (size_t)(f->n + 1));
  if (!nv) return -1;
  f->v = nv;
  memset(&nv[f->n], 0, sizeof *nv);
  nv[f->n].name = sf_strdup(name);
  nv[f->n].n = n;
  nv[f->n].succ = nv[f->n].pred = -1;
  if (!nv[f->n].name) return -1;
  return f->n++;
}

static sf_status ffail(flat *f, sf_status code, const char *fmt, const char *a, const char *b, const char *c) {
  if (!f->st) {
    char msg[1024];
    snprintf(msg, sizeof msg, fmt, a, b, c);
    f->st = sf_error(code, "%s: %s", f->path, msg);
  }
  return f->st;
}

static void link_edge(flat *f, int a, int b) {
  int *na = realloc(f->ea, sizeof(int) * (size_t)(f->n_e + 1));
  if (na) f->ea = na;
  int *nb = na ? realloc(f->eb, sizeof(int) * (size_t)(f->n_e + 1)) : NULL;
  if (nb) f->eb = nb;
  if (!na || !nb) { ffail(f, SF_ERR_NOMEM, "out of memory%s%s%s", "", "", ""); return; }
  f->ea[f->n_e] = a;
  f->eb[f->n_e++] = b;
  if (f->v[a].n_succ++ == 0) f->v[a].succ = b;
  if (f->v[b].n_pred++ == 0) f->v[b].pred = a;
}

/* Add g's nodes (names prefixed) to f; entry / exit: the flat nodes its edges reach for node i. */
static sf_status flatten_graph(flat *f, const nir_graph *g, const char *prefix, int *entry_of_input, int *exit_of_output, int top) {
  int *entry = calloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof(int)), *exit_ = calloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof(int));
  if (!entry || !exit_) { free(entry); free(exit_); return ffail(f, SF_ERR_NOMEM, "out of memory%s%s%s", "", "", ""); }
  int n_in = 0, n_out = 0;
  char full[600];
  for (int i = 0; i < g->n_nodes && !f->st; i++) {
    const nir_node *nd = &g->nodes[i];
    snprintf(full, sizeof full, "%.280s%.280s", prefix, nd->name);
    if (nd->sub) {
      char pre[600];
      snprintf(pre, sizeof pre, "%.580s.", full);
      flatten_graph(f, nd->sub, pre, &entry[i], &exit_[i], 0);
      continue;
    }
    const int is_in = !strcmp(nd->type, "Input"), is_out = !strcmp(nd->type, "Output");
    int k = flat_add(f, full, top || (!is_in && !is_out) ? nd : NULL);
    if (k < 0) { ffail(f, SF_ERR_NOMEM, "out of memory%s%s%s", "", "", ""); break; }
    entry[i] = exit_[i] = k;
    if (is_in) { n_in++; if (entry_of_input) *entry_of_input = k; }
    if (is_out) { n_out++; if (exit_of_output) *exit_of_output = k; }
  }
  if (!f->st && !top && (n_in != 1 || n_out != 1)) {
    char a[32], b[32];
    snprintf(a, sizeof a, "%d", n_in);
    snprintf(b, sizeof b, "%d", n_out);
    ffail(f, SF_ERR_UNSUPPORTED, "nested graph '%s' has %s Input and %s Output nodes; a nested graph needs one of each", prefix, a, b);
  }
  for (int e = 0; e < g->n_edges && !f->st; e++) {
    const char *a = g->edges[2 * e], *b = g->edges[2 * e + 1];
    int ia = -1, ib = -1;
    for (int i = 0; i < g->n_nodes; i++) {
      if (!strcmp(g->nodes[i].name, a)) ia = i;
      if (!strcmp(g->nodes[i].name, b)) ib = i;
    }
    char where[640];
    snprintf(where, sizeof where, "%.300s%.10s", *prefix ? prefix : "the top graph", *prefix ? "" : "");
    if (ia < 0 || ib < 0)
      ffail(f, SF_ERR_FORMAT, "graph '%s': field 'edges': an edge names '%s', which is not a node of this graph", where, ia < 0 ? a : b, "");
    else link_edge(f, exit_[ia], entry[ib]);
  }
  free(entry);
  free(exit_);
  return f->st;
}

/* A cycle among the edges: 0, or -1 with the error naming the nodes on it. */
static int find_cycle(flat *f) {
  int *color = calloc((size_t)(f->n ? f->n : 1), sizeof(int)), *stack = malloc(sizeof(int) * (size_t)(f->n + 1)), *from = malloc(sizeof(int) * (size_t)(f->n + 1));
  int found = 0;
  if (!color || !stack || !from) { free(color); free(stack); free(from); ffail(f, SF_ERR_NOMEM, "out of memory%s%s%s", "", "", ""); return -1; }
  for (int s0 = 0; s0 < f->n && !found; s0++) {
    if (color[s0]) continue;
    /* iterative DFS: stack of nodes, from[k] = the next edge to try */
    int sp = 0;
    stack[sp] = s0;
    from[sp] = 0;
    color[s0] = 1;
    while (sp >= 0 && !found) {
      const int u = stack[sp];
      int e = from[sp];
      while (e < f->n_e && f->ea[e] != u) e++;
      if (e == f->n_e) { color[u] = 2; sp--; continue; }
      from[sp] = e + 1;
      const int v = f->eb[e];
      if (color[v] == 1) {
        char path[700] = "";
        size_t k = 0;
        int start = sp;
        while (start > 0 && stack[start] != v) start--;
        for (int i = start; i <= sp && k < sizeof path - 80; i++) k += (size_t)snprintf(path + k, sizeof path - k, "'%s' -> ", f->v[stack[i]].name);
        snprintf(path + k, sizeof path - k, "'%s'", f->v[v].name);
        ffail(f, SF_ERR_FORMAT, "node '%s': field 'edges': a cycle (%s); NIR graphs here are feed-forward chains%s", f->v[v].name, path, "");
        found = 1;
      } else if (!color[v]) {
        color[v] = 1;
        stack[++sp] = v;
        from[sp] = 0;
      }
    }
  }
  free(color);
  free(stack);
  free(from);
  return found ? -1 : 0;
}

/* ---------------- the walk ---------------- */

typedef struct {
  const char *path;
  double dt;
  cJSON *layers, *report_nodes, *warnings;
  char **tnames;
  sf_tensor *tensors;
  int n_t;
  int ndim;                       /* batch-less shape of the current value */
  int64_t shape[SF_MAX_DIMS];
  float *pnum, *pden;             /* pending factor pnum / pden per element for the next weighted layer (NULL: 1) */
  int last_w;                     /* index in `layers` of the last weighted layer since the last neuron, -1 */
  int w_ok;
  int neurons, lif, zero_reset, zero_init;
  float leak_any;
} walk;

static int64_t numel_w(const walk *w) {
  int64_t n = 1;
  for (int d = 0; d < w->ndim; d++) n *= w->shape[d];
  return n;
}

static const char *shape_txt(int ndim, const int64_t *s, char *buf, size_t cap) {
  size_t k = (size_t)snprintf(buf, cap, "[");
  for (int d = 0; d < ndim && k < cap; d++) k += (size_t)snprintf(buf + k, cap - k, "%s%lld", d ? "," : "", (long long)s[d]);
  if (k < cap) snprintf(buf + k, cap - k, "]");
  return buf;
}

static sf_status nfail(const walk *w, const char *node, sf_status code, const char *field, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static sf_status nfail(const walk *w, const char *node, sf_status code, const char *field, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return sf_error(code, "%s: node '%s': field '%s': %s", w->path, node, field, msg);
}

/* a numeric field (required) with n elements (n < 0: any) */
static sf_status get_num(const walk *w, const fnode *fn, const char *key, int64_t n, const nir_field **out) {
  const nir_field *f = nir_get(fn->n->fields, fn->n->n_fields, key);
  if (!f) return nfail(w, fn->name, SF_ERR_FORMAT, key, "missing (the %s node needs it)", fn->n->type);
  if (f->dt == NIR_STR) return nfail(w, fn->name, SF_ERR_FORMAT, key, "is text, a number or an array of numbers is expected");
  if (n >= 0 && f->n != n) return nfail(w, fn->name, SF_ERR_SHAPE, key, "has %lld values, %lld expected", (long long)f->n, (long long)n);
  for (int64_t i = 0; i < f->n; i++)
    if (!isfinite(f->d[i])) return nfail(w, fn->name, SF_ERR_VALUE, key, "element %lld is %g: not finite", (long long)i, f->d[i]);
  *out = f;
  return SF_OK;
}

/* a neuron parameter: one value per neuron, shaped as the current value (or a single value) */
static sf_status get_param(const walk *w, const fnode *fn, const char *key, const nir_field **out) {
  const nir_field *f = nir_get(fn->n->fields, fn->n->n_fields, key);
  if (!f) return nfail(w, fn->name, SF_ERR_FORMAT, key, "missing (the %s node needs it)", fn->n->type);
  sf_status st = get_num(w, fn, key, -1, out);
  if (st) return st;
  if (f->n != 1 && f->n != numel_w(w)) {
    char a[96], b[96];
    return nfail(w, fn->name, SF_ERR_SHAPE, key, "has shape %s, the node's input is %s: shapes do not chain", shape_txt(f->ndim, f->shape, a, sizeof a),
                 shape_txt(w->ndim, w->shape, b, sizeof b));
  }
  return SF_OK;
}

static double at(const nir_field *f, int64_t i) { return f->d[f->n == 1 ? 0 : i]; }

/* small integer pairs (stride, padding, ...): a number or an array of `want` numbers */
static sf_status get_pair(const walk *w, const fnode *fn, const char *key, int want, int64_t dflt, int required, int64_t *out) {
  const nir_field *f = nir_get(fn->n->fields, fn->n->n_fields, key);
  if (!f) {
    if (required) return nfail(w, fn->name, SF_ERR_FORMAT, key, "missing (the %s node needs it)", fn->n->type);
    for (int k = 0; k < want; k++) out[k] = dflt;
    return SF_OK;
  }
  if (f->dt == NIR_STR) return nfail(w, fn->name, SF_ERR_FORMAT, key, "is text, whole numbers are expected");
  if (f->n != 1 && f->n != want) return nfail(w, fn->name, SF_ERR_SHAPE, key, "has %lld values, 1 or %d expected", (long long)f->n, want);
  for (int k = 0; k < want; k++) {
    double x = f->d[f->n == 1 ? 0 : k];
    if (!sf_whole_in(x, 0, 1 << 20)) return nfail(w, fn->name, SF_ERR_VALUE, key, "value %g is not a whole number in [0, 2^20]", x);
    out[k] = (int64_t)x;
  }
  return SF_OK;
}

static sf_status add_tensor(walk *w, const char *name, int ndim, const int64_t *shape, const float *data, const char **out_name) {
  char **nn = realloc(w->tnames, sizeof *nn * (size_t)(w->n_t + 1));
  if (nn) w->tnames = nn;
  sf_tensor *nt = nn ? realloc(w->tensors, sizeof *nt * (size_t)(w->n_t + 1)) : NULL;
  if (!nt) return sf_error(SF_ERR_NOMEM, "out of memory");
  w->tensors = nt;
  sf_status st = sf_tensor_alloc(&nt[w->n_t], SF_F32, ndim, shape);
  if (st) return st;
  if (!(nn[w->n_t] = sf_strdup(name))) { sf_tensor_free(&nt[w->n_t]); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  memcpy(nt[w->n_t].data, data, sf_tensor_nbytes(&nt[w->n_t]));
  *out_name = nn[w->n_t];
  w->n_t++;
  return SF_OK;
}

static float *tensor_data(walk *w, const char *name) {
  for (int i = 0; i < w->n_t; i++)
    if (!strcmp(w->tnames[i], name)) return w->tensors[i].data;
  return NULL;
}

static cJSON *add_layer(walk *w, const char *type, const char *name) {
  cJSON *l = cJSON_CreateObject();
  cJSON_AddStringToObject(l, "type", type);
  cJSON_AddStringToObject(l, "name", name);
  cJSON_AddItemToArray(w->layers, l);
  return l;
}

static void note(walk *w, const fnode *fn, const char *became) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", fn->name);
  cJSON_AddStringToObject(o, "type", fn->n ? fn->n->type : "(pass-through)");
  cJSON_AddStringToObject(o, "became", became);
  cJSON_AddItemToArray(w->report_nodes, o);
}

static void warn_once(walk *w, const char *text) {
  for (int i = 0; i < cJSON_GetArraySize(w->warnings); i++)
    if (!strcmp(cJSON_GetArrayItem(w->warnings, i)->valuestring, text)) return;
  cJSON_AddItemToArray(w->warnings, cJSON_CreateString(text));
}

/* the pending factor per channel (uniform within each channel), NULL out of memory or when it varies (*varies) */
static double *pend_channels(const walk *w, int64_t C, int *varies) {
  const int64_t inner = numel_w(w) / C;
  double *pc = malloc(sizeof(double) * (size_t)C);
  *varies = 0;
  if (!pc) return NULL;
  for (int64_t c = 0; c < C; c++) {
    pc[c] = w->pnum ? (double)w->pnum[c * inner] / (double)w->pden[c * inner] : 1.0;
    for (int64_t j = 1; w->pnum && j < inner; j++)
      if (w->pnum[c * inner + j] != w->pnum[c * inner] || w->pden[c * inner + j] != w->pden[c * inner]) { *varies = 1; free(pc); return NULL; }
  }
  return pc;
}

static void pend_clear(walk *w) {
  free(w->pnum);
  free(w->pden);
  w->pnum = w->pden = NULL;
}

static sf_status pend_ensure(walk *w) {
  if (w->pnum) return SF_OK;
  const int64_t n = numel_w(w);
  w->pnum = malloc(sizeof(float) * (size_t)n);
  w->pden = malloc(sizeof(float) * (size_t)n);
  if (!w->pnum || !w->pden) { pend_clear(w); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  for (int64_t i = 0; i < n; i++) w->pnum[i] = w->pden[i] = 1.0f;
  return SF_OK;
}

/* ---- node kinds ---- */

static sf_status i_affine(walk *w, const fnode *fn, int has_bias) {
  const nir_field *W, *B = NULL;
  sf_status st = get_num(w, fn, "weight", -1, &W);
  if (st) return st;
  if (W->ndim != 2) return nfail(w, fn->name, SF_ERR_SHAPE, "weight", "has rank %d; a (out, in) matrix is expected", W->ndim);
  const int64_t O = W->shape[0], I = W->shape[1];
  char a[96];
  if (w->ndim != 1 || w->shape[0] != I)
    return nfail(w, fn->name, SF_ERR_SHAPE, "weight", "takes %lld inputs, the node's input is %s: shapes do not chain%s", (long long)I,
                 shape_txt(w->ndim, w->shape, a, sizeof a), w->ndim > 1 ? " (a Flatten before it is missing)" : "");
  if (has_bias && (st = get_num(w, fn, "bias", O, &B))) return st;
  float *wt = malloc(sizeof(float) * (size_t)(O * I)), *bs = calloc((size_t)O, sizeof(float));
  if (!wt || !bs) { free(wt); free(bs); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  for (int64_t i = 0; i < I; i++) {
    const double p = w->pnum ? (w->pnum[i] == w->pden[i] ? 1.0 : (double)w->pnum[i] / (double)w->pden[i]) : 1.0;
    for (int64_t o = 0; o < O; o++) wt[o * I + i] = p == 1.0 ? (float)W->d[o * I + i] : (float)(W->d[o * I + i] * p);
  }
  for (int64_t o = 0; B && o < O; o++) bs[o] = (float)B->d[o];
  char tn[600];
  const char *wn, *bn;
  snprintf(tn, sizeof tn, "%.500s.weight", fn->name);
  st = add_tensor(w, tn, 2, (int64_t[]){O, I}, wt, &wn);
  snprintf(tn, sizeof tn, "%.500s.bias", fn->name);
  if (!st) st = add_tensor(w, tn, 1, &O, bs, &bn);
  free(wt);
  free(bs);
  if (st) return st;
  cJSON *l = add_layer(w, "linear", fn->name);
  cJSON_AddStringToObject(l, "weight", wn);
  cJSON_AddStringToObject(l, "bias", bn);
  pend_clear(w);
  w->last_w = cJSON_GetArraySize(w->layers) - 1;
  w->w_ok = 1;
  w->shape[0] = O;
  note(w, fn, has_bias ? "Linear" : "Linear (bias 0)");
  return SF_OK;
}

static sf_status i_conv(walk *w, const fnode *fn, int sd) {
  const nir_field *W, *B;
  sf_status st = get_num(w, fn, "weight", -1, &W);
  if (st) return st;
  char a[96], b[96];
  if (W->ndim != sd + 2) return nfail(w, fn->name, SF_ERR_SHAPE, "weight", "has rank %d; Conv%dd takes (C_out, C_in / groups, k%s)", W->ndim, sd, sd == 2 ? ", k" : "");
  if (w->ndim != sd + 1)
    return nfail(w, fn->name, SF_ERR_SHAPE, "weight", "a %d-D convolution, the node's input is %s: shapes do not chain", sd, shape_txt(w->ndim, w->shape, a, sizeof a));
  const int64_t M = W->shape[0], Cg = W->shape[1];
  int64_t groups = 1, stride[2], pad[2], dil[2];
  const nir_field *gf = nir_get(fn->n->fields, fn->n->n_fields, "groups");
  if (gf) {
    if (gf->dt == NIR_STR || gf->n != 1 || !sf_whole_in(gf->d[0], 1, 1 << 20)) return nfail(w, fn->name, SF_ERR_VALUE, "groups", "must be one whole number >= 1");
    groups = (int64_t)gf->d[0];
  }
  if (Cg * groups != w->shape[0] || M % groups)
    return nfail(w, fn->name, SF_ERR_SHAPE, "weight", "has shape %s (groups %lld), the node's input is %s: shapes do not chain", shape_txt(W->ndim, W->shape, b, sizeof b),
                 (long long)groups, shape_txt(w->ndim, w->shape, a, sizeof a));
  if ((st = get_pair(w, fn, "stride", sd, 1, 0, stride)) || (st = get_pair(w, fn, "dilation", sd, 1, 0, dil))) return st;
  const nir_field *pf = nir_get(fn->n->fields, fn->n->n_fields, "padding");
  if (pf && pf->dt == NIR_STR) {
    if (!strcmp(pf->s[0], "valid")) pad[0] = pad[1] = 0;
    else if (!strcmp(pf->s[0], "same")) {
      for (int d = 0; d < sd; d++) {
        const int64_t span = dil[d] * (W->shape[2 + d] - 1);
        if (stride[d] != 1 || span % 2) return nfail(w, fn->name, SF_ERR_UNSUPPORTED, "padding", "\"same\" with stride %lld and an even kernel span: write the pads out", (long long)stride[d]);
        pad[d] = span / 2;
      }
    } else return nfail(w, fn->name, SF_ERR_VALUE, "padding", "\"%s\": \"same\", \"valid\" or numbers are expected", pf->s[0]);
  } else if ((st = get_pair(w, fn, "padding", sd, 0, 0, pad))) return st;
  const nir_field *isf = nir_get(fn->n->fields, fn->n->n_fields, "input_shape");
  if (isf && isf->dt != NIR_STR && isf->n == sd) {
    for (int d = 0; d < sd; d++)
      if (isf->d[d] != (double)w->shape[1 + d])
        return nfail(w, fn->name, SF_ERR_SHAPE, "input_shape", "says %s, the node's input is %s: shapes do not chain", shape_txt(isf->ndim, (int64_t[]){(int64_t)isf->d[0], sd > 1 ? (int64_t)isf->d[1] : 0}, b, sizeof b),
                     shape_txt(w->ndim, w->shape, a, sizeof a));
  }
  if ((st = get_num(w, fn, "bias", M, &B))) return st;
  int varies;
  double *pc = pend_channels(w, w->shape[0], &varies);
  if (!pc) return varies ? nfail(w, fn->name, SF_ERR_UNSUPPORTED, "weight", "the scale before it varies within a channel; it cannot be folded into a convolution")
                         : sf_error(SF_ERR_NOMEM, "out of memory");
  const int64_t per = W->n / M, kper = per / Cg;
  float *wt = malloc(sizeof(float) * (size_t)W->n), *bs = malloc(sizeof(float) * (size_t)M);
  if (!wt || !bs) { free(pc); free(wt); free(bs); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  for (int64_t m = 0; m < M; m++) {
    bs[m] = (float)B->d[m];
    for (int64_t cg = 0; cg < Cg; cg++) {
      const double p = pc[(m / (M / groups)) * Cg + cg];
      for (int64_t j = 0; j < kper; j++) {
        const double x = W->d[(m * Cg + cg) * kper + j];
        wt[(m * Cg + cg) * kper + j] = p == 1.0 ? (float)x : (float)(x * p);
      }
    }
  }
  free(pc);
  char tn[600];
  const char *wn, *bn;
  snprintf(tn, sizeof tn, "%.500s.weight", fn->name);
  int64_t ws[4];
  for (int d = 0; d < W->ndim; d++) ws[d] = W->shape[d];
  st = add_tensor(w, tn, W->ndim, ws, wt, &wn);
  snprintf(tn, sizeof tn, "%.500s.bias", fn->name);
  if (!st) st = add_tensor(w, tn, 1, &M, bs, &bn);
  free(wt);
  free(bs);
  if (st) return st;
  cJSON *l = add_layer(w, "conv", fn->name);
  cJSON_AddStringToObject(l, "weight", wn);
  cJSON_AddStringToObject(l, "bias", bn);
  cJSON *s = cJSON_AddArrayToObject(l, "strides"), *p = cJSON_AddArrayToObject(l, "pads"), *dl = cJSON_AddArrayToObject(l, "dilations");
  for (int d = 0; d < sd; d++) {
    cJSON_AddItemToArray(s, cJSON_CreateNumber((double)stride[d]));
    cJSON_AddItemToArray(dl, cJSON_CreateNumber((double)dil[d]));
  }
  for (int d = 0; d < 2 * sd; d++) cJSON_AddItemToArray(p, cJSON_CreateNumber((double)pad[d % sd]));
  cJSON_AddNumberToObject(l, "group", (double)groups);
  pend_clear(w);
  w->last_w = cJSON_GetArraySize(w->layers) - 1;
  w->w_ok = 1;
  w->shape[0] = M;
  for (int d = 0; d < sd; d++) {
    const int64_t o = (w->shape[1 + d] + 2 * pad[d] - dil[d] * (W->shape[2 + d] - 1) - 1) / stride[d] + 1;
    if (o < 1) return nfail(w, fn->name, SF_ERR_SHAPE, "weight", "the kernel is larger than the padded input: shapes do not chain");
    w->shape[1 + d] = o;
  }
  note(w, fn, sd == 2 ? "Conv (2-D)" : "Conv (1-D)");
  return SF_OK;
}

static sf_status i_flatten(walk *w, const fnode *fn) {
  const nir_field *sf_, *ef;
  sf_status st;
  if ((st = get_num(w, fn, "start_dim", 1, &sf_)) || (st = get_num(w, fn, "end_dim", 1, &ef))) return st;
  int64_t s = (int64_t)sf_->d[0], e = (int64_t)ef->d[0];
  if (s < 0) s += w->ndim;
  if (e < 0) e += w->ndim;
  const nir_field *it = nir_get(fn->n->fields, fn->n->n_fields, "input_type");
  char a[96], b[96];
  if (it && it->dt != NIR_STR && it->n > 0) {
    int same = it->n == w->ndim;
    for (int d = 0; same && d < w->ndim; d++) same = it->d[d] == (double)w->shape[d];
    int64_t sh[SF_MAX_DIMS];
    for (int d = 0; d < it->n && d < SF_MAX_DIMS; d++) sh[d] = (int64_t)it->d[d];
    if (!same) return nfail(w, fn->name, SF_ERR_SHAPE, "input_type", "says %s, the node's input is %s: shapes do not chain", shape_txt((int)it->n, sh, b, sizeof b), shape_txt(w->ndim, w->shape, a, sizeof a));
  }
  if (w->ndim <= 1) { note(w, fn, "(nothing: the input is flat)"); return SF_OK; }
  if (s != 0 || e != w->ndim - 1)
    return nfail(w, fn->name, SF_ERR_UNSUPPORTED, "start_dim", "flattens dims %lld..%lld of %s; only a flatten of the whole sample (0..%d, or -%d..-1) is supported",
                 (long long)sf_->d[0], (long long)ef->d[0], shape_txt(w->ndim, w->shape, a, sizeof a), w->ndim - 1, w->ndim);
  add_layer(w, "flatten", fn->name);
  const int64_t n = numel_w(w);
  w->ndim = 1;
  w->shape[0] = n;
  w->w_ok = 0; /* the channels after it are not the layer before's: a scale cannot be folded back into it */
  note(w, fn, "Flatten");
  return SF_OK;
}

static sf_status i_pool(walk *w, const fnode *fn, int sum) {
  int64_t k[2], s[2], p[2];
  sf_status st;
  char a[96];
  if (w->ndim != 3) return nfail(w, fn->name, SF_ERR_SHAPE, "kernel_size", "pools 2-D maps, the node's input is %s: shapes do not chain", shape_txt(w->ndim, w->shape, a, sizeof a));
  if ((st = get_pair(w, fn, "kernel_size", 2, 1, 1, k)) || (st = get_pair(w, fn, "stride", 2, 1, 1, s)) || (st = get_pair(w, fn, "padding", 2, 0, 1, p))) return st;
  if (k[0] < 1 || k[1] < 1 || s[0] < 1 || s[1] < 1) return nfail(w, fn->name, SF_ERR_VALUE, k[0] < 1 || k[1] < 1 ? "kernel_size" : "stride", "must be at least 1");
  int varies;
  double *pc = pend_channels(w, w->shape[0], &varies);
  if (!pc) return varies ? nfail(w, fn->name, SF_ERR_UNSUPPORTED, "kernel_size", "the scale before it varies within a channel; it cannot pass a pooling")
                         : sf_error(SF_ERR_NOMEM, "out of memory");
  /* keep the channels' pending factors as they were (pnum / pden), times k^2 for a sum */
  const int64_t C = w->shape[0], inner0 = w->shape[1] * w->shape[2];
  float *num = malloc(sizeof(float) * (size_t)C), *den = malloc(sizeof(float) * (size_t)C);
  if (!num || !den) { free(pc); free(num); free(den); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  for (int64_t c = 0; c < C; c++) {
    num[c] = w->pnum ? w->pnum[c * inner0] : 1.0f;
    den[c] = w->pnum ? w->pden[c * inner0] : 1.0f;
    if (sum) num[c] *= (float)(k[0] * k[1]);
  }
  free(pc);
  int64_t oh = (w->shape[1] + 2 * p[0] - k[0]) / s[0] + 1, ow = (w->shape[2] + 2 * p[1] - k[1]) / s[1] + 1;
  if (oh < 1 || ow < 1) { free(num); free(den); return nfail(w, fn->name, SF_ERR_SHAPE, "kernel_size", "larger than the padded input %s: shapes do not chain", shape_txt(3, w->shape, a, sizeof a)); }
  cJSON *l = add_layer(w, "avgpool", fn->name);
  cJSON *ka = cJSON_AddArrayToObject(l, "kernel_shape"), *sa = cJSON_AddArrayToObject(l, "strides"), *pa = cJSON_AddArrayToObject(l, "pads");
  for (int d = 0; d < 2; d++) {
    cJSON_AddItemToArray(ka, cJSON_CreateNumber((double)k[d]));
    cJSON_AddItemToArray(sa, cJSON_CreateNumber((double)s[d]));
  }
  for (int d = 0; d < 4; d++) cJSON_AddItemToArray(pa, cJSON_CreateNumber((double)p[d % 2]));
  pend_clear(w);
  w->shape[1] = oh;
  w->shape[2] = ow;
  int any = 0;
  for (int64_t c = 0; c < C; c++) any |= num[c] != den[c];
  if (any) {
    if ((st = pend_ensure(w))) { free(num); free(den); return st; }
    const int64_t inner = oh * ow;
    for (int64_t c = 0; c < C; c++)
      for (int64_t j = 0; j < inner; j++) { w->pnum[c * inner + j] = num[c]; w->pden[c * inner + j] = den[c]; }
  }
  free(num);
  free(den);
  note(w, fn, sum ? "AveragePool (the kernel's k^2 folded into the next layer)" : "AveragePool");
  return SF_OK;
}

static sf_status i_scale(walk *w, const fnode *fn) {
  const nir_field *s;
  sf_status st = get_param(w, fn, "scale", &s);
  if (st || (st = pend_ensure(w))) return st;
  for (int64_t i = 0; i < numel_w(w); i++) w->pnum[i] = (float)((double)w->pnum[i] * at(s, i));
  note(w, fn, "(folded into the next layer)");
  return SF_OK;
}

/* scale the output channels of the last weighted layer by f (per element of the current value) */
static sf_status fold_back(walk *w, const fnode *fn, const double *f) {
  if (w->last_w < 0 || !w->w_ok) return nfail(w, fn->name, SF_ERR_UNSUPPORTED, "(input)", "a Scale right before a neuron, and no layer before them to fold it into");
  cJSON *l = cJSON_GetArrayItem(w->layers, w->last_w);
  float *W = tensor_data(w, cJSON_GetObjectItemCaseSensitive(l, "weight")->valuestring), *B = tensor_data(w, cJSON_GetObjectItemCaseSensitive(l, "bias")->valuestring);
  const int64_t C = w->shape[0], inner = numel_w(w) / C;
  int64_t per = 0;
  for (int i = 0; i < w->n_t; i++)
    if (w->tensors[i].data == W) per = sf_tensor_numel(&w->tensors[i]) / C;
  for (int64_t c = 0; c < C; c++) {
    const double x = f[c * inner];
    for (int64_t j = 1; j < inner; j++)
      if (f[c * inner + j] != x) return nfail(w, fn->name, SF_ERR_UNSUPPORTED, "(input)", "a scale that varies within a channel before a neuron");
    if (x == 1.0) continue;
    for (int64_t j = 0; j < per; j++) W[c * per + j] = (float)(W[c * per + j] * x);
    B[c] = (float)(B[c] * x);
  }
  return SF_OK;
}

static const char *meta_str(const fnode *fn, const char *key) {
  const nir_field *f = nir_get(fn->n->meta, fn->n->n_meta, key);
  return f && f->dt == NIR_STR && f->n == 1 ? f->s[0] : NULL;
}

static int meta_num(const fnode *fn, const char *key, double *out) {
  const nir_field *f = nir_get(fn->n->meta, fn->n->n_meta, key);
  if (!f || f->dt == NIR_STR || f->n != 1) return 0;
  *out = f->d[0];
  return 1;
}

static sf_status i_neuron(walk *w, const fnode *fn) {
  const char *type = fn->n->type;
  const nir_field *vth = NULL, *r = NULL, *tau = NULL, *vl = NULL, *vr = NULL, *tsyn = NULL, *win = NULL;
  const int is_lif = !strcmp(type, "LIF"), is_if = !strcmp(type, "IF"), is_cuba = !strcmp(type, "CubaLIF"), is_thr = !strcmp(type, "Threshold");
  sf_status st = SF_OK;
  const int64_t n = numel_w(w);
  const double dt = w->dt;
  if (is_thr) st = get_param(w, fn, "threshold", &vth);
  else {
    if ((st = get_param(w, fn, "v_threshold", &vth)) || (st = get_param(w, fn, "r", &r))) return st;
    if (is_lif && (st = get_param(w, fn, "tau", &tau))) return st;
    if (is_cuba && ((st = get_param(w, fn, "tau_mem", &tau)) || (st = get_param(w, fn, "tau_syn", &tsyn)) || (st = get_param(w, fn, "w_in", &win)))) return st;
    if ((is_lif || is_cuba) && (st = get_param(w, fn, "v_leak", &vl))) return st;
    if (nir_get(fn->n->fields, fn->n->n_fields, "v_reset") && (st = get_param(w, fn, "v_reset", &vr))) return st;
  }
  if (st) return st;
  for (int64_t i = 0; vl && i < n; i++)
    if (at(vl, i) != 0) return nfail(w, fn->name, SF_ERR_UNSUPPORTED, "v_leak", "%g: a leak towards a non-zero potential (the runtime's neurons leak towards 0)", at(vl, i));
  for (int64_t i = 0; vr && i < n; i++)
    if (at(vr, i) != 0) return nfail(w, fn->name, SF_ERR_UNSUPPORTED, "v_reset", "%g: a reset to a non-zero potential (the runtime resets to 0 or by subtraction)", at(vr, i));
  for (int64_t i = 0; tsyn && i < n; i++) {
    const double alpha = 1.0 - dt / at(tsyn, i);
    if (fabs(alpha) > 1e-6)
      return nfail(w, fn->name, SF_ERR_UNSUPPORTED, "tau_syn", "%g s: a synaptic current that decays by %g per step (dt %g s); the runtime has no synaptic state: only tau_syn = dt "
                   "(no decay) imports", at(tsyn, i), alpha, dt);
  }
  /* leak (one per node), the input's scale w per neuron, theta = v_threshold / w */
  double beta = 0;
  float *theta = malloc(sizeof(float) * (size_t)n);
  double *wsc = malloc(sizeof(double) * (size_t)n);
  if (!theta || !wsc) { free(theta); free(wsc); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  for (int64_t i = 0; i < n; i++) {
    double b = 1.0, s = 1.0;
    if (is_lif || is_cuba) {
      const double t = at(tau, i);
      if (!(t > 0)) { free(theta); free(wsc); return nfail(w, fn->name, SF_ERR_VALUE, is_lif ? "tau" : "tau_mem", "%g: time constants must be positive", t); }
      b = 1.0 - dt / t;
      s = at(r, i) * dt / t;
      if (is_cuba) s *= at(win, i) * dt / at(tsyn, i);
    } else if (is_if) {
      s = at(r, i) * dt;
    } else {
      b = 0.0; /* Threshold: no memory */
    }
    if (b < 0) { free(theta); free(wsc); return nfail(w, fn->name, SF_ERR_VALUE, is_lif ? "tau" : "tau_mem", "%g s is shorter than dt %g s: the membrane would change sign every step", at(tau, i), dt); }
    if (fabs(s - 1.0) < 1e-6) s = 1.0; /* r = tau / dt written through decimal dt: exactly 1 */
    if (i == 0) beta = b;
    else if ((float)b != (float)beta) {
      free(theta); free(wsc);
      return nfail(w, fn->name, SF_ERR_UNSUPPORTED, is_if ? "r" : is_lif ? "tau" : "tau_mem", "time constants differ between neurons (leak %g and %g per step); the runtime has one leak per layer", beta, b);
    }
    const double v = at(vth, i);
    if (!(v > 0) || !(s > 0)) { free(theta); free(wsc); return nfail(w, fn->name, SF_ERR_VALUE, !(v > 0) ? (is_thr ? "threshold" : "v_threshold") : "r", "the threshold must be positive (got %g, input scale %g)", v, s); }
    theta[i] = (float)(s == 1.0 ? v : v / s);
    wsc[i] = s;
  }
  free(wsc);
  if (beta > 1.0) beta = 1.0;
  /* a pending scale f right before the neuron goes into the layer before it; where there is none
   * (a pooling right after a neuron), into the neuron: on f x its membrane is f times the one on x, so
   * a threshold theta / f spikes at the same steps (reset to zero or by subtraction, any leak) */
  if (w->pnum) {
    double *f = malloc(sizeof(double) * (size_t)n);
    if (!f) { free(theta); return sf_error(SF_ERR_NOMEM, "out of memory"); }
    for (int64_t i = 0; i < n; i++) f[i] = w->pnum[i] == w->pden[i] ? 1.0 : (double)w->pnum[i] / (double)w->pden[i];
    if (w->last_w >= 0 && w->w_ok) st = fold_back(w, fn, f);
    else
      for (int64_t i = 0; i < n; i++) theta[i] = (float)((double)theta[i] / f[i]);
    free(f);
    if (st) { free(theta); return st; }
    pend_clear(w);
  }
  /* thresholds per channel (axis 1): uniform within a channel of a feature map */
  const int64_t C = w->shape[0], inner = n / C;
  float *tc = malloc(sizeof(float) * (size_t)C);
  if (!tc) { free(theta); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  for (int64_t c = 0; c < C; c++) {
    tc[c] = theta[c * inner];
    for (int64_t j = 1; j < inner; j++)
      if (theta[c * inner + j] != tc[c]) {
        free(theta); free(tc);
        return nfail(w, fn->name, SF_ERR_UNSUPPORTED, is_thr ? "threshold" : "v_threshold", "thresholds differ within channel %lld of the feature map; the runtime keeps one per channel", (long long)c);
      }
  }
  const char *reset = is_thr ? "zero" : "zero";
  double vinit = 0;
  const char *mr = meta_str(fn, "spikeformer_reset");
  if (mr && !strcmp(mr, "subtract")) reset = "subtract";
  double mv;
  if (meta_num(fn, "spikeformer_v_init", &mv) && mv >= 0 && mv < 1) vinit = mv;
  char tn[600];
  const char *thn;
  snprintf(tn, sizeof tn, "%.500s.theta", fn->name);
  st = add_tensor(w, tn, 1, &C, tc, &thn);
  free(tc);
  if (st) { free(theta); return st; }
  cJSON *l = add_layer(w, "neuron", fn->name);
  cJSON_AddStringToObject(l, "theta", thn);
  cJSON_AddNumberToObject(l, "leak", (double)(float)beta);
  cJSON_AddStringToObject(l, "reset", reset);
  cJSON_AddNumberToObject(l, "v_init", vinit);
  cJSON_AddNumberToObject(l, "axis", 1);
  w->neurons++;
  if ((float)beta != 1.0f) { w->lif++; w->leak_any = (float)beta; }
  if (!strcmp(reset, "zero")) w->zero_reset++;
  if (vinit == 0) w->zero_init++;
  /* our spike carries theta, a NIR spike 1: the next layer takes 1 / theta */
  int all_one = 1;
  for (int64_t i = 0; i < n; i++) all_one &= theta[i] == 1.0f;
  if (!all_one) {
    if ((st = pend_ensure(w))) { free(theta); return st; }
    for (int64_t i = 0; i < n; i++) w->pden[i] = theta[i];
  }
  free(theta);
  w->last_w = -1;
  w->w_ok = 0;
  char became[200];
  snprintf(became, sizeof became, "Neuron (leak %.9g, reset %s, v_init %g theta%s)", (double)(float)beta, reset, vinit, is_cuba ? "; CubaLIF without synaptic decay" : "");
  note(w, fn, became);
  return SF_OK;
}

static sf_status i_shape_check(walk *w, const fnode *fn, const char *key) {
  const nir_field *f = nir_get(fn->n->fields, fn->n->n_fields, key);
  if (!f) return nfail(w, fn->name, SF_ERR_FORMAT, key, "missing (the %s node needs it)", fn->n->type);
  if (f->dt == NIR_STR) return nfail(w, fn->name, SF_ERR_FORMAT, key, "is text; sizes are expected");
  int same = f->n == w->ndim;
  for (int d = 0; same && d < w->ndim; d++) same = f->d[d] == (double)w->shape[d];
  if (!same) {
    char a[96], b[96];
    int64_t sh[SF_MAX_DIMS];
    for (int d = 0; d < f->n && d < SF_MAX_DIMS; d++) sh[d] = (int64_t)f->d[d];
    return nfail(w, fn->name, SF_ERR_SHAPE, key, "is %s, the value reaching it is %s: shapes do not chain", shape_txt((int)(f->n < SF_MAX_DIMS ? f->n : SF_MAX_DIMS), sh, b, sizeof b),
                 shape_txt(w->ndim, w->shape, a, sizeof a));
  }
  return SF_OK;
}

static sf_status import_node(walk *w, const fnode *fn) {
  if (!fn->n) { note(w, fn, "(pass-through)"); return SF_OK; }
  const char *t = fn->n->type;
  if (!strcmp(t, "Affine")) return i_affine(w, fn, 1);
  if (!strcmp(t, "Linear")) return i_affine(w, fn, 0);
  if (!strcmp(t, "Conv2d")) return i_conv(w, fn, 2);
  if (!strcmp(t, "Conv1d")) return i_conv(w, fn, 1);
  if (!strcmp(t, "Flatten")) return i_flatten(w, fn);
  if (!strcmp(t, "AvgPool2d")) return i_pool(w, fn, 0);
  if (!strcmp(t, "SumPool2d")) return i_pool(w, fn, 1);
  if (!strcmp(t, "Scale")) return i_scale(w, fn);
  if (!strcmp(t, "LIF") || !strcmp(t, "IF") || !strcmp(t, "CubaLIF") || !strcmp(t, "Threshold")) return i_neuron(w, fn);
  if (!strcmp(t, "LI") || !strcmp(t, "CubaLI") || !strcmp(t, "I"))
    return nfail(w, fn->name, SF_ERR_UNSUPPORTED, "type", "%s (a non-spiking integrator): the runtime has no non-spiking membrane state", t);
  if (!strcmp(t, "Delay")) return nfail(w, fn->name, SF_ERR_UNSUPPORTED, "type", "Delay: the runtime has no synaptic delays");
  if (!strcmp(t, "Input") || !strcmp(t, "Output")) return nfail(w, fn->name, SF_ERR_FORMAT, "type", "a second %s node on the path", t);
  return nfail(w, fn->name, SF_ERR_FORMAT, "type", "unknown NIR node type \"%s\"", t);
}

sf_status sf_import_nir(const char *path, const sf_nir_options *opt, sf_snn_model **out, char **report) {
  *out = NULL;
  if (report) *report = NULL;
  sf_nir_options dflt;
  if (!opt) { sf_nir_options_default(&dflt); opt = &dflt; }
  nir_graph *g = NULL;
  char *version = NULL;
  sf_status st = nir_h5_read(path, &g, &version);
  if (st) return st;
  flat f = {path, NULL, 0, NULL, NULL, 0, SF_OK};
  int in = -1, outn = -1;
  walk w;
  memset(&w, 0, sizeof w);
  w.path = path;
  w.last_w = -1;
  w.layers = cJSON_CreateArray();
  w.report_nodes = cJSON_CreateArray();
  w.warnings = cJSON_CreateArray();
  cJSON *cfg = NULL;
  char *cfg_text = NULL;
  unsigned char *blob = NULL;
  size_t blob_len = 0;
  const char *dt_from = "the file's metadata";
  if (!w.layers || !w.report_nodes || !w.warnings) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
  /* dt */
  const nir_field *dtf = nir_get(g->meta, g->n_meta, "dt");
  if (dtf && dtf->dt != NIR_STR && dtf->n == 1 && dtf->d[0] > 0 && dtf->d[0] <= 1) w.dt = dtf->d[0];
  else if (opt->dt > 0) { w.dt = opt->dt; dt_from = "the option"; }
  else { w.dt = sf_nir_dialect_dt(opt->dialect); dt_from = "the dialect"; }
  if ((st = flatten_graph(&f, g, "", NULL, NULL, 1))) goto done;
  if (find_cycle(&f)) { st = f.st; goto done; }
  for (int i = 0; i < f.n; i++) {
    if (!f.v[i].n) continue;
    if (!strcmp(f.v[i].n->type, "Input")) {
      if (in >= 0) { st = sf_error(SF_ERR_UNSUPPORTED, "%s: node '%s': field 'type': a second Input node ('%s' is one); the runtime takes one input", path, f.v[i].name, f.v[in].name); goto done; }
      in = i;
    }
    if (!strcmp(f.v[i].n->type, "Output")) {
      if (outn >= 0) { st = sf_error(SF_ERR_UNSUPPORTED, "%s: node '%s': field 'type': a second Output node ('%s' is one); the runtime has one output", path, f.v[i].name, f.v[outn].name); goto done; }
      outn = i;
    }
  }
  if (in < 0 || outn < 0) { st = sf_error(SF_ERR_FORMAT, "%s: the graph has no %s node", path, in < 0 ? "Input" : "Output"); goto done; }
  /* a chain from the Input to the Output: one edge out of each node, one into each, no cycle */
  for (int i = 0; i < f.n; i++) {
    if (f.v[i].n_succ > 1) {
      st = sf_error(SF_ERR_UNSUPPORTED, "%s: node '%s': field 'edges': %d edges leave it; only chains (one edge out of each node) are supported", path, f.v[i].name, f.v[i].n_succ);
      goto done;
    }
    if (f.v[i].n_pred > 1) {
      st = sf_error(SF_ERR_UNSUPPORTED, "%s: node '%s': field 'edges': %d edges reach it (NIR sums them); only chains are supported", path, f.v[i].name, f.v[i].n_pred);
      goto done;
    }
  }
  if (f.v[in].n_pred) { st = sf_error(SF_ERR_FORMAT, "%s: node '%s': field 'edges': an edge leads into the Input node ('%s' -> it): a cycle", path, f.v[in].name, f.v[f.v[in].pred].name); goto done; }
  /* the Input's shape */
  const fnode *fi = &f.v[in];
  const nir_field *shp = nir_get(fi->n->fields, fi->n->n_fields, "shape");
  if (!shp) { st = sf_error(SF_ERR_FORMAT, "%s: node '%s': field 'shape': missing (an Input node needs it)", path, fi->name); goto done; }
  if (shp->dt == NIR_STR || shp->n < 1 || shp->n >= SF_MAX_DIMS) { st = sf_error(SF_ERR_FORMAT, "%s: node '%s': field 'shape': 1 to %d sizes are expected", path, fi->name, SF_MAX_DIMS - 1); goto done; }
  w.ndim = (int)shp->n;
  cfg = cJSON_CreateObject();
  cJSON *ish = cJSON_CreateArray();
  for (int d = 0; d < w.ndim; d++) {
    if (!sf_whole_in(shp->d[d], 1, 1 << 24)) { st = sf_error(SF_ERR_VALUE, "%s: node '%s': field 'shape': size %g is not a whole number in [1, 2^24]", path, fi->name, shp->d[d]); cJSON_Delete(ish); goto done; }
    w.shape[d] = (int64_t)shp->d[d];
    cJSON_AddItemToArray(ish, cJSON_CreateNumber(shp->d[d]));
  }
  note(&w, fi, "input");
  int steps = 0;
  int cur = fi->succ;
  while (!st) {
    if (cur < 0) { st = sf_error(SF_ERR_FORMAT, "%s: the path from the Input ends at node '%s' before any Output node: field 'edges' lacks an edge out of it", path, f.v[steps ? 0 : in].name); break; }
    if (++steps > f.n) { st = sf_error(SF_ERR_FORMAT, "%s: node '%s': field 'edges': the path from the Input comes back to it: a cycle", path, f.v[cur].name); break; }
    if (cur == outn) break;
    if (cur == in) { st = sf_error(SF_ERR_FORMAT, "%s: node '%s': field 'edges': a cycle through the Input", path, f.v[cur].name); break; }
    st = import_node(&w, &f.v[cur]);
    if (!st && f.v[cur].succ < 0) st = sf_error(SF_ERR_FORMAT, "%s: node '%s': field 'edges': no edge leaves it, and it is not the Output", path, f.v[cur].name);
    cur = f.v[cur].succ;
  }
  if (st) { cJSON_Delete(ish); goto done; }
  if ((st = i_shape_check(&w, &f.v[outn], "shape"))) { cJSON_Delete(ish); goto done; }
  note(&w, &f.v[outn], "output");
  /* every node on the path */
  for (int i = 0, seen = 0; i < f.n; i++) {
    int k = in;
    seen = 0;
    for (int s = 0; s <= f.n && k >= 0; s++, k = f.v[k].succ) if (k == i) { seen = 1; break; }
    if (!seen) { st = sf_error(SF_ERR_UNSUPPORTED, "%s: node '%s': field 'edges': it is not on the path from the Input to the Output", path, f.v[i].name); cJSON_Delete(ish); goto done; }
  }
  if (!w.neurons) warn_once(&w, "the graph has no spiking neuron: it runs as the linear network it is");
  /* what a NIR spike is worth after the last neuron: a final scale */
  if (w.pnum) {
    int any = 0;
    const int64_t n = numel_w(&w);
    float *s = malloc(sizeof(float) * (size_t)n);
    if (!s) { st = sf_error(SF_ERR_NOMEM, "out of memory"); cJSON_Delete(ish); goto done; }
    for (int64_t i = 0; i < n; i++) { s[i] = w.pnum[i] == w.pden[i] ? 1.0f : (float)((double)w.pnum[i] / (double)w.pden[i]); any |= s[i] != 1.0f; }
    if (any) {
      int64_t sh[SF_MAX_DIMS + 1] = {1};
      for (int d = 0; d < w.ndim; d++) sh[d + 1] = w.shape[d];
      const char *sn;
      st = add_tensor(&w, "output.scale", w.ndim + 1, sh, s, &sn);
      if (!st) cJSON_AddStringToObject(add_layer(&w, "scale", "output_scale"), "scale", sn);
    }
    free(s);
    if (st) { cJSON_Delete(ish); goto done; }
  }
  /* the source: config.json + safetensors of a SpikeformerSequential */
  cJSON *arch = cJSON_AddArrayToObject(cfg, "architectures");
  cJSON_AddItemToArray(arch, cJSON_CreateString("SpikeformerSequential"));
  cJSON_AddStringToObject(cfg, "model_type", "spikeformer_sequential");
  cJSON_AddItemToObject(cfg, "input_shape", ish);
  cJSON_AddItemToObject(cfg, "layers", w.layers);
  w.layers = NULL;
  cJSON_AddStringToObject(cfg, "imported_from", path);
  cJSON_AddStringToObject(cfg, "nir_version", version ? version : "");
  cJSON_AddNumberToObject(cfg, "dt", w.dt);
  cJSON_AddStringToObject(cfg, "transformers_version", "spikeformer-nir");
  if (!(cfg_text = cJSON_Print(cfg))) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
  if ((st = sf_safetensors_serialize(w.n_t, (const char *const *)w.tnames, w.tensors, &blob, &blob_len))) goto done;
  sf_convert_options co;
  sf_convert_options_default(&co);
  co.per_channel = 1;
  co.snn.timesteps = opt->timesteps > 0 ? opt->timesteps : 16;
  co.snn.neuron_model = w.lif ? SF_NEURON_LIF : SF_NEURON_IF;
  co.snn.leak = w.lif ? w.leak_any : co.snn.leak;
  co.snn.burst_levels = 1;
  co.snn.spike_encoding = SF_ENCODE_DIRECT;
  if (w.neurons && w.zero_reset == w.neurons) co.snn.reset = SF_RESET_ZERO;
  if (w.neurons && w.zero_init == w.neurons) co.snn.v_init = 0.0f;
  sf_site *none = calloc(1, sizeof *none); /* no sites: any neuron the converter would add is an error */
  if (!none) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
  char name[600];
  snprintf(name, sizeof name, "%.580s", path);
  st = sf_snn_model_from_hf_memory(name, cfg_text, blob, blob_len, &co, none, 0, out);
  if (st) st = sf_error_context(st, "%s: the imported network", path);
done:
  if (!st && report) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "file", path);
    cJSON_AddStringToObject(r, "format", "nir");
    cJSON_AddStringToObject(r, "nir_version", version ? version : "");
    cJSON_AddNumberToObject(r, "dt", w.dt);
    cJSON_AddStringToObject(r, "dt_from", dt_from);
    cJSON_AddNumberToObject(r, "neuron_layers", w.neurons);
    cJSON_AddItemToObject(r, "nodes", w.report_nodes);
    w.report_nodes = NULL;
    cJSON_AddItemToObject(r, "warnings", w.warnings);
    w.warnings = NULL;
    *report = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    if (!*report) { st = sf_error(SF_ERR_NOMEM, "out of memory"); sf_snn_model_free(*out); *out = NULL; }
  }
  cJSON_Delete(cfg);
  cJSON_Delete(w.layers);
  cJSON_Delete(w.report_nodes);
  cJSON_Delete(w.warnings);
  free(cfg_text);
  free(blob);
  for (int i = 0; i < w.n_t; i++) { free(w.tnames[i]); sf_tensor_free(&w.tensors[i]); }
  free(w.tnames);
  free(w.tensors);
  pend_clear(&w);
  for (int i = 0; i < f.n; i++) free(f.v[i].name);
  free(f.v);
  free(f.ea);
  free(f.eb);
  free(version);
  nir_graph_free(g);
  return st;
}

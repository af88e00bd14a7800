/* NIR export (nir.h): the spiking graph of a converted model as a chain of NIR nodes, in the
 * dialect of the reader it is for (docs/nir.md has the table).
 *
 *   spiking graph (batch 1)         NIR
 *   input [1, S...]                 Input(shape S)
 *   Flatten(axis 1)                 Flatten(start_dim -rank, end_dim -1)  (negative: readers that
 *                                   count the batch, as snnTorch does, flatten the same dims)
 *   Linear(x, W [K,N], b [N])       Affine(weight [N,K], bias) / Linear(weight) without a bias
 *   Conv (1-D, 2-D)                 Conv1d / Conv2d (symmetric pads, bias zero when absent)
 *   AveragePool / GlobalAveragePool AvgPool2d, or SumPool2d with 1 / k^2 folded into the next layer
 *   Neuron(theta, leak, reset)      LIF(tau = dt / (1 - leak), r = tau / dt, v_leak 0, v_threshold,
 *                                   v_reset 0) or IF(r = 1 / dt, v_threshold, v_reset 0), then
 *                                   Scale(theta) (generic: our spike carries theta), or, folded,
 *                                   the layer before it scaled by 1 / theta (v_threshold 1) and the
 *                                   layer after it by theta
 *   the graph's output              Output(shape) */
#include <cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/convert_internal.h"
#include "core/util.h"
#include "io/nir_h5.h"
#include "ops/ops.h"
#include "spikeformer/nir.h"

typedef struct {
  sf_nir_dialect d;
  double dt;
  int fold;        /* thresholds folded into the weights (every dialect but generic) */
  int scale_ok;    /* Scale nodes (generic) */
  int avg_ok;      /* AvgPool2d (else SumPool2d and 1 / k^2 folded) */
  int if_ok;       /* IF nodes (snnTorch's IF import is broken: LIF instead) */
  nir_graph *out;
  char *prev;      /* the last NIR node written */
  int ndim;        /* batch-less shape of the current value */
  int64_t shape[SF_MAX_DIMS];
  int cur;         /* the spiking graph's value the chain has reached */
  float *pend;     /* per element of the current value: the factor the next weighted layer applies to its input (NULL: 1) */
  int last_w;      /* the NIR node of the last weighted layer since the last neuron, or -1 */
  int w_ok;        /* only per-channel ops since last_w: a neuron's thresholds can be folded into it */
  int n_names;
  cJSON *nodes, *warnings;
  const sf_graph *g;
} ex;

static int64_t numel_of(const ex *e) {
  int64_t n = 1;
  for (int d = 0; d < e->ndim; d++) n *= e->shape[d];
  return n;
}

/* a NIR node name from a spiking-graph node name: HDF5 group names cannot hold '/' */
static char *nir_name(ex *e, const char *src) {
  char buf[200];
  size_t k = 0;
  for (const char *p = src; *p && k < sizeof buf - 12; p++) {
    char c = *p;
    if (!(isalnum((unsigned char)c) || c == '_' || c == '-')) c = '_';
    if (c == '_' && (k == 0 || buf[k - 1] == '_')) continue;
    buf[k++] = c;
  }
  while (k && buf[k - 1] == '_') k--;
  if (!k) buf[k++] = 'n';
  buf[k] = 0;
  for (int i = 0; i < e->out->n_nodes; i++)
    if (!strcmp(e->out->nodes[i].name, buf)) { snprintf(buf + k, sizeof buf - k, "_%d", ++e->n_names); i = -1; }
  return sf_strdup(buf);
}

static sf_status oom(void) { return sf_error(SF_ERR_NOMEM, "out of memory"); }

/* append a node after the previous one (an edge from it) */
static nir_node *emit(ex *e, const char *name, const char *type, const char *from) {
  char *nm = nir_name(e, name);
  if (!nm) return NULL;
  nir_node *nd = nir_add_node(e->out, nm, type);
  if (nd && e->prev && nir_add_edge(e->out, e->prev, nm)) nd = NULL;
  if (nd) {
    free(e->prev);
    e->prev = nm;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", nm);
    cJSON_AddStringToObject(o, "type", type);
    if (from) cJSON_AddStringToObject(o, "from", from);
    cJSON_AddItemToArray(e->nodes, o);
    return nd;
  }
  free(nm);
  return NULL;
}

static int64_t shape_i64[SF_MAX_DIMS];
static const int64_t *dims_of(const ex *e) {
  for (int d = 0; d < e->ndim; d++) shape_i64[d] = e->shape[d];
  return shape_i64;
}

/* why a node cannot be written: NULL if it can (for this node kind) */
static const char *refusal(const sf_node *n) {
  switch (sf_node_op(n)) {
    case SF_OP_MAX_POOL:
    case SF_OP_GLOBAL_MAX_POOL: return "NIR has no max pooling (the max of spike counts is not a sum of spikes)";
    case SF_OP_SOFTMAX: return "NIR has no softmax";
    case SF_OP_LAYER_NORM: return "NIR has no LayerNorm";
    case SF_OP_ATTENTION:
    case SF_OP_MATMUL: return "NIR has no attention or other products of two spike streams";
    case SF_OP_GELU: return "NIR has no GELU (a float function)";
    default: break;
  }
  if (n->mode == SF_MODE_PRODUCT) return "NIR has no products of two spike streams";
  if (n->mode == SF_MODE_EC) return "NIR has no float functions (expectation-compensated ops)";
  return "NIR has no node for this op";
}

/* the one computed input of a node, which must be the chain's current value */
static int chain_input(const ex *e, const sf_node *n) {
  int dyn = -1, count = 0;
  for (int k = 0; k < n->n_in; k++) {
    int v = n->in[k];
    if (v < 0 || e->g->values[v].t.data) continue;
    dyn = v;
    count++;
  }
  return count == 1 && dyn == e->cur ? 0 : -1;
}

/* pend as one factor per channel (channels on the first batch-less axis), uniform within each channel; NULL if not */
static float *pend_per_channel(const ex *e, int64_t C) {
  int64_t n = numel_of(e), inner = n / C;
  float *pc = malloc(sizeof(float) * (size_t)C);
  if (!pc) return NULL;
  for (int64_t c = 0; c < C; c++) {
    pc[c] = e->pend ? e->pend[c * inner] : 1.0f;
    for (int64_t j = 1; e->pend && j < inner; j++)
      if (e->pend[c * inner + j] != pc[c]) { free(pc); return NULL; }
  }
  return pc;
}

static sf_status unfoldable(const sf_node *n) {
  return sf_error(SF_ERR_UNSUPPORTED, "node '%s' (%s): the thresholds before it vary within a channel; they cannot be folded into its weights", n->name, n->op_type);
}

static sf_status x_flatten(ex *e, const sf_node *n) {
  if (sf_node_attr_int(n, "axis", 1) != 1) return sf_error(SF_ERR_UNSUPPORTED, "node '%s' (Flatten): axis %lld; NIR flattens a sample (axis 1) only", n->name, (long long)sf_node_attr_int(n, "axis", 1));
  e->cur = n->out[0];
  if (e->ndim <= 1) return SF_OK; /* already flat: nothing to write */
  nir_node *nd = emit(e, n->name, "Flatten", n->name);
  int64_t sd = -e->ndim, ed = -1, nin = e->ndim;
  if (!nd || !nir_set_i64(&nd->fields, &nd->n_fields, "start_dim", 0, NULL, &sd) || !nir_set_i64(&nd->fields, &nd->n_fields, "end_dim", 0, NULL, &ed) ||
      !nir_set_i64(&nd->fields, &nd->n_fields, "input_type", 1, &nin, dims_of(e)))
    return oom();
  const int64_t total = numel_of(e);
  e->ndim = 1;
  e->shape[0] = total;
  e->w_ok = 0; /* a neuron after it has other channels than the layer before: nothing to fold its thresholds into */
  return SF_OK;
}

static sf_status x_linear(ex *e, const sf_node *n) {
  const sf_tensor *W = &e->g->values[n->in[1]].t;
  const int has_b = n->n_in > 2 && n->in[2] >= 0;
  if (e->ndim != 1 || W->ndim != 2 || W->shape[0] != e->shape[0])
    return sf_error(SF_ERR_UNSUPPORTED, "node '%s' (Linear): its input is not a flat vector per sample (NIR's Affine maps vectors; tokens are not supported)", n->name);
  const int64_t K = W->shape[0], N = W->shape[1];
  float *wn = malloc(sizeof(float) * (size_t)(K * N));
  if (!wn) return oom();
  const float *w = W->data;
  for (int64_t k = 0; k < K; k++) {
    const float p = e->pend ? e->pend[k] : 1.0f;
    for (int64_t j = 0; j < N; j++) wn[j * K + k] = w[k * N + j] * p;
  }
  nir_node *nd = emit(e, n->name, has_b ? "Affine" : "Linear", n->name);
  int64_t ws[2] = {N, K};
  int ok = nd && nir_set_f32(&nd->fields, &nd->n_fields, "weight", 2, ws, wn);
  if (ok && has_b) ok = nir_set_f32(&nd->fields, &nd->n_fields, "bias", 1, &N, e->g->values[n->in[2]].t.data) != NULL;
  free(wn);
  if (!ok) return oom();
  free(e->pend);
  e->pend = NULL;
  e->last_w = e->out->n_nodes - 1;
  e->w_ok = 1;
  e->cur = n->out[0];
  e->ndim = 1;
  e->shape[0] = N;
  return SF_OK;
}

static sf_status x_conv(ex *e, const sf_node *n) {
  const sf_tensor *W = &e->g->values[n->in[1]].t;
  const int sd = W->ndim - 2;
  if ((sd != 1 && sd != 2) || e->ndim != sd + 1)
    return sf_error(SF_ERR_UNSUPPORTED, "node '%s' (Conv): a %d-D convolution; NIR has Conv1d and Conv2d", n->name, sd);
  const char *ap = sf_node_attr_string(n, "auto_pad", "NOTSET");
  if (strcmp(ap, "NOTSET")) return sf_error(SF_ERR_UNSUPPORTED, "node '%s' (Conv): auto_pad %s; write the pads out", n->name, ap);
  int64_t stride[2] = {1, 1}, pad[2] = {0, 0}, dil[2] = {1, 1};
  const int64_t *a;
  int na;
  if ((na = sf_node_attr_ints(n, "strides", &a)) == sd) memcpy(stride, a, sizeof(int64_t) * (size_t)sd);
  if ((na = sf_node_attr_ints(n, "dilations", &a)) == sd) memcpy(dil, a, sizeof(int64_t) * (size_t)sd);
  if ((na = sf_node_attr_ints(n, "pads", &a)) == 2 * sd) {
    for (int d = 0; d < sd; d++) {
      if (a[d] != a[d + sd]) return sf_error(SF_ERR_UNSUPPORTED, "node '%s' (Conv): asymmetric pads (%lld before, %lld after axis %d); NIR's padding is symmetric", n->name, (long long)a[d], (long long)a[d + sd], d);
      pad[d] = a[d];
    }
  }
  const int64_t group = sf_node_attr_int(n, "group", 1), M = W->shape[0], Cg = W->shape[1], C = e->shape[0];
  int64_t per = 1;
  for (int d = 1; d < W->ndim; d++) per *= W->shape[d];
  const int64_t kper = per / Cg;
  float *pc = pend_per_channel(e, C);
  if (!pc) return e->pend ? unfoldable(n) : oom();
  float *wn = malloc(sizeof(float) * (size_t)(M * per)), *bias = calloc((size_t)M, sizeof(float));
  if (!wn || !bias) { free(pc); free(wn); free(bias); return oom(); }
  const float *w = W->data;
  for (int64_t m = 0; m < M; m++)
    for (int64_t cg = 0; cg < Cg; cg++) {
      const float p = pc[(m / (M / group)) * Cg + cg];
      for (int64_t j = 0; j < kper; j++) wn[(m * Cg + cg) * kper + j] = w[(m * Cg + cg) * kper + j] * p;
    }
  free(pc);
  if (n->n_in > 2 && n->in[2] >= 0) memcpy(bias, e->g->values[n->in[2]].t.data, sizeof(float) * (size_t)M);
  nir_node *nd = emit(e, n->name, sd == 2 ? "Conv2d" : "Conv1d", n->name);
  int64_t ws[4], two = sd;
  for (int d = 0; d < W->ndim; d++) ws[d] = W->shape[d];
  int ok = nd && nir_set_i64(&nd->fields, &nd->n_fields, "input_shape", 1, &two, e->shape + 1) && nir_set_f32(&nd->fields, &nd->n_fields, "weight", W->ndim, ws, wn) &&
           nir_set_i64(&nd->fields, &nd->n_fields, "stride", 1, &two, stride) && nir_set_i64(&nd->fields, &nd->n_fields, "padding", 1, &two, pad) &&
           nir_set_i64(&nd->fields, &nd->n_fields, "dilation", 1, &two, dil) && nir_set_i64(&nd->fields, &nd->n_fields, "groups", 0, NULL, &group) &&
           nir_set_f32(&nd->fields, &nd->n_fields, "bias", 1, &M, bias);
  free(wn);
  free(bias);
  if (!ok) return oom();
  free(e->pend);
  e->pend = NULL;
  e->last_w = e->out->n_nodes - 1;
  e->w_ok = 1;
  e->cur = n->out[0];
  const sf_tensor *y = &e->g->values[n->out[0]].t;
  e->ndim = y->ndim - 1;
  for (int d = 0; d < e->ndim; d++) e->shape[d] = y->shape[d + 1];
  return SF_OK;
}

static sf_status x_pool(ex *e, const sf_node *n) {
  const int global = sf_node_op(n) == SF_OP_GLOBAL_AVERAGE_POOL;
  if (e->ndim != 3) return sf_error(SF_ERR_UNSUPPORTED, "node '%s' (%s): NIR pools 2-D maps only", n->name, n->op_type);
  int64_t k[2] = {e->shape[1], e->shape[2]}, s[2] = {e->shape[1], e->shape[2]}, p[2] = {0, 0};
  if (!global) {
    const int64_t *a;
    if (sf_node_attr_ints(n, "kernel_shape", &a) != 2) return sf_error(SF_ERR_FORMAT, "node '%s' (AveragePool): no 2-D kernel_shape", n->name);
    memcpy(k, a, sizeof k);
    s[0] = s[1] = 1;
    if (sf_node_attr_ints(n, "strides", &a) == 2) memcpy(s, a, sizeof s);
    if (sf_node_attr_ints(n, "pads", &a) == 4) {
      if (a[0] != a[2] || a[1] != a[3]) return sf_error(SF_ERR_UNSUPPORTED, "node '%s' (AveragePool): asymmetric pads; NIR's padding is symmetric", n->name);
      p[0] = a[0];
      p[1] = a[1];
    }
    if ((p[0] || p[1]) && !sf_node_attr_int(n, "count_include_pad", 0))
      return sf_error(SF_ERR_UNSUPPORTED, "node '%s' (AveragePool): padded, and the padding is left out of the average; NIR's AvgPool2d (torch's) counts it", n->name);
    if (sf_node_attr_int(n, "ceil_mode", 0)) return sf_error(SF_ERR_UNSUPPORTED, "node '%s' (AveragePool): ceil_mode; NIR's pools floor", n->name);
  }
  const int64_t C = e->shape[0];
  float *pc = pend_per_channel(e, C);
  if (!pc) return e->pend ? unfoldable(n) : oom();
  const int avg = e->avg_ok;
  nir_node *nd = emit(e, n->name, avg ? "AvgPool2d" : "SumPool2d", n->name);
  int64_t two = 2;
  if (!nd || !nir_set_i64(&nd->fields, &nd->n_fields, "kernel_size", 1, &two, k) || !nir_set_i64(&nd->fields, &nd->n_fields, "stride", 1, &two, s) ||
      !nir_set_i64(&nd->fields, &nd->n_fields, "padding", 1, &two, p)) {
    free(pc);
    return oom();
  }
  const sf_tensor *y = &e->g->values[n->out[0]].t;
  e->cur = n->out[0];
  e->ndim = 3;
  for (int d = 0; d < 3; d++) e->shape[d] = y->shape[d + 1];
  int any = !avg;
  for (int64_t c = 0; c < C; c++) {
    if (!avg) pc[c] /= (float)(k[0] * k[1]);
    any |= pc[c] != 1.0f;
  }
  free(e->pend);
  e->pend = NULL;
  if (any) {
    const int64_t inner = e->shape[1] * e->shape[2];
    if (!(e->pend = malloc(sizeof(float) * (size_t)(C * inner)))) { free(pc); return oom(); }
    for (int64_t c = 0; c < C; c++)
      for (int64_t j = 0; j < inner; j++) e->pend[c * inner + j] = pc[c];
  }
  free(pc);
  return SF_OK;
}

static void warn(ex *e, const char *text) {
  for (int i = 0; i < cJSON_GetArraySize(e->warnings); i++)
    if (!strcmp(cJSON_GetArrayItem(e->warnings, i)->valuestring, text)) return;
  cJSON_AddItemToArray(e->warnings, cJSON_CreateString(text));
}

/* scale the output channels of the last weighted NIR node by f[channel] (folding a threshold) */
static void scale_rows(nir_node *w, const float *f_per_elem, int64_t inner) {
  nir_field *wf = NULL, *bf = NULL;
  for (int i = 0; i < w->n_fields; i++) {
    if (!strcmp(w->fields[i].key, "weight")) wf = &w->fields[i];
    if (!strcmp(w->fields[i].key, "bias")) bf = &w->fields[i];
  }
  const int64_t M = wf->shape[0], per = wf->n / M;
  for (int64_t m = 0; m < M; m++) {
    const float f = f_per_elem[m * inner];
    for (int64_t j = 0; j < per; j++) wf->f[m * per + j] *= f;
    if (bf) bf->f[m] *= f;
  }
}

static sf_status x_neuron(ex *e, const sf_node *n, const sf_snn_model *m) {
  (void)m;
  if (sf_node_attr_int(n, "signed", 1))
    return sf_error(SF_ERR_UNSUPPORTED, "node '%s' (Neuron): a signed neuron (spikes of +theta and -theta); NIR's spikes are 0 or 1", n->name);
  const int K = (int)sf_node_attr_int(n, "levels", 1);
  if (K > 1) return sf_error(SF_ERR_UNSUPPORTED, "node '%s' (Neuron): a burst neuron (up to %d spikes per step); no NIR neuron sends more than one spike per step", n->name, K);
  if (e->pend) return sf_error(SF_ERR_UNSUPPORTED, "node '%s' (Neuron): a scale before it that NIR cannot fold (a sum pooling feeding a neuron)", n->name);
  const sf_tensor *th = &e->g->values[n->in[1]].t, *x = &e->g->values[n->in[0]].t;
  const float leak = sf_node_attr_float(n, "leak", 1.0f), vinit = sf_node_attr_float(n, "v_init", 0.5f);
  const int reset_zero = sf_node_attr_int(n, "reset", 0) == SF_RESET_ZERO;
  const int axis = (int)sf_node_attr_int(n, "axis", x->ndim - 1);
  const int64_t total = numel_of(e), nth = sf_tensor_numel(th);
  int64_t inner = 1;
  for (int d = axis + 1; d < x->ndim; d++) inner *= x->shape[d];
  const int64_t C = x->shape[axis];
  float *thf = malloc(sizeof(float) * (size_t)total);
  double *one = malloc(sizeof(double) * (size_t)total), *par = malloc(sizeof(double) * (size_t)total), *zero = calloc((size_t)total, sizeof(double));
  double *vth = malloc(sizeof(double) * (size_t)total);
  if (!thf || !one || !par || !zero || !vth) { free(thf); free(one); free(par); free(zero); free(vth); return oom(); }
  for (int64_t i = 0; i < total; i++) thf[i] = ((const float *)th->data)[nth == 1 ? 0 : (i / inner) % C];
  if (e->fold) {
    if (e->last_w < 0 || !e->w_ok) {
      free(thf); free(one); free(par); free(zero); free(vth);
      return sf_error(SF_ERR_UNSUPPORTED, "node '%s' (Neuron): dialect %s needs one threshold per layer, and no weighted layer right before it takes the thresholds", n->name,
                      sf_nir_dialect_name(e->d));
    }
    /* the layer before takes 1 / theta (per output channel), the neuron fires at 1, the layer after takes theta */
    nir_node *w = &e->out->nodes[e->last_w];
    float *inv = malloc(sizeof(float) * (size_t)total);
    if (!inv) { free(thf); free(one); free(par); free(zero); free(vth); return oom(); }
    for (int64_t i = 0; i < total; i++) inv[i] = 1.0f / thf[i];
    const int64_t rows_inner = total / (e->ndim ? e->shape[0] : 1);
    scale_rows(w, inv, rows_inner);
    free(inv);
    for (int64_t i = 0; i < total; i++) vth[i] = 1.0;
  } else {
    for (int64_t i = 0; i < total; i++) vth[i] = thf[i];
  }
  const double dt = e->dt;
  const int as_if = leak == 1.0f && e->if_ok;
  nir_node *nd = emit(e, n->name, as_if ? "IF" : "LIF", n->name);
  if (!nd) goto nomem;
  nir_field **F = &nd->fields;
  int *nF = &nd->n_fields;
  nir_field *f;
  if (as_if) {
    for (int64_t i = 0; i < total; i++) par[i] = 1.0 / dt;
    if (!(f = nir_set_f64(F, nF, "r", 0)) || !(f->d = realloc(f->d, sizeof(double) * (size_t)total))) goto nomem;
  } else {
    /* tau = dt / (1 - leak); an IF as a LIF of tau 1e4 (snnTorch: 1 - dt / tau = 1 in float32) */
    const double tau = leak == 1.0f ? 1e4 : dt / (1.0 - (double)leak);
    for (int64_t i = 0; i < total; i++) par[i] = tau;
    if (!(f = nir_set_f64(F, nF, "tau", 0)) || !(f->d = realloc(f->d, sizeof(double) * (size_t)total))) goto nomem;
    memcpy(f->d, par, sizeof(double) * (size_t)total);
    f->ndim = e->ndim; f->n = total; memcpy(f->shape, e->shape, sizeof(int64_t) * (size_t)e->ndim);
    for (int64_t i = 0; i < total; i++) par[i] = tau / dt;
    if (!(f = nir_set_f64(F, nF, "r", 0)) || !(f->d = realloc(f->d, sizeof(double) * (size_t)total))) goto nomem;
  }
  memcpy(f->d, par, sizeof(double) * (size_t)total);
  f->ndim = e->ndim; f->n = total; memcpy(f->shape, e->shape, sizeof(int64_t) * (size_t)e->ndim);
  const char *keys[3] = {"v_threshold", "v_reset", "v_leak"};
  const double *vals[3] = {vth, zero, zero};
  for (int k = 0; k < (as_if ? 2 : 3); k++) {
    if (!(f = nir_set_f64(F, nF, keys[k], 0)) || !(f->d = realloc(f->d, sizeof(double) * (size_t)total))) goto nomem;
    memcpy(f->d, vals[k], sizeof(double) * (size_t)total);
    f->ndim = e->ndim; f->n = total; memcpy(f->shape, e->shape, sizeof(int64_t) * (size_t)e->ndim);
  }
  if (!e->fold) {
    /* ours to read back: how the neuron resets and starts (NIR's readers reset to v_reset from 0) */
    if (!nir_set_str(&nd->meta, &nd->n_meta, "spikeformer_reset", reset_zero ? "zero" : "subtract") ||
        !nir_set_f64(&nd->meta, &nd->n_meta, "spikeformer_v_init", (double)vinit))
      goto nomem;
  }
  if (!reset_zero || vinit != 0.0f) {
    char w[400];
    snprintf(w, sizeof w, "the model's neurons %s; NIR's LIF / IF (and %s) reset to v_reset = 0 and start from 0: a reader runs the dynamics of "
             "'convert --reset zero --v-init 0'%s", !reset_zero ? "reset by subtraction" : "start from a membrane above 0",
             e->d == SF_NIR_GENERIC ? "any reader but SpikeFormer's import, which reads the metadata" : sf_nir_dialect_name(e->d),
             e->d == SF_NIR_GENERIC ? "" : " (SpikeFormer's import of this file too)");
    warn(e, w);
  }
  e->cur = n->out[0];
  e->last_w = -1;
  e->w_ok = 0;
  if (e->scale_ok) {
    char sname[600];
    snprintf(sname, sizeof sname, "%.580s/scale", n->name);
    nir_node *sc = emit(e, sname, "Scale", "(the spike carries theta)");
    if (!sc) goto nomem;
    if (!nir_set_f32(&sc->fields, &sc->n_fields, "scale", e->ndim, dims_of(e), thf)) goto nomem;
  } else if (e->fold) {
    e->pend = thf;
    thf = NULL;
  }
  free(thf); free(one); free(par); free(zero); free(vth);
  return SF_OK;
nomem:
  free(thf); free(one); free(par); free(zero); free(vth);
  return oom();
}

/* A max pooling of a neuron's spikes, written as their OR: SumPool2d, then an IF-like neuron that
 * fires when the window held any spike (threshold half a spike) and resets to zero, from 0. The
 * OR fires at least as often as the busiest spike train of the window (more where they
 * alternate): what Loihi 2 runs too (loihi2_lower.c); the converted model's max of running means is
 * not a sum of spikes. Each OR spike carries the channel's value, as its inputs did. */
static sf_status x_or_pool(ex *e, const sf_node *n) {
  const int pv = e->g->values[n->in[0]].producer;
  const sf_node *src = pv >= 0 ? &e->g->nodes[pv] : NULL;
  if (!src || sf_node_op(src) != SF_OP_NEURON || e->ndim != 3)
    return sf_error(SF_ERR_UNSUPPORTED, "node '%s' (MaxPool): %s", n->name, "NIR has no max pooling; the OR of spikes stands for it only right after a neuron's 2-D map");
  const int64_t *a;
  int64_t k[2], s[2] = {1, 1}, p[2] = {0, 0};
  if (sf_node_attr_ints(n, "kernel_shape", &a) != 2) return sf_error(SF_ERR_FORMAT, "node '%s' (MaxPool): no 2-D kernel_shape", n->name);
  memcpy(k, a, sizeof k);
  if (sf_node_attr_ints(n, "strides", &a) == 2) memcpy(s, a, sizeof s);
  if (sf_node_attr_ints(n, "pads", &a) == 4) {
    if (a[0] != a[2] || a[1] != a[3]) return sf_error(SF_ERR_UNSUPPORTED, "node '%s' (MaxPool): asymmetric pads; NIR's padding is symmetric", n->name);
    p[0] = a[0];
    p[1] = a[1];
  }
  if (sf_node_attr_int(n, "ceil_mode", 0)) return sf_error(SF_ERR_UNSUPPORTED, "node '%s' (MaxPool): ceil_mode; NIR's pools floor", n->name);
  const sf_tensor *th = &e->g->values[src->in[1]].t;
  const int64_t C = e->shape[0], nth = sf_tensor_numel(th);
  float *pc = NULL;
  if (e->fold && !(pc = pend_per_channel(e, C))) return e->pend ? unfoldable(n) : oom();
  nir_node *sp = emit(e, n->name, "SumPool2d", n->name);
  int64_t two = 2;
  if (!sp || !nir_set_i64(&sp->fields, &sp->n_fields, "kernel_size", 1, &two, k) || !nir_set_i64(&sp->fields, &sp->n_fields, "stride", 1, &two, s) ||
      !nir_set_i64(&sp->fields, &sp->n_fields, "padding", 1, &two, p)) {
    free(pc);
    return oom();
  }
  const sf_tensor *y = &e->g->values[n->out[0]].t;
  e->ndim = 3;
  for (int d = 0; d < 3; d++) e->shape[d] = y->shape[d + 1];
  const int64_t total = numel_of(e), inner = total / C;
  double *vth = malloc(sizeof(double) * (size_t)total), *par = malloc(sizeof(double) * (size_t)total), *zero = calloc((size_t)total, sizeof(double));
  float *thf = malloc(sizeof(float) * (size_t)total);
  char nname[600];
  snprintf(nname, sizeof nname, "%.580s/or", n->name);
  nir_node *nd = vth && par && zero && thf ? emit(e, nname, e->if_ok ? "IF" : "LIF", "(the OR of the window's spikes)") : NULL;
  nir_field *f = NULL;
  int ok = nd != NULL;
  for (int64_t i = 0; ok && i < total; i++) {
    thf[i] = ((const float *)th->data)[nth == 1 ? 0 : (i / inner) % nth];
    vth[i] = e->scale_ok ? 0.5 * thf[i] : 0.5; /* generic: the spikes arrive scaled by theta */
  }
  const double tau = 1e4; /* an IF as a LIF of tau 1e4 (snnTorch: 1 - dt / tau = 1 in float32) */
  /* IF: r, v_threshold, v_reset; LIF: tau, r, v_threshold, v_reset, v_leak (as x_neuron writes them) */
  const char *if_keys[] = {"r", "v_threshold", "v_reset"}, *lif_keys[] = {"tau", "r", "v_threshold", "v_reset", "v_leak"};
  const char *const *keys = e->if_ok ? if_keys : lif_keys;
  const int nkeys = e->if_ok ? 3 : 5;
  for (int q = 0; ok && q < nkeys; q++) {
    const char *key = keys[q];
    for (int64_t i = 0; i < total; i++)
      par[i] = !strcmp(key, "tau") ? tau : !strcmp(key, "r") ? (e->if_ok ? 1.0 / e->dt : tau / e->dt) : !strcmp(key, "v_threshold") ? vth[i] : 0.0;
    ok = (f = nir_set_f64(&nd->fields, &nd->n_fields, key, 0)) && (f->d = realloc(f->d, sizeof(double) * (size_t)total));
    if (ok) {
      memcpy(f->d, par, sizeof(double) * (size_t)total);
      f->ndim = e->ndim; f->n = total; memcpy(f->shape, e->shape, sizeof(int64_t) * (size_t)e->ndim);
    }
  }
  if (ok && !e->fold) ok = nir_set_str(&nd->meta, &nd->n_meta, "spikeformer_reset", "zero") && nir_set_f64(&nd->meta, &nd->n_meta, "spikeformer_v_init", 0.0);
  if (ok && e->scale_ok) {
    char sname[620];
    snprintf(sname, sizeof sname, "%.590s/scale", nname);
    nir_node *sc = emit(e, sname, "Scale", "(the spike carries theta)");
    ok = sc && nir_set_f32(&sc->fields, &sc->n_fields, "scale", e->ndim, dims_of(e), thf);
  }
  if (ok && e->fold) {
    /* the pending per-channel factor passes through the OR unchanged */
    free(e->pend);
    e->pend = malloc(sizeof(float) * (size_t)total);
    ok = e->pend != NULL;
    for (int64_t i = 0; ok && i < total; i++) e->pend[i] = pc[i / inner];
  }
  free(pc); free(vth); free(par); free(zero); free(thf);
  if (!ok) return oom();
  warn(e, "max pooling written as the OR of the window's spikes (SumPool2d and a neuron that fires on any): not the converted model's max of rates");
  e->cur = n->out[0];
  e->last_w = -1;
  e->w_ok = 0;
  return SF_OK;
}

static sf_status export_node(ex *e, const sf_node *n, const sf_snn_model *m) {
  switch (sf_node_op(n)) {
    case SF_OP_FLATTEN: return x_flatten(e, n);
    case SF_OP_LINEAR: return x_linear(e, n);
    case SF_OP_CONV: return x_conv(e, n);
    case SF_OP_AVERAGE_POOL:
    case SF_OP_GLOBAL_AVERAGE_POOL: {
      sf_status st = x_pool(e, n);
      return st;
    }
    case SF_OP_NEURON: return x_neuron(e, n, m);
    case SF_OP_MAX_POOL: return x_or_pool(e, n);
    default: break;
  }
  return sf_error(SF_ERR_UNSUPPORTED, "node '%s' (%s): %s", n->name, n->op_type, refusal(n));
}

static int is_supported(const sf_node *n) {
  switch (sf_node_op(n)) {
    case SF_OP_FLATTEN:
    case SF_OP_LINEAR:
    case SF_OP_CONV:
    case SF_OP_AVERAGE_POOL:
    case SF_OP_GLOBAL_AVERAGE_POOL:
    case SF_OP_MAX_POOL:
    case SF_OP_NEURON: return 1;
    default: return 0;
  }
}

sf_status sf_export_nir(const sf_snn_model *m, const char *path, const sf_nir_options *opt, char **report) {
  if (report) *report = NULL;
  sf_nir_options dflt;
  if (!opt) { sf_nir_options_default(&dflt); opt = &dflt; }
  if ((unsigned)opt->dialect >= SF_NIR_DIALECT_COUNT) return sf_error(SF_ERR_ARG, "NIR export: unknown dialect %d", (int)opt->dialect);
  if (m->opt.snn.coding == SF_CODING_DELTA)
    return sf_error(SF_ERR_UNSUPPORTED, "NIR export: the model is delta-coded (sigma-delta neurons send changes); NIR's neurons are rate-coded spiking neurons");
  sf_graph *g = NULL;
  sf_status st = sf_snn_model_build(m, 1, &g);
  if (st) return st;
  ex e;
  memset(&e, 0, sizeof e);
  e.g = g;
  e.d = opt->dialect;
  e.dt = opt->dt > 0 ? opt->dt : sf_nir_dialect_dt(e.d);
  e.fold = e.d != SF_NIR_GENERIC;
  e.scale_ok = e.d == SF_NIR_GENERIC;
  e.avg_ok = e.d != SF_NIR_LAVA && e.d != SF_NIR_SPINNAKER2;
  e.if_ok = e.d != SF_NIR_SNNTORCH && e.d != SF_NIR_NORSE;
  e.last_w = -1;
  e.out = calloc(1, sizeof *e.out);
  e.nodes = cJSON_CreateArray();
  e.warnings = cJSON_CreateArray();
  cJSON *stopped = NULL;
  int reached_until = 0;
  if (!e.out || !e.nodes || !e.warnings) { st = oom(); goto done; }
  if (g->n_inputs != 1 || g->n_outputs < 1) { st = sf_error(SF_ERR_UNSUPPORTED, "NIR export: the model has %d inputs; NIR graphs here have one Input", g->n_inputs); goto done; }
  e.cur = g->inputs[0];
  const sf_tensor *xin = &g->values[e.cur].t;
  e.ndim = xin->ndim - 1;
  for (int d = 0; d < e.ndim; d++) e.shape[d] = xin->shape[d + 1];
  nir_node *in = emit(&e, "input", "Input", sf_graph_input_name(g, 0));
  int64_t nd1 = e.ndim;
  if (!in || !nir_set_i64(&in->fields, &in->n_fields, "shape", 1, &nd1, dims_of(&e))) { st = oom(); goto done; }
  for (int i = 0; i < g->n_nodes && !st; i++) {
    const sf_node *n = &g->nodes[i];
    if (!n->n_out) continue;
    const int on_chain = chain_input(&e, n) == 0;
    if (!on_chain || !is_supported(n)) {
      const char *why = !on_chain ? "the graph is not a chain here (a node with other computed inputs, or a branch): NIR export writes chains" : refusal(n);
      if (opt->partial && e.out->n_nodes > 1) {
        stopped = cJSON_CreateObject();
        cJSON_AddStringToObject(stopped, "node", n->name);
        cJSON_AddStringToObject(stopped, "op", n->op_type);
        cJSON_AddStringToObject(stopped, "reason", why);
        break;
      }
      st = sf_error(SF_ERR_UNSUPPORTED, "NIR export: node '%s' (%s): %s%s", n->name, n->op_type, why,
                    opt->partial ? "" : " (--partial writes the part before it, --until NODE the part up to NODE)");
      break;
    }
    st = export_node(&e, n, m);
    if (st && opt->partial && e.out->n_nodes > 1 && st != SF_ERR_NOMEM) {
      /* a node of a supported kind that this one cannot write: the part before it */
      stopped = cJSON_CreateObject();
      cJSON_AddStringToObject(stopped, "node", n->name);
      cJSON_AddStringToObject(stopped, "op", n->op_type);
      cJSON_AddStringToObject(stopped, "reason", sf_last_error());
      st = SF_OK;
      break;
    }
    if (st) st = sf_error_context(st, "NIR export");
    if (!st && opt->until && !strcmp(n->name, opt->until)) { reached_until = 1; break; }
  }
  if (st) goto done;
  if (opt->until && !reached_until) {
    st = sf_error(SF_ERR_ARG, "NIR export: --until '%s': no node of that name in the spiking graph (see 'spikeformer eval' or 'analyze' for the names)%s", opt->until,
                  stopped ? ", or it lies after where the export stopped" : "");
    goto done;
  }
  if (!stopped && !reached_until && e.cur != g->outputs[0]) {
    st = sf_error(SF_ERR_UNSUPPORTED, "NIR export: the chain from the input does not end at the model's output '%s'", g->values[g->outputs[0]].name);
    goto done;
  }
  if (e.pend && !e.scale_ok) {
    /* folded thresholds of a neuron at the end: its spikes are 1 instead of theta */
    warn(&e, "the last node written is a neuron whose thresholds were folded: its spikes count 1, not theta");
  }
  nir_node *out = emit(&e, "output", "Output", g->values[g->outputs[0]].name);
  const int64_t nd_out = e.ndim;
  if (!out || !nir_set_i64(&out->fields, &out->n_fields, "shape", 1, &nd_out, dims_of(&e))) { st = oom(); goto done; }
  char prod[64];
  snprintf(prod, sizeof prod, "spikeformer %s", SF_VERSION);
  if (!nir_set_f64(&e.out->meta, &e.out->n_meta, "dt", e.dt) || !nir_set_str(&e.out->meta, &e.out->n_meta, "spikeformer_dialect", sf_nir_dialect_name(e.d)) ||
      !nir_set_str(&e.out->meta, &e.out->n_meta, "producer", prod)) {
    st = oom();
    goto done;
  }
  st = nir_h5_write(path, e.out, "1.0");
done:
  if (!st && report) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "file", path);
    cJSON_AddStringToObject(r, "format", "nir");
    cJSON_AddStringToObject(r, "nir_version", "1.0");
    cJSON_AddStringToObject(r, "dialect", sf_nir_dialect_name(e.d));
    cJSON_AddNumberToObject(r, "dt", e.dt);
    cJSON_AddBoolToObject(r, "thresholds_folded", e.fold);
    cJSON_AddStringToObject(r, "reader_dynamics", "u = beta v + I; spike when u > v_threshold; v reset to 0; v starts at 0");
    cJSON_AddItemToObject(r, "nodes", e.nodes);
    e.nodes = NULL;
    cJSON_AddItemToObject(r, "warnings", e.warnings);
    e.warnings = NULL;
    if (stopped) { cJSON_AddItemToObject(r, "stopped_before", stopped); stopped = NULL; }
    else cJSON_AddNullToObject(r, "stopped_before");
    *report = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    if (!*report) st = oom();
  }
  cJSON_Delete(stopped);
  cJSON_Delete(e.nodes);
  cJSON_Delete(e.warnings);
  nir_graph_free(e.out);
  free(e.prev);
  free(e.pend);
  sf_graph_free(g);
  return st;
}

#include "spikeformer/analyze.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "ops/ops.h"

const char *sf_spike_class_name(sf_spike_class c) {
  static const char *n[] = {"accumulate", "analog-input", "spike-product", "neuron", "linear", "layout",
                            "float-runtime", "approximate", "folded", "unsupported"};
  return n[c];
}

static int is_const(const sf_graph *g, int v) { return v >= 0 && g->values[v].t.data != NULL; }
static int64_t numel(const sf_graph *g, int v) { return v >= 0 ? sf_tensor_numel(&g->values[v].t) : 0; }
static const sf_tensor *T(const sf_graph *g, int v) { return &g->values[v].t; }

static int is_graph_input(const sf_graph *g, int v) { return v >= 0 && g->values[v].is_input; }

/* fed (through rearranging ops and casts only) by a graph input? */
static int fed_by_input(const sf_graph *g, int v, int depth) {
  if (is_graph_input(g, v)) return 1;
  if (depth > 8 || v < 0 || g->values[v].producer < 0) return 0;
  const sf_node *p = &g->nodes[g->values[v].producer];
  if (sf_node_flag(p, SF_OPF_PERMUTES) || sf_node_op(p) == SF_OP_CAST) return fed_by_input(g, p->in[0], depth + 1);
  return 0;
}

/* MACs of a weighted layer whose weights are input w */
static int64_t weighted_macs(const sf_graph *g, const sf_node *n, int w, int64_t out_n) {
  const sf_tensor *wt = T(g, n->in[w]);
  int64_t K = 0;
  if (sf_node_op(n) == SF_OP_CONV) {
    K = wt->shape[1];
    for (int i = 2; i < wt->ndim; i++) K *= wt->shape[i];
  } else if (sf_node_op(n) == SF_OP_GEMM) {
    K = sf_node_attr_int(n, "transB", 0) ? wt->shape[1] : wt->shape[0];
  } else {
    K = wt->ndim >= 2 ? wt->shape[wt->ndim - 2] : wt->shape[0];
  }
  return out_n * K;
}

/* The class and explanation of a node, from the op table's spiking class and the node's mode
 * (sf_node_spiking_mode: the converter's answer). */
static void classify(const sf_graph *g, const sf_node *n, sf_node_report *r) {
  int64_t out_n = n->n_out ? numel(g, n->out[0]) : 0;
  const char *why = NULL;
  const sf_spiking_mode mode = sf_node_spiking_mode(g, n, &why);
  const sf_spiking_class cls = n->def ? n->def->spiking : SF_SPK_NONE;
  r->cls = SF_SPIKE_UNSUPPORTED;
  r->how = why ? why : "no spiking equivalent for this op";
  if (cls == SF_SPK_ATTENTION) {
    const sf_tensor *q = T(g, n->in[0]), *kt = T(g, n->in[1]), *v = T(g, n->in[2]);
    int rr = q->ndim;
    int64_t b = sf_shape_numel(rr - 2, q->shape);
    r->macs = b * q->shape[rr - 2] * kt->shape[rr - 1] * (q->shape[rr - 1] + v->shape[rr - 1]);
    r->cls = SF_SPIKE_STREAM_PRODUCT;
    r->how = "Q*Kt and attention*V as exact products of two spike streams (running sums); softmax in float at runtime "
             "(expectation compensation)";
    return;
  }
  if (mode == SF_MODE_NONE) return;
  if (cls == SF_SPK_WEIGHTED && mode == SF_MODE_LINEAR) {
    const int w = sf_node_op(n) == SF_OP_MATMUL && is_const(g, n->in[0]) ? 0 : 1;
    r->macs = weighted_macs(g, n, w, out_n);
    for (int k = 0; k < n->n_in; k++)
      if (is_const(g, n->in[k])) r->params += numel(g, n->in[k]);
    if (!is_const(g, n->in[1 - w]) && !is_const(g, n->in[0]) && fed_by_input(g, n->in[0], 0)) {
      r->cls = SF_SPIKE_ANALOG_INPUT;
      r->how = "fed the analog input directly (direct coding): multiply-accumulate on the first layer";
    } else {
      r->cls = SF_SPIKE_ACCUMULATE;
      r->how = "input spikes select weight rows that are added: accumulate only, weights unchanged";
    }
    return;
  }
  if (mode == SF_MODE_PRODUCT) {
    const sf_tensor *a = T(g, n->in[0]);
    r->macs = sf_node_op(n) == SF_OP_MUL ? out_n : out_n * a->shape[a->ndim - 1];
    r->cls = SF_SPIKE_STREAM_PRODUCT;
    r->how = "product of two spike streams (running-sum decomposition): adds only";
    return;
  }
  switch (cls) {
    case SF_SPK_NEURON:
    case SF_SPK_RELU:
      r->cls = SF_SPIKE_NEURON;
      r->how = "IF neuron: its firing rate is ReLU of its input";
      return;
    case SF_SPK_MAX:
      r->cls = SF_SPIKE_APPROXIMATE;
      r->how = "max of accumulated spike counts: max of sums is not the sum of maxes (approximate)";
      return;
    case SF_SPK_LAYOUT:
    case SF_SPK_SELECT:
    case SF_SPK_CAST:
      r->cls = SF_SPIKE_LAYOUT;
      r->how = "data movement: spikes are routed, no arithmetic";
      return;
    default: break;
  }
  if (mode == SF_MODE_EC) {
    r->cls = SF_SPIKE_FLOAT_RUNTIME;
    r->how = "non-linear: float function of the running mean at runtime (expectation compensation), not spike-native";
    r->macs = out_n;
    return;
  }
  /* linear */
  r->cls = SF_SPIKE_LINEAR;
  int n_dyn = 0;
  for (int k = 0; k < n->n_in; k++) n_dyn += n->in[k] >= 0 && !is_const(g, n->in[k]);
  if (n_dyn == 0) {
    r->how = "constants only: a constant current, computed once";
  } else if (sf_node_flag(n, SF_OPF_FOLDS_INTO_WEIGHTS)) {
    r->cls = SF_SPIKE_FOLDED;
    r->how = "folded into the preceding convolution / linear layer";
    r->params = 0;
    for (int k = 1; k < n->n_in; k++) r->params += numel(g, n->in[k]);
  } else if (sf_node_op(n) == SF_OP_ADD || sf_node_op(n) == SF_OP_SUB) {
    r->how = (is_const(g, n->in[0]) || is_const(g, n->in[1])) ? "constant current (bias / position / CLS): injected, exact"
                                                              : "residual add of two spike streams: exact";
  } else if (cls == SF_SPK_SCALE || sf_node_op(n) == SF_OP_NEG) {
    r->how = "scaling by a constant: folded into thresholds or weights";
  } else if (sf_node_op(n) == SF_OP_SUM || sf_node_op(n) == SF_OP_MEAN) {
    r->how = "sum of spike streams: exact";
  } else {
    r->how = "pooling / token mean: linear, exact on spike counts";
  }
}

sf_status sf_analyze(const sf_graph *g, sf_model_report *out) {
  memset(out, 0, sizeof *out);
  out->nodes = calloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof *out->nodes);
  if (!out->nodes) return sf_error(SF_ERR_NOMEM, "out of memory");
  out->n_nodes = g->n_nodes;
  for (int i = 0; i < g->n_nodes; i++) {
    const sf_node *n = &g->nodes[i];
    sf_node_report *r = &out->nodes[i];
    r->name = n->name;
    r->op_type = n->op_type;
    r->domain = n->domain;
    r->note = n->note;
    if (n->n_out) {
      const sf_tensor *t = &g->values[n->out[0]].t;
      sf_shape_str(t->ndim, t->shape, r->out_shape, sizeof r->out_shape);
    }
    classify(g, n, r);
    out->total_params += r->params;
    out->total_macs += r->macs;
    out->macs_by_class[r->cls] += r->macs;
    out->count_by_class[r->cls]++;
    if (r->cls == SF_SPIKE_UNSUPPORTED) out->n_unsupported++;
  }
  return SF_OK;
}

void sf_model_report_free(sf_model_report *r) {
  free(r->nodes);
  sf_graph_free(r->plan);
  memset(r, 0, sizeof *r);
}

void sf_analyze_options_default(sf_analyze_options *o) {
  o->batch = 1;
  o->seq_len = 16;
  o->fuse = 1;
}

sf_status sf_analyze_model(const sf_graph *g, const sf_analyze_options *o_in, sf_model_report *out) {
  memset(out, 0, sizeof *out);
  sf_analyze_options o;
  if (o_in) o = *o_in;
  else sf_analyze_options_default(&o);
  const int ni = sf_graph_num_inputs(g);
  sf_tensor *d = calloc((size_t)(ni ? ni : 1), sizeof *d);
  if (!d) return sf_error(SF_ERR_NOMEM, "out of memory");
  for (int i = 0; i < ni; i++) {
    d[i] = sf_graph_input_desc(g, i);
    if (d[i].ndim < 0) {
      free(d);
      return sf_error(SF_ERR_SHAPE, "input '%s' has no declared shape; analyze needs one", sf_graph_input_name(g, i));
    }
    for (int k = 0; k < d[i].ndim; k++)
      if (d[i].shape[k] < 0) d[i].shape[k] = k == 0 ? o.batch : o.seq_len;
  }
  sf_graph *plan;
  sf_status st = sf_graph_specialize(g, d, o.fuse ? SF_SPEC_FUSE : 0, &plan);
  free(d);
  if (st) return sf_error_context(st, "%s", sf_graph_source(g));
  if ((st = sf_analyze(plan, out))) {
    sf_graph_free(plan);
    return st;
  }
  out->plan = plan;
  out->n_imported = sf_graph_num_nodes(g);
  out->batch = o.batch;
  return SF_OK;
}

char *sf_model_report_json(const sf_model_report *r, const char *name) {
  cJSON *root = cJSON_CreateObject(), *arr = cJSON_CreateArray(), *cls = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "model", name ? name : "");
  cJSON_AddNumberToObject(root, "nodes_imported", r->n_imported);
  cJSON_AddNumberToObject(root, "nodes", r->n_nodes);
  cJSON_AddNumberToObject(root, "params", (double)r->total_params);
  cJSON_AddNumberToObject(root, "macs", (double)r->total_macs);
  cJSON_AddNumberToObject(root, "batch", (double)r->batch);
  cJSON_AddNumberToObject(root, "unsupported", r->n_unsupported);
  for (int i = 0; i < r->n_nodes; i++) {
    const sf_node_report *n = &r->nodes[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", n->name);
    cJSON_AddStringToObject(o, "op", n->op_type);
    cJSON_AddStringToObject(o, "domain", n->domain);
    cJSON_AddStringToObject(o, "output_shape", n->out_shape);
    cJSON_AddNumberToObject(o, "params", (double)n->params);
    cJSON_AddNumberToObject(o, "macs", (double)n->macs);
    cJSON_AddStringToObject(o, "spiking", sf_spike_class_name(n->cls));
    cJSON_AddStringToObject(o, "how", n->how);
    if (n->note) cJSON_AddStringToObject(o, "fused", n->note);
    cJSON_AddItemToArray(arr, o);
  }
  for (int c = 0; c <= SF_SPIKE_UNSUPPORTED; c++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "nodes", r->count_by_class[c]);
    cJSON_AddNumberToObject(o, "macs", (double)r->macs_by_class[c]);
    cJSON_AddItemToObject(cls, sf_spike_class_name((sf_spike_class)c), o);
  }
  cJSON_AddItemToObject(root, "by_class", cls);
  cJSON_AddItemToObject(root, "layers", arr);
  char *s = cJSON_Print(root);
  cJSON_Delete(root);
  return s;
}

#include "spikeformer/analyze.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"

const char *sf_spike_class_name(sf_spike_class c) {
  static const char *n[] = {"accumulate", "analog-input", "spike-product", "neuron", "linear", "layout",
                            "float-runtime", "approximate", "folded", "unsupported"};
  return n[c];
}

static int is_const(const sf_graph *g, int v) { return v >= 0 && g->values[v].t.data != NULL; }
static int64_t numel(const sf_graph *g, int v) { return v >= 0 ? sf_tensor_numel(&g->values[v].t) : 0; }
static const sf_tensor *T(const sf_graph *g, int v) { return &g->values[v].t; }

static int is_graph_input(const sf_graph *g, int v) { return v >= 0 && g->values[v].is_input; }

/* fed (through layout ops only) by a graph input? */
static int fed_by_input(const sf_graph *g, int v, int depth) {
  if (is_graph_input(g, v)) return 1;
  if (depth > 8 || v < 0 || g->values[v].producer < 0) return 0;
  const sf_node *p = &g->nodes[g->values[v].producer];
  static const char *layout[] = {"Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity", "Cast", NULL};
  for (int i = 0; layout[i]; i++)
    if (!strcmp(p->op_type, layout[i])) return fed_by_input(g, p->in[0], depth + 1);
  return 0;
}

static void classify(const sf_graph *g, const sf_node *n, sf_node_report *r) {
  const char *op = n->op_type;
  int spk = !strcmp(n->domain, "spikeformer");
  int64_t out_n = n->n_out ? numel(g, n->out[0]) : 0;
  r->cls = SF_SPIKE_UNSUPPORTED;
  r->how = "no spiking equivalent for this op";
  if (!strcmp(op, "Linear") || !strcmp(op, "Gemm") || !strcmp(op, "Conv") ||
      (!strcmp(op, "MatMul") && (is_const(g, n->in[0]) || is_const(g, n->in[1])))) {
    int w = !strcmp(op, "MatMul") && is_const(g, n->in[0]) ? 0 : 1;
    const sf_tensor *wt = T(g, n->in[w]);
    int64_t K = 0;
    if (!strcmp(op, "Conv")) {
      K = wt->shape[1];
      for (int i = 2; i < wt->ndim; i++) K *= wt->shape[i];
    } else if (!strcmp(op, "Gemm")) {
      K = sf_node_attr_int(n, "transB", 0) ? wt->shape[1] : wt->shape[0];
    } else {
      K = wt->ndim >= 2 ? wt->shape[wt->ndim - 2] : wt->shape[0];
    }
    r->macs = out_n * K;
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
  if (!strcmp(op, "Attention") && spk) {
    const sf_tensor *q = T(g, n->in[0]), *kt = T(g, n->in[1]), *v = T(g, n->in[2]);
    int rr = q->ndim;
    int64_t b = sf_shape_numel(rr - 2, q->shape);
    r->macs = b * q->shape[rr - 2] * kt->shape[rr - 1] * (q->shape[rr - 1] + v->shape[rr - 1]);
    r->cls = SF_SPIKE_STREAM_PRODUCT;
    r->how = "Q*Kt and attention*V as exact products of two spike streams (running sums); softmax in float at runtime "
             "(expectation compensation)";
    return;
  }
  if (!strcmp(op, "MatMul")) {
    const sf_tensor *a = T(g, n->in[0]), *bt = T(g, n->in[1]);
    r->macs = out_n * a->shape[a->ndim - 1];
    (void)bt;
    r->cls = SF_SPIKE_STREAM_PRODUCT;
    r->how = "product of two spike streams (running-sum decomposition): adds only";
    return;
  }
  if (!strcmp(op, "Relu")) { r->cls = SF_SPIKE_NEURON; r->how = "IF neuron: its firing rate is ReLU of its input"; return; }
  if (!strcmp(op, "LayerNormalization") || !strcmp(op, "Softmax") || !strcmp(op, "Gelu") || !strcmp(op, "Erf") ||
      !strcmp(op, "Tanh") || !strcmp(op, "Sigmoid") || !strcmp(op, "Sqrt") || !strcmp(op, "Exp") || !strcmp(op, "Log") ||
      !strcmp(op, "LogSoftmax") || !strcmp(op, "Reciprocal") || (!strcmp(op, "Pow")) ||
      (!strcmp(op, "Div") && !is_const(g, n->in[1])) || (!strcmp(op, "Mul") && !is_const(g, n->in[0]) && !is_const(g, n->in[1]))) {
    r->cls = SF_SPIKE_FLOAT_RUNTIME;
    r->how = "non-linear: float function of the running mean at runtime (expectation compensation), not spike-native";
    r->macs = out_n;
    return;
  }
  if (!strcmp(op, "Add") || !strcmp(op, "Sub")) {
    r->cls = SF_SPIKE_LINEAR;
    r->how = (is_const(g, n->in[0]) || is_const(g, n->in[1])) ? "constant current (bias / position / CLS): injected, exact"
                                                              : "residual add of two spike streams: exact";
    return;
  }
  if (!strcmp(op, "Mul") || !strcmp(op, "Div") || !strcmp(op, "Neg")) {
    r->cls = SF_SPIKE_LINEAR;
    r->how = "scaling by a constant: folded into thresholds or weights";
    return;
  }
  if (!strcmp(op, "AveragePool") || !strcmp(op, "GlobalAveragePool") || !strcmp(op, "ReduceMean") || !strcmp(op, "ReduceSum")) {
    r->cls = SF_SPIKE_LINEAR;
    r->how = "pooling / token mean: linear, exact on spike counts";
    return;
  }
  if (!strcmp(op, "MaxPool") || !strcmp(op, "GlobalMaxPool") || !strcmp(op, "ReduceMax")) {
    r->cls = SF_SPIKE_APPROXIMATE;
    r->how = "max of accumulated spike counts: max of sums is not the sum of maxes (approximate)";
    return;
  }
  if (!strcmp(op, "BatchNormalization")) {
    r->cls = SF_SPIKE_FOLDED;
    r->how = "folded into the preceding convolution / linear layer";
    r->params = 0;
    for (int k = 1; k < n->n_in; k++) r->params += numel(g, n->in[k]);
    return;
  }
  static const char *layout[] = {"Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Concat", "Gather", "Slice",
                                 "Split", "Expand", "Identity", "Dropout", "Tile", "Pad", NULL};
  for (int i = 0; layout[i]; i++)
    if (!strcmp(op, layout[i])) { r->cls = SF_SPIKE_LAYOUT; r->how = "data movement: spikes are routed, no arithmetic"; return; }
  if (!strcmp(op, "Cast") || !strcmp(op, "Where") || !strcmp(op, "Equal")) {
    r->how = "data-dependent control (masks, casts) has no spiking form; fold it away with constant inputs";
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
  memset(r, 0, sizeof *r);
}

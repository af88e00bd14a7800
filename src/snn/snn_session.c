/* Spiking session: per-node state, the buffer plan, counters and options (everything but running
 * and quantising; see snn_exec.c and snn_quant.c). */
#include <stdlib.h>
#include <string.h>

#include "convert/convert_internal.h"
#include "snn/spike_kernels.h"
#include "snn/snn_session.h"

void sf_snn_session_free(sf_snn_session *s) {
  if (!s) return;
  const sf_graph *g = s->g;
  if (s->inc)
    for (int v = 0; v < g->n_values; v++)
      if ((!s->aliased || !s->aliased[v]) && (!s->pooled || !s->pooled[v])) free(s->inc[v]);
  for (int k = 0; k < s->n_pool; k++) free(s->pool[k]);
  free(s->pool);
  free(s->pooled);
  if (s->ns)
    for (int i = 0; i < g->n_nodes; i++) {
      node_state *n = &s->ns[i];
      for (int k = 0; k < g->nodes[i].n_in; k++)
        if (n->ec.cum) free(n->ec.cum[k]);
      free(n->ec.cum); free(n->ec.prev);
      snn_neuron_free(&n->nrn);
      free(n->syn.bq); free(n->syn.acc);
      if (!n->syn.q_shared) { free(n->syn.Wq); free(n->syn.Wp); free(n->syn.colsum); free(n->syn.wscale); } /* (else the donor's) */
      if (!n->syn.w16_shared) free(n->syn.W16);
      free(n->syn.xq); free(n->syn.inv_thx); free(n->syn.xq8); free(n->syn.xscale); free(n->syn.xu8); free(n->syn.off);
      free(n->fan);
    }
  for (int k = 0; k < s->n_scratch; k++) free(s->scratch_mean[k]);
  free(s->scratch_mean);
  free(s->scratch_f);
  free(s->producer);
  free(s->aliased);
  free(s->inc); free(s->ns); free(s->spike_valued); free(s->static_v); free(s->cum_out); free(s->counts);
  free(s->spk_count); free(s->spk_v); free(s->spk_theta);
  free(s->step_sops); free(s->step_macs); free(s->step_fops); free(s->step_nupd); free(s->raster);
  free(s->chain); free(s->chain_y); free(s->chain_idx); free(s->chain_S); free(s->chain_acc); free(s->chain_i16); free(s->chain_bits);
  free(s->chain_lists); free(s->chain_counts);
  free(s->silent); free(s->zeros);
  free(s);
}

float *sf_snn_alloc_f(int64_t n) { return calloc((size_t)(n > 0 ? n : 1), sizeof(float)); }

int sf_snn_passes_spikes(const sf_node *nd) {
  return sf_node_flag(nd, SF_OPF_PERMUTES) || sf_node_op(nd) == SF_OP_MAX_POOL || sf_node_op(nd) == SF_OP_GLOBAL_MAX_POOL;
}

/* layout ops that keep every element in place (flat index unchanged) */
static int keeps_order(const sf_node *nd) { return sf_node_flag(nd, SF_OPF_KEEPS_ORDER); }

/* The neuron node whose spikes reach value v through layout ops only, or -1. *exact: every layout op
 * on the way keeps element order (so the neuron's flat outputs are v's flat elements). */
static int trace_source(const sf_snn_session *s, int v, int *exact) {
  *exact = 1;
  for (int hops = 0; v >= 0 && hops < 64; hops++) {
    int p = s->producer[v];
    if (p < 0) return -1;
    const sf_node *nd = &s->g->nodes[p];
    if (s->ns[p].m == M_NEURON) return p;
    if (!sf_snn_passes_spikes(nd) || nd->n_in < 1) return -1;
    if (!keeps_order(nd)) *exact = 0;
    v = nd->in[0];
  }
  return -1;
}

/* The fused form of ec node nd (ec_rows.h) when its op is one of those kernels on its only
 * dynamic input: GELU (erf), LayerNorm over the trailing axes with per-element (or no) scale and
 * bias, softmax over contiguous rows. Else kind NONE: the op runs through its own exec. */
static sf_ec_rows_op ec_rows_plan(const sf_graph *g, const sf_node *nd) {
  sf_ec_rows_op op = {SF_EC_ROWS_NONE, 0, 0.0f, NULL, NULL}, none = op;
  if (nd->n_in < 1 || nd->n_out != 1 || nd->in[0] < 0 || is_const(g, nd->in[0]) || nd->out[0] < 0) return none;
  for (int k = 1; k < nd->n_in; k++)
    if (nd->in[k] >= 0 && !is_const(g, nd->in[k])) return none;
  const sf_tensor *x = &g->values[nd->in[0]].t, *y = &g->values[nd->out[0]].t;
  if (x->dtype != SF_F32 || y->dtype != SF_F32 || x->ndim < 1 || sf_tensor_numel(x) != sf_tensor_numel(y) || sf_tensor_numel(x) == 0) return none;
  if (sf_node_op(nd) == SF_OP_GELU) {
    if (nd->n_in != 1 || !strcmp(sf_node_attr_string(nd, "approximate", "none"), "tanh")) return none;
    op.kind = SF_EC_ROWS_GELU;
    op.D = 1;
    return op;
  }
  const int ln = sf_node_op(nd) == SF_OP_LAYER_NORM;
  if (!ln && sf_node_op(nd) != SF_OP_SOFTMAX) return none;
  int64_t axis = sf_node_attr_int(nd, "axis", ln || g->opset >= 13 ? -1 : 1);
  if (axis < 0) axis += x->ndim;
  if (axis < 0 || axis >= x->ndim) return none;
  /* opset 13 softmax normalises along one axis: contiguous rows only when it is the last */
  if (!ln && g->opset >= 13 && axis != x->ndim - 1) return none;
  op.D = sf_shape_numel(x->ndim - (int)axis, x->shape + axis);
  if (op.D <= 0) return none;
  if (!ln) {
    if (nd->n_in != 1) return none;
    op.kind = SF_EC_ROWS_SOFTMAX;
    return op;
  }
  for (int k = 1; k < 3 && k < nd->n_in; k++) {
    if (nd->in[k] < 0) continue;
    const sf_tensor *p = &g->values[nd->in[k]].t;
    if (p->dtype != SF_F32 || sf_tensor_numel(p) != op.D) return none;
    if (k == 1) op.scale = p->data;
    else op.bias = p->data;
  }
  if (nd->n_in > 3) return none;
  op.eps = sf_node_attr_float(nd, "epsilon", 1e-5f);
  op.kind = SF_EC_ROWS_LAYERNORM;
  return op;
}

int64_t sf_snn_state_bytes(const sf_graph *g) {
  int64_t floats = 0;
  for (int v = 0; v < g->n_values; v++)
    if (!is_const(g, v) && g->values[v].producer >= 0) floats += numel(g, v);
  for (int i = 0; i < g->n_nodes; i++) {
    const sf_node *nd = &g->nodes[i];
    if (nd->mode == SF_MODE_NEURON) floats += numel(g, nd->out[0]);
    if (nd->mode != SF_MODE_EC && nd->mode != SF_MODE_PRODUCT) continue;
    floats += numel(g, nd->out[0]);
    for (int k = 0; k < nd->n_in; k++)
      if (nd->in[k] >= 0 && !is_const(g, nd->in[k])) floats += numel(g, nd->in[k]);
  }
  return floats * (int64_t)sizeof(float);
}

/* A weighted layer's zero weights (a pruned model) make no synaptic operations: the mean fan-out
 * counts the non-zero weights only, and a Linear / Gemm / MatMul with zeros keeps each input
 * feature's own fan-out (fan), so a spike costs exactly its row. w: the weights, K: the input
 * features. Returns non-zero when out of memory. */
static int fan_out(node_state *n, const sf_node *nd, const sf_tensor *w, int64_t K) {
  if (!w->data || w->dtype != SF_F32 || K < 1) return 0;
  const int64_t total = sf_tensor_numel(w);
  const float *d = w->data;
  int64_t nnz = 0;
  for (int64_t i = 0; i < total; i++) nnz += d[i] != 0.0f;
  if (nnz == total) return 0;
  n->macs_per_input *= (double)nnz / (double)total;
  const sf_op_id op = sf_node_op(nd);
  if (w->ndim != 2 || op == SF_OP_CONV || total % K) return 0;
  const int64_t N = total / K;
  const int trans = op == SF_OP_GEMM && sf_node_attr_int(nd, "transB", 0); /* W [N, K], else [K, N] */
  if (!(n->fan = calloc((size_t)K, sizeof(float)))) return 1;
  n->fan_k = K;
  for (int64_t i = 0; i < total; i++)
    if (d[i] != 0.0f) n->fan[trans ? i % K : i / N] += 1.0f;
  return 0;
}

sf_status sf_snn_session_create(const sf_graph *g, const sf_spiking_config *cfg, sf_decoder decoder, sf_snn_session **out) {
  if (g->n_inputs < 1 || g->n_outputs < 1)
    return sf_error(SF_ERR_ARG, "the spiking graph has %d inputs and %d outputs; it needs at least one of each", g->n_inputs, g->n_outputs);
  sf_snn_session *s = calloc(1, sizeof *s);
  if (!s) return sf_error(SF_ERR_NOMEM, "out of memory");
  int scratch_in = 0;
  int64_t scratch_len = 0, scratch_out = 0;
  s->g = g;
  s->cfg = *cfg;
  s->decoder = decoder;
  s->path = SF_PATH_AUTO;
  s->event_max_activity = 0.2f;
  s->inc = calloc((size_t)g->n_values, sizeof(float *));
  s->ns = calloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof(node_state));
  s->spike_valued = calloc((size_t)g->n_values, sizeof(int));
  s->static_v = calloc((size_t)g->n_values, sizeof(int));
  if (!s->inc || !s->ns || !s->spike_valued || !s->static_v) goto oom;
  if (cfg->spike_encoding == SF_ENCODE_DIRECT) s->static_v[g->inputs[0]] = 1;
  s->delta = cfg->coding == SF_CODING_DELTA;
  if (s->delta && cfg->spike_encoding != SF_ENCODE_DIRECT) {
    sf_snn_session_free(s);
    return sf_error(SF_ERR_ARG, "delta coding sends the input once and then its changes: it needs direct input encoding, not %s",
                    sf_encoding_name(cfg->spike_encoding));
  }
  if (s->delta && decoder != SF_DECODE_MEMBRANE) {
    sf_snn_session_free(s);
    return sf_error(SF_ERR_ARG, "delta coding decodes the sum of the output layer's currents: the spike-count decoder needs rate coding");
  }
  for (int v = 0; v < g->n_values; v++)
    if (!is_const(g, v) && g->values[v].t.ndim >= 0 && !(s->inc[v] = sf_snn_alloc_f(numel(g, v)))) goto oom;
  {
    const sf_value *o = &g->values[g->outputs[0]];
    if (!s->inc[g->outputs[0]] || o->t.dtype != SF_F32) {
      sf_snn_session_free(s);
      return sf_error(SF_ERR_UNSUPPORTED, "the spiking graph's output '%s' is %s: there is nothing to decode from spikes", o->name,
                      is_const(g, g->outputs[0]) ? "a constant (it does not depend on the input)" : "not a float tensor");
    }
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const sf_node *nd = &g->nodes[i];
    node_state *n = &s->ns[i];
    n->m = nd->mode == SF_MODE_LINEAR ? M_LINEAR : nd->mode == SF_MODE_PRODUCT ? M_PRODUCT : nd->mode == SF_MODE_NEURON ? M_NEURON : M_EC;
    if (nd->mode == SF_MODE_NONE) {
      sf_snn_session_free(s);
      return sf_error(SF_ERR_ARG, "node '%s' has no spiking mode: not a converted graph", nd->name);
    }
    n->st.name = nd->name;
    n->st.op_type = nd->op_type;
    n->st.mode = nd->mode;
    int64_t on = numel(g, nd->out[0]);
    if (n->m == M_EC || n->m == M_PRODUCT) {
      n->ec.cum = calloc((size_t)nd->n_in, sizeof(float *));
      if (!n->ec.cum) goto oom;
      for (int k = 0; k < nd->n_in; k++)
        if (nd->in[k] >= 0 && !is_const(g, nd->in[k]) && sf_dtype_is_float(g->values[nd->in[k]].t.dtype)) {
          if (!(n->ec.cum[k] = sf_snn_alloc_f(numel(g, nd->in[k])))) goto oom;
          scratch_in = nd->n_in > scratch_in ? nd->n_in : scratch_in;
          scratch_len = numel(g, nd->in[k]) > scratch_len ? numel(g, nd->in[k]) : scratch_len;
        }
      if (nd->n_out != 1) { sf_snn_session_free(s); return sf_error(SF_ERR_UNSUPPORTED, "node '%s': multi-output op in ec mode", nd->name); }
      if (!(n->ec.prev = sf_snn_alloc_f(on))) goto oom;
      scratch_out = on > scratch_out ? on : scratch_out;
      if (n->m == M_PRODUCT && (sf_node_op(nd) == SF_OP_MATMUL || sf_node_op(nd) == SF_OP_MUL)) {
        int dyn = 0;
        for (int k = 0; k < nd->n_in; k++) dyn += nd->in[k] >= 0 && !is_const(g, nd->in[k]);
        n->ec.bilinear = dyn == 2 && nd->n_in == 2;
      }
      if (n->m == M_EC) n->ec.rows = ec_rows_plan(g, nd);
    }
    if (n->m == M_NEURON) {
      if (snn_neuron_init(&n->nrn, g, nd)) goto oom;
      const sf_tensor *x = &g->values[nd->in[0]].t;
      if (s->delta && n->nrn.leak != 1.0f) {
        const double leak = n->nrn.leak;
        sf_snn_session_free(s);
        return sf_error(SF_ERR_ARG, "node '%s': a leaky neuron (leak %g) cannot be delta-coded: a sigma-delta neuron keeps what it has not sent",
                        nd->name, leak);
      }
      if (s->delta && n->nrn.reset_zero) {
        sf_snn_session_free(s);
        return sf_error(SF_ERR_ARG, "node '%s': a neuron that resets to zero cannot be delta-coded: a sigma-delta neuron keeps what it has not sent",
                        nd->name);
      }
      n->st.neurons = on / (x->shape[0] ? x->shape[0] : 1);
      s->spike_valued[nd->out[0]] = 1;
    }
    if (sf_snn_passes_spikes(nd) && nd->n_in > 0 && nd->in[0] >= 0 && s->spike_valued[nd->in[0]]) s->spike_valued[nd->out[0]] = 1;
    /* fan-out per input element, for synaptic-operation counts */
    if (n->m == M_LINEAR && nd->def && nd->def->spiking == SF_SPK_WEIGHTED) {
      int x = nd->in[0];
      if (is_const(g, x) && nd->n_in > 1) x = nd->in[1];
      const sf_tensor *w = &g->values[nd->in[1]].t;
      int64_t K = 1;
      if (sf_node_op(nd) == SF_OP_CONV) { K = w->shape[1]; for (int d = 2; d < w->ndim; d++) K *= w->shape[d]; }
      else if (sf_node_op(nd) == SF_OP_GEMM) K = sf_node_attr_int(nd, "transB", 0) ? w->shape[1] : w->shape[0];
      else K = w->shape[0];
      n->macs_per_input = (double)on * (double)K / (double)numel(g, x);
      n->spike_in = s->spike_valued[x];
      if (fan_out(n, nd, w, K)) goto oom;
    }
    if (n->m == M_PRODUCT) n->spike_in = 1;
    if (n->m != M_NEURON) {
      int all_static = 1, any_dyn = 0;
      for (int k = 0; k < nd->n_in; k++) {
        int v = nd->in[k];
        if (v < 0 || is_const(g, v)) continue;
        any_dyn = 1;
        if (!s->static_v[v]) all_static = 0;
      }
      n->is_static = any_dyn && all_static;
      if (n->is_static) for (int k = 0; k < nd->n_out; k++) s->static_v[nd->out[k]] = 1;
    }
  }
  if (!(s->producer = malloc(sizeof(int) * (size_t)g->n_values))) goto oom;
  for (int v = 0; v < g->n_values; v++) s->producer[v] = -1;
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i].n_out; k++)
      if (g->nodes[i].out[k] >= 0) s->producer[g->nodes[i].out[k]] = i;
  if (snn_plan_aliases(s)) goto oom;
  for (int i = 0; i < g->n_nodes; i++) {
    const sf_node *nd = &g->nodes[i];
    node_state *n = &s->ns[i];
    n->src[0] = n->src[1] = -1;
    n->nrn.fed_by = n->syn.feeds = -1;
    if (n->m == M_NEURON) continue;
    if (n->m == M_LINEAR && n->macs_per_input > 0 && n->spike_in) {
      int x = nd->in[0];
      if (is_const(g, x) && nd->n_in > 1) x = nd->in[1];
      n->src[0] = trace_source(s, x, &n->src_exact[0]);
    }
    if (n->m == M_PRODUCT)
      for (int k = 0; k < 2 && k < nd->n_in; k++) n->src[k] = trace_source(s, nd->in[k], &n->src_exact[k]);
  }
  if (snn_plan_buffers(s)) goto oom;
  s->n_scratch = scratch_in;
  if (!(s->scratch_mean = calloc((size_t)(scratch_in ? scratch_in : 1), sizeof(float *))) || !(s->scratch_f = sf_snn_alloc_f(scratch_out))) goto oom;
  for (int k = 0; k < scratch_in; k++)
    if (!(s->scratch_mean[k] = sf_snn_alloc_f(scratch_len))) goto oom;
  s->cum_out = sf_snn_alloc_f(numel(g, g->outputs[0]));
  s->counts = sf_snn_alloc_f(numel(g, g->outputs[0]));
  s->spk_count = sf_snn_alloc_f(numel(g, g->outputs[0]));
  s->spk_v = sf_snn_alloc_f(numel(g, g->outputs[0]));
  s->spk_theta = sf_snn_alloc_f(g->values[g->outputs[0]].t.shape[0]);
  if (!s->cum_out || !s->counts || !s->spk_count || !s->spk_v || !s->spk_theta) goto oom;
  if (s->delta) {
    /* zeros: 8 bytes per element of the longest value, inputs of any type (remove_constants) */
    int64_t longest = 1;
    for (int v = 0; v < g->n_values; v++)
      if (!is_const(g, v) && g->values[v].t.ndim >= 0 && numel(g, v) > longest) longest = numel(g, v);
    if (!(s->silent = calloc((size_t)g->n_values, 1)) || !(s->zeros = sf_snn_alloc_f(2 * longest))) goto oom;
  }
  s->dec = g->values[g->outputs[0]].t;
  s->dec.owns_data = 0;
  *out = s;
  return SF_OK;
oom:
  sf_snn_session_free(s);
  return sf_error(SF_ERR_NOMEM, "out of memory for the spiking runtime state");
}

int sf_snn_num_nodes(const sf_snn_session *s) { return s->g->n_nodes; }

sf_status sf_snn_record_raster(sf_snn_session *s, int neurons, int T) {
  free(s->raster);
  s->raster = calloc((size_t)s->g->n_nodes * (size_t)T * (size_t)neurons, 1);
  if (!s->raster) return sf_error(SF_ERR_NOMEM, "out of memory");
  s->raster_n = neurons;
  s->raster_T = T;
  s->raster_done = 0;
  return SF_OK;
}

const int8_t *sf_snn_raster(const sf_snn_session *s, int node) {
  if (!s->raster || s->ns[node].st.mode != SF_MODE_NEURON) return NULL;
  return s->raster + (int64_t)node * s->raster_T * s->raster_n;
}

void sf_snn_step_counts(const sf_snn_session *s, int t, double *sops, double *macs, double *float_ops, double *neuron_updates) {
  int ok = t >= 1 && t <= s->step_cap;
  *sops = ok ? s->step_sops[t - 1] : 0;
  *macs = ok ? s->step_macs[t - 1] : 0;
  *float_ops = ok ? s->step_fops[t - 1] : 0;
  *neuron_updates = ok ? s->step_nupd[t - 1] : 0;
}

void sf_snn_set_path(sf_snn_session *s, sf_spike_path path, float event_max_activity) {
  s->path = path;
  if (event_max_activity > 0) s->event_max_activity = event_max_activity;
}

void sf_snn_path_counts(const sf_snn_session *s, int i, int64_t *event_steps, int64_t *dense_steps) {
  *event_steps = s->ns[i].syn.steps_event;
  *dense_steps = s->ns[i].syn.steps_dense;
}
void sf_snn_node_stats_get(const sf_snn_session *s, int i, sf_snn_node_stats *out) { *out = s->ns[i].st; }
void sf_snn_reset_stats(sf_snn_session *s) {
  for (int i = 0; i < s->g->n_nodes; i++) {
    sf_snn_node_stats *st = &s->ns[i].st;
    st->spikes = st->events = st->sops = st->macs = st->float_ops = st->neuron_updates = st->seconds = 0;
  }
}

void sf_snn_set_schedule(sf_snn_session *s, sf_schedule schedule) { s->step_major = schedule == SF_SCHEDULE_STEP; }

/* names and parsers of the runtime's option enums */
static const char *const path_names[] = {"auto", "dense", "event", "bitpacked"};
static const char *const schedule_names[] = {"auto", "step"};
static int parse_name(const char *name, const char *const *names, int n) {
  for (int i = 0; name && i < n; i++)
    if (!strcmp(name, names[i])) return i;
  return -1;
}
const char *sf_decoder_name(sf_decoder d) { return d == SF_DECODE_COUNT ? "count" : d == SF_DECODE_MEMBRANE ? "membrane" : "?"; }
int sf_decoder_parse(const char *name, sf_decoder *out) {
  if (name && !strcmp(name, "membrane")) *out = SF_DECODE_MEMBRANE;
  else if (name && !strcmp(name, "count")) *out = SF_DECODE_COUNT;
  else return -1;
  return 0;
}
const char *sf_spike_path_name(sf_spike_path p) { return (unsigned)p < 4 ? path_names[p] : "?"; }
const char *sf_schedule_name(sf_schedule s) { return (unsigned)s < 2 ? schedule_names[s] : "?"; }
const char *sf_quant_name(sf_quant q) { return q == SF_QUANT_INT8 ? "int8" : q == SF_QUANT_FLOAT ? "float" : "?"; }
int sf_spike_path_parse(const char *name, sf_spike_path *out) {
  int k = parse_name(name, path_names, 4);
  if (k >= 0) *out = (sf_spike_path)k;
  return k >= 0 ? 0 : -1;
}
int sf_schedule_parse(const char *name, sf_schedule *out) {
  int k = parse_name(name, schedule_names, 2);
  if (k >= 0) *out = (sf_schedule)k;
  return k >= 0 ? 0 : -1;
}
int sf_quant_parse(const char *name, sf_quant *out) {
  if (name && !strcmp(name, "float")) *out = SF_QUANT_FLOAT;
  else if (name && !strcmp(name, "int8")) *out = SF_QUANT_INT8;
  else return -1;
  return 0;
}

/* (a raster records step-major: it reads the neurons' float outputs) */
int sf_snn_time_major(const sf_snn_session *s) { return s->n_chain > 0 && !s->raster && !s->step_major; }

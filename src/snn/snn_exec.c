/* Time-stepped SNN executor (dense reference). Per step t = 1..T, nodes run in order:
 *   linear   Y_t = op(X_t) on increments; constants act as currents injected every step
 *   product  expectation form of the product of two spike streams: cumulative output
 *            P_t = A_t B_t / t (A, B running sums), emitted as P_t - P_{t-1}
 *   ec       O_t = t f(mean_t) - (t-1) f(mean_{t-1}), mean_t = running sum / t
 *   neuron   v += x (LIF: v = leak v + x); k = clamp(floor(v / theta), -K or 0, K); v -= k theta;
 *            emits k theta; v starts at theta / 2 (round-to-nearest), reset by subtraction
 * Shapes per value: whatever the spiking graph says ([batch, ...]).
 * This is the step-major schedule (every node over the batch at each step); a graph that is an int8
 * feed-forward chain runs time-major instead (snn_chain.c), with the same results. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "convert/convert_internal.h"
#include "ops/ops.h"
#include "spikeformer/rng.h"
#include "snn/ec_kernels.h"
#include "snn/spike_kernels.h"
#include "snn/spike_kernels_q8.h"
#include "snn/neuron_kernels_q8.h"
#include "snn/q8_codes.h"
#include "snn/snn_session.h"
#include "spikeformer/snn.h"
#include "spikeformer/threads.h"


static int is_const(const sf_graph *g, int v) { return v >= 0 && g->values[v].t.data != NULL; }
static int64_t numel(const sf_graph *g, int v) { return sf_tensor_numel(&g->values[v].t); }

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
        if (n->cum) free(n->cum[k]);
      free(n->cum); free(n->prev); free(n->v); free(n->inv_theta);
      free(n->kq); free(n->vi); free(n->Th); free(n->inv_unit); free(n->bq); free(n->acc);
      if (!n->q_shared) { free(n->Wq); free(n->Wp); free(n->colsum); free(n->wscale); } /* (else the donor's) */
      if (!n->w16_shared) free(n->W16);
      free(n->ThE); free(n->iThE); free(n->iuE); free(n->thE); free(n->xin); free(n->xq); free(n->inv_thx);
      free(n->xq8); free(n->xscale); free(n->xu8);
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
  free(s);
}

static float *alloc_f(int64_t n) { return calloc((size_t)(n > 0 ? n : 1), sizeof(float)); }

static int is_layout_op(const char *op) {
  static const char *l[] = {"Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout", "MaxPool", "GlobalMaxPool", NULL};
  for (int i = 0; l[i]; i++) if (!strcmp(op, l[i])) return 1;
  return 0;
}

/* layout ops that keep every element in place (flat index unchanged) */
static int keeps_order(const char *op) {
  static const char *l[] = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout", NULL};
  for (int i = 0; l[i]; i++) if (!strcmp(op, l[i])) return 1;
  return 0;
}

/* The neuron node whose spikes reach value v through layout ops only, or -1. *exact: every layout op
 * on the way keeps element order (so the neuron's flat outputs are v's flat elements). */
static int trace_source(const sf_snn_session *s, int v, int *exact) {
  *exact = 1;
  for (int hops = 0; v >= 0 && hops < 64; hops++) {
    int p = s->producer[v];
    if (p < 0) return -1;
    const sf_node *nd = &s->g->nodes[p];
    if (s->ns[p].m == M_NEURON) return p;
    if (!is_layout_op(nd->op_type) || nd->n_in < 1) return -1;
    if (!keeps_order(nd->op_type)) *exact = 0;
    v = nd->in[0];
  }
  return -1;
}

int64_t sf_snn_state_bytes(const sf_graph *g) {
  int64_t floats = 0;
  for (int v = 0; v < g->n_values; v++)
    if (!is_const(g, v) && g->values[v].producer >= 0) floats += numel(g, v);
  for (int i = 0; i < g->n_nodes; i++) {
    const sf_node *nd = &g->nodes[i];
    const char *m = sf_snn_mode(nd);
    if (!strcmp(m, "neuron")) floats += numel(g, nd->out[0]);
    if (strcmp(m, "ec") && strcmp(m, "product")) continue;
    floats += numel(g, nd->out[0]);
    for (int k = 0; k < nd->n_in; k++)
      if (nd->in[k] >= 0 && !is_const(g, nd->in[k])) floats += numel(g, nd->in[k]);
  }
  return floats * (int64_t)sizeof(float);
}

/* Buffer plan. Within a step a value's increment lives from its producer to its last reader (an
 * order-keeping layout op's output is its input's buffer, so the readers of both count); values
 * whose lifetimes do not overlap share one buffer, so a session works through a fraction of the
 * memory and more of it stays in cache. Values that live across steps keep their own: the input,
 * what is constant over time (computed at t = 1 only), and the graph's outputs (decoded after the
 * step). Returns 0, or -1 when out of memory. */
static int plan_buffers(sf_snn_session *s) {
  const sf_graph *g = s->g;
  const int nv = g->n_values;
  int *root = malloc(sizeof(int) * (size_t)nv), *last = malloc(sizeof(int) * (size_t)nv), *order = malloc(sizeof(int) * (size_t)nv);
  uint8_t *pin = calloc((size_t)nv, 1);
  int *busy_until = NULL, n_order = 0, ok = 0;
  int64_t *size = NULL;
  if (!root || !last || !order || !pin || !(s->pooled = calloc((size_t)nv, 1))) goto done;
  for (int v = 0; v < nv; v++) { root[v] = v; last[v] = -1; }
  for (int i = 0; i < g->n_nodes; i++)
    if (s->ns[i].alias) root[g->nodes[i].out[0]] = root[g->nodes[i].in[0]];
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i].n_in; k++) {
      int v = g->nodes[i].in[k];
      if (v >= 0 && s->inc[v] && last[root[v]] < i) last[root[v]] = i;
    }
  for (int v = 0; v < nv; v++)
    if (s->inc[v] && (s->static_v[v] || s->producer[v] < 0 || g->values[v].is_input)) pin[root[v]] = 1;
  for (int k = 0; k < g->n_outputs; k++) pin[root[g->outputs[k]]] = 1;
  for (int v = 0; v < nv; v++)
    if (s->inc[v] && !s->aliased[v] && !pin[v]) order[n_order++] = v;
  /* by producer position (node order), so every buffer is taken when its value is written */
  for (int a = 1; a < n_order; a++) {
    int v = order[a], b = a - 1;
    while (b >= 0 && s->producer[order[b]] > s->producer[v]) { order[b + 1] = order[b]; b--; }
    order[b + 1] = v;
  }
  if (!(s->pool = calloc((size_t)(n_order ? n_order : 1), sizeof(float *))) || !(size = calloc((size_t)(n_order ? n_order : 1), sizeof(int64_t))) ||
      !(busy_until = calloc((size_t)(n_order ? n_order : 1), sizeof(int))))
    goto done;
  for (int a = 0; a < n_order; a++) {
    int v = order[a], start = s->producer[v], end = last[v] > start ? last[v] : start, best = -1;
    int64_t need = numel(g, v) > 0 ? numel(g, v) : 1;
    for (int b = 0; b < s->n_pool; b++)
      if (busy_until[b] < start && size[b] >= need && (best < 0 || size[b] < size[best])) best = b;
    if (best < 0) {
      if (!(s->pool[s->n_pool] = alloc_f(need))) goto done;
      size[s->n_pool] = need;
      best = s->n_pool++;
    }
    busy_until[best] = end;
    free(s->inc[v]);
    s->inc[v] = s->pool[best];
    s->pooled[v] = 1;
  }
  for (int v = 0; v < nv; v++)
    if (s->aliased[v]) s->inc[v] = s->inc[root[v]];
  ok = 1;
done:
  free(root); free(last); free(order); free(pin); free(size); free(busy_until);
  return ok ? 0 : -1;
}

sf_status sf_snn_session_create(const sf_graph *g, const sf_spiking_config *cfg, sf_decoder decoder, sf_snn_session **out) {
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
  for (int v = 0; v < g->n_values; v++)
    if (!is_const(g, v) && g->values[v].t.ndim >= 0 && !(s->inc[v] = alloc_f(numel(g, v)))) goto oom;
  for (int i = 0; i < g->n_nodes; i++) {
    const sf_node *nd = &g->nodes[i];
    node_state *n = &s->ns[i];
    const char *m = sf_snn_mode(nd);
    n->m = !strcmp(m, "linear") ? M_LINEAR : !strcmp(m, "product") ? M_PRODUCT : !strcmp(m, "neuron") ? M_NEURON : M_EC;
    if (!strcmp(m, "?")) {
      sf_snn_session_free(s);
      return sf_error(SF_ERR_ARG, "node '%s' has no spiking mode: not a converted graph", nd->name);
    }
    n->st.name = nd->name;
    n->st.op_type = nd->op_type;
    n->st.mode = m;
    int64_t on = numel(g, nd->out[0]);
    if (n->m == M_EC || n->m == M_PRODUCT) {
      n->cum = calloc((size_t)nd->n_in, sizeof(float *));
      if (!n->cum) goto oom;
      for (int k = 0; k < nd->n_in; k++)
        if (nd->in[k] >= 0 && !is_const(g, nd->in[k]) && sf_dtype_is_float(g->values[nd->in[k]].t.dtype)) {
          if (!(n->cum[k] = alloc_f(numel(g, nd->in[k])))) goto oom;
          scratch_in = nd->n_in > scratch_in ? nd->n_in : scratch_in;
          scratch_len = numel(g, nd->in[k]) > scratch_len ? numel(g, nd->in[k]) : scratch_len;
        }
      if (nd->n_out != 1) { sf_snn_session_free(s); return sf_error(SF_ERR_UNSUPPORTED, "node '%s': multi-output op in ec mode", nd->name); }
      if (!(n->prev = alloc_f(on))) goto oom;
      scratch_out = on > scratch_out ? on : scratch_out;
      if (n->m == M_PRODUCT && (!strcmp(nd->op_type, "MatMul") || !strcmp(nd->op_type, "Mul"))) {
        int dyn = 0;
        for (int k = 0; k < nd->n_in; k++) dyn += nd->in[k] >= 0 && !is_const(g, nd->in[k]);
        n->bilinear = dyn == 2 && nd->n_in == 2;
      }
    }
    if (n->m == M_NEURON) {
      if (!(n->v = alloc_f(on))) goto oom;
      const sf_tensor *x = &g->values[nd->in[0]].t, *th = &g->values[nd->in[1]].t;
      n->K = (int)sf_node_attr_int(nd, "levels", 1);
      n->code_binary = n->K > 1 && sf_node_attr_int(nd, "code", 0) == 1;
      for (n->planes = 0; (n->K >> n->planes) > 0; n->planes++) {}
      n->is_signed = (int)sf_node_attr_int(nd, "signed", 1);
      n->leak = sf_node_attr_float(nd, "leak", 1.0f);
      n->axis = (int)sf_node_attr_int(nd, "axis", x->ndim - 1);
      n->theta = th->data;
      n->ntheta = sf_tensor_numel(th);
      if (!(n->inv_theta = alloc_f(n->ntheta))) goto oom;
      for (int64_t c = 0; c < n->ntheta; c++) n->inv_theta[c] = 1.0f / n->theta[c];
      n->C = x->shape[n->axis];
      n->inner = 1;
      for (int d = n->axis + 1; d < x->ndim; d++) n->inner *= x->shape[d];
      n->st.neurons = on / (x->shape[0] ? x->shape[0] : 1);
      s->spike_valued[nd->out[0]] = 1;
    }
    if (is_layout_op(nd->op_type) && nd->n_in > 0 && nd->in[0] >= 0 && s->spike_valued[nd->in[0]]) s->spike_valued[nd->out[0]] = 1;
    /* fan-out per input element, for synaptic-operation counts */
    if (n->m == M_LINEAR && (!strcmp(nd->op_type, "Linear") || !strcmp(nd->op_type, "Conv") || !strcmp(nd->op_type, "Gemm") || !strcmp(nd->op_type, "MatMul"))) {
      int x = nd->in[0];
      if (is_const(g, x) && nd->n_in > 1) x = nd->in[1];
      const sf_tensor *w = &g->values[nd->in[1]].t;
      int64_t K = 1;
      if (!strcmp(nd->op_type, "Conv")) { K = w->shape[1]; for (int d = 2; d < w->ndim; d++) K *= w->shape[d]; }
      else if (!strcmp(nd->op_type, "Gemm")) K = sf_node_attr_int(nd, "transB", 0) ? w->shape[1] : w->shape[0];
      else K = w->shape[0];
      n->macs_per_input = (double)on * (double)K / (double)numel(g, x);
      n->spike_in = s->spike_valued[x];
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
  /* order-keeping layout ops on float values copy nothing: their output aliases the input buffer */
  if (!(s->aliased = calloc((size_t)g->n_values, 1))) goto oom;
  for (int i = 0; i < g->n_nodes; i++) {
    const sf_node *nd = &g->nodes[i];
    if (!keeps_order(nd->op_type) || nd->n_out != 1 || nd->n_in < 1 || nd->in[0] < 0 || nd->out[0] < 0) continue;
    int x = nd->in[0], y = nd->out[0];
    if (is_const(g, x) || is_const(g, y) || !s->inc[x] || !s->inc[y] || numel(g, x) != numel(g, y) ||
        g->values[x].t.dtype != SF_F32 || g->values[y].t.dtype != SF_F32)
      continue;
    free(s->inc[y]);
    s->inc[y] = s->inc[x];
    s->aliased[y] = 1;
    s->ns[i].alias = 1;
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const sf_node *nd = &g->nodes[i];
    node_state *n = &s->ns[i];
    n->src[0] = n->src[1] = -1;
    n->fed_by = n->feeds = -1;
    if (n->m == M_NEURON) continue;
    if (n->m == M_LINEAR && n->macs_per_input > 0 && n->spike_in) {
      int x = nd->in[0];
      if (is_const(g, x) && nd->n_in > 1) x = nd->in[1];
      n->src[0] = trace_source(s, x, &n->src_exact[0]);
    }
    if (n->m == M_PRODUCT)
      for (int k = 0; k < 2 && k < nd->n_in; k++) n->src[k] = trace_source(s, nd->in[k], &n->src_exact[k]);
  }
  if (plan_buffers(s)) goto oom;
  s->n_scratch = scratch_in;
  if (!(s->scratch_mean = calloc((size_t)(scratch_in ? scratch_in : 1), sizeof(float *))) || !(s->scratch_f = alloc_f(scratch_out))) goto oom;
  for (int k = 0; k < scratch_in; k++)
    if (!(s->scratch_mean[k] = alloc_f(scratch_len))) goto oom;
  s->cum_out = alloc_f(numel(g, g->outputs[0]));
  s->counts = alloc_f(numel(g, g->outputs[0]));
  s->spk_count = alloc_f(numel(g, g->outputs[0]));
  s->spk_v = alloc_f(numel(g, g->outputs[0]));
  s->spk_theta = alloc_f(g->values[g->outputs[0]].t.shape[0]);
  if (!s->cum_out || !s->counts || !s->spk_count || !s->spk_v || !s->spk_theta) goto oom;
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
  if (!s->raster || strcmp(s->ns[node].st.mode, "neuron")) return NULL;
  return s->raster + (int64_t)node * s->raster_T * s->raster_n;
}

void sf_snn_step_counts(const sf_snn_session *s, int t, double *sops, double *macs, double *float_ops, double *neuron_updates) {
  int ok = t >= 1 && t <= s->step_cap;
  *sops = ok ? s->step_sops[t - 1] : 0;
  *macs = ok ? s->step_macs[t - 1] : 0;
  *float_ops = ok ? s->step_fops[t - 1] : 0;
  *neuron_updates = ok ? s->step_nupd[t - 1] : 0;
}

void sf_snn_set_path(sf_snn_session *s, int path, float event_max_activity) {
  s->path = path;
  if (event_max_activity > 0) s->event_max_activity = event_max_activity;
}

void sf_snn_path_counts(const sf_snn_session *s, int i, int64_t *event_steps, int64_t *dense_steps) {
  *event_steps = s->ns[i].steps_event;
  *dense_steps = s->ns[i].steps_dense;
}
void sf_snn_node_stats_get(const sf_snn_session *s, int i, sf_snn_node_stats *out) { *out = s->ns[i].st; }
void sf_snn_reset_stats(sf_snn_session *s) {
  for (int i = 0; i < s->g->n_nodes; i++) {
    sf_snn_node_stats *st = &s->ns[i].st;
    st->spikes = st->events = st->sops = st->macs = st->float_ops = st->neuron_updates = st->seconds = 0;
  }
}

static void encode(sf_snn_session *s, const sf_tensor *x, float *dst, int t, int T) {
  int64_t n = sf_tensor_numel(x);
  const float *p = x->data;
  switch (s->cfg.spike_encoding) {
    case SF_ENCODE_DIRECT: memcpy(dst, p, sizeof(float) * (size_t)n); break;
    case SF_ENCODE_RATE:
      for (int64_t i = 0; i < n; i++) {
        float v = p[i], a = fabsf(v);
        dst[i] = sf_rng_uniform(&s->rng) < (a > 1 ? 1 : a) ? (v < 0 ? -1.0f : 1.0f) : 0.0f;
      }
      break;
    case SF_ENCODE_LATENCY:
      /* time to first spike: one spike of value 1 at step round((1 - |x|) (T - 1)) + 1 carries |x| in its timing;
       * to stay rate-consistent the spike carries T * x so that the running mean at T equals x */
      for (int64_t i = 0; i < n; i++) {
        float a = fabsf(p[i]) > 1 ? 1 : fabsf(p[i]);
        int when = (int)lrintf((1.0f - a) * (float)(T - 1)) + 1;
        dst[i] = (a > 0 && when == t) ? p[i] * (float)T : 0.0f;
      }
      break;
  }
}

static int64_t count_nonzero(const float *p, int64_t n) {
  int64_t c = 0;
#pragma omp parallel for reduction(+ : c) schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; i++) c += p[i] != 0.0f;
  return c;
}

/* Unit spikes per non-zero output of neuron node src at this step (1 for binary neurons; k for
 * bursts of k). Exact through order-keeping layout ops; through max pooling it is the source's
 * mean over all its outputs. */
/* Non-zero entries of value v this step: the count its source neuron took while firing when v is
 * that neuron's output through layout ops (which only move elements), else counted. */
static int64_t nonzero_events(const sf_snn_session *s, int src, int v) {
  const sf_graph *g = s->g;
  if (src >= 0 && numel(g, g->nodes[src].out[0]) == numel(g, v)) return (int64_t)s->ns[src].step_nz;
  return count_nonzero(s->inc[v], numel(g, v));
}

/* The spikes a binary-coded burst neuron sends this step: popcount(|k|) over its counts k (the
 * int8 counts where it runs on int32 membranes, else output / theta). */
static double binary_code_spikes(const node_state *n, const float *y, int64_t on) {
  double sp = 0;
  if (n->q) {
#pragma omp parallel for reduction(+ : sp) schedule(static) if (on > 16384)
    for (int64_t e = 0; e < on; e++) sp += __builtin_popcount((unsigned)abs((int)n->kq[e]));
  } else {
    const int per_ch = n->ntheta != 1;
#pragma omp parallel for reduction(+ : sp) schedule(static) if (on > 16384)
    for (int64_t e = 0; e < on; e++) {
      float it = n->inv_theta[per_ch ? (e / n->inner) % n->C : 0];
      sp += __builtin_popcount((unsigned)lrintf(fabsf(y[e]) * it));
    }
  }
  return sp;
}

/* Adds per output element that combine a binary-coded source's per-bit accumulators (shifts are
 * free): planes - 1 per step. */
static double combine_adds(const sf_snn_session *s, int src) {
  return src >= 0 && s->ns[src].code_binary ? (double)(s->ns[src].planes - 1) : 0.0;
}

static double burst_factor(const sf_snn_session *s, int src) {
  if (src < 0) return 1.0;
  const node_state *n = &s->ns[src];
  return n->step_nz > 0 ? n->step_spikes / n->step_nz : 1.0;
}

#define STATIC_BLOCK 64 /* samples */

/* A layer fed by the analog input (computed once per run) on fixed blocks of 64 samples, each
 * block one single-threaded BLAS call, blocks spread over threads: the partition never depends on
 * the thread count, so neither do the currents (a multi-threaded BLAS call may split its sums
 * differently at 1 and 2 threads, which changed spikes of the MLP on the full test set).
 * Returns 1 if it ran the node, 0 if the node does not split by sample, -1 on error. */
static int static_rows_exec(const sf_graph *g, const sf_node *nd, sf_tensor **ins, sf_tensor **outs, const sf_op_ctx *c) {
  static const char *ops[] = {"Linear", "Gemm", "Conv", "MatMul", NULL};
  int ok = 0;
  for (int k = 0; ops[k]; k++) ok |= !strcmp(nd->op_type, ops[k]);
  if (!ok || nd->n_out != 1 || nd->n_in < 2 || nd->n_in > 8 || !ins[0] || is_const(g, nd->in[0])) return 0;
  for (int k = 1; k < nd->n_in; k++)
    if (nd->in[k] >= 0 && !is_const(g, nd->in[k])) return 0;
  const sf_tensor *x = ins[0], *y = outs[0];
  if (x->dtype != SF_F32 || y->dtype != SF_F32 || x->ndim < 2 || y->ndim < 2 || x->shape[0] != y->shape[0]) return 0;
  if (!strcmp(nd->op_type, "Gemm") && sf_node_attr_int(nd, "transA", 0)) return 0;
  const int64_t B = x->shape[0], xs = sf_tensor_numel(x) / B, ys = sf_tensor_numel(y) / B, blocks = (B + STATIC_BLOCK - 1) / STATIC_BLOCK;
  /* inside a parallel region (a shard of a batch split across threads) BLAS already runs on one
   * thread and the blocks run here in turn */
  const int nested = omp_in_parallel();
  int failed = 0, nth = nested ? 1 : sf_threads_get();
  if (!nested) sf_blas_threads_set(1); /* OpenBLAS's OpenMP build also lowers OpenMP's default: name our count */
#pragma omp parallel for schedule(static) reduction(| : failed) num_threads(nth) if (!nested)
  for (int64_t b = 0; b < blocks; b++) {
    int64_t r0 = b * STATIC_BLOCK, nr = B - r0 < STATIC_BLOCK ? B - r0 : STATIC_BLOCK;
    sf_tensor tin[8], tout, *pin[8], *pout = &tout;
    int nin = nd->n_in < 8 ? nd->n_in : 8;
    for (int k = 0; k < nin; k++) {
      pin[k] = ins[k] ? &tin[k] : NULL;
      if (ins[k]) tin[k] = *ins[k];
    }
    tin[0].shape[0] = nr;
    tin[0].data = (float *)ins[0]->data + r0 * xs;
    tout = *outs[0];
    tout.shape[0] = nr;
    tout.data = (float *)outs[0]->data + r0 * ys;
    sf_op_ctx cb = *c;
    cb.in = pin;
    cb.out = &pout;
    if (nd->def->exec(&cb)) failed = 1;
  }
  if (!nested) sf_blas_threads_set(sf_threads_get());
  return failed ? -1 : 1;
}

/* ---- int8 weights, int32 membranes ---- */

static int is_graph_output(const sf_graph *g, int v) {
  for (int k = 0; k < g->n_outputs; k++) if (g->outputs[k] == v) return 1;
  return 0;
}

static float neuron_theta_at(const node_state *n, int64_t e) { return n->theta[n->ntheta == 1 ? 0 : (e / n->inner) % n->C]; }

/* Quantise one linear layer fed by spikes: W' = theta_in (row) * W, int8 per output column with
 * scale max |W'| / 127. Returns 0 if the layer does not qualify (then it stays float). */
/* The thresholds of neuron `src` as they arrive at value v through layout ops: the same layout ops
 * run on a tensor holding theta at every neuron output. Returns a buffer of numel(v), or NULL. */
static float *theta_through_layout(const sf_snn_session *s, int src, int v) {
  const sf_graph *g = s->g;
  int chain[64], n_chain = 0, at = v;
  while (at != g->nodes[src].out[0]) {
    int p = s->producer[at];
    if (p < 0 || n_chain == 64 || !is_layout_op(g->nodes[p].op_type) || g->nodes[p].n_in < 1) return NULL;
    chain[n_chain++] = p;
    at = g->nodes[p].in[0];
  }
  int64_t on = numel(g, g->nodes[src].out[0]);
  float *cur = alloc_f(on);
  if (!cur) return NULL;
  for (int64_t e = 0; e < on; e++) cur[e] = neuron_theta_at(&s->ns[src], e);
  for (int c = n_chain - 1; c >= 0; c--) {
    const sf_node *nd = &g->nodes[chain[c]];
    float *next = alloc_f(numel(g, nd->out[0]));
    sf_tensor tin[8], tout = g->values[nd->out[0]].t, *ins[8], *outs[1] = {&tout};
    int nin = nd->n_in < 8 ? nd->n_in : 8, ok = next != NULL;
    for (int k = 0; k < nin; k++) {
      ins[k] = nd->in[k] >= 0 ? &tin[k] : NULL;
      if (nd->in[k] >= 0) { tin[k] = g->values[nd->in[k]].t; tin[k].owns_data = 0; }
      if (nd->in[k] >= 0 && !is_const(g, nd->in[k])) ok &= k == 0;
    }
    tin[0].data = cur;
    tout.owns_data = 0;
    tout.data = next;
    sf_op_ctx c2 = {g, nd, nin, 1, ins, outs, g->opset};
    if (ok && nd->n_out == 1 && nd->def->exec(&c2)) ok = 0;
    free(cur);
    cur = next;
    if (!ok || nd->n_out != 1) { free(cur); return NULL; }
  }
  return cur;
}

/* The int8 weight tables of node i from the donor session (sf_snn_set_quant_shared) when it has
 * them for the same node and shape: shared, not copied (1), else 0. */
static int borrow_weights(const sf_snn_session *s, int i, node_state *n) {
  const sf_snn_session *d = s->donor;
  if (!d || d->g->n_nodes != s->g->n_nodes || strcmp(d->g->nodes[i].name, s->g->nodes[i].name)) return 0;
  const node_state *dn = &d->ns[i];
  if (!dn->Wq || dn->qK != n->qK || dn->qN != n->qN) return 0;
  n->Wq = dn->Wq;
  n->Wp = dn->Wp;
  n->colsum = dn->colsum;
  n->wscale = dn->wscale;
  n->q_shared = 1;
  return 1;
}

/* int8 weights [K, N] of W[k, c] * in_scale[k] (in_scale NULL: 1), one scale per output column
 * (max |.| / 127), packed for the dense path, or the donor's tables for the same node; a bias row
 * and accumulators [rows, N] of the node's own. Returns 1, or -1 out of memory. */
static int quantise_weights(const sf_snn_session *s, int i, node_state *n, const float *W, const float *in_scale, int64_t Kd, int64_t N,
                            int64_t rows) {
  n->qK = Kd;
  n->qN = N;
  n->bq = calloc((size_t)N, sizeof(int32_t));
  n->acc = malloc(sizeof(int32_t) * (size_t)(rows * N));
  if (!n->bq || !n->acc) return -1;
  if (borrow_weights(s, i, n)) return 1;
  n->Wq = malloc((size_t)(Kd * N));
  n->Wp = malloc((size_t)sf_q8_packed_size(Kd, N));
  n->colsum = malloc(sizeof(int32_t) * (size_t)N);
  n->wscale = malloc(sizeof(float) * (size_t)N);
  if (!n->Wq || !n->Wp || !n->colsum || !n->wscale) return -1;
  for (int64_t c = 0; c < N; c++) {
    float mx = 0;
    for (int64_t k = 0; k < Kd; k++) {
      float v = fabsf(in_scale ? W[k * N + c] * in_scale[k] : W[k * N + c]);
      mx = v > mx ? v : mx;
    }
    n->wscale[c] = mx > 0 ? mx / 127.0f : 1.0f;
  }
  for (int64_t k = 0; k < Kd; k++)
    for (int64_t c = 0; c < N; c++) {
      long q = lrintf((in_scale ? W[k * N + c] * in_scale[k] : W[k * N + c]) / n->wscale[c]);
      n->Wq[k * N + c] = (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
    }
  sf_q8_pack(n->Wq, Kd, N, n->Wp, n->colsum);
  return 1;
}

static int quantise_linear(sf_snn_session *s, int i) {
  const sf_graph *g = s->g;
  const sf_node *nd = &g->nodes[i];
  node_state *n = &s->ns[i];
  if (n->m != M_LINEAR || strcmp(nd->op_type, "Linear") || !n->spike_in || n->src[0] < 0) return 0;
  const node_state *src = &s->ns[n->src[0]];
  if (src->K > 127 || is_const(g, nd->in[0])) return 0;
  const sf_tensor *w = &g->values[nd->in[1]].t;
  if (w->ndim != 2 || w->dtype != SF_F32) return 0;
  int64_t Kd = w->shape[0], N = w->shape[1], xn = numel(g, nd->in[0]);
  if (Kd <= 0 || N <= 0 || xn % Kd) return 0;
  float *thx = NULL; /* theta per input position, where layout ops reorder the neuron's outputs */
  if (!n->src_exact[0] || numel(g, g->nodes[n->src[0]].out[0]) != xn) {
    if (!(thx = theta_through_layout(s, n->src[0], nd->in[0]))) return 0;
    for (int64_t e = 0; e < xn; e++)
      if (thx[e] != thx[e % Kd] || !(thx[e] > 0)) { free(thx); return 0; }
    if (!(n->inv_thx = malloc(sizeof(float) * (size_t)Kd)) || !(n->xq = calloc((size_t)xn + 4, 1))) { free(thx); return -1; }
    for (int64_t k = 0; k < Kd; k++) n->inv_thx[k] = 1.0f / thx[k];
  }
  /* the input's threshold must depend on the position within a row only; theta(e) has period
   * C * inner and e % Kd period Kd, so checking one common period covers every element */
  if (!thx && src->ntheta != 1 && !(src->inner == 1 && src->C == Kd)) {
    int64_t P = src->C * src->inner, a = P, b = Kd;
    while (b) { int64_t t2 = a % b; a = b; b = t2; }
    int64_t span = P / a * Kd;
    for (int64_t e = 0; e < xn && e < span; e++)
      if (neuron_theta_at(src, e) != neuron_theta_at(src, e % Kd)) return 0;
  }
  /* the presynaptic threshold folded into the weights: a spike count times the weight is the current */
  if (!thx) {
    if (!(thx = malloc(sizeof(float) * (size_t)Kd))) return -1;
    for (int64_t k = 0; k < Kd; k++) thx[k] = neuron_theta_at(src, k);
  }
  int r = quantise_weights(s, i, n, w->data, thx, Kd, N, xn / Kd);
  free(thx);
  if (r < 0) return -1;
  n->qkmax = src->K;
  n->q = 1;
  n->st.int8 = 1;
  return 1;
}

/* The analog input layer (a Linear on the constant input feeding int32 neurons) on int8: its
 * weights per column, its inputs per sample (W8A8). Returns 1 if quantised, 0 if not such a layer. */
static int quantise_input_linear(sf_snn_session *s, int i) {
  const sf_graph *g = s->g;
  const sf_node *nd = &g->nodes[i];
  node_state *n = &s->ns[i];
  if (n->m != M_LINEAR || !n->is_static || strcmp(nd->op_type, "Linear") || nd->n_in < 2 || is_const(g, nd->in[0]) || !is_const(g, nd->in[1]))
    return 0;
  const sf_tensor *w = &g->values[nd->in[1]].t;
  if (w->ndim != 2 || w->dtype != SF_F32) return 0;
  int64_t Kd = w->shape[0], N = w->shape[1], xn = numel(g, nd->in[0]);
  if (Kd <= 0 || N <= 0 || xn % Kd || numel(g, nd->out[0]) != xn / Kd * N) return 0;
  /* its only consumer: an int32 neuron taking the output as a constant current */
  int out = nd->out[0], users = 0, ok = !is_graph_output(g, out);
  for (int j = 0; j < g->n_nodes && ok; j++)
    for (int k = 0; k < g->nodes[j].n_in; k++)
      if (g->nodes[j].in[k] == out) {
        users++;
        ok &= k == 0 && s->ns[j].m == M_NEURON;
      }
  if (!ok || users != 1) return 0;
  int64_t rows = xn / Kd;
  if (quantise_weights(s, i, n, w->data, NULL, Kd, N, rows) < 0 || !(n->xq8 = calloc((size_t)(rows * Kd + 4), 1)) ||
      !(n->xscale = malloc(sizeof(float) * (size_t)rows)) || !(n->xu8 = malloc((size_t)rows)))
    return -1;
  n->q_in = 1;
  n->st.int8 = 1;
  return 1;
}

/* Y = X W + b on int8: each sample's inputs to 8-bit codes (unsigned, scale max / 255, where they
 * are all >= 0, so pixels / 255 come back exactly; else signed, max |x| / 127), integer dot
 * products, then back to float with the two scales. X [rows, K], Y [rows, N]. */
static void input_linear_q8(node_state *n, const float *X, const float *bias, float *Y, int64_t rows) {
  const int64_t Kd = n->qK, N = n->qN;
  sf_q8_code_rows(X, rows, Kd, n->xq8, n->xscale, n->xu8);
  sf_q8_linear_dense(n->xq8, rows, Kd, n->Wq, n->Wp, n->colsum, N, n->bq, n->acc);
  sf_q8_input_currents(n->acc, rows, N, n->xscale, n->xu8, n->wscale, n->colsum, bias, Y);
}

void sf_snn_set_schedule(sf_snn_session *s, int step_major) { s->step_major = step_major != 0; }

/* (a raster records step-major: it reads the neurons' float outputs) */
int sf_snn_time_major(const sf_snn_session *s) { return s->n_chain > 0 && !s->raster && !s->step_major; }

sf_status sf_snn_set_quant_shared(sf_snn_session *s, int bits, const sf_snn_session *donor) {
  if (donor && donor->quant != bits) return sf_error(SF_ERR_ARG, "the donor session runs %d-bit, not %d-bit", donor->quant, bits);
  s->donor = donor;
  sf_status st = sf_snn_set_quant(s, bits);
  s->donor = NULL;
  return st;
}

sf_status sf_snn_set_quant(sf_snn_session *s, int bits) {
  const sf_graph *g = s->g;
  if (bits != 0 && bits != 8) return sf_error(SF_ERR_ARG, "quantisation takes 0 (float) or 8 (int8 weights, int32 membranes), not %d", bits);
  if (s->quant == bits) return SF_OK;
  if (s->quant) return sf_error(SF_ERR_ARG, "a session's quantisation is set once");
  s->quant = bits;
  if (!bits) return SF_OK;
  for (int i = 0; i < g->n_nodes; i++) {
    node_state *n = &s->ns[i];
    if (n->m != M_NEURON) continue;
    int64_t on = numel(g, g->nodes[i].out[0]);
    if (!(n->kq = calloc((size_t)on + 4, 1)) || !(n->vi = calloc((size_t)on, sizeof(int32_t)))) goto oom;
  }
  for (int i = 0; i < g->n_nodes; i++)
    if (quantise_linear(s, i) < 0 || quantise_input_linear(s, i) < 0) goto oom;
  /* an int8 linear whose only consumer is a neuron hands it the accumulators directly */
  for (int i = 0; i < g->n_nodes; i++) {
    node_state *n = &s->ns[i];
    if (!n->q || n->m != M_LINEAR) continue;
    int out = g->nodes[i].out[0], users = 0, user = -1;
    for (int j = 0; j < g->n_nodes; j++)
      for (int k = 0; k < g->nodes[j].n_in; k++)
        if (g->nodes[j].in[k] == out) { users++; user = j; }
    if (users != 1 || is_graph_output(g, out) || s->ns[user].m != M_NEURON || g->nodes[user].in[0] != out) continue;
    node_state *nn = &s->ns[user];
    if (!(nn->ntheta == 1 || (nn->inner == 1 && nn->C == n->qN))) continue;
    n->feeds = user;
    nn->fed_by = i;
    const sf_node *nd = &g->nodes[i];
    const float *b = nd->n_in > 2 && nd->in[2] >= 0 ? g->values[nd->in[2]].t.data : NULL;
    for (int64_t c = 0; c < n->qN; c++) n->bq[c] = b ? (int32_t)lrintf(b[c] / n->wscale[c]) : 0;
  }
  /* membrane units: the feeding layer's weight scale, or theta / 4096 for float currents */
  for (int i = 0; i < g->n_nodes; i++) {
    node_state *n = &s->ns[i];
    if (n->m != M_NEURON) continue;
    if (n->fed_by >= 0) { n->qC = s->ns[n->fed_by].qN; n->qinner = 1; }
    else if (n->ntheta == 1) { n->qC = 1; n->qinner = 1; }
    else { n->qC = n->C; n->qinner = n->inner; }
    if (!(n->Th = malloc(sizeof(int32_t) * (size_t)n->qC)) || !(n->inv_unit = malloc(sizeof(float) * (size_t)n->qC))) goto oom;
    for (int64_t c = 0; c < n->qC; c++) {
      float th = n->theta[n->ntheta == 1 ? 0 : c];
      if (n->fed_by >= 0) {
        long q = lrintf(th / s->ns[n->fed_by].wscale[c]);
        n->Th[c] = (int32_t)(q < 1 ? 1 : q > (1L << 30) ? (1L << 30) : q);
        n->inv_unit[c] = 1.0f / s->ns[n->fed_by].wscale[c];
      } else {
        n->Th[c] = 4096;
        n->inv_unit[c] = 4096.0f / th;
      }
    }
    n->Th_max = 1;
    n->Th_shift = n->Th[0] > 0 && (n->Th[0] & (n->Th[0] - 1)) == 0 ? __builtin_ctz((unsigned)n->Th[0]) : -1;
    for (int64_t c = 0; c < n->qC; c++) {
      n->Th_max = n->Th[c] > n->Th_max ? n->Th[c] : n->Th_max;
      if (n->Th[c] != n->Th[0]) n->Th_shift = -1;
    }
    /* per-position tables over one block of whole channel groups, at least 2048 positions long so
     * that a block is long enough for the vector unit to overlap its iterations */
    int64_t period = n->qC * n->qinner;
    n->qchunk = n->qC == 1 ? 4096 : period * ((2048 + period - 1) / period);
    if (!(n->ThE = malloc(sizeof(int32_t) * (size_t)n->qchunk)) || !(n->iThE = malloc(sizeof(float) * (size_t)n->qchunk)) ||
        !(n->iuE = malloc(sizeof(float) * (size_t)n->qchunk)) || !(n->thE = malloc(sizeof(float) * (size_t)n->qchunk)))
      goto oom;
    for (int64_t j = 0; j < n->qchunk; j++) {
      int64_t c = n->qC == 1 ? 0 : (j / n->qinner) % n->qC;
      n->ThE[j] = n->Th[c];
      n->iThE[j] = 1.0f / (float)n->Th[c];
      n->iuE[j] = n->inv_unit[c];
      n->thE[j] = n->theta[n->ntheta == 1 ? 0 : c];
    }
    n->q = 1;
    n->st.int8 = 1;
    /* a constant input current (direct-coded input through static layers) is converted once */
    if (n->fed_by < 0 && s->static_v[g->nodes[i].in[0]] && !(n->xin = malloc(sizeof(int32_t) * (size_t)numel(g, g->nodes[i].out[0])))) goto oom;
    /* no float output when only int8 linears read this neuron (they read its counts) */
    int out = g->nodes[i].out[0], users = 0, ok = !is_graph_output(g, out);
    for (int j = 0; j < g->n_nodes && ok; j++)
      for (int k = 0; k < g->nodes[j].n_in; k++)
        if (g->nodes[j].in[k] == out) {
          users++;
          ok &= k == 0 && s->ns[j].m == M_LINEAR && s->ns[j].q && s->ns[j].src[0] == i;
        }
    n->y_skip = ok && users > 0;
  }
  if (sf_chain_plan(s) < 0) goto oom;
  return SF_OK;
oom:
  return sf_error(SF_ERR_NOMEM, "out of memory for the int8 runtime state");
}

int sf_snn_quant_layers(const sf_snn_session *s, int *int8_linears, int *float_linears) {
  int a = 0, b = 0;
  for (int i = 0; i < s->g->n_nodes; i++) {
    const node_state *n = &s->ns[i];
    if (n->m == M_LINEAR && n->macs_per_input > 0 && n->spike_in) {
      if (n->q) a++;
      else b++;
    }
  }
  *int8_linears = a;
  *float_linears = b;
  return s->quant;
}

/* A constant input current in membrane units, once: the kernels' conversion round(clamp(x / unit)). */
static void xin_set(node_state *n, const float *x, int64_t on) {
  const float *iu = n->iuE;
  const int64_t P = n->qchunk;
#pragma omp parallel for schedule(static) if (on > 16384)
  for (int64_t e0 = 0; e0 < on; e0 += P) sf_q8_units(x + e0, iu, on - e0 < P ? on - e0 : P, n->xin + e0);
}

static void neuron_step_q8(sf_snn_session *s, node_state *n, const sf_node *nd, int64_t on, int t, double *spikes_out, double *nz_out) {
  const float *x = n->fed_by >= 0 ? NULL : s->inc[nd->in[0]];
  const int32_t *xa = n->fed_by >= 0 ? s->ns[n->fed_by].acc : NULL;
  float *y = n->y_skip && !s->raster ? NULL : s->inc[nd->out[0]];
  if (n->xin) {
    if (t == 1) xin_set(n, x, on);
    xa = n->xin;
    x = NULL;
  }
  const int K = n->K, lo = n->is_signed ? -n->K : 0;
  const float leak = n->leak;
  const int64_t chunk = n->qchunk, nchunks = (on + chunk - 1) / chunk;
  double spikes = 0, nz = 0;
#pragma omp parallel for reduction(+ : spikes, nz) schedule(static) if (on > 16384)
  for (int64_t o = 0; o < nchunks; o++) {
    int64_t e = o * chunk, len = on - e < chunk ? on - e : chunk;
    int64_t z = 0;
    int64_t sp = sf_q8_neuron_block(xa ? xa + e : NULL, xa ? NULL : x + e, n->vi + e, n->kq + e, y ? y + e : NULL, n->ThE, n->iThE, n->iuE, n->thE, len, leak, lo, K, n->Th_max, n->Th_shift, &z);
    spikes += sp;
    nz += z;
  }
  *spikes_out = spikes;
  *nz_out = nz;
}

/* Decode step t from the output layer's currents y: running sum (rate decoder) or output neurons
 * (spike-count decoder), then the callback. Returns non-zero when the callback asks to stop. */
static int decode_step(sf_snn_session *s, int t, const float *y, sf_snn_step_fn cb, void *user) {
  const sf_graph *g = s->g;
  int64_t n_out = numel(g, g->outputs[0]);
  float *dec = s->cum_out;
  for (int64_t e = 0; e < n_out; e++) dec[e] += y[e];
  if (s->decoder == SF_DECODE_COUNT) {
    /* spike-count decoder: a signed IF neuron per output class, integrating the output layer's
     * current; threshold per sample = max |current at t=1| / 4 */
    int64_t B = g->values[g->outputs[0]].t.shape[0], per = n_out / (B ? B : 1);
    for (int64_t b = 0; b < B; b++) {
      if (t == 1) {
        float mx = 0;
        for (int64_t j = 0; j < per; j++) mx = fabsf(y[b * per + j]) > mx ? fabsf(y[b * per + j]) : mx;
        s->spk_theta[b] = mx > 0 ? mx / 4.0f : 1.0f;
        for (int64_t j = 0; j < per; j++) { s->spk_v[b * per + j] = 0.5f * s->spk_theta[b]; s->spk_count[b * per + j] = 0; }
      }
      float th = s->spk_theta[b];
      for (int64_t j = 0; j < per; j++) {
        float u = s->spk_v[b * per + j] + y[b * per + j];
        float k = floorf(u / th);
        s->spk_v[b * per + j] = u - k * th;
        s->spk_count[b * per + j] += k;
      }
    }
  }
  if (cb) {
    float *tmp = s->counts; /* reuse as decode buffer */
    if (s->decoder == SF_DECODE_COUNT) memcpy(tmp, s->spk_count, sizeof(float) * (size_t)n_out);
    else {
      float inv = 1.0f / (float)t;
      for (int64_t e = 0; e < n_out; e++) tmp[e] = dec[e] * inv;
    }
    s->dec.data = tmp;
    if (cb(t, &s->dec, user)) return 1;
  }
  return 0;
}

sf_status sf_snn_input_check(const sf_tensor *input) {
  /* a NaN or infinity would turn into arbitrary currents (and spikes) without a word */
  const int64_t bad = sf_tensor_find_nonfinite(input);
  if (bad < 0) return SF_OK;
  const int64_t per = sf_tensor_numel(input) / (input->ndim && input->shape[0] ? input->shape[0] : 1);
  return sf_snn_input_nonfinite(bad / per, input->ndim ? input->shape[0] : 1, bad % per);
}

sf_status sf_snn_input_nonfinite(int64_t sample, int64_t samples, int64_t element) {
  return sf_error(SF_ERR_VALUE, "SNN input: sample %lld (of this run's %lld), element %lld is not finite; inputs must be finite",
                  (long long)sample, (long long)samples, (long long)element);
}

sf_status sf_snn_run(sf_snn_session *s, const sf_tensor *input, int T, sf_snn_step_fn cb, void *user) {
  sf_status bad = sf_snn_input_check(input);
  return bad ? bad : sf_snn_run_checked(s, input, T, cb, user);
}

sf_status sf_snn_run_checked(sf_snn_session *s, const sf_tensor *input, int T, sf_snn_step_fn cb, void *user) {
  const sf_graph *g = s->g;
  int in_v = g->inputs[0];
  if (!sf_tensor_same_shape(input, &g->values[in_v].t) && sf_tensor_numel(input) != numel(g, in_v))
    return sf_error(SF_ERR_SHAPE, "SNN input does not match the spiking graph's input shape");
  sf_rng_seed(&s->rng, s->cfg.seed);
  if (T > s->step_cap) {
    double *a = realloc(s->step_sops, sizeof(double) * (size_t)T), *b = realloc(s->step_macs, sizeof(double) * (size_t)T);
    double *c2 = realloc(s->step_fops, sizeof(double) * (size_t)T), *d = realloc(s->step_nupd, sizeof(double) * (size_t)T);
    if (a) s->step_sops = a;
    if (b) s->step_macs = b;
    if (c2) s->step_fops = c2;
    if (d) s->step_nupd = d;
    if (!a || !b || !c2 || !d) return sf_error(SF_ERR_NOMEM, "out of memory");
    for (int k = s->step_cap; k < T; k++) s->step_sops[k] = s->step_macs[k] = s->step_fops[k] = s->step_nupd[k] = 0;
    s->step_cap = T;
  }
  /* reset state */
  for (int i = 0; i < g->n_nodes; i++) {
    node_state *n = &s->ns[i];
    const sf_node *nd = &g->nodes[i];
    int64_t on = numel(g, nd->out[0]);
    if (n->m == M_EC || n->m == M_PRODUCT) {
      for (int k = 0; k < nd->n_in; k++) if (n->cum[k]) memset(n->cum[k], 0, sizeof(float) * (size_t)numel(g, nd->in[k]));
      memset(n->prev, 0, sizeof(float) * (size_t)on);
    }
    if (n->m == M_NEURON && !n->q) {
      /* membranes start at theta / 2: [outer, C, inner] walked without divisions */
      int64_t C = n->ntheta == 1 ? 1 : n->C, inner = n->ntheta == 1 ? on : n->inner, e = 0;
      for (int64_t o = 0; o < on / (C * inner); o++)
        for (int64_t c = 0; c < C; c++)
          for (int64_t j = 0; j < inner; j++) n->v[e++] = 0.5f * n->theta[n->ntheta == 1 ? 0 : c];
    }
    if (n->m == M_NEURON && n->q)
      for (int64_t e0 = 0; e0 < on; e0 += n->qchunk) {
        const int64_t len = on - e0 < n->qchunk ? on - e0 : n->qchunk;
        int32_t *vi = n->vi + e0;
        const int32_t *th = n->ThE;
        for (int64_t j = 0; j < len; j++) vi[j] = th[j] >> 1; /* thresholds are positive: half, rounded down */
      }
  }
  int64_t n_out = numel(g, g->outputs[0]);
  memset(s->cum_out, 0, sizeof(float) * (size_t)n_out);
  memset(s->counts, 0, sizeof(float) * (size_t)n_out);
  sf_tensor *ins[1100], *outs[64], tin[1100], tout[64];
  for (int t = 1; t <= T; t++) {
    double b_sops = 0, b_macs = 0, b_fops = 0, b_nupd = 0;
    for (int i = 0; i < g->n_nodes; i++) {
      b_sops += s->ns[i].st.sops; b_macs += s->ns[i].st.macs; b_fops += s->ns[i].st.float_ops; b_nupd += s->ns[i].st.neuron_updates;
    }
    if (t == 1 || !s->static_v[in_v]) encode(s, input, s->inc[in_v], t, T); /* direct coding: the same current every step */
    double clock = sf_snn_now();
    /* a time-major chain: only its constant prefix runs here, at t = 1 */
    const int chained = sf_snn_time_major(s), n_run = chained ? s->chain[0] : g->n_nodes;
    for (int i = 0; i < n_run; i++) {
      if (i > 0) {
        /* the previous node's time (skipped nodes take next to none) */
        double c2 = sf_snn_now();
        s->ns[i - 1].st.seconds += c2 - clock;
        clock = c2;
      }
      const sf_node *nd = &g->nodes[i];
      node_state *n = &s->ns[i];
      int64_t on = numel(g, nd->out[0]);
      if (n->is_static && t > 1) continue; /* same increment as at t = 1 */
      if (n->alias) continue;             /* Reshape and friends: the output is the input's buffer */
      if (n->m == M_NEURON) {
        /* x, v, y: [outer, C, inner] with theta per channel c */
        const float *x = s->inc[nd->in[0]];
        float *y = s->inc[nd->out[0]], *v = n->v;
        int K = n->K, lo = n->is_signed ? -K : 0;
        int64_t C = n->ntheta == 1 ? 1 : n->C, inner = n->ntheta == 1 ? 1 : n->inner, outer = on / (C * inner);
        if (n->ntheta == 1) inner = on, outer = 1;
        float leak = n->leak;
        const float *thv = n->theta;
        int per_ch = n->ntheta != 1;
        double spikes = 0, nz = 0;
        if (n->q) { neuron_step_q8(s, n, nd, on, t, &spikes, &nz); goto neuron_done; }
        if (!per_ch) {
          /* one threshold: blocks of the whole tensor */
#pragma omp parallel for reduction(+ : spikes, nz) schedule(static) if (on > 16384)
          for (int64_t e0 = 0; e0 < on; e0 += 4096) {
            int64_t z = 0;
            spikes += (double)sf_neuron_step_f32(x + e0, v + e0, y + e0, thv, n->inv_theta, 0, on - e0 < 4096 ? on - e0 : 4096, leak, lo, K, &z);
            nz += (double)z;
          }
        } else {
#pragma omp parallel for reduction(+ : spikes, nz) schedule(static) if (on > 16384)
          for (int64_t o = 0; o < outer; o++) {
            int64_t z = 0;
            if (inner == 1) {
              /* channels last: one contiguous row with per-element thresholds */
              spikes += (double)sf_neuron_step_f32(x + o * C, v + o * C, y + o * C, thv, n->inv_theta, 1, C, leak, lo, K, &z);
              nz += (double)z;
            } else {
              for (int64_t c = 0; c < C; c++) {
                int64_t base = (o * C + c) * inner;
                spikes += (double)sf_neuron_step_f32(x + base, v + base, y + base, thv + c, n->inv_theta + c, 0, inner, leak, lo, K, &z);
                nz += (double)z;
              }
            }
          }
        }
      neuron_done:
        if (n->code_binary) spikes = binary_code_spikes(n, y, on);
        n->st.spikes += spikes;
        n->step_spikes = spikes;
        n->step_nz = nz;
        n->st.neuron_updates += (double)on;
        if (s->raster && !s->raster_done && t <= s->raster_T) {
          int64_t per = on / (g->values[nd->out[0]].t.shape[0] ? g->values[nd->out[0]].t.shape[0] : 1);
          int8_t *row = s->raster + ((int64_t)i * s->raster_T + (t - 1)) * s->raster_n;
          for (int64_t e = 0; e < s->raster_n && e < per; e++) {
            float th = n->theta[n->ntheta == 1 ? 0 : (e / n->inner) % n->C];
            float k = y[e] / th;
            row[e] = (int8_t)(k > 127 ? 127 : k < -127 ? -127 : k);
          }
        }
        continue;
      }
      sf_op_ctx c = {g, nd, nd->n_in, nd->n_out, ins, outs, g->opset};
      for (int k = 0; k < nd->n_in; k++) {
        int v = nd->in[k];
        if (v < 0) { ins[k] = NULL; continue; }
        tin[k] = g->values[v].t;
        tin[k].owns_data = 0;
        if (!is_const(g, v)) {
          if (n->m != M_LINEAR && n->cum[k]) {
            int64_t m = numel(g, v);
            /* a bilinear product runs on the running sums themselves: f(A/t, B/t) = f(A, B) / t^2 */
            float *cu = n->cum[k], *me = n->bilinear ? NULL : s->scratch_mean[k];
            const float *x = s->inc[v];
            float inv = 1.0f / (float)t;
#pragma omp parallel for schedule(static) if (m > 32768)
            for (int64_t e0 = 0; e0 < m; e0 += 4096) sf_ec_accumulate(cu + e0, me ? me + e0 : NULL, x + e0, inv, m - e0 < 4096 ? m - e0 : 4096);
            tin[k].data = me ? me : cu;
          } else {
            tin[k].data = s->inc[v];
          }
        }
        ins[k] = &tin[k];
      }
      for (int k = 0; k < nd->n_out; k++) {
        tout[k] = g->values[nd->out[k]].t;
        tout[k].owns_data = 0;
        tout[k].data = (n->m == M_LINEAR) ? s->inc[nd->out[k]] : s->scratch_f;
        outs[k] = &tout[k];
      }
      int done = 0;
      if (n->m == M_LINEAR && n->macs_per_input > 0) {
        int x = nd->in[0];
        if (is_const(g, x) && nd->n_in > 1) x = nd->in[1];
        if (n->spike_in) {
          /* an int8 layer reads its source neuron's counts in place: their non-zeros were counted by the neuron */
          int64_t xn = numel(g, x), ev = nonzero_events(s, n->src[0], x);
          n->st.events += (double)ev;
          /* a burst of k spikes is k synaptic events at each target */
          n->st.sops += (double)ev * n->macs_per_input * burst_factor(s, n->src[0]) + (double)on * combine_adds(s, n->src[0]);
          /* auto: events where activity is low, except into a narrow int8 layer (a 10-class output),
           * where the per-row cost of the event path outweighs a dense row of VNNI products */
          int use_events = s->path == SF_PATH_EVENT || s->path == SF_PATH_BITPACKED ||
                           (s->path == SF_PATH_AUTO && (double)ev < s->event_max_activity * (double)xn && !(n->q && n->qN <= 32));
          if (n->q) {
            int64_t N = n->qN, rows = xn / n->qK;
            int32_t *acc = n->acc;
            const int8_t *X = s->ns[n->src[0]].kq;
            if (n->xq) {
              /* reordered on the way: the counts back from the spikes in this layer's input order */
              const float *xf = s->inc[x], *it = n->inv_thx;
              const int64_t Kq = n->qK;
              for (int64_t r = 0; r < rows; r++) {
                int8_t *qr = n->xq + r * Kq;
                const float *fr = xf + r * Kq;
                /* x = k theta with a small integer k: round half away from zero recovers it */
#pragma omp simd
                for (int64_t k = 0; k < Kq; k++) {
                  float q = fr[k] * it[k];
                  qr[k] = (int8_t)(int)(q + (q >= 0.0f ? 0.5f : -0.5f));
                }
              }
              X = n->xq;
            }
            if (use_events) {
              sf_q8_linear_events16(X, rows, n->qK, n->Wq, N, n->qkmax, n->bq, acc);
              n->steps_event++;
            } else {
              sf_q8_linear_dense(X, rows, n->qK, n->Wq, n->Wp, n->colsum, N, n->bq, acc);
              n->steps_dense++;
            }
            if (n->feeds < 0) {
              /* float consumers: Y = scale * acc + bias */
              const float *b = nd->n_in > 2 && nd->in[2] >= 0 ? g->values[nd->in[2]].t.data : NULL;
              sf_q8_dequantise(acc, rows, N, n->wscale, b, s->inc[nd->out[0]]);
            }
            done = 1;
          } else if (!strcmp(nd->op_type, "Linear") && x == nd->in[0]) {
            /* event-driven: each spike adds its weight row */
            const sf_tensor *w = &g->values[nd->in[1]].t;
            int64_t Kd = w->shape[0], N = w->shape[1], rows = xn / Kd;
            float *Y = s->inc[nd->out[0]];
            if (nd->n_in > 2 && nd->in[2] >= 0) {
              const float *b = g->values[nd->in[2]].t.data;
              for (int64_t r = 0; r < rows; r++) memcpy(Y + r * N, b, sizeof(float) * (size_t)N);
            } else {
              memset(Y, 0, sizeof(float) * (size_t)(rows * N));
            }
            /* one accumulation order on every path: the same spikes whichever runs */
            if (!use_events) { sf_spike_linear_dense(s->inc[x], rows, Kd, w->data, N, Y); n->steps_dense++; }
            else if (s->path == SF_PATH_BITPACKED) { sf_spike_linear_bitpacked(s->inc[x], rows, Kd, w->data, N, Y); n->steps_event++; }
            else { sf_spike_linear_events(s->inc[x], rows, Kd, w->data, N, Y); n->steps_event++; }
            done = 1;
          }
        } else {
          n->st.macs += n->macs_per_input * (double)numel(g, x);
        }
      }
      if (!done && n->q_in) {
        const float *b = nd->n_in > 2 && nd->in[2] >= 0 ? g->values[nd->in[2]].t.data : NULL;
        input_linear_q8(n, ins[0]->data, b, outs[0]->data, numel(g, nd->in[0]) / n->qK);
        done = 1;
      }
      if (!done && n->is_static) {
        int r = static_rows_exec(g, nd, ins, outs, &c);
        if (r < 0) return sf_error(SF_ERR_INTERNAL, "node '%s' failed on a block of samples: %s", nd->name, sf_last_error());
        done = r == 1;
      }
      if (!done) {
        sf_status st = nd->def->exec(&c);
        if (st) return st;
        if (n->m == M_LINEAR && n->spike_in) n->steps_dense++;
      }
      if (n->m == M_LINEAR) {
      } else {
        /* t f(mean); for a bilinear product f(sums) / t */
        float *y = s->inc[nd->out[0]], *f = s->scratch_f, *prev = n->prev, ft = n->bilinear ? 1.0f / (float)t : (float)t;
#pragma omp parallel for schedule(static) if (on > 32768)
        for (int64_t e0 = 0; e0 < on; e0 += 4096) sf_ec_increment(y + e0, f + e0, prev + e0, ft, on - e0 < 4096 ? on - e0 : 4096);
        if (n->m == M_EC) n->st.float_ops += (double)on;
        else {
          /* a_t B_t + A_{t-1} b_t: events of each operand times the other's row length */
          const sf_tensor *A = &g->values[nd->in[0]].t, *B = &g->values[nd->in[1]].t;
          int64_t ea = nonzero_events(s, n->src[0], nd->in[0]), eb = nonzero_events(s, n->src[1], nd->in[1]);
          double fan_a = !strcmp(nd->op_type, "MatMul") ? (double)B->shape[B->ndim - 1] : 1.0;
          double fan_b = !strcmp(nd->op_type, "MatMul") ? (double)(A->ndim >= 2 ? A->shape[A->ndim - 2] : 1) : 1.0;
          n->st.events += (double)(ea + eb);
          n->st.sops += (double)ea * fan_a * burst_factor(s, n->src[0]) + (double)eb * fan_b * burst_factor(s, n->src[1]) +
                        (double)on * (combine_adds(s, n->src[0]) + combine_adds(s, n->src[1]));
        }
      }
    }
    if (n_run) s->ns[n_run - 1].st.seconds += sf_snn_now() - clock;
    {
      double a_sops = 0, a_macs = 0, a_fops = 0, a_nupd = 0;
      for (int i = 0; i < g->n_nodes; i++) {
        a_sops += s->ns[i].st.sops; a_macs += s->ns[i].st.macs; a_fops += s->ns[i].st.float_ops; a_nupd += s->ns[i].st.neuron_updates;
      }
      s->step_sops[t - 1] += a_sops - b_sops;
      s->step_macs[t - 1] += a_macs - b_macs;
      s->step_fops[t - 1] += a_fops - b_fops;
      s->step_nupd[t - 1] += a_nupd - b_nupd;
    }
    if (chained) {
      /* every step of the chain, one sample at a time */
      const int c0 = s->chain[0];
      xin_set(&s->ns[c0], s->inc[g->nodes[c0].in[0]], numel(g, g->nodes[c0].out[0]));
      sf_status st = sf_chain_run(s, T, decode_step, cb, user);
      if (st) return st;
      break;
    }
    if (decode_step(s, t, s->inc[g->outputs[0]], cb, user)) break;
  }
  if (s->raster) s->raster_done = 1; /* the raster holds the first run's sample 0 */
  return SF_OK;
}

/* int8 weights with int32 membranes for a spiking session (sf_snn_set_quant): which layers qualify,
 * their weights folded with the presynaptic thresholds and quantised per output column, and the
 * neurons' thresholds in membrane units. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "snn/spike_kernels_q8.h"
#include "snn/snn_session.h"

/* ---- int8 weights, int32 membranes ---- */

static int is_graph_output(const sf_graph *g, int v) {
  for (int k = 0; k < g->n_outputs; k++) if (g->outputs[k] == v) return 1;
  return 0;
}

static float neuron_theta_at(const node_state *n, int64_t e) { return n->nrn.theta[n->nrn.ntheta == 1 ? 0 : (e / n->nrn.inner) % n->nrn.C]; }

/* The thresholds of neuron `src` as they arrive at value v through layout ops: the same layout ops
 * run on a tensor holding theta at every neuron output. Returns a buffer of numel(v), or NULL. */
static float *theta_through_layout(const sf_snn_session *s, int src, int v) {
  const sf_graph *g = s->g;
  int chain[64], n_chain = 0, at = v;
  while (at != g->nodes[src].out[0]) {
    int p = s->producer[at];
    if (p < 0 || n_chain == 64 || !sf_snn_passes_spikes(&g->nodes[p]) || g->nodes[p].n_in < 1) return NULL;
    chain[n_chain++] = p;
    at = g->nodes[p].in[0];
  }
  int64_t on = numel(g, g->nodes[src].out[0]);
  float *cur = sf_snn_alloc_f(on);
  if (!cur) return NULL;
  for (int64_t e = 0; e < on; e++) cur[e] = neuron_theta_at(&s->ns[src], e);
  for (int c = n_chain - 1; c >= 0; c--) {
    const sf_node *nd = &g->nodes[chain[c]];
    float *next = sf_snn_alloc_f(numel(g, nd->out[0]));
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
  if (!dn->syn.Wq || dn->syn.qK != n->syn.qK || dn->syn.qN != n->syn.qN) return 0;
  n->syn.Wq = dn->syn.Wq;
  n->syn.Wp = dn->syn.Wp;
  n->syn.colsum = dn->syn.colsum;
  n->syn.wscale = dn->syn.wscale;
  n->syn.q_shared = 1;
  return 1;
}

/* int8 weights [K, N] of W[k, c] * in_scale[k] (in_scale NULL: 1), one scale per output column
 * (max |.| / 127), packed for the dense path, or the donor's tables for the same node; a bias row
 * and accumulators [rows, N] of the node's own. Returns 1, or -1 out of memory. */
static int quantise_weights(const sf_snn_session *s, int i, node_state *n, const float *W, const float *in_scale, int64_t Kd, int64_t N,
                            int64_t rows) {
  n->syn.qK = Kd;
  n->syn.qN = N;
  n->syn.bq = calloc((size_t)N, sizeof(int32_t));
  n->syn.acc = malloc(sizeof(int32_t) * (size_t)(rows * N));
  if (!n->syn.bq || !n->syn.acc) return -1;
  if (borrow_weights(s, i, n)) return 1;
  n->syn.Wq = malloc((size_t)(Kd * N));
  n->syn.Wp = malloc((size_t)sf_q8_packed_size(Kd, N));
  n->syn.colsum = malloc(sizeof(int32_t) * (size_t)N);
  n->syn.wscale = malloc(sizeof(float) * (size_t)N);
  if (!n->syn.Wq || !n->syn.Wp || !n->syn.colsum || !n->syn.wscale) return -1;
  for (int64_t c = 0; c < N; c++) {
    float mx = 0;
    for (int64_t k = 0; k < Kd; k++) {
      float v = fabsf(in_scale ? W[k * N + c] * in_scale[k] : W[k * N + c]);
      mx = v > mx ? v : mx;
    }
    n->syn.wscale[c] = mx > 0 ? mx / 127.0f : 1.0f;
  }
  for (int64_t k = 0; k < Kd; k++)
    for (int64_t c = 0; c < N; c++) {
      long q = lrintf((in_scale ? W[k * N + c] * in_scale[k] : W[k * N + c]) / n->syn.wscale[c]);
      n->syn.Wq[k * N + c] = (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
    }
  sf_q8_pack(n->syn.Wq, Kd, N, n->syn.Wp, n->syn.colsum);
  return 1;
}

/* Quantise one linear layer fed by spikes: W' = theta_in (row) * W, int8 per output column with
 * scale max |W'| / 127. Returns 0 if the layer does not qualify (then it stays float). */
static int quantise_linear(sf_snn_session *s, int i) {
  const sf_graph *g = s->g;
  const sf_node *nd = &g->nodes[i];
  node_state *n = &s->ns[i];
  if (n->m != M_LINEAR || sf_node_op(nd) != SF_OP_LINEAR || !n->spike_in || n->src[0] < 0) return 0;
  const node_state *src = &s->ns[n->src[0]];
  if (src->nrn.K > 127 || is_const(g, nd->in[0])) return 0;
  const sf_tensor *w = &g->values[nd->in[1]].t;
  if (w->ndim != 2 || w->dtype != SF_F32) return 0;
  int64_t Kd = w->shape[0], N = w->shape[1], xn = numel(g, nd->in[0]);
  if (Kd <= 0 || N <= 0 || xn % Kd) return 0;
  float *thx = NULL; /* theta per input position, where layout ops reorder the neuron's outputs */
  if (!n->src_exact[0] || numel(g, g->nodes[n->src[0]].out[0]) != xn) {
    if (!(thx = theta_through_layout(s, n->src[0], nd->in[0]))) return 0;
    for (int64_t e = 0; e < xn; e++)
      if (thx[e] != thx[e % Kd] || !(thx[e] > 0)) { free(thx); return 0; }
    if (!(n->syn.inv_thx = malloc(sizeof(float) * (size_t)Kd)) || !(n->syn.xq = calloc((size_t)xn + 4, 1))) { free(thx); return -1; }
    for (int64_t k = 0; k < Kd; k++) n->syn.inv_thx[k] = 1.0f / thx[k];
  }
  /* the input's threshold must depend on the position within a row only; theta(e) has period
   * C * inner and e % Kd period Kd, so checking one common period covers every element */
  if (!thx && src->nrn.ntheta != 1 && !(src->nrn.inner == 1 && src->nrn.C == Kd)) {
    int64_t P = src->nrn.C * src->nrn.inner, a = P, b = Kd;
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
  n->syn.qkmax = src->nrn.K;
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
  if (n->m != M_LINEAR || !n->is_static || sf_node_op(nd) != SF_OP_LINEAR || nd->n_in < 2 || is_const(g, nd->in[0]) || !is_const(g, nd->in[1]))
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
  if (quantise_weights(s, i, n, w->data, NULL, Kd, N, rows) < 0 || !(n->syn.xq8 = calloc((size_t)(rows * Kd + 4), 1)) ||
      !(n->syn.xscale = malloc(sizeof(float) * (size_t)rows)) || !(n->syn.xu8 = malloc((size_t)rows)))
    return -1;
  n->syn.q_in = 1;
  n->st.int8 = 1;
  return 1;
}
sf_status sf_snn_set_quant_shared(sf_snn_session *s, sf_quant bits, const sf_snn_session *donor) {
  if (donor && donor->quant != bits) return sf_error(SF_ERR_ARG, "the donor session runs %s, not %s", sf_quant_name(donor->quant), sf_quant_name(bits));
  s->donor = donor;
  sf_status st = sf_snn_set_quant(s, bits);
  s->donor = NULL;
  return st;
}

sf_status sf_snn_set_quant(sf_snn_session *s, sf_quant bits) {
  const sf_graph *g = s->g;
  if (bits != SF_QUANT_FLOAT && bits != SF_QUANT_INT8)
    return sf_error(SF_ERR_ARG, "quantisation takes SF_QUANT_FLOAT or SF_QUANT_INT8 (int8 weights, int32 membranes), not %d", (int)bits);
  if (s->quant == bits) return SF_OK;
  if (s->quant) return sf_error(SF_ERR_ARG, "a session's quantisation is set once");
  if (bits)
    for (int i = 0; i < g->n_nodes; i++) {
      const snn_neuron *nr = &s->ns[i].nrn;
      if (s->ns[i].m != M_NEURON || (!nr->reset_zero && nr->v_init == 0.5f)) continue;
      return sf_error(SF_ERR_UNSUPPORTED, "node '%s': its neurons %s; the int8 kernels (int32 membranes) reset by subtraction from theta / 2 only: "
                      "run it with --quant float", g->nodes[i].name, nr->reset_zero ? "reset to zero" : "start from another membrane than theta / 2");
    }
  s->quant = bits;
  if (!bits) return SF_OK;
  for (int i = 0; i < g->n_nodes; i++) {
    node_state *n = &s->ns[i];
    if (n->m != M_NEURON) continue;
    int64_t on = numel(g, g->nodes[i].out[0]);
    if (!(n->nrn.kq = calloc((size_t)on + 4, 1)) || !(n->nrn.vi = calloc((size_t)on, sizeof(int32_t)))) goto oom;
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
    if (!(nn->nrn.ntheta == 1 || (nn->nrn.inner == 1 && nn->nrn.C == n->syn.qN))) continue;
    n->syn.feeds = user;
    nn->nrn.fed_by = i;
    const sf_node *nd = &g->nodes[i];
    const float *b = nd->n_in > 2 && nd->in[2] >= 0 ? g->values[nd->in[2]].t.data : NULL;
    for (int64_t c = 0; c < n->syn.qN; c++) n->syn.bq[c] = b ? (int32_t)lrintf(b[c] / n->syn.wscale[c]) : 0;
  }
  /* membrane units: the feeding layer's weight scale, or theta / 4096 for float currents */
  for (int i = 0; i < g->n_nodes; i++) {
    node_state *n = &s->ns[i];
    if (n->m != M_NEURON) continue;
    if (n->nrn.fed_by >= 0) { n->nrn.qC = s->ns[n->nrn.fed_by].syn.qN; n->nrn.qinner = 1; }
    else if (n->nrn.ntheta == 1) { n->nrn.qC = 1; n->nrn.qinner = 1; }
    else { n->nrn.qC = n->nrn.C; n->nrn.qinner = n->nrn.inner; }
    if (!(n->nrn.Th = malloc(sizeof(int32_t) * (size_t)n->nrn.qC)) || !(n->nrn.inv_unit = malloc(sizeof(float) * (size_t)n->nrn.qC))) goto oom;
    for (int64_t c = 0; c < n->nrn.qC; c++) {
      float th = n->nrn.theta[n->nrn.ntheta == 1 ? 0 : c];
      if (n->nrn.fed_by >= 0) {
        long q = lrintf(th / s->ns[n->nrn.fed_by].syn.wscale[c]);
        n->nrn.Th[c] = (int32_t)(q < 1 ? 1 : q > (1L << 30) ? (1L << 30) : q);
        n->nrn.inv_unit[c] = 1.0f / s->ns[n->nrn.fed_by].syn.wscale[c];
      } else {
        n->nrn.Th[c] = 4096;
        n->nrn.inv_unit[c] = 4096.0f / th;
      }
    }
    n->nrn.Th_max = 1;
    n->nrn.Th_shift = n->nrn.Th[0] > 0 && (n->nrn.Th[0] & (n->nrn.Th[0] - 1)) == 0 ? __builtin_ctz((unsigned)n->nrn.Th[0]) : -1;
    for (int64_t c = 0; c < n->nrn.qC; c++) {
      n->nrn.Th_max = n->nrn.Th[c] > n->nrn.Th_max ? n->nrn.Th[c] : n->nrn.Th_max;
      if (n->nrn.Th[c] != n->nrn.Th[0]) n->nrn.Th_shift = -1;
    }
    /* per-position tables over one block of whole channel groups, at least 2048 positions long so
     * that a block is long enough for the vector unit to overlap its iterations */
    int64_t period = n->nrn.qC * n->nrn.qinner;
    n->nrn.qchunk = n->nrn.qC == 1 ? 4096 : period * ((2048 + period - 1) / period);
    if (!(n->nrn.ThE = malloc(sizeof(int32_t) * (size_t)n->nrn.qchunk)) || !(n->nrn.iThE = malloc(sizeof(float) * (size_t)n->nrn.qchunk)) ||
        !(n->nrn.iuE = malloc(sizeof(float) * (size_t)n->nrn.qchunk)) || !(n->nrn.thE = malloc(sizeof(float) * (size_t)n->nrn.qchunk)))
      goto oom;
    for (int64_t j = 0; j < n->nrn.qchunk; j++) {
      int64_t c = n->nrn.qC == 1 ? 0 : (j / n->nrn.qinner) % n->nrn.qC;
      n->nrn.ThE[j] = n->nrn.Th[c];
      n->nrn.iThE[j] = 1.0f / (float)n->nrn.Th[c];
      n->nrn.iuE[j] = n->nrn.inv_unit[c];
      n->nrn.thE[j] = n->nrn.theta[n->nrn.ntheta == 1 ? 0 : c];
    }
    n->q = 1;
    n->st.int8 = 1;
    /* a constant input current (direct-coded input through static layers) is converted once
     * (rate coding: delta coding sends it at t = 1 only) */
    if (n->nrn.fed_by < 0 && s->static_v[g->nodes[i].in[0]] && !s->delta && !(n->nrn.xin = malloc(sizeof(int32_t) * (size_t)numel(g, g->nodes[i].out[0])))) goto oom;
    /* no float output when only int8 linears read this neuron (they read its counts) */
    int out = g->nodes[i].out[0], users = 0, ok = !is_graph_output(g, out);
    for (int j = 0; j < g->n_nodes && ok; j++)
      for (int k = 0; k < g->nodes[j].n_in; k++)
        if (g->nodes[j].in[k] == out) {
          users++;
          ok &= k == 0 && s->ns[j].m == M_LINEAR && s->ns[j].q && s->ns[j].src[0] == i;
        }
    n->nrn.y_skip = ok && users > 0;
  }
  if (!s->delta && sf_chain_plan(s) < 0) goto oom; /* (delta coding runs step-major) */
  return SF_OK;
oom:
  return sf_error(SF_ERR_NOMEM, "out of memory for the int8 runtime state");
}

sf_quant sf_snn_quant_layers(const sf_snn_session *s, int *int8_linears, int *float_linears) {
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

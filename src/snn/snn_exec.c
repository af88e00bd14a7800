/* Time-stepped SNN executor (dense reference). Per step t = 1..T, nodes run in order:
 *   linear   Y_t = op(X_t) on increments; constants act as currents injected every step
 *   product  expectation form of the product of two spike streams: cumulative output
 *            P_t = A_t B_t / t (A, B running sums), emitted as P_t - P_{t-1}
 *   ec       O_t = t f(mean_t) - (t-1) f(mean_{t-1}), mean_t = running sum / t
 *   neuron   v += x (LIF: v = leak v + x); k = clamp(floor(v / theta), -K or 0, K); v -= k theta;
 *            emits k theta; v starts at theta / 2 (round-to-nearest), reset by subtraction
 * Delta coding (sigma-delta) replaces t by 1 in the product and ec forms (cumulative outputs A_t B_t
 * and f(sum_t)), sends the input and the constants at t = 1 only, and skips a node at t > 1 when none
 * of its inputs changed (a neuron also needs nothing left over from a burst cut at K): its output
 * is "silent", and a consumer that does run reads it as zeros.
 * Shapes per value: whatever the spiking graph says ([batch, ...]).
 * This is the step-major schedule (every node over the batch at each step); a graph that is an int8
 * feed-forward chain runs time-major instead (snn_chain.c), with the same results. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/par.h"
#include "ops/ops.h"
#include "snn/ec_kernels.h"
#include "snn/ec_rows.h"
#include "snn/spike_kernels.h"
#include "snn/spike_kernels_q8.h"
#include "snn/neuron_kernels_q8.h"
#include "snn/q8_codes.h"
#include "snn/snn_delta.h"
#include "snn/snn_session.h"
#include "spikeformer/threads.h"

/* Whether step t carries the constants (biases, added tables): every step under rate coding,
 * only the first under delta coding. */
static inline int sends_constants(const sf_snn_session *s, int t) { return !s->delta || t == 1; }
/* The t of the ec and product forms: t under rate coding (means), 1 under delta coding (sums). */
static inline float form_t(const sf_snn_session *s, int t) { return s->delta ? 1.0f : (float)t; }

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
  SF_PAR_IF(n > 65536, "omp parallel for reduction(+ : c) schedule(static)",
  for (int64_t i = 0; i < n; i++) c += p[i] != 0.0f;);
  return c;
}

/* Unit spikes per non-zero output of neuron node src at this step (1 for binary neurons; k for
 * bursts of k). Exact through order-keeping layout ops; through max pooling it is the source's
 * mean over all its outputs. */
/* Non-zero entries of value v this step: the count its source neuron took while firing when v is
 * that neuron's output through layout ops (which only move elements), else counted. */
static int64_t nonzero_events(const sf_snn_session *s, int src, int v) {
  const sf_graph *g = s->g;
  if (src >= 0 && numel(g, g->nodes[src].out[0]) == numel(g, v)) return (int64_t)s->ns[src].nrn.step_nz;
  return count_nonzero(s->inc[v], numel(g, v));
}

/* The spikes a binary-coded burst neuron sends this step: popcount(|k|) over its counts k (the
 * int8 counts where it runs on int32 membranes, else output / theta). */
static double binary_code_spikes(const node_state *n, const float *y, int64_t on) {
  double sp = 0;
  if (n->q) {
    SF_PAR_IF(on > 16384, "omp parallel for reduction(+ : sp) schedule(static)",
    for (int64_t e = 0; e < on; e++) sp += __builtin_popcount((unsigned)abs((int)n->nrn.kq[e])););
  } else {
    const int per_ch = n->nrn.ntheta != 1;
    SF_PAR_IF(on > 16384, "omp parallel for reduction(+ : sp) schedule(static)",
    for (int64_t e = 0; e < on; e++) {
      float it = n->nrn.inv_theta[per_ch ? (e / n->nrn.inner) % n->nrn.C : 0];
      sp += __builtin_popcount((unsigned)lrintf(fabsf(y[e]) * it));
    });
  }
  return sp;
}

/* Adds per output element that combine a binary-coded source's per-bit accumulators (shifts are
 * free): planes - 1 per step. */
static double combine_adds(const sf_snn_session *s, int src) {
  return src >= 0 && s->ns[src].nrn.code_binary ? (double)(s->ns[src].nrn.planes - 1) : 0.0;
}

/* Sum over this step's non-zero inputs of their fan-out (the layer's non-zero weights per input
 * feature): the synaptic operations of a pruned layer, exact for binary neurons (IF, LIF); a burst
 * neuron's events are then scaled by its mean burst (burst_factor). x [xn] the input spikes (or,
 * where an int8 layer reads its neuron's counts in place, those counts). */
static double fanned_events(const sf_snn_session *s, const node_state *n, int x, int64_t xn) {
  const float *fan = n->fan;
  const int64_t K = n->fan_k;
  const node_state *src = n->src[0] >= 0 && n->src_exact[0] ? &s->ns[n->src[0]] : NULL;
  double f = 0;
  if (src && src->nrn.kq && n->q) {
    const int8_t *k = src->nrn.kq;
    for (int64_t e = 0; e < xn; e++) f += k[e] ? fan[e % K] : 0.0f;
  } else {
    const float *v = s->inc[x];
    for (int64_t e = 0; e < xn; e++) f += v[e] != 0.0f ? fan[e % K] : 0.0f;
  }
  return f;
}

static double burst_factor(const sf_snn_session *s, int src) {
  if (src < 0) return 1.0;
  const node_state *n = &s->ns[src];
  return n->nrn.step_nz > 0 ? n->nrn.step_spikes / n->nrn.step_nz : 1.0;
}

#define STATIC_BLOCK 64 /* samples */

/* A layer fed by the analog input (computed once per run) on fixed blocks of 64 samples, each
 * block one single-threaded BLAS call, blocks spread over threads: the partition never depends on
 * the thread count, so neither do the currents (a multi-threaded BLAS call may split its sums
 * differently at 1 and 2 threads, which changed spikes of the MLP on the full test set).
 * Returns 1 if it ran the node, 0 if the node does not split by sample, -1 on error. */
static int static_rows_exec(const sf_graph *g, const sf_node *nd, sf_tensor **ins, sf_tensor **outs, const sf_op_ctx *c) {
  const int ok = nd->def && nd->def->spiking == SF_SPK_WEIGHTED; /* Linear, Gemm, Conv, MatMul */
  if (!ok || nd->n_out != 1 || nd->n_in < 2 || nd->n_in > 8 || !ins[0] || is_const(g, nd->in[0])) return 0;
  for (int k = 1; k < nd->n_in; k++)
    if (nd->in[k] >= 0 && !is_const(g, nd->in[k])) return 0;
  const sf_tensor *x = ins[0], *y = outs[0];
  if (x->dtype != SF_F32 || y->dtype != SF_F32 || x->ndim < 2 || y->ndim < 2 || x->shape[0] != y->shape[0]) return 0;
  if (sf_node_op(nd) == SF_OP_GEMM && sf_node_attr_int(nd, "transA", 0)) return 0;
  const int64_t B = x->shape[0], xs = sf_tensor_numel(x) / B, ys = sf_tensor_numel(y) / B, blocks = (B + STATIC_BLOCK - 1) / STATIC_BLOCK;
  /* inside a parallel region (a shard of a batch split across threads) BLAS already runs on one
   * thread and the blocks run here in turn */
  const int nested = omp_in_parallel();
  int failed = 0, nth = nested ? 1 : sf_threads_get();
  if (!nested) sf_blas_threads_set(1); /* OpenBLAS's OpenMP build also lowers OpenMP's default: name our count */
  SF_PAR_IF(!nested, "omp parallel for schedule(static) reduction(| : failed) num_threads(nth)",
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
  });
  if (!nested) sf_blas_threads_set(sf_threads_get());
  return failed ? -1 : 1;
}

/* Y = X W + b on int8: each sample's inputs to 8-bit codes (unsigned, scale max / 255, where they
 * are all >= 0, so pixels / 255 come back exactly; else signed, max |x| / 127), integer dot
 * products, then back to float with the two scales. X [rows, K], Y [rows, N]. */
static void input_linear_q8(node_state *n, const float *X, const float *bias, float *Y, int64_t rows) {
  const int64_t Kd = n->syn.qK, N = n->syn.qN;
  sf_q8_code_rows(X, rows, Kd, n->syn.xq8, n->syn.xscale, n->syn.xu8);
  sf_q8_linear_dense(n->syn.xq8, rows, Kd, n->syn.Wq, n->syn.Wp, n->syn.colsum, N, n->syn.bq, n->syn.acc);
  sf_q8_input_currents(n->syn.acc, rows, N, n->syn.xscale, n->syn.xu8, n->syn.wscale, n->syn.colsum, bias, Y);
}


/* A constant input current in membrane units, once: the kernels' conversion round(clamp(x / unit)). */
static void xin_set(node_state *n, const float *x, int64_t on) {
  const float *iu = n->nrn.iuE;
  const int64_t P = n->nrn.qchunk;
  SF_PAR_IF(on > 16384, "omp parallel for schedule(static)",
  for (int64_t e0 = 0; e0 < on; e0 += P) sf_q8_units(x + e0, iu, on - e0 < P ? on - e0 : P, n->nrn.xin + e0););
}

static void neuron_step_q8(sf_snn_session *s, node_state *n, const sf_node *nd, int64_t on, int t, double *spikes_out, double *nz_out) {
  const float *x = n->nrn.fed_by >= 0 ? NULL : s->inc[nd->in[0]];
  const int32_t *xa = n->nrn.fed_by >= 0 ? s->ns[n->nrn.fed_by].syn.acc : NULL;
  float *y = n->nrn.y_skip && !s->raster ? NULL : s->inc[nd->out[0]];
  if (n->nrn.xin) {
    if (t == 1 || s->frames) xin_set(n, x, on); /* (a clip's frames change it every step) */
    xa = n->nrn.xin;
    x = NULL;
  }
  const int K = n->nrn.K, lo = n->nrn.is_signed ? -n->nrn.K : 0;
  const float leak = n->nrn.leak;
  const int64_t chunk = n->nrn.qchunk, nchunks = (on + chunk - 1) / chunk;
  double spikes = 0, nz = 0;
  SF_PAR_IF(on > 16384, "omp parallel for reduction(+ : spikes, nz) schedule(static)",
  for (int64_t o = 0; o < nchunks; o++) {
    int64_t e = o * chunk, len = on - e < chunk ? on - e : chunk;
    int64_t z = 0;
    int64_t sp = sf_q8_neuron_block(xa ? xa + e : NULL, xa ? NULL : x + e, n->nrn.vi + e, n->nrn.kq + e, y ? y + e : NULL, n->nrn.ThE, n->nrn.iThE, n->nrn.iuE, n->nrn.thE, len, leak, lo, K, n->nrn.Th_max, n->nrn.Th_shift, &z);
    spikes += sp;
    nz += z;
  });
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
      float inv = 1.0f / form_t(s, t); /* rate: the mean over steps; delta: the sum */
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

/* Room for T steps of per-step counters. Returns 0, or -1 when out of memory. */
static int reserve_steps(sf_snn_session *s, int T) {
  if (T <= s->step_cap) return 0;
  double *a = realloc(s->step_sops, sizeof(double) * (size_t)T), *b = realloc(s->step_macs, sizeof(double) * (size_t)T);
  double *c = realloc(s->step_fops, sizeof(double) * (size_t)T), *d = realloc(s->step_nupd, sizeof(double) * (size_t)T);
  if (a) s->step_sops = a;
  if (b) s->step_macs = b;
  if (c) s->step_fops = c;
  if (d) s->step_nupd = d;
  if (!a || !b || !c || !d) return -1;
  for (int k = s->step_cap; k < T; k++) s->step_sops[k] = s->step_macs[k] = s->step_fops[k] = s->step_nupd[k] = 0;
  s->step_cap = T;
  return 0;
}

/* State at the start of a run: running sums and previous outputs zero, membranes at theta / 2. */
static void reset_state(sf_snn_session *s) {
  const sf_graph *g = s->g;
  for (int i = 0; i < g->n_nodes; i++) {
    node_state *n = &s->ns[i];
    const sf_node *nd = &g->nodes[i];
    int64_t on = numel(g, nd->out[0]);
    if (n->m == M_EC || n->m == M_PRODUCT) {
      for (int k = 0; k < nd->n_in; k++) if (n->ec.cum[k]) memset(n->ec.cum[k], 0, sizeof(float) * (size_t)numel(g, nd->in[k]));
      memset(n->ec.prev, 0, sizeof(float) * (size_t)on);
    }
    if (n->m == M_NEURON) snn_neuron_reset(&n->nrn, on, n->q);
  }
  int64_t n_out = numel(g, g->outputs[0]);
  memset(s->cum_out, 0, sizeof(float) * (size_t)n_out);
  memset(s->counts, 0, sizeof(float) * (size_t)n_out);
}

/* Step t of neuron node i: integrate its input current, fire, count. x, v, y: [outer, C, inner]
 * with theta per channel c. */
static void run_neuron(sf_snn_session *s, int i, int t) {
  const sf_graph *g = s->g;
  const sf_node *nd = &g->nodes[i];
  node_state *n = &s->ns[i];
  const int64_t on = numel(g, nd->out[0]);
  const float *x = s->inc[nd->in[0]];
  float *y = s->inc[nd->out[0]];
  double spikes = 0, nz = 0;
  if (n->q) neuron_step_q8(s, n, nd, on, t, &spikes, &nz);
  else snn_neuron_step_f32(&n->nrn, x, y, on, &spikes, &nz);
  if (n->nrn.code_binary) spikes = binary_code_spikes(n, y, on);
  if (s->delta) n->nrn.pending = nz > 0 && sf_delta_burst_cut(n, y, on);
  n->st.spikes += spikes;
  n->nrn.step_spikes = spikes;
  n->nrn.step_nz = nz;
  n->st.neuron_updates += (double)on;
  if (s->raster && !s->raster_done && t <= s->raster_T) {
    int64_t per = on / (g->values[nd->out[0]].t.shape[0] ? g->values[nd->out[0]].t.shape[0] : 1);
    int8_t *row = s->raster + ((int64_t)i * s->raster_T + (t - 1)) * s->raster_n;
    for (int64_t e = 0; e < s->raster_n && e < per; e++) {
      float th = n->nrn.theta[n->nrn.ntheta == 1 ? 0 : (e / n->nrn.inner) % n->nrn.C];
      float k = y[e] / th;
      row[e] = (int8_t)(k > 127 ? 127 : k < -127 ? -127 : k);
    }
  }
}

/* A linear layer fed by a neuron's spikes (its input x): counts its events and synaptic operations,
 * then runs it on int8 weights or event-driven / dense on float weights. Returns 1 if it ran the
 * layer, 0 if the generic op must (a float layer that is not a plain Linear on x). */
static int run_spike_linear(sf_snn_session *s, int i, int x, int t) {
  const sf_graph *g = s->g;
  const sf_node *nd = &g->nodes[i];
  node_state *n = &s->ns[i];
  const int64_t on = numel(g, nd->out[0]);
  /* an int8 layer reads its source neuron's counts in place: their non-zeros were counted by the neuron */
  int64_t xn = numel(g, x), ev = nonzero_events(s, n->src[0], x);
  n->st.events += (double)ev;
  /* a burst of k spikes is k synaptic events at each target; with pruned weights, each spike at
   * its own input's non-zero targets */
  const double fanned = n->fan ? fanned_events(s, n, x, xn) : (double)ev * n->macs_per_input;
  n->st.sops += fanned * burst_factor(s, n->src[0]) + (double)on * combine_adds(s, n->src[0]);
  /* auto: events where activity is low, except into a narrow int8 layer (a 10-class output),
   * where the per-row cost of the event path outweighs a dense row of VNNI products */
  int use_events = s->path == SF_PATH_EVENT || s->path == SF_PATH_BITPACKED ||
                   (s->path == SF_PATH_AUTO && (double)ev < s->event_max_activity * (double)xn && !(n->q && n->syn.qN <= 32));
  if (n->q) {
    int64_t N = n->syn.qN, rows = xn / n->syn.qK;
    int32_t *acc = n->syn.acc;
    const int8_t *X = s->ns[n->src[0]].nrn.kq;
    if (n->syn.xq) {
      /* reordered on the way: the counts back from the spikes in this layer's input order */
      const float *xf = s->inc[x], *it = n->syn.inv_thx;
      const int64_t Kq = n->syn.qK;
      for (int64_t r = 0; r < rows; r++) {
        int8_t *qr = n->syn.xq + r * Kq;
        const float *fr = xf + r * Kq;
        /* x = k theta with a small integer k: round half away from zero recovers it */
#pragma omp simd
        for (int64_t k = 0; k < Kq; k++) {
          float q = fr[k] * it[k];
          qr[k] = (int8_t)(int)(q + (q >= 0.0f ? 0.5f : -0.5f));
        }
      }
      X = n->syn.xq;
    }
    /* delta coding sends the bias once */
    const int32_t *bq = sends_constants(s, t) ? n->syn.bq : (const int32_t *)s->zeros;
    if (use_events) {
      sf_q8_linear_events16(X, rows, n->syn.qK, n->syn.Wq, N, n->syn.qkmax, bq, acc);
      n->syn.steps_event++;
    } else {
      sf_q8_linear_dense(X, rows, n->syn.qK, n->syn.Wq, n->syn.Wp, n->syn.colsum, N, bq, acc);
      n->syn.steps_dense++;
    }
    if (n->syn.feeds < 0) {
      /* float consumers: Y = scale * acc + bias */
      const float *b = nd->n_in > 2 && nd->in[2] >= 0 && sends_constants(s, t) ? g->values[nd->in[2]].t.data : NULL;
      sf_q8_dequantise(acc, rows, N, n->syn.wscale, b, s->inc[nd->out[0]]);
    }
    return 1;
  }
  if (sf_node_op(nd) != SF_OP_LINEAR || x != nd->in[0]) return 0;
  /* event-driven: each spike adds its weight row */
  const sf_tensor *w = &g->values[nd->in[1]].t;
  int64_t Kd = w->shape[0], N = w->shape[1], rows = xn / Kd;
  float *Y = s->inc[nd->out[0]];
  if (nd->n_in > 2 && nd->in[2] >= 0 && sends_constants(s, t)) {
    const float *b = g->values[nd->in[2]].t.data;
    for (int64_t r = 0; r < rows; r++) memcpy(Y + r * N, b, sizeof(float) * (size_t)N);
  } else {
    memset(Y, 0, sizeof(float) * (size_t)(rows * N));
  }
  /* one accumulation order on every path: the same spikes whichever runs */
  if (!use_events) { sf_spike_linear_dense(s->inc[x], rows, Kd, w->data, N, Y); n->syn.steps_dense++; }
  else if (s->path == SF_PATH_BITPACKED) { sf_spike_linear_bitpacked(s->inc[x], rows, Kd, w->data, N, Y); n->syn.steps_event++; }
  else { sf_spike_linear_events(s->inc[x], rows, Kd, w->data, N, Y); n->syn.steps_event++; }
  return 1;
}

/* The counters of a step of ec or product node i: float evaluations, or the product's events and
 * synaptic operations. */
static void count_increment(sf_snn_session *s, int i) {
  const sf_graph *g = s->g;
  const sf_node *nd = &g->nodes[i];
  node_state *n = &s->ns[i];
  const int64_t on = numel(g, nd->out[0]);
  if (n->m == M_EC) {
    n->st.float_ops += (double)on;
    return;
  }
  /* a_t B_t + A_{t-1} b_t: events of each operand times the other's row length */
  const sf_tensor *A = &g->values[nd->in[0]].t, *B = &g->values[nd->in[1]].t;
  int64_t ea = nonzero_events(s, n->src[0], nd->in[0]), eb = nonzero_events(s, n->src[1], nd->in[1]);
  const int matmul = sf_node_op(nd) == SF_OP_MATMUL;
  double fan_a = matmul ? (double)B->shape[B->ndim - 1] : 1.0;
  double fan_b = matmul ? (double)(A->ndim >= 2 ? A->shape[A->ndim - 2] : 1) : 1.0;
  n->st.events += (double)(ea + eb);
  n->st.sops += (double)ea * fan_a * burst_factor(s, n->src[0]) + (double)eb * fan_b * burst_factor(s, n->src[1]) +
                (double)on * (combine_adds(s, n->src[0]) + combine_adds(s, n->src[1]));
}

/* Expectation compensation after the op ran on the running means (sums, for a bilinear product)
 * into f: the output increment t f - (t-1) f_prev (for a bilinear product f / t), and the counts. */
static void emit_increment(sf_snn_session *s, int i, int t) {
  const sf_graph *g = s->g;
  const sf_node *nd = &g->nodes[i];
  node_state *n = &s->ns[i];
  const int64_t on = numel(g, nd->out[0]);
  const float te = form_t(s, t);
  float *y = s->inc[nd->out[0]], *f = s->scratch_f, *prev = n->ec.prev, ft = n->ec.bilinear ? 1.0f / te : te;
  SF_PAR_IF(on > 32768, "omp parallel for schedule(static)",
  for (int64_t e0 = 0; e0 < on; e0 += 4096) sf_ec_increment(y + e0, f + e0, prev + e0, ft, on - e0 < 4096 ? on - e0 : 4096););
  count_increment(s, i);
}

/* Step t of an ec node that runs fused with its running sums (n->ec.rows, ec_rows.h): block by
 * block, each block's means and op output in L1. A session that has the threads to itself spreads
 * the blocks over them, each block with its own part of the scratch buffers. */
static void run_ec_rows(sf_snn_session *s, int i, int t) {
  const sf_graph *g = s->g;
  const sf_node *nd = &g->nodes[i];
  node_state *n = &s->ns[i];
  const int64_t on = numel(g, nd->out[0]), block = sf_ec_rows_block(&n->ec.rows), blocks = (on + block - 1) / block;
  const int par = !omp_in_parallel() && sf_threads_get() > 1 && on > 32768;
  float *cum = n->ec.cum[0], *prev = n->ec.prev, *y = s->inc[nd->out[0]];
  const float *x = s->inc[nd->in[0]];
  const float te = form_t(s, t);
  SF_PAR_IF(par, "omp parallel for schedule(static)",
  for (int64_t b = 0; b < blocks; b++) {
    const int64_t e0 = b * block, len = on - e0 < block ? on - e0 : block, sc = par ? e0 : 0;
    sf_ec_rows_step(&n->ec.rows, cum + e0, x + e0, prev + e0, y + e0, s->scratch_mean[0] + sc, s->scratch_f + sc, 1.0f / te, te, len);
  });
  count_increment(s, i);
}

/* Tensors a node's op runs on: ins [n_in], outs [n_out], and their headers tin, tout */
typedef struct {
  sf_tensor *ins[SF_OP_MAX_INPUTS], *outs[SF_OP_MAX_OUTPUTS], tin[SF_OP_MAX_INPUTS], tout[SF_OP_MAX_OUTPUTS];
} op_args;

/* Step t of a linear, ec or product node i. */
static sf_status run_op(sf_snn_session *s, int i, int t, op_args *a) {
  const sf_graph *g = s->g;
  const sf_node *nd = &g->nodes[i];
  node_state *n = &s->ns[i];
  if (n->ec.rows.kind != SF_EC_ROWS_NONE) {
    run_ec_rows(s, i, t);
    return SF_OK;
  }
  sf_op_ctx c = {g, nd, nd->n_in, nd->n_out, a->ins, a->outs, g->opset};
  for (int k = 0; k < nd->n_in; k++) {
    int v = nd->in[k];
    if (v < 0) { a->ins[k] = NULL; continue; }
    a->tin[k] = g->values[v].t;
    a->tin[k].owns_data = 0;
    if (!is_const(g, v)) {
      if (n->m != M_LINEAR && n->ec.cum[k]) {
        int64_t m = numel(g, v);
        /* a bilinear product runs on the running sums themselves: f(A/t, B/t) = f(A, B) / t^2;
         * delta coding runs everything on the sums */
        float *cu = n->ec.cum[k], *me = n->ec.bilinear || s->delta ? NULL : s->scratch_mean[k];
        const float *x = s->inc[v];
        float inv = 1.0f / (float)t;
        SF_PAR_IF(m > 32768, "omp parallel for schedule(static)",
        for (int64_t e0 = 0; e0 < m; e0 += 4096) sf_ec_accumulate(cu + e0, me ? me + e0 : NULL, x + e0, inv, m - e0 < 4096 ? m - e0 : 4096););
        a->tin[k].data = me ? me : cu;
      } else {
        a->tin[k].data = s->inc[v];
      }
    }
    a->ins[k] = &a->tin[k];
  }
  for (int k = 0; k < nd->n_out; k++) {
    a->tout[k] = g->values[nd->out[k]].t;
    a->tout[k].owns_data = 0;
    a->tout[k].data = (n->m == M_LINEAR) ? s->inc[nd->out[k]] : s->scratch_f;
    a->outs[k] = &a->tout[k];
  }
  int done = 0, generic = 0; /* generic: the op ran as the graph has it, constants included */
  if (n->m == M_LINEAR && n->macs_per_input > 0) {
    int x = nd->in[0];
    if (is_const(g, x) && nd->n_in > 1) x = nd->in[1];
    if (n->spike_in) done = run_spike_linear(s, i, x, t);
    else n->st.macs += n->macs_per_input * (double)numel(g, x);
  }
  if (!done && n->syn.q_in) {
    const float *b = nd->n_in > 2 && nd->in[2] >= 0 && sends_constants(s, t) ? g->values[nd->in[2]].t.data : NULL;
    input_linear_q8(n, a->ins[0]->data, b, a->outs[0]->data, numel(g, nd->in[0]) / n->syn.qK);
    done = 1;
  }
  if (!done && n->is_static) {
    int r = static_rows_exec(g, nd, a->ins, a->outs, &c);
    if (r < 0) return sf_error(SF_ERR_INTERNAL, "node '%s' failed on a block of samples: %s", nd->name, sf_last_error());
    done = generic = r == 1;
  }
  if (!done) {
    sf_status st = nd->def->exec(&c);
    if (st) return st;
    if (n->m == M_LINEAR && n->spike_in) n->syn.steps_dense++;
    generic = 1;
  }
  /* a linear op that added its constants at a step that must not carry them (a clip's later frames
   * reach the static layers too) */
  sf_status st;
  if (generic && n->m == M_LINEAR && !sends_constants(s, t) && (st = sf_delta_remove_constants(s, i, &c))) return st;
  if (n->m != M_LINEAR) emit_increment(s, i, t);
  return SF_OK;
}

/* Totals of the per-node counters, to attribute a step's operations. */
static void count_totals(const sf_snn_session *s, double tot[4]) {
  tot[0] = tot[1] = tot[2] = tot[3] = 0;
  for (int i = 0; i < s->g->n_nodes; i++) {
    const sf_snn_node_stats *st = &s->ns[i].st;
    tot[0] += st->sops; tot[1] += st->macs; tot[2] += st->float_ops; tot[3] += st->neuron_updates;
  }
}

/* Frame t (1-based) of every clip [B, Tn, per] into dst [B, per]; with prev, minus frame t-1
 * (delta coding). Returns 1 if any element of dst is non-zero. */
static int clip_frame(const float *clips, int64_t B, int64_t Tn, int64_t per, int t, int prev, float *dst) {
  int any = 0;
  for (int64_t b = 0; b < B; b++) {
    const float *f = clips + (b * Tn + (t - 1)) * per, *f0 = f - per;
    float *d = dst + b * per;
    if (!prev) {
      memcpy(d, f, sizeof(float) * (size_t)per);
      any = 1;
      continue;
    }
#pragma omp simd reduction(| : any)
    for (int64_t e = 0; e < per; e++) {
      d[e] = f[e] - f0[e];
      any |= d[e] != 0.0f;
    }
  }
  return any;
}

/* T steps on input (the same every step), or on clips [B, T, per] (frame t at step t) */
static sf_status run_steps(sf_snn_session *s, const sf_tensor *input, const float *clips, int T, sf_snn_step_fn cb, void *user) {
  const sf_graph *g = s->g;
  int in_v = g->inputs[0];
  const int64_t B = g->values[in_v].t.ndim > 0 ? g->values[in_v].t.shape[0] : 1, per = B ? numel(g, in_v) / B : 0;
  sf_rng_seed(&s->rng, s->cfg.seed);
  if (reserve_steps(s, T)) return sf_error(SF_ERR_NOMEM, "out of memory");
  reset_state(s);
  s->frames = clips != NULL;
  op_args *a = malloc(sizeof *a);
  if (!a) return sf_error(SF_ERR_NOMEM, "out of memory");
  sf_status st = SF_OK;
  for (int t = 1; t <= T && !st; t++) {
    double before[4], after[4];
    count_totals(s, before);
    if (s->delta) {
      /* the input is sent at t = 1; after that only what changed (a clip's next frame) */
      if (t == 1) memset(s->silent, 0, (size_t)g->n_values);
      if (clips) s->silent[in_v] = (uint8_t)!clip_frame(clips, B, T, per, t, t > 1, s->inc[in_v]);
      else if (t == 1) encode(s, input, s->inc[in_v], t, T);
      else s->silent[in_v] = 1;
    } else if (clips) {
      clip_frame(clips, B, T, per, t, 0, s->inc[in_v]); /* rate coding: frame t is the current of step t */
    } else if (t == 1 || !s->static_v[in_v]) {
      encode(s, input, s->inc[in_v], t, T); /* direct coding: the same current every step */
    }
    double clock = sf_snn_now();
    /* a time-major chain: only its constant prefix runs here, at t = 1 */
    const int chained = sf_snn_time_major(s) && !clips, n_run = chained ? s->chain[0] : g->n_nodes;
    for (int i = 0; i < n_run && !st; i++) {
      if (i > 0) {
        /* the previous node's time (skipped nodes take next to none) */
        double c2 = sf_snn_now();
        s->ns[i - 1].st.seconds += c2 - clock;
        clock = c2;
      }
      node_state *n = &s->ns[i];
      if (s->delta && t > 1) {
        if (sf_delta_skip(s, i)) continue;
      } else if (n->is_static && t > 1 && !clips) {
        continue; /* same increment as at t = 1 */
      }
      if (n->alias) continue;             /* Reshape and friends: the output is the input's buffer */
      if (n->m == M_NEURON) {
        run_neuron(s, i, t);
        /* a neuron that sent nothing changed nothing downstream */
        if (s->delta && n->nrn.step_nz == 0) s->silent[g->nodes[i].out[0]] = 1;
      } else {
        st = run_op(s, i, t, a);
      }
    }
    if (st) break;
    if (n_run) s->ns[n_run - 1].st.seconds += sf_snn_now() - clock;
    count_totals(s, after);
    s->step_sops[t - 1] += after[0] - before[0];
    s->step_macs[t - 1] += after[1] - before[1];
    s->step_fops[t - 1] += after[2] - before[2];
    s->step_nupd[t - 1] += after[3] - before[3];
    if (chained) {
      /* every step of the chain, one sample at a time */
      const int c0 = s->chain[0];
      xin_set(&s->ns[c0], s->inc[g->nodes[c0].in[0]], numel(g, g->nodes[c0].out[0]));
      st = sf_chain_run(s, T, decode_step, cb, user);
      break;
    }
    /* an output that did not change adds nothing (its buffer is stale) */
    const int out_v = g->outputs[0];
    if (decode_step(s, t, s->delta && t > 1 && s->silent[out_v] ? s->zeros : s->inc[out_v], cb, user)) break;
  }
  free(a);
  s->frames = 0;
  if (!st && s->raster) s->raster_done = 1; /* the raster holds the first run's sample 0 */
  return st;
}

sf_status sf_snn_run_checked(sf_snn_session *s, const sf_tensor *input, int T, sf_snn_step_fn cb, void *user) {
  const sf_graph *g = s->g;
  int in_v = g->inputs[0];
  if (!sf_tensor_same_shape(input, &g->values[in_v].t) && sf_tensor_numel(input) != numel(g, in_v))
    return sf_error(SF_ERR_SHAPE, "SNN input does not match the spiking graph's input shape");
  return run_steps(s, input, NULL, T, cb, user);
}

sf_status sf_snn_run_frames(sf_snn_session *s, const sf_tensor *clips, sf_snn_step_fn cb, void *user) {
  const sf_graph *g = s->g;
  const sf_tensor *in = &g->values[g->inputs[0]].t;
  if (s->cfg.spike_encoding != SF_ENCODE_DIRECT)
    return sf_error(SF_ERR_ARG, "SNN clips: frames are input currents; they need direct input encoding, not %s", sf_encoding_name(s->cfg.spike_encoding));
  /* [B, T, rest of the input's shape] */
  int same = clips->dtype == SF_F32 && in->ndim >= 1 && clips->ndim == in->ndim + 1 && clips->shape[0] == in->shape[0];
  for (int d = 1; same && d < in->ndim; d++) same = clips->shape[d + 1] == in->shape[d];
  if (!same || clips->shape[1] < 1 || clips->shape[1] > (1 << 20))
    return sf_error(SF_ERR_SHAPE, "SNN clips: expected float32 [batch %lld, T, the input's shape after the batch], T from 1 to 2^20",
                    (long long)(in->ndim >= 1 ? in->shape[0] : 1));
  sf_status bad = sf_snn_input_check(clips);
  if (bad) return sf_error_context(bad, "SNN clips (a sample here is a clip, its elements frame after frame)");
  return run_steps(s, NULL, clips->data, (int)clips->shape[1], cb, user);
}

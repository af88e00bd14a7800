/* Time-major execution of int8 feed-forward chains (a spiking MLP after int8 quantisation):
 *
 *   x (constant current, [rows, R1]) -> N1 -> L1 -> N2 -> L2 -> ... -> Nk -> Lk -> output [rows, Nk]
 *
 * Nj: int32-membrane neurons over a row of Rj; Lj: int8 linear [Rj, Rj+1] fed by Nj's counts, feeding
 * N(j+1) its accumulators (Lk: the decoded output). The step-major executor walks every layer over
 * the whole batch at each step, streaming each layer's state through the cache T times; here one
 * sample runs all the steps of a block before the next, so its membranes, counts and accumulators
 * (a few KiB) stay in L1 and only the weights come from L2. Integer sums are exact, so the spikes,
 * counters and outputs are the step-major executor's, bit for bit (tests/snn_paths.sh). */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "graph/graph.h"
#include "snn/snn_session.h"
#include "snn/spike_kernels.h"
#include "snn/spike_kernels_q8.h"
#include "snn/spike_lists_q8.h"
#include "snn/neuron_kernels_q8.h"
#include "snn/q8_codes.h"

#define CHAIN_MAX_NODES 64
#define CHAIN_BLOCK_FLOATS 65536 /* decoded currents held per block of steps */
/* the list path's crossover to the dense path: one sample's block of 32 steps, K = 512 inputs, one
 * core, lists vs dense VNNI (us): into 10 outputs 0.7 vs 3.1 at 10% activity, equal at 50%; into
 * 256 outputs 5.2 vs 124 at 10%, 31 vs 126 at 60% */
#define LISTS_MAX_ACTIVITY 0.5

static int64_t numel_of(const sf_graph *g, int v) { return sf_tensor_numel(&g->values[v].t); }

/* A cheap clock for splitting the chain's measured time among its layers (only ratios of ticks
 * are used): the time-stamp counter where there is one. */
static inline uint64_t ticks(void) {
#if defined(__x86_64__)
  return __rdtsc();
#else
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}

/* Binary unsigned IF neurons (each spike 0 or 1) feed their layer from per-step lists, on its
 * widened weight panels. */
static int lists_feed(const node_state *nr) { return nr->nrn.K == 1 && nr->nrn.leak == 1.0f && !nr->nrn.is_signed; }

/* The widened weight panels of chain linear i: the donor session's where it has them for the
 * same weights, else built here. 0, or -1 out of memory. */
static int chain_panels(sf_snn_session *s, int i) {
  node_state *ln = &s->ns[i];
  const sf_snn_session *d = s->donor;
  if (ln->syn.q_shared && d && d->ns[i].syn.W16 && d->ns[i].syn.Wq == ln->syn.Wq) {
    ln->syn.W16 = d->ns[i].syn.W16;
    ln->syn.w16_shared = 1;
    return 0;
  }
  const size_t bytes = (sizeof(int16_t) * (size_t)sf_q8_w16_size(ln->syn.qK, ln->syn.qN) + 63) / 64 * 64;
  if (!(ln->syn.W16 = aligned_alloc(64, bytes))) return -1;
  sf_q8_pack_w16(ln->syn.Wq, ln->syn.qK, ln->syn.qN, ln->syn.W16);
  return 0;
}

int sf_chain_plan(sf_snn_session *s) {
  const sf_graph *g = s->g;
  int nodes[CHAIN_MAX_NODES], n = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    const node_state *ns = &s->ns[i];
    if (ns->alias) continue;
    if (ns->is_static) {
      if (n) return 0; /* a constant node after the chain began */
      continue;
    }
    if (n == CHAIN_MAX_NODES) return 0;
    nodes[n++] = i;
  }
  if (n < 2 || n % 2) return 0;
  int64_t rows = -1, width = 0; /* the widest layer, inputs or outputs */
  for (int j = 0; j < n; j += 2) {
    const node_state *nr = &s->ns[nodes[j]], *ln = &s->ns[nodes[j + 1]];
    const sf_node *lnd = &g->nodes[nodes[j + 1]];
    if (nr->m != M_NEURON || !nr->q || !nr->nrn.y_skip) return 0;
    if (nr->nrn.code_binary) return 0; /* its tallies count unit spikes: binary-coded bursts run step-major */
    if (j == 0 ? !nr->nrn.xin : nr->nrn.fed_by != nodes[j - 1]) return 0;
    if (ln->m != M_LINEAR || !ln->q || !ln->spike_in || ln->src[0] != nodes[j] || !ln->src_exact[0] || ln->syn.xq || ln->macs_per_input <= 0 ||
        ln->fan) /* (a pruned layer counts each spike's own fan-out: step-major) */
      return 0;
    if (sf_node_op(lnd) != SF_OP_LINEAR) return 0;
    int last = j + 2 == n;
    if (last ? ln->syn.feeds >= 0 || lnd->out[0] != g->outputs[0] : ln->syn.feeds != nodes[j + 2]) return 0;
    int64_t on = numel_of(g, g->nodes[nodes[j]].out[0]), R = ln->syn.qK;
    /* the neuron's per-position tables: one value everywhere (qC = 1, any R of them will do), or
     * whole rows of R within a block */
    if (R <= 0 || on % R || (nr->nrn.qC == 1 ? R > nr->nrn.qchunk : nr->nrn.qchunk % R)) return 0;
    if (rows < 0) rows = on / R;
    if (on / R != rows) return 0;
    width = R > width ? R : width;
    width = ln->syn.qN > width ? ln->syn.qN : width;
  }
  const node_state *out = &s->ns[nodes[n - 1]];
  if (numel_of(g, g->outputs[0]) != rows * out->syn.qN) return 0;
  /* steps per block: at most 32 (a bit per step), fewer where the decoded currents would be large */
  int64_t block = CHAIN_BLOCK_FLOATS / (rows * out->syn.qN);
  block = block < 1 ? 1 : block > 32 ? 32 : block;
  if (!(s->chain = malloc(sizeof(int) * (size_t)n)) || !(s->chain_y = malloc(sizeof(float) * (size_t)(block * rows * out->syn.qN))) ||
      !(s->chain_idx = malloc(sizeof(int32_t) * (size_t)(width + 64))) || !(s->chain_S = calloc((size_t)(block * width + 4), 1)) ||
      !(s->chain_acc = malloc(sizeof(int32_t) * (size_t)(block * width))) || !(s->chain_i16 = aligned_alloc(64, (sizeof(int16_t) * (size_t)(block * width) + 63) / 64 * 64)) ||
      !(s->chain_bits = malloc(sizeof(uint32_t) * (size_t)width)) ||
      !(s->chain_lists = malloc(sizeof(int32_t) * (size_t)(block * (width + 16)))) || !(s->chain_counts = malloc(sizeof(int32_t) * (size_t)block)))
    return -1;
  for (int j = 0; j < n; j += 2)
    if (lists_feed(&s->ns[nodes[j]]) && chain_panels(s, nodes[j + 1])) return -1;
  memcpy(s->chain, nodes, sizeof(int) * (size_t)n);
  s->n_chain = n;
  s->chain_block = block;
  return 1;
}

/* x [R] = 1 at the neurons of one step's list, else 0 (for a path that reads spikes). */
static void spikes_from_list(const int32_t *list, int32_t count, int64_t R, int8_t *x) {
  memset(x, 0, (size_t)R);
  for (int32_t e = 0; e < count; e++) x[list[e]] = 1;
}

/* Per layer of the chain, over one run. */
typedef struct {
  double spikes, nz, events, sops, timed;
  int64_t dense_rows, row_steps;
} chain_tally;

/* One sample, steps t0 .. t0 + nb - 1, layer after layer: each neuron layer over all nb steps
 * (its input currents for every step are known: the constant input, or the previous layer's
 * block), then its synapses for all nb steps at once. Spikes land in S [nb, R], currents in
 * Acc [nb, N] (bias included). */
static void chain_sample(sf_snn_session *s, int64_t r, int t0, int nb, chain_tally *tally, double *step_sops, double *step_nupd) {
  const sf_graph *g = s->g;
  const int n = s->n_chain;
  const int64_t rows = numel_of(g, g->nodes[s->chain[0]].out[0]) / s->ns[s->chain[1]].syn.qK;
  int8_t *S = s->chain_S;
  int32_t *Acc = s->chain_acc;
  /* currents of the next neuron layer left as int16 block sums plus a bias row, or NULL: in Acc */
  const int16_t *cur16 = NULL;
  const int32_t *cur_bias = NULL;
  for (int j = 0; j < n; j += 2) {
    node_state *nr = &s->ns[s->chain[j]], *ln = &s->ns[s->chain[j + 1]];
    const int64_t R = ln->syn.qK, N = ln->syn.qN, off = nr->nrn.qC == 1 ? 0 : (r * R) % nr->nrn.qchunk;
    const int lo = nr->nrn.is_signed ? -nr->nrn.K : 0;
    const uint64_t c0 = ticks();
    /* neurons: binary IF neurons over the whole block at once, others step by step */
    const int binary = nr->nrn.K == 1 && nr->nrn.leak == 1.0f;
    int64_t sp_t[32], z_t[32], max_sp = 0, nz_all = 0;
    if (binary) {
      /* binary IF neurons over the whole block at once, recording their events: per-step lists
       * for the panel kernel (W16; the spikes S only if another path needs them, below), else the
       * spikes and the steps each neuron fired at */
      int32_t *counts = s->chain_counts;
      sf_q8_neuron_if_block(j == 0 ? nr->nrn.xin + r * R : Acc, j == 0 ? 0 : R, cur16, cur_bias, nb, nr->nrn.vi + r * R, nr->nrn.ThE + off, R, nr->nrn.is_signed,
                            ln->syn.W16 ? NULL : S, ln->syn.W16 ? NULL : s->chain_bits, ln->syn.W16 ? s->chain_lists : NULL, counts);
      for (int tt = 0; tt < nb; tt++) sp_t[tt] = z_t[tt] = counts[tt];
    } else
      for (int tt = 0; tt < nb; tt++) {
        const int32_t *xa = j == 0 ? nr->nrn.xin + r * R : Acc + (int64_t)tt * R;
        sp_t[tt] = sf_q8_neuron_block(xa, NULL, nr->nrn.vi + r * R, S + (int64_t)tt * R, NULL, nr->nrn.ThE + off, nr->nrn.iThE + off, nr->nrn.iuE + off,
                                      nr->nrn.thE + off, R, nr->nrn.leak, lo, nr->nrn.K, nr->nrn.Th_max, nr->nrn.Th_shift, &z_t[tt]);
      }
    for (int tt = 0; tt < nb; tt++) {
      const int64_t sp = sp_t[tt], z = z_t[tt];
      tally[j].spikes += (double)sp;
      tally[j].nz += (double)z;
      step_nupd[t0 - 1 + tt] += (double)R;
      /* a burst of k spikes is k synaptic events at each of the layer's targets */
      tally[j + 1].events += (double)z;
      tally[j + 1].sops += (double)sp * ln->macs_per_input;
      step_sops[t0 - 1 + tt] += (double)sp * ln->macs_per_input;
      max_sp = sp > max_sp ? sp : max_sp;
      nz_all += z;
    }
    const uint64_t c1 = ticks();
    /* synapses. Fed by binary neurons (panels, W16): step by step, events from the step's list, or
     * dense where the step's activity is above the list path's crossover. Else for the whole block:
     * dense where activity is high (the step-major executor's crossover) or the layer is a narrow
     * output, else events input by input. Events sum in int16 where that cannot overflow. */
    const int dense = !ln->syn.W16 && (s->path == SF_PATH_DENSE ||
                                   (s->path == SF_PATH_AUTO && ((double)nz_all >= s->event_max_activity * (double)R * nb || N <= 32)));
    /* (rows of the int16 block start on cache lines when N is a multiple of 32: no split accesses) */
    cur16 = NULL;
    const int events16 = !dense && (N <= 256 || ln->syn.W16) && max_sp * ln->syn.qkmax * 127 < 32768;
    if (ln->syn.W16 && !events16)
      for (int tt = 0; tt < nb; tt++) spikes_from_list(s->chain_lists + (int64_t)tt * (R + 16), s->chain_counts[tt], R, S + (int64_t)tt * R);
    int dense_steps = dense ? nb : 0;
    if (events16) {
      int16_t *I = s->chain_i16;
      if (ln->syn.W16) {
        int32_t listed[32]; /* the steps' event counts, 0 where the step runs dense */
        for (int tt = 0; tt < nb; tt++) {
          const int d = s->path == SF_PATH_DENSE || (s->path == SF_PATH_AUTO && s->chain_counts[tt] >= LISTS_MAX_ACTIVITY * (double)R);
          listed[tt] = d ? 0 : s->chain_counts[tt];
          dense_steps += d;
        }
        sf_q8_events_lists(s->chain_lists, listed, nb, R, ln->syn.W16, N, I, N);
        for (int tt = 0; tt < nb && dense_steps; tt++) {
          if (listed[tt] || !s->chain_counts[tt]) continue;
          /* a dense step: its int32 sums (no bias) fit int16 like the events' */
          int8_t *x = S + (int64_t)tt * R;
          int32_t *a = Acc + (int64_t)tt * N;
          spikes_from_list(s->chain_lists + (int64_t)tt * (R + 16), s->chain_counts[tt], R, x);
          memset(a, 0, sizeof(int32_t) * (size_t)N);
          sf_q8_dense_row(x, R, ln->syn.Wq, ln->syn.Wp, ln->syn.colsum, N, NULL, a);
          for (int64_t c = 0; c < N; c++) I[(int64_t)tt * N + c] = (int16_t)a[c];
        }
      } else {
        memset(I, 0, sizeof(int16_t) * (size_t)(nb * N));
        if (!binary) sf_q8_step_bits(S, nb, R, s->chain_bits);
        sf_q8_events_steps(S, nb, R, s->chain_bits, ln->syn.Wq, N, I, N);
      }
      const node_state *next = j + 2 < n ? &s->ns[s->chain[j + 2]] : NULL;
      if (next && next->nrn.K == 1 && next->nrn.leak == 1.0f) {
        /* binary neurons next: they add the bias themselves */
        cur16 = I;
        cur_bias = ln->syn.bq;
      } else {
        const int32_t *bq = ln->syn.bq;
        for (int tt = 0; tt < nb; tt++) {
          int32_t *a = Acc + (int64_t)tt * N;
          const int16_t *i16 = I + (int64_t)tt * N;
#pragma omp simd
          for (int64_t c = 0; c < N; c++) a[c] = bq[c] + i16[c];
        }
      }
    } else if (dense && N <= 16) {
      /* a class output: the block's steps are the rows of one product (each weight load serves 8 steps) */
      sf_q8_dense_rows(S, nb, R, ln->syn.Wq, ln->syn.Wp, ln->syn.colsum, N, ln->syn.bq, Acc);
    } else {
      for (int tt = 0; tt < nb; tt++) {
        const int8_t *x = S + (int64_t)tt * R;
        int32_t *a = Acc + (int64_t)tt * N;
        if (dense) sf_q8_dense_row(x, R, ln->syn.Wq, ln->syn.Wp, ln->syn.colsum, N, ln->syn.bq, a);
        else sf_q8_events16_row(x, R, ln->syn.Wq, N, ln->syn.qkmax, ln->syn.bq, a, s->chain_idx);
      }
    }
    tally[j + 1].dense_rows += dense_steps;
    tally[j + 1].row_steps += nb;
    if (j + 2 == n) {
      const sf_node *nd = &g->nodes[s->chain[j + 1]];
      const float *b = nd->n_in > 2 && nd->in[2] >= 0 ? g->values[nd->in[2]].t.data : NULL;
      for (int tt = 0; tt < nb; tt++) sf_q8_dequantise(Acc + (int64_t)tt * N, 1, N, ln->syn.wscale, b, s->chain_y + ((int64_t)tt * rows + r) * N);
    }
    const uint64_t c2 = ticks();
    tally[j].timed += (double)(c1 - c0);
    tally[j + 1].timed += (double)(c2 - c1);
  }
}

sf_status sf_chain_run(sf_snn_session *s, int T, sf_snn_decode_fn decode_step, sf_snn_step_fn cb, void *user) {
  const sf_graph *g = s->g;
  const int n = s->n_chain;
  const int64_t rows = numel_of(g, g->nodes[s->chain[0]].out[0]) / s->ns[s->chain[1]].syn.qK;
  const int64_t n_out = s->ns[s->chain[n - 1]].syn.qN;
  chain_tally tally[CHAIN_MAX_NODES];
  memset(tally, 0, sizeof tally);
  const double start = sf_snn_now();
  double decode_seconds = 0;
  int stop = 0;
  for (int t0 = 1; t0 <= T && !stop; t0 += (int)s->chain_block) {
    const int nb = t0 + (int)s->chain_block - 1 < T ? (int)s->chain_block : T - t0 + 1;
    for (int64_t r = 0; r < rows; r++) chain_sample(s, r, t0, nb, tally, s->step_sops, s->step_nupd);
    double d0 = sf_snn_now();
    for (int t = t0; t < t0 + nb && !stop; t++) stop = decode_step(s, t, s->chain_y + (int64_t)(t - t0) * rows * n_out, cb, user);
    decode_seconds += sf_snn_now() - d0;
  }
  /* the chain's measured time goes to its layers in the proportions of their ticks */
  const double total = sf_snn_now() - start - decode_seconds;
  double timed = 0;
  for (int j = 0; j < n; j++) timed += tally[j].timed;
  for (int j = 0; j < n; j++) {
    node_state *ns = &s->ns[s->chain[j]];
    ns->st.time_major = 1;
    ns->st.seconds += timed > 0 ? total * tally[j].timed / timed : total / n;
    if (ns->m == M_NEURON) {
      ns->st.spikes += tally[j].spikes;
      ns->st.neuron_updates += (double)tally[j + 1].row_steps * (double)s->ns[s->chain[j + 1]].syn.qK;
    } else {
      ns->st.events += tally[j].events;
      ns->st.sops += tally[j].sops;
      /* layer-steps by path: sample-steps over samples */
      int64_t dense_steps = rows ? (tally[j].dense_rows + rows / 2) / rows : 0, steps = rows ? tally[j].row_steps / rows : 0;
      ns->syn.steps_dense += dense_steps;
      ns->syn.steps_event += steps - dense_steps;
    }
  }
  s->ns[s->chain[n - 1]].st.seconds += decode_seconds;
  return SF_OK;
}

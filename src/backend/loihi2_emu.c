/* The bit-accurate emulator of a lowered Loihi 2 network (loihi2_net.h): Lava's Dense and CUBA LIF
 * fixed-point process models, one sample at a time through all its steps (its state stays in
 * cache), samples spread over threads. Integer arithmetic only; the spikes do not depend on the
 * thread count.
 *
 * Step t of one sample (Lava's LoihiProtocol order):
 *   every layer l: a = round(x 2^E) (l = 0) or buf_l (Dense sum of layer l-1's spikes at t-1);
 *                  the LIF update (below) gives s_l(t)
 *   every Dense l: buf_l = sum over k with s_(l-1)(t) = 1 of w_l[k][:]   (weight_exp 0)
 * Faults: a dead neuron never spikes, a stuck one spikes at every step, a spike message to a
 * core is lost with probability fault_drop (its targets on that core miss it). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend/loihi2_kernels.h"
#include "backend/loihi2_net.h"
#include "core/util.h"
#include "spikeformer/threads.h"

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

/* a uniform number in [0, 1) from a counter: the same for any thread schedule */
static double hash_unit(uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
  uint64_t h = mix64(seed ^ mix64(a + 0x9e3779b97f4a7c15ULL * (b + 1) + mix64(c + 7)));
  return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

static uint64_t fnv_i32(uint64_t h, int32_t v) {
  uint32_t u = (uint32_t)v;
  for (int i = 0; i < 4; i++) {
    h ^= (u >> (8 * i)) & 0xff;
    h *= FNV_PRIME;
  }
  return h;
}

void l2_emu_free(l2_emu *e) {
  if (!e) return;
  free(e->layer);
  free(e->step_sops);
  free(e->step_updates);
  free(e->fault);
  free(e->masked);
  for (int l = 0; e->bias12 && l < e->net->n_layers; l++) free(e->bias12[l]);
  free(e->bias12);
  memset(e, 0, sizeof *e);
}

sf_status l2_emu_init(l2_emu *e, const l2_net *n, const l2_map *m, const sf_loihi2_options *o) {
  memset(e, 0, sizeof *e);
  e->net = n;
  e->map = m;
  e->o = o;
  const int64_t total = m->layer_offset[n->n_layers];
  if (!(e->layer = calloc((size_t)n->n_layers, sizeof(l2_counts))) || !(e->fault = calloc((size_t)total, 1))) {
    l2_emu_free(e);
    return sf_error(SF_ERR_NOMEM, "out of memory");
  }
  if (!(e->bias12 = calloc((size_t)n->n_layers, sizeof(int32_t *)))) {
    l2_emu_free(e);
    return sf_error(SF_ERR_NOMEM, "out of memory");
  }
  for (int l = 0; l < n->n_layers; l++) {
    const l2_layer *L = &n->layers[l];
    if (L->neuron != L2_SIGMA_DELTA || !L->bias) continue;
    if (!(e->bias12[l] = malloc(sizeof(int32_t) * (size_t)L->n))) {
      l2_emu_free(e);
      return sf_error(SF_ERR_NOMEM, "out of memory");
    }
    for (int64_t j = 0; j < L->n; j++) e->bias12[l][j] = (int32_t)((uint32_t)L->bias[j] << L2_SDNN_SHIFT);
  }
  e->has_faults = o->fault_dead > 0 || o->fault_stuck > 0;
  if (e->has_faults)
    for (int64_t i = 0; i < total; i++) {
      double r = hash_unit(o->fault_seed, 1, (uint64_t)i, 0);
      e->fault[i] = r < o->fault_dead ? 1 : r < o->fault_dead + o->fault_stuck ? 2 : 0;
    }
  return SF_OK;
}

/* the messages one spike of a neuron on core c of layer l sends: to each core holding layer l+1 */
typedef struct {
  int64_t intra, inter_core, inter_chip;
} fanout;

static void fanout_of(const l2_emu *e, int l, int64_t core, fanout *f) {
  memset(f, 0, sizeof *f);
  const l2_map *m = e->map;
  if (l + 1 >= e->net->n_layers) return;
  const int cpc = e->o->cores_per_chip > 0 ? e->o->cores_per_chip : 128;
  const int64_t a = m->core_of[m->layer_offset[l + 1]], b = m->core_of[m->layer_offset[l + 2] - 1];
  for (int64_t c = a; c <= b; c++) {
    if (c == core) f->intra++;
    else if (m->cores[c].global_core / cpc == m->cores[core].global_core / cpc) f->inter_core++;
    else f->inter_chip++;
  }
}

typedef struct {
  int32_t *u, *v, *buf;
  uint8_t *s;                     /* LIF: binary spikes */
  int32_t *sigma, *act, *res, *g; /* sigma-delta state, graded spikes */
} layer_state;

static int64_t lif_exact(const l2_layer *Ly, const int32_t *a, layer_state *S, int64_t vth, l2_counts *cnt) {
  int64_t wrapped = 0, sat = 0;
  const int64_t sp = l2_lif_step(Ly->n, a, Ly->bias, Ly->du, Ly->dv, vth, S->u, S->v, S->s, &wrapped, &sat);
  cnt->wrapped_u += (double)wrapped;
  cnt->saturated_v += (double)sat;
  return sp;
}

/* The same for the common case (loihi2_kernels.c): the current is this step's input only
 * (du = 4095) and the voltage does not leak (dv = 0). Returns 0 (and changes nothing) where that
 * does not hold or an input is large enough to wrap the current: lif_exact runs then. */
static int lif_fast(const l2_layer *Ly, const int32_t *a, layer_state *S, int64_t vth, int64_t *spikes, double *saturated) {
  if (Ly->du != 4095 || Ly->dv != 0) return 0;
  int32_t big = 0;
  for (int64_t j = 0; j < Ly->n; j++) big |= (a[j] >= (1 << 17)) | (a[j] < -(1 << 17));
  if (big) return 0;
  int64_t sat = 0;
  *spikes = l2_lif_step_fast(Ly->n, a, Ly->bias, (int32_t)vth, S->u, S->v, S->s, &sat);
  *saturated += (double)sat;
  return 1;
}

static sf_status run_impl(l2_emu *e, const float *x, int64_t B, int T, float *readout, uint64_t *hash, int64_t *final_ints, uint8_t *always);

sf_status l2_emu_run(l2_emu *e, const float *x, int64_t B, int T, float *readout, uint64_t *hash, int64_t *final_ints) {
  return run_impl(e, x, B, T, readout, hash, final_ints, NULL);
}

sf_status l2_emu_self_test(l2_emu *e, const float *x, int64_t n, int T) {
  const l2_net *net = e->net;
  const int64_t total = e->map->layer_offset[net->n_layers], in = net->input_n;
  float *xs = calloc((size_t)((n + 1) * in), sizeof(float)); /* sample 0: blank */
  uint8_t *always = malloc((size_t)total);
  l2_counts *keep = malloc(sizeof(l2_counts) * (size_t)net->n_layers);
  double *ks = malloc(sizeof(double) * (size_t)(2 * (e->T_cap > 0 ? e->T_cap : 1)));
  if (!xs || !always || !keep || !ks) { free(xs); free(always); free(keep); free(ks); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  memcpy(xs + in, x, sizeof(float) * (size_t)(n * in));
  memset(always, 1, (size_t)total);
  memcpy(keep, e->layer, sizeof(l2_counts) * (size_t)net->n_layers);
  const int cap = e->T_cap;
  for (int t = 0; t < cap; t++) { ks[t] = e->step_sops[t]; ks[cap + t] = e->step_updates[t]; }
  const double samples = e->samples;
  sf_status st = run_impl(e, xs, n + 1, T, NULL, NULL, NULL, always);
  memcpy(e->layer, keep, sizeof(l2_counts) * (size_t)net->n_layers);
  for (int t = 0; t < e->T_cap; t++) {
    e->step_sops[t] = t < cap ? ks[t] : 0;
    e->step_updates[t] = t < cap ? ks[cap + t] : 0;
  }
  e->samples = samples;
  if (!st) {
    const int64_t last = e->map->layer_offset[net->n_layers - 1];
    e->n_masked = 0;
    for (int64_t j = 0; j < last; j++) e->n_masked += always[j];
    if (e->n_masked) {
      free(e->masked);
      e->masked = always;
      memset(e->masked + last, 0, (size_t)(total - last));
      always = NULL;
    }
  }
  e->self_tested = 1;
  free(xs); free(always); free(keep); free(ks);
  return st;
}

static sf_status run_impl(l2_emu *e, const float *x, int64_t B, int T, float *readout, uint64_t *hash, int64_t *final_ints, uint8_t *always) {
  const l2_net *n = e->net;
  const l2_map *m = e->map;
  const int L = n->n_layers;
  const l2_layer *out = &n->layers[L - 1];
  const int sdnn = n->family == L2_FAMILY_SDNN;
  if (T > e->T_cap) {
    double *a = realloc(e->step_sops, sizeof(double) * (size_t)T), *b2 = a ? realloc(e->step_updates, sizeof(double) * (size_t)T) : NULL;
    if (a) e->step_sops = a;
    if (!a || !b2) return sf_error(SF_ERR_NOMEM, "out of memory");
    e->step_updates = b2;
    for (int t = e->T_cap; t < T; t++) e->step_sops[t] = e->step_updates[t] = 0;
    e->T_cap = T;
  }
  /* per core: the messages of one spike */
  fanout *fo = malloc(sizeof(fanout) * (size_t)(m->n_cores ? m->n_cores : 1));
  if (!fo) return sf_error(SF_ERR_NOMEM, "out of memory");
  for (int c = 0; c < m->n_cores; c++) fanout_of(e, m->cores[c].layer, c, &fo[c]);
  int64_t per_state = 0;
  for (int l = 0; l < L; l++) per_state += n->layers[l].n;
  const int nth = sf_threads_get() > 0 ? sf_threads_get() : 1;
  const int threads = B < nth ? (int)(B > 0 ? B : 1) : nth;
  const double drop = e->o->fault_drop;
  const uint64_t seed = e->o->fault_seed;
  int failed = 0;
  /* per-thread counters, merged after */
  /* rows padded apart so that threads do not share cache lines */
  const size_t crow = (size_t)L + 8, trow = (size_t)T * 2 + 16;
  l2_counts *tc = calloc((size_t)threads * crow, sizeof(l2_counts));
  double *ts = calloc((size_t)threads * trow, sizeof(double));
  if (!tc || !ts) { free(fo); free(tc); free(ts); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  /* netx group index of each layer (a flatten group before a dense layer counts) */
  int32_t gidx[64];
  if (L > 64) { free(fo); free(tc); free(ts); return sf_error(SF_ERR_UNSUPPORTED, "loihi2: %d layers; the emulator runs up to 64", L); }
  for (int l = 0, g = 0; l < L; l++) {
    if (n->layers[l].flatten_before) g++;
    gidx[l] = g++;
  }
#pragma omp parallel num_threads(threads)
  {
    const int tid = omp_get_thread_num();
    l2_counts *cnt = tc + (size_t)tid * crow;
    double *ssops = ts + (size_t)tid * trow, *supd = ssops + T;
    layer_state *ls = calloc((size_t)L, sizeof(layer_state));
    int32_t *mem = malloc(sizeof(int32_t) * (size_t)(per_state * 8 + n->input_n));
    uint8_t *sp = malloc((size_t)per_state);
    int64_t *list = malloc(sizeof(int64_t) * (size_t)per_state);
    /* the self-test: per neuron, spikes in this sample; and whether it spiked at every step so far */
    int32_t *scount = always ? calloc((size_t)per_state, sizeof(int32_t)) : NULL;
    uint8_t *alw = always ? malloc((size_t)per_state) : NULL;
    if (alw) memset(alw, 1, (size_t)per_state);
    int ok = ls && mem && sp && list && (!always || (scount && alw));
    if (!ok) {
#pragma omp atomic write
      failed = 1;
    }
    int32_t *ain = ok ? mem + per_state * 8 : NULL;
    int32_t *vals = ok ? mem + per_state * 7 : NULL; /* the graded values of a Dense layer's spiking inputs */
    if (ok)
      for (int l = 0, off = 0; l < L; off += (int)n->layers[l].n, l++) {
        ls[l].u = mem + off;
        ls[l].v = mem + per_state + off;
        ls[l].buf = mem + 2 * per_state + off;
        ls[l].sigma = mem + 4 * per_state + off;
        ls[l].act = mem + 5 * per_state + off;
        ls[l].res = mem + 6 * per_state + off;
        ls[l].g = mem + 3 * per_state + off;
        ls[l].s = sp + off;
      }
#pragma omp for schedule(dynamic, 4)
    for (int64_t b = 0; b < B; b++) {
      if (!ok) continue;
      memset(mem, 0, sizeof(int32_t) * (size_t)(per_state * 7));
      const float *xb = x + b * n->input_n;
      for (int64_t i = 0; i < n->input_n; i++) {
        const double a = (double)xb[i] * (double)(1 << n->input_exp);
        ain[i] = (int32_t)(a < 0 ? -floor(-a + 0.5) : floor(a + 0.5));
      }
      uint64_t h = FNV_OFFSET;
      int64_t *counts_out = NULL;
      int64_t cum[4096];
      if (out->readout == L2_READ_SPIKES || out->readout == L2_READ_SIGMA) {
        memset(cum, 0, sizeof cum);
        counts_out = cum;
      }
      for (int t = 1; t <= T; t++) {
        /* neurons of every layer, on the input sent at this step */
        for (int l = 0; l < L; l++) {
          const l2_layer *Ly = &n->layers[l];
          layer_state *S = &ls[l];
          const int32_t *a = l == 0 ? ain : S->buf;
          const int64_t vth = (int64_t)Ly->vth << 6, off = m->layer_offset[l];
          const uint8_t *fault = e->fault + off;
          int64_t spikes = 0;
          if (sdnn) {
            const int32_t v12 = (int32_t)((uint32_t)Ly->vth << L2_SDNN_SHIFT);
            spikes = Ly->neuron == L2_DELTA ? l2_delta_step(Ly->n, a, v12, S->act, S->res, S->g)
                     : Ly->neuron == L2_SIGMA ? l2_sigma_step(Ly->n, a, S->sigma, S->g)
                                              : l2_sigma_delta_step(Ly->n, a, e->bias12[l], v12, S->sigma, S->act, S->res, S->g);
            if (e->has_faults) {
              spikes = 0;
              for (int64_t j = 0; j < Ly->n; j++) {
                if (fault[j]) S->g[j] = fault[j] == 2 ? (int32_t)((uint32_t)v12 >> L2_SDNN_STATE_EXP) : 0;
                spikes += S->g[j] != 0;
              }
            }
          } else {
            if (!lif_fast(Ly, a, S, vth, &spikes, &cnt[l].saturated_v)) spikes = lif_exact(Ly, a, S, vth, &cnt[l]);
            if (e->has_faults) {
              spikes = 0;
              for (int64_t j = 0; j < Ly->n; j++) {
                if (fault[j]) {
                  if (fault[j] == 2) S->v[j] = 0;
                  S->s[j] = fault[j] == 2;
                }
                spikes += S->s[j];
              }
            }
          }
          cnt[l].neuron_updates += (double)Ly->n;
          supd[t - 1] += (double)Ly->n;
          cnt[l].spikes += (double)spikes;
          if (scount)
            for (int64_t j = 0; j < Ly->n; j++) scount[off + j] += sdnn ? S->g[j] != 0 : S->s[j];
          if (spikes && (hash || counts_out)) {
            for (int64_t j = 0; j < Ly->n; j++) {
              const int32_t sv = sdnn ? S->g[j] : S->s[j];
              if (!sv) continue;
              if (hash) {
                h = fnv_i32(h, t);
                h = fnv_i32(h, gidx[l]);
                h = fnv_i32(h, (int32_t)j);
                h = fnv_i32(h, sv);
              }
              if (counts_out && l == L - 1 && j < 4096) counts_out[j] += sv;
            }
          }
        }
        /* Dense accumulation of this step's spikes, delivered at the next step */
        for (int l = 1; l < L; l++) {
          const l2_layer *Ly = &n->layers[l];
          const layer_state *P = &ls[l - 1];
          int32_t *buf = ls[l].buf;
          const int64_t N = Ly->n, K = Ly->n_in, poff = m->layer_offset[l - 1], noff = m->layer_offset[l];
          int64_t ev = 0, nk = 0, mi = 0, mc = 0, mx = 0;
          if (sdnn) {
            for (int64_t k = 0; k < K; k++)
              if (P->g[k]) {
                vals[nk] = P->g[k];
                list[nk++] = k;
              }
          } else {
            nk = l2_spike_list(P->s, K, list);
          }
          if (e->masked) { /* spikes of neurons the self-test found stuck go nowhere */
            int64_t kept = 0;
            for (int64_t i = 0; i < nk; i++)
              if (!e->masked[poff + list[i]]) {
                if (sdnn) vals[kept] = vals[i];
                list[kept++] = list[i];
              }
            nk = kept;
          }
          /* messages: the spikes of each source core (a contiguous range of the list) times its fan-out */
          for (int64_t i = 0; i < nk;) {
            const int64_t core = m->core_of[poff + list[i]], end = m->cores[core].n1 - poff;
            int64_t i1 = i;
            while (i1 < nk && list[i1] < end) i1++;
            const fanout *f = &fo[core];
            mi += (i1 - i) * f->intra;
            mc += (i1 - i) * f->inter_core;
            mx += (i1 - i) * f->inter_chip;
            i = i1;
          }
          cnt[l - 1].messages_core += (double)mi;
          cnt[l - 1].messages_inter_core += (double)mc;
          cnt[l - 1].messages_inter_chip += (double)mx;
          if (drop > 0 && Ly->kind != L2_CONV) {
            /* each destination core receives a message or not */
            memset(buf, 0, sizeof(int32_t) * (size_t)N);
            for (int64_t i = 0; i < nk; i++) {
              const int64_t k = list[i];
              const int16_t *w = Ly->w + k * N;
              for (int64_t j = 0; j < N;) {
                const int64_t c = m->core_of[noff + j];
                int64_t j1 = j;
                while (j1 < N && m->core_of[noff + j1] == c) j1++;
                if (hash_unit(seed, ((uint64_t)b << 20) ^ (uint64_t)t, (uint64_t)(poff + k), (uint64_t)c) >= drop) {
                  const uint32_t sv = sdnn ? (uint32_t)vals[i] : 1u;
                  for (int64_t q = j; q < j1; q++) buf[q] = (int32_t)((uint32_t)buf[q] + (uint32_t)(int32_t)w[q] * sv);
                  ev += j1 - j;
                }
                j = j1;
              }
            }
          } else if (Ly->kind == L2_CONV) {
            /* Lava's Conv: the synapses of each input that spiked, the sums wrapped to 24 bits */
            memset(buf, 0, sizeof(int32_t) * (size_t)N);
            for (int64_t i = 0; i < nk; i++) {
              const int64_t k = list[i];
              for (int64_t q = Ly->row[k]; q < Ly->row[k + 1]; q++) buf[Ly->col[q]] += Ly->val[q];
              ev += Ly->row[k + 1] - Ly->row[k];
            }
            for (int64_t j = 0; j < N; j++) buf[j] = (int32_t)((((int64_t)buf[j] + (1 << 23)) & ((1 << 24) - 1)) - (1 << 23));
          } else {
            if (sdnn) l2_dense_graded(Ly->w, N, list, vals, nk, buf);
            else l2_dense_accumulate(Ly->w, N, list, nk, buf);
            ev = nk * N;
          }
          cnt[l].sops += (double)ev;
          ssops[t - 1] += (double)ev;
        }
        cnt[0].host_in += (double)n->input_n;
        if (readout) {
          float *r = readout + ((size_t)b * (size_t)T + (size_t)(t - 1)) * (size_t)out->n;
          if (out->readout == L2_READ_VOLTAGE)
            for (int64_t j = 0; j < out->n; j++) r[j] = (float)ls[L - 1].v[j];
          else
            for (int64_t j = 0; j < out->n; j++) r[j] = (float)(j < 4096 ? cum[j] : 0);
        }
      }
      cnt[L - 1].host_out += out->readout == L2_READ_VOLTAGE ? (double)out->n : cnt[L - 1].spikes;
      if (hash) hash[b] = h;
      if (scount)
        for (int64_t j = 0; j < per_state; j++) {
          alw[j] &= scount[j] == T;
          scount[j] = 0;
        }
      if (final_ints)
        for (int64_t j = 0; j < out->n; j++) final_ints[b * out->n + j] = out->readout == L2_READ_VOLTAGE ? ls[L - 1].v[j] : (j < 4096 ? cum[j] : 0);
    }
    free(ls);
    free(mem);
    free(sp);
    free(list);
    if (always && alw) {
#pragma omp critical(l2_self_test)
      for (int64_t j = 0; j < per_state; j++) always[j] &= alw[j];
    }
    free(scount);
    free(alw);
  }
  free(fo);
  if (failed) { free(tc); free(ts); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  for (int k = 0; k < threads; k++) {
    for (int l = 0; l < L; l++) {
      const l2_counts *a = &tc[(size_t)k * crow + (size_t)l];
      l2_counts *z = &e->layer[l];
      z->spikes += a->spikes; z->messages_core += a->messages_core; z->messages_inter_core += a->messages_inter_core;
      z->messages_inter_chip += a->messages_inter_chip; z->host_in += a->host_in; z->host_out += a->host_out;
      z->sops += a->sops; z->neuron_updates += a->neuron_updates; z->saturated_v += a->saturated_v; z->wrapped_u += a->wrapped_u;
    }
    for (int t = 0; t < T; t++) {
      e->step_sops[t] += ts[(size_t)k * trow + (size_t)t];
      e->step_updates[t] += ts[(size_t)k * trow + (size_t)T + (size_t)t];
    }
  }
  e->samples += (double)B;
  free(tc);
  free(ts);
  return SF_OK;
}

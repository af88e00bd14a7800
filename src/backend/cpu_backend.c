/* CPU backend: the time-stepped spiking runtime (src/snn/) with event-driven, bit-packed and
 * dense synaptic paths. A batch is split into shards; a thread takes a shard and a free spiking
 * session of the shard's size and runs it through all T steps (no synchronisation inside a
 * timestep, and a shard's state stays in its core's caches). The shard size follows from the
 * model's state per sample, never from the thread count, so the spikes do not depend on the
 * thread count. A batch of one shard runs on one session whose loops use the threads instead. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend_impl.h"
#include "convert/convert_internal.h"
#include "core/util.h"
#include "snn/snn_session.h"
#include "snn/spike_kernels.h"
#include "snn/spike_kernels_q8.h"
#include "spikeformer/backend_cpu.h"
#include "spikeformer/threads.h"

/* a shard's state: about what a core's share of the last-level cache holds, in 16..128 samples (at
 * least two shards in a batch of 256, so that two threads need no barrier) */
#define SHARD_BYTES (32LL << 20)
#define MAX_SHARDED_OUTPUTS 1024 /* decoded outputs per sample (classes) */
#define CHAIN_SHARD_ROWS 32

typedef struct {
  const sf_snn_model *m;
  sf_backend_options o;
  sf_cpu_options cpu;          /* o.target points here */
  int64_t per_sample, out_per; /* state bytes and decoded outputs per sample */
  /* lowered once: a one-sample session holding the int8 weight tables every deployed session shares */
  sf_graph *g1;
  sf_snn_session *weights;
} cpu_compiled;

typedef struct {
  int64_t batch, rows, tail;  /* shard size, and the last shard's if smaller (0: none smaller) */
  int W;                      /* sessions of `rows` samples: as many as shards of that size can run at once */
  int threads;                /* threads a batch runs on: at most one per shard */
  unsigned char *busy;        /* [W]: 1 while a thread runs a shard on that session */
  sf_graph *g[2];             /* the spiking graph of a full shard and of the tail shard (read only:
                                 the sessions of a size share one) */
  sf_snn_session **s;         /* [W + 1]: full-shard sessions, taken while free; the last serves the tail shard */
  float *steps;               /* the shards' decoded outputs of every step, kept between runs */
  size_t steps_cap;           /* ... its floats */
  omp_lock_t lock;            /* guards busy[] */
  int raster_neurons;         /* > 0 until the first execute records the raster on s[0] */
  int raster_recorded;        /* s[0] holds the raster of sample 0 */
  const cpu_compiled *c;
} cpu_deployed;

void sf_cpu_options_default(sf_cpu_options *o) {
  memset(o, 0, sizeof *o);
  o->path = SF_PATH_AUTO;
  o->event_max_activity = 0.2f;
  o->quant = SF_QUANT_FLOAT;
  o->schedule = SF_SCHEDULE_AUTO;
}

static void cpu_target_default(void *t) { sf_cpu_options_default(t); }

static const sf_backend_key cpu_keys[] = {
    {"path", "synaptic path of spike-fed layers: auto (default), dense, event or bitpacked; all give the same spikes"},
    {"event_max_activity", "auto path: event-driven below this fraction of active inputs (default 0.2)"},
    {"quant", "float (default) or int8: int8 weights with int32 accumulators and membranes"},
    {"schedule", "auto (default: feed-forward int8 chains run time-major) or step (always step-major)"},
    {NULL, NULL}};

static sf_status cpu_target_set(void *target, const char *key, const char *value) {
  sf_cpu_options *o = target;
  if (!strcmp(key, "path")) {
    if (sf_spike_path_parse(value, &o->path)) return sf_error(SF_ERR_ARG, "cpu backend: path takes auto, dense, event or bitpacked, not '%s'", value);
  } else if (!strcmp(key, "quant")) {
    if (sf_quant_parse(value, &o->quant)) return sf_error(SF_ERR_ARG, "cpu backend: quant takes float or int8, not '%s'", value);
  } else if (!strcmp(key, "schedule")) {
    if (sf_schedule_parse(value, &o->schedule)) return sf_error(SF_ERR_ARG, "cpu backend: schedule takes auto or step, not '%s'", value);
  } else if (!strcmp(key, "event_max_activity")) {
    char *end;
    double x = strtod(value, &end);
    if (end == value || *end || !(x > 0 && x <= 1)) return sf_error(SF_ERR_ARG, "cpu backend: event_max_activity takes a number in (0, 1], not '%s'", value);
    o->event_max_activity = (float)x;
  }
  return SF_OK;
}

static char *cpu_target_describe(const void *target) {
  const sf_cpu_options *o = target;
  return sf_strfmt("path=%s event_max_activity=%g quant=%s schedule=%s", sf_spike_path_name(o->path), (double)o->event_max_activity,
                   sf_quant_name(o->quant), sf_schedule_name(o->schedule));
}

/* The time-stepped runtime runs every node a converted graph holds. */
static int cpu_supports_node(const sf_graph *g, int i, const char **why) {
  if (g->nodes[i].mode == SF_MODE_NONE) {
    *why = "the node has no spiking mode (not a converted graph)";
    return 0;
  }
  return 1;
}

static void cpu_free_compiled(void *p) {
  cpu_compiled *c = p;
  if (!c) return;
  sf_snn_session_free(c->weights);
  sf_graph_free(c->g1);
  free(c);
}

static sf_status cpu_compile(const sf_backend *b, const sf_snn_model *m, const sf_backend_options *o, void **state) {
  (void)b;
  cpu_compiled *c = calloc(1, sizeof *c);
  if (!c) return sf_error(SF_ERR_NOMEM, "out of memory");
  c->m = m;
  c->o = *o;
  c->cpu = *(const sf_cpu_options *)o->target;
  c->o.target = &c->cpu;
  /* validate (the model must build: every node converted), measure the state per sample, and
   * lower the weights to int8 once for every session deployed later */
  sf_status st = sf_snn_model_build(m, 1, &c->g1);
  if (!st) {
    c->per_sample = sf_snn_state_bytes(c->g1);
    c->out_per = sf_tensor_numel(&c->g1->values[c->g1->outputs[0]].t);
  }
  for (int i = 0; !st && i < c->g1->n_nodes; i++) {
    const char *why;
    if (!cpu_supports_node(c->g1, i, &why)) st = sf_error(SF_ERR_UNSUPPORTED, "cpu backend: node '%s' (%s): %s", c->g1->nodes[i].name, c->g1->nodes[i].op_type, why);
  }
  if (!st && c->cpu.quant != SF_QUANT_FLOAT) {
    sf_spiking_config cfg = sf_snn_model_options(m)->snn;
    st = sf_snn_session_create(c->g1, &cfg, o->decoder, &c->weights);
    if (!st) st = sf_snn_set_quant(c->weights, c->cpu.quant);
  }
  if (st) { cpu_free_compiled(c); return st; }
  *state = c;
  return SF_OK;
}

static void cpu_free_deployed(void *p) {
  cpu_deployed *d = p;
  if (!d) return;
  for (int k = 0; d->s && k <= d->W; k++) sf_snn_session_free(d->s[k]);
  free(d->busy);
  omp_destroy_lock(&d->lock);
  sf_graph_free(d->g[0]);
  sf_graph_free(d->g[1]);
  free(d->s);
  free(d->steps);
  free(d);
}

static sf_status session_for(const cpu_compiled *c, const sf_graph *g, sf_snn_session **s) {
  sf_spiking_config cfg = sf_snn_model_options(c->m)->snn;
  cfg.spike_encoding = c->o.encoding;
  sf_status st = sf_snn_session_create(g, &cfg, c->o.decoder, s);
  if (!st) st = sf_snn_set_quant_shared(*s, c->cpu.quant, c->weights);
  if (!st) sf_snn_set_path(*s, c->cpu.path, c->cpu.event_max_activity);
  if (!st) sf_snn_set_schedule(*s, c->cpu.schedule);
  return st;
}

static sf_status cpu_deploy(void *compiled, int64_t batch, void **state) {
  cpu_compiled *c = compiled;
  cpu_deployed *d = calloc(1, sizeof *d);
  if (!d) return sf_error(SF_ERR_NOMEM, "out of memory");
  omp_init_lock(&d->lock);
  d->c = c;
  d->raster_neurons = c->o.raster_neurons;
  /* shard size: a power of two from the model's state per sample */
  sf_status st = SF_OK;
  int64_t per_sample = c->per_sample, shard_rows = 16, out_per = c->out_per;
  while (shard_rows < 128 && 2 * shard_rows * per_sample <= SHARD_BYTES) shard_rows *= 2;
  /* a time-major chain holds one sample's state in L1 whatever the shard: small shards let a core
   * that runs faster (a quieter neighbour) take more of them */
  if (c->cpu.schedule == SF_SCHEDULE_AUTO && c->weights && sf_snn_time_major(c->weights) && shard_rows > CHAIN_SHARD_ROWS) shard_rows = CHAIN_SHARD_ROWS;
  /* rate coding draws one random stream per session, so its batch stays whole; so does a model
   * with wide outputs (the shards' decoded outputs are held for all T steps: T x batch x outputs) */
  int whole = c->o.encoding == SF_ENCODE_RATE || batch <= shard_rows || out_per > MAX_SHARDED_OUTPUTS;
  int64_t shards = whole ? 1 : (batch + shard_rows - 1) / shard_rows;
  d->batch = batch;
  d->rows = whole ? batch : shard_rows;
  d->tail = whole || batch % shard_rows == 0 ? 0 : batch % shard_rows;
  int64_t full = d->tail ? shards - 1 : shards;
  d->W = sf_threads_get() < full ? sf_threads_get() : (int)full;
  if (d->W < 1) d->W = 1;
  d->threads = sf_threads_get() < shards ? sf_threads_get() : (int)shards;
  if (d->threads < 1) d->threads = 1;
  if (!(d->s = calloc((size_t)d->W + 1, sizeof(sf_snn_session *))) || !(d->busy = calloc((size_t)d->W, 1))) {
    cpu_free_deployed(d);
    return sf_error(SF_ERR_NOMEM, "out of memory");
  }
  /* one graph per shard size, then the sessions on them (state, int8 weights) side by side */
  const int n_graphs = d->tail ? 2 : 1, n_sess = d->W + (d->tail ? 1 : 0);
  sf_status *sts = calloc((size_t)n_sess, sizeof *sts);
  char *msgs = calloc((size_t)n_sess, 512); /* a failing thread's message (messages are per thread) */
  if (!sts || !msgs) { free(sts); free(msgs); cpu_free_deployed(d); return sf_error(SF_ERR_NOMEM, "out of memory"); }
#pragma omp parallel for num_threads(n_graphs)
  for (int k = 0; k < n_graphs; k++)
    if ((sts[k] = sf_snn_model_build(c->m, k ? d->tail : d->rows, &d->g[k]))) snprintf(msgs + 512 * k, 512, "%s", sf_last_error());
  int bad = -1;
  for (int k = 0; k < n_graphs && bad < 0; k++) if (sts[k]) bad = k;
  if (bad < 0) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(d->W)
    for (int k = 0; k < n_sess; k++)
      if ((sts[k] = session_for(c, d->g[k < d->W ? 0 : 1], &d->s[k]))) snprintf(msgs + 512 * k, 512, "%s", sf_last_error());
    for (int k = 0; k < n_sess && bad < 0; k++) if (sts[k]) bad = k;
  }
  if (bad >= 0) st = sf_error(sts[bad], "%s", msgs + 512 * bad);
  free(sts);
  free(msgs);
  if (st) { cpu_free_deployed(d); return st; }
  *state = d;
  return SF_OK;
}

/* one shard's decoded outputs, kept per step into [T][batch * per_sample] */
typedef struct {
  float *buf;
  int64_t stride, offset;
  sf_tensor shape;   /* the decoded tensor's descriptor */
} shard_record;

static int record_step(int t, const sf_tensor *decoded, void *user) {
  shard_record *r = user;
  if (t == 1) r->shape = *decoded;
  memcpy(r->buf + (int64_t)(t - 1) * r->stride + r->offset, decoded->data, sizeof(float) * (size_t)sf_tensor_numel(decoded));
  return 0;
}

/* T steps on input [batch, ...], or (frames) on clips [batch, T, ...] */
static sf_status run_batch(cpu_deployed *d, const sf_tensor *input, int T, int frames, sf_snn_step_fn cb, void *user) {
  /* a raster is recorded by s[0] on the first execute: s[0] runs shard 0 (sample 0) then */
  const int raster_now = d->raster_neurons > 0 && !d->raster_recorded;
  if (raster_now) {
    sf_status rs = sf_snn_record_raster(d->s[0], d->raster_neurons, T);
    if (rs) return rs;
    d->raster_recorded = 1;
  }
  if (d->rows == d->batch) return frames ? sf_snn_run_frames(d->s[0], input, cb, user) : sf_snn_run(d->s[0], input, T, cb, user);
  int64_t B = input->ndim ? input->shape[0] : 1, in_per = sf_tensor_numel(input) / (B ? B : 1);
  if (B != d->batch) return sf_error(SF_ERR_SHAPE, "SNN input has %lld samples; deployed for %lld", (long long)B, (long long)d->batch);
  const sf_graph *g0 = d->g[0];
  int64_t out_per = sf_tensor_numel(&g0->values[g0->outputs[0]].t) / d->rows, shards = (B + d->rows - 1) / d->rows;
  /* decoded outputs of every step (T x batch x classes floats: outputs only, no activations), in a
   * buffer the deployment keeps (no fresh pages to fault in at every batch) */
  const size_t need = cb ? (size_t)(T * B * out_per) : 0;
  if (need > d->steps_cap) {
    float *nb = realloc(d->steps, sizeof(float) * need);
    if (!nb) return sf_error(SF_ERR_NOMEM, "out of memory");
    d->steps = nb;
    d->steps_cap = need;
  }
  float *buf = cb ? d->steps : NULL;
  shard_record *rec = calloc((size_t)shards, sizeof *rec);
  sf_status *sts = calloc((size_t)shards, sizeof *sts);
  int64_t *bad = malloc(sizeof(int64_t) * (size_t)shards); /* per shard: its first non-finite input, or -1 */
  if (!rec || !sts || !bad) { free(rec); free(sts); free(bad); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  if (raster_now) d->busy[0] = 1; /* reserved for shard 0 */
#pragma omp parallel for schedule(dynamic, 1) num_threads(d->threads)
  for (int64_t k = 0; k < shards; k++) {
    int64_t r0 = k * d->rows, nr = B - r0 < d->rows ? B - r0 : d->rows;
    /* a full shard takes a free session of its size (no more of them run at once than there
     * are such sessions), the tail shard the tail's */
    int si = d->W;
    if (raster_now && k == 0) si = 0;
    else if (nr == d->rows) {
      omp_set_lock(&d->lock);
      for (si = 0; d->busy[si]; si++) continue;
      d->busy[si] = 1;
      omp_unset_lock(&d->lock);
    }
    sf_snn_session *s = d->s[si];
    sf_tensor x = *input;
    x.owns_data = 0;
    x.shape[0] = nr;
    x.data = (float *)input->data + r0 * in_per;
    rec[k] = (shard_record){buf, B * out_per, r0 * out_per, {0}};
    /* each shard scans its own inputs for NaN and infinity (in parallel, and into its core's
     * cache for the run); the error, naming the sample within the batch, is raised below */
    bad[k] = sf_tensor_find_nonfinite(&x);
    sts[k] = bad[k] >= 0 ? SF_ERR_VALUE
             : frames ? sf_snn_run_frames(s, &x, cb ? record_step : NULL, &rec[k])
                      : sf_snn_run_checked(s, &x, T, cb ? record_step : NULL, &rec[k]);
    if (si < d->W) {
      omp_set_lock(&d->lock);
      d->busy[si] = 0;
      omp_unset_lock(&d->lock);
    }
  }
  sf_status st = SF_OK;
  for (int64_t k = 0; k < shards && !st; k++) {
    st = bad[k] >= 0 ? sf_snn_input_nonfinite(k * d->rows + bad[k] / in_per, B, bad[k] % in_per) : sts[k];
    if (st && bad[k] >= 0 && frames) sf_error_context(st, "SNN clips (a sample here is a clip, its elements frame after frame)");
  }
  if (!st && cb) {
    /* hand the steps on in order, as one session over the whole batch would */
    sf_tensor out = rec[0].shape;
    out.owns_data = 0;
    out.shape[0] = B;
    for (int t = 1; t <= T; t++) {
      out.data = buf + (int64_t)(t - 1) * B * out_per;
      if (cb(t, &out, user)) break;
    }
  }
  free(rec);
  free(sts);
  free(bad);
  return st;
}

static sf_status cpu_execute(void *deployed, const sf_tensor *input, int T, sf_snn_step_fn cb, void *user) {
  return run_batch(deployed, input, T, 0, cb, user);
}

static sf_status cpu_execute_frames(void *deployed, const sf_tensor *clips, sf_snn_step_fn cb, void *user) {
  cpu_deployed *d = deployed;
  const sf_graph *g = d->g[0];
  const sf_tensor *in = &g->values[g->inputs[0]].t;
  /* [batch, T, the input's shape after the batch] */
  int same = clips->dtype == SF_F32 && in->ndim >= 1 && clips->ndim == in->ndim + 1 && clips->shape[0] == d->batch;
  for (int k = 1; same && k < in->ndim; k++) same = clips->shape[k + 1] == in->shape[k];
  if (!same || clips->shape[1] < 1 || clips->shape[1] > (1 << 20))
    return sf_error(SF_ERR_SHAPE, "SNN clips: expected float32 [batch %lld, T, the input's shape after the batch], T from 1 to 2^20", (long long)d->batch);
  return run_batch(d, clips, (int)clips->shape[1], 1, cb, user);
}

static int n_sessions(const cpu_deployed *d) { return d->W + (d->tail ? 1 : 0); }

static int cpu_profile_count(const void *deployed) { return sf_snn_num_nodes(((const cpu_deployed *)deployed)->s[0]); }

static void cpu_profile(const void *deployed, int i, sf_snn_node_stats *out) {
  const cpu_deployed *d = deployed;
  sf_snn_node_stats_get(d->s[0], i, out);
  for (int k = 1; k < n_sessions(d); k++) {
    sf_snn_node_stats a;
    sf_snn_node_stats_get(d->s[k < d->W ? k : d->W], i, &a);
    sf_snn_node_stats_add(out, &a);
  }
}

static void cpu_profile_step(const void *deployed, int t, double out[4]) {
  const cpu_deployed *d = deployed;
  out[0] = out[1] = out[2] = out[3] = 0;
  for (int k = 0; k < n_sessions(d); k++) {
    double a[4];
    sf_snn_step_counts(d->s[k < d->W ? k : d->W], t, &a[0], &a[1], &a[2], &a[3]);
    for (int j = 0; j < 4; j++) out[j] += a[j];
  }
}

static const int8_t *cpu_raster(const void *deployed, int i, int *T, int *neurons) {
  const cpu_deployed *d = deployed;
  if (!d->raster_recorded || i < 0 || i >= sf_snn_num_nodes(d->s[0])) return NULL;
  const int8_t *r = sf_snn_raster(d->s[0], i);
  if (r) {
    *T = d->s[0]->raster_T;
    *neurons = d->s[0]->raster_n;
  }
  return r;
}

static const char *cpu_kernels(const void *deployed) {
  const cpu_deployed *d = deployed;
  return d->c->cpu.quant == SF_QUANT_INT8 ? sf_q8_isa() : sf_axpy_isa();
}

const sf_backend sf_backend_cpu = {{"cpu", "time-stepped SNN runtime on the host CPU (batch shards on OpenMP threads, AVX2/AVX-512 kernels)",
                                    sizeof(sf_cpu_options), cpu_target_default, cpu_target_set, cpu_keys, cpu_target_describe,
                                    cpu_supports_node, cpu_compile, cpu_deploy, cpu_execute, cpu_execute_frames, cpu_profile_count, cpu_profile,
                                    cpu_profile_step, cpu_raster, cpu_kernels, cpu_free_deployed, cpu_free_compiled}};

/* EvaluationRunner for converted models, through the backend interface: the dataset in equal
 * batches, each deployed once per batch size (at most two: full batches and the remainder), the
 * ANN beside it on the same batches, accuracy after every step from the step callback, counters
 * merged over deployments; with profile, energy per layer / model / step (energy_table.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/util.h"
#include "eval/eval_internal.h"
#include "spikeformer/loihi2.h"
#include "spikeformer/dist.h"
#include "spikeformer/eval.h"
#include "spikeformer/session.h"
#include "spikeformer/threads.h"

static const char *const kind_names[SF_WORK_KINDS] = {"neurons", "synapses (spike-fed layers)", "analog input layer",
                                                      "float functions (EC)", "spike-stream products", "other (adds, layout)"};
static const char *const kind_keys[SF_WORK_KINDS] = {"neurons", "synapses", "analog_input", "ec_functions", "products", "other"};
const char *sf_work_kind_name(sf_work_kind k) { return (unsigned)k < SF_WORK_KINDS ? kind_names[k] : "?"; }
const char *sf_work_kind_key(sf_work_kind k) { return (unsigned)k < SF_WORK_KINDS ? kind_keys[k] : "?"; }

static sf_work_kind work_kind(const sf_snn_node_stats *s) {
  if (s->mode == SF_MODE_NEURON) return SF_WORK_NEURONS;
  if (s->mode == SF_MODE_EC) return SF_WORK_EC_FUNCTIONS;
  if (s->mode == SF_MODE_PRODUCT) return SF_WORK_PRODUCTS;
  if (s->sops > 0) return SF_WORK_SYNAPSES;
  if (s->macs > 0) return SF_WORK_ANALOG_INPUT;
  return SF_WORK_OTHER;
}

void sf_eval_options_default(sf_eval_options *o) {
  memset(o, 0, sizeof *o);
  o->ann = 1;
  sf_backend_options_default(&o->backend_options);
}

int64_t sf_eval_default_batch(int64_t n) {
  /* the runtime gives each thread whole shards of a batch: on many cores a bigger default batch
   * keeps every thread busy (256 samples suffice for two) */
  int64_t batch = 256;
  if (128 * (int64_t)sf_threads_get() > batch) batch = 128 * (int64_t)sf_threads_get();
  /* the default batch splits the data evenly (10,000 images: 40 batches of 250, not 39 of 256 and
   * one of 16), so that one deployment serves every batch */
  if (n > batch) {
    const int64_t nb = (n + batch - 1) / batch;
    batch = (n + nb - 1) / nb;
  }
  return batch;
}

int64_t sf_snn_model_classes(const sf_snn_model *m) {
  sf_graph *g;
  if (sf_snn_model_build(m, 1, &g)) return 0;
  sf_tensor o = sf_graph_num_outputs(g) > 0 ? sf_graph_output_desc(g, 0) : (sf_tensor){0};
  int64_t ncls = o.ndim >= 1 ? o.shape[o.ndim - 1] : 0;
  sf_graph_free(g);
  return ncls;
}

sf_status sf_eval_labels_fit(const sf_dataset *ds, int64_t ncls, const char *model_name) {
  if (ncls > 0 && ds->n_classes > ncls)
    return sf_error(SF_ERR_SHAPE, "%s: labels go up to %d, but %s's first output scores %lld classes", ds->source, ds->n_classes - 1, model_name,
                    (long long)ncls);
  return SF_OK;
}

void sf_eval_result_free(sf_eval_result *r) {
  if (!r) return;
  free(r->model); free(r->data); free(r->backend); free(r->kernels); free(r->target_options);
  free(r->backend_report); free(r->backend_report_text);
  free(r->source); free(r->source_sha256);
  for (int i = 0; r->rasters && i < r->n_layers; i++) free(r->rasters[i]);
  free(r->rasters);
  free(r->snn_accuracy_by_t);
  for (int i = 0; r->layers && i < r->n_layers; i++) {
    free(r->layers[i].energy_pj);
    free((char *)r->layers[i].stats.name);
    free((char *)r->layers[i].stats.op_type);
  }
  free(r->layers);
  free(r->work_by_t); free(r->ops_by_t);
  sf_energy_models_free(r->energy, r->n_energy);
  free(r->snn_pj); free(r->ann_pj);
  free(r->rapl_reason); free(r->gpu_reason); free(r->gpu_name);
  free(r);
}

/* Under mpirun: every rank's counters summed (each evaluated its share of the samples). The
 * layers are the same on every rank (one model); the times are summed too (thread-seconds). */
static sf_status sum_over_ranks(sf_eval_result *r, int64_t *correct, int64_t *ann_correct, int T) {
  const int per_layer = 7;
  const int64_t n = (int64_t)T + 3 + (int64_t)r->n_layers * per_layer + (int64_t)T * 4;
  double *v = calloc((size_t)n, sizeof(double));
  if (!v) return sf_error(SF_ERR_NOMEM, "out of memory");
  int64_t k = 0;
  for (int t = 0; t < T; t++) v[k++] = (double)correct[t];
  v[k++] = (double)*ann_correct;
  v[k++] = r->ann_seconds;
  v[k++] = r->snn_seconds;
  for (int i = 0; i < r->n_layers; i++) {
    const sf_snn_node_stats *s = &r->layers[i].stats;
    const double x[7] = {s->spikes, s->events, s->sops, s->macs, s->float_ops, s->neuron_updates, s->seconds};
    for (int j = 0; j < per_layer; j++) v[k++] = x[j];
  }
  for (int64_t j = 0; j < (int64_t)T * 4; j++) v[k++] = r->ops_by_t[j];
  sf_status st = sf_dist_sum_f64(v, n);
  if (!st) {
    k = 0;
    for (int t = 0; t < T; t++) correct[t] = (int64_t)v[k++];
    *ann_correct = (int64_t)v[k++];
    r->ann_seconds = v[k++];
    r->snn_seconds = v[k++];
    for (int i = 0; i < r->n_layers; i++) {
      sf_snn_node_stats *s = &r->layers[i].stats;
      s->spikes = v[k++]; s->events = v[k++]; s->sops = v[k++]; s->macs = v[k++];
      s->float_ops = v[k++]; s->neuron_updates = v[k++]; s->seconds = v[k++];
    }
    for (int64_t j = 0; j < (int64_t)T * 4; j++) r->ops_by_t[j] = v[k++];
  }
  free(v);
  return st;
}

/* The totals and per-layer figures that follow from the merged counters. */
static void summarise(sf_eval_result *r) {
  const double n = (double)r->samples, T = (double)r->timesteps;
  double spikes = 0, neurons = 0;
  for (int i = 0; i < r->n_layers; i++) {
    sf_eval_layer *l = &r->layers[i];
    const sf_snn_node_stats *s = &l->stats;
    r->sops += s->sops; r->macs += s->macs; r->float_ops += s->float_ops; spikes += s->spikes;
    l->kind = work_kind(s);
    r->seconds_by_kind[l->kind] += s->seconds;
    if (s->mode == SF_MODE_NEURON) {
      neurons += (double)s->neurons;
      l->firing_rate = s->neurons ? s->spikes / ((double)s->neurons * T * n) : 0;
    }
    if (s->mode == SF_MODE_LINEAR && s->sops > 0) { r->spike_fed_layers++; r->int8_layers += s->int8; }
    if (s->mode == SF_MODE_LINEAR && s->sops == 0 && s->macs > 0) r->int8_analog_layers += s->int8;
    r->chained_layers += s->time_major;
  }
  r->spikes = spikes;
  r->neurons_per_sample = neurons;
  const double total = r->sops + r->macs + r->float_ops;
  r->spike_purity = total ? r->sops / total : 0;
  r->firing_rate = neurons ? spikes / (neurons * T * n) : 0.0;
}

sf_status sf_eval_snn(const sf_snn_model *m, const char *name, const sf_dataset *ds, const sf_eval_options *o_in, sf_eval_result **out) {
  *out = NULL;
  sf_eval_options o;
  if (o_in) o = *o_in;
  else sf_eval_options_default(&o);
  const sf_convert_options *opt = sf_snn_model_options(m);
  if (!name) name = sf_graph_source(sf_snn_model_source(m));
  const int T = o.timesteps > 0 ? o.timesteps : opt->snn.timesteps;
  if (T > 100000) return sf_error(SF_ERR_ARG, "%d timesteps: at most 100000", T);
  if (ds->n < 1) return sf_error(SF_ERR_ARG, "%s: no samples to evaluate", ds->source);
  sf_status st = sf_eval_labels_fit(ds, sf_snn_model_classes(m), name);
  if (st) return st;
  /* under mpirun each rank takes its share of the samples; the counters are summed below (dist.h) */
  int64_t lo = 0, hi = ds->n;
  if (ds->n >= sf_dist_size()) sf_dist_share(ds->n, &lo, &hi);
  const int sharded = hi - lo < ds->n;
  int64_t batch = o.batch > 0 ? o.batch : sf_eval_default_batch(hi - lo);
  sf_eval_result *r = calloc(1, sizeof *r);
  if (!r) return sf_error(SF_ERR_NOMEM, "out of memory");
  r->model = sf_strdup(name);
  r->data = sf_strdup(ds->source);
  r->source = sf_strdup(sf_graph_source(sf_snn_model_source(m)));
  r->source_sha256 = sf_strdup(sf_snn_model_source_sha256(m));
  r->samples = ds->n;
  r->timesteps = T;
  r->threads = sf_threads_get();
  r->convert = *opt;
  r->backend_options = o.backend_options;
  r->backend_options.target = NULL;
  r->ann_accuracy = NAN;
  r->rapl_joules = r->ann_rapl_joules = r->snn_rapl_joules = r->gpu_joules = -1;
  r->snn_accuracy_by_t = calloc((size_t)T, sizeof(double));
  int64_t *correct = calloc((size_t)T, sizeof(int64_t)), ann_correct = 0;
  const sf_backend *be = NULL;
  sf_compiled *comp = NULL;
  sf_deployed *deps[2] = {NULL, NULL}, *dep = NULL;
  int n_deps = 0;
  sf_session *ann = NULL;
  sf_power_monitor *pm = NULL;
  double ann_j = 0, snn_j = 0;
  if (!r->model || !r->data || !r->source || !r->source_sha256 || !r->snn_accuracy_by_t || !correct) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
  if ((st = sf_backend_find(o.backend ? o.backend : "cpu", &be))) goto done;
  r->backend = sf_strdup(sf_backend_name(be));
  r->target_options = sf_backend_target_describe(be, o.backend_options.target);
  if ((st = sf_backend_compile(be, m, &o.backend_options, &comp))) goto done;
  if (!(pm = sf_power_monitor_open())) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
  if (o.profile && (st = sf_energy_models_load(o.energy_dir, &r->energy, &r->n_energy))) goto done;
  const double j0 = sf_power_monitor_rapl_joules(pm), g0 = sf_power_monitor_gpu_joules(pm);
  const sf_graph *src = sf_snn_model_source(m);
  int64_t cur_batch = 0;
  if (o.progress) o.progress(o.profile ? "profile" : "snn eval", 0, hi - lo, o.progress_user);
  double t0 = sf_now();
  for (int64_t start = lo; start < hi; start += batch) {
    int64_t cnt = hi - start < batch ? hi - start : batch;
    if (cnt != cur_batch) {
      /* deploy for this batch size (at most two: full batches and the remainder) */
      if (n_deps == 2) { st = sf_error(SF_ERR_INTERNAL, "unexpected batch size"); goto done; }
      if ((st = sf_backend_deploy(comp, cnt, &deps[n_deps]))) goto done;
      dep = deps[n_deps++];
      /* the ANN beside it: the source model itself (not the converted graph's ANN view, which
       * differs when a spike-native alternative replaced an op) */
      if (!ann && o.ann && (st = sf_session_create(src, NULL, &ann))) goto done;
      cur_batch = cnt;
    }
    sf_tensor x = sf_eval_batch(ds, src, start, cnt);
    if (o.ann) {
      double ja = sf_power_monitor_rapl_joules(pm), secs = 0;
      int64_t right = 0;
      if ((st = sf_eval_ann_batch(ann, src, &x, ds->labels + start, cnt, &right, NULL, NULL, &secs))) goto done;
      r->ann_seconds += secs;
      if (ja >= 0) ann_j += sf_power_monitor_rapl_joules(pm) - ja;
      ann_correct += right;
    }
    sf_acc_ctx sc = {ds->labels + start, cnt, correct, NULL, 0, 0};
    double ts = sf_now(), js = sf_power_monitor_rapl_joules(pm);
    if ((st = sf_backend_execute(dep, &x, T, sf_acc_step, &sc))) goto done;
    r->snn_seconds += sf_now() - ts;
    if (js >= 0) snn_j += sf_power_monitor_rapl_joules(pm) - js;
    if (o.progress) o.progress(o.profile ? "profile" : "snn eval", start + cnt - lo, hi - lo, o.progress_user);
  }
  /* merge the counters of every deployment (same layers, same order) */
  r->n_layers = n_deps ? sf_backend_profile_count(deps[0]) : 0;
  if (!(r->layers = calloc((size_t)(r->n_layers ? r->n_layers : 1), sizeof *r->layers))) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
  for (int d = 0; d < n_deps; d++)
    for (int i = 0; i < r->n_layers; i++) {
      sf_snn_node_stats s1;
      sf_backend_profile(deps[d], i, &s1);
      if (d == 0) r->layers[i].stats = s1;
      else sf_snn_node_stats_add(&r->layers[i].stats, &s1);
    }
  /* the names outlive the deployments they came from */
  for (int i = 0; i < r->n_layers; i++) {
    sf_snn_node_stats *s = &r->layers[i].stats;
    s->name = sf_strdup(s->name ? s->name : "");
    s->op_type = sf_strdup(s->op_type ? s->op_type : "");
    if (!s->name || !s->op_type) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
  }
  /* the work done at each step, summed over the samples (per sample below) */
  if (!(r->work_by_t = calloc((size_t)T, sizeof(double))) || !(r->ops_by_t = calloc((size_t)T * 4, sizeof(double)))) {
    st = sf_error(SF_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (int d = 0; d < n_deps; d++)
    for (int t = 1; t <= T; t++) {
      double o4[4];
      sf_backend_profile_step(deps[d], t, o4);
      for (int k = 0; k < 4; k++) r->ops_by_t[(t - 1) * 4 + k] += o4[k];
    }
  if (sharded && (st = sum_over_ranks(r, correct, &ann_correct, T))) goto done;
  r->seconds = sf_now() - t0;
  /* the raster the first deployment recorded */
  if (n_deps && o.backend_options.raster_neurons > 0) {
    if (!(r->rasters = calloc((size_t)(r->n_layers ? r->n_layers : 1), sizeof *r->rasters))) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
    for (int i = 0; i < r->n_layers; i++) {
      int rt = 0, rn = 0;
      const int8_t *ras = sf_backend_raster(deps[0], i, &rt, &rn);
      if (!ras) continue;
      if (!(r->rasters[i] = malloc((size_t)rt * (size_t)rn))) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
      memcpy(r->rasters[i], ras, (size_t)rt * (size_t)rn);
      r->raster_T = rt;
      r->raster_neurons = rn;
    }
  }
  const double j1 = sf_power_monitor_rapl_joules(pm), g1 = sf_power_monitor_gpu_joules(pm);
  r->kernels = sf_strdup(dep ? sf_backend_kernels(dep) : "");
  if (o.ann) {
    r->ann_evaluated = 1;
    r->ann_accuracy = (double)ann_correct / (double)ds->n;
  }
  for (int t = 0; t < T; t++) r->snn_accuracy_by_t[t] = (double)correct[t] / (double)ds->n;
  summarise(r);
  /* the work done at each step (synaptic ops, MACs, float evaluations, neuron updates per sample):
   * under delta coding, what a static input leaves for the steps after the first */
  for (int t = 0; t < T; t++)
    for (int k = 0; k < 4; k++) {
      r->ops_by_t[t * 4 + k] /= (double)ds->n;
      r->work_by_t[t] += r->ops_by_t[t * 4 + k];
    }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  r->peak_rss_kib = (double)ru.ru_maxrss;
  r->rapl_available = sf_power_monitor_rapl_available(pm);
  r->gpu_available = sf_power_monitor_gpu_available(pm);
  r->rapl_reason = sf_strdup(sf_power_monitor_rapl_reason(pm));
  r->gpu_reason = sf_strdup(sf_power_monitor_gpu_reason(pm));
  r->gpu_name = sf_strdup(sf_power_monitor_gpu_name(pm));
  if (j0 >= 0 && j1 >= 0) {
    r->rapl_joules = j1 - j0;
    r->ann_rapl_joules = ann_j;
    r->snn_rapl_joules = snn_j;
  }
  if (g0 >= 0 && g1 >= 0) r->gpu_joules = g1 - g0;
  if (!r->kernels || !r->rapl_reason || !r->gpu_reason || !r->gpu_name) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
  if (o.profile) st = sf_eval_energy(r, src);
  if (!st && n_deps) { /* NULL for backends that have no report of their own */
    r->backend_report = sf_loihi2_report_json(comp, deps[0]);
    r->backend_report_text = sf_loihi2_report_text(comp, deps[0]);
  }
done:
  sf_power_monitor_close(pm);
  free(correct);
  for (int d = 0; d < n_deps; d++) sf_deployed_free(deps[d]);
  sf_compiled_free(comp);
  sf_session_free(ann);
  if (st) sf_eval_result_free(r);
  else *out = r;
  return st;
}

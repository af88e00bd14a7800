/* An evaluation as JSON (what `eval --json` / `profile --json` write and Python returns) and as an
 * MLflow run. */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "eval/eval_internal.h"
#include "spikeformer/mlflow.h"

static void add_layers(cJSON *r, const sf_eval_result *e, int profile) {
  const double n = (double)e->samples, T = (double)e->timesteps;
  cJSON *layers = cJSON_CreateArray();
  for (int i = 0; i < e->n_layers; i++) {
    const sf_snn_node_stats *s1 = &e->layers[i].stats;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", s1->name);
    cJSON_AddStringToObject(o, "op", s1->op_type);
    cJSON_AddStringToObject(o, "mode", sf_spiking_mode_name(s1->mode));
    if (s1->mode == SF_MODE_NEURON) {
      cJSON_AddNumberToObject(o, "neurons", (double)s1->neurons);
      cJSON_AddNumberToObject(o, "firing_rate", s1->neurons ? s1->spikes / ((double)s1->neurons * T * n) : 0);
      cJSON_AddNumberToObject(o, "spikes_per_sample", s1->spikes / n);
    }
    cJSON_AddNumberToObject(o, "synaptic_ops_per_sample", s1->sops / n);
    cJSON_AddNumberToObject(o, "macs_per_sample", s1->macs / n);
    cJSON_AddNumberToObject(o, "float_ops_per_sample", s1->float_ops / n);
    cJSON_AddNumberToObject(o, "seconds", s1->seconds);
    if (profile) {
      cJSON *en = cJSON_CreateObject();
      for (int k = 0; k < e->n_energy; k++) cJSON_AddNumberToObject(en, e->energy[k].name, e->layers[i].energy_pj[k]);
      cJSON_AddItemToObject(o, "energy_pj_per_sample", en);
      cJSON_AddNumberToObject(o, "neuron_updates_per_sample", s1->neuron_updates / n);
    }
    cJSON_AddItemToArray(layers, o);
  }
  cJSON_AddItemToObject(r, "layers", layers);
}

static void add_profile(cJSON *r, const sf_eval_result *e) {
  cJSON *en = cJSON_CreateObject();
  for (int k = 0; k < e->n_energy; k++) {
    cJSON *o = cJSON_CreateObject();
    const double ratio = e->ann_pj[k] > 0 ? e->snn_pj[k] / e->ann_pj[k] : 0;
    cJSON_AddNumberToObject(o, "snn_pj_per_sample", e->snn_pj[k]);
    cJSON_AddNumberToObject(o, "ann_pj_per_sample", e->ann_pj[k]);
    cJSON_AddNumberToObject(o, "ratio", ratio);
    cJSON_AddStringToObject(o, "description", e->energy[k].description);
    cJSON_AddStringToObject(o, "sources", e->energy[k].sources);
    cJSON_AddItemToObject(en, e->energy[k].name, o);
    if (!strcmp(e->energy[k].name, "45nm")) cJSON_AddNumberToObject(r, "energy_ratio_45nm", ratio);
  }
  cJSON_AddItemToObject(r, "energy", en);
  const sf_spiking_config *c = &e->convert.snn;
  cJSON_AddStringToObject(r, "burst_code", c->neuron_model == SF_NEURON_BURST ? sf_burst_code_name(c->burst_code) : "none");
  cJSON *a = cJSON_CreateObject();
  cJSON_AddNumberToObject(a, "macs_per_sample", e->ann_counts.macs);
  cJSON_AddNumberToObject(a, "float_ops_per_sample", e->ann_counts.float_ops);
  cJSON_AddNumberToObject(a, "activations_per_sample", e->ann_counts.activations);
  cJSON_AddItemToObject(r, "ann", a);
  cJSON *p = cJSON_CreateObject();
  if (e->rapl_available) cJSON_AddNumberToObject(p, "rapl_joules", e->rapl_joules);
  else cJSON_AddStringToObject(p, "rapl", e->rapl_reason);
  cJSON_AddStringToObject(p, "nvml", e->gpu_available ? "available" : e->gpu_reason);
  cJSON_AddItemToObject(r, "power_monitor", p);
  if (e->gpu_available && e->gpu_joules >= 0) cJSON_AddNumberToObject(p, "gpu_joules_during_run", e->gpu_joules);
  /* the ANN beside the SNN at every T */
  cJSON *cmp = cJSON_CreateArray();
  double **ratios = calloc((size_t)(e->n_energy ? e->n_energy : 1), sizeof(double *));
  for (int k = 0; ratios && k < e->n_energy; k++) ratios[k] = sf_eval_energy_ratio_by_t(e, k);
  for (int t = 1; t <= e->timesteps; t++) {
    cJSON *o = cJSON_CreateObject(), *er = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "t", (double)t);
    cJSON_AddNumberToObject(o, "accuracy", e->snn_accuracy_by_t[t - 1]);
    for (int k = 0; k < e->n_energy; k++) cJSON_AddNumberToObject(er, e->energy[k].name, ratios && ratios[k] ? ratios[k][t - 1] : 0.0);
    cJSON_AddItemToObject(o, "energy_ratio", er);
    cJSON_AddItemToArray(cmp, o);
  }
  for (int k = 0; ratios && k < e->n_energy; k++) free(ratios[k]);
  free(ratios);
  cJSON_AddItemToObject(r, "comparison", cmp);
  if (e->ann_evaluated) {
    cJSON_AddNumberToObject(r, "ann_seconds_per_sample", e->ann_seconds / (double)e->samples);
    cJSON_AddNumberToObject(r, "snn_seconds_per_sample", e->snn_seconds / (double)e->samples);
  }
}

char *sf_eval_json(const sf_eval_result *e) {
  const double n = (double)e->samples;
  const int profile = e->energy != NULL;
  cJSON *r = cJSON_CreateObject(), *acc = cJSON_CreateArray();
  cJSON_AddStringToObject(r, "model", e->model);
  cJSON_AddStringToObject(r, "data", e->data);
  cJSON_AddNumberToObject(r, "samples", n);
  cJSON_AddNumberToObject(r, "timesteps", e->timesteps);
  if (!e->ann_evaluated) cJSON_AddNullToObject(r, "ann_accuracy");
  else cJSON_AddNumberToObject(r, "ann_accuracy", e->ann_accuracy);
  for (int t = 0; t < e->timesteps; t++) cJSON_AddItemToArray(acc, cJSON_CreateNumber(e->snn_accuracy_by_t[t]));
  cJSON_AddItemToObject(r, "snn_accuracy_by_t", acc);
  cJSON_AddStringToObject(r, "neuron", sf_neuron_model_name(e->convert.snn.neuron_model));
  cJSON_AddStringToObject(r, "policy", sf_policy_name(e->convert.policy));
  cJSON_AddStringToObject(r, "encoding", sf_encoding_name(e->backend_options.encoding));
  cJSON_AddStringToObject(r, "coding", sf_coding_name(e->convert.snn.coding));
  cJSON *wt = cJSON_CreateArray();
  for (int t = 0; t < e->timesteps; t++) cJSON_AddItemToArray(wt, cJSON_CreateNumber(e->work_by_t[t]));
  cJSON_AddItemToObject(r, "work_per_sample_by_t", wt);
  cJSON_AddStringToObject(r, "decoder", e->backend_options.decoder == SF_DECODE_COUNT ? "count" : "membrane");
  cJSON_AddNumberToObject(r, "synaptic_ops_per_sample", e->sops / n);
  cJSON_AddNumberToObject(r, "macs_per_sample", e->macs / n);
  cJSON_AddNumberToObject(r, "float_ops_per_sample", e->float_ops / n);
  cJSON_AddNumberToObject(r, "spike_purity", e->spike_purity);
  cJSON_AddNumberToObject(r, "firing_rate", e->firing_rate);
  cJSON_AddStringToObject(r, "quant", strstr(e->target_options, "quant=int8") ? "int8" : "float");
  cJSON_AddNumberToObject(r, "int8_layers", e->int8_layers);
  cJSON_AddNumberToObject(r, "int8_analog_layers", e->int8_analog_layers);
  cJSON_AddStringToObject(r, "schedule", e->chained_layers ? "time-major" : "step-major");
  cJSON_AddNumberToObject(r, "spike_fed_layers", e->spike_fed_layers);
  cJSON_AddStringToObject(r, "backend", e->backend);
  cJSON_AddStringToObject(r, "backend_options", e->target_options);
  cJSON_AddStringToObject(r, "kernels", e->kernels);
  if (e->backend_report) {
    cJSON *br = cJSON_Parse(e->backend_report);
    if (br) cJSON_AddItemToObject(r, "backend_report", br);
  }
  cJSON_AddNumberToObject(r, "threads", e->threads);
  cJSON_AddNumberToObject(r, "seconds", e->seconds);
  cJSON_AddNumberToObject(r, "snn_execute_seconds", e->snn_seconds); /* the spiking runs alone: no deployment, no ANN */
  if (!e->ann_evaluated) cJSON_AddNullToObject(r, "ann_execute_seconds");
  else cJSON_AddNumberToObject(r, "ann_execute_seconds", e->ann_seconds); /* the float ANN on the same batches and threads */
  cJSON_AddNumberToObject(r, "peak_rss_kib", e->peak_rss_kib);
  cJSON_AddBoolToObject(r, "ann_evaluated", e->ann_evaluated);
  add_layers(r, e, profile);
  cJSON *bk = cJSON_CreateObject();
  for (int k = 0; k < SF_WORK_KINDS; k++) cJSON_AddNumberToObject(bk, sf_work_kind_key((sf_work_kind)k), e->seconds_by_kind[k]);
  cJSON_AddItemToObject(r, "seconds_by_kind", bk);
  if (profile) add_profile(r, e);
  char *s = cJSON_Print(r);
  cJSON_Delete(r);
  return s;
}

sf_status sf_eval_log_mlflow(const sf_eval_result *e, const char *store_dir, const char *run_name) {
  sf_mlflow_run *run;
  sf_status st = sf_mlflow_begin(store_dir, run_name, &run);
  if (st) return st;
  char buf[64];
  sf_mlflow_param(run, "model", e->model);
  sf_mlflow_param(run, "neuron", sf_neuron_model_name(e->convert.snn.neuron_model));
  sf_mlflow_param(run, "policy", sf_policy_name(e->convert.policy));
  snprintf(buf, sizeof buf, "%d", e->timesteps);
  sf_mlflow_param(run, "timesteps", buf);
  snprintf(buf, sizeof buf, "%lld", (long long)e->samples);
  sf_mlflow_param(run, "samples", buf);
  sf_mlflow_param(run, "encoding", sf_encoding_name(e->backend_options.encoding));
  sf_mlflow_param(run, "backend", e->backend);
  if (e->ann_evaluated) sf_mlflow_metric(run, "ann_accuracy", e->ann_accuracy, 0);
  for (int t = 1; t <= e->timesteps; t++) sf_mlflow_metric(run, "snn_accuracy", e->snn_accuracy_by_t[t - 1], (long)t);
  sf_mlflow_metric(run, "spike_purity", e->spike_purity, 0);
  sf_mlflow_metric(run, "synaptic_ops_per_sample", e->sops / (double)e->samples, 0);
  for (int k = 0; k < e->n_energy; k++) {
    char key[96];
    snprintf(key, sizeof key, "energy_ratio_%s", e->energy[k].name);
    for (char *q = key; *q; q++) if (*q == '+') *q = '_';
    sf_mlflow_metric(run, key, e->ann_pj[k] > 0 ? e->snn_pj[k] / e->ann_pj[k] : 0, 0);
  }
  return sf_mlflow_end(run, 1);
}

sf_status sf_write_text_file(const char *path, const char *text) {
  if (!text) return sf_error(SF_ERR_NOMEM, "out of memory writing %s", path);
  return sf_write_file_atomic(path, text, strlen(text));
}

sf_status sf_check_writable(const char *const *paths, int n) {
  for (int k = 0; k < n; k++) {
    const char *p = paths[k];
    if (!p) continue;
    if (sf_is_dir(p)) return sf_error(SF_ERR_IO, "%s: is a directory; give a file name", p);
    const char *slash = strrchr(p, '/');
    char *dir = slash ? strndup(p, slash == p ? 1 : (size_t)(slash - p)) : strdup(".");
    int ok = dir && sf_is_dir(dir) && access(dir, W_OK) == 0;
    sf_status st = ok ? SF_OK : sf_error(SF_ERR_IO, "%s: cannot write there (folder %s %s)", p, dir ? dir : "?", dir && sf_is_dir(dir) ? "is not writable" : "does not exist");
    free(dir);
    if (st) return st;
  }
  return SF_OK;
}

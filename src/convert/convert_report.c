/* Converter options from text (for front ends) and the conversion report. */
#include <cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "convert/convert_internal.h"
#include "core/util.h"

static sf_status parse_bool(const char *key, const char *v, int *out) {
  if (!strcmp(v, "1") || !strcasecmp_ascii(v, "true") || !strcasecmp_ascii(v, "yes")) *out = 1;
  else if (!strcmp(v, "0") || !strcasecmp_ascii(v, "false") || !strcasecmp_ascii(v, "no")) *out = 0;
  else return sf_error(SF_ERR_ARG, "convert option '%s': expected true or false, got '%s'", key, v);
  return SF_OK;
}

static sf_status parse_count(const char *key, const char *v, int *out) {
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno || end == v || *end || x < 1 || x > (1L << 20)) return sf_error(SF_ERR_ARG, "convert option '%s': expected a whole number from 1 to 1048576, got '%s'", key, v);
  *out = (int)x;
  return SF_OK;
}

sf_status sf_convert_options_set(sf_convert_options *o, const char *key, const char *v) {
  if (!key || !v) return sf_error(SF_ERR_ARG, "convert option: key and value needed");
  if (!strcmp(key, "policy")) {
    if (sf_policy_parse(v, &o->policy)) return sf_error(SF_ERR_ARG, "convert option 'policy': max, percentile or mse, not '%s'", v);
    return SF_OK;
  }
  if (!strcmp(key, "percentile")) {
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || !(x > 0 && x <= 100)) return sf_error(SF_ERR_ARG, "convert option 'percentile': a number in (0, 100], not '%s'", v);
    o->percentile = x;
    o->policy = SF_POLICY_PERCENTILE;
    return SF_OK;
  }
  if (!strcmp(key, "per_channel")) return parse_bool(key, v, &o->per_channel);
  if (!strcmp(key, "relu_ec")) return parse_bool(key, v, &o->relu_ec);
  if (!strcmp(key, "native_gelu")) return parse_bool(key, v, &o->native_gelu);
  if (!strcmp(key, "calib_samples")) return parse_count(key, v, &o->calib_samples);
  if (!strcmp(key, "calib_batch")) return parse_count(key, v, &o->calib_batch);
  if (!strcmp(key, "neuron")) key = "neuron_model";
  if (!strcmp(key, "encoding")) key = "spike_encoding";
  sf_status st = sf_config_set(&o->snn, key, v);
  if (st == SF_ERR_ARG && strstr(sf_last_error(), "unknown config key"))
    return sf_error(SF_ERR_ARG, "unknown convert option '%s' (policy, percentile, per_channel, calib_samples, calib_batch, relu_ec, native_gelu, "
                                "or a SpikingConfig key: timesteps, neuron, burst_levels, burst_code, leak, coding, encoding, seed)", key);
  return st;
}

sf_status sf_snn_model_mode_counts(const sf_snn_model *m, int counts[SF_MODE_COUNT]) {
  memset(counts, 0, sizeof(int) * SF_MODE_COUNT);
  sf_graph *g;
  sf_status st = sf_snn_model_build(m, 1, &g);
  if (st) return st;
  for (int i = 0; i < g->n_nodes; i++) counts[g->nodes[i].mode]++;
  sf_graph_free(g);
  return SF_OK;
}

char *sf_snn_model_json(const sf_snn_model *m, const char *name, const char *output, double seconds) {
  const sf_convert_options *opt = &m->opt;
  int counts[SF_MODE_COUNT];
  if (sf_snn_model_mode_counts(m, counts)) return NULL;
  cJSON *r = cJSON_CreateObject(), *sites = cJSON_CreateArray(), *mc = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "model", name ? name : m->src->source);
  if (output) cJSON_AddStringToObject(r, "output", output);
  cJSON_AddStringToObject(r, "neuron", sf_neuron_model_name(opt->snn.neuron_model));
  cJSON_AddStringToObject(r, "policy", sf_policy_name(opt->policy));
  cJSON_AddNumberToObject(r, "timesteps", opt->snn.timesteps);
  cJSON_AddStringToObject(r, "coding", sf_coding_name(opt->snn.coding));
  cJSON_AddNumberToObject(r, "convert_seconds", seconds);
  cJSON_AddStringToObject(r, "source_sha256", m->src_sha256);
  for (int k = SF_MODE_LINEAR; k < SF_MODE_COUNT; k++) cJSON_AddNumberToObject(mc, sf_spiking_mode_name((sf_spiking_mode)k), counts[k]);
  cJSON_AddItemToObject(r, "nodes_by_mode", mc);
  for (int i = 0; i < sf_snn_model_num_sites(m); i++) {
    const char *site;
    int ch, sg;
    float lo, mean, hi;
    sf_snn_model_site(m, i, &site, &ch, &lo, &mean, &hi, &sg);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "site", site);
    cJSON_AddBoolToObject(o, "signed", sg);
    cJSON_AddNumberToObject(o, "channels", ch);
    cJSON_AddNumberToObject(o, "theta_min", lo);
    cJSON_AddNumberToObject(o, "theta_mean", mean);
    cJSON_AddNumberToObject(o, "theta_max", hi);
    cJSON_AddItemToArray(sites, o);
  }
  cJSON_AddItemToObject(r, "thresholds", sites);
  char *s = cJSON_Print(r);
  cJSON_Delete(r);
  return s;
}

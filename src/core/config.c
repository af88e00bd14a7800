#include "spikeformer/config.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "spikeformer/log.h"

static const char *neuron_names[] = {"if", "lif", "burst"};
static const char *encoding_names[] = {"rate", "direct", "latency"};
static const char *burst_code_names[] = {"unary", "binary"};
static const char *coding_names[] = {"rate", "delta"};
static const char *reset_names[] = {"subtract", "zero"};

const char *sf_neuron_model_name(sf_neuron_model m) { return neuron_names[m]; }
const char *sf_encoding_name(sf_spike_encoding e) { return encoding_names[e]; }
const char *sf_burst_code_name(sf_burst_code c) { return burst_code_names[c]; }
const char *sf_coding_name(sf_temporal_coding c) { return coding_names[c]; }
const char *sf_reset_name(sf_reset_mode r) { return (unsigned)r < 2 ? reset_names[r] : "?"; }
int sf_config_binary_bursts(const sf_spiking_config *c) { return c->neuron_model == SF_NEURON_BURST && c->burst_code == SF_BURST_BINARY; }

sf_spiking_config *sf_config_new(void) {
  sf_spiking_config *c = malloc(sizeof *c);
  if (c) sf_config_default(c);
  return c;
}

void sf_config_free(sf_spiking_config *c) { free(c); }

void sf_config_default(sf_spiking_config *c) {
  memset(c, 0, sizeof *c);
  c->timesteps = 32;
  c->neuron_model = SF_NEURON_LIF;
  c->leak = 0.99f;
  c->burst_levels = 4;
  c->spike_encoding = SF_ENCODE_RATE;
  c->seed = 42;
  c->reset = SF_RESET_SUBTRACT;
  c->v_init = 0.5f;
}

static int lookup(const char *v, const char **names, int n) {
  for (int i = 0; v && i < n; i++)
    if (strcasecmp_ascii(v, names[i]) == 0) return i;
  return -1;
}

#define PARSER(fn, type, names)                     \
  int fn(const char *name, type *out) {             \
    int k = lookup(name, names, (int)(sizeof names / sizeof names[0])); \
    if (k >= 0) *out = (type)k;                     \
    return k >= 0 ? 0 : -1;                         \
  }
PARSER(sf_neuron_model_parse, sf_neuron_model, neuron_names)
PARSER(sf_encoding_parse, sf_spike_encoding, encoding_names)
PARSER(sf_burst_code_parse, sf_burst_code, burst_code_names)
PARSER(sf_coding_parse, sf_temporal_coding, coding_names)
PARSER(sf_reset_parse, sf_reset_mode, reset_names)

static sf_status parse_int(const char *key, const char *v, long lo, long hi, int *out) {
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno || end == v || *end || x < lo || x > hi)
    return sf_error(SF_ERR_ARG, "config key '%s': expected an integer in [%ld, %ld], got '%s'", key, lo, hi, v);
  *out = (int)x;
  return SF_OK;
}

static sf_status parse_float(const char *key, const char *v, float lo, float hi, float *out) {
  char *end;
  float x = strtof(v, &end);
  if (end == v || *end || !isfinite(x) || x < lo || x > hi)
    return sf_error(SF_ERR_ARG, "config key '%s': expected a number in [%g, %g], got '%s'", key, lo, hi, v);
  *out = x;
  return SF_OK;
}

static sf_status parse_enum(const char *key, const char *v, const char **names, int n, int *out) {
  int i = lookup(v, names, n);
  if (i < 0) {
    char opts[256] = "";
    for (int k = 0; k < n; k++) { strncat(opts, names[k], sizeof opts - strlen(opts) - 1); if (k + 1 < n) strncat(opts, ", ", sizeof opts - strlen(opts) - 1); }
    return sf_error(SF_ERR_ARG, "config key '%s': unknown value '%s' (one of: %s)", key, v, opts);
  }
  *out = i;
  return SF_OK;
}

sf_status sf_config_set(sf_spiking_config *c, const char *key, const char *v) {
  int e;
  sf_status st;
  sf_hardware_constraints *h = &c->hardware_constraints;
  if (!strcmp(key, "timesteps")) return parse_int(key, v, 1, 1 << 20, &c->timesteps);
  if (!strcmp(key, "leak")) return parse_float(key, v, 0.0f, 1.0f, &c->leak);
  if (!strcmp(key, "burst_levels")) return parse_int(key, v, 1, 127, &c->burst_levels);
  if (!strcmp(key, "seed")) {
    char *end;
    errno = 0;
    unsigned long long s = strtoull(v, &end, 10);
    /* up to 2^53: JSON numbers are doubles, and a larger seed would not survive a saved config */
    if (errno || end == v || *end || strchr(v, '-') || s > (1ULL << 53))
      return sf_error(SF_ERR_ARG, "config key 'seed': expected a whole number from 0 to 2^53, got '%s'", v);
    c->seed = s;
    return SF_OK;
  }
  if (!strcmp(key, "neuron_model")) {
    if ((st = parse_enum(key, v, neuron_names, 3, &e))) return st;
    c->neuron_model = (sf_neuron_model)e;
    return SF_OK;
  }
  if (!strcmp(key, "burst_code")) {
    if ((st = parse_enum(key, v, burst_code_names, 2, &e))) return st;
    c->burst_code = (sf_burst_code)e;
    return SF_OK;
  }
  if (!strcmp(key, "spike_encoding")) {
    if ((st = parse_enum(key, v, encoding_names, 3, &e))) return st;
    c->spike_encoding = (sf_spike_encoding)e;
    return SF_OK;
  }
  if (!strcmp(key, "coding")) {
    if ((st = parse_enum(key, v, coding_names, 2, &e))) return st;
    c->coding = (sf_temporal_coding)e;
    return SF_OK;
  }
  if (!strcmp(key, "reset")) {
    if ((st = parse_enum(key, v, reset_names, 2, &e))) return st;
    c->reset = (sf_reset_mode)e;
    return SF_OK;
  }
  if (!strcmp(key, "v_init")) {
    if ((st = parse_float(key, v, 0.0f, 1.0f, &c->v_init))) return st;
    if (c->v_init >= 1.0f) return sf_error(SF_ERR_ARG, "config key 'v_init': expected a fraction of the threshold in [0, 1), got '%s'", v);
    return SF_OK;
  }
  if (!strcmp(key, "hardware_constraints.max_fan_in")) return parse_int(key, v, 0, 1 << 30, &h->max_fan_in);
  if (!strcmp(key, "hardware_constraints.max_neurons_per_core")) return parse_int(key, v, 0, 1 << 30, &h->max_neurons_per_core);
  return sf_error(SF_ERR_ARG, "unknown config key '%s'", key);
}

/* Keys of an earlier version that nothing read: files that hold them still load. */
static int retired(const char *key) {
  static const char *const keys[] = {"threshold", "surrogate_gradient", "surrogate_slope", "hardware_constraints.weight_bits",
                                     "hardware_constraints.membrane_bits", "hardware_constraints.target", NULL};
  for (int i = 0; keys[i]; i++)
    if (!strcmp(key, keys[i])) return 1;
  return 0;
}

static sf_status set_from_json(sf_spiking_config *c, const char *prefix, const cJSON *obj, const char *path) {
  for (const cJSON *it = obj->child; it; it = it->next) {
    char key[128], val[64];
    snprintf(key, sizeof key, "%s%s", prefix, it->string);
    if (retired(key)) {
      SF_LOGD("%s: config key '%s' is no longer read (nothing used it); skipped", path, key);
      continue;
    }
    if (cJSON_IsObject(it)) {
      char sub[160];
      snprintf(sub, sizeof sub, "%s.", key);
      if (strcmp(key, "hardware_constraints"))
        return sf_error(SF_ERR_FORMAT, "%s: unknown config object '%s'", path, key);
      sf_status st = set_from_json(c, sub, it, path);
      if (st) return st;
      continue;
    }
    if (cJSON_IsNumber(it)) snprintf(val, sizeof val, "%.17g", it->valuedouble);
    else if (cJSON_IsString(it)) snprintf(val, sizeof val, "%s", it->valuestring);
    else if (cJSON_IsNull(it) && !strcmp(key, "hardware_constraints")) continue;
    else return sf_error(SF_ERR_FORMAT, "%s: config key '%s' has an unsupported JSON type", path, key);
    /* Integers arrive as "16" from %.17g; keep it that way for integer keys. */
    sf_status st = sf_config_set(c, key, val);
    if (st) return sf_error_context(st, "%s", path);
  }
  return SF_OK;
}

sf_status sf_config_parse_json(sf_spiking_config *c, const char *text, const char *path) {
  cJSON *root = cJSON_Parse(text);
  if (!root) {
    const char *at = cJSON_GetErrorPtr();
    long off = at ? (long)(at - text) : -1;
    return sf_error(SF_ERR_FORMAT, "%s: invalid JSON near byte %ld", path, off);
  }
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return sf_error(SF_ERR_FORMAT, "%s: expected a JSON object", path);
  }
  sf_status st = set_from_json(c, "", root, path);
  cJSON_Delete(root);
  return st;
}

sf_status sf_config_load_json(sf_spiking_config *c, const char *path) {
  char *text = NULL;
  size_t n = 0;
  sf_status st = sf_read_file(path, &text, &n);
  if (st) return st;
  st = sf_config_parse_json(c, text, path);
  free(text);
  return st;
}

char *sf_config_to_json(const sf_spiking_config *c) {
  cJSON *r = cJSON_CreateObject(), *h = cJSON_CreateObject();
  cJSON_AddNumberToObject(r, "timesteps", c->timesteps);
  cJSON_AddStringToObject(r, "neuron_model", neuron_names[c->neuron_model]);
  cJSON_AddNumberToObject(r, "leak", c->leak);
  cJSON_AddNumberToObject(r, "burst_levels", c->burst_levels);
  cJSON_AddStringToObject(r, "burst_code", burst_code_names[c->burst_code]);
  cJSON_AddStringToObject(r, "spike_encoding", encoding_names[c->spike_encoding]);
  cJSON_AddStringToObject(r, "coding", coding_names[c->coding]);
  cJSON_AddNumberToObject(r, "seed", (double)c->seed);
  cJSON_AddStringToObject(r, "reset", reset_names[c->reset]);
  cJSON_AddNumberToObject(r, "v_init", c->v_init);
  cJSON_AddNumberToObject(h, "max_fan_in", c->hardware_constraints.max_fan_in);
  cJSON_AddNumberToObject(h, "max_neurons_per_core", c->hardware_constraints.max_neurons_per_core);
  cJSON_AddItemToObject(r, "hardware_constraints", h);
  char *s = cJSON_Print(r);
  cJSON_Delete(r);
  return s;
}

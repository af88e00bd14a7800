/* The backend table and the calls of the public interface, which dispatch through it. */
#include <stdlib.h>
#include <string.h>

#include "backend/backend_impl.h"
#include "core/util.h"

static const sf_backend *const backends[] = {&sf_backend_cpu, &sf_backend_loihi2};
#define N_BACKENDS (int)(sizeof backends / sizeof backends[0])

void sf_backend_options_default(sf_backend_options *o) {
  memset(o, 0, sizeof *o);
  o->encoding = SF_ENCODE_DIRECT;
  o->decoder = SF_DECODE_MEMBRANE;
}

sf_status sf_backend_options_new(const sf_backend *b, sf_backend_options **out) {
  *out = calloc(1, sizeof **out);
  if (!*out) return sf_error(SF_ERR_NOMEM, "out of memory");
  sf_backend_options_default(*out);
  void *t = NULL;
  sf_status st = sf_backend_target_new(b, &t);
  if (st) {
    free(*out);
    *out = NULL;
    return st;
  }
  (*out)->target = t;
  return SF_OK;
}

sf_status sf_backend_options_set(sf_backend_options *o, const sf_backend *b, const char *key, const char *value) {
  if (!key || !value) return sf_error(SF_ERR_ARG, "backend option: key and value needed");
  if (!strcmp(key, "encoding")) {
    if (sf_encoding_parse(value, &o->encoding)) return sf_error(SF_ERR_ARG, "backend option 'encoding': direct, rate or latency, not '%s'", value);
    return SF_OK;
  }
  if (!strcmp(key, "decoder")) {
    if (sf_decoder_parse(value, &o->decoder)) return sf_error(SF_ERR_ARG, "backend option 'decoder': membrane or count, not '%s'", value);
    return SF_OK;
  }
  if (!strcmp(key, "raster_neurons")) {
    char *end;
    long n = strtol(value, &end, 10);
    if (end == value || *end || n < 0 || n > 4096) return sf_error(SF_ERR_ARG, "backend option 'raster_neurons': a whole number from 0 to 4096, not '%s'", value);
    o->raster_neurons = (int)n;
    return SF_OK;
  }
  if (!o->target) return sf_error(SF_ERR_ARG, "backend option '%s': these options have no backend struct (make them with sf_backend_options_new)", key);
  return sf_backend_target_set(b, (void *)o->target, key, value);
}

void sf_backend_options_free(sf_backend_options *o) {
  if (!o) return;
  free((void *)o->target);
  free(o);
}

int sf_backend_count(void) { return N_BACKENDS; }
const sf_backend *sf_backend_at(int i) { return i >= 0 && i < N_BACKENDS ? backends[i] : NULL; }
const char *sf_backend_name(const sf_backend *b) { return b->iface.name; }
const char *sf_backend_description(const sf_backend *b) { return b->iface.description; }

sf_status sf_backend_find(const char *name, const sf_backend **out) {
  for (int i = 0; name && i < N_BACKENDS; i++)
    if (!strcmp(backends[i]->iface.name, name)) { *out = backends[i]; return SF_OK; }
  char list[256] = "";
  for (int i = 0; i < N_BACKENDS; i++) { strncat(list, backends[i]->iface.name, sizeof list - strlen(list) - 1); if (i + 1 < N_BACKENDS) strncat(list, ", ", sizeof list - strlen(list) - 1); }
  return sf_error(SF_ERR_ARG, "unknown backend '%s' (available: %s)", name ? name : "(null)", list);
}

sf_status sf_backend_target_new(const sf_backend *b, void **out) {
  *out = calloc(1, b->iface.target_size ? b->iface.target_size : 1);
  if (!*out) return sf_error(SF_ERR_NOMEM, "out of memory");
  if (b->iface.target_default) b->iface.target_default(*out);
  return SF_OK;
}

int sf_backend_target_count(const sf_backend *b) {
  int n = 0;
  while (b->iface.target_keys && b->iface.target_keys[n].key) n++;
  return n;
}

const char *sf_backend_target_key(const sf_backend *b, int i, const char **help) {
  if (i < 0 || i >= sf_backend_target_count(b)) return NULL;
  if (help) *help = b->iface.target_keys[i].help;
  return b->iface.target_keys[i].key;
}

sf_status sf_backend_target_set(const sf_backend *b, void *target, const char *key, const char *value) {
  for (int i = 0; i < sf_backend_target_count(b); i++)
    if (!strcmp(b->iface.target_keys[i].key, key)) return b->iface.target_set(target, key, value ? value : "");
  char list[512] = "";
  for (int i = 0; i < sf_backend_target_count(b); i++) {
    if (i) strncat(list, ", ", sizeof list - strlen(list) - 1);
    strncat(list, b->iface.target_keys[i].key, sizeof list - strlen(list) - 1);
  }
  return sf_error(SF_ERR_ARG, "backend '%s' has no option '%s' (its options: %s)", b->iface.name, key, *list ? list : "none");
}

char *sf_backend_target_describe(const sf_backend *b, const void *target) {
  if (!b->iface.target_describe) return sf_strdup("");
  void *def = NULL;
  if (!target && sf_backend_target_new(b, &def)) return NULL;
  char *s = b->iface.target_describe(target ? target : def);
  free(def);
  return s;
}

int sf_backend_supports_node(const sf_backend *b, const sf_graph *spiking, int node, const char **why) {
  const char *w = NULL;
  int ok = node >= 0 && node < spiking->n_nodes && b->iface.supports_node(spiking, node, &w);
  if (why) *why = ok ? NULL : (w ? w : "no such node");
  return ok;
}

sf_status sf_backend_compile(const sf_backend *b, const sf_snn_model *m, const sf_backend_options *o, sf_compiled **out) {
  *out = NULL;
  sf_backend_options opt;
  if (o) opt = *o;
  else sf_backend_options_default(&opt);
  void *def = NULL;
  sf_status st = SF_OK;
  if (!opt.target) {
    if ((st = sf_backend_target_new(b, &def))) return st;
    opt.target = def;
  }
  sf_compiled *c = calloc(1, sizeof *c);
  if (!c) { free(def); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  c->backend = b;
  st = b->iface.compile(b, m, &opt, &c->state);
  free(def); /* compile copies what it keeps */
  if (st) { free(c); return st; }
  *out = c;
  return SF_OK;
}

const sf_backend *sf_compiled_backend(const sf_compiled *c) { return c->backend; }

sf_status sf_backend_deploy(sf_compiled *c, int64_t batch, sf_deployed **out) {
  *out = NULL;
  if (batch < 1) return sf_error(SF_ERR_ARG, "cannot deploy for a batch of %lld samples: at least 1", (long long)batch);
  sf_deployed *d = calloc(1, sizeof *d);
  if (!d) return sf_error(SF_ERR_NOMEM, "out of memory");
  d->backend = c->backend;
  sf_status st = c->backend->iface.deploy(c->state, batch, &d->state);
  if (st) { free(d); return st; }
  *out = d;
  return SF_OK;
}

sf_status sf_backend_execute(sf_deployed *d, const sf_tensor *input, int T, sf_snn_step_fn cb, void *user) {
  if (T < 1) return sf_error(SF_ERR_ARG, "cannot run %d timesteps: at least 1", T);
  return d->backend->iface.execute(d->state, input, T, cb, user);
}

sf_status sf_backend_execute_frames(sf_deployed *d, const sf_tensor *clips, sf_snn_step_fn cb, void *user) {
  if (!d->backend->iface.execute_frames) return sf_error(SF_ERR_UNSUPPORTED, "backend '%s' does not run clips (frames)", d->backend->iface.name);
  return d->backend->iface.execute_frames(d->state, clips, cb, user);
}

int sf_backend_profile_count(const sf_deployed *d) { return d->backend->iface.profile_count(d->state); }
void sf_backend_profile(const sf_deployed *d, int i, sf_snn_node_stats *out) { d->backend->iface.profile(d->state, i, out); }
void sf_backend_profile_step(const sf_deployed *d, int t, double out[4]) {
  if (d->backend->iface.profile_step) d->backend->iface.profile_step(d->state, t, out);
  else out[0] = out[1] = out[2] = out[3] = 0;
}

const int8_t *sf_backend_raster(const sf_deployed *d, int i, int *T, int *neurons) {
  *T = *neurons = 0;
  return d->backend->iface.raster ? d->backend->iface.raster(d->state, i, T, neurons) : NULL;
}

const char *sf_backend_kernels(const sf_deployed *d) { return d->backend->iface.kernels ? d->backend->iface.kernels(d->state) : ""; }

void sf_deployed_free(sf_deployed *d) {
  if (!d) return;
  d->backend->iface.free_deployed(d->state);
  free(d);
}

void sf_compiled_free(sf_compiled *c) {
  if (!c) return;
  c->backend->iface.free_compiled(c->state);
  free(c);
}

void sf_snn_node_stats_add(sf_snn_node_stats *into, const sf_snn_node_stats *from) {
  into->spikes += from->spikes;
  into->events += from->events;
  into->sops += from->sops;
  into->macs += from->macs;
  into->float_ops += from->float_ops;
  into->neuron_updates += from->neuron_updates;
  into->seconds += from->seconds;
}

#include <stdlib.h>
#include <string.h>

#include "backend/backend_impl.h"

static const sf_backend *const backends[] = {&sf_backend_cpu};
#define N_BACKENDS (int)(sizeof backends / sizeof backends[0])

void sf_backend_options_default(sf_backend_options *o) {
  memset(o, 0, sizeof *o);
  o->path = 0;
  o->event_max_activity = 0.2f;
  o->encoding = SF_ENCODE_DIRECT;
  o->decoder = SF_DECODE_MEMBRANE;
}

int sf_backend_count(void) { return N_BACKENDS; }
const sf_backend *sf_backend_at(int i) { return i >= 0 && i < N_BACKENDS ? backends[i] : NULL; }
const char *sf_backend_name(const sf_backend *b) { return b->iface.name; }

sf_status sf_backend_find(const char *name, const sf_backend **out) {
  for (int i = 0; i < N_BACKENDS; i++)
    if (!strcmp(backends[i]->iface.name, name)) { *out = backends[i]; return SF_OK; }
  char list[256] = "";
  for (int i = 0; i < N_BACKENDS; i++) { strncat(list, backends[i]->iface.name, sizeof list - strlen(list) - 1); if (i + 1 < N_BACKENDS) strncat(list, ", ", sizeof list - strlen(list) - 1); }
  return sf_error(SF_ERR_ARG, "unknown backend '%s' (available: %s)", name, list);
}

sf_status sf_backend_compile(const sf_backend *b, const sf_snn_model *m, const sf_backend_options *o, sf_compiled **out) {
  sf_compiled *c = calloc(1, sizeof *c);
  if (!c) return sf_error(SF_ERR_NOMEM, "out of memory");
  c->backend = b;
  sf_backend_options def;
  if (!o) { sf_backend_options_default(&def); o = &def; }
  sf_status st = b->iface.compile(b, m, o, &c->state);
  if (st) { free(c); return st; }
  *out = c;
  return SF_OK;
}

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
  return d->backend->iface.execute(d->state, input, T, cb, user);
}

int sf_backend_profile_count(const sf_deployed *d) { return d->backend->iface.profile_count(d->state); }
void sf_backend_profile(const sf_deployed *d, int i, sf_snn_node_stats *out) { d->backend->iface.profile(d->state, i, out); }
void sf_backend_profile_step(const sf_deployed *d, int t, double out[4]) {
  if (d->backend->iface.profile_step) d->backend->iface.profile_step(d->state, t, out);
  else out[0] = out[1] = out[2] = out[3] = 0;
}

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

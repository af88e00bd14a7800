/* CPU backend: the time-stepped spiking runtime (src/snn/) with event-driven, bit-packed and
 * dense synaptic paths, OpenMP threads across batch rows and neurons. */
#include <stdlib.h>
#include <string.h>

#include "backend/backend_impl.h"
#include "convert/convert_internal.h"

typedef struct {
  const sf_snn_model *m;
  sf_backend_options o;
} cpu_compiled;

typedef struct {
  sf_graph *g;
  sf_snn_session *s;
} cpu_deployed;

static sf_status cpu_compile(const sf_backend *b, const sf_snn_model *m, const sf_backend_options *o, void **state) {
  (void)b;
  /* validate: the model must build (every node converted) */
  sf_graph *g;
  sf_status st = sf_snn_model_build(m, 1, &g);
  if (st) return st;
  sf_graph_free(g);
  cpu_compiled *c = calloc(1, sizeof *c);
  if (!c) return sf_error(SF_ERR_NOMEM, "out of memory");
  c->m = m;
  c->o = *o;
  *state = c;
  return SF_OK;
}

static sf_status cpu_deploy(void *compiled, int64_t batch, void **state) {
  cpu_compiled *c = compiled;
  cpu_deployed *d = calloc(1, sizeof *d);
  if (!d) return sf_error(SF_ERR_NOMEM, "out of memory");
  sf_status st = sf_snn_model_build(c->m, batch, &d->g);
  sf_spiking_config cfg = sf_snn_model_options(c->m)->snn;
  cfg.spike_encoding = c->o.encoding;
  if (!st) st = sf_snn_session_create(d->g, &cfg, c->o.decoder, &d->s);
  if (!st && (st = sf_snn_set_quant(d->s, c->o.quant))) sf_snn_session_free(d->s);
  if (st) { sf_graph_free(d->g); free(d); return st; }
  sf_snn_set_path(d->s, c->o.path, c->o.event_max_activity);
  *state = d;
  return SF_OK;
}

static sf_status cpu_execute(void *deployed, const sf_tensor *input, int T, sf_snn_step_fn cb, void *user) {
  cpu_deployed *d = deployed;
  return sf_snn_run(d->s, input, T, cb, user);
}

static int cpu_profile_count(const void *deployed) { return sf_snn_num_nodes(((const cpu_deployed *)deployed)->s); }
static void cpu_profile(const void *deployed, int i, sf_snn_node_stats *out) { sf_snn_node_stats_get(((const cpu_deployed *)deployed)->s, i, out); }
static void cpu_profile_step(const void *deployed, int t, double out[4]) {
  sf_snn_step_counts(((const cpu_deployed *)deployed)->s, t, &out[0], &out[1], &out[2], &out[3]);
}

static void cpu_free_deployed(void *p) {
  cpu_deployed *d = p;
  if (!d) return;
  sf_snn_session_free(d->s);
  sf_graph_free(d->g);
  free(d);
}

static void cpu_free_compiled(void *p) { free(p); }

const sf_backend sf_backend_cpu = {{"cpu", "time-stepped SNN runtime on the host CPU (OpenMP, AVX2 where available)", cpu_compile,
                                    cpu_deploy, cpu_execute, cpu_profile_count, cpu_profile, cpu_profile_step, cpu_free_deployed, cpu_free_compiled}};

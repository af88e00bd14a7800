/* Hardware abstraction layer: one interface to every target (the original spec's
 * NeuromorphicBackend): compile -> deploy -> execute -> profile.
 *   compile  check the converted model against the target's limits and lower it
 *   deploy   place the compiled model for a batch size (allocate state, upload)
 *   execute  run T timesteps on a batch of inputs, streaming decoded outputs per step
 *   profile  exact counters: synaptic operations, neuron updates, spikes, per layer
 * Backends plug in through an internal table of function pointers (src/backend/backend_impl.h);
 * "cpu" is the first. */
#ifndef SPIKEFORMER_BACKEND_H
#define SPIKEFORMER_BACKEND_H
#include "spikeformer/convert.h"
#include "spikeformer/snn.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef struct sf_backend sf_backend;
typedef struct sf_compiled sf_compiled;
typedef struct sf_deployed sf_deployed;

typedef struct {
  int path;                  /* 0 auto, 1 dense, 2 event list, 3 bit-packed (CPU) */
  float event_max_activity;  /* auto: event-driven below this fraction of active inputs (default 0.2) */
  sf_spike_encoding encoding;
  sf_decoder decoder;
  int quant;                 /* 0 float; 8: int8 weights with int32 membranes (sf_snn_set_quant) */
  int step_major;            /* 1: never the time-major chain (sf_snn_set_schedule) */
} sf_backend_options;

void sf_backend_options_default(sf_backend_options *o);
/* Find a backend by name ("cpu"); lists the available ones in the error otherwise. */
sf_status sf_backend_find(const char *name, const sf_backend **out);
const char *sf_backend_name(const sf_backend *b);
int sf_backend_count(void);
const sf_backend *sf_backend_at(int i);

sf_status sf_backend_compile(const sf_backend *b, const sf_snn_model *m, const sf_backend_options *o, sf_compiled **out);
sf_status sf_backend_deploy(sf_compiled *c, int64_t batch, sf_deployed **out);
sf_status sf_backend_execute(sf_deployed *d, const sf_tensor *input, int T, sf_snn_step_fn cb, void *user);
/* Per-layer counters of everything executed on this deployment. */
int sf_backend_profile_count(const sf_deployed *d);
void sf_backend_profile(const sf_deployed *d, int i, sf_snn_node_stats *out);
/* Operations executed at timestep t (1-based) over all layers and runs: {SOPs, MACs, float
 * evaluations, neuron updates}. */
void sf_backend_profile_step(const sf_deployed *d, int t, double out[4]);
void sf_deployed_free(sf_deployed *d);
void sf_compiled_free(sf_compiled *c);

#ifdef __cplusplus
}
#endif
#endif

/* Hardware abstraction layer: one interface to every target (the original spec's
 * NeuromorphicBackend): compile -> deploy -> execute -> profile.
 *   compile  check the converted model against the target (every node it must run, its limits)
 *            and lower it
 *   deploy   place the compiled model for a batch size (allocate state, upload)
 *   execute  run T timesteps on a batch of inputs, streaming decoded outputs per step
 *   profile  exact counters: synaptic operations, neuron updates, spikes, per layer and per step
 * Backends plug in through an internal table of function pointers (src/backend/backend_impl.h);
 * "cpu" is the first. Evaluation, profiling, optimisation and the report (eval.h, optimize.h,
 * report.h) run through this interface only, so every backend gets them. */
#ifndef SPIKEFORMER_BACKEND_H
#define SPIKEFORMER_BACKEND_H
#include "spikeformer/export.h"
#include "spikeformer/convert.h"
#include "spikeformer/snn.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef struct sf_backend sf_backend;
typedef struct sf_compiled sf_compiled;
typedef struct sf_deployed sf_deployed;

/* Options every backend takes. What only one backend understands (the CPU's synaptic path or
 * int8 arithmetic) lives in that backend's own options, `target`: for "cpu" an sf_cpu_options
 * (backend_cpu.h); NULL gives the backend's defaults. Front ends that hold options as text (CLI
 * flags, Python keywords) set them by name with sf_backend_target_new / sf_backend_target_set. */
typedef struct {
  sf_spike_encoding encoding;  /* how the input becomes spikes (default: direct, an analog current) */
  sf_decoder decoder;          /* membrane potential (default) or spike counts of the output layer */
  int raster_neurons;          /* > 0: record the spikes of the first N neurons of every neuron layer for sample 0
                                  of the first execute (sf_backend_raster) */
  const void *target;          /* the backend's own options, or NULL */
} sf_backend_options;

SF_API void sf_backend_options_default(sf_backend_options *o);
/* Backend options on the heap, for front ends that set them by name (CLI flags, Python keywords):
 * the defaults plus the backend's own struct as target (owned). sf_backend_options_set takes the
 * generic keys (encoding, decoder, raster_neurons) and the backend's (sf_backend_target_set). */
SF_API sf_status sf_backend_options_new(const sf_backend *b, sf_backend_options **out);
SF_API sf_status sf_backend_options_set(sf_backend_options *o, const sf_backend *b, const char *key, const char *value);
/* Frees an sf_backend_options_new struct and its target. */
SF_API void sf_backend_options_free(sf_backend_options *o);
/* Find a backend by name ("cpu"); lists the available ones in the error otherwise. */
SF_API sf_status sf_backend_find(const char *name, const sf_backend **out);
SF_API const char *sf_backend_name(const sf_backend *b);
SF_API const char *sf_backend_description(const sf_backend *b);
SF_API int sf_backend_count(void);
SF_API const sf_backend *sf_backend_at(int i);

/* The backend's own options by name: a new struct with its defaults (free with free()), one key set
 * from text (an unknown key or value is an error naming the backend, the key and what it takes),
 * and the list of keys with a line of help each. */
SF_API sf_status sf_backend_target_new(const sf_backend *b, void **out);
SF_API sf_status sf_backend_target_set(const sf_backend *b, void *target, const char *key, const char *value);
SF_API int sf_backend_target_count(const sf_backend *b);
SF_API const char *sf_backend_target_key(const sf_backend *b, int i, const char **help);
/* A target struct's settings as text ("path=auto quant=int8 ..."), for reports (caller frees). */
SF_API char *sf_backend_target_describe(const sf_backend *b, const void *target);

/* Whether the backend runs node `node` of a spiking graph (sf_snn_model_build); when not, *why
 * (if given) says why (static text). Compile refuses a model with any node it cannot run and
 * names them. */
SF_API int sf_backend_supports_node(const sf_backend *b, const sf_graph *spiking, int node, const char **why);

SF_API sf_status sf_backend_compile(const sf_backend *b, const sf_snn_model *m, const sf_backend_options *o, sf_compiled **out);
SF_API const sf_backend *sf_compiled_backend(const sf_compiled *c);
SF_API sf_status sf_backend_deploy(sf_compiled *c, int64_t batch, sf_deployed **out);
SF_API sf_status sf_backend_execute(sf_deployed *d, const sf_tensor *input, int T, sf_snn_step_fn cb, void *user);
/* Run clips [batch, T, the input's shape after the batch] (frame t is the input current at step t;
 * direct encoding): rate coding presents each frame at its step, delta coding sends frame 1 and
 * then each frame's difference. SF_ERR_UNSUPPORTED where the backend does not run clips. */
SF_API sf_status sf_backend_execute_frames(sf_deployed *d, const sf_tensor *clips, sf_snn_step_fn cb, void *user);
/* Per-layer counters of everything executed on this deployment. */
SF_API int sf_backend_profile_count(const sf_deployed *d);
SF_API void sf_backend_profile(const sf_deployed *d, int i, sf_snn_node_stats *out);
/* Operations executed at timestep t (1-based) over all layers and runs: {SOPs, MACs, float
 * evaluations, neuron updates}. */
SF_API void sf_backend_profile_step(const sf_deployed *d, int t, double out[4]);
/* The recorded raster of layer i ([T][neurons] signed spike counts of sample 0), or NULL where layer
 * i is not a neuron layer, nothing was recorded (sf_backend_options.raster_neurons) or the backend
 * cannot record. *T and *neurons receive its size. */
SF_API const int8_t *sf_backend_raster(const sf_deployed *d, int i, int *T, int *neurons);
/* What the deployment's kernels run on, for reports (the CPU backend: the int8 kernels' instruction
 * set, "vnni512", "avx2" or "c"); "" where the backend has nothing to say. */
SF_API const char *sf_backend_kernels(const sf_deployed *d);
SF_API void sf_deployed_free(sf_deployed *d);
SF_API void sf_compiled_free(sf_compiled *c);

/* Compile m for b, run the samples of calib (may be NULL: no run) for T steps (< 1: the model's T)
 * to measure traffic, and give the backend's mapping report as JSON and as text (either may be
 * NULL; caller frees): for loihi2 its cores, chips, utilisation and traffic (loihi2.h). */
SF_API sf_status sf_backend_compile_report(const sf_backend *b, const sf_snn_model *m, const sf_backend_options *o, const sf_dataset *calib, int T,
                                           char **json, char **text);

/* Counters of two runs of the same layer added together (a merge across shards or batches). */
SF_API void sf_snn_node_stats_add(sf_snn_node_stats *into, const sf_snn_node_stats *from);

#ifdef __cplusplus
}
#endif
#endif

/* Spiking runtime (time-stepped reference executor).
 * Runs a spiking graph (sf_snn_model_build) for T timesteps, streaming over time: state is one
 * membrane / running sum per neuron and per expectation-compensated input; nothing is kept per
 * timestep. After every step a callback sees the decoded output (accumulated membrane potential /
 * t, or spike counts; under delta coding, cfg.coding, the accumulated membrane potential itself),
 * so accuracy at every t = 1..T comes from one pass. */
#ifndef SPIKEFORMER_SNN_H
#define SPIKEFORMER_SNN_H
#include "spikeformer/export.h"
#include <stdint.h>

#include "spikeformer/config.h"
#include "spikeformer/graph.h"
#include "spikeformer/tensor.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef struct sf_snn_session sf_snn_session;

typedef enum { SF_DECODE_MEMBRANE = 0, SF_DECODE_COUNT } sf_decoder;
/* How a node of a spiking graph runs (convert.h): on spike increments (LINEAR), as a product of two
 * spike streams (PRODUCT), as a float function by expectation compensation (EC), or as a neuron.
 * NONE: not a node of a converted graph. */
typedef enum { SF_MODE_NONE = 0, SF_MODE_LINEAR, SF_MODE_PRODUCT, SF_MODE_EC, SF_MODE_NEURON, SF_MODE_COUNT } sf_spiking_mode;
SF_API const char *sf_spiking_mode_name(sf_spiking_mode m); /* "linear", "product", "ec", "neuron", "?" */
/* The mode of node i of a spiking graph (sf_snn_model_build). */
SF_API sf_spiking_mode sf_graph_node_mode(const sf_graph *spiking, int i);
/* Synaptic path of layers fed by spikes. AUTO: event-driven where the measured activity of a step
 * is below event_max_activity (default 0.2), dense otherwise; DENSE; EVENT (event list);
 * BITPACKED (a bit-plane scan of the non-zero mask). All paths give the same spikes. */
typedef enum { SF_PATH_AUTO = 0, SF_PATH_DENSE, SF_PATH_EVENT, SF_PATH_BITPACKED } sf_spike_path;
/* Arithmetic of the spiking layers: float, or int8 weights with int32 accumulators and membranes. */
typedef enum { SF_QUANT_FLOAT = 0, SF_QUANT_INT8 = 8 } sf_quant;
/* AUTO: a feed-forward int8 chain runs time-major (one sample through a block of steps, layer after
 * layer), everything else step-major; STEP: always step-major. Both give identical spikes. */
typedef enum { SF_SCHEDULE_AUTO = 0, SF_SCHEDULE_STEP } sf_schedule;
SF_API const char *sf_decoder_name(sf_decoder d);
SF_API int sf_decoder_parse(const char *name, sf_decoder *out);
SF_API const char *sf_spike_path_name(sf_spike_path p);
SF_API const char *sf_quant_name(sf_quant q);
SF_API const char *sf_schedule_name(sf_schedule s);
/* Parse "auto|dense|event|bitpacked", "float|int8", "auto|step": 0, or -1 for an unknown name. */
SF_API int sf_spike_path_parse(const char *name, sf_spike_path *out);
SF_API int sf_quant_parse(const char *name, sf_quant *out);
SF_API int sf_schedule_parse(const char *name, sf_schedule *out);

typedef struct {
  const char *name, *op_type;
  sf_spiking_mode mode;  /* linear, product, ec, neuron (sf_spiking_mode_name) */
  int64_t neurons;       /* neuron nodes: neurons per sample */
  double spikes;         /* neuron nodes: unit spikes emitted (a burst of k counts k) */
  double events;         /* spike events delivered to this node's inputs (non-zero entries) */
  double sops;           /* synaptic operations: accumulates triggered by spike events */
  double macs;           /* multiply-accumulates (analog-input layers) */
  double float_ops;      /* float function evaluations (expectation compensation) */
  double neuron_updates; /* membrane updates */
  int spike_input;       /* 1 if the node's input is spikes (accumulate-only) */
  int int8;              /* 1 if the node runs on int8 weights / int32 state (sf_snn_set_quant) */
  int time_major;        /* 1 if the node ran in a time-major chain (sf_snn_set_schedule) */
  double seconds;        /* thread-seconds spent running this node (wall time of its steps, summed over shards) */
} sf_snn_node_stats;

/* The graph must outlive the session. cfg: spike_encoding (direct, rate, latency), coding (rate,
 * delta: direct encoding, the membrane decoder and non-leaky neurons only), seed. */
SF_API sf_status sf_snn_session_create(const sf_graph *spiking, const sf_spiking_config *cfg, sf_decoder decoder, sf_snn_session **out);
SF_API void sf_snn_session_free(sf_snn_session *s);

/* Called after step t (1-based) with the decoded first output [batch, ...]. Return non-zero to stop. */
typedef int (*sf_snn_step_fn)(int t, const sf_tensor *decoded, void *user);
/* Bytes of state per sample a session of this graph works through at every step (increments,
 * running sums, membranes), from the graph's shapes; divide by the graph's batch size. */
SF_API int64_t sf_snn_state_bytes(const sf_graph *spiking);
/* SF_ERR_VALUE naming the first NaN or infinite input (sample, element), else SF_OK. */
SF_API sf_status sf_snn_input_check(const sf_tensor *input);
/* The error sf_snn_input_check raises for element `element` of sample `sample` (of `samples`). */
SF_API sf_status sf_snn_input_nonfinite(int64_t sample, int64_t samples, int64_t element);
/* Run T steps on one batch of inputs (the graph's batch size); the inputs must be finite. */
SF_API sf_status sf_snn_run(sf_snn_session *s, const sf_tensor *input, int T, sf_snn_step_fn cb, void *user);
/* Run on a clip per sample: clips [batch, T, the input's shape after the batch], float32; frame t is
 * the input current at step t (direct encoding only). Rate coding presents each frame at its step;
 * delta coding sends frame 1 and then each frame's difference from the one before, so a step whose
 * frames did not change has nothing to do. T = clips' second dimension; the callback as above. */
SF_API sf_status sf_snn_run_frames(sf_snn_session *s, const sf_tensor *clips, sf_snn_step_fn cb, void *user);
/* Synaptic path for layers fed by spikes (sf_spike_path); event_max_activity <= 0 keeps 0.2. */
SF_API void sf_snn_set_path(sf_snn_session *s, sf_spike_path path, float event_max_activity);
/* Quantised execution: SF_QUANT_INT8 runs every linear layer fed directly by a neuron's spikes on int8
 * weights (the presynaptic threshold folded in, one scale per output column) with int32
 * accumulators, and every neuron with an int32 membrane (in the feeding layer's weight units, or
 * theta / 4096 where its input is a float current). SF_QUANT_FLOAT (default) runs float. Set once,
 * before run. */
SF_API sf_status sf_snn_set_quant(sf_snn_session *s, sf_quant quant);
/* The same, sharing the int8 weight tables of `donor` (a session of the same model, another batch
 * size, already quantised the same way) instead of quantising again: the tables are read-only, so any
 * number of sessions on any threads can use one copy. The donor must outlive this session. */
SF_API sf_status sf_snn_set_quant_shared(sf_snn_session *s, sf_quant quant, const sf_snn_session *donor);
/* Schedule: SF_SCHEDULE_AUTO (default) runs a feed-forward int8 chain (constant input -> neurons ->
 * int8 linears -> ... -> output, as a converted MLP is) time-major: one sample through a block of up
 * to 32 steps, layer after layer, its state in L1; everything else step-major (every layer over the
 * batch at each step). SF_SCHEDULE_STEP always runs step-major. Both give identical spikes. */
SF_API void sf_snn_set_schedule(sf_snn_session *s, sf_schedule schedule);
/* 1 if runs of this session take the time-major chain. */
SF_API int sf_snn_time_major(const sf_snn_session *s);
/* Linear layers on spikes that run in int8 / stay float; returns the session's sf_quant. */
SF_API sf_quant sf_snn_quant_layers(const sf_snn_session *s, int *int8_linears, int *float_linears);
/* How many steps node i ran event-driven / dense. */
SF_API void sf_snn_path_counts(const sf_snn_session *s, int i, int64_t *event_steps, int64_t *dense_steps);
/* Record the spikes (signed counts) of sample 0 of the next run: for every neuron layer, its first
 * `neurons` neurons at steps 1..T. sf_snn_raster gives [T][neurons] for a neuron node, else NULL. */
SF_API sf_status sf_snn_record_raster(sf_snn_session *s, int neurons, int T);
SF_API const int8_t *sf_snn_raster(const sf_snn_session *s, int node);
/* Operations executed at timestep t (1-based), summed over all layers and runs. */
SF_API void sf_snn_step_counts(const sf_snn_session *s, int t, double *sops, double *macs, double *float_ops, double *neuron_updates);
/* Counters accumulated over all runs since creation (or the last reset). */
SF_API int sf_snn_num_nodes(const sf_snn_session *s);
SF_API void sf_snn_node_stats_get(const sf_snn_session *s, int i, sf_snn_node_stats *out);
SF_API void sf_snn_reset_stats(sf_snn_session *s);

#ifdef __cplusplus
}
#endif
#endif

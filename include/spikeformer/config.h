/* SpikingConfig: how a model runs as a spiking network. Defaults follow the original spec
 * (timesteps 32, LIF, rate coding). Read from a JSON file ({"timesteps": 16, "neuron_model": "if",
 * "hardware_constraints": {"max_fan_in": 4096}}) and overridable key by key (the CLI's flags).
 * Keys an earlier version had but nothing read (threshold, surrogate_gradient, surrogate_slope,
 * hardware_constraints.weight_bits / membrane_bits / target) are skipped with a warning when a
 * JSON file (or an older .sfm) holds them, and refused as flags. */
#ifndef SPIKEFORMER_CONFIG_H
#define SPIKEFORMER_CONFIG_H
#include "spikeformer/export.h"
#include <stdint.h>

#include "spikeformer/status.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef enum { SF_NEURON_IF = 0, SF_NEURON_LIF, SF_NEURON_BURST } sf_neuron_model;
typedef enum { SF_ENCODE_RATE = 0, SF_ENCODE_DIRECT, SF_ENCODE_LATENCY } sf_spike_encoding;
/* How a burst neuron's k spikes of one step travel to its targets. UNARY: k unit spikes, each one
 * synaptic event (an add) at every target. BINARY: one spike per set bit of k, spike b weighted
 * 2^b (weighted spikes, Kim et al., Neurocomputing 311, 2018): the target adds the weight row into
 * one accumulator per bit and combines them with shifts, so a count k costs popcount(k) events. */
typedef enum { SF_BURST_UNARY = 0, SF_BURST_BINARY } sf_burst_code;
/* What a neuron's spikes carry over time. RATE: the activation is the mean over steps (every step
 * re-sends it; accuracy grows with T). DELTA: sigma-delta coding (Loihi 2's SDNN neurons): the
 * activation is the sum over steps; the input and constants arrive once, every step sends only
 * what changed, and a node whose inputs did not change does not run. On a static input the network
 * settles once the values are sent; later steps carry only what a burst could not send at once. */
typedef enum { SF_CODING_RATE = 0, SF_CODING_DELTA } sf_temporal_coding;
/* What a neuron does with its membrane when it fires. SUBTRACT (default, the converter's neuron):
 * v <- u - k theta, spike when u >= theta, so nothing above the threshold is lost. ZERO: v <- 0,
 * spike when u > theta (strictly), the dynamics of snnTorch's Leaky(reset_mechanism="zero"),
 * NIR's LIF with v_reset = 0 and Lava's LIF: what a NIR reader runs (docs/nir.md). */
typedef enum { SF_RESET_SUBTRACT = 0, SF_RESET_ZERO } sf_reset_mode;
/* Limits the ArchitectureValidator checks a converted network against. */
typedef struct {
  int max_fan_in;          /* 0 = unlimited */
  int max_neurons_per_core;/* 0 = unlimited */
} sf_hardware_constraints;

typedef struct {
  int timesteps;
  sf_neuron_model neuron_model;
  float leak;              /* LIF: v <- leak * v + input (1.0 = no leak) */
  int burst_levels;        /* BURST: max spikes per step */
  sf_burst_code burst_code;/* BURST: unary or binary (weighted) spikes */
  sf_spike_encoding spike_encoding;
  sf_temporal_coding coding; /* rate (default) or delta (sigma-delta) */
  uint64_t seed;
  sf_hardware_constraints hardware_constraints;
  sf_reset_mode reset;     /* reset by subtraction (default) or to zero */
  float v_init;            /* membrane at the start of a run, as a fraction of theta in [0, 1) (default 0.5) */
} sf_spiking_config;

SF_API void sf_config_default(sf_spiking_config *c);
/* A config with the defaults on the heap (for bindings that cannot size the struct); sf_config_free. */
SF_API sf_spiking_config *sf_config_new(void);
SF_API void sf_config_free(sf_spiking_config *c);
/* Load keys from a JSON file over the current values. Unknown keys are an error. */
SF_API sf_status sf_config_load_json(sf_spiking_config *c, const char *path);
/* Parse JSON text (path is only used in messages). */
SF_API sf_status sf_config_parse_json(sf_spiking_config *c, const char *text, const char *path);
/* Set one key from a string ("timesteps", "16"); nested keys as "hardware_constraints.max_fan_in". */
SF_API sf_status sf_config_set(sf_spiking_config *c, const char *key, const char *value);
/* JSON text of the whole config (caller frees). */
SF_API char *sf_config_to_json(const sf_spiking_config *c);
SF_API const char *sf_neuron_model_name(sf_neuron_model m);
SF_API const char *sf_encoding_name(sf_spike_encoding e);
SF_API const char *sf_burst_code_name(sf_burst_code c);
SF_API const char *sf_coding_name(sf_temporal_coding c);
SF_API const char *sf_reset_name(sf_reset_mode r);
/* Parse the names above (case-insensitive): 0, or -1 for an unknown name. */
SF_API int sf_neuron_model_parse(const char *name, sf_neuron_model *out);
SF_API int sf_encoding_parse(const char *name, sf_spike_encoding *out);
SF_API int sf_burst_code_parse(const char *name, sf_burst_code *out);
SF_API int sf_coding_parse(const char *name, sf_temporal_coding *out);
SF_API int sf_reset_parse(const char *name, sf_reset_mode *out);
/* 1 if the config makes burst neurons whose counts travel in binary code */
SF_API int sf_config_binary_bursts(const sf_spiking_config *c);

#ifdef __cplusplus
}
#endif
#endif

/* SpikingConfig: how a model runs as a spiking network. Defaults follow the original spec
 * (timesteps 32, threshold 1.0, LIF, rate coding, fast-sigmoid surrogate). Read from a JSON file
 * ({"timesteps": 16, "neuron_model": "if", "hardware_constraints": {"max_fan_in": 4096}}) and
 * overridable key by key (the CLI's flags). */
#ifndef SPIKEFORMER_CONFIG_H
#define SPIKEFORMER_CONFIG_H
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
typedef enum { SF_SURROGATE_FAST_SIGMOID = 0, SF_SURROGATE_ATAN, SF_SURROGATE_RECTANGULAR, SF_SURROGATE_TRIANGLE } sf_surrogate;

typedef struct {
  int max_fan_in;          /* 0 = unlimited */
  int max_neurons_per_core;/* 0 = unlimited */
  int weight_bits;         /* 0 = float */
  int membrane_bits;       /* 0 = float */
  char target[32];         /* "cpu", "loihi2", "spinnaker2", "edge" */
} sf_hardware_constraints;

typedef struct {
  int timesteps;
  float threshold;
  sf_neuron_model neuron_model;
  float leak;              /* LIF: v <- leak * v + input (1.0 = no leak) */
  int burst_levels;        /* BURST: max spikes per step */
  sf_burst_code burst_code;/* BURST: unary or binary (weighted) spikes */
  sf_spike_encoding spike_encoding;
  sf_temporal_coding coding; /* rate (default) or delta (sigma-delta) */
  sf_surrogate surrogate_gradient;
  float surrogate_slope;
  uint64_t seed;
  sf_hardware_constraints hardware_constraints;
} sf_spiking_config;

void sf_config_default(sf_spiking_config *c);
/* Load keys from a JSON file over the current values. Unknown keys are an error. */
sf_status sf_config_load_json(sf_spiking_config *c, const char *path);
/* Parse JSON text (path is only used in messages). */
sf_status sf_config_parse_json(sf_spiking_config *c, const char *text, const char *path);
/* Set one key from a string ("timesteps", "16"); nested keys as "hardware_constraints.max_fan_in". */
sf_status sf_config_set(sf_spiking_config *c, const char *key, const char *value);
/* JSON text of the whole config (caller frees). */
char *sf_config_to_json(const sf_spiking_config *c);
const char *sf_neuron_model_name(sf_neuron_model m);
const char *sf_encoding_name(sf_spike_encoding e);
const char *sf_surrogate_name(sf_surrogate s);
const char *sf_burst_code_name(sf_burst_code c);
const char *sf_coding_name(sf_temporal_coding c);
/* 1 if the config makes burst neurons whose counts travel in binary code */
int sf_config_binary_bursts(const sf_spiking_config *c);

#ifdef __cplusplus
}
#endif
#endif

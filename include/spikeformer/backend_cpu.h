/* Options of the "cpu" backend (the time-stepped spiking runtime on the host, src/snn/), passed as
 * sf_backend_options.target. By name (sf_backend_target_set): path, event_max_activity, quant,
 * schedule. */
#ifndef SPIKEFORMER_BACKEND_CPU_H
#define SPIKEFORMER_BACKEND_CPU_H
#include "spikeformer/export.h"
#include "spikeformer/snn.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  sf_spike_path path;        /* synaptic path of spike-fed layers (default auto) */
  float event_max_activity;  /* auto: event-driven below this fraction of active inputs (default 0.2) */
  sf_quant quant;            /* float (default), or int8 weights with int32 accumulators and membranes */
  sf_schedule schedule;      /* auto (default): feed-forward int8 chains time-major; step: always step-major */
} sf_cpu_options;

SF_API void sf_cpu_options_default(sf_cpu_options *o);

#ifdef __cplusplus
}
#endif
#endif

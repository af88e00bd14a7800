/* Energy: per-operation energy models read from data files (every figure names its model and its
 * sources), and power monitors that measure where the machine allows it (Linux RAPL through
 * powercap sysfs; NVIDIA NVML loaded at run time) and otherwise say why they cannot. */
#ifndef SPIKEFORMER_ENERGY_H
#define SPIKEFORMER_ENERGY_H
#include "spikeformer/export.h"
#include "spikeformer/status.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  char name[64];
  char *description;
  char *sources;       /* "; "-joined */
  double mac, ac, float_op, neuron_update, weight_read, activation_write; /* pJ */
} sf_energy_model;

/* Counts for one layer or one whole inference (per sample). */
typedef struct {
  double macs, sops, float_ops, neuron_updates, activations;
} sf_op_counts;

/* Load every *.json model in dir (sorted by name). Default dir: SPIKEFORMER_ENERGY_DIR, else the
 * installed share/spikeformer/energy, else the source tree's data/energy. */
SF_API sf_status sf_energy_models_load(const char *dir, sf_energy_model **out, int *n);
SF_API void sf_energy_models_free(sf_energy_model *m, int n);
SF_API const char *sf_energy_default_dir(void);
/* Energy in pJ of these counts under a model. An SNN's accumulates read a weight each, like MACs. */
SF_API double sf_energy_pj(const sf_energy_model *m, const sf_op_counts *c);

/* The ANN's counts per sample (MACs, float evaluations, activations written), from the analyzer. */
struct sf_graph;
SF_API sf_status sf_energy_ann_counts(const struct sf_graph *ann, sf_op_counts *out);

/* PowerMonitor: what can be measured here. Opened once (it probes RAPL package domains and loads
 * NVML at run time), read as often as needed, closed at the end. */
typedef struct sf_power_monitor sf_power_monitor;

/* Probe what can be measured here (never invents a number). NULL only when out of memory. */
SF_API sf_power_monitor *sf_power_monitor_open(void);
SF_API int sf_power_monitor_rapl_available(const sf_power_monitor *pm);
/* Why RAPL (or NVML) cannot be read here, or "" where it can. */
SF_API const char *sf_power_monitor_rapl_reason(const sf_power_monitor *pm);
SF_API int sf_power_monitor_gpu_available(const sf_power_monitor *pm);
SF_API const char *sf_power_monitor_gpu_reason(const sf_power_monitor *pm);
/* GPU 0's name where NVML found one, else "". */
SF_API const char *sf_power_monitor_gpu_name(const sf_power_monitor *pm);
/* Joules counted by RAPL (sum over package domains) since an arbitrary origin; -1 if unavailable. */
SF_API double sf_power_monitor_rapl_joules(const sf_power_monitor *pm);
/* Joules counted by GPU 0's NVML energy counter since the driver loaded; -1 if unavailable. */
SF_API double sf_power_monitor_gpu_joules(const sf_power_monitor *pm);
/* GPU 0's current power draw in watts (NVML); -1 if unavailable. */
SF_API double sf_power_monitor_gpu_watts(const sf_power_monitor *pm);
/* Release NVML and the monitor (NULL is fine). */
SF_API void sf_power_monitor_close(sf_power_monitor *pm);

#ifdef __cplusplus
}
#endif
#endif

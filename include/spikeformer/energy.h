/* Energy: per-operation energy models read from data files (every figure names its model and its
 * sources), and power monitors that measure where the machine allows it (Linux RAPL through
 * powercap sysfs; NVIDIA NVML loaded at run time) and otherwise say why they cannot. */
#ifndef SPIKEFORMER_ENERGY_H
#define SPIKEFORMER_ENERGY_H
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
sf_status sf_energy_models_load(const char *dir, sf_energy_model **out, int *n);
void sf_energy_models_free(sf_energy_model *m, int n);
const char *sf_energy_default_dir(void);
/* Energy in pJ of these counts under a model. An SNN's accumulates read a weight each, like MACs. */
double sf_energy_pj(const sf_energy_model *m, const sf_op_counts *c);

/* The ANN's counts per sample (MACs, float evaluations, activations written), from the analyzer. */
struct sf_graph;
sf_status sf_energy_ann_counts(const struct sf_graph *ann, sf_op_counts *out);

typedef struct {
  int rapl_available, nvml_available;
  char rapl_reason[512], nvml_reason[256];
  int n_domains;
  char domain[8][256];
  char path[8][512];
  double max_uj[8];
  char gpu_name[96];
  void *nvml_lib, *nvml_dev;         /* NVML handles while open (sf_power_monitor_close) */
  int nvml_energy;                   /* the GPU has a total-energy counter (Volta and later) */
} sf_power_monitor;

/* Probe what can be measured here (never invents a number). */
void sf_power_monitor_probe(sf_power_monitor *pm);
/* Joules counted by RAPL (sum over package domains) since an arbitrary origin; -1 if unavailable. */
double sf_power_monitor_rapl_joules(const sf_power_monitor *pm);
/* Joules counted by GPU 0's NVML energy counter since the driver loaded; -1 if unavailable. */
double sf_power_monitor_gpu_joules(const sf_power_monitor *pm);
/* GPU 0's current power draw in watts (NVML); -1 if unavailable. */
double sf_power_monitor_gpu_watts(const sf_power_monitor *pm);
/* Release NVML (safe on a monitor that found none). */
void sf_power_monitor_close(sf_power_monitor *pm);

#ifdef __cplusplus
}
#endif
#endif

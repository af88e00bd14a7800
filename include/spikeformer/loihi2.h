/* Loihi 2: the "loihi2" backend (compile, deploy, execute, profile through backend.h) and the
 * Lava-DL netx export. "Loihi 2" means bit-exact with Lava's fixed-point process models, the open
 * model of the chip (NxSDK is closed):
 *   Dense    (lava.proc.dense PyDenseModelBitAcc) 8-bit weights and a magnitude bit (mixed sign:
 *            [-256, 254]), binary spikes in, the accumulated sum sent one step later;
 *   CUBA LIF (lava.proc.lif PyLifModelBitAcc) 12-bit du/dv, 24-bit u (wraps) and v (saturates),
 *            17-bit threshold mantissa: spike when v > vth << 6, v reset to 0; bias mantissa << 6.
 * A converted spiking network is lowered to that world (src/backend/loihi2_lower.c): thresholds
 * folded into the weights so that a layer has one integer threshold, reset by subtraction mapped to
 * Lava's reset to zero, the first layer's analog input fed as integer currents round(x 2^E) into a
 * layer of input neurons. docs/loihi2.md has the formulas, the conventions of the netx file and
 * what each mapping costs. */
#ifndef SPIKEFORMER_LOIHI2_H
#define SPIKEFORMER_LOIHI2_H
#include "spikeformer/export.h"
#include <stdint.h>

#include "spikeformer/backend.h"
#include "spikeformer/convert.h"
#ifdef __cplusplus
extern "C" {
#endif

#define SF_LOIHI2_MAX_EXCLUDED 256

/* The loihi2 backend's own options (sf_backend_options.target); by name through
 * sf_backend_target_set: family, sdnn_vth, input_exp, input_rate, vth_scale, weight_percentile, design_timesteps, cores_per_chip,
 * max_chips, exclude_cores, fault_dead, fault_stuck, fault_drop, fault_seed, mask_stuck, trace. */
typedef struct {
  int family;             /* 0 auto (delta-coded models: sdnn, else cuba), 1 cuba (LIF), 2 sdnn (sigma-delta) */
  float sdnn_vth;         /* sdnn: a neuron sends a change once it reaches this fraction of its layer's median threshold (default 0.1) */
  int input_exp;          /* E: each input x enters its input neuron as round(x 2^E) per step (default 8) */
  float input_rate;       /* input neurons spike once per input_rate of accumulated x (default 1) */
  float vth_scale;        /* every hidden threshold times this (default 1): fewer spikes, less loss to reset-to-zero per spike */
  double weight_percentile; /* hidden layers: this percentile of |weight / threshold| maps to 254, the rest clipped (default 99.9; 100: the largest) */
  int design_timesteps;   /* the output layer's voltage is scaled so that this many steps never saturate (0: 64) */
  int cores_per_chip;     /* neurocores per chip (default 128) */
  int max_chips;          /* refuse a mapping that needs more chips (0: no limit) */
  int n_excluded;         /* failed cores (global core index chip * cores_per_chip + core): mapped around */
  int excluded[SF_LOIHI2_MAX_EXCLUDED];
  double fault_dead;      /* fraction of neurons that never spike */
  double fault_stuck;     /* fraction of neurons that spike at every step */
  double fault_drop;      /* probability that a spike message is lost */
  uint64_t fault_seed;    /* which neurons and messages (default 1) */
  int mask_stuck;         /* > 0: before the first run, a self-test on the blank input and this many inputs masks neurons that spike at every step */
  char trace[1024];       /* a file that receives, per sample, a hash of all its spikes and its readout ("" none) */
} sf_loihi2_options;

SF_API void sf_loihi2_options_default(sf_loihi2_options *o);

/* The mapping report of a model compiled for loihi2 (cores, chips, utilisation per core, what
 * runs on the host) as JSON; after a deployment has executed, the measured traffic (spike
 * messages per step inside a core, between cores, between chips, host <-> chip) too. Caller frees. */
SF_API char *sf_loihi2_report_json(const sf_compiled *c, const sf_deployed *d);
/* The same as text for a terminal. Caller frees. */
SF_API char *sf_loihi2_report_text(const sf_compiled *c, const sf_deployed *d);

/* Write the lowered network as a Lava-DL netx HDF5 file (layer/<i>/ groups that
 * lava.lib.dl.netx.hdf5.Network reads, plus SpikeFormer's conventions as extra datasets:
 * layer/0/input_scale_exp, layer/0/input_steps, layer/<last>/readout). The file is written to a
 * temporary name and renamed: no half-written output. o may be NULL (defaults). */
SF_API sf_status sf_export_netx(const sf_snn_model *m, const sf_loihi2_options *o, const char *path);

#ifdef __cplusplus
}
#endif
#endif

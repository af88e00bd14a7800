/* NIR (the Neuromorphic Intermediate Representation, neuromorphs/NIR 1.0) in and out.
 *
 * Export: the feed-forward spiking part of a converted model (.sfm) as a NIR 1.0 HDF5 file, in the
 * dialect of the reader it is for. NIR is continuous-time and stores no dt; each reader discretises
 * it its own way, so each dialect writes the continuous-time parameters (tau, r, v_threshold,
 * v_reset) that its reader turns back into our discrete neuron u = leak v + x, spike when u
 * crosses theta (docs/nir.md has the table per dialect):
 *   generic       NIR as NIR defines it, dt = 1e-4: LIF (tau = dt / (1 - leak), r = tau / dt) or IF
 *                 (r = 1 / dt), v_threshold = theta per neuron, then Scale(theta) (our spike carries
 *                 theta); reset mode and initial membrane in the node's metadata. SpikeFormer's own
 *                 import reads it back exactly.
 *   snntorch      what snnTorch 0.9.4's import_from_nir runs correctly: LIF only (its IF import is
 *                 broken; an IF is LIF tau = 1e4, r = tau / dt), dt = 1e-4, thresholds folded into
 *                 the weights (uniform v_threshold 1, as its reader asserts), AvgPool2d, Flatten
 *                 with negative dims (its Flatten counts the batch). snnTorch resets to zero from 0.
 *   norse         dt = 1e-3, LIF, thresholds folded (not checked against Norse: not installed here)
 *   spikingjelly  dt = 1e-4, IF with r = 1 / dt, LIF, thresholds folded (not checked here)
 *   lava          dt = 1e-4, LIF / IF, SumPool2d (1 / k^2 folded into the next layer), no Scale
 *                 (NIR's Lava path reads LIF, CubaLIF, IF, Affine, Linear, Conv2d, Flatten,
 *                 SumPool2d only; not checked here)
 *   spinnaker2    as lava with dt = 1e-3 (not checked here)
 * What NIR cannot express is refused naming the node: max pooling, softmax, LayerNorm, attention
 * and other products of spike streams, signed neurons (NIR spikes are 0 / 1), burst neurons (more
 * than one spike per step), graphs that are not a chain. `partial` exports the chain from the
 * input up to the first such node (the MLP / CNN part of a model), `until` up to a named node.
 *
 * Import: a NIR file (ours, snnTorch's exporter's, or written by hand) as a model the runtime runs:
 * Input, Output, Affine, Linear, Conv1d / Conv2d, Flatten, SumPool2d, AvgPool2d, Scale, IF, LIF,
 * CubaLIF (without synaptic decay), Threshold, nested NIRGraphs (inlined). Neurons reset to
 * v_reset = 0 and start from 0 (NIR's readers), unless our metadata says otherwise. The result is
 * an ordinary .sfm (a SpikeformerSequential source with its neurons in it). A file that is
 * truncated, lacks a field, has a wrong type string, edges to unknown nodes, a cycle or shapes that
 * do not chain is refused naming the node and the field. */
#ifndef SPIKEFORMER_NIR_H
#define SPIKEFORMER_NIR_H
#include "spikeformer/export.h"
#include "spikeformer/convert.h"
#include "spikeformer/status.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  SF_NIR_GENERIC = 0,
  SF_NIR_SNNTORCH,
  SF_NIR_NORSE,
  SF_NIR_SPIKINGJELLY,
  SF_NIR_LAVA,
  SF_NIR_SPINNAKER2,
  SF_NIR_DIALECT_COUNT
} sf_nir_dialect;

typedef struct {
  sf_nir_dialect dialect;  /* default generic */
  double dt;               /* 0: the dialect's (export: written as the graph's metadata; import: used where a file has none) */
  int partial;             /* export: the chain from the input up to the first node NIR cannot express */
  const char *until;       /* export: up to and including this node of the spiking graph (NULL: all) */
  int timesteps;           /* import: the T stored with the model (0: 16) */
} sf_nir_options;

SF_API void sf_nir_options_default(sf_nir_options *o);
/* One option from text (dialect, dt, partial, until, timesteps); an unknown key or value is an
 * error naming both. `until` keeps the pointer it is given. */
SF_API sf_status sf_nir_options_set(sf_nir_options *o, const char *key, const char *value);
SF_API const char *sf_nir_dialect_name(sf_nir_dialect d);
SF_API int sf_nir_dialect_parse(const char *name, sf_nir_dialect *out);
/* The dialect's dt (seconds). */
SF_API double sf_nir_dialect_dt(sf_nir_dialect d);

/* Write the model's spiking graph to `path` (atomically: a failure leaves no file). report (may be
 * NULL): JSON text (nodes written with their NIR types, the dialect and dt, what was folded, the
 * dynamics the reader will run, where a partial export stopped); free with sf_free. */
SF_API sf_status sf_export_nir(const sf_snn_model *m, const char *path, const sf_nir_options *o, char **report);
/* Read a NIR file into a model; report as above (nodes read, what each became). */
SF_API sf_status sf_import_nir(const char *path, const sf_nir_options *o, sf_snn_model **out, char **report);

#ifdef __cplusplus
}
#endif
#endif

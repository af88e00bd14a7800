/* Conversion engine: a pre-trained ANN becomes a spiking network.
 *
 * The ANN is specialised and fused (transformer-level ops), BatchNorm is folded into the
 * preceding convolution, and spiking neurons are inserted wherever an op needs spikes at its input
 * (every Linear / Conv / Gemm fed by a computed value, both operands of a product of two
 * activations). Each neuron gets thresholds from activation statistics on calibration data
 * (ThresholdCalibrator). Every node then runs in one of these modes:
 *   linear   on per-step increments, constants injected every step as currents (exact)
 *   product  product of two spike streams (Q*Kt, attention*V): exact on running sums
 *   ec       expectation compensation: O_t = t f(mean_t) - (t-1) f(mean_{t-1}) (float at runtime)
 *   neuron   IF / LIF / burst neuron, reset by subtraction, membrane initialised to theta/2
 * A node that fits none of them fails the conversion with its name and the reason. */
#ifndef SPIKEFORMER_CONVERT_H
#define SPIKEFORMER_CONVERT_H
#include <stdint.h>

#include "spikeformer/config.h"
#include "spikeformer/dataset.h"
#include "spikeformer/graph.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef enum { SF_POLICY_MAX = 0, SF_POLICY_PERCENTILE, SF_POLICY_MSE } sf_threshold_policy;

typedef struct {
  sf_threshold_policy policy;
  double percentile;         /* for SF_POLICY_PERCENTILE, e.g. 99.9 */
  int per_channel;           /* one threshold per channel (default 1) */
  int calib_samples;         /* default 512 */
  int calib_batch;           /* default 128 */
  sf_spiking_config snn;     /* timesteps (the T thresholds are tuned for), neuron model, burst levels, leak */
  int relu_ec;               /* 1: ReLU as expectation-compensated ReLU + signed neuron; 0: unsigned IF neuron */
  int native_gelu;           /* spike-native alternative: GELU replaced by the IF neuron's ReLU (costs accuracy) */
} sf_convert_options;

void sf_convert_options_default(sf_convert_options *o);
const char *sf_policy_name(sf_threshold_policy p);
int sf_policy_parse(const char *s, sf_threshold_policy *p);

typedef struct sf_snn_model sf_snn_model;

/* Calibrate on `calib` (train split images) and convert. The source graph is kept (borrowed:
 * it must outlive the model unless the model was loaded from a file). */
sf_status sf_convert(const sf_graph *ann, const sf_dataset *calib, const sf_convert_options *opt, sf_snn_model **out);
void sf_snn_model_free(sf_snn_model *m);

/* Threshold report: number of neuron sites, and for each its name, channel count and
 * min / mean / max threshold. */
int sf_snn_model_num_sites(const sf_snn_model *m);
void sf_snn_model_site(const sf_snn_model *m, int i, const char **name, int *channels, float *tmin, float *tmean, float *tmax, int *is_signed);
const sf_convert_options *sf_snn_model_options(const sf_snn_model *m);
const sf_graph *sf_snn_model_source(const sf_snn_model *m);
/* Seconds spent calibrating / converting (as measured during sf_convert). */
double sf_snn_model_calib_seconds(const sf_snn_model *m);

/* The spiking graph specialised for `batch` samples (caller frees with sf_graph_free). */
sf_status sf_snn_model_build(const sf_snn_model *m, int64_t batch, sf_graph **out);

/* .sfm model files: versioned container with config, IR, thresholds and the source ANN, with a
 * SHA-256 of the contents and of the source model, verified on load. Written atomically. */
sf_status sf_snn_model_save(const sf_snn_model *m, const char *path);
sf_status sf_snn_model_load(const char *path, sf_snn_model **out);
/* Default T the model runs at (stored in its SpikingConfig). */
void sf_snn_model_set_timesteps(sf_snn_model *m, int T);
/* SHA-256 of the source model bytes (hex). */
const char *sf_snn_model_source_sha256(const sf_snn_model *m);

#ifdef __cplusplus
}
#endif
#endif

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
#include "spikeformer/export.h"
#include <stdint.h>

#include "spikeformer/config.h"
#include "spikeformer/dataset.h"
#include "spikeformer/graph.h"
#include "spikeformer/snn.h"
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

SF_API void sf_convert_options_default(sf_convert_options *o);
/* Set one option from text, for front ends (Python keywords, config files): policy, percentile,
 * per_channel, calib_samples, calib_batch, relu_ec, native_gelu, and every SpikingConfig key
 * (sf_config_set; neuron = neuron_model, encoding = spike_encoding). An unknown key or a value out of
 * range is an error naming both. */
SF_API sf_status sf_convert_options_set(sf_convert_options *o, const char *key, const char *value);
/* The levels a site's clip range R is divided into (theta = R / levels): rate coding K for a burst
 * neuron (1 otherwise), so that T steps resolve R / (K T); delta coding sends the whole value in
 * units of R / (K T), the same resolution. */
SF_API int sf_convert_theta_levels(const sf_convert_options *o);
/* The spikes a neuron may send in one step: K (1 unless burst); delta-coded burst neurons 127
 * (an 8-bit payload), so a value up to 127 / (K T) times the range goes out at once, and what
 * is beyond at later steps. */
SF_API int sf_convert_step_levels(const sf_convert_options *o);
SF_API const char *sf_policy_name(sf_threshold_policy p);
SF_API int sf_policy_parse(const char *s, sf_threshold_policy *p);

typedef struct sf_snn_model sf_snn_model;

/* Calibrate on `calib` (train split images) and convert. The source graph is kept (borrowed:
 * it must outlive the model unless the model was loaded from a file). */
SF_API sf_status sf_convert(const sf_graph *ann, const sf_dataset *calib, const sf_convert_options *opt, sf_snn_model **out);
SF_API void sf_snn_model_free(sf_snn_model *m);

/* Threshold report: number of neuron sites, and for each its name, channel count and
 * min / mean / max threshold. */
SF_API int sf_snn_model_num_sites(const sf_snn_model *m);
SF_API void sf_snn_model_site(const sf_snn_model *m, int i, const char **name, int *channels, float *tmin, float *tmean, float *tmax, int *is_signed);
SF_API const sf_convert_options *sf_snn_model_options(const sf_snn_model *m);
SF_API const sf_graph *sf_snn_model_source(const sf_snn_model *m);
/* Seconds spent calibrating / converting (as measured during sf_convert). */
SF_API double sf_snn_model_calib_seconds(const sf_snn_model *m);

/* The spiking graph specialised for `batch` samples (caller frees with sf_graph_free). */
SF_API sf_status sf_snn_model_build(const sf_snn_model *m, int64_t batch, sf_graph **out);

/* .sfm model files: versioned container with config, IR, thresholds and the source ANN, with a
 * SHA-256 of the contents and of the source model, verified on load. Written atomically. */
SF_API sf_status sf_snn_model_save(const sf_snn_model *m, const char *path);
SF_API sf_status sf_snn_model_load(const char *path, sf_snn_model **out);
/* Default T the model runs at (stored in its SpikingConfig). */
SF_API void sf_snn_model_set_timesteps(sf_snn_model *m, int T);
/* SHA-256 of the source model bytes (hex). */
SF_API const char *sf_snn_model_source_sha256(const sf_snn_model *m);
/* How many nodes of the converted graph run in each mode (counts[sf_spiking_mode]). */
SF_API sf_status sf_snn_model_mode_counts(const sf_snn_model *m, int counts[SF_MODE_COUNT]);
/* The conversion report (`convert --json`): neuron, policy, T, coding, nodes by mode, thresholds
 * per site; name and output (may be NULL) as given, seconds the conversion took. Caller frees. */
SF_API char *sf_snn_model_json(const sf_snn_model *m, const char *name, const char *output, double seconds);

#ifdef __cplusplus
}
#endif
#endif

/* ThresholdCalibrator: runs the ANN view of the spiking graph on calibration images and sets
 * every neuron site's thresholds from the activation statistics of what the neuron quantises.
 * One pass collects, per site and per channel, the exact max |x| and a log-spaced histogram
 * (32 bins per octave) from which percentiles and quantisation errors are read.
 * Policies (R = clip range, theta = R / K for a burst neuron with K levels; R / (K T) when delta-coded,
 * which has the same quantiser):
 *   max         R = max |x|
 *   percentile  R = p-th percentile of |x|
 *   mse         R minimising E[(x - q(x))^2] for the SNN's effective quantiser at T steps:
 *               q(x) = (theta / T) * clip(round(x T / theta), -K T, K T)  (0..K T if unsigned) */
#include <math.h>
#include <stdio.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "convert/convert_internal.h"
#include "spikeformer/session.h"

#define EXP_LO 107  /* 2^-20 */
#define EXP_HI 148  /* 2^21 */
#define NBINS ((EXP_HI - EXP_LO) * 32 + 2)

static int bin_of(float ax) {
  uint32_t u;
  memcpy(&u, &ax, 4);
  int e = (int)(u >> 23);
  if (e < EXP_LO) return 0;
  if (e >= EXP_HI) return NBINS - 1;
  return 1 + (e - EXP_LO) * 32 + (int)((u >> 18) & 31);
}

static double bin_value(int b) {
  if (b == 0) return 0.0;
  if (b == NBINS - 1) return ldexp(1.0, EXP_HI - 127);
  int e = (b - 1) / 32 + EXP_LO, m = (b - 1) % 32;
  return ldexp(1.0 + (m + 0.5) / 32.0, e - 127);
}

typedef struct {
  uint32_t *hist;   /* [channels][NBINS] */
  float *maxabs;    /* [channels] */
  uint64_t *count;  /* [channels] */
} site_stats;

static double quant_mse(const uint32_t *h, int b_lo, int b_hi, double R, int T, int K) {
  double theta = R / K, step = theta / T, clip = K * theta, e = 0;
  for (int b = b_lo; b <= b_hi; b++) {
    if (!h[b]) continue;
    double x = bin_value(b), err;
    if (x >= clip) err = (x - clip) * (x - clip);
    else if (x < step / 2) err = x * x;
    else err = step * step / 12.0;
    e += err * h[b];
  }
  return e;
}

static float choose_range(const sf_convert_options *o, const uint32_t *h, uint64_t n, float mx) {
  if (mx <= 0 || n == 0) return 1.0f;
  int T = o->snn.timesteps, K = o->snn.neuron_model == SF_NEURON_BURST ? o->snn.burst_levels : 1;
  switch (o->policy) {
    case SF_POLICY_MAX: return mx;
    case SF_POLICY_PERCENTILE: {
      uint64_t want = (uint64_t)ceil(o->percentile / 100.0 * (double)n), acc = 0;
      for (int b = 0; b < NBINS; b++) {
        acc += h[b];
        if (acc >= want) {
          double v = b == 0 ? 0 : ldexp(1.0 + ((b - 1) % 32 + 1) / 32.0, (b - 1) / 32 + EXP_LO - 127); /* bin upper edge */
          return (float)fmin(fmax(v, 1e-6 * mx), mx);
        }
      }
      return mx;
    }
    case SF_POLICY_MSE: {
      double best = INFINITY, bestR = mx;
      int b_lo = 0, b_hi = NBINS - 1;
      while (b_lo < b_hi && !h[b_lo]) b_lo++;
      while (b_hi > b_lo && !h[b_hi]) b_hi--;
      for (int i = 0; i < 64; i++) {
        double R = mx * pow(0.02, i / 63.0);
        double e = quant_mse(h, b_lo, b_hi, R, T, K);
        if (e < best) { best = e; bestR = R; }
      }
      return (float)bestR;
    }
  }
  return mx;
}

sf_status sf_calibrate(const sf_graph *src, const sf_dataset *calib, const sf_convert_options *opt, sf_site *sites, int n_sites) {
  int64_t n = calib->n < opt->calib_samples ? calib->n : opt->calib_samples;
  if (n <= 0) return sf_error(SF_ERR_ARG, "no calibration samples");
  int64_t B = opt->calib_batch < n ? opt->calib_batch : n;
  sf_graph *g = NULL;
  sf_session *s = NULL;
  sf_tensor *outs = NULL;
  site_stats *ss = calloc((size_t)n_sites, sizeof *ss);
  int *site_in = malloc(sizeof(int) * (size_t)(n_sites ? n_sites : 1));
  sf_status st = SF_OK;
  if (!ss || !site_in) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
  if ((st = sf_build_spiking_graph(src, B, opt, sites, n_sites, &g, NULL, NULL))) goto done;
  sf_session_options so;
  sf_session_options_default(&so);
  so.keep_all = 1;
  if ((st = sf_session_create_planned(g, &so, &s))) goto done;
  for (int i = 0; i < n_sites; i++) {
    char nm[640];
    snprintf(nm, sizeof nm, "%s/spikes", sites[i].key);
    int v = sf_graph_find_value(g, nm);
    if (v < 0 || g->values[v].producer < 0) { st = sf_error(SF_ERR_INTERNAL, "site '%s' has no neuron", sites[i].key); goto done; }
    site_in[i] = g->nodes[g->values[v].producer].in[0];
    int64_t C = sites[i].channels;
    ss[i].hist = calloc((size_t)(C * NBINS), sizeof(uint32_t));
    ss[i].maxabs = calloc((size_t)C, sizeof(float));
    ss[i].count = calloc((size_t)C, sizeof(uint64_t));
    if (!ss[i].hist || !ss[i].maxabs || !ss[i].count) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
  }
  /* sf_session_run writes every output of the graph: room for all of them */
  if (!(outs = calloc((size_t)(g->n_outputs ? g->n_outputs : 1), sizeof *outs))) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
  for (int64_t start = 0; start + B <= n; start += B) {
    sf_tensor x = sf_dataset_batch(calib, start, B);
    if (g->values[g->inputs[0]].t.ndim == 2) { x.ndim = 2; x.shape[1] = calib->c * calib->h * calib->w; }
    if ((st = sf_session_run(s, &x, outs))) goto done;
    for (int k = 0; k < g->n_outputs; k++) sf_tensor_free(&outs[k]);
#pragma omp parallel for schedule(dynamic)
    for (int i = 0; i < n_sites; i++) {
      const sf_tensor *t = sf_session_value(s, g->values[site_in[i]].name);
      int64_t total = sf_tensor_numel(t), C = sites[i].channels;
      int axis = sites[i].axis;
      int64_t inner = 1;
      for (int d = axis + 1; d < t->ndim; d++) inner *= t->shape[d];
      int64_t dimC = t->shape[axis];
      const float *p = t->data;
      for (int64_t e = 0; e < total; e++) {
        float v = p[e];
        if (!sites[i].is_signed && v <= 0) v = 0;
        float a = fabsf(v);
        int64_t c = C == 1 ? 0 : (e / inner) % dimC;
        ss[i].hist[c * NBINS + bin_of(a)]++;
        ss[i].count[c]++;
        if (a > ss[i].maxabs[c]) ss[i].maxabs[c] = a;
      }
    }
  }
  int K = sf_convert_theta_levels(opt);
#pragma omp parallel for schedule(dynamic)
  for (int i = 0; i < n_sites; i++)
    for (int64_t c = 0; c < sites[i].channels; c++) {
      float R = choose_range(opt, ss[i].hist + c * NBINS, ss[i].count[c], ss[i].maxabs[c]);
      sites[i].theta[c] = R / (float)K;
    }
  /* activations that overflow (a model with weights near the float range) give no usable threshold */
  for (int i = 0; i < n_sites && !st; i++)
    for (int64_t c = 0; c < sites[i].channels; c++)
      if (!(sites[i].theta[c] > 0 && sites[i].theta[c] <= FLT_MAX)) {
        st = sf_error(SF_ERR_VALUE, "calibration: site '%s', channel %lld: activations reach %g, so no finite threshold fits", sites[i].key,
                      (long long)c, (double)ss[i].maxabs[c]);
        break;
      }
done:
  free(outs);
  if (ss)
    for (int i = 0; i < n_sites; i++) { free(ss[i].hist); free(ss[i].maxabs); free(ss[i].count); }
  free(ss);
  free(site_in);
  sf_session_free(s);
  sf_graph_free(g);
  return st;
}

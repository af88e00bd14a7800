/* The trainable spiking chain (snn_net.h): forward and backward through time, one pair per piece.
 * Shapes: B samples, T steps, R = T B rows (step-major: row t B + b), n[l] neurons in layer l. */
#include "train/snn_net.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/par.h"
#include "train/train_kernels.h"
#include "spikeformer/rng.h"

const char *const snn_phase_names[SNN_PHASES] = {"input layer (sgemm)", "neurons", "spike-fed layers", "spike gradients (sgemm)", "readout"};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
/* charge the time since *t to phase ph */
static void charge(snn_net *net, snn_phase ph, double *t) {
  const double t1 = now_s();
  net->phase[ph] += t1 - *t;
  *t = t1;
}

/* event-driven below this share of active inputs (a weight row per spike), sgemm above it: where
 * the two cost the same on the development machine (bench/bench_train_kernels: forward 1.3x and
 * weight gradient 1.1x faster event-driven at 0.3, slower at 0.4) */
#define SPARSE_MAX_ACTIVITY 0.3f

sf_status snn_net_init(snn_net *net, int L, const int64_t *n) {
  memset(net, 0, sizeof *net);
  if (L < 2 || L > SNN_NET_MAX_LAYERS) return sf_error(SF_ERR_UNSUPPORTED, "a trainable chain has 2 to %d weighted layers, not %d", SNN_NET_MAX_LAYERS, L);
  net->L = L;
  for (int l = 0; l <= L; l++) net->n[l] = n[l];
  for (int l = 0; l < L; l++) {
    const int64_t w = n[l] * n[l + 1];
    if (!(net->W[l] = calloc((size_t)w, sizeof(float))) || !(net->dW[l] = calloc((size_t)w, sizeof(float))) ||
        !(net->b[l] = calloc((size_t)n[l + 1], sizeof(float))) || !(net->db[l] = calloc((size_t)n[l + 1], sizeof(float))))
      return sf_error(SF_ERR_NOMEM, "out of memory for the network's weights");
  }
  for (int l = 1; l < L; l++) {
    if (!(net->theta[l] = malloc(sizeof(float) * (size_t)n[l])) || !(net->dtheta[l] = calloc((size_t)n[l], sizeof(float))))
      return sf_error(SF_ERR_NOMEM, "out of memory");
    for (int64_t h = 0; h < n[l]; h++) net->theta[l][h] = 1.0f;
  }
  net->K = 1;
  net->beta = 1.0f;
  net->surrogate = SF_SURROGATE_FAST_SIGMOID;
  net->slope = 25.0f;
  net->detach_reset = 1;
  net->sparse_max = SPARSE_MAX_ACTIVITY;
  return SF_OK;
}

void snn_net_free(snn_net *net) {
  for (int l = 0; l < SNN_NET_MAX_LAYERS; l++) {
    free(net->W[l]); free(net->dW[l]); free(net->b[l]); free(net->db[l]); free(net->theta[l]); free(net->dtheta[l]);
    free(net->u[l]); free(net->k[l]); free(net->vck[l]); free(net->dvc[l]);
  }
  free(net->dc_sum);
  free(net->c); free(net->cur); free(net->dcur); free(net->ds); free(net->s_sum); free(net->logits);
  for (int l = 0; l < SNN_NET_MAX_LAYERS; l++) tk_lists_free(&net->lists[l]);
  memset(net, 0, sizeof *net);
}

void snn_net_init_random(snn_net *net, uint64_t seed) {
  sf_rng rng;
  sf_rng_seed(&rng, seed);
  for (int l = 0; l < net->L; l++) {
    const float a = 1.0f / sqrtf((float)net->n[l]);
    for (int64_t i = 0; i < net->n[l] * net->n[l + 1]; i++) net->W[l][i] = a * (2.0f * sf_rng_uniform(&rng) - 1.0f);
    for (int64_t i = 0; i < net->n[l + 1]; i++) net->b[l][i] = a * (2.0f * sf_rng_uniform(&rng) - 1.0f);
  }
}

int64_t snn_net_parameters(const snn_net *net, int with_thresholds) {
  int64_t p = 0;
  for (int l = 0; l < net->L; l++) p += net->n[l] * net->n[l + 1] + net->n[l + 1];
  for (int l = 1; with_thresholds && l < net->L; l++) p += net->n[l];
  return p;
}

void snn_net_zero_grad(snn_net *net) {
  for (int l = 0; l < net->L; l++) {
    memset(net->dW[l], 0, sizeof(float) * (size_t)(net->n[l] * net->n[l + 1]));
    memset(net->db[l], 0, sizeof(float) * (size_t)net->n[l + 1]);
  }
  for (int l = 1; l < net->L; l++) memset(net->dtheta[l], 0, sizeof(float) * (size_t)net->n[l]);
}

/* room for B samples, a record of Ts steps (a segment, or the whole run), and the membranes at the
 * start of `segments` segments */
static sf_status reserve(snn_net *net, int64_t B, int Ts, int64_t segments) {
  int64_t width = 0;
  for (int l = 0; l <= net->L; l++) width = net->n[l] > width ? net->n[l] : width;
  const int64_t rows = B * Ts;
  if (rows > net->cap_rows || width > net->cap_width) {
    const int64_t R = rows > net->cap_rows ? rows : net->cap_rows;
    for (int l = 1; l < net->L; l++) {
      free(net->u[l]); free(net->k[l]);
      net->u[l] = malloc(sizeof(float) * (size_t)(R * net->n[l]));
      net->k[l] = malloc((size_t)(R * net->n[l]));
      if (!net->u[l] || !net->k[l]) return sf_error(SF_ERR_NOMEM, "out of memory for the record of %lld steps x samples", (long long)R);
    }
    free(net->cur); free(net->dcur); free(net->ds);
    net->cur = malloc(sizeof(float) * (size_t)(R * width));
    net->dcur = malloc(sizeof(float) * (size_t)(R * width));
    net->ds = malloc(sizeof(float) * (size_t)(R * width));
    if (!net->cur || !net->dcur || !net->ds) return sf_error(SF_ERR_NOMEM, "out of memory");
    net->cap_rows = R;
    net->cap_width = width;
  }
  if (B > net->cap_B) { /* what one sample row needs, whatever the steps */
    free(net->c); free(net->s_sum); free(net->logits); free(net->dc_sum);
    net->c = malloc(sizeof(float) * (size_t)(B * width));
    net->s_sum = malloc(sizeof(float) * (size_t)(B * width));
    net->logits = malloc(sizeof(float) * (size_t)(B * width));
    net->dc_sum = malloc(sizeof(float) * (size_t)(B * width));
    if (!net->c || !net->s_sum || !net->logits || !net->dc_sum) return sf_error(SF_ERR_NOMEM, "out of memory");
    for (int l = 1; l < net->L; l++) {
      free(net->dvc[l]);
      if (!(net->dvc[l] = malloc(sizeof(float) * (size_t)(B * net->n[l])))) return sf_error(SF_ERR_NOMEM, "out of memory");
    }
    net->cap_B = B;
  }
  if (segments > 1 && B * segments > net->cap_ck) {
    for (int l = 1; l < net->L; l++) {
      free(net->vck[l]);
      if (!(net->vck[l] = malloc(sizeof(float) * (size_t)(B * segments * net->n[l])))) return sf_error(SF_ERR_NOMEM, "out of memory for the checkpoints");
    }
    net->cap_ck = B * segments;
  }
  int64_t hidden = 0;
  for (int l = 1; l < net->L; l++) hidden += net->n[l];
  net->state_bytes = net->cap_rows * (hidden * (int64_t)(sizeof(float) + 1) + 3 * net->cap_width * (int64_t)sizeof(float)) +
                     net->cap_ck * hidden * (int64_t)sizeof(float) + net->cap_B * (4 * net->cap_width + hidden) * (int64_t)sizeof(float);
  return SF_OK;
}

int64_t snn_net_state_bytes(const snn_net *net) { return net->state_bytes; }

/* ---- dense layer on the analog input ---- */

/* linear_forward: Y [B, N] = X [B, K] W [K, N] + b [N] */
static void linear_forward(const float *X, int64_t B, int64_t K, const float *W, const float *b, int64_t N, float *Y) {
  for (int64_t r = 0; r < B; r++) memcpy(Y + r * N, b, sizeof(float) * (size_t)N);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)N, (int)K, 1.0f, X, (int)K, W, (int)N, 1.0f, Y, (int)N);
}

/* linear_backward (weights only; the analog input needs no gradient): dW [K, N] += X^T dY,
 * db [N] += sum_r dY */
static void linear_backward(const float *X, int64_t B, int64_t K, const float *dY, int64_t N, float *dW, float *db) {
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)N, (int)B, 1.0f, X, (int)K, dY, (int)N, 1.0f, dW, (int)N);
  tk_column_sums(dY, B, N, db);
}

/* ---- layers fed by spikes: event-driven below net->sparse_max active inputs, sgemm above ---- */

/* spikes s = theta k as floats [R, n] (the dense paths) */
static void spikes_dense(const int8_t *k, const float *theta, int64_t R, int64_t n, float *s) {
  SF_PAR_IF(R * n > 65536, "omp parallel for schedule(static)",
  for (int64_t r = 0; r < R; r++)
    for (int64_t j = 0; j < n; j++) s[r * n + j] = theta[j] * (float)k[r * n + j];);
}

/* spike_linear_forward: Y [R, N] = b + S W, S = theta k [R, K]. scratch [R, K] floats (dense path).
 * Returns 1 when it ran event-driven (the lists hold the spikes), 0 when dense. */
static int spike_linear_forward(const int8_t *k, const float *theta, int64_t R, int64_t K, const float *W, const float *b, int64_t N, float *Y,
                                float *scratch, float sparse_max, tk_lists *ls) {
  if (tk_activity(k, R, K) > sparse_max) {
    spikes_dense(k, theta, R, K, scratch);
    for (int64_t r = 0; r < R; r++) memcpy(Y + r * N, b, sizeof(float) * (size_t)N);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)R, (int)N, (int)K, 1.0f, scratch, (int)K, W, (int)N, 1.0f, Y, (int)N);
    return 0;
  }
  tk_spike_linear_forward(k, theta, R, K, W, b, N, Y, ls);
  return 1;
}

/* spike_linear_backward_weights: dW [K, N] += S^T dY, db [N] += sum_r dY, S = theta k [R, K]:
 * from the forward's spike lists when it ran event-driven, else sgemm */
static sf_status spike_linear_backward_weights(const int8_t *k, const float *theta, int64_t R, int64_t K, const float *dY, int64_t N, float *dW,
                                               float *db, float *scratch, const tk_lists *ls, int listed) {
  tk_column_sums(dY, R, N, db);
  if (listed) return tk_spike_linear_backward_weights(ls, R, K, dY, N, dW);
  spikes_dense(k, theta, R, K, scratch);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)N, (int)R, 1.0f, scratch, (int)K, dY, (int)N, 1.0f, dW, (int)N);
  return SF_OK;
}

static tk_neurons neurons_of(const snn_net *net, int l) {
  return (tk_neurons){.theta = net->theta[l], .beta = net->beta, .K = net->K, .surrogate = net->surrogate, .slope = net->slope,
                      .detach_reset = net->detach_reset, .v_in = NULL, .v_out = NULL, .dv_in = NULL, .dv_out = NULL};
}

/* ---- the whole chain ---- */

/* the steps [t0, t0 + Ts) of the chain from the membranes at t0 (segment seg of S: its start in
 * vck[.][seg], or theta / 2 at t0 = 0; with keep, the membranes at its end stored as segment seg + 1's
 * start); the record u, k, lists of these steps in the buffers. Returns the spikes. */
static double run_segment(snn_net *net, int seg, int S, int Ts, int keep, double *t) {
  const int L = net->L;
  const int64_t *n = net->n, B = net->B, R = B * Ts;
  double spikes = 0;
  for (int l = 1; l < L; l++) {
    tk_neurons p = neurons_of(net, l);
    p.v_in = seg > 0 ? net->vck[l] + (int64_t)seg * B * n[l] : NULL;
    p.v_out = keep && seg + 1 < S ? net->vck[l] + (int64_t)(seg + 1) * B * n[l] : NULL;
    if (l == 1) spikes += tk_neuron_forward(&p, net->c, 0, B, n[1], Ts, net->u[1], net->k[1]);
    else spikes += tk_neuron_forward(&p, net->cur, B * n[l], B, n[l], Ts, net->u[l], net->k[l]);
    charge(net, SNN_PHASE_NEURONS, t);
    if (l + 1 < L) {
      net->listed[l] = spike_linear_forward(net->k[l], net->theta[l], R, n[l], net->W[l], net->b[l], n[l + 1], net->cur, net->ds, net->sparse_max, &net->lists[l]);
      charge(net, SNN_PHASE_SPIKE_LAYERS, t);
    }
  }
  return spikes;
}

/* steps per segment and segments */
static int segment_steps(const snn_net *net, int T) { return net->recompute > 0 && net->recompute < T ? net->recompute : T; }

sf_status snn_net_forward(snn_net *net, const float *x, int64_t B, int T) {
  const int Ks = segment_steps(net, T), S = (T + Ks - 1) / Ks;
  sf_status st = reserve(net, B, Ks, S);
  if (st) return st;
  net->x = (float *)x;
  net->B = B;
  net->T = T;
  net->spikes = 0;
  const int L = net->L;
  const int64_t *n = net->n;
  double t = now_s();
  linear_forward(x, B, n[0], net->W[0], net->b[0], n[1], net->c);
  charge(net, SNN_PHASE_INPUT_LAYER, &t);
  /* readout: logits = (1/T) (sum_t s_t) W + b, the sum gathered segment by segment */
  const int l = L - 1;
  float *ss = net->s_sum;
  memset(ss, 0, sizeof(float) * (size_t)(B * n[l]));
  for (int seg = 0; seg < S; seg++) {
    const int Ts = T - seg * Ks < Ks ? T - seg * Ks : Ks;
    net->spikes += run_segment(net, seg, S, Ts, 1, &t);
    const int8_t *kl = net->k[l];
    for (int s = 0; s < Ts; s++)
      for (int64_t e = 0; e < B * n[l]; e++) ss[e] += (float)kl[(int64_t)s * B * n[l] + e];
  }
  const float *th = net->theta[l];
  for (int64_t b = 0; b < B; b++)
    for (int64_t j = 0; j < n[l]; j++) ss[b * n[l] + j] = th[j] * ss[b * n[l] + j] / (float)T;
  linear_forward(net->s_sum, B, n[l], net->W[l], net->b[l], n[L], net->logits);
  charge(net, SNN_PHASE_READOUT, &t);
  return SF_OK;
}

double snn_cross_entropy(const float *logits, const int32_t *labels, int64_t B, int64_t C, float *dlogits, int64_t *right) {
  double loss = 0;
  int64_t ok = 0;
  for (int64_t b = 0; b < B; b++) {
    const float *z = logits + b * C;
    float mx = z[0];
    int64_t arg = 0;
    for (int64_t c = 1; c < C; c++)
      if (z[c] > mx) mx = z[c], arg = c;
    double sum = 0;
    for (int64_t c = 0; c < C; c++) sum += exp((double)(z[c] - mx));
    loss += log(sum) - (double)(z[labels[b]] - mx);
    ok += arg == labels[b];
    if (dlogits)
      for (int64_t c = 0; c < C; c++) dlogits[b * C + c] = (float)((exp((double)(z[c] - mx)) / sum - (c == labels[b])) / (double)B);
  }
  if (right) *right = ok;
  return loss / (double)B;
}

double snn_distill_loss(const float *logits, const float *teacher, int64_t B, int64_t C, double tau, double alpha, float *dlogits) {
  double kl = 0;
  for (int64_t b = 0; b < B; b++) {
    const float *z = logits + b * C, *t = teacher + b * C;
    double mz = z[0], mt = t[0];
    for (int64_t c = 1; c < C; c++) {
      if (z[c] > mz) mz = z[c];
      if (t[c] > mt) mt = t[c];
    }
    double sz = 0, st = 0;
    for (int64_t c = 0; c < C; c++) {
      sz += exp((z[c] - mz) / tau);
      st += exp((t[c] - mt) / tau);
    }
    const double lz = log(sz), lt = log(st);
    for (int64_t c = 0; c < C; c++) {
      const double log_ps = (z[c] - mz) / tau - lz, log_pt = (t[c] - mt) / tau - lt, pt = exp(log_pt);
      kl += pt * (log_pt - log_ps);
      if (dlogits) dlogits[b * C + c] += (float)(alpha * tau * (exp(log_ps) - pt) / (double)B);
    }
  }
  return alpha * tau * tau * kl / (double)B;
}

double snn_net_rate_loss(const snn_net *net) {
  int64_t N = 0;
  for (int l = 1; l < net->L; l++) N += net->n[l];
  return net->rate_penalty ? (double)net->rate_penalty * net->spikes / ((double)net->B * net->T * (double)N) : 0.0;
}

sf_status snn_net_backward(snn_net *net, const float *dlogits, int train_thresholds) {
  const int L = net->L, T = net->T, Ks = segment_steps(net, T), S = (T + Ks - 1) / Ks;
  const int64_t *n = net->n, B = net->B;
  /* the rate penalty lambda sum k / (B T N): each spike adds lambda / (B T N) */
  int64_t N = 0;
  for (int l = 1; l < L; l++) N += n[l];
  const float rate_unit = (float)((double)net->rate_penalty / ((double)(B * T) * (double)N));
  /* readout: dW += s_sum^T dlogits (s_sum holds the mean over steps); ds_t = dlogits W^T / T, the same
   * at every step (kept in dc_sum's room until the segments below need it: [B, n[L-1]]) */
  int l = L - 1;
  double t = now_s();
  linear_backward(net->s_sum, B, n[l], dlogits, n[L], net->dW[l], net->db[l]);
  float *ds_read = net->s_sum; /* (s_sum is not needed any more) */
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)n[l], (int)n[L], 1.0f / (float)T, dlogits, (int)n[L], net->W[l], (int)n[L], 0.0f,
              ds_read, (int)n[l]);
  charge(net, SNN_PHASE_READOUT, &t);
  /* segments from the last: recompute its steps from the membranes at its start (the last one is
   * still in the record), then back through its steps layer by layer, the membranes' gradient carried
   * to the segment before; the first neurons' input current is the same at every step, so they hand
   * back its gradient summed over the steps, dc [B, n[1]], summed over the segments */
  const double spikes = net->spikes;
  for (int k = 1; k < L; k++) memset(net->dvc[k], 0, sizeof(float) * (size_t)(B * n[k]));
  if (S > 1) memset(net->dc_sum, 0, sizeof(float) * (size_t)(B * n[1]));
  for (int seg = S - 1; seg >= 0; seg--) {
    const int Ts = T - seg * Ks < Ks ? T - seg * Ks : Ks;
    const int64_t R = B * Ts;
    if (seg < S - 1) run_segment(net, seg, S, Ts, 0, &t);
    for (l = L - 1; l >= 1; l--) {
      if (l < L - 1) {
        /* dcur [R, n[l+1]]: dL/di of layer l+1's neurons; layer l's weights W[l] map n[l] -> n[l+1] */
        sf_status st = spike_linear_backward_weights(net->k[l], net->theta[l], R, n[l], net->dcur, n[l + 1], net->dW[l], net->db[l], net->cur, &net->lists[l],
                                                     net->listed[l]);
        if (st) return st;
        charge(net, SNN_PHASE_SPIKE_LAYERS, &t);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)n[l], (int)n[l + 1], 1.0f, net->dcur, (int)n[l + 1], net->W[l], (int)n[l + 1], 0.0f,
                    net->ds, (int)n[l]);
        charge(net, SNN_PHASE_SPIKE_GRADS, &t);
      }
      tk_neurons p = neurons_of(net, l);
      p.dv_in = net->dvc[l];
      p.dv_out = seg > 0 ? net->dvc[l] : NULL;
      tk_neuron_backward(&p, l == L - 1 ? ds_read : net->ds, l == L - 1 ? 0 : B * n[l], net->u[l], net->k[l], B, n[l], Ts, rate_unit, l == 1, net->dcur,
                         train_thresholds ? net->dtheta[l] : NULL);
      charge(net, SNN_PHASE_NEURONS, &t);
    }
    if (S > 1)
      for (int64_t e = 0; e < B * n[1]; e++) net->dc_sum[e] += net->dcur[e];
  }
  net->spikes = spikes;
  /* layer 0 from dc */
  linear_backward(net->x, B, n[0], S > 1 ? net->dc_sum : net->dcur, n[1], net->dW[0], net->db[0]);
  charge(net, SNN_PHASE_INPUT_LAYER, &t);
  return SF_OK;
}

/* Spiking runs on clips (input that changes over time), rate against delta coding, both measured
 * in this run on the same clips, one thread, int8 weights and membranes:
 *   usage: bench_clips RATE.sfm DELTA.sfm [SAMPLES] [T]
 * A clip is one Fashion-MNIST test image seen for T frames, frame t = clamp(image + sigma * noise_t,
 * 0, 1) with fresh Gaussian noise per frame (a noisy sensor), for sigma = 0 (a static image),
 * 0.01 and 0.05. Reports the accuracy after T steps, the time, the work of each step after the
 * first against the first (synaptic operations, MACs, float evaluations and neuron updates) and
 * the ratios delta / rate. Clips: [batch, T, 1, 28, 28]. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spikeformer/convert.h"
#include "spikeformer/dataset.h"
#include "spikeformer/graph.h"
#include "spikeformer/rng.h"
#include "spikeformer/snn.h"
#include "spikeformer/threads.h"

#define BATCH 100
#define MAX_T 64

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* correct predictions after the last step */
typedef struct { const int32_t *labels; int64_t n; int T, correct; } score;
static int score_step(int t, const sf_tensor *d, void *u) {
  score *sc = u;
  if (t != sc->T) return 0;
  const float *y = d->data;
  const int64_t per = sf_tensor_numel(d) / sc->n;
  for (int64_t b = 0; b < sc->n; b++) {
    int64_t best = 0;
    for (int64_t j = 1; j < per; j++) best = y[b * per + j] > y[b * per + best] ? j : best;
    sc->correct += best == sc->labels[b];
  }
  return 0;
}

typedef struct { double seconds, acc, first, later; char where[256]; } result;

/* thread-seconds by kind of node (op type), the largest first, as text */
static void time_by_op(const sf_snn_session *s, char *out, size_t cap) {
  const char *names[64];
  double secs[64];
  int k = 0;
  for (int i = 0; i < sf_snn_num_nodes(s); i++) {
    sf_snn_node_stats st;
    sf_snn_node_stats_get(s, i, &st);
    int j = 0;
    while (j < k && strcmp(names[j], st.op_type)) j++;
    if (j == k && k < 64) { names[k] = st.op_type; secs[k++] = 0; }
    if (j < 64) secs[j] += st.seconds;
  }
  size_t len = 0;
  out[0] = 0;
  for (int r = 0; r < 5 && r < k; r++) {
    int best = 0;
    for (int j = 1; j < k; j++) best = secs[j] > secs[best] ? j : best;
    len += (size_t)snprintf(out + len, len < cap ? cap - len : 0, "%s%s %.2fs", r ? ", " : "", names[best], secs[best]);
    secs[best] = -1;
  }
}

/* the data's clips (noise sigma) through the int8 session of the model at path, T steps */
static int run_model(const char *path, const sf_dataset *ds, int64_t n, float sigma, int T, result *r) {
  sf_snn_model *m = NULL;
  sf_graph *g = NULL;
  sf_snn_session *s = NULL;
  float *clips = NULL;
  int ok = 0, correct = 0;
  memset(r, 0, sizeof *r);
  if (sf_snn_model_load(path, &m) || sf_snn_model_build(m, BATCH, &g)) goto done;
  sf_spiking_config cfg = sf_snn_model_options(m)->snn;
  cfg.spike_encoding = SF_ENCODE_DIRECT;
  if (sf_snn_session_create(g, &cfg, SF_DECODE_MEMBRANE, &s) || sf_snn_set_quant(s, 8)) goto done;
  const int64_t per = ds->c * ds->h * ds->w;
  if (!(clips = malloc(sizeof(float) * (size_t)(BATCH * T * per)))) goto done;
  sf_rng rng;
  sf_rng_seed(&rng, 7); /* the same clips for every model */
  for (int64_t b0 = 0; b0 + BATCH <= n; b0 += BATCH) {
    for (int64_t b = 0; b < BATCH; b++)
      for (int t = 0; t < T; t++)
        for (int64_t e = 0; e < per; e++) {
          float v = ds->x[(b0 + b) * per + e] + (sigma > 0 ? sigma * sf_rng_normal(&rng) : 0.0f);
          clips[(b * T + t) * per + e] = v < 0 ? 0 : v > 1 ? 1 : v;
        }
    int64_t cs[5] = {BATCH, T, ds->c, ds->h, ds->w};
    sf_tensor ct = {0};
    sf_tensor_describe(&ct, SF_F32, 5, cs);
    ct.data = clips;
    score sc = {ds->labels + b0, BATCH, T, 0};
    double t0 = now();
    if (sf_snn_run_frames(s, &ct, score_step, &sc)) goto done;
    r->seconds += now() - t0;
    correct += sc.correct;
  }
  r->acc = (double)correct / (double)(n / BATCH * BATCH);
  for (int t = 1; t <= T; t++) {
    double c[4];
    sf_snn_step_counts(s, t, &c[0], &c[1], &c[2], &c[3]);
    *(t == 1 ? &r->first : &r->later) += c[0] + c[1] + c[2] + c[3];
  }
  time_by_op(s, r->where, sizeof r->where);
  ok = 1;
done:
  if (!ok) fprintf(stderr, "bench_clips: %s: %s\n", path, sf_last_error());
  free(clips);
  sf_snn_session_free(s);
  sf_graph_free(g);
  sf_snn_model_free(m);
  return ok;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: bench_clips RATE.sfm DELTA.sfm [SAMPLES] [T]\n");
    return 2;
  }
  const int64_t n = argc > 3 ? atoll(argv[3]) : 2000;
  const int T = argc > 4 ? atoi(argv[4]) : 8;
  if (n < BATCH || T < 1 || T > MAX_T) {
    fprintf(stderr, "bench_clips: SAMPLES >= %d and T in [1, %d]\n", BATCH, MAX_T);
    return 2;
  }
  sf_threads_set(1);
  sf_dataset ds;
  if (sf_dataset_load(SF_DEFAULT_DATA_DIR, SF_SPLIT_TEST, n, &ds)) {
    fprintf(stderr, "bench_clips: %s\n", sf_last_error());
    return 1;
  }
  const float sigmas[3] = {0.0f, 0.01f, 0.05f};
  printf("clips of %lld test images, T=%d, int8, 1 thread; work = synaptic ops + MACs + float evaluations + neuron updates\n", (long long)n, T);
  int rc = 0;
  for (int k = 0; k < 3 && !rc; k++) {
    result rate, delta;
    if (!run_model(argv[1], &ds, n, sigmas[k], T, &rate) || !run_model(argv[2], &ds, n, sigmas[k], T, &delta)) { rc = 1; break; }
    printf("noise %.2f: rate  %.2fs accuracy %.4f, each later step %.3f of the first's work\n", (double)sigmas[k], rate.seconds, rate.acc,
           rate.later / (T > 1 ? T - 1 : 1) / (rate.first > 0 ? rate.first : 1));
    printf("            delta %.2fs accuracy %.4f, each later step %.3f of the first's work; delta / rate time %.2f\n", delta.seconds, delta.acc,
           delta.later / (T > 1 ? T - 1 : 1) / (delta.first > 0 ? delta.first : 1), delta.seconds / rate.seconds);
    printf("            time by op: rate %s; delta %s\n", rate.where, delta.where);
  }
  sf_dataset_free(&ds);
  return rc;
}

/* OptimizationEngine (optimize.h): candidate conversions searched on validation images, per-layer
 * thresholds raised where that saves energy, the result measured on held-out images beside the
 * hand-picked conversions. Every spiking run goes through the backend interface. */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/convert_internal.h"
#include "core/util.h"
#include "eval/eval_internal.h"
#include "spikeformer/mlflow.h"
#include "spikeformer/dist.h"
#include "spikeformer/optimize.h"

/* a candidate conversion: neuron, burst size and code, threshold policy, and the T its thresholds
 * are tuned for (three values each) */
typedef struct {
  const char *name;
  sf_neuron_model neuron;
  int K;
  sf_burst_code code;
  sf_threshold_policy policy;
  int tunes[3];
} cand;
#define N_TUNE 3
#define N_HAND 2
#define EVAL_BATCH 1000

static const cand cands[] = {
    {"burst4-mse", SF_NEURON_BURST, 4, SF_BURST_UNARY, SF_POLICY_MSE, {4, 8, 16}},
    {"burst4-p99.9", SF_NEURON_BURST, 4, SF_BURST_UNARY, SF_POLICY_PERCENTILE, {4, 8, 16}},
    {"burst4-max", SF_NEURON_BURST, 4, SF_BURST_UNARY, SF_POLICY_MAX, {4, 8, 16}},
    {"burst2-mse", SF_NEURON_BURST, 2, SF_BURST_UNARY, SF_POLICY_MSE, {4, 8, 16}},
    {"if-mse", SF_NEURON_IF, 1, SF_BURST_UNARY, SF_POLICY_MSE, {4, 8, 16}},
    {"if-p99.9", SF_NEURON_IF, 1, SF_BURST_UNARY, SF_POLICY_PERCENTILE, {4, 8, 16}},
    {"if-max", SF_NEURON_IF, 1, SF_BURST_UNARY, SF_POLICY_MAX, {4, 8, 16}},
    {"burst12b-mse", SF_NEURON_BURST, 12, SF_BURST_BINARY, SF_POLICY_MSE, {1, 2, 4}},
    {"burst8b-mse", SF_NEURON_BURST, 8, SF_BURST_BINARY, SF_POLICY_MSE, {1, 2, 4}},
    {"burst16b-mse", SF_NEURON_BURST, 16, SF_BURST_BINARY, SF_POLICY_MSE, {1, 2, 4}}};
#define N_CAND (int)(sizeof cands / sizeof cands[0])
/* the hand-picked default of the conversion work, and the hand-picked binary-coded conversion
 * (docs/energy_vit.md), by candidate name */
static const struct {
  const char *name;
  int tune_t;
} hand_picked[N_HAND] = {{"burst4-mse", 16}, {"burst12b-mse", 1}};

typedef struct {
  const sf_optimize_options *o;
  const sf_backend *be;
  const sf_energy_model *em;
  const sf_graph *ann;
  const sf_dataset *calib;
} ctx;

void sf_optimize_options_default(sf_optimize_options *o) {
  memset(o, 0, sizeof *o);
  o->max_drop = -1;
  o->val_limit = 5000;
  o->tmax = 16;
  o->z = 2.0;
  o->energy_model = "45nm";
  sf_backend_options_default(&o->backend_options);
}

static void convert_opts(const cand *c, int tune_t, sf_convert_options *o) {
  sf_convert_options_default(o);
  o->policy = c->policy;
  o->snn.neuron_model = c->neuron;
  o->snn.burst_levels = c->K;
  o->snn.burst_code = c->code;
  o->snn.timesteps = tune_t;
}

/* Under mpirun each rank evaluates its share of the samples (dist.h); a set smaller than the
 * world is evaluated whole by every rank. */
static void share(int64_t n, int64_t *lo, int64_t *hi) {
  *lo = 0;
  *hi = n;
  if (n >= sf_dist_size()) sf_dist_share(n, lo, hi);
}

/* the ranks' counts summed: counts [nc], per-sample flags [nf] (each set by one rank), ops [no] */
static sf_status sum_shares(int64_t *counts, int64_t nc, uint8_t *flags, int64_t nf, double *ops, int64_t no) {
  if (!flags) nf = 0;
  double *v = calloc((size_t)(nc + nf + no + 1), sizeof(double));
  if (!v) return sf_error(SF_ERR_NOMEM, "out of memory");
  for (int64_t i = 0; i < nc; i++) v[i] = (double)counts[i];
  for (int64_t i = 0; i < nf; i++) v[nc + i] = flags[i];
  for (int64_t i = 0; i < no; i++) v[nc + nf + i] = ops[i];
  sf_status st = sf_dist_sum_f64(v, nc + nf + no);
  for (int64_t i = 0; !st && i < nc; i++) counts[i] = (int64_t)v[i];
  for (int64_t i = 0; !st && i < nf; i++) flags[i] = v[nc + i] > 0;
  for (int64_t i = 0; !st && i < no; i++) ops[i] = v[nc + nf + i];
  free(v);
  return st;
}

/* Run m over ds for T steps in batches of `batch` through the backend: correct[t-1] right after
 * step t; ok_steps (if given) [T][ds->n] per-sample flags; ops[T][4] the operations per sample at
 * each step. */
static sf_status run_model(const ctx *x, const sf_snn_model *m, const sf_dataset *ds, int T, int64_t batch, int64_t *correct, uint8_t *ok_steps,
                           double *ops) {
  sf_compiled *comp = NULL;
  sf_deployed *deps[2] = {NULL, NULL};
  int n_deps = 0;
  int64_t cur = 0;
  sf_status st = sf_backend_compile(x->be, m, &x->o->backend_options, &comp);
  int64_t lo, hi;
  share(ds->n, &lo, &hi);
  if (ok_steps && hi - lo < ds->n) memset(ok_steps, 0, (size_t)T * (size_t)ds->n); /* the other ranks' flags arrive summed */
  for (int64_t start = lo; start < hi && !st; start += batch) {
    int64_t cnt = hi - start < batch ? hi - start : batch;
    if (cnt != cur) {
      if (n_deps == 2) { st = sf_error(SF_ERR_INTERNAL, "unexpected batch size"); break; }
      if ((st = sf_backend_deploy(comp, cnt, &deps[n_deps]))) break;
      n_deps++;
      cur = cnt;
    }
    sf_tensor in = sf_eval_batch(ds, sf_snn_model_source(m), start, cnt);
    sf_acc_ctx ac = {ds->labels + start, cnt, correct, ok_steps, start, ds->n};
    st = sf_backend_execute(deps[n_deps - 1], &in, T, sf_acc_step, &ac);
  }
  if (!st && ops) {
    memset(ops, 0, sizeof(double) * 4 * (size_t)T);
    for (int d = 0; d < n_deps; d++)
      for (int t = 1; t <= T; t++) {
        double o4[4];
        sf_backend_profile_step(deps[d], t, o4);
        for (int k = 0; k < 4; k++) ops[(t - 1) * 4 + k] += o4[k];
      }
  }
  if (!st && hi - lo < ds->n) st = sum_shares(correct, T, ok_steps, (int64_t)T * ds->n, ops, ops ? 4 * T : 0);
  if (!st && ops)
    for (int k = 0; k < 4 * T; k++) ops[k] /= (double)ds->n;
  for (int d = 0; d < n_deps; d++) sf_deployed_free(deps[d]);
  sf_compiled_free(comp);
  return st;
}

/* Accuracy after step T and energy per sample (pJ over steps 1..T) of a converted model on ds; ok
 * (if given) receives the per-sample flags of step T. */
static sf_status eval_at(const ctx *x, const sf_snn_model *m, const sf_dataset *ds, int T, double *acc, double *pj, uint8_t *ok) {
  int64_t *correct = calloc((size_t)T, sizeof *correct);
  uint8_t *ok_steps = ok ? calloc((size_t)T * (size_t)ds->n, 1) : NULL;
  double *ops = calloc((size_t)T * 4, sizeof *ops);
  sf_status st = correct && ops && (!ok || ok_steps) ? run_model(x, m, ds, T, EVAL_BATCH, correct, ok_steps, ops) : sf_error(SF_ERR_NOMEM, "out of memory");
  if (!st) {
    sf_op_counts sum = {0};
    for (int t = 0; t < T; t++) {
      sum.sops += ops[t * 4]; sum.macs += ops[t * 4 + 1]; sum.float_ops += ops[t * 4 + 2]; sum.neuron_updates += ops[t * 4 + 3];
    }
    *acc = (double)correct[T - 1] / (double)ds->n;
    *pj = sf_energy_pj(x->em, &sum);
    if (ok) memcpy(ok, ok_steps + (int64_t)(T - 1) * ds->n, (size_t)ds->n);
  }
  free(correct);
  free(ok_steps);
  free(ops);
  return st;
}

/* Accuracy drop (points) of the SNN against the ANN on the same images, plus z standard errors of
 * the paired difference: b images only the ANN gets right, c only the SNN. */
static double drop_ucb(const uint8_t *ann_ok, const uint8_t *snn_ok, int64_t n, double z) {
  int64_t b = 0, c = 0;
  for (int64_t i = 0; i < n; i++) {
    b += ann_ok[i] && !snn_ok[i];
    c += !ann_ok[i] && snn_ok[i];
  }
  double d = (double)(b - c), var = (double)(b + c) - d * d / (double)n;
  return 100.0 * (d + z * sqrt(var > 0 ? var : 0)) / (double)n;
}

static sf_status ann_accuracy(const sf_graph *g, const sf_dataset *ds, double *acc, uint8_t *ok) {
  sf_session *a;
  sf_status st = sf_session_create(g, NULL, &a);
  if (st) return st;
  int64_t right = 0, lo, hi;
  share(ds->n, &lo, &hi);
  if (ok) memset(ok, 0, (size_t)ds->n);
  for (int64_t start = lo; start < hi && !st; start += EVAL_BATCH) {
    int64_t cnt = hi - start < EVAL_BATCH ? hi - start : EVAL_BATCH, r = 0;
    sf_tensor xb = sf_eval_batch(ds, g, start, cnt);
    st = sf_eval_ann_batch(a, g, &xb, ds->labels + start, cnt, &r, ok ? ok + start : NULL, NULL, NULL);
    right += r;
  }
  sf_session_free(a);
  if (!st && hi - lo < ds->n) st = sum_shares(&right, 1, ok, ds->n, NULL, 0);
  *acc = (double)right / (double)(ds->n ? ds->n : 1);
  return st;
}

void sf_optimize_result_free(sf_optimize_result *r) {
  if (!r) return;
  free(r->model);
  free(r->energy_model);
  free(r->points);
  for (int i = 0; r->raised && i < r->n_raised; i++) free(r->raised[i].site);
  free(r->raised);
  sf_snn_model_free(r->result);
  free(r);
}

static void progress(const ctx *x, const char *what, int64_t done, int64_t total) {
  if (x->o->progress) x->o->progress(what, done, total, x->o->progress_user);
}

sf_status sf_optimize(const sf_graph *g, const char *name, const sf_dataset *calib_in, const sf_dataset *all_test, const sf_optimize_options *o_in,
                      sf_optimize_result **out) {
  *out = NULL;
  sf_optimize_options o;
  if (o_in) o = *o_in;
  else sf_optimize_options_default(&o);
  if (!(o.max_drop >= 0 && o.max_drop <= 100)) return sf_error(SF_ERR_ARG, "optimize: max_drop must be a number of points from 0 to 100");
  if (o.tmax < 1 || o.tmax > 1024) return sf_error(SF_ERR_ARG, "optimize: tmax must be from 1 to 1024");
  if (o.val_limit < 1) return sf_error(SF_ERR_ARG, "optimize: the validation images must be at least 1");
  if (all_test->n < o.val_limit + 1)
    return sf_error(SF_ERR_ARG, "--limit %lld: the test split has %lld images; some must stay held out", (long long)o.val_limit, (long long)all_test->n);
  if (!name) name = sf_graph_source(g);
  const int tmax = o.tmax;
  ctx x = {&o, NULL, NULL, g, NULL};
  /* calibration: the first 512 training images. The search runs on the first val_limit test images
   * (validation) and the result is reported on the rest of the test set (held out). */
  sf_dataset calib = *calib_in, val = *all_test, test = *all_test;
  if (calib.n > 512) calib.n = 512;
  x.calib = &calib;
  val.n = o.val_limit;
  test.n = all_test->n - o.val_limit;
  if (o.test_limit > 0 && test.n > o.test_limit) test.n = o.test_limit;
  test.x = all_test->x + o.val_limit * all_test->c * all_test->h * all_test->w;
  test.labels = all_test->labels + o.val_limit;
  sf_energy_model *em = NULL;
  int n_em = 0, ei = -1;
  uint8_t *ann_ok = NULL, *snn_ok = NULL, *trial_ok = NULL;
  int64_t *correct = NULL;
  double *ops = NULL;
  sf_snn_model *fm = NULL;
  sf_optimize_result *r = calloc(1, sizeof *r);
  sf_status st = r ? sf_backend_find(o.backend ? o.backend : "cpu", &x.be) : sf_error(SF_ERR_NOMEM, "out of memory");
  if (st) goto done;
  r->model = sf_strdup(name);
  r->max_drop = o.max_drop;
  r->z = o.z;
  r->tmax = tmax;
  r->n_candidates = N_CAND;
  r->n_tunings = N_TUNE;
  r->val_samples = val.n;
  r->test_samples = test.n;
  r->chosen = -1;
  if ((st = sf_energy_models_load(o.energy_dir, &em, &n_em))) goto done;
  for (int k = 0; k < n_em; k++) if (!strcmp(em[k].name, o.energy_model)) ei = k;
  if (ei < 0) { st = sf_error(SF_ERR_ARG, "no energy model named '%s' in %s", o.energy_model, o.energy_dir ? o.energy_dir : sf_energy_default_dir()); goto done; }
  x.em = &em[ei];
  r->energy_model = sf_strdup(em[ei].name);
  sf_op_counts annc;
  if ((st = sf_energy_ann_counts(g, &annc))) goto done;
  r->ann_pj = sf_energy_pj(&em[ei], &annc);
  const double ann_pj = r->ann_pj;
  if (!(ann_ok = malloc((size_t)val.n)) || !(snn_ok = calloc((size_t)(val.n * tmax), 1)) || !(trial_ok = malloc((size_t)val.n)) ||
      !(correct = calloc((size_t)tmax, sizeof(int64_t))) || !(ops = calloc((size_t)tmax * 4, sizeof(double))) ||
      !(r->points = calloc((size_t)(N_CAND * N_TUNE * tmax), sizeof *r->points))) {
    st = sf_error(SF_ERR_NOMEM, "out of memory");
    goto done;
  }
  /* the ANN on the same images */
  if ((st = ann_accuracy(g, &val, &r->ann_accuracy, ann_ok))) goto done;
  /* stage 1: every candidate at every T on the validation images */
  progress(&x, "optimize", 0, N_CAND * N_TUNE);
  for (int c = 0; c < N_CAND; c++)
    for (int u = 0; u < N_TUNE; u++) {
      sf_convert_options co;
      convert_opts(&cands[c], cands[c].tunes[u], &co);
      sf_snn_model *m;
      if ((st = sf_convert(g, &calib, &co, &m))) goto done;
      memset(correct, 0, sizeof(int64_t) * (size_t)tmax);
      st = run_model(&x, m, &val, tmax, val.n, correct, snn_ok, ops);
      sf_snn_model_free(m);
      if (st) goto done;
      double cum_pj = 0;
      for (int t = 1; t <= tmax; t++) {
        sf_op_counts cc = {ops[(t - 1) * 4 + 1], ops[(t - 1) * 4], ops[(t - 1) * 4 + 2], ops[(t - 1) * 4 + 3], 0};
        cum_pj += sf_energy_pj(&em[ei], &cc);
        sf_optimize_point *p = &r->points[r->n_points++];
        p->config = cands[c].name;
        p->tuned_t = cands[c].tunes[u];
        p->t = t;
        p->accuracy = (double)correct[t - 1] / (double)val.n;
        p->drop_points = 100.0 * (r->ann_accuracy - p->accuracy);
        p->drop_upper_points = drop_ucb(ann_ok, snn_ok + (int64_t)(t - 1) * val.n, val.n, o.z);
        p->pj_per_sample = cum_pj;
        p->energy_ratio = ann_pj > 0 ? cum_pj / ann_pj : 0;
      }
      progress(&x, "optimize", c * N_TUNE + u + 1, N_CAND * N_TUNE);
    }
  /* Pareto front: no other point has both lower energy and lower drop */
  for (int i = 0; i < r->n_points; i++) {
    sf_optimize_point *pi = &r->points[i];
    pi->pareto = 1;
    for (int j = 0; j < r->n_points && pi->pareto; j++) {
      const sf_optimize_point *pj = &r->points[j];
      if (j != i && pj->pj_per_sample <= pi->pj_per_sample && pj->drop_points <= pi->drop_points &&
          (pj->pj_per_sample < pi->pj_per_sample || pj->drop_points < pi->drop_points || j < i)) /* ties: the first listed stays */
        pi->pareto = 0;
    }
  }
  int best = -1;
  for (int i = 0; i < r->n_points; i++)
    if (r->points[i].drop_upper_points <= o.max_drop && (best < 0 || r->points[i].pj_per_sample < r->points[best].pj_per_sample)) best = i;
  if (best < 0) { st = sf_error(SF_ERR_VALUE, "no configuration keeps the accuracy drop within %.2f points on these images", o.max_drop); goto done; }
  r->chosen = best;
  r->points[best].chosen = 1;
  const sf_optimize_point *p = &r->points[best];
  int pc = 0;
  for (int c = 0; c < N_CAND; c++) if (cands[c].name == p->config) pc = c;
  /* stage 2: per-layer thresholds. Each accepted change is chosen on the same validation images,
   * so the acceptance uses the drop's upper bound (drop + z standard errors, as the global search)
   * and refuses any single step that costs more than 0.1 points: greedy acceptance of the plain
   * drop right up to the budget overfitted them (measured: 0.22 points on them, 1.06 held out) */
  sf_convert_options fo;
  convert_opts(&cands[pc], p->tuned_t, &fo);
  if ((st = sf_convert(g, &calib, &fo, &fm))) goto done;
  double cur_acc = p->accuracy, cur_pj = p->pj_per_sample;
  if ((st = eval_at(&x, fm, &test, p->t, &r->global_accuracy, &r->global_energy_ratio, NULL))) goto done;
  r->global_energy_ratio = ann_pj > 0 ? r->global_energy_ratio / ann_pj : 0;
  static const float scales[] = {2.0f, 1.5f};
  r->n_sites = fm->n_sites;
  if (!(r->raised = calloc((size_t)(fm->n_sites ? fm->n_sites : 1), sizeof *r->raised))) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
  progress(&x, "per-layer", 0, fm->n_sites);
  for (int i = 0; i < fm->n_sites; i++) {
    sf_site *site = &fm->sites[i];
    for (int k = 0; k < 2; k++) {
      for (int64_t c = 0; c < site->channels; c++) site->theta[c] *= scales[k];
      double a, e;
      if ((st = eval_at(&x, fm, &val, p->t, &a, &e, trial_ok))) goto done;
      if (drop_ucb(ann_ok, trial_ok, val.n, o.z) <= o.max_drop && 100.0 * (cur_acc - a) <= 0.1 && e < cur_pj) {
        cur_acc = a;
        cur_pj = e;
        r->raised[r->n_raised++] = (sf_optimize_raise){sf_strdup(site->key), scales[k], a, ann_pj > 0 ? e / ann_pj : 0};
        break;
      }
      for (int64_t c = 0; c < site->channels; c++) site->theta[c] /= scales[k];
    }
    progress(&x, "per-layer", i + 1, fm->n_sites);
  }
  r->val_accuracy_after = cur_acc;
  r->val_energy_ratio_after = ann_pj > 0 ? cur_pj / ann_pj : 0;
  sf_snn_model_set_timesteps(fm, p->t);
  /* stage 3: the test set, beside the hand-picked conversions (each at its smallest T within the drop) */
  if ((st = ann_accuracy(g, &test, &r->test_ann_accuracy, NULL))) goto done;
  double test_pj;
  if ((st = eval_at(&x, fm, &test, p->t, &r->test_accuracy, &test_pj, NULL))) goto done;
  r->test_energy_ratio = ann_pj > 0 ? test_pj / ann_pj : 0;
  r->test_t = p->t;
  for (int h = 0; h < N_HAND; h++) {
    int hc = 0;
    for (int c = 0; c < N_CAND; c++) if (!strcmp(cands[c].name, hand_picked[h].name)) hc = c;
    sf_optimize_hand *hr = &r->hand[h];
    hr->config = cands[hc].name;
    hr->tuned_t = hand_picked[h].tune_t;
    int hand = -1;
    for (int i = 0; i < r->n_points; i++) {
      const sf_optimize_point *q = &r->points[i];
      if (q->config == cands[hc].name && q->tuned_t == hr->tuned_t && q->drop_upper_points <= o.max_drop && (hand < 0 || q->t < r->points[hand].t)) hand = i;
    }
    if (hand < 0) continue;
    sf_convert_options ho;
    convert_opts(&cands[hc], hr->tuned_t, &ho);
    sf_snn_model *hm;
    if ((st = sf_convert(g, &calib, &ho, &hm))) goto done;
    double hpj;
    st = eval_at(&x, hm, &test, r->points[hand].t, &hr->accuracy, &hpj, NULL);
    sf_snn_model_free(hm);
    if (st) goto done;
    hr->t = r->points[hand].t;
    hr->energy_ratio = ann_pj > 0 ? hpj / ann_pj : 0;
  }
  r->result = fm;
  fm = NULL;
done:
  free(ann_ok);
  free(snn_ok);
  free(trial_ok);
  free(correct);
  free(ops);
  sf_snn_model_free(fm);
  sf_energy_models_free(em, n_em);
  if (st) sf_optimize_result_free(r);
  else *out = r;
  return st;
}

char *sf_optimize_json(const sf_optimize_result *r) {
  cJSON *j = cJSON_CreateObject(), *arr = cJSON_CreateArray();
  cJSON_AddStringToObject(j, "model", r->model);
  cJSON_AddNumberToObject(j, "samples", (double)r->val_samples);
  cJSON_AddNumberToObject(j, "ann_accuracy", r->ann_accuracy);
  cJSON_AddStringToObject(j, "energy_model", r->energy_model);
  cJSON_AddNumberToObject(j, "ann_pj_per_sample", r->ann_pj);
  cJSON_AddNumberToObject(j, "max_drop", r->max_drop);
  for (int i = 0; i < r->n_points; i++) {
    const sf_optimize_point *p = &r->points[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "config", p->config);
    cJSON_AddNumberToObject(o, "tuned_t", p->tuned_t);
    cJSON_AddNumberToObject(o, "t", p->t);
    cJSON_AddNumberToObject(o, "accuracy", p->accuracy);
    cJSON_AddNumberToObject(o, "drop_points", p->drop_points);
    cJSON_AddNumberToObject(o, "drop_upper_points", p->drop_upper_points);
    cJSON_AddNumberToObject(o, "pj_per_sample", p->pj_per_sample);
    cJSON_AddNumberToObject(o, "energy_ratio", p->energy_ratio);
    cJSON_AddBoolToObject(o, "pareto", p->pareto);
    cJSON_AddBoolToObject(o, "chosen", p->chosen);
    cJSON_AddItemToArray(arr, o);
  }
  cJSON_AddItemToObject(j, "points", arr);
  cJSON_AddStringToObject(j, "validation", "first images of the test split; test = the rest (held out)");
  cJSON_AddNumberToObject(j, "validation_samples", (double)r->val_samples);
  cJSON_AddNumberToObject(j, "sites_raised", r->n_raised);
  cJSON *ra = cJSON_CreateArray();
  for (int i = 0; i < r->n_raised; i++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "site", r->raised[i].site);
    cJSON_AddNumberToObject(o, "scale", r->raised[i].scale);
    cJSON_AddNumberToObject(o, "accuracy", r->raised[i].accuracy);
    cJSON_AddNumberToObject(o, "energy_ratio", r->raised[i].energy_ratio);
    cJSON_AddItemToArray(ra, o);
  }
  cJSON_AddItemToObject(j, "raised", ra);
  cJSON_AddNumberToObject(j, "validation_accuracy_after_per_layer", r->val_accuracy_after);
  cJSON_AddNumberToObject(j, "validation_energy_ratio_after_per_layer", r->val_energy_ratio_after);
  cJSON *te = cJSON_CreateObject();
  cJSON_AddNumberToObject(te, "samples", (double)r->test_samples);
  cJSON_AddNumberToObject(te, "ann_accuracy", r->test_ann_accuracy);
  cJSON_AddNumberToObject(te, "global_search_accuracy", r->global_accuracy);
  cJSON_AddNumberToObject(te, "global_search_energy_ratio", r->global_energy_ratio);
  cJSON_AddNumberToObject(te, "optimized_accuracy", r->test_accuracy);
  cJSON_AddNumberToObject(te, "optimized_t", r->test_t);
  cJSON_AddNumberToObject(te, "optimized_energy_ratio", r->test_energy_ratio);
  if (r->hand[0].t) {
    cJSON_AddNumberToObject(te, "hand_picked_t", r->hand[0].t);
    cJSON_AddNumberToObject(te, "hand_picked_accuracy", r->hand[0].accuracy);
    cJSON_AddNumberToObject(te, "hand_picked_energy_ratio", r->hand[0].energy_ratio);
  }
  cJSON *ha = cJSON_CreateArray();
  for (int h = 0; h < N_HAND; h++) {
    if (!r->hand[h].t) continue;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "config", r->hand[h].config);
    cJSON_AddNumberToObject(o, "tuned_t", r->hand[h].tuned_t);
    cJSON_AddNumberToObject(o, "t", r->hand[h].t);
    cJSON_AddNumberToObject(o, "accuracy", r->hand[h].accuracy);
    cJSON_AddNumberToObject(o, "energy_ratio", r->hand[h].energy_ratio);
    cJSON_AddItemToArray(ha, o);
  }
  cJSON_AddItemToObject(te, "hand_picked", ha);
  cJSON_AddItemToObject(j, "test", te);
  char *s = cJSON_Print(j);
  cJSON_Delete(j);
  return s;
}

sf_status sf_optimize_log_mlflow(const sf_optimize_result *r, const char *store_dir) {
  sf_mlflow_run *run;
  sf_status st = sf_mlflow_begin(store_dir, "optimize", &run);
  if (st) return st;
  const sf_optimize_point *p = &r->points[r->chosen];
  char buf[64];
  sf_mlflow_param(run, "model", r->model);
  snprintf(buf, sizeof buf, "%g", r->max_drop);
  sf_mlflow_param(run, "max_drop", buf);
  sf_mlflow_param(run, "chosen_config", p->config);
  snprintf(buf, sizeof buf, "%d", p->tuned_t);
  sf_mlflow_param(run, "chosen_tuned_t", buf);
  snprintf(buf, sizeof buf, "%d", p->t);
  sf_mlflow_param(run, "chosen_t", buf);
  snprintf(buf, sizeof buf, "%d", r->n_raised);
  sf_mlflow_param(run, "sites_raised", buf);
  sf_mlflow_metric(run, "validation_accuracy", r->val_accuracy_after, 0);
  sf_mlflow_metric(run, "accuracy", r->test_accuracy, 0);
  sf_mlflow_metric(run, "accuracy_drop_points", 100.0 * (r->test_ann_accuracy - r->test_accuracy), 0);
  sf_mlflow_metric(run, "energy_ratio", r->test_energy_ratio, 0);
  return sf_mlflow_end(run, 1);
}

sf_status sf_optimize_options_set(sf_optimize_options *o, const char *key, const char *v) {
  char *end;
  if (!key || !v) return sf_error(SF_ERR_ARG, "optimize option: key and value needed");
  if (!strcmp(key, "energy_model")) o->energy_model = v;
  else if (!strcmp(key, "energy_dir")) o->energy_dir = v;
  else if (!strcmp(key, "backend")) o->backend = v;
  else if (!strcmp(key, "max_drop") || !strcmp(key, "z")) {
    double x = strtod(v, &end);
    const double hi = !strcmp(key, "z") ? 10 : 100;
    if (end == v || *end || !(x >= 0 && x <= hi)) return sf_error(SF_ERR_ARG, "optimize option '%s': a number from 0 to %g, not '%s'", key, hi, v);
    if (!strcmp(key, "z")) o->z = x;
    else o->max_drop = x;
  } else if (!strcmp(key, "val_limit") || !strcmp(key, "test_limit") || !strcmp(key, "tmax")) {
    long long x = strtoll(v, &end, 10);
    const long long lo = !strcmp(key, "test_limit") ? 0 : 1, hi = !strcmp(key, "tmax") ? 1024 : (1LL << 30);
    if (end == v || *end || x < lo || x > hi) return sf_error(SF_ERR_ARG, "optimize option '%s': a whole number from %lld to %lld, not '%s'", key, lo, hi, v);
    if (!strcmp(key, "tmax")) o->tmax = (int)x;
    else if (!strcmp(key, "val_limit")) o->val_limit = x;
    else o->test_limit = x;
  } else {
    return sf_error(SF_ERR_ARG, "unknown optimize option '%s' (max_drop, val_limit, test_limit, tmax, z, energy_model, energy_dir, backend)", key);
  }
  return SF_OK;
}

/* spikeformer optimize MODEL --calib DIR --data DIR --max-drop P -o OUT.sfm [--json FILE]
 * OptimizationEngine: searches neuron type, threshold policy and the timesteps the thresholds are
 * tuned for, evaluates every candidate at every T = 1..TMAX in one pass, and keeps the
 * configuration with the least energy (45 nm convention, or --energy-model NAME) whose accuracy
 * drop against the ANN on the same images is at most P points. Deterministic. */
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "spikeformer/energy.h"
#include "spikeformer/mlflow.h"
#include "tools/cli.h"

typedef struct { const char *name; sf_neuron_model neuron; int K; sf_threshold_policy policy; } cand;

typedef struct { int cfg, tune_t, t; double acc, drop, energy_pj, ratio; int pareto; } point;

static void help(void) {
  printf("usage: spikeformer optimize MODEL --calib DIR --data DIR --max-drop P -o OUT.sfm\n"
         "                            [--limit N] [--tmax T] [--energy-model NAME] [--json FILE] [--mlflow DIR]\n"
         "\n"
         "Searches neuron type (burst K=4, burst K=2, IF), threshold policy (mse, percentile 99.9, max)\n"
         "and the T the thresholds are tuned for (4, 8, 16), evaluates each candidate at every T up to\n"
         "--tmax (default 16) on the first --limit test images (default 1000), prints the Pareto front of\n"
         "energy vs accuracy drop, and writes the cheapest configuration whose drop is at most P points.\n");
}

int cmd_optimize(int argc, char **argv) {
  const char *model = NULL, *calib_dir = SF_DEFAULT_DATA_DIR, *data = SF_DEFAULT_DATA_DIR, *out = NULL, *json = NULL, *emodel = "45nm", *v;
  const char *mlflow_dir = NULL;
  double max_drop = -1;
  int64_t limit = 1000, tmax = 16;
  for (int i = 1; i < argc; i++) {
    if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) { help(); return 0; }
    if (cli_common(argc, argv, &i)) continue;
    if (cli_opt(argc, argv, &i, "--calib", &v)) { calib_dir = v; continue; }
    if (cli_opt(argc, argv, &i, "--data", &v)) { data = v; continue; }
    if (cli_opt(argc, argv, &i, "-o", &v) || cli_opt(argc, argv, &i, "--output", &v)) { out = v; continue; }
    if (cli_opt(argc, argv, &i, "--json", &v)) { json = v; continue; }
    if (cli_opt(argc, argv, &i, "--energy-model", &v)) { emodel = v; continue; }
    if (cli_opt(argc, argv, &i, "--mlflow", &v)) { mlflow_dir = v; continue; }
    if (cli_opt(argc, argv, &i, "--max-drop", &v)) {
      char *end;
      max_drop = v ? strtod(v, &end) : -1;
      if (!v || *end || max_drop < 0) return cli_usage_error("optimize", "--max-drop takes a number of points >= 0");
      continue;
    }
    if (cli_opt(argc, argv, &i, "--limit", &v)) { if (cli_parse_i64(v, 1, 1 << 30, &limit)) return cli_usage_error("optimize", "--limit needs a positive number"); continue; }
    if (cli_opt(argc, argv, &i, "--tmax", &v)) { if (cli_parse_i64(v, 1, 1024, &tmax)) return cli_usage_error("optimize", "--tmax needs a positive number"); continue; }
    if (argv[i][0] == '-') return cli_usage_error("optimize", "unknown option '%s'", argv[i]);
    model = argv[i];
  }
  if (!model) return cli_usage_error("optimize", "missing MODEL");
  if (max_drop < 0) return cli_usage_error("optimize", "missing --max-drop P");
  if (!out) return cli_usage_error("optimize", "missing -o OUT.sfm");
  static const cand cands[] = {{"burst4-mse", SF_NEURON_BURST, 4, SF_POLICY_MSE},         {"burst4-p99.9", SF_NEURON_BURST, 4, SF_POLICY_PERCENTILE},
                               {"burst4-max", SF_NEURON_BURST, 4, SF_POLICY_MAX},         {"burst2-mse", SF_NEURON_BURST, 2, SF_POLICY_MSE},
                               {"if-mse", SF_NEURON_IF, 1, SF_POLICY_MSE},                {"if-p99.9", SF_NEURON_IF, 1, SF_POLICY_PERCENTILE},
                               {"if-max", SF_NEURON_IF, 1, SF_POLICY_MAX}};
  const int n_cand = (int)(sizeof cands / sizeof cands[0]);
  const int tunes[] = {4, 8, 16};
  const int n_tune = 3;
  sf_graph *g = NULL;
  sf_dataset calib = {0}, test = {0};
  sf_energy_model *em = NULL;
  int n_em = 0, ei = -1;
  point *pts = NULL;
  int n_pts = 0;
  int64_t *correct = NULL;
  sf_status st = sf_graph_load(model, &g);
  if (st) return cli_fail(st);
  if ((st = sf_dataset_load(calib_dir, SF_SPLIT_TRAIN, 512, &calib)) || (st = sf_dataset_load(data, SF_SPLIT_TEST, limit, &test))) goto done;
  if ((st = sf_energy_models_load(NULL, &em, &n_em))) goto done;
  for (int k = 0; k < n_em; k++) if (!strcmp(em[k].name, emodel)) ei = k;
  if (ei < 0) { st = sf_error(SF_ERR_ARG, "no energy model named '%s' in %s", emodel, sf_energy_default_dir()); goto done; }
  sf_op_counts annc;
  if ((st = sf_energy_ann_counts(g, &annc))) goto done;
  double ann_pj = sf_energy_pj(&em[ei], &annc);
  /* ANN accuracy on the same images */
  int64_t ann_correct = 0;
  {
    sf_session *a;
    if ((st = sf_session_create(g, NULL, &a))) goto done;
    sf_tensor x = sf_dataset_batch(&test, 0, test.n), o[8] = {{0}};
    if (sf_graph_input_desc(g, 0).ndim == 2) { x.ndim = 2; x.shape[1] = test.c * test.h * test.w; }
    st = sf_session_run(a, &x, o);
    sf_session_free(a);
    if (st) goto done;
    ann_correct = cli_count_correct(&o[0], test.labels, test.n);
    for (int k = 0; k < sf_graph_num_outputs(g) && k < 8; k++) sf_tensor_free(&o[k]);
  }
  double ann_acc = (double)ann_correct / (double)test.n;
  correct = calloc((size_t)tmax, sizeof(int64_t));
  pts = calloc((size_t)(n_cand * n_tune * tmax), sizeof *pts);
  if (!correct || !pts) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
  cli_progress pb;
  cli_progress_start(&pb, "optimize", n_cand * n_tune);
  for (int c = 0; c < n_cand; c++)
    for (int u = 0; u < n_tune; u++) {
      sf_convert_options o;
      sf_convert_options_default(&o);
      o.policy = cands[c].policy;
      o.snn.neuron_model = cands[c].neuron;
      o.snn.burst_levels = cands[c].K;
      o.snn.timesteps = tunes[u];
      sf_snn_model *m;
      if ((st = sf_convert(g, &calib, &o, &m))) goto done;
      sf_graph *sg;
      if ((st = sf_snn_model_build(m, test.n, &sg))) { sf_snn_model_free(m); goto done; }
      sf_snn_session *s;
      if ((st = sf_snn_session_create(sg, &o.snn, SF_DECODE_MEMBRANE, &s))) { sf_graph_free(sg); sf_snn_model_free(m); goto done; }
      memset(correct, 0, sizeof(int64_t) * (size_t)tmax);
      sf_tensor x = sf_dataset_batch(&test, 0, test.n);
      if (sf_graph_input_desc(sg, 0).ndim == 2) { x.ndim = 2; x.shape[1] = test.c * test.h * test.w; }
      cli_acc_ctx ac = {test.labels, test.n, correct};
      st = sf_snn_run(s, &x, (int)tmax, cli_acc_step, &ac);
      double cum_pj = 0;
      for (int t = 1; t <= tmax && !st; t++) {
        sf_op_counts cc = {0};
        sf_snn_step_counts(s, t, &cc.sops, &cc.macs, &cc.float_ops, &cc.neuron_updates);
        cc.sops /= (double)test.n; cc.macs /= (double)test.n; cc.float_ops /= (double)test.n; cc.neuron_updates /= (double)test.n;
        cum_pj += sf_energy_pj(&em[ei], &cc);
        point *p = &pts[n_pts++];
        p->cfg = c; p->tune_t = tunes[u]; p->t = t;
        p->acc = (double)correct[t - 1] / (double)test.n;
        p->drop = 100.0 * (ann_acc - p->acc);
        p->energy_pj = cum_pj;
        p->ratio = ann_pj > 0 ? cum_pj / ann_pj : 0;
      }
      sf_snn_session_free(s);
      sf_graph_free(sg);
      sf_snn_model_free(m);
      if (st) goto done;
      cli_progress_update(&pb, c * n_tune + u + 1);
    }
  cli_progress_end(&pb);
  /* Pareto front: no other point has both lower energy and lower drop */
  for (int i = 0; i < n_pts; i++) {
    pts[i].pareto = 1;
    for (int j = 0; j < n_pts && pts[i].pareto; j++)
      if (j != i && pts[j].energy_pj <= pts[i].energy_pj && pts[j].drop <= pts[i].drop &&
          (pts[j].energy_pj < pts[i].energy_pj || pts[j].drop < pts[i].drop))
        pts[i].pareto = 0;
  }
  int best = -1;
  for (int i = 0; i < n_pts; i++)
    if (pts[i].drop <= max_drop && (best < 0 || pts[i].energy_pj < pts[best].energy_pj)) best = i;
  printf("ANN accuracy on %lld test images: %.4f; ANN energy (%s): %.3f uJ/sample\n", (long long)test.n, ann_acc, em[ei].name, ann_pj * 1e-6);
  printf("\nPareto front (energy vs accuracy drop), %d candidates x %d tunings x T=1..%lld:\n", n_cand, n_tune, (long long)tmax);
  printf("%-14s %6s %4s %10s %10s %12s %10s\n", "config", "tuned", "T", "accuracy", "drop pts", "uJ/sample", "SNN/ANN");
  for (int i = 0; i < n_pts; i++)
    if (pts[i].pareto)
      printf("%-14s %6d %4d %10.4f %10.2f %12.3f %10.3f%s\n", cands[pts[i].cfg].name, pts[i].tune_t, pts[i].t, pts[i].acc, pts[i].drop, pts[i].energy_pj * 1e-6,
             pts[i].ratio, i == best ? "  <- chosen" : "");
  if (best < 0) { st = sf_error(SF_ERR_VALUE, "no configuration keeps the accuracy drop within %.2f points on these images", max_drop); goto done; }
  {
    const point *p = &pts[best];
    printf("\nchosen: %s, thresholds tuned for T=%d, run at T=%d: accuracy %.4f (drop %.2f points), %.3f uJ/sample, %.3f of the ANN (%s)\n",
           cands[p->cfg].name, p->tune_t, p->t, p->acc, p->drop, p->energy_pj * 1e-6, p->ratio, em[ei].name);
    sf_convert_options o;
    sf_convert_options_default(&o);
    o.policy = cands[p->cfg].policy;
    o.snn.neuron_model = cands[p->cfg].neuron;
    o.snn.burst_levels = cands[p->cfg].K;
    o.snn.timesteps = p->tune_t;
    sf_snn_model *m;
    if ((st = sf_convert(g, &calib, &o, &m))) goto done;
    /* the model runs at the chosen T by default */
    sf_snn_model_set_timesteps(m, p->t);
    st = sf_snn_model_save(m, out);
    sf_snn_model_free(m);
    if (st) goto done;
    printf("wrote %s\n", out);
    if (mlflow_dir) {
      sf_mlflow_run *run;
      if ((st = sf_mlflow_begin(mlflow_dir, "optimize", &run))) goto done;
      char buf[64];
      sf_mlflow_param(run, "model", model);
      snprintf(buf, sizeof buf, "%g", max_drop);
      sf_mlflow_param(run, "max_drop", buf);
      sf_mlflow_param(run, "chosen_config", cands[p->cfg].name);
      snprintf(buf, sizeof buf, "%d", p->tune_t);
      sf_mlflow_param(run, "chosen_tuned_t", buf);
      snprintf(buf, sizeof buf, "%d", p->t);
      sf_mlflow_param(run, "chosen_t", buf);
      sf_mlflow_metric(run, "accuracy", p->acc, 0);
      sf_mlflow_metric(run, "accuracy_drop_points", p->drop, 0);
      sf_mlflow_metric(run, "energy_ratio", p->ratio, 0);
      if ((st = sf_mlflow_end(run, 1))) goto done;
      printf("logged run to %s (MLflow file store)\n", mlflow_dir);
    }
  }
  if (json) {
    cJSON *r = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    cJSON_AddStringToObject(r, "model", model);
    cJSON_AddNumberToObject(r, "samples", (double)test.n);
    cJSON_AddNumberToObject(r, "ann_accuracy", ann_acc);
    cJSON_AddStringToObject(r, "energy_model", em[ei].name);
    cJSON_AddNumberToObject(r, "ann_pj_per_sample", ann_pj);
    cJSON_AddNumberToObject(r, "max_drop", max_drop);
    for (int i = 0; i < n_pts; i++) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "config", cands[pts[i].cfg].name);
      cJSON_AddNumberToObject(o, "tuned_t", pts[i].tune_t);
      cJSON_AddNumberToObject(o, "t", pts[i].t);
      cJSON_AddNumberToObject(o, "accuracy", pts[i].acc);
      cJSON_AddNumberToObject(o, "drop_points", pts[i].drop);
      cJSON_AddNumberToObject(o, "pj_per_sample", pts[i].energy_pj);
      cJSON_AddNumberToObject(o, "energy_ratio", pts[i].ratio);
      cJSON_AddBoolToObject(o, "pareto", pts[i].pareto);
      cJSON_AddBoolToObject(o, "chosen", i == best);
      cJSON_AddItemToArray(arr, o);
    }
    cJSON_AddItemToObject(r, "points", arr);
    st = cli_write_json(json, r);
  }
done:
  free(pts);
  free(correct);
  sf_energy_models_free(em, n_em);
  sf_dataset_free(&calib);
  sf_dataset_free(&test);
  sf_graph_free(g);
  return st ? cli_fail(st) : 0;
}

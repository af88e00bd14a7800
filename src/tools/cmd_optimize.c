/* spikeformer optimize MODEL --max-drop P -o OUT.sfm: parse, sf_optimize, print the Pareto front and
 * the held-out results, save the optimised model. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct {
  cli_head h;
  const char *calib, *data, *out, *json, *energy_model, *mlflow;
  double max_drop, z;
  int64_t limit, test_limit, tmax;
} optimize_args;

#define A(f) offsetof(optimize_args, f)
static const cli_option options[] = {
    {.name = "--calib", .kind = CLI_STR, .arg = "DIR", .offset = A(calib), .help = "calibration data (the first 512 images of its train split; default " SF_DEFAULT_DATA_DIR ")"},
    {.name = "--data", .kind = CLI_STR, .arg = "DIR", .offset = A(data), .help = "test data: validation images and held-out images both come from its test split"},
    {.name = "--output", .alias = "-o", .kind = CLI_STR, .arg = "OUT.sfm", .offset = A(out), .help = "the optimised model"},
    {.name = "--max-drop", .kind = CLI_NUM, .arg = "P", .offset = A(max_drop), .help = "accuracy drop allowed against the ANN, in points (required)", .hi = 100, .range_text = "a number of points from 0 to 100"},
    {.name = "--limit", .kind = CLI_INT, .arg = "N", .offset = A(limit), .help = "validation images: the first N of the test split (default 5000)", .lo = 1, .hi = 1 << 30},
    {.name = "--test-limit", .kind = CLI_INT, .arg = "N", .offset = A(test_limit), .help = "held-out images at most (default: the rest of the test split)", .lo = 1, .hi = 1 << 30},
    {.name = "--tmax", .kind = CLI_INT, .arg = "T", .offset = A(tmax), .help = "every candidate runs T = 1..T (default 16)", .lo = 1, .hi = 1024},
    {.name = "--confidence", .kind = CLI_NUM, .arg = "Z", .offset = A(z), .help = "standard errors of the paired difference added to the drop (default 2)", .hi = 10, .range_text = "a number of standard errors from 0 to 10"},
    {.name = "--energy-model", .kind = CLI_STR, .arg = "NAME", .offset = A(energy_model), .help = "the energy model minimised (default 45nm)"},
    {.name = "--json", .kind = CLI_STR, .arg = "FILE", .offset = A(json), .help = "write every point, the choice and the held-out results as JSON"},
    {.name = "--mlflow", .kind = CLI_STR, .arg = "DIR", .offset = A(mlflow), .help = "log the run to an MLflow file store"},
    {.name = NULL}};

static void defaults(void *p) {
  optimize_args *a = p;
  a->calib = a->data = SF_DEFAULT_DATA_DIR;
  a->max_drop = -1;
  a->limit = 5000;
  a->tmax = 16;
  a->z = 2.0;
  a->energy_model = "45nm";
}

static void print(const sf_optimize_result *r) {
  const sf_optimize_point *p = &r->points[r->chosen];
  printf("ANN accuracy on %lld validation images (the first of the test split): %.4f; ANN energy (%s): %.3f uJ/sample\n", (long long)r->val_samples,
         r->ann_accuracy, r->energy_model, r->ann_pj * 1e-6);
  printf("\nPareto front (energy vs accuracy drop), %d candidates x %d tunings x T=1..%d:\n", r->n_candidates, r->n_tunings, r->tmax);
  printf("%-14s %6s %4s %10s %10s %12s %12s %10s\n", "config", "tuned", "T", "accuracy", "drop pts", "drop+z*se", "uJ/sample", "SNN/ANN");
  for (int i = 0; i < r->n_points; i++) {
    const sf_optimize_point *q = &r->points[i];
    if (q->pareto)
      printf("%-14s %6d %4d %10.4f %10.2f %12.2f %12.3f %10.3f%s\n", q->config, q->tuned_t, q->t, q->accuracy, q->drop_points, q->drop_upper_points,
             q->pj_per_sample * 1e-6, q->energy_ratio, q->chosen ? "  <- chosen" : "");
  }
  printf("\nchosen on the validation images: %s, thresholds tuned for T=%d, run at T=%d: accuracy %.4f (drop %.2f points), %.3f uJ/sample, %.3f of the ANN (%s)\n",
         p->config, p->tuned_t, p->t, p->accuracy, p->drop_points, p->pj_per_sample * 1e-6, p->energy_ratio, r->energy_model);
  printf("\nper-layer thresholds (%d neuron sites, each tried x2 then x1.5 at T=%d; kept if the validation drop + %.1f standard errors stays within %.2f points):\n",
         r->n_sites, p->t, r->z, r->max_drop);
  for (int i = 0; i < r->n_raised && i < 12; i++)
    printf("  %-48.48s x%.1f: accuracy %.4f, %.3f of the ANN\n", r->raised[i].site, r->raised[i].scale, r->raised[i].accuracy, r->raised[i].energy_ratio);
  printf("  %d of %d sites raised; validation: accuracy %.4f (drop %.2f points), %.3f of the ANN (was %.3f)\n", r->n_raised, r->n_sites, r->val_accuracy_after,
         100.0 * (r->ann_accuracy - r->val_accuracy_after), r->val_energy_ratio_after, p->energy_ratio);
  printf("\nheld-out test images (%lld, after the validation ones; ANN %.4f):\n", (long long)r->test_samples, r->test_ann_accuracy);
  printf("  search      %-12s tuned T=%-3d T=%-3d global thresholds   : accuracy %.4f (drop %+.2f points), %.3f of the ANN\n", p->config, p->tuned_t, p->t,
         r->global_accuracy, 100.0 * (r->test_ann_accuracy - r->global_accuracy), r->global_energy_ratio);
  printf("  optimized   %-12s tuned T=%-3d T=%-3d per-layer thresholds: accuracy %.4f (drop %+.2f points), %.3f of the ANN\n", p->config, p->tuned_t, p->t,
         r->test_accuracy, 100.0 * (r->test_ann_accuracy - r->test_accuracy), r->test_energy_ratio);
  for (int h = 0; h < 2; h++) {
    const sf_optimize_hand *hd = &r->hand[h];
    if (!hd->t) {
      printf("  hand-picked %-12s tuned T=%-3d: no T up to %d within the drop on the validation images\n", hd->config, hd->tuned_t, r->tmax);
      continue;
    }
    printf("  hand-picked %-12s tuned T=%-3d T=%-3d                      : accuracy %.4f (drop %+.2f points), %.3f of the ANN\n", hd->config, hd->tuned_t,
           hd->t, hd->accuracy, 100.0 * (r->test_ann_accuracy - hd->accuracy), hd->energy_ratio);
  }
}

static int run(void *p) {
  optimize_args *a = p;
  const char *model = a->h.pos[0];
  if (a->max_drop < 0) return cli_usage_error("optimize", "missing --max-drop P");
  if (!a->out) return cli_usage_error("optimize", "missing -o OUT.sfm");
  sf_status st = sf_check_writable((const char *[]){a->out, a->json}, 2);
  if (st) return cli_fail(st);
  sf_graph *g = NULL;
  sf_dataset calib = {0}, test = {0};
  sf_optimize_result *r = NULL;
  cli_progress pb = {0};
  sf_optimize_options o;
  sf_optimize_options_default(&o);
  o.max_drop = a->max_drop;
  o.val_limit = a->limit;
  o.test_limit = a->test_limit;
  o.tmax = (int)a->tmax;
  o.z = a->z;
  o.energy_model = a->energy_model;
  o.progress = cli_progress_fn;
  o.progress_user = &pb;
  if ((st = sf_graph_load(model, &g)) || (st = sf_dataset_load(a->calib, SF_SPLIT_TRAIN, 512, &calib)) ||
      (st = sf_dataset_load(a->data, SF_SPLIT_TEST, 0, &test)) || (st = sf_optimize(g, model, &calib, &test, &o, &r)))
    goto done;
  cli_progress_end(&pb);
  print(r);
  if ((st = sf_snn_model_save(r->result, a->out))) goto done;
  printf("wrote %s\n", a->out);
  if (a->mlflow) {
    if ((st = sf_optimize_log_mlflow(r, a->mlflow))) goto done;
    printf("logged run to %s (MLflow file store)\n", a->mlflow);
  }
  if (a->json) st = cli_write_text(a->json, sf_optimize_json(r));
done:
  cli_progress_end(&pb);
  sf_optimize_result_free(r);
  sf_dataset_free(&calib);
  sf_dataset_free(&test);
  sf_graph_free(g);
  return st ? cli_fail(st) : 0;
}

const cli_command cmd_optimize = {
    "optimize", "MODEL --max-drop P -o OUT.sfm [options]", "search neuron type, thresholds and T for the least energy within an accuracy drop",
    "Searches neuron type (burst K=4, burst K=2, IF, and binary-coded bursts of K=8, 12, 16), threshold policy (mse,\n"
    "percentile 99.9, max) and the T the thresholds are tuned for (4, 8, 16; 1, 2, 4 for binary-coded bursts),\n"
    "evaluates each candidate at every T up to --tmax on the first --limit test images (validation), prints the\n"
    "Pareto front of energy vs accuracy drop, keeps the configurations whose drop plus Z standard errors of the\n"
    "paired difference is at most P, then raises per-layer thresholds where that saves energy within the drop. The\n"
    "result is measured on the held-out rest of the test set beside the hand-picked conversions (burst4-mse tuned\n"
    "for T=16, the default; burst12b-mse tuned for T=1) and written to OUT.sfm.",
    options, sizeof(optimize_args), defaults, run, 1, 1, "MODEL"};

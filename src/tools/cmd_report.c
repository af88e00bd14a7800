/* spikeformer report OUT.sfm -o FILE.html: parse, sf_report_evaluate, sf_report_html. */
#include <stdlib.h>

#include "cli.h"

typedef struct {
  cli_head h;
  const char *data, *out, *optimize;
  int64_t limit, timesteps;
} report_args;

#define A(f) offsetof(report_args, f)
static const cli_option options[] = {
    {.name = "--data", .kind = CLI_STR, .arg = "DIR", .offset = A(data), .help = "labelled test data (default " SF_DEFAULT_DATA_DIR ")"},
    {.name = "--output", .alias = "-o", .kind = CLI_STR, .arg = "FILE.html", .offset = A(out), .help = "the dashboard"},
    {.name = "--optimize", .kind = CLI_STR, .arg = "FILE.json", .offset = A(optimize), .help = "the Pareto front from 'spikeformer optimize --json FILE' (default: this model over T)"},
    {.name = "--limit", .kind = CLI_INT, .arg = "N", .offset = A(limit), .help = "test images (default 1000)", .lo = 1, .hi = 9.2e18},
    {.name = "--timesteps", .kind = CLI_INT, .arg = "T", .offset = A(timesteps), .help = "run T steps (default: the T it was converted for)", .lo = 1, .hi = 4096},
    {.name = NULL}};

static void defaults(void *p) {
  report_args *a = p;
  a->data = SF_DEFAULT_DATA_DIR;
  a->limit = 1000;
}

static int run(void *p) {
  report_args *a = p;
  const char *model = a->h.pos[0];
  if (!a->out) return cli_usage_error("report", "missing -o FILE.html");
  sf_status st = sf_check_writable((const char *[]){a->out}, 1);
  if (st) return cli_fail(st);
  if (!cli_is_sfm(model)) return cli_fail(sf_error(SF_ERR_ARG, "%s: report needs a converted model (.sfm)", model));
  sf_snn_model *m = NULL;
  sf_dataset ds = {0};
  sf_eval_result *r = NULL;
  cli_progress pb = {0};
  if (!(st = sf_snn_model_load(model, &m)) && !(st = sf_dataset_load(a->data, SF_SPLIT_TEST, a->limit, &ds)) &&
      !(st = sf_report_evaluate(m, model, &ds, (int)a->timesteps, cli_progress_fn, &pb, &r))) {
    cli_progress_end(&pb);
    st = sf_report_html(r, a->optimize, a->out);
  }
  cli_progress_end(&pb);
  if (!st)
    printf("wrote %s (%lld images, T=%d): SNN %.2f%% vs ANN %.2f%%\n", a->out, (long long)r->samples, r->timesteps,
           100.0 * r->snn_accuracy_by_t[r->timesteps - 1], 100 * r->ann_accuracy);
  sf_eval_result_free(r);
  sf_dataset_free(&ds);
  sf_snn_model_free(m);
  return st ? cli_fail(st) : 0;
}

const cli_command cmd_report = {
    "report", "OUT.sfm -o FILE.html [options]", "self-contained HTML dashboard (accuracy vs T, firing rates, energy, raster, Pareto)",
    "Writes a self-contained HTML dashboard: accuracy vs T (SNN and ANN), per-layer firing rates, energy per layer and\n"
    "per energy model, a spike raster of one test image, and the Pareto front from 'spikeformer optimize --json FILE'\n"
    "(or, without it, this model's energy/accuracy over T).",
    options, sizeof(report_args), defaults, run, 1, 1, "OUT.sfm"};

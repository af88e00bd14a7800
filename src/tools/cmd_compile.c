/* spikeformer compile MODEL.sfm --backend NAME: compile (lower and map) a converted model for a
 * backend, run a short calibration to measure its traffic, and print the mapping report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct {
  cli_head h;
  const char *backend, *data, *json, *exclude_cores;
  int64_t calibrate, timesteps;
  int list_options;
  cli_list backend_opts;
} compile_args;

#define C(f) offsetof(compile_args, f)
static const cli_option compile_options[] = {
    {.name = "--backend", .kind = CLI_STR, .arg = "NAME", .offset = C(backend), .help = "the target (default loihi2)"},
    {.name = "--backend-opt", .kind = CLI_LIST, .arg = "KEY=VALUE", .offset = C(backend_opts), .help = "one of the backend's own options (repeat); listed below"},
    {.name = "--exclude-cores", .kind = CLI_STR, .arg = "LIST", .offset = C(exclude_cores), .help = "loihi2: failed cores to map around, e.g. 0,5,9-12 (global numbers: chip * cores_per_chip + core)"},
    {.name = "--calibrate", .kind = CLI_INT, .arg = "N", .offset = C(calibrate), .help = "images of the training split run to measure spikes and traffic (default 100; 0: none)", .lo = 0, .hi = 1e9},
    {.name = "--data", .kind = CLI_STR, .arg = "DIR", .offset = C(data), .help = "labelled data for the calibration run (default " SF_DEFAULT_DATA_DIR ")"},
    {.name = "--timesteps", .kind = CLI_INT, .arg = "T", .offset = C(timesteps), .help = "steps of the calibration run (default: the model's T)", .lo = 1, .hi = 100000},
    {.name = "--json", .kind = CLI_STR, .arg = "FILE", .offset = C(json), .help = "write the report as JSON"},
    {.name = "--list-options", .kind = CLI_FLAG, .offset = C(list_options), .help = "list every backend's own options and exit"},
    {.name = NULL}};

static void compile_defaults(void *p) {
  compile_args *a = p;
  a->backend = "loihi2";
  a->data = SF_DEFAULT_DATA_DIR;
  a->calibrate = 100;
}

static void list_backend_options(void) {
  for (int b = 0; b < sf_backend_count(); b++) {
    const sf_backend *be = sf_backend_at(b);
    printf("\n%s backend options (--backend-opt KEY=VALUE):\n", sf_backend_name(be));
    for (int i = 0; i < sf_backend_target_count(be); i++) {
      const char *help, *key = sf_backend_target_key(be, i, &help);
      printf("  %-20s %s\n", key, help);
    }
  }
}

static int compile_run(void *p) {
  compile_args *a = p;
  const char *model = a->h.n_pos ? a->h.pos[0] : NULL;
  if (a->list_options) {
    list_backend_options();
    return 0;
  }
  if (!model) return cli_usage_error("compile", "missing OUT.sfm");
  sf_status st = sf_check_writable((const char *[]){a->json}, 1);
  if (st) return cli_fail(st);
  const sf_backend *be = NULL;
  void *target = NULL;
  sf_snn_model *m = NULL;
  sf_dataset ds = {0};
  char *text = NULL, *js = NULL;
  if ((st = sf_backend_find(a->backend, &be)) || (st = sf_backend_target_new(be, &target)) || (st = cli_backend_opts(be, target, &a->backend_opts))) goto out;
  if (a->exclude_cores && (st = sf_backend_target_set(be, target, "exclude_cores", a->exclude_cores))) goto out;
  sf_backend_options o;
  sf_backend_options_default(&o);
  o.target = target;
  if ((st = sf_snn_model_load(model, &m))) goto out;
  if (a->calibrate > 0 && (st = sf_dataset_load(a->data, SF_SPLIT_TRAIN, a->calibrate, &ds))) goto out;
  if ((st = sf_backend_compile_report(be, m, &o, a->calibrate > 0 ? &ds : NULL, (int)a->timesteps, a->json ? &js : NULL, &text))) goto out;
  fputs(text, stdout);
  if (a->json) {
    st = cli_write_text(a->json, js);
    js = NULL;
  }
out:
  free(text);
  free(js);
  sf_dataset_free(&ds);
  sf_snn_model_free(m);
  free(target);
  return st ? cli_fail(st) : 0;
}

const cli_command cmd_compile = {
    "compile", "OUT.sfm [--backend loihi2] [--exclude-cores LIST] [--backend-opt KEY=VALUE]... [--calibrate N] [--json FILE]", "lower a converted model for a backend and report its mapping",
    "Compiles a converted model for a backend (default loihi2: Lava's fixed-point Dense + CUBA LIF models, placed on\n"
    "neurocores) and prints the mapping report: layers as lowered (thresholds, decays, what was clipped), cores and\n"
    "chips used, utilisation per core, what runs on the host. A calibration run on training images measures the\n"
    "spikes and the spike messages per inference inside a core, between cores and between chips, and the energy and\n"
    "time under Loihi's published per-operation figures (sources in the report). A model that is not a chain of\n"
    "Dense + LIF layers (a CNN with max pooling, a transformer) gets the hybrid mapping: which nodes run on\n"
    "neurocores and which on the host, and the traffic between them per step. docs/loihi2.md has the details.",
    compile_options, sizeof(compile_args), compile_defaults, compile_run, 0, 1, "OUT.sfm"};

/* spikeformer validate OUT.sfm: ArchitectureValidator over a converted model. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct {
  cli_head h;
  int64_t max_fan_in, max_neurons_per_core;
} validate_args;

static const cli_option validate_options[] = {
    {.name = "--max-fan-in", .kind = CLI_INT, .arg = "N", .offset = offsetof(validate_args, max_fan_in), .help = "largest fan-in the target takes (default: the model's SpikingConfig)", .lo = 1, .hi = 1 << 30},
    {.name = "--max-neurons-per-core", .kind = CLI_INT, .arg = "N", .offset = offsetof(validate_args, max_neurons_per_core), .help = "neurons per core of the target (default: the model's)", .lo = 1, .hi = 1 << 30},
    {.name = NULL}};

static int validate_run(void *p) {
  validate_args *a = p;
  const char *model = a->h.pos[0];
  sf_snn_model *m;
  sf_status st = sf_snn_model_load(model, &m);
  if (st) return cli_fail(st);
  sf_hardware_constraints hw = sf_snn_model_options(m)->snn.hardware_constraints;
  if (a->max_fan_in) hw.max_fan_in = (int)a->max_fan_in;
  if (a->max_neurons_per_core) hw.max_neurons_per_core = (int)a->max_neurons_per_core;
  sf_graph *g;
  if ((st = sf_snn_model_build(m, 1, &g))) { sf_snn_model_free(m); return cli_fail(st); }
  sf_validation val;
  st = sf_validate(g, &hw, &val);
  if (st) {
    printf("%s: INVALID (%d problem%s)\n", model, val.n_errors, val.n_errors == 1 ? "" : "s");
    for (int i = 0; i < val.n_errors; i++) printf("  %s\n", val.errors[i]);
  } else {
    printf("%s: valid (%d nodes checked, max fan-in %d)\n", model, val.n_checked_nodes, val.max_fan_in);
  }
  sf_validation_free(&val);
  sf_graph_free(g);
  sf_snn_model_free(m);
  return st ? 1 : 0;
}

const cli_command cmd_validate = {
    "validate", "OUT.sfm [--max-fan-in N] [--max-neurons-per-core N]", "check a converted model (ArchitectureValidator)",
    "ArchitectureValidator: checks that every node is converted, shapes are consistent, thresholds are finite and\n"
    "positive, no weight is NaN/Inf, and fan-in / neurons per core are within the target's limits (defaults: the\n"
    "constraints stored in the model's SpikingConfig).",
    validate_options, sizeof(validate_args), NULL, validate_run, 1, 1, "OUT.sfm"};


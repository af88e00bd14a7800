/* spikeformer validate | ops | version: small commands over the library. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ---- validate OUT.sfm ---- */
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

/* ---- ops ---- */
static const cli_option no_options[] = {{.name = NULL}};

static int ops_run(void *p) {
  (void)p;
  for (int i = 0; i < sf_op_count(); i++) {
    const char *type, *domain, *summary;
    sf_op_describe(i, &type, &domain, &summary);
    printf("%-12s %-20s %s\n", *domain ? domain : "onnx", type, summary);
  }
  return 0;
}

const cli_command cmd_ops = {"ops", "", "the ONNX and fused ops the importer and executor support",
                             "Lists the ops the importer and the float executor support (domain 'spikeformer' = fused by SpikeFormer's passes).",
                             no_options, sizeof(cli_head), NULL, ops_run, 0, 0, "argument"};

/* ---- version ---- */
static int version_run(void *p) {
  (void)p;
  printf("spikeformer %s\nBLAS: OpenBLAS, %s kernels%s\n", sf_version(), sf_blas_core(), getenv("OPENBLAS_CORETYPE") ? " (OPENBLAS_CORETYPE)" : "");
  return 0;
}

const cli_command cmd_version = {"version", "", "print the version (and the BLAS kernels in use)", "Prints the version and the OpenBLAS kernels in use.",
                                 no_options, sizeof(cli_head), NULL, version_run, 0, 0, "argument"};

/* What `eval` and `profile` share (the profile command is eval with the energy tables):
 * their arguments, the options of spiking models, and the run. Internal to the CLI. */
#ifndef SF_TOOLS_CMD_EVAL_H
#define SF_TOOLS_CMD_EVAL_H
#include "cli.h"

typedef struct {
  cli_head h;
  const char *data, *json, *predictions, *split, *encoding, *backend, *path, *quant, *decoder, *schedule, *mlflow, *energy_models;
  int64_t limit, batch, timesteps;
  int no_ann, profile;
  cli_list backend_opts; /* --backend-opt KEY=VALUE */
} eval_args;

static const char *const encodings[] = {"direct", "rate", "latency", NULL};
static const char *const paths[] = {"auto", "dense", "event", "bitpacked", NULL};
static const char *const quants[] = {"float", "int8", NULL};
static const char *const decoders[] = {"membrane", "count", NULL};
static const char *const schedules[] = {"auto", "step", NULL};

#define A(f) offsetof(eval_args, f)
#define SNN_OPTIONS                                                                                                                          \
  {.name = "--data", .kind = CLI_STR, .arg = "DIR", .offset = A(data), .help = "labelled data: IDX (MNIST layout, .gz or raw) or NPY folder (default " SF_DEFAULT_DATA_DIR ")"}, \
  {.name = "--limit", .kind = CLI_INT, .arg = "N", .offset = A(limit), .help = "only the first N samples", .lo = 1, .hi = 9.2e18},                                                        \
  {.name = "--batch", .kind = CLI_INT, .arg = "N", .offset = A(batch), .help = "samples run together (default: about 256, or 128 per thread where that is more, the data split "  \
                                             "into equal batches)", .lo = 1, .hi = 65536},                                                            \
  {.name = "--json", .kind = CLI_STR, .arg = "FILE", .offset = A(json), .help = "write the results as JSON"},                                                                 \
  {.name = "--timesteps", .kind = CLI_INT, .arg = "T", .offset = A(timesteps), .help = "spiking models: run T steps (default: the T it was converted for)", .lo = 1, .hi = 100000},       \
  {.name = "--encoding", .kind = CLI_CHOICE, .arg = "E", .offset = A(encoding), .help = "spiking models: input encoding, direct (default), rate or latency", .choices = encodings}, \
  {.name = "--decoder", .kind = CLI_CHOICE, .arg = "D", .offset = A(decoder), .help = "spiking models: membrane (default) or count", .choices = decoders},                         \
  {.name = "--backend", .kind = CLI_STR, .arg = "NAME", .offset = A(backend), .help = "spiking models: the backend to run on (default cpu)"},                                 \
  {.name = "--path", .kind = CLI_CHOICE, .arg = "P", .offset = A(path), .help = "cpu backend: synaptic path auto (default), dense, event or bitpacked (same spikes)", .choices = paths}, \
  {.name = "--quant", .kind = CLI_CHOICE, .arg = "Q", .offset = A(quant), .help = "cpu backend: float (default) or int8 (int8 weights, int32 accumulators and membranes)", .choices = \
   quants},                                                                                                                                \
  {.name = "--schedule", .kind = CLI_CHOICE, .arg = "S", .offset = A(schedule), .help = "cpu backend: auto (default; a feed-forward int8 chain runs one sample through a block " \
                                                      "of steps, layer after layer) or step (every layer over the batch at each step)", .choices = schedules}, \
  {.name = "--backend-opt", .kind = CLI_LIST, .arg = "KEY=VALUE", .offset = A(backend_opts), .help = "spiking models: one of the backend's own options (repeat; "  \
                                                      "'spikeformer compile --help' lists each backend's)"},                                      \
  {.name = "--no-ann", .kind = CLI_FLAG, .offset = A(no_ann), .help = "spiking models: do not run the ANN beside it"},                                          \
  {.name = "--energy-models", .kind = CLI_STR, .arg = "DIR", .offset = A(energy_models), .help = "profile: energy models folder (default: the installed data/energy)"},     \
  {.name = "--mlflow", .kind = CLI_STR, .arg = "DIR", .offset = A(mlflow), .help = "spiking models: log the run to an MLflow file store"}

/* eval's defaults; the run of both commands */
void cmd_eval_defaults(void *args);
int cmd_eval_run(void *args);

#endif

/* The spikeformer command-line tool: one option table per subcommand, one parser, and the few
 * helpers every command shares (progress bar, errors, JSON output). The CLI sees only the public
 * headers (include/spikeformer/); everything it does is a library call it parses for and prints. */
#ifndef SF_TOOLS_CLI_H
#define SF_TOOLS_CLI_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "spikeformer/spikeformer.h"

typedef enum {
  CLI_FLAG,    /* no value: stores 1 into an int */
  CLI_STR,     /* a string (const char *) */
  CLI_INT,     /* a whole number in [lo, hi] (int64_t) */
  CLI_NUM,     /* a finite number in [lo, hi] (double) */
  CLI_CHOICE,  /* one of choices (stores the string, const char *) */
  CLI_LIST,    /* may repeat: appends to a cli_list */
  CLI_CONFIG   /* a SpikingConfig key (sf_config_set on the sf_spiking_config at offset), applied in order;
                  key "=" takes KEY=VALUE, key "@" a JSON file */
} cli_kind;

typedef struct {
  const char *name;            /* "--limit" */
  const char *alias;           /* "-o", or NULL */
  cli_kind kind;
  const char *arg;             /* what the value is, for help and errors: "N", "DIR" */
  size_t offset;               /* where the value goes in the command's arguments */
  const char *help;
  double lo, hi;               /* CLI_INT / CLI_NUM range */
  const char *const *choices;  /* CLI_CHOICE: NULL-terminated */
  const char *key;             /* CLI_CONFIG: the SpikingConfig key */
  const char *range_text;      /* CLI_NUM / CLI_INT: the error's wording of the range, e.g. "a number in (0, 100]" */
} cli_option;

#define CLI_MAX_LIST 64
typedef struct {
  const char *v[CLI_MAX_LIST];
  int n;
} cli_list;

/* Every command's arguments start with this: positional arguments and which options were given. */
#define CLI_MAX_POS 8
typedef struct {
  const char *pos[CLI_MAX_POS];
  int n_pos;
  uint64_t given;              /* bit i: options[i] was given */
  const struct cli_command *cmd;
} cli_head;

typedef struct cli_command {
  const char *name;
  const char *usage;           /* after "spikeformer NAME ": "MODEL [options]" */
  const char *summary;         /* one line for `spikeformer --help` */
  const char *description;     /* paragraphs for `spikeformer NAME --help` */
  const cli_option *options;   /* terminated by {NULL} */
  size_t args_size;            /* sizeof the command's arguments (starting with cli_head) */
  void (*defaults)(void *args);
  int (*run)(void *args);
  int min_pos, max_pos;        /* positional arguments accepted */
  const char *pos_name;        /* "MODEL", for "missing MODEL" */
} cli_command;

/* Parse argv (argv[0] is the command name) into a fresh argument struct and run the command.
 * Returns the exit status: 0, 1 (the command failed), 2 (usage error). */
int cli_main(const cli_command *cmd, int argc, char **argv);
/* Was option `name` given on the command line? */
int cli_given(const void *args, const char *name);
/* Print the command's help (usage, description, options) to f. */
void cli_help(const cli_command *cmd, FILE *f);

extern const cli_command *const cli_commands[];
extern const int cli_n_commands;

/* Print "spikeformer: error: <last error>" and return 1. */
int cli_fail(sf_status st);
/* Usage error: message + hint, returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Does the file start with the .sfm magic? */
int cli_is_sfm(const char *path);
/* Write library text (JSON) to a file atomically and free it. */
sf_status cli_write_text(const char *path, char *text);
/* --backend-opt KEY=VALUE..., each set on the backend's own options (sf_backend_target_set). */
sf_status cli_backend_opts(const sf_backend *b, void *target, const cli_list *opts);
double cli_now(void);

/* Progress bar on stderr (only when stderr is a terminal, or SF_PROGRESS=1), as an sf_progress_fn. */
typedef struct {
  const char *label;
  int64_t total, done;
  double t0, last;
  int enabled, started;
} cli_progress;
void cli_progress_fn(const char *what, int64_t done, int64_t total, void *user);
/* Finish the line of a bar that was drawn. */
void cli_progress_end(cli_progress *p);

/* The SpikingConfig flags of convert and config (F: the offset of an sf_spiking_config). */
#define CLI_CONFIG_OPTIONS(F)                                                                                                                         \
  {.name = "--timesteps", .kind = CLI_CONFIG, .arg = "T", .offset = F, .help = "timesteps the thresholds are tuned for (convert default 16)", .key = "timesteps"},          \
  {.name = "--neuron", .kind = CLI_CONFIG, .arg = "M", .offset = F, .help = "if | lif | burst (convert default burst)", .key = "neuron_model"},                               \
  {.name = "--burst-levels", .kind = CLI_CONFIG, .arg = "K", .offset = F, .help = "spikes per step of a burst neuron (default 4)", .key = "burst_levels"},                     \
  {.name = "--burst-code", .kind = CLI_CONFIG, .arg = "C", .offset = F, .help = "unary (default) | binary: how a burst of k spikes travels; binary sends one spike per set bit "     \
                                             "of k, weighted 2^bit: popcount(k) synaptic events instead of k, same sums", .key = "burst_code"}, \
  {.name = "--leak", .kind = CLI_CONFIG, .arg = "B", .offset = F, .help = "LIF leak factor (default 0.99)", .key = "leak"},                                                    \
  {.name = "--reset", .kind = CLI_CONFIG, .arg = "R", .offset = F, .help = "subtract (default) | zero: what a neuron does with its membrane when it fires; zero (spike when "      \
                                        "u > theta, strictly) is what snnTorch and other NIR readers run (docs/nir.md); float runtime only", .key = "reset"},  \
  {.name = "--v-init", .kind = CLI_CONFIG, .arg = "F", .offset = F, .help = "membrane at the start of a run, as a fraction of theta in [0, 1) (default 0.5; "                  \
                                         "snnTorch starts from 0)", .key = "v_init"},                                                       \
  {.name = "--coding", .kind = CLI_CONFIG, .arg = "C", .offset = F, .help = "rate (default) | delta: rate coding re-sends every activation at every step (its mean over T "          \
                                         "steps is the value); delta coding (sigma-delta, Loihi 2's SDNN neurons) sends a value once and then "  \
                                         "only its changes, thresholds of R / (K T), bursts of up to 127 per step", .key = "coding"},       \
  {.name = "--encoding", .kind = CLI_CONFIG, .arg = "E", .offset = F, .help = "input encoding stored with the model: rate | direct | latency", .key = "spike_encoding"},     \
  {.name = "--seed", .kind = CLI_CONFIG, .arg = "N", .offset = F, .help = "seed of the random streams (rate encoding)", .key = "seed"},                                      \
  {.name = "--config", .kind = CLI_CONFIG, .arg = "FILE", .offset = F, .help = "SpikingConfig keys from a JSON file (see 'spikeformer config --help')", .key = "@"},         \
  {.name = "--set", .kind = CLI_CONFIG, .arg = "KEY=VALUE", .offset = F, .help = "one SpikingConfig key", .key = "="}


/* The commands (one file each). */
extern const cli_command cmd_analyze, cmd_convert, cmd_train, cmd_eval, cmd_profile, cmd_run, cmd_validate, cmd_compile, cmd_export, cmd_import,
    cmd_optimize, cmd_report, cmd_ops, cmd_config, cmd_version;

#endif

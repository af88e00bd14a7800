/* spikeformer config: the effective SpikingConfig (defaults, --config FILE, flags) as JSON. */
#include <stdlib.h>

#include "cli.h"

typedef struct {
  cli_head h;
  sf_spiking_config snn;
} config_args;

static const cli_option config_options[] = {CLI_CONFIG_OPTIONS(offsetof(config_args, snn)), {.name = NULL}};

static void config_defaults(void *p) { sf_config_default(&((config_args *)p)->snn); }

static int config_run(void *p) {
  char *j = sf_config_to_json(&((config_args *)p)->snn);
  if (!j) return cli_fail(sf_error(SF_ERR_NOMEM, "out of memory"));
  printf("%s\n", j);
  free(j);
  return 0;
}

const cli_command cmd_config = {
    "config", "[--config FILE] [--set KEY=VALUE]... [flags]", "the effective SpikingConfig (defaults, --config FILE, flags) as JSON",
    "Prints the effective SpikingConfig as JSON: the defaults (timesteps 32, LIF, rate coding), then the keys of\n"
    "--config FILE, then each flag in order. The same flags are accepted by the commands that convert models.",
    config_options, sizeof(config_args), config_defaults, config_run, 0, 0, "argument"};

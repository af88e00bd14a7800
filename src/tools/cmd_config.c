/* spikeformer config [--config FILE] [--timesteps T] [--threshold X] [--neuron M] [--encoding E]
 *                    [--surrogate S] [--seed N] [--set KEY=VALUE]... : the effective SpikingConfig */
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"

static void help(void) {
  printf("usage: spikeformer config [--config FILE] [--timesteps T] [--threshold X] [--neuron if|lif|burst]\n"
         "                          [--burst-levels K] [--burst-code unary|binary] [--leak B]\n"
         "                          [--encoding rate|direct|latency] [--coding rate|delta] [--surrogate NAME]\n"
         "                          [--seed N] [--set KEY=VALUE]...\n"
         "\n"
         "Prints the effective SpikingConfig as JSON: the defaults (timesteps 32, threshold 1.0, LIF, rate\n"
         "coding, fast_sigmoid surrogate), then the keys of --config FILE, then each flag in order.\n"
         "The same flags are accepted by the commands that run spiking models.\n");
}

/* Shared by every command that takes a SpikingConfig: returns 1 if argv[*i] was a config flag. */
int cli_config_flag(int argc, char **argv, int *i, sf_spiking_config *cfg, sf_status *st) {
  static const struct { const char *flag, *key; } map[] = {
    {"--timesteps", "timesteps"}, {"--threshold", "threshold"}, {"--neuron", "neuron_model"},
    {"--encoding", "spike_encoding"}, {"--surrogate", "surrogate_gradient"}, {"--seed", "seed"}, {"--leak", "leak"},
    {"--burst-levels", "burst_levels"}, {"--burst-code", "burst_code"}, {"--coding", "coding"}};
  const char *v;
  *st = SF_OK;
  if (cli_opt(argc, argv, i, "--config", &v)) {
    *st = v ? sf_config_load_json(cfg, v) : sf_error(SF_ERR_ARG, "--config needs a file");
    return 1;
  }
  if (cli_opt(argc, argv, i, "--set", &v)) {
    const char *eq = v ? strchr(v, '=') : NULL;
    if (!eq) { *st = sf_error(SF_ERR_ARG, "--set needs KEY=VALUE"); return 1; }
    char key[128];
    snprintf(key, sizeof key, "%.*s", (int)(eq - v), v);
    *st = sf_config_set(cfg, key, eq + 1);
    return 1;
  }
  for (size_t k = 0; k < sizeof map / sizeof map[0]; k++)
    if (cli_opt(argc, argv, i, map[k].flag, &v)) {
      *st = v ? sf_config_set(cfg, map[k].key, v) : sf_error(SF_ERR_ARG, "%s needs a value", map[k].flag);
      return 1;
    }
  return 0;
}

int cmd_config(int argc, char **argv) {
  sf_spiking_config cfg;
  sf_config_default(&cfg);
  for (int i = 1; i < argc; i++) {
    if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) { help(); return 0; }
    sf_status st;
    if (cli_config_flag(argc, argv, &i, &cfg, &st)) {
      if (st) return cli_fail(st);
      continue;
    }
    return cli_usage_error("config", "unknown argument '%s'", argv[i]);
  }
  char *j = sf_config_to_json(&cfg);
  printf("%s\n", j);
  free(j);
  return 0;
}

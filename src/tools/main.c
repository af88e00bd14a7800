/* spikeformer: command-line entry point; one file per subcommand, each an option table and a run
 * function over the library. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

const cli_command *const cli_commands[] = {&cmd_analyze, &cmd_convert, &cmd_train, &cmd_eval, &cmd_run, &cmd_validate, &cmd_profile, &cmd_compile,
                                           &cmd_export, &cmd_import, &cmd_optimize, &cmd_report, &cmd_ops, &cmd_config, &cmd_version};
const int cli_n_commands = (int)(sizeof cli_commands / sizeof cli_commands[0]);

static void usage(FILE *f) {
  fprintf(f, "spikeformer %s: convert pre-trained transformers into spiking neural networks and run them\n\nusage: spikeformer COMMAND [options]\n\ncommands:\n",
          sf_version());
  for (int i = 0; i < cli_n_commands; i++) fprintf(f, "  %-10s %s\n", cli_commands[i]->name, cli_commands[i]->summary);
  fprintf(f,
          "\nMODEL is an ONNX file or a Hugging Face directory (config.json + model.safetensors); OUT.sfm a converted model.\n"
          "Run 'spikeformer COMMAND --help' for a command's options. Common options: --threads N, --log LEVEL.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) { usage(stderr); return 2; }
  /* OpenBLAS picks its kernels when it loads: where it fell back to generic SSE3 ones on a CPU it
   * does not know, start again with the right family requested (SF_KEEP_BLAS_CORE=1 opts out) */
  const char *core = sf_blas_better_core();
  if (core && !getenv("SF_KEEP_BLAS_CORE")) {
    setenv("OPENBLAS_CORETYPE", core, 1);
    execv("/proc/self/exe", argv);
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) { usage(stdout); return 0; }
  if (!strcmp(cmd, "--version")) cmd = "version";
  for (int i = 0; i < cli_n_commands; i++)
    if (!strcmp(cmd, cli_commands[i]->name)) {
      /* under mpirun: every rank runs the command; rank 0 alone prints and writes (dist.h) */
      sf_status st = sf_dist_init();
      if (st) {
        fprintf(stderr, "spikeformer: error: %s\n", sf_last_error());
        return 1;
      }
      if (sf_dist_rank() > 0 && !freopen("/dev/null", "w", stdout)) return 1;
      const int rc = cli_main(cli_commands[i], argc - 1, argv + 1);
      /* a failure on some ranks must not leave the others waiting in a collective step */
      if (rc && rc != 130) sf_dist_abort(rc);
      sf_dist_finalize();
      return rc;
    }
  fprintf(stderr, "spikeformer: unknown command '%s'\n\n", cmd);
  usage(stderr);
  return 2;
}

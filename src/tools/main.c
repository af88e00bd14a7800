/* spikeformer: command-line entry point; one file per subcommand. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "spikeformer/threads.h"
#include "tools/cli.h"

static void usage(FILE *f) {
  fprintf(f,
          "spikeformer %s: convert pre-trained transformers into spiking neural networks and run them\n"
          "\n"
          "usage: spikeformer COMMAND [options]\n"
          "\n"
          "commands:\n"
          "  analyze MODEL   layers, shapes, parameters, MACs and how each node converts to spikes\n"
          "  convert MODEL   calibrate and convert an ANN into a spiking network (.sfm)\n"
          "  eval MODEL      accuracy of the model (ANN, or .sfm spiking network) on a labelled test set\n"
          "  run MODEL       one inference on inputs given as .npy or ONNX .pb files (MODEL or OUT.sfm)\n"
          "  validate OUT.sfm  check a converted model (ArchitectureValidator)\n"
          "  profile OUT.sfm   per-layer operations and energy under each energy model, beside the ANN\n"
          "  optimize MODEL    search neuron type, thresholds and T for the least energy within an accuracy drop\n"
          "  report OUT.sfm    self-contained HTML dashboard (accuracy vs T, firing rates, energy, raster, Pareto)\n"
          "  ops             the ONNX and fused ops the importer and executor support\n"
          "  config          the effective SpikingConfig (defaults, --config FILE, flags) as JSON\n"
          "  version         print the version\n"
          "\n"
          "MODEL is an ONNX file or a Hugging Face directory (config.json + model.safetensors).\n"
          "Run 'spikeformer COMMAND --help' for a command's options. Common options: --threads N, --log LEVEL.\n",
          sf_version());
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
  if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
    printf("spikeformer %s\nBLAS: OpenBLAS, %s kernels%s\n", sf_version(), sf_blas_core(),
           getenv("OPENBLAS_CORETYPE") ? " (OPENBLAS_CORETYPE)" : "");
    return 0;
  }
  if (!strcmp(cmd, "analyze")) return cmd_analyze(argc - 1, argv + 1);
  if (!strcmp(cmd, "eval")) return cmd_eval(argc - 1, argv + 1);
  if (!strcmp(cmd, "convert")) return cmd_convert(argc - 1, argv + 1);
  if (!strcmp(cmd, "run")) return cmd_run(argc - 1, argv + 1);
  if (!strcmp(cmd, "ops")) return cmd_ops(argc - 1, argv + 1);
  if (!strcmp(cmd, "validate")) return cmd_validate(argc - 1, argv + 1);
  if (!strcmp(cmd, "profile")) return cmd_profile(argc - 1, argv + 1);
  if (!strcmp(cmd, "optimize")) return cmd_optimize(argc - 1, argv + 1);
  if (!strcmp(cmd, "report")) return cmd_report(argc - 1, argv + 1);
  if (!strcmp(cmd, "config")) return cmd_config(argc - 1, argv + 1);
  fprintf(stderr, "spikeformer: unknown command '%s'\n\n", cmd);
  usage(stderr);
  return 2;
}

/* spikeformer profile OUT.sfm: eval with the energy tables (EnergyAnalyzer); cmd_eval.c runs it. */
#include "cmd_eval.h"

static const cli_option options[] = {SNN_OPTIONS, {.name = NULL}};

static void defaults(void *p) {
  cmd_eval_defaults(p);
  ((eval_args *)p)->profile = 1;
}

const cli_command cmd_profile = {
    "profile", "OUT.sfm [options]", "per-layer operations and energy under each energy model, beside the ANN",
    "EnergyAnalyzer: runs the spiking network like 'eval' and reports per layer the synaptic operations, MACs,\n"
    "neuron updates, spikes and the energy under every model in the energy-model folder (one JSON file per model,\n"
    "each naming its sources), beside the ANN's energy under the same model, and the ANN beside the SNN at every\n"
    "T. Measures with RAPL / NVML where the machine allows and says why not otherwise. The JSON has\n"
    "energy_ratio_45nm (SNN / ANN) and per-layer energies.",
    options, sizeof(eval_args), defaults, cmd_eval_run, 1, 1, "OUT.sfm"};

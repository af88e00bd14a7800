/* spikeformer convert MODEL --calib DIR -o OUT.sfm [options]: parse, sf_convert, validate, print the
 * thresholds and modes, sf_snn_model_save. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct {
  cli_head h;
  const char *calib, *out, *json, *policy, *spike_native;
  double percentile;
  int64_t calib_samples;
  int per_layer, relu_ec;
  sf_spiking_config snn;
} convert_args;

static const char *const policies[] = {"max", "percentile", "mse", NULL};
static const char *const natives[] = {"gelu", NULL};
#define A(f) offsetof(convert_args, f)
static const cli_option options[] = {
    {.name = "--calib", .kind = CLI_STR, .arg = "DIR", .offset = A(calib), .help = "calibration data (its train split; default " SF_DEFAULT_DATA_DIR ")"},
    {.name = "--output", .alias = "-o", .kind = CLI_STR, .arg = "OUT.sfm", .offset = A(out), .help = "the converted model"},
    {.name = "--json", .kind = CLI_STR, .arg = "FILE", .offset = A(json), .help = "write the conversion report as JSON"},
    {.name = "--policy", .kind = CLI_CHOICE, .arg = "P", .offset = A(policy), .help = "max | percentile | mse (default mse: per-channel range minimising the quantisation error "
                                                   "of the neuron at T steps)", .choices = policies},
    {.name = "--percentile", .kind = CLI_NUM, .arg = "P", .offset = A(percentile), .help = "for --policy percentile (default 99.9; implies it)", .lo = 1e-9, .hi = 100, .range_text = "a number in (0, 100]"},
    {.name = "--per-layer", .kind = CLI_FLAG, .offset = A(per_layer), .help = "one threshold per layer instead of per channel"},
    {.name = "--relu-ec", .kind = CLI_FLAG, .offset = A(relu_ec), .help = "ReLU as expectation-compensated ReLU + signed neuron (default: unsigned IF)"},
    {.name = "--spike-native", .kind = CLI_CHOICE, .arg = "gelu", .offset = A(spike_native), .help = "replace GELU by ReLU (an unsigned IF neuron): no float GELU at runtime, "
                                                                  "costs accuracy (softmax and LayerNorm have no spike-native form here)", .choices = natives},
    {.name = "--calib-samples", .kind = CLI_INT, .arg = "N", .offset = A(calib_samples), .help = "calibration images (default 512)", .lo = 1, .hi = 1 << 20},
    CLI_CONFIG_OPTIONS(A(snn)),
    {.name = NULL}};

static void defaults(void *p) {
  convert_args *a = p;
  sf_convert_options o;
  sf_convert_options_default(&o);
  a->calib = SF_DEFAULT_DATA_DIR;
  a->snn = o.snn;
}

static int run(void *p) {
  convert_args *a = p;
  const char *model = a->h.pos[0];
  if (!a->out) return cli_usage_error("convert", "missing -o OUT.sfm");
  sf_status st = sf_check_writable((const char *[]){a->out, a->json}, 2);
  if (st) return cli_fail(st);
  sf_convert_options opt;
  sf_convert_options_default(&opt);
  opt.snn = a->snn;
  if (a->policy) sf_policy_parse(a->policy, &opt.policy);
  if (cli_given(a, "--percentile")) {
    opt.percentile = a->percentile;
    opt.policy = SF_POLICY_PERCENTILE;
  }
  if (a->calib_samples) opt.calib_samples = (int)a->calib_samples;
  if (a->per_layer) opt.per_channel = 0;
  opt.relu_ec = a->relu_ec;
  opt.native_gelu = a->spike_native != NULL;
  double t0 = cli_now();
  sf_graph *g = NULL, *g1 = NULL;
  sf_dataset calib = {0};
  sf_snn_model *m = NULL;
  sf_validation val = {0};
  if ((st = sf_graph_load(model, &g))) return cli_fail(st);
  double t_load = cli_now();
  if ((st = sf_dataset_load(a->calib, SF_SPLIT_TRAIN, opt.calib_samples, &calib))) goto done;
  double t_data = cli_now();
  if ((st = sf_convert(g, &calib, &opt, &m))) { sf_error_context(st, "%s", model); goto done; }
  double t_conv = cli_now();
  if ((st = sf_snn_model_build(m, 1, &g1))) goto done;
  if ((st = sf_validate(g1, &opt.snn.hardware_constraints, &val))) {
    fprintf(stderr, "spikeformer: validation of the converted model failed:\n");
    for (int i = 0; i < val.n_errors; i++) fprintf(stderr, "  %s\n", val.errors[i]);
    goto done;
  }
  printf("converted %s -> %s\n", model, a->out);
  printf("neuron: %s, thresholds: %s%s, tuned for T=%d, encoding: direct (analog current into the first layer)\n", sf_neuron_model_name(opt.snn.neuron_model),
         sf_policy_name(opt.policy), opt.per_channel ? " per channel" : " per layer", opt.snn.timesteps);
  if (opt.snn.coding == SF_CODING_DELTA)
    printf("delta coding (sigma-delta): values sent once, then their changes; thresholds for %d levels of the range, up to %d spikes per step\n",
           sf_convert_theta_levels(&opt), sf_convert_step_levels(&opt));
  else if (opt.snn.neuron_model == SF_NEURON_BURST)
    printf("burst neurons: up to %d spikes per step, %s code%s\n", opt.snn.burst_levels, sf_burst_code_name(opt.snn.burst_code),
           sf_config_binary_bursts(&opt.snn) ? " (one weighted spike per set bit of the count)" : "");
  printf("\n%-48s %-10s %-9s %8s %10s %10s %10s\n", "neuron site", "kind", "channels", "", "theta min", "mean", "max");
  for (int i = 0; i < sf_snn_model_num_sites(m); i++) {
    const char *name;
    int ch, sg;
    float lo, mean, hi;
    sf_snn_model_site(m, i, &name, &ch, &lo, &mean, &hi, &sg);
    printf("%-48.48s %-10s %-9d %8s %10.4g %10.4g %10.4g\n", name, sg ? "signed" : "unsigned", ch, "", lo, mean, hi);
  }
  static const char *const mode_help[SF_MODE_COUNT] = {"", "linear on spike increments (accumulate)", "product of two spike streams",
                                                       "float function at runtime (expectation compensation)", "spiking neuron"};
  static const sf_spiking_mode order[4] = {SF_MODE_LINEAR, SF_MODE_PRODUCT, SF_MODE_EC, SF_MODE_NEURON};
  int counts[SF_MODE_COUNT] = {0};
  for (int i = 0; i < sf_graph_num_nodes(g1); i++) counts[sf_graph_node_mode(g1, i)]++;
  printf("\nnodes by spiking mode:\n");
  for (int k = 0; k < 4; k++) printf("  %-8s %4d  %s\n", sf_spiking_mode_name(order[k]), counts[order[k]], mode_help[order[k]]);
  printf("runs as float at runtime (not spike-native):");
  int any = 0;
  for (int i = 0; i < sf_graph_num_nodes(g1); i++)
    if (sf_graph_node_mode(g1, i) == SF_MODE_EC) { printf("%s %s", any ? "," : "", sf_graph_node_op(g1, i)); any = 1; }
  printf("%s\n", any ? "" : " none");
  printf("validation: passed (%d nodes checked: every node converted, shapes consistent, thresholds finite and positive, "
         "no NaN/Inf weights, max fan-in %d%s)\n", val.n_checked_nodes, val.max_fan_in,
         opt.snn.hardware_constraints.max_fan_in > 0 ? " within the target's limit" : "");
  printf("\ncalibration (%d images) + conversion: %.3fs (load model %.3fs, read data %.3fs)\n", (int)(calib.n < opt.calib_samples ? calib.n : opt.calib_samples),
         t_conv - t_data, t_load - t0, t_data - t_load);
  if ((st = sf_snn_model_save(m, a->out))) goto done;
  printf("wrote %s (source SHA-256 %s)\n", a->out, sf_snn_model_source_sha256(m));
  if (a->json) st = cli_write_text(a->json, sf_snn_model_json(m, model, a->out, t_conv - t_data));
done:
  sf_validation_free(&val);
  sf_graph_free(g1);
  sf_snn_model_free(m);
  sf_dataset_free(&calib);
  sf_graph_free(g);
  return st ? cli_fail(st) : 0;
}

const cli_command cmd_convert = {
    "convert", "MODEL --calib DIR -o OUT.sfm [options]", "calibrate and convert an ANN into a spiking network (.sfm)",
    "Converts a pre-trained ANN (ONNX file or Hugging Face directory) into a spiking network: calibrates neuron\n"
    "thresholds on training images, inserts spiking neurons wherever an op needs spikes, gives every node its\n"
    "spiking mode, and writes a checksummed .sfm file.",
    options, sizeof(convert_args), defaults, run, 1, 1, "MODEL"};

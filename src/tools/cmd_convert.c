/* spikeformer convert MODEL --calib DIR -o OUT.sfm [--timesteps T] [--neuron if|lif|burst] [--policy ...] */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "convert/convert_internal.h"
#include "core/util.h"
#include "spikeformer/validate.h"
#include "tools/cli.h"

static void help(void) {
  printf("usage: spikeformer convert MODEL --calib DIR -o OUT.sfm [options]\n"
         "\n"
         "Converts a pre-trained ANN (ONNX file or Hugging Face directory) into a spiking network:\n"
         "calibrates neuron thresholds on training images, inserts spiking neurons wherever an op\n"
         "needs spikes, gives every node its spiking mode, and writes a checksummed .sfm file.\n"
         "\n"
         "  --calib DIR            calibration data (train split; default %s)\n"
         "  -o OUT.sfm             output model\n"
         "  --timesteps T          timesteps the thresholds are tuned for (default 16)\n"
         "  --neuron M             if | lif | burst (default burst)\n"
         "  --burst-levels K       spikes per step of a burst neuron (default 4)\n"
         "  --burst-code C         unary | binary (default unary): how a burst of k spikes travels;\n"
         "                         binary sends one spike per set bit of k, weighted 2^bit (weighted\n"
         "                         spikes): popcount(k) synaptic events instead of k, same sums\n"
         "  --leak B               LIF leak factor (default 0.99)\n"
         "  --coding C             rate | delta (default rate): rate coding re-sends every activation at\n"
         "                         every step (its mean over T steps is the value); delta coding\n"
         "                         (sigma-delta, Loihi 2's SDNN neurons) sends a value once and then\n"
         "                         only its changes: thresholds of R / (K T) for the same resolution,\n"
         "                         bursts of up to 127 per step, the rest at later steps; on a static\n"
         "                         image a node runs only while its inputs change\n"
         "  --policy P             max | percentile | mse (default mse: per-channel range minimising\n"
         "                         the quantisation error of the neuron at T steps)\n"
         "  --percentile P         for --policy percentile (default 99.9)\n"
         "  --per-layer            one threshold per layer instead of per channel\n"
         "  --relu-ec              ReLU as expectation-compensated ReLU + signed neuron (default: unsigned IF)\n"
         "  --spike-native gelu    replace GELU by ReLU (an unsigned IF neuron): no float GELU at runtime, costs accuracy\n"
         "  --calib-samples N      calibration images (default 512)\n"
         "  --config FILE, --set KEY=VALUE   SpikingConfig keys (see 'spikeformer config --help')\n"
         "  --json FILE            write the conversion report\n",
         SF_DEFAULT_DATA_DIR);
}

static const char *mode_help(const char *mode) {
  if (!strcmp(mode, "linear")) return "linear on spike increments (accumulate)";
  if (!strcmp(mode, "product")) return "product of two spike streams";
  if (!strcmp(mode, "neuron")) return "spiking neuron";
  return "float function at runtime (expectation compensation)";
}

int cmd_convert(int argc, char **argv) {
  const char *model = NULL, *calib_dir = SF_DEFAULT_DATA_DIR, *out = NULL, *json = NULL, *v;
  sf_convert_options opt;
  sf_convert_options_default(&opt);
  for (int i = 1; i < argc; i++) {
    sf_status cst;
    if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) { help(); return 0; }
    if (cli_common(argc, argv, &i)) continue;
    if (cli_config_flag(argc, argv, &i, &opt.snn, &cst)) { if (cst) return cli_fail(cst); continue; }
    if (cli_opt(argc, argv, &i, "--calib", &v)) { if (!v) return cli_usage_error("convert", "--calib needs a folder"); calib_dir = v; continue; }
    if (cli_opt(argc, argv, &i, "-o", &v) || cli_opt(argc, argv, &i, "--output", &v)) { if (!v) return cli_usage_error("convert", "-o needs a file"); out = v; continue; }
    if (cli_opt(argc, argv, &i, "--json", &v)) { if (!v) return cli_usage_error("convert", "--json needs a file"); json = v; continue; }
    if (cli_opt(argc, argv, &i, "--policy", &v)) { if (!v || sf_policy_parse(v, &opt.policy)) return cli_usage_error("convert", "--policy takes max, percentile or mse"); continue; }
    if (cli_opt(argc, argv, &i, "--percentile", &v)) {
      if (cli_parse_f64(v, 1e-9, 100, &opt.percentile)) return cli_usage_error("convert", "--percentile takes a number in (0, 100]");
      opt.policy = SF_POLICY_PERCENTILE;
      continue;
    }
    if (cli_opt(argc, argv, &i, "--calib-samples", &v)) {
      int64_t n;
      if (cli_parse_i64(v, 1, 1 << 20, &n)) return cli_usage_error("convert", "--calib-samples needs a whole number from 1 to 1048576");
      opt.calib_samples = (int)n;
      continue;
    }
    if (cli_flag(argv, i, "--per-layer")) { opt.per_channel = 0; continue; }
    if (cli_flag(argv, i, "--relu-ec")) { opt.relu_ec = 1; continue; }
    if (cli_opt(argc, argv, &i, "--spike-native", &v)) {
      if (!v || strcmp(v, "gelu")) return cli_usage_error("convert", "--spike-native takes: gelu (softmax and LayerNorm have no spike-native form here)");
      opt.native_gelu = 1;
      continue;
    }
    if (argv[i][0] == '-') return cli_usage_error("convert", "unknown option '%s'", argv[i]);
    if (model) return cli_usage_error("convert", "more than one MODEL given");
    model = argv[i];
  }
  if (!model) return cli_usage_error("convert", "missing MODEL");
  if (!out) return cli_usage_error("convert", "missing -o OUT.sfm");
  sf_status wst = cli_outputs_writable((const char *[]){out, json}, 2);
  if (wst) return cli_fail(wst);
  double t0 = cli_now();
  sf_graph *g = NULL;
  sf_dataset calib = {0};
  sf_snn_model *m = NULL;
  sf_graph *g1 = NULL;
  sf_status st = sf_graph_load(model, &g);
  if (st) return cli_fail(st);
  double t_load = cli_now();
  if ((st = sf_dataset_load(calib_dir, SF_SPLIT_TRAIN, opt.calib_samples, &calib))) goto done;
  double t_data = cli_now();
  if ((st = sf_convert(g, &calib, &opt, &m))) { sf_error_context(st, "%s", model); goto done; }
  double t_conv = cli_now();
  if ((st = sf_snn_model_build(m, 1, &g1))) goto done;
  sf_validation val;
  st = sf_validate(g1, &opt.snn.hardware_constraints, &val);
  if (st) {
    fprintf(stderr, "spikeformer: validation of the converted model failed:\n");
    for (int i = 0; i < val.n_errors; i++) fprintf(stderr, "  %s\n", val.errors[i]);
    sf_validation_free(&val);
    goto done;
  }
  /* spiking modes: node counts */
  int counts[4] = {0};
  const char *modes[4] = {"linear", "product", "ec", "neuron"};
  printf("converted %s -> %s\n", model, out);
  printf("neuron: %s, thresholds: %s%s, tuned for T=%d, encoding: direct (analog current into the first layer)\n",
         sf_neuron_model_name(opt.snn.neuron_model), sf_policy_name(opt.policy), opt.per_channel ? " per channel" : " per layer",
         opt.snn.timesteps);
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
  for (int i = 0; i < g1->n_nodes; i++) {
    const char *md = sf_snn_mode(&g1->nodes[i]);
    for (int k = 0; k < 4; k++) if (!strcmp(md, modes[k])) counts[k]++;
  }
  printf("\nnodes by spiking mode:\n");
  for (int k = 0; k < 4; k++) printf("  %-8s %4d  %s\n", modes[k], counts[k], mode_help(modes[k]));
  printf("runs as float at runtime (not spike-native):");
  int any = 0;
  for (int i = 0; i < g1->n_nodes; i++)
    if (!strcmp(sf_snn_mode(&g1->nodes[i]), "ec")) { printf("%s %s", any ? "," : "", g1->nodes[i].op_type); any = 1; }
  printf("%s\n", any ? "" : " none");
  printf("validation: passed (%d nodes checked: every node converted, shapes consistent, thresholds finite and positive, "
         "no NaN/Inf weights, max fan-in %d%s)\n", val.n_checked_nodes, val.max_fan_in,
         opt.snn.hardware_constraints.max_fan_in > 0 ? " within the target's limit" : "");
  sf_validation_free(&val);
  printf("\ncalibration (%d images) + conversion: %.3fs (load model %.3fs, read data %.3fs)\n", (int)(calib.n < opt.calib_samples ? calib.n : opt.calib_samples),
         t_conv - t_data, t_load - t0, t_data - t_load);
  if ((st = sf_snn_model_save(m, out))) goto done;
  printf("wrote %s (source SHA-256 %s)\n", out, sf_snn_model_source_sha256(m));
  if (json) {
    cJSON *r = cJSON_CreateObject(), *sites = cJSON_CreateArray(), *mc = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "model", model);
    cJSON_AddStringToObject(r, "output", out);
    cJSON_AddStringToObject(r, "neuron", sf_neuron_model_name(opt.snn.neuron_model));
    cJSON_AddStringToObject(r, "policy", sf_policy_name(opt.policy));
    cJSON_AddNumberToObject(r, "timesteps", opt.snn.timesteps);
    cJSON_AddStringToObject(r, "coding", sf_coding_name(opt.snn.coding));
    cJSON_AddNumberToObject(r, "convert_seconds", t_conv - t_data);
    for (int k = 0; k < 4; k++) cJSON_AddNumberToObject(mc, modes[k], counts[k]);
    cJSON_AddItemToObject(r, "nodes_by_mode", mc);
    for (int i = 0; i < sf_snn_model_num_sites(m); i++) {
      const char *name;
      int ch, sg;
      float lo, mean, hi;
      sf_snn_model_site(m, i, &name, &ch, &lo, &mean, &hi, &sg);
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "site", name);
      cJSON_AddBoolToObject(o, "signed", sg);
      cJSON_AddNumberToObject(o, "channels", ch);
      cJSON_AddNumberToObject(o, "theta_min", lo);
      cJSON_AddNumberToObject(o, "theta_mean", mean);
      cJSON_AddNumberToObject(o, "theta_max", hi);
      cJSON_AddItemToArray(sites, o);
    }
    cJSON_AddItemToObject(r, "thresholds", sites);
    st = cli_write_json(json, r);
  }
done:
  sf_graph_free(g1);
  sf_snn_model_free(m);
  sf_dataset_free(&calib);
  sf_graph_free(g);
  return st ? cli_fail(st) : 0;
}

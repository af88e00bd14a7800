/* spikeformer eval MODEL|OUT.sfm and spikeformer profile OUT.sfm: parse, sf_eval_ann / sf_eval_snn,
 * print. An ANN reports its accuracy; a converted model its accuracy after every timestep beside the
 * ANN's, per-layer firing rates and operations, spike purity; profile adds the energy tables. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_eval.h"

static const char *const splits[] = {"test", "train", NULL};
static const cli_option eval_options[] = {
    SNN_OPTIONS,
    {.name = "--split", .kind = CLI_CHOICE, .arg = "S", .offset = A(split), .help = "test (default) or train (choose settings there, not on the test split)", .choices = splits},
    {.name = "--predictions", .kind = CLI_STR, .arg = "FILE", .offset = A(predictions), .help = "ANNs: write the predicted class of every sample (int64 .npy)"},
    {.name = NULL}};

void cmd_eval_defaults(void *p) {
  eval_args *a = p;
  a->data = SF_DEFAULT_DATA_DIR;
  a->split = "test";
}

static int run_ann(eval_args *a, const char *model) {
  static const char *const snn_only[] = {"--timesteps", "--encoding", "--decoder", "--backend", "--path", "--quant", "--schedule", "--no-ann",
                                         "--energy-models", "--mlflow", NULL};
  for (int k = 0; snn_only[k]; k++)
    if (cli_given(a, snn_only[k])) return cli_usage_error("eval", "%s applies to converted models (.sfm); %s is an ANN", snn_only[k], model);
  sf_status st = sf_check_writable((const char *[]){a->json, a->predictions}, 2);
  if (st) return cli_fail(st);
  sf_graph *g = NULL;
  sf_dataset ds = {0};
  sf_ann_eval_result *r = NULL;
  cli_progress pb = {0};
  sf_ann_eval_options o;
  sf_ann_eval_options_default(&o);
  if (a->batch) o.batch = a->batch;
  o.keep_predictions = a->predictions != NULL;
  o.progress = cli_progress_fn;
  o.progress_user = &pb;
  if ((st = sf_graph_load(model, &g)) || (st = sf_dataset_load(a->data, strcmp(a->split, "train") ? SF_SPLIT_TEST : SF_SPLIT_TRAIN, a->limit, &ds)) ||
      (st = sf_eval_ann(g, model, &ds, &o, &r)))
    goto out;
  cli_progress_end(&pb);
  printf("model: %s\ndata: %s (%lld samples)\naccuracy: %.4f (%lld/%lld)\ntime: %.3fs (%.0f samples/s, %d thread%s)\n", model, r->data,
         (long long)r->samples, r->accuracy, (long long)r->correct, (long long)r->samples, r->seconds, r->seconds > 0 ? (double)r->samples / r->seconds : 0.0,
         r->threads, r->threads == 1 ? "" : "s");
  if (a->predictions) {
    sf_tensor pt = {0};
    int64_t n = r->samples;
    sf_tensor_describe(&pt, SF_I64, 1, &n);
    pt.data = r->predictions;
    if ((st = sf_npy_write(a->predictions, &pt))) goto out;
  }
  if (a->json) st = cli_write_text(a->json, sf_ann_eval_json(r));
out:
  cli_progress_end(&pb);
  sf_ann_eval_result_free(r);
  sf_dataset_free(&ds);
  sf_graph_free(g);
  return st ? cli_fail(st) : 0;
}

static void print_energy(const sf_eval_result *r, int no_ann) {
  const double n = (double)r->samples;
  const int ne = r->n_energy;
  if (r->convert.snn.neuron_model == SF_NEURON_BURST)
    printf("\nSOPs: %s\n", sf_config_binary_bursts(&r->convert.snn)
                               ? "a burst of k spikes is sent as popcount(k) weighted spikes, each one synaptic event at every target, plus (bits of K) - 1 "
                                 "adds per target and step that combine the per-bit accumulators"
                               : "a burst of k spikes is k synaptic events at every target (unary code)");
  printf("\nenergy per sample (pJ) by layer, T=%d:\n%-44s %-7s %12s %10s %12s %10s", r->timesteps, "layer", "mode", "SOPs", "MACs", "neuron upd", "spikes");
  for (int k = 0; k < ne; k++) printf(" %14s", r->energy[k].name);
  printf("\n");
  for (int i = 0; i < r->n_layers; i++) {
    const sf_snn_node_stats *s = &r->layers[i].stats;
    if (s->macs == 0 && s->sops == 0 && s->float_ops == 0 && s->neuron_updates == 0) continue;
    printf("%-44.44s %-7s %12.0f %10.0f %12.0f %10.0f", s->name, sf_spiking_mode_name(s->mode), s->sops / n, s->macs / n, s->neuron_updates / n, s->spikes / n);
    for (int k = 0; k < ne; k++) printf(" %14.0f", r->layers[i].energy_pj[k]);
    printf("\n");
  }
  printf("\n%-14s %16s %16s %10s  sources\n", "model", "SNN uJ/sample", "ANN uJ/sample", "SNN/ANN");
  for (int k = 0; k < ne; k++)
    printf("%-14s %16.3f %16.3f %10.3f  %s\n", r->energy[k].name, r->snn_pj[k] * 1e-6, r->ann_pj[k] * 1e-6, r->ann_pj[k] > 0 ? r->snn_pj[k] / r->ann_pj[k] : 0.0,
           r->energy[k].sources);
  printf("ANN per sample: %.0f MACs, %.0f float evaluations, %.0f activations written\n", r->ann_counts.macs, r->ann_counts.float_ops, r->ann_counts.activations);
  /* ComparisonFramework: the ANN beside the SNN at every T (energy modelled from the exact per-step
   * counters; time measured on this CPU) */
  printf("\nANN vs SNN at every T (energy modelled per sample from exact counts; ratio = SNN / ANN):\n%4s %10s %8s", "T", "accuracy", "loss");
  for (int k = 0; k < ne; k++) printf(" %18.18s", r->energy[k].name);
  printf("\n");
  double **ratio = calloc((size_t)(ne ? ne : 1), sizeof(double *));
  for (int k = 0; ratio && k < ne; k++) ratio[k] = sf_eval_energy_ratio_by_t(r, k);
  for (int t = 1; t <= r->timesteps; t++) {
    if (!(t <= 8 || t % 4 == 0 || t == r->timesteps)) continue;
    double acc = r->snn_accuracy_by_t[t - 1];
    printf("%4d %10.4f %+8.2f", t, acc, no_ann ? 0.0 : 100.0 * (r->ann_accuracy - acc));
    for (int k = 0; k < ne; k++) printf(" %18.3f", ratio && ratio[k] ? ratio[k][t - 1] : 0.0);
    printf("\n");
  }
  for (int k = 0; ratio && k < ne; k++) free(ratio[k]);
  free(ratio);
  if (!no_ann)
    printf("time on this CPU (%d thread%s): ANN %.1f us/sample, SNN %.1f us/sample at T=%d (%.1fx)\n", r->threads, r->threads == 1 ? "" : "s",
           1e6 * r->ann_seconds / n, 1e6 * r->snn_seconds / n, r->timesteps, r->ann_seconds > 0 ? r->snn_seconds / r->ann_seconds : 0.0);
  if (r->rapl_available && !no_ann)
    printf("measured (RAPL, package): ANN %.2f uJ/sample, SNN %.2f uJ/sample at T=%d\n", r->ann_rapl_joules * 1e6 / n, r->snn_rapl_joules * 1e6 / n, r->timesteps);
  if (r->rapl_available)
    printf("measured (RAPL, package): %.3f J over the SNN run (%.2f uJ/sample, includes the ANN beside it unless --no-ann)\n", r->rapl_joules, r->rapl_joules * 1e6 / n);
  else printf("measured energy: not available here, because %s\n", r->rapl_reason);
  if (r->gpu_joules >= 0)
    printf("GPU energy (NVML, %s): %.3f J during the run; the SNN runs on the CPU, so this is the GPU's idle draw\n", r->gpu_name, r->gpu_joules);
  else printf("GPU energy (NVML): not available here, because %s\n", r->gpu_reason);
}

static void print_snn(const sf_eval_result *r, const char *quant) {
  const double n = (double)r->samples;
  const sf_convert_options *opt = &r->convert;
  const int no_ann = !r->ann_evaluated;
  char code[64] = "";
  if (sf_config_binary_bursts(&opt->snn)) snprintf(code, sizeof code, ", binary-coded bursts of up to %d", opt->snn.burst_levels);
  printf("model: %s (%s neurons%s, %s thresholds, converted for T=%d, %s coding)\n", r->model, sf_neuron_model_name(opt->snn.neuron_model), code,
         sf_policy_name(opt->policy), opt->snn.timesteps, sf_coding_name(opt->snn.coding));
  printf("data: %s (%lld samples), encoding: %s\n", r->data, (long long)r->samples, sf_encoding_name(r->backend_options.encoding));
  if (no_ann) printf("ANN accuracy: not evaluated (--no-ann)\n\n  T   SNN accuracy\n");
  else printf("ANN accuracy: %.4f\n\n  T   SNN accuracy   loss vs ANN (points)\n", r->ann_accuracy);
  for (int t = 1; t <= r->timesteps; t++) {
    double acc = r->snn_accuracy_by_t[t - 1];
    if (!(t <= 8 || t % 4 == 0 || t == r->timesteps)) continue;
    if (no_ann) printf("%3d   %.4f\n", t, acc);
    else printf("%3d   %.4f         %+.2f\n", t, acc, 100.0 * (r->ann_accuracy - acc));
  }
  printf("\n%-44s %-8s %-8s %12s %14s %14s\n", "layer", "op", "mode", "firing rate", "SOPs/sample", "float ops/smp");
  for (int i = 0; i < r->n_layers; i++) {
    const sf_snn_node_stats *s = &r->layers[i].stats;
    if (s->sops == 0 && s->macs == 0 && s->float_ops == 0 && s->mode != SF_MODE_NEURON) continue;
    printf("%-44.44s %-8.8s %-8s %12.4f %14.0f %14.0f\n", s->name, s->op_type, sf_spiking_mode_name(s->mode), r->layers[i].firing_rate, (s->sops + s->macs) / n, s->float_ops / n);
  }
  const double total = r->sops + r->macs + r->float_ops;
  printf("\nper sample over T=%d: %.0f synaptic ops (accumulate on spike), %.0f MACs (analog input layer), %.0f float evaluations\n", r->timesteps,
         r->sops / n, r->macs / n, r->float_ops / n);
  printf("spike purity: %.1f%% of operations are accumulates triggered by spikes; %.1f%% MACs; %.1f%% float (softmax, LayerNorm, GELU ...)\n",
         total ? 100 * r->sops / total : 0, total ? 100 * r->macs / total : 0, total ? 100 * r->float_ops / total : 0);
  printf("mean firing rate: %.4f spikes per neuron per step; time %.2fs (%d thread%s, backend %s)\n", r->firing_rate, r->seconds, r->threads,
         r->threads == 1 ? "" : "s", r->backend);
  if (!no_ann && r->ann_seconds > 0 && r->snn_seconds > 0)
    printf("spiking runs %.2fs, the ANN beside them %.2fs on the same threads: %.1fx the ANN's time, %.2f of an ANN pass per timestep\n", r->snn_seconds,
           r->ann_seconds, r->snn_seconds / r->ann_seconds, r->snn_seconds / r->ann_seconds / (double)r->timesteps);
  double all = 0;
  for (int k = 0; k < SF_WORK_KINDS; k++) all += r->seconds_by_kind[k];
  printf("runtime by kind of work:");
  for (int k = 0; k < SF_WORK_KINDS; k++)
    printf(" %s %.0f%%%s", sf_work_kind_name((sf_work_kind)k), all > 0 ? 100 * r->seconds_by_kind[k] / all : 0.0, k + 1 < SF_WORK_KINDS ? "," : "\n");
  if (quant && !strcmp(quant, "int8")) {
    printf("quantised: int8 weights with int32 accumulators on %d of %d spike-fed layers (kernels: %s); int32 membranes in every neuron\n", r->int8_layers,
           r->spike_fed_layers, r->kernels);
    if (r->int8_analog_layers)
      printf("  and %d analog input layer%s on int8 weights and 8-bit inputs (per sample: unsigned where all >= 0, else signed)\n", r->int8_analog_layers,
             r->int8_analog_layers == 1 ? "" : "s");
  }
  if (r->chained_layers) printf("schedule: time-major chain of %d layers (one sample through up to 32 steps at a time)\n", r->chained_layers);
  else printf("schedule: step-major (every layer over the batch at each step)\n");
  if (opt->snn.coding == SF_CODING_DELTA) {
    double all_work = 0;
    int quiet = 0;
    for (int t = 1; t <= r->timesteps; t++) all_work += r->work_by_t[t - 1];
    for (int t = 2; t <= r->timesteps; t++) quiet += r->work_by_t[t - 1] == 0;
    printf("coding: delta (sigma-delta): the input and the constants arrive at t=1, then only changes; t=1 did %.1f%% of the work "
           "(synaptic ops, MACs, float evaluations, neuron updates), t=2..%d %.1f%%; %d of those %d steps ran nothing\n",
           all_work > 0 ? 100 * r->work_by_t[0] / all_work : 0.0, r->timesteps, all_work > 0 ? 100 * (1 - r->work_by_t[0] / all_work) : 0.0, quiet,
           r->timesteps - 1);
  }
  if (r->energy) print_energy(r, no_ann);
  /* profile on a backend with a report of its own (loihi2: the mapping, the messages inside and
   * between cores and chips, energy and time per inference from Loihi's per-operation figures) */
  if (r->energy && r->backend_report_text) printf("\n%s", r->backend_report_text);
}

static int run_snn(eval_args *a, const char *model) {
  const char *cmd = a->profile ? "profile" : "eval";
  if (cli_given(a, "--predictions")) return cli_usage_error(cmd, "--predictions applies to ANNs; %s is a converted model", model);
  sf_status st = sf_check_writable((const char *[]){a->json}, 1);
  if (st) return cli_fail(st);
  sf_snn_model *m = NULL;
  sf_dataset ds = {0};
  sf_eval_result *r = NULL;
  void *target = NULL;
  const sf_backend *be = NULL;
  cli_progress pb = {0};
  sf_eval_options o;
  sf_eval_options_default(&o);
  o.timesteps = (int)a->timesteps;
  o.batch = a->batch;
  o.ann = !a->no_ann;
  o.profile = a->profile;
  o.energy_dir = a->energy_models;
  o.backend = a->backend ? a->backend : "cpu";
  o.progress = cli_progress_fn;
  o.progress_user = &pb;
  if (a->encoding) sf_encoding_parse(a->encoding, &o.backend_options.encoding);
  if (a->decoder) sf_decoder_parse(a->decoder, &o.backend_options.decoder);
  /* backend-specific options by name: the backend says whether it takes them */
  if ((st = sf_backend_find(o.backend, &be)) || (st = sf_backend_target_new(be, &target))) goto out;
  const struct { const char *flag, *key, *value; } tk[] = {{"--path", "path", a->path}, {"--quant", "quant", a->quant}, {"--schedule", "schedule", a->schedule}};
  for (size_t k = 0; k < sizeof tk / sizeof tk[0]; k++)
    if (tk[k].value && (st = sf_backend_target_set(be, target, tk[k].key, tk[k].value))) goto out;
  if ((st = cli_backend_opts(be, target, &a->backend_opts))) goto out;
  o.backend_options.target = target;
  if ((st = sf_snn_model_load(model, &m)) || (st = sf_dataset_load(a->data, strcmp(a->split, "train") ? SF_SPLIT_TEST : SF_SPLIT_TRAIN, a->limit, &ds)) || (st = sf_eval_snn(m, model, &ds, &o, &r))) goto out;
  cli_progress_end(&pb);
  print_snn(r, a->quant);
  if (a->json && (st = cli_write_text(a->json, sf_eval_json(r)))) goto out;
  if (a->mlflow) {
    if ((st = sf_eval_log_mlflow(r, a->mlflow, cmd))) goto out;
    printf("logged run to %s (MLflow file store)\n", a->mlflow);
  }
out:
  cli_progress_end(&pb);
  free(target);
  sf_eval_result_free(r);
  sf_dataset_free(&ds);
  sf_snn_model_free(m);
  return st ? cli_fail(st) : 0;
}

int cmd_eval_run(void *p) {
  eval_args *a = p;
  const char *model = a->h.pos[0];
  if (cli_is_sfm(model)) return run_snn(a, model);
  if (a->profile) return cli_fail(sf_error(SF_ERR_ARG, "%s: profile needs a converted model (.sfm from 'spikeformer convert')", model));
  return run_ann(a, model);
}

const cli_command cmd_eval = {
    "eval", "MODEL|OUT.sfm [options]", "accuracy of a model (ANN, or .sfm spiking network) on a labelled test set",
    "Runs MODEL (an ONNX file or a Hugging Face directory) on a labelled image set and reports the accuracy of its\n"
    "first output (logits). For a converted spiking network (OUT.sfm) it runs T timesteps (default: the T it was\n"
    "converted for) and reports the accuracy after every timestep beside the ANN's on the same images, per-layer\n"
    "firing rates, synaptic operations, and the spike purity (the share of operations that are accumulates\n"
    "triggered by spikes, versus multiply-accumulates and float function evaluations). --quant int8 runs the\n"
    "layers fed by spikes on int8 weights with int32 accumulators and every neuron with an int32 membrane.",
    eval_options, sizeof(eval_args), cmd_eval_defaults, cmd_eval_run, 1, 1, "MODEL"};

/* spikeformer eval OUT.sfm --data DIR --timesteps T [--limit N] [--json FILE]: SNN accuracy after
 * every timestep 1..T in one pass, beside the ANN's on the same images, with per-layer firing
 * rates, synaptic operations and the share of operations that are spike-driven (spike purity). */
#include <cJSON.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

#include "convert/convert_internal.h"
#include "core/util.h"
#include "snn/spike_kernels_q8.h"
#include "spikeformer/analyze.h"
#include "spikeformer/backend.h"
#include "spikeformer/energy.h"
#include "spikeformer/mlflow.h"
#include "spikeformer/session.h"
#include "spikeformer/snn.h"
#include "tools/cli.h"

/* Kinds of work a spiking layer does, for the time breakdown. */
enum { TK_NEURON, TK_SYNAPTIC, TK_ANALOG, TK_EC, TK_PRODUCT, TK_OTHER, N_TIME_KINDS };
static const char *time_kind_names[N_TIME_KINDS] = {"neurons", "synapses (spike-fed layers)", "analog input layer",
                                                    "float functions (EC)", "spike-stream products", "other (adds, layout)"};
static const char *time_kind_keys[N_TIME_KINDS] = {"neurons", "synapses", "analog_input", "ec_functions", "products", "other"};

static int time_kind(const sf_snn_node_stats *s) {
  if (!strcmp(s->mode, "neuron")) return TK_NEURON;
  if (!strcmp(s->mode, "ec")) return TK_EC;
  if (!strcmp(s->mode, "product")) return TK_PRODUCT;
  if (s->sops > 0) return TK_SYNAPTIC;
  if (s->macs > 0) return TK_ANALOG;
  return TK_OTHER;
}

static void help(void) {
  printf("usage: spikeformer eval OUT.sfm [--data DIR] [--timesteps T] [--limit N] [--batch N] [--encoding E]\n"
         "                        [--backend cpu] [--path auto|dense|event|bitpacked] [--quant float|int8] [--decoder membrane|count]\n"
         "                        [--schedule auto|step] [--no-ann] [--json FILE] [--threads N]\n"
         "\n"
         "Runs the spiking network for T timesteps (default: the T it was converted for) and reports\n"
         "its accuracy after every timestep, beside the ANN's on the same images; per-layer firing\n"
         "rates, synaptic operations, and the spike purity (share of operations that are accumulates\n"
         "triggered by spikes, versus multiply-accumulates and float function evaluations).\n"
         "--quant int8 runs the layers fed by spikes on int8 weights with int32 accumulators and every\n"
         "neuron with an int32 membrane; compare its accuracy with the default float run.\n"
         "--schedule step runs every layer over the batch at each step even where the model is a\n"
         "feed-forward int8 chain (a converted MLP), which auto runs one sample through a block of steps\n"
         "at a time, layer after layer (same spikes and outputs, its state in the first-level cache).\n"
         "--batch N runs N samples together (default: about 256, or 128 per thread where that is more,\n"
         "the data split into equal batches); the runtime splits a batch into shards and every thread\n"
         "runs whole shards.\n");
}

int cmd_eval_snn(const char *model, int argc, char **argv) { return cmd_eval_snn_mode(model, argc, argv, 0); }

int cmd_eval_snn_mode(const char *model, int argc, char **argv, int profile) {
  const char *data = SF_DEFAULT_DATA_DIR, *json = NULL, *v;
  int64_t limit = 0, batch = 256, T = 0;
  int batch_given = 0;
  sf_spike_encoding enc = SF_ENCODE_DIRECT;
  const char *backend_name = "cpu", *energy_dir = NULL, *mlflow_dir = NULL;
  int no_ann = 0;
  sf_backend_options bo;
  sf_backend_options_default(&bo);
  for (int i = 1; i < argc; i++) {
    if (cli_flag(argv, i, "--no-ann")) { no_ann = 1; continue; }
    if (cli_opt(argc, argv, &i, "--mlflow", &v)) { if (!v) return cli_usage_error("eval", "--mlflow needs a folder"); mlflow_dir = v; continue; }
    if (cli_opt(argc, argv, &i, "--energy-models", &v)) { if (!v) return cli_usage_error("profile", "--energy-models needs a folder"); energy_dir = v; continue; }
    if (cli_opt(argc, argv, &i, "--decoder", &v)) {
      if (v && !strcmp(v, "membrane")) bo.decoder = SF_DECODE_MEMBRANE;
      else if (v && !strcmp(v, "count")) bo.decoder = SF_DECODE_COUNT;
      else return cli_usage_error("eval", "--decoder takes membrane or count");
      continue;
    }
    if (cli_opt(argc, argv, &i, "--quant", &v)) {
      if (v && !strcmp(v, "int8")) bo.quant = 8;
      else if (v && !strcmp(v, "float")) bo.quant = 0;
      else return cli_usage_error("eval", "--quant takes int8 or float");
      continue;
    }
    if (cli_opt(argc, argv, &i, "--backend", &v)) { if (!v) return cli_usage_error("eval", "--backend needs a name"); backend_name = v; continue; }
    if (cli_opt(argc, argv, &i, "--schedule", &v)) {
      if (v && !strcmp(v, "auto")) bo.step_major = 0;
      else if (v && !strcmp(v, "step")) bo.step_major = 1;
      else return cli_usage_error("eval", "--schedule takes auto or step");
      continue;
    }
    if (cli_opt(argc, argv, &i, "--path", &v)) {
      static const char *paths[] = {"auto", "dense", "event", "bitpacked"};
      int k = -1;
      for (int j = 0; j < 4; j++) if (v && !strcmp(v, paths[j])) k = j;
      if (k < 0) return cli_usage_error("eval", "--path takes auto, dense, event or bitpacked");
      bo.path = k;
      continue;
    }
    if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) { help(); return 0; }
    if (cli_common(argc, argv, &i)) continue;
    if (cli_opt(argc, argv, &i, "--data", &v)) { if (!v) return cli_usage_error("eval", "--data needs a folder"); data = v; continue; }
    if (cli_opt(argc, argv, &i, "--json", &v)) { if (!v) return cli_usage_error("eval", "--json needs a file"); json = v; continue; }
    if (cli_opt(argc, argv, &i, "--limit", &v)) { if (cli_parse_i64(v, 1, INT64_MAX, &limit)) return cli_usage_error("eval", "--limit needs a positive number"); continue; }
    if (cli_opt(argc, argv, &i, "--batch", &v)) {
      if (cli_parse_i64(v, 1, 1 << 16, &batch)) return cli_usage_error("eval", "--batch needs a whole number from 1 to 65536");
      batch_given = 1;
      continue;
    }
    if (cli_opt(argc, argv, &i, "--timesteps", &v)) { if (cli_parse_i64(v, 1, 100000, &T)) return cli_usage_error("eval", "--timesteps needs a whole number from 1 to 100000"); continue; }
    if (cli_opt(argc, argv, &i, "--encoding", &v)) {
      if (v && !strcmp(v, "direct")) enc = SF_ENCODE_DIRECT;
      else if (v && !strcmp(v, "rate")) enc = SF_ENCODE_RATE;
      else if (v && !strcmp(v, "latency")) enc = SF_ENCODE_LATENCY;
      else return cli_usage_error("eval", "--encoding takes direct, rate or latency");
      continue;
    }
    if (argv[i][0] == '-') return cli_usage_error("eval", "unknown option '%s'", argv[i]);
    if (strcmp(argv[i], model)) return cli_usage_error("eval", "more than one MODEL given");
  }
  sf_status wst = cli_outputs_writable((const char *[]){json}, 1);
  if (wst) return cli_fail(wst);
  sf_snn_model *m = NULL;
  sf_dataset ds = {0};
  sf_graph *g = NULL;
  const sf_backend *be = NULL;
  sf_compiled *comp = NULL;
  sf_deployed *deps[2] = {NULL, NULL}, *dep = NULL;
  int n_deps = 0;
  sf_session *ann = NULL;
  int64_t *correct = NULL, ann_correct = 0;
  sf_snn_node_stats *tot = NULL;
  int n_nodes = 0;
  sf_energy_model *em = NULL;
  int n_em = 0;
  sf_op_counts annc = {0};
  double *snn_pj = NULL, *ann_pj = NULL, *step_ops = NULL, *work_t = NULL, ann_secs = 0, snn_secs = 0, ann_j = 0, snn_j = 0;
  sf_power_monitor pm;
  memset(&pm, 0, sizeof pm);
  /* the runtime gives each thread whole shards of a batch: on many cores a bigger default batch
   * keeps every thread busy (256 samples suffice for two) */
  if (!batch_given && 128 * (int64_t)sf_threads_get() > batch) batch = 128 * (int64_t)sf_threads_get();
  sf_status st = sf_snn_model_load(model, &m);
  if (st) return cli_fail(st);
  const sf_convert_options *opt = sf_snn_model_options(m);
  if (!T) T = opt->snn.timesteps;
  if ((st = sf_dataset_load(data, SF_SPLIT_TEST, limit, &ds)) || (st = cli_labels_fit(&ds, cli_snn_classes(m), model))) goto done;
  /* the default batch splits the data evenly (10,000 images: 40 batches of 250, not 39 of 256 and
   * one of 16), so that one deployment serves every batch */
  if (!batch_given && ds.n > batch) {
    const int64_t nb = (ds.n + batch - 1) / batch;
    batch = (ds.n + nb - 1) / nb;
  }
  correct = calloc((size_t)T, sizeof(int64_t));
  if (!correct) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
  bo.encoding = enc;
  if ((st = sf_backend_find(backend_name, &be))) goto done;
  if ((st = sf_backend_compile(be, m, &bo, &comp))) goto done;
  int64_t cur_batch = 0;
  sf_power_monitor_probe(&pm);
  if (profile && (st = sf_energy_models_load(energy_dir, &em, &n_em))) goto done;
  double j0 = sf_power_monitor_rapl_joules(&pm), g0 = sf_power_monitor_gpu_joules(&pm);
  cli_progress pb;
  cli_progress_start(&pb, profile ? "profile" : "snn eval", ds.n);
  double t0 = cli_now();
  for (int64_t start = 0; start < ds.n; start += batch) {
    int64_t cnt = ds.n - start < batch ? ds.n - start : batch;
    if (cnt != cur_batch) {
      /* deploy for this batch size (at most two: full batches and the remainder) */
      if (n_deps == 2) { st = sf_error(SF_ERR_INTERNAL, "unexpected batch size"); goto done; }
      if ((st = sf_backend_deploy(comp, cnt, &deps[n_deps]))) goto done;
      dep = deps[n_deps++];
      /* the ANN beside it: the source model itself (not the converted graph's ANN view, which
       * differs when a spike-native alternative replaced an op) */
      if (!ann && !no_ann && (st = sf_session_create(sf_snn_model_source(m), NULL, &ann))) goto done;
      cur_batch = cnt;
    }
    sf_tensor x = sf_dataset_batch(&ds, start, cnt);
    if (sf_graph_input_desc(sf_snn_model_source(m), 0).ndim == 2) { x.ndim = 2; x.shape[1] = ds.c * ds.h * ds.w; }
    sf_tensor outs[8] = {{0}};
    if (no_ann) goto snn_only;
    double ta = cli_now(), ja = sf_power_monitor_rapl_joules(&pm);
    if ((st = sf_session_run(ann, &x, outs))) goto done;
    ann_secs += cli_now() - ta;
    if (ja >= 0) ann_j += sf_power_monitor_rapl_joules(&pm) - ja;
    ann_correct += cli_count_correct(&outs[0], ds.labels + start, cnt);
    for (int k = 0; k < sf_graph_num_outputs(sf_snn_model_source(m)) && k < 8; k++) sf_tensor_free(&outs[k]);
  snn_only:;
    cli_acc_ctx sc = {ds.labels + start, cnt, correct, NULL, 0, 0};
    double ts = cli_now(), js = sf_power_monitor_rapl_joules(&pm);
    if ((st = sf_backend_execute(dep, &x, (int)T, cli_acc_step, &sc))) goto done;
    snn_secs += cli_now() - ts;
    if (js >= 0) snn_j += sf_power_monitor_rapl_joules(&pm) - js;
    cli_progress_update(&pb, start + cnt);
  }
  /* merge the counters of every deployment (same layers, same order) */
  n_nodes = n_deps ? sf_backend_profile_count(deps[0]) : 0;
  tot = calloc((size_t)(n_nodes ? n_nodes : 1), sizeof *tot);
  if (!tot) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
  for (int d = 0; d < n_deps; d++)
    for (int i = 0; i < n_nodes; i++) {
      sf_snn_node_stats s1;
      sf_backend_profile(deps[d], i, &s1);
      if (d == 0) { tot[i] = s1; continue; }
      tot[i].spikes += s1.spikes; tot[i].events += s1.events; tot[i].sops += s1.sops; tot[i].macs += s1.macs;
      tot[i].float_ops += s1.float_ops; tot[i].neuron_updates += s1.neuron_updates; tot[i].seconds += s1.seconds;
    }
  double secs = cli_now() - t0;
  double j1 = sf_power_monitor_rapl_joules(&pm), g1 = sf_power_monitor_gpu_joules(&pm);
  cli_progress_end(&pb);
  double ann_acc = (double)ann_correct / (double)ds.n;
  char code[64] = "";
  if (sf_config_binary_bursts(&opt->snn))
    snprintf(code, sizeof code, ", binary-coded bursts of up to %d", opt->snn.burst_levels);
  printf("model: %s (%s neurons%s, %s thresholds, converted for T=%d, %s coding)\n", model, sf_neuron_model_name(opt->snn.neuron_model), code,
         sf_policy_name(opt->policy), opt->snn.timesteps, sf_coding_name(opt->snn.coding));
  printf("data: %s (%lld samples), encoding: %s\n", ds.source, (long long)ds.n, sf_encoding_name(enc));
  if (no_ann) printf("ANN accuracy: not evaluated (--no-ann)\n\n  T   SNN accuracy\n");
  else printf("ANN accuracy: %.4f\n\n  T   SNN accuracy   loss vs ANN (points)\n", ann_acc);
  for (int64_t t = 1; t <= T; t++) {
    double a = (double)correct[t - 1] / (double)ds.n;
    if (t <= 8 || t % 4 == 0 || t == T) {
      if (no_ann) printf("%3lld   %.4f\n", (long long)t, a);
      else printf("%3lld   %.4f         %+.2f\n", (long long)t, a, 100.0 * (ann_acc - a));
    }
  }
  double sops = 0, macs = 0, fops = 0, spikes = 0, neurons = 0;
  printf("\n%-44s %-8s %-8s %12s %14s %14s\n", "layer", "op", "mode", "firing rate", "SOPs/sample", "float ops/smp");
  for (int i = 0; i < n_nodes; i++) {
    sf_snn_node_stats *s1 = &tot[i];
    sops += s1->sops; macs += s1->macs; fops += s1->float_ops; spikes += s1->spikes;
    if (!strcmp(s1->mode, "neuron")) neurons += (double)s1->neurons;
    if (s1->sops == 0 && s1->macs == 0 && s1->float_ops == 0 && strcmp(s1->mode, "neuron")) continue;
    double rate = !strcmp(s1->mode, "neuron") && s1->neurons ? s1->spikes / ((double)s1->neurons * (double)T * (double)ds.n) : 0;
    printf("%-44.44s %-8.8s %-8s %12.4f %14.0f %14.0f\n", s1->name, s1->op_type, s1->mode, rate, (s1->sops + s1->macs) / (double)ds.n,
           s1->float_ops / (double)ds.n);
  }
  double total_ops = sops + macs + fops;
  printf("\nper sample over T=%lld: %.0f synaptic ops (accumulate on spike), %.0f MACs (analog input layer), %.0f float evaluations\n",
         (long long)T, sops / (double)ds.n, macs / (double)ds.n, fops / (double)ds.n);
  printf("spike purity: %.1f%% of operations are accumulates triggered by spikes; %.1f%% MACs; %.1f%% float (softmax, LayerNorm, GELU ...)\n",
         total_ops ? 100 * sops / total_ops : 0, total_ops ? 100 * macs / total_ops : 0, total_ops ? 100 * fops / total_ops : 0);
  printf("mean firing rate: %.4f spikes per neuron per step; time %.2fs (%d thread%s, backend %s)\n", neurons ? spikes / (neurons * (double)T * (double)ds.n) : 0.0,
         secs, sf_threads_get(), sf_threads_get() == 1 ? "" : "s", backend_name);
  if (!no_ann && ann_secs > 0 && snn_secs > 0)
    printf("spiking runs %.2fs, the ANN beside them %.2fs on the same threads: %.1fx the ANN's time, %.2f of an ANN pass per timestep\n",
           snn_secs, ann_secs, snn_secs / ann_secs, snn_secs / ann_secs / (double)T);
  /* where the runtime's time went, by what a node does (thread-seconds over all layers) */
  double by_kind[N_TIME_KINDS] = {0}, all_secs = 0;
  for (int i = 0; i < n_nodes; i++) { by_kind[time_kind(&tot[i])] += tot[i].seconds; all_secs += tot[i].seconds; }
  printf("runtime by kind of work:");
  for (int k = 0; k < N_TIME_KINDS; k++) printf(" %s %.0f%%%s", time_kind_names[k], all_secs > 0 ? 100 * by_kind[k] / all_secs : 0.0, k + 1 < N_TIME_KINDS ? "," : "\n");
  int n_int8 = 0, n_spike_linear = 0, n_int8_analog = 0, n_chained = 0;
  for (int i = 0; i < n_nodes; i++) {
    if (!strcmp(tot[i].mode, "linear") && tot[i].sops > 0) { n_spike_linear++; n_int8 += tot[i].int8; }
    if (!strcmp(tot[i].mode, "linear") && tot[i].sops == 0 && tot[i].macs > 0) n_int8_analog += tot[i].int8;
    n_chained += tot[i].time_major;
  }
  if (bo.quant) {
    printf("quantised: int8 weights with int32 accumulators on %d of %d spike-fed layers (kernels: %s); int32 membranes in every neuron\n",
           n_int8, n_spike_linear, sf_q8_isa());
    if (n_int8_analog)
      printf("  and %d analog input layer%s on int8 weights and 8-bit inputs (per sample: unsigned where all >= 0, else signed)\n", n_int8_analog,
             n_int8_analog == 1 ? "" : "s");
  }
  if (n_chained) printf("schedule: time-major chain of %d layers (one sample through up to 32 steps at a time)\n", n_chained);
  else printf("schedule: step-major (every layer over the batch at each step)\n");
  /* the work done at each step (synaptic ops, MACs, float evaluations, neuron updates per sample):
   * under delta coding, what a static input leaves for the steps after the first */
  if (!(work_t = calloc((size_t)T, sizeof(double)))) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
  double work_all = 0;
  for (int d = 0; d < n_deps; d++)
    for (int64_t t = 1; t <= T; t++) {
      double o4[4];
      sf_backend_profile_step(deps[d], (int)t, o4);
      work_t[t - 1] += (o4[0] + o4[1] + o4[2] + o4[3]) / (double)ds.n;
      work_all += (o4[0] + o4[1] + o4[2] + o4[3]) / (double)ds.n;
    }
  if (opt->snn.coding == SF_CODING_DELTA) {
    int64_t quiet = 0;
    for (int64_t t = 2; t <= T; t++) quiet += work_t[t - 1] == 0;
    printf("coding: delta (sigma-delta): the input and the constants arrive at t=1, then only changes; t=1 did %.1f%% of the work "
           "(synaptic ops, MACs, float evaluations, neuron updates), t=2..%lld %.1f%%; %lld of those %lld steps ran nothing\n",
           work_all > 0 ? 100 * work_t[0] / work_all : 0.0, (long long)T, work_all > 0 ? 100 * (1 - work_t[0] / work_all) : 0.0, (long long)quiet,
           (long long)(T - 1));
  }
  if (profile) {
    if ((st = sf_energy_ann_counts(sf_snn_model_source(m), &annc))) goto done;
    snn_pj = calloc((size_t)n_em, sizeof(double));
    ann_pj = calloc((size_t)n_em, sizeof(double));
    if (!snn_pj || !ann_pj) { free(snn_pj); free(ann_pj); st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
    if (opt->snn.neuron_model == SF_NEURON_BURST)
      printf("\nSOPs: %s\n", sf_config_binary_bursts(&opt->snn)
                                 ? "a burst of k spikes is sent as popcount(k) weighted spikes, each one synaptic event at every target, plus (bits of K) - 1 adds per target and step that combine the per-bit accumulators"
                                 : "a burst of k spikes is k synaptic events at every target (unary code)");
    printf("\nenergy per sample (pJ) by layer, T=%lld:\n%-44s %-7s %12s %10s %12s %10s", (long long)T, "layer", "mode", "SOPs", "MACs", "neuron upd", "spikes");
    for (int k = 0; k < n_em; k++) printf(" %14s", em[k].name);
    printf("\n");
    for (int i = 0; i < n_nodes; i++) {
      sf_snn_node_stats *s1 = &tot[i];
      sf_op_counts c = {s1->macs / (double)ds.n, s1->sops / (double)ds.n, s1->float_ops / (double)ds.n, s1->neuron_updates / (double)ds.n, 0};
      for (int k = 0; k < n_em; k++) snn_pj[k] += sf_energy_pj(&em[k], &c);
      if (c.macs == 0 && c.sops == 0 && c.float_ops == 0 && c.neuron_updates == 0) continue;
      printf("%-44.44s %-7s %12.0f %10.0f %12.0f %10.0f", s1->name, s1->mode, c.sops, c.macs, c.neuron_updates, s1->spikes / (double)ds.n);
      for (int k = 0; k < n_em; k++) printf(" %14.0f", sf_energy_pj(&em[k], &c));
      printf("\n");
    }
    printf("\n%-14s %16s %16s %10s  sources\n", "model", "SNN uJ/sample", "ANN uJ/sample", "SNN/ANN");
    for (int k = 0; k < n_em; k++) {
      ann_pj[k] = sf_energy_pj(&em[k], &annc);
      printf("%-14s %16.3f %16.3f %10.3f  %s\n", em[k].name, snn_pj[k] * 1e-6, ann_pj[k] * 1e-6, ann_pj[k] > 0 ? snn_pj[k] / ann_pj[k] : 0.0, em[k].sources);
    }
    printf("ANN per sample: %.0f MACs, %.0f float evaluations, %.0f activations written\n", annc.macs, annc.float_ops, annc.activations);
    /* ComparisonFramework: the ANN beside the SNN at every T (energy modelled from the exact
     * per-step counters; time measured on this CPU) */
    if (!(step_ops = calloc((size_t)T * 4, sizeof(double)))) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
    for (int d = 0; d < n_deps; d++)
      for (int64_t t = 1; t <= T; t++) {
        double o4[4];
        sf_backend_profile_step(deps[d], (int)t, o4);
        for (int k = 0; k < 4; k++) step_ops[(t - 1) * 4 + k] += o4[k] / (double)ds.n;
      }
    printf("\nANN vs SNN at every T (energy modelled per sample from exact counts; ratio = SNN / ANN):\n%4s %10s %8s", "T", "accuracy", "loss");
    for (int k = 0; k < n_em; k++) printf(" %18.18s", em[k].name);
    printf("\n");
    sf_op_counts cum = {0};
    for (int64_t t = 1; t <= T; t++) {
      cum.sops += step_ops[(t - 1) * 4]; cum.macs += step_ops[(t - 1) * 4 + 1];
      cum.float_ops += step_ops[(t - 1) * 4 + 2]; cum.neuron_updates += step_ops[(t - 1) * 4 + 3];
      if (!(t <= 8 || t % 4 == 0 || t == T)) continue;
      double a = (double)correct[t - 1] / (double)ds.n;
      printf("%4lld %10.4f %+8.2f", (long long)t, a, no_ann ? 0.0 : 100.0 * (ann_acc - a));
      for (int k = 0; k < n_em; k++) printf(" %18.3f", ann_pj[k] > 0 ? sf_energy_pj(&em[k], &cum) / ann_pj[k] : 0.0);
      printf("\n");
    }
    if (!no_ann)
      printf("time on this CPU (%d thread%s): ANN %.1f us/sample, SNN %.1f us/sample at T=%lld (%.1fx)\n", sf_threads_get(), sf_threads_get() == 1 ? "" : "s", 1e6 * ann_secs / (double)ds.n,
             1e6 * snn_secs / (double)ds.n, (long long)T, ann_secs > 0 ? snn_secs / ann_secs : 0.0);
    if (pm.rapl_available && !no_ann)
      printf("measured (RAPL, package): ANN %.2f uJ/sample, SNN %.2f uJ/sample at T=%lld\n", ann_j * 1e6 / (double)ds.n, snn_j * 1e6 / (double)ds.n, (long long)T);
    if (pm.rapl_available) printf("measured (RAPL, package): %.3f J over the SNN run (%.2f uJ/sample, includes the ANN beside it unless --no-ann)\n", j1 - j0, (j1 - j0) * 1e6 / (double)ds.n);
    else printf("measured energy: not available here, because %s\n", pm.rapl_reason);
    if (g0 >= 0 && g1 >= 0)
      printf("GPU energy (NVML, %s): %.3f J during the run; the SNN runs on the CPU, so this is the GPU's idle draw\n", pm.gpu_name, g1 - g0);
    else printf("GPU energy (NVML): not available here, because %s\n", pm.nvml_available ? pm.nvml_reason : pm.nvml_reason);
  }
  if (json) {
    cJSON *r = cJSON_CreateObject(), *acc = cJSON_CreateArray(), *layers = cJSON_CreateArray();
    cJSON_AddStringToObject(r, "model", model);
    cJSON_AddNumberToObject(r, "samples", (double)ds.n);
    cJSON_AddNumberToObject(r, "timesteps", (double)T);
    if (no_ann) cJSON_AddNullToObject(r, "ann_accuracy");
    else cJSON_AddNumberToObject(r, "ann_accuracy", ann_acc);
    for (int64_t t = 0; t < T; t++) cJSON_AddItemToArray(acc, cJSON_CreateNumber((double)correct[t] / (double)ds.n));
    cJSON_AddItemToObject(r, "snn_accuracy_by_t", acc);
    cJSON_AddStringToObject(r, "neuron", sf_neuron_model_name(opt->snn.neuron_model));
    cJSON_AddStringToObject(r, "policy", sf_policy_name(opt->policy));
    cJSON_AddStringToObject(r, "encoding", sf_encoding_name(enc));
    cJSON_AddStringToObject(r, "coding", sf_coding_name(opt->snn.coding));
    cJSON *wt = cJSON_CreateArray();
    for (int64_t t = 0; t < T; t++) cJSON_AddItemToArray(wt, cJSON_CreateNumber(work_t[t]));
    cJSON_AddItemToObject(r, "work_per_sample_by_t", wt);
    cJSON_AddStringToObject(r, "decoder", bo.decoder == SF_DECODE_COUNT ? "count" : "membrane");
    cJSON_AddNumberToObject(r, "synaptic_ops_per_sample", sops / (double)ds.n);
    cJSON_AddNumberToObject(r, "macs_per_sample", macs / (double)ds.n);
    cJSON_AddNumberToObject(r, "float_ops_per_sample", fops / (double)ds.n);
    cJSON_AddNumberToObject(r, "spike_purity", total_ops ? sops / total_ops : 0);
    cJSON_AddStringToObject(r, "quant", bo.quant ? "int8" : "float");
    cJSON_AddNumberToObject(r, "int8_layers", n_int8);
    cJSON_AddNumberToObject(r, "int8_analog_layers", n_int8_analog);
    cJSON_AddStringToObject(r, "schedule", n_chained ? "time-major" : "step-major");
    cJSON_AddNumberToObject(r, "spike_fed_layers", n_spike_linear);
    cJSON_AddNumberToObject(r, "seconds", secs);
    cJSON_AddNumberToObject(r, "snn_execute_seconds", snn_secs); /* the spiking runs alone: no deployment, no ANN */
    if (no_ann) cJSON_AddNullToObject(r, "ann_execute_seconds");
    else cJSON_AddNumberToObject(r, "ann_execute_seconds", ann_secs); /* the float ANN on the same batches and threads */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    cJSON_AddNumberToObject(r, "peak_rss_kib", (double)ru.ru_maxrss);
    cJSON_AddBoolToObject(r, "ann_evaluated", !no_ann);
    for (int i = 0; i < n_nodes; i++) {
      sf_snn_node_stats *s1 = &tot[i];
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "name", s1->name);
      cJSON_AddStringToObject(o, "op", s1->op_type);
      cJSON_AddStringToObject(o, "mode", s1->mode);
      if (!strcmp(s1->mode, "neuron")) {
        cJSON_AddNumberToObject(o, "neurons", (double)s1->neurons);
        cJSON_AddNumberToObject(o, "firing_rate", s1->neurons ? s1->spikes / ((double)s1->neurons * (double)T * (double)ds.n) : 0);
        cJSON_AddNumberToObject(o, "spikes_per_sample", s1->spikes / (double)ds.n);
      }
      cJSON_AddNumberToObject(o, "synaptic_ops_per_sample", s1->sops / (double)ds.n);
      cJSON_AddNumberToObject(o, "macs_per_sample", s1->macs / (double)ds.n);
      cJSON_AddNumberToObject(o, "float_ops_per_sample", s1->float_ops / (double)ds.n);
      cJSON_AddNumberToObject(o, "seconds", s1->seconds);
      cJSON_AddItemToArray(layers, o);
    }
    cJSON_AddItemToObject(r, "layers", layers);
    cJSON *bk = cJSON_CreateObject();
    for (int k = 0; k < N_TIME_KINDS; k++) cJSON_AddNumberToObject(bk, time_kind_keys[k], by_kind[k]);
    cJSON_AddItemToObject(r, "seconds_by_kind", bk);
    if (profile) {
      cJSON *en = cJSON_CreateObject();
      for (int k = 0; k < n_em; k++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "snn_pj_per_sample", snn_pj[k]);
        cJSON_AddNumberToObject(o, "ann_pj_per_sample", ann_pj[k]);
        cJSON_AddNumberToObject(o, "ratio", ann_pj[k] > 0 ? snn_pj[k] / ann_pj[k] : 0);
        cJSON_AddStringToObject(o, "description", em[k].description);
        cJSON_AddStringToObject(o, "sources", em[k].sources);
        cJSON_AddItemToObject(en, em[k].name, o);
        if (!strcmp(em[k].name, "45nm")) cJSON_AddNumberToObject(r, "energy_ratio_45nm", ann_pj[k] > 0 ? snn_pj[k] / ann_pj[k] : 0);
      }
      cJSON_AddItemToObject(r, "energy", en);
      cJSON_AddStringToObject(r, "burst_code", opt->snn.neuron_model == SF_NEURON_BURST ? sf_burst_code_name(opt->snn.burst_code) : "none");
      cJSON *a = cJSON_CreateObject();
      cJSON_AddNumberToObject(a, "macs_per_sample", annc.macs);
      cJSON_AddNumberToObject(a, "float_ops_per_sample", annc.float_ops);
      cJSON_AddNumberToObject(a, "activations_per_sample", annc.activations);
      cJSON_AddItemToObject(r, "ann", a);
      cJSON *p = cJSON_CreateObject();
      if (pm.rapl_available) cJSON_AddNumberToObject(p, "rapl_joules", j1 - j0);
      else cJSON_AddStringToObject(p, "rapl", pm.rapl_reason);
      cJSON_AddStringToObject(p, "nvml", pm.nvml_available ? "available" : pm.nvml_reason);
      cJSON_AddItemToObject(r, "power_monitor", p);
      if (p && pm.nvml_available && g0 >= 0 && g1 >= 0) cJSON_AddNumberToObject(p, "gpu_joules_during_run", g1 - g0);
      /* the ANN beside the SNN at every T */
      cJSON *cmp = cJSON_CreateArray();
      sf_op_counts cum = {0};
      for (int64_t t = 1; step_ops && t <= T; t++) {
        cum.sops += step_ops[(t - 1) * 4]; cum.macs += step_ops[(t - 1) * 4 + 1];
        cum.float_ops += step_ops[(t - 1) * 4 + 2]; cum.neuron_updates += step_ops[(t - 1) * 4 + 3];
        cJSON *o = cJSON_CreateObject(), *er = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "t", (double)t);
        cJSON_AddNumberToObject(o, "accuracy", (double)correct[t - 1] / (double)ds.n);
        for (int k = 0; k < n_em; k++) cJSON_AddNumberToObject(er, em[k].name, ann_pj[k] > 0 ? sf_energy_pj(&em[k], &cum) / ann_pj[k] : 0.0);
        cJSON_AddItemToObject(o, "energy_ratio", er);
        cJSON_AddItemToArray(cmp, o);
      }
      cJSON_AddItemToObject(r, "comparison", cmp);
      if (!no_ann) {
        cJSON_AddNumberToObject(r, "ann_seconds_per_sample", ann_secs / (double)ds.n);
        cJSON_AddNumberToObject(r, "snn_seconds_per_sample", snn_secs / (double)ds.n);
      }
      /* per-layer energy */
      int li = 0;
      for (cJSON *lo = layers->child; lo; lo = lo->next, li++) {
        sf_snn_node_stats *s1 = &tot[li];
        sf_op_counts c = {s1->macs / (double)ds.n, s1->sops / (double)ds.n, s1->float_ops / (double)ds.n, s1->neuron_updates / (double)ds.n, 0};
        cJSON *e = cJSON_CreateObject();
        for (int k = 0; k < n_em; k++) cJSON_AddNumberToObject(e, em[k].name, sf_energy_pj(&em[k], &c));
        cJSON_AddItemToObject(lo, "energy_pj_per_sample", e);
        cJSON_AddNumberToObject(lo, "neuron_updates_per_sample", c.neuron_updates);
      }
    }
    st = cli_write_json(json, r);
  }
  if (!st && mlflow_dir) {
    sf_mlflow_run *run;
    if (!(st = sf_mlflow_begin(mlflow_dir, profile ? "profile" : "eval", &run))) {
      char buf[64];
      sf_mlflow_param(run, "model", model);
      sf_mlflow_param(run, "neuron", sf_neuron_model_name(opt->snn.neuron_model));
      sf_mlflow_param(run, "policy", sf_policy_name(opt->policy));
      snprintf(buf, sizeof buf, "%lld", (long long)T);
      sf_mlflow_param(run, "timesteps", buf);
      snprintf(buf, sizeof buf, "%lld", (long long)ds.n);
      sf_mlflow_param(run, "samples", buf);
      sf_mlflow_param(run, "encoding", sf_encoding_name(enc));
      if (!no_ann) sf_mlflow_metric(run, "ann_accuracy", ann_acc, 0);
      for (int64_t t = 1; t <= T; t++) sf_mlflow_metric(run, "snn_accuracy", (double)correct[t - 1] / (double)ds.n, (long)t);
      sf_mlflow_metric(run, "spike_purity", total_ops ? sops / total_ops : 0, 0);
      sf_mlflow_metric(run, "synaptic_ops_per_sample", sops / (double)ds.n, 0);
      for (int k = 0; profile && k < n_em; k++) {
        char key[96];
        snprintf(key, sizeof key, "energy_ratio_%s", em[k].name);
        for (char *q = key; *q; q++) if (*q == '+') *q = '_';
        sf_mlflow_metric(run, key, ann_pj[k] > 0 ? snn_pj[k] / ann_pj[k] : 0, 0);
      }
      st = sf_mlflow_end(run, 1);
      if (!st) printf("logged run to %s (MLflow file store)\n", mlflow_dir);
    }
  }
done:
  sf_power_monitor_close(&pm);
  free(step_ops);
  free(work_t);
  free(snn_pj);
  free(ann_pj);
  sf_energy_models_free(em, n_em);
  free(tot);
  free(correct);
  for (int d = 0; d < n_deps; d++) sf_deployed_free(deps[d]);
  sf_compiled_free(comp);
  sf_session_free(ann);
  sf_graph_free(g);
  sf_dataset_free(&ds);
  sf_snn_model_free(m);
  return st ? cli_fail(st) : 0;
}

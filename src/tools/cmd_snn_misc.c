/* spikeformer validate OUT.sfm [--max-fan-in N] [--max-neurons-per-core N]
 * spikeformer run OUT.sfm --input FILE.npy [--timesteps T] -o DIR  (called from cmd_run) */
#include <stdlib.h>
#include <string.h>

#include "convert/convert_internal.h"
#include "core/util.h"
#include "spikeformer/backend.h"
#include "spikeformer/energy.h"
#include "spikeformer/tensor_io.h"
#include "spikeformer/validate.h"
#include "tools/cli.h"

int cmd_validate(int argc, char **argv) {
  const char *model = NULL, *v;
  sf_hardware_constraints hw = {0};
  for (int i = 1; i < argc; i++) {
    if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) {
      printf("usage: spikeformer validate OUT.sfm [--max-fan-in N] [--max-neurons-per-core N]\n\n"
             "ArchitectureValidator: checks that every node is converted, shapes are consistent, thresholds\n"
             "are finite and positive, no weight is NaN/Inf, and fan-in / neurons per core are within the\n"
             "target's limits (defaults: the constraints stored in the model's SpikingConfig).\n");
      return 0;
    }
    int64_t n;
    if (cli_opt(argc, argv, &i, "--max-fan-in", &v)) { if (cli_parse_i64(v, 1, 1 << 30, &n)) return cli_usage_error("validate", "--max-fan-in needs a whole number from 1 to 1073741824"); hw.max_fan_in = (int)n; continue; }
    if (cli_opt(argc, argv, &i, "--max-neurons-per-core", &v)) { if (cli_parse_i64(v, 1, 1 << 30, &n)) return cli_usage_error("validate", "--max-neurons-per-core needs a whole number from 1 to 1073741824"); hw.max_neurons_per_core = (int)n; continue; }
    if (argv[i][0] == '-') return cli_usage_error("validate", "unknown option '%s'", argv[i]);
    model = argv[i];
  }
  if (!model) return cli_usage_error("validate", "missing OUT.sfm");
  sf_snn_model *m;
  sf_status st = sf_snn_model_load(model, &m);
  if (st) return cli_fail(st);
  const sf_hardware_constraints *mh = &sf_snn_model_options(m)->snn.hardware_constraints;
  if (!hw.max_fan_in) hw.max_fan_in = mh->max_fan_in;
  if (!hw.max_neurons_per_core) hw.max_neurons_per_core = mh->max_neurons_per_core;
  sf_graph *g;
  if ((st = sf_snn_model_build(m, 1, &g))) { sf_snn_model_free(m); return cli_fail(st); }
  sf_validation val;
  st = sf_validate(g, &hw, &val);
  if (st) {
    printf("%s: INVALID (%d problem%s)\n", model, val.n_errors, val.n_errors == 1 ? "" : "s");
    for (int i = 0; i < val.n_errors; i++) printf("  %s\n", val.errors[i]);
  } else {
    printf("%s: valid (%d nodes checked, max fan-in %d)\n", model, val.n_checked_nodes, val.max_fan_in);
  }
  sf_validation_free(&val);
  sf_graph_free(g);
  sf_snn_model_free(m);
  return st ? 1 : 0;
}

typedef struct { sf_tensor *out; } keep_ctx;
static int keep_last(int t, const sf_tensor *dec, void *u) {
  (void)t;
  keep_ctx *k = u;
  memcpy(k->out->data, dec->data, sf_tensor_nbytes(dec));
  return 0;
}

/* run --frames: one session over the whole batch of clips [B, T, ...] */
static int run_frames(const char *model, const char *file, const char *outdir, int quant) {
  sf_snn_model *m = NULL;
  sf_graph *g = NULL;
  sf_snn_session *s = NULL;
  sf_tensor x = {0}, out = {0};
  char *p = NULL;
  sf_status st = sf_snn_model_load(model, &m);
  if (st) return cli_fail(st);
  if ((st = sf_tensor_read_file(file, &x, NULL))) goto done;
  if (x.dtype != SF_F32) { sf_tensor c2; if ((st = sf_tensor_cast(&c2, &x, SF_F32))) goto done; sf_tensor_free(&x); x = c2; }
  if (x.ndim < 2 || x.shape[0] < 1 || x.shape[1] < 1) {
    st = sf_error(SF_ERR_SHAPE, "%s: clips need [batch, T, the input's shape] with batch and T at least 1", file);
    goto done;
  }
  sf_spiking_config cfg = sf_snn_model_options(m)->snn;
  cfg.spike_encoding = SF_ENCODE_DIRECT;
  if ((st = sf_snn_model_build(m, x.shape[0], &g)) || (st = sf_snn_session_create(g, &cfg, SF_DECODE_MEMBRANE, &s))) goto done;
  if (quant && (st = sf_snn_set_quant(s, quant))) goto done;
  {
    const sf_tensor *desc = &g->values[g->outputs[0]].t;
    if ((st = sf_tensor_alloc(&out, SF_F32, desc->ndim, desc->shape))) goto done;
  }
  keep_ctx kc = {&out};
  if ((st = sf_snn_run_frames(s, &x, keep_last, &kc))) { sf_error_context(st, "%s", file); goto done; }
  if ((st = sf_mkdir_p(outdir))) goto done;
  p = sf_strfmt("%s/output_0.npy", outdir);
  if ((st = sf_npy_write(p, &out))) goto done;
  char sh[96];
  printf("%s: decoded output after the clips' %lld frames (accumulated membrane%s) f32 %s\n", p, (long long)x.shape[1],
         cfg.coding == SF_CODING_DELTA ? ", delta-coded: the sum over steps" : " / T", sf_shape_str(out.ndim, out.shape, sh, sizeof sh));
done:
  free(p);
  sf_snn_session_free(s);
  sf_graph_free(g);
  sf_tensor_free(&x);
  sf_tensor_free(&out);
  sf_snn_model_free(m);
  return st ? cli_fail(st) : 0;
}

int cmd_run_snn(const char *model, int argc, char **argv) {
  const char *outdir = NULL, *input = NULL, *frames = NULL, *v;
  int64_t T = 0;
  sf_backend_options bo;
  sf_backend_options_default(&bo);
  for (int i = 1; i < argc; i++) {
    if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) {
      printf("usage: spikeformer run OUT.sfm --input FILE.npy -o DIR [--timesteps T] [--quant float|int8] [--threads N]\n"
             "       spikeformer run OUT.sfm --frames CLIPS.npy -o DIR [--quant float|int8]\n\n"
             "Runs the spiking network for T timesteps (default: the T it was converted for) on the batch in\n"
             "FILE.npy (or an ONNX .pb tensor; the first axis is the batch) and writes the decoded first output\n"
             "(accumulated membrane / T; for a delta-coded model, the accumulated membrane) to DIR/output_0.npy.\n"
             "--frames runs a clip per sample instead: CLIPS.npy is [batch, T, the input's shape], frame t is the\n"
             "input at step t, and T is the clips' length (a delta-coded model sends each frame's changes; one\n"
             "session runs the whole batch).\n");
      return 0;
    }
    if (cli_common(argc, argv, &i)) continue;
    if (cli_opt(argc, argv, &i, "--quant", &v)) {
      if (v && !strcmp(v, "int8")) bo.quant = 8;
      else if (v && !strcmp(v, "float")) bo.quant = 0;
      else return cli_usage_error("run", "--quant takes int8 or float");
      continue;
    }
    if (cli_opt(argc, argv, &i, "--input", &v)) { input = v; continue; }
    if (cli_opt(argc, argv, &i, "--frames", &v)) { if (!v) return cli_usage_error("run", "--frames needs a file"); frames = v; continue; }
    if (cli_opt(argc, argv, &i, "-o", &v) || cli_opt(argc, argv, &i, "--output", &v)) { outdir = v; continue; }
    if (cli_opt(argc, argv, &i, "--timesteps", &v)) { if (cli_parse_i64(v, 1, 100000, &T)) return cli_usage_error("run", "--timesteps needs a whole number from 1 to 100000"); continue; }
    if (argv[i][0] == '-') return cli_usage_error("run", "unknown option '%s'", argv[i]);
  }
  if (!input && !frames) return cli_usage_error("run", "no --input given");
  if (input && frames) return cli_usage_error("run", "--input and --frames: give one");
  if (!outdir) return cli_usage_error("run", "missing -o DIR");
  if (frames) return run_frames(model, frames, outdir, bo.quant);
  const char *file = strchr(input, '=') ? strchr(input, '=') + 1 : input;
  sf_snn_model *m = NULL;
  sf_tensor x = {0}, out = {0};
  const sf_backend *be;
  sf_compiled *c = NULL;
  sf_deployed *d = NULL;
  char *p = NULL;
  sf_status st = sf_snn_model_load(model, &m);
  if (st) return cli_fail(st);
  if (!T) T = sf_snn_model_options(m)->snn.timesteps;
  if ((st = sf_tensor_read_file(file, &x, NULL))) goto done;
  if (x.dtype != SF_F32) { sf_tensor c2; if ((st = sf_tensor_cast(&c2, &x, SF_F32))) goto done; sf_tensor_free(&x); x = c2; }
  if (x.ndim < 1) { st = sf_error(SF_ERR_SHAPE, "%s: input needs a batch dimension", file); goto done; }
  if (x.shape[0] == 0) { st = sf_error(SF_ERR_SHAPE, "%s: input holds no samples (batch dimension 0)", file); goto done; }
  if ((st = sf_backend_find("cpu", &be)) || (st = sf_backend_compile(be, m, &bo, &c)) || (st = sf_backend_deploy(c, x.shape[0], &d))) goto done;
  {
    sf_graph *g;
    if ((st = sf_snn_model_build(m, x.shape[0], &g))) goto done;
    sf_tensor desc = g->values[g->outputs[0]].t;
    sf_graph_free(g);
    if ((st = sf_tensor_alloc(&out, SF_F32, desc.ndim, desc.shape))) goto done;
  }
  keep_ctx kc = {&out};
  if ((st = sf_backend_execute(d, &x, (int)T, keep_last, &kc))) { sf_error_context(st, "%s", model); goto done; }
  if ((st = sf_mkdir_p(outdir))) goto done;
  p = sf_strfmt("%s/output_0.npy", outdir);
  if ((st = sf_npy_write(p, &out))) goto done;
  char sh[96];
  printf("%s: decoded output after T=%lld (accumulated membrane%s) f32 %s\n", p, (long long)T,
         sf_snn_model_options(m)->snn.coding == SF_CODING_DELTA ? ", delta-coded: the sum over steps" : " / T", sf_shape_str(out.ndim, out.shape, sh, sizeof sh));
done:
  free(p);
  sf_deployed_free(d);
  sf_compiled_free(c);
  sf_tensor_free(&x);
  sf_tensor_free(&out);
  sf_snn_model_free(m);
  return st ? cli_fail(st) : 0;
}

int cmd_profile(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) {
      printf("usage: spikeformer profile OUT.sfm [--data DIR] [--timesteps T] [--limit N] [--energy-models DIR] [--json FILE] [--mlflow DIR]\n"
             "\n"
             "EnergyAnalyzer: runs the spiking network like 'eval' and reports per layer the synaptic\n"
             "operations, MACs, neuron updates, spikes and the energy under every model in the energy-model\n"
             "folder (default %s; one JSON file per model, each naming its sources),\n"
             "beside the ANN's energy under the same model. Measures with RAPL / NVML where the machine allows\n"
             "and says why not otherwise. The JSON has energy_ratio_45nm (SNN / ANN) and per-layer energies.\n",
             sf_energy_default_dir());
      return 0;
    }
  const char *model = NULL;
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (argv[i][0] != '-') { model = argv[i]; break; }
    if (cli_opt(argc, argv, &i, "--data", &v) || cli_opt(argc, argv, &i, "--timesteps", &v) || cli_opt(argc, argv, &i, "--limit", &v) ||
        cli_opt(argc, argv, &i, "--json", &v) || cli_opt(argc, argv, &i, "--energy-models", &v) || cli_opt(argc, argv, &i, "--batch", &v) ||
        cli_opt(argc, argv, &i, "--threads", &v) || cli_opt(argc, argv, &i, "--mlflow", &v))
      continue;
  }
  if (!model) return cli_usage_error("profile", "missing OUT.sfm");
  if (!cli_is_sfm(model)) return cli_fail(sf_error(SF_ERR_ARG, "%s: profile needs a converted model (.sfm from 'spikeformer convert')", model));
  return cmd_eval_snn_mode(model, argc, argv, 1);
}

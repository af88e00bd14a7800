/* spikeformer run MODEL --input [NAME=]FILE ... -o DIR, and run OUT.sfm --input FILE | --frames CLIPS:
 * read the inputs, sf_infer / sf_infer_snn(_frames), write DIR/output_<i>.npy. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

typedef struct {
  cli_head h;
  cli_list inputs;
  const char *out, *frames, *quant, *path;
  int64_t timesteps;
} run_args;

static const char *const quants[] = {"float", "int8", NULL};
static const char *const paths[] = {"auto", "dense", "event", "bitpacked", NULL};
#define A(f) offsetof(run_args, f)
static const cli_option options[] = {
    {.name = "--input", .kind = CLI_LIST, .arg = "[NAME=]FILE", .offset = A(inputs), .help = "an input (.npy, or an ONNX TensorProto .pb), matched to the model's inputs by NAME= or "
                                                          "in graph order; repeat for several"},
    {.name = "--output", .alias = "-o", .kind = CLI_STR, .arg = "DIR", .offset = A(out), .help = "where output_<i>.npy go (created if missing)"},
    {.name = "--frames", .kind = CLI_STR, .arg = "CLIPS.npy", .offset = A(frames), .help = "spiking models: a clip per sample [batch, T, the input's shape]; frame t is the input at step t"},
    {.name = "--timesteps", .kind = CLI_INT, .arg = "T", .offset = A(timesteps), .help = "spiking models: run T steps (default: the T it was converted for)", .lo = 1, .hi = 100000},
    {.name = "--quant", .kind = CLI_CHOICE, .arg = "Q", .offset = A(quant), .help = "spiking models on the cpu backend: float (default) or int8", .choices = quants},
    {.name = "--path", .kind = CLI_CHOICE, .arg = "P", .offset = A(path), .help = "spiking models on the cpu backend: synaptic path (same outputs)", .choices = paths},
    {.name = NULL}};

/* DIR and its parents */
static sf_status make_dir(const char *dir) {
  char p[4096];
  if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) return sf_error(SF_ERR_IO, "%s: path too long", dir);
  for (char *c = p + 1; *c; c++) {
    if (*c != '/') continue;
    *c = 0;
    if (mkdir(p, 0777) && errno != EEXIST) return sf_error(SF_ERR_IO, "%s: cannot create: %s", p, strerror(errno));
    *c = '/';
  }
  if (mkdir(p, 0777) && errno != EEXIST) return sf_error(SF_ERR_IO, "%s: cannot create: %s", p, strerror(errno));
  return SF_OK;
}

/* Write outputs[i] to DIR/output_<i>.npy; on failure nothing is left behind. */
static sf_status write_outputs(const char *dir, const sf_tensor *outputs, int n, const char *const *names, const char *note) {
  sf_status st = make_dir(dir);
  int written = 0;
  char path[4200];
  for (int i = 0; i < n && !st; i++) {
    snprintf(path, sizeof path, "%s/output_%d.npy", dir, i);
    if ((st = sf_npy_write(path, &outputs[i]))) break;
    written++;
    char sh[96];
    printf("%s: %s%s %s %s\n", path, names ? names[i] : "", note ? note : "", sf_dtype_name(outputs[i].dtype),
           sf_shape_str(outputs[i].ndim, outputs[i].shape, sh, sizeof sh));
  }
  for (int i = 0; st && i < written; i++) {
    snprintf(path, sizeof path, "%s/output_%d.npy", dir, i);
    remove(path); /* no partial result set */
  }
  return st;
}

static int run_ann(run_args *a, const char *model) {
  if (a->frames || a->timesteps || a->quant || a->path) return cli_usage_error("run", "--frames, --timesteps, --quant and --path apply to converted models (.sfm)");
  sf_graph *g = NULL;
  sf_tensor *values = calloc((size_t)(a->inputs.n ? a->inputs.n : 1), sizeof *values), *outs = NULL;
  const char **names = calloc((size_t)(a->inputs.n ? a->inputs.n : 1), sizeof *names), **files = calloc((size_t)(a->inputs.n ? a->inputs.n : 1), sizeof *files);
  char **name_buf = calloc((size_t)(a->inputs.n ? a->inputs.n : 1), sizeof *name_buf);
  int n_outs = 0;
  sf_status st = values && names && files && name_buf ? SF_OK : sf_error(SF_ERR_NOMEM, "out of memory");
  if (!st) st = sf_graph_load(model, &g);
  for (int k = 0; k < a->inputs.n && !st; k++) {
    const char *spec = a->inputs.v[k], *eq = strchr(spec, '=');
    files[k] = eq ? eq + 1 : spec;
    if (eq && !(name_buf[k] = strndup(spec, (size_t)(eq - spec)))) st = sf_error(SF_ERR_NOMEM, "out of memory");
    names[k] = name_buf[k];
    if (!st) st = sf_tensor_read_file(files[k], &values[k], NULL);
  }
  if (!st) st = sf_infer(g, a->inputs.n, names, values, files, &outs, &n_outs);
  if (!st) {
    const char **onames = calloc((size_t)(n_outs ? n_outs : 1), sizeof *onames);
    for (int i = 0; onames && i < n_outs; i++) onames[i] = sf_graph_output_name(g, i);
    st = onames ? write_outputs(a->out, outs, n_outs, onames, " ") : sf_error(SF_ERR_NOMEM, "out of memory");
    free(onames);
  }
  sf_infer_outputs_free(outs, n_outs);
  for (int k = 0; k < a->inputs.n; k++) {
    if (values) sf_tensor_free(&values[k]);
    if (name_buf) free(name_buf[k]);
  }
  free(values); free(names); free(files); free(name_buf);
  sf_graph_free(g);
  return st ? cli_fail(st) : 0;
}

static int run_snn(run_args *a, const char *model) {
  if (a->inputs.n > 1) return cli_usage_error("run", "a converted model takes one --input");
  if (!a->inputs.n && !a->frames) return cli_usage_error("run", "no --input given");
  if (a->inputs.n && a->frames) return cli_usage_error("run", "--input and --frames: give one");
  if (a->frames && a->timesteps) return cli_usage_error("run", "--frames: T is the clips' length (leave out --timesteps)");
  const char *file = a->frames ? a->frames : strchr(a->inputs.v[0], '=') ? strchr(a->inputs.v[0], '=') + 1 : a->inputs.v[0];
  sf_snn_model *m = NULL;
  sf_tensor x = {0}, out = {0};
  const sf_backend *be = NULL;
  void *target = NULL;
  sf_status st = sf_snn_model_load(model, &m);
  if (!st) st = sf_backend_find("cpu", &be);
  if (!st) st = sf_backend_target_new(be, &target);
  if (!st && a->quant) st = sf_backend_target_set(be, target, "quant", a->quant);
  if (!st && a->path) st = sf_backend_target_set(be, target, "path", a->path);
  if (!st) st = sf_tensor_read_file(file, &x, NULL);
  sf_backend_options bo;
  sf_backend_options_default(&bo);
  bo.target = target;
  if (!st) {
    st = a->frames ? sf_infer_snn_frames(m, "cpu", &bo, &x, &out) : sf_infer_snn(m, "cpu", &bo, &x, (int)a->timesteps, &out);
    if (st) sf_error_context(st, "%s", file);
  }
  if (!st) {
    const int delta = sf_snn_model_options(m)->snn.coding == SF_CODING_DELTA;
    char note[160];
    if (a->frames) snprintf(note, sizeof note, "decoded output after the clips' %lld frames (accumulated membrane%s) ", (long long)x.shape[1], delta ? ", delta-coded: the sum over steps" : " / T");
    else snprintf(note, sizeof note, "decoded output after T=%d (accumulated membrane%s) ", a->timesteps ? (int)a->timesteps : sf_snn_model_options(m)->snn.timesteps, delta ? ", delta-coded: the sum over steps" : " / T");
    st = write_outputs(a->out, &out, 1, NULL, note);
  }
  free(target);
  sf_tensor_free(&x);
  sf_tensor_free(&out);
  sf_snn_model_free(m);
  return st ? cli_fail(st) : 0;
}

static int run(void *p) {
  run_args *a = p;
  const char *model = a->h.pos[0];
  if (!a->out) return cli_usage_error("run", "missing -o DIR");
  return cli_is_sfm(model) ? run_snn(a, model) : run_ann(a, model);
}

const cli_command cmd_run = {
    "run", "MODEL|OUT.sfm --input [NAME=]FILE [--input ...] -o DIR", "one inference on inputs given as .npy or ONNX .pb files",
    "Runs one inference. Inputs are .npy files or ONNX TensorProto (.pb) files, matched to the model's inputs by\n"
    "NAME= or else in graph-input order. Hugging Face models take pixel_values; or input_ids and attention_mask (a\n"
    "missing attention_mask is all ones). A model whose graph holds only constants takes no input. Every graph\n"
    "output is written as DIR/output_<i>.npy in graph-output order (logits first).\n"
    "For a spiking model (OUT.sfm): run OUT.sfm --input FILE.npy [--timesteps T] [--quant int8] -o DIR writes the\n"
    "decoded output after T steps (accumulated membrane potential / T; delta-coded: its sum); --frames CLIPS.npy\n"
    "runs a clip per sample instead ([batch, T, the input's shape]; frame t is the input at step t).",
    options, sizeof(run_args), NULL, run, 1, 1, "MODEL"};

/* spikeformer eval MODEL --data DIR [--limit N] [--batch N] [--json FILE] [--predictions FILE.npy] */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "tools/cli.h"

static void help(void) {
  printf("usage: spikeformer eval MODEL [--data DIR] [--split test|train] [--limit N] [--batch N]\n"
         "                        [--json FILE] [--predictions FILE.npy] [--threads N]\n"
         "\n"
         "Runs MODEL (ONNX file or Hugging Face directory) on a labelled image set and reports the\n"
         "accuracy of its first output (logits) against the labels.\n"
         "\n"
         "  --data DIR          IDX (MNIST layout, .gz or raw) or NPY folder (default %s)\n"
         "  --split S           test (default) or train\n"
         "  --limit N           only the first N samples\n"
         "  --batch N           samples per inference (default 256)\n"
         "  --json FILE         write {\"accuracy\", \"samples\", \"correct\", ...}\n"
         "  --predictions FILE  write the predicted class of every sample (int64 .npy)\n"
         "\n"
         "A converted spiking model (OUT.sfm) takes more options: spikeformer eval OUT.sfm --help\n",
         SF_DEFAULT_DATA_DIR);
}

int cmd_eval(int argc, char **argv) {
  const char *model = NULL, *data = SF_DEFAULT_DATA_DIR, *json = NULL, *preds_path = NULL, *v;
  int64_t limit = 0, batch = 256;
  sf_split split = SF_SPLIT_TEST;
  /* a converted spiking model has its own options (and help) */
  if (argc > 1 && argv[1][0] != '-' && cli_is_sfm(argv[1]))
    for (int k = 2; k < argc; k++)
      if (cli_flag(argv, k, "--help") || cli_flag(argv, k, "-h")) return cmd_eval_snn(argv[1], argc, argv);
  for (int i = 1; i < argc; i++) {
    if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) { help(); return 0; }
    if (cli_common(argc, argv, &i)) continue;
    if (cli_opt(argc, argv, &i, "--data", &v)) { if (!v) return cli_usage_error("eval", "--data needs a folder"); data = v; continue; }
    if (cli_opt(argc, argv, &i, "--json", &v)) { if (!v) return cli_usage_error("eval", "--json needs a file"); json = v; continue; }
    if (cli_opt(argc, argv, &i, "--predictions", &v)) { if (!v) return cli_usage_error("eval", "--predictions needs a file"); preds_path = v; continue; }
    if (cli_opt(argc, argv, &i, "--limit", &v)) { if (cli_parse_i64(v, 1, INT64_MAX, &limit)) return cli_usage_error("eval", "--limit needs a positive number"); continue; }
    if (cli_opt(argc, argv, &i, "--batch", &v)) { if (cli_parse_i64(v, 1, 1 << 16, &batch)) return cli_usage_error("eval", "--batch needs a whole number from 1 to 65536"); continue; }
    if (cli_opt(argc, argv, &i, "--timesteps", &v) || cli_opt(argc, argv, &i, "--encoding", &v) || cli_opt(argc, argv, &i, "--path", &v) || cli_opt(argc, argv, &i, "--quant", &v) || cli_opt(argc, argv, &i, "--schedule", &v) ||
        cli_opt(argc, argv, &i, "--backend", &v) || cli_flag(argv, i, "--no-ann") ||
        cli_opt(argc, argv, &i, "--decoder", &v) || cli_opt(argc, argv, &i, "--mlflow", &v))
      continue; /* for .sfm models */
    if (cli_opt(argc, argv, &i, "--split", &v)) {
      if (v && !strcmp(v, "test")) split = SF_SPLIT_TEST;
      else if (v && !strcmp(v, "train")) split = SF_SPLIT_TRAIN;
      else return cli_usage_error("eval", "--split takes test or train");
      continue;
    }
    if (argv[i][0] == '-') return cli_usage_error("eval", "unknown option '%s'", argv[i]);
    if (model) return cli_usage_error("eval", "more than one MODEL given");
    model = argv[i];
  }
  if (!model) return cli_usage_error("eval", "missing MODEL");
  if (cli_is_sfm(model)) return cmd_eval_snn(model, argc, argv);
  sf_status wst = cli_outputs_writable((const char *[]){json, preds_path}, 2);
  if (wst) return cli_fail(wst);
  sf_graph *g = NULL;
  sf_session *s = NULL;
  sf_dataset ds = {0};
  int64_t *preds = NULL;
  sf_status st = sf_graph_load(model, &g);
  if (st) return cli_fail(st);
  if (sf_graph_num_inputs(g) != 1) {
    st = sf_error(SF_ERR_UNSUPPORTED, "%s: eval needs a model with one image input; it has %d inputs", model, sf_graph_num_inputs(g));
    goto out;
  }
  if ((st = sf_dataset_load(data, split, limit, &ds))) goto out;
  if ((st = sf_session_create(g, NULL, &s))) goto out;
  sf_tensor want = sf_graph_input_desc(g, 0);
  preds = malloc(sizeof(int64_t) * (size_t)(ds.n ? ds.n : 1));
  if (!preds) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto out; }
  int64_t correct = 0;
  cli_progress pb;
  cli_progress_start(&pb, "eval", ds.n);
  double t0 = cli_now();
  for (int64_t start = 0; start < ds.n; start += batch) {
    int64_t cnt = ds.n - start < batch ? ds.n - start : batch;
    sf_tensor x = sf_dataset_batch(&ds, start, cnt);
    if (want.ndim == 2) { x.ndim = 2; x.shape[1] = ds.c * ds.h * ds.w; }
    sf_tensor outs[8] = {0};
    if (sf_graph_num_outputs(g) > 8) { st = sf_error(SF_ERR_UNSUPPORTED, "more than 8 outputs"); goto out; }
    if ((st = sf_session_run(s, &x, outs))) { sf_error_context(st, "%s", model); goto out; }
    sf_tensor *lg = &outs[0];
    int64_t ncls = lg->ndim >= 1 ? lg->shape[lg->ndim - 1] : 0;
    if (lg->dtype != SF_F32 || sf_tensor_numel(lg) != cnt * ncls || ncls < 1) {
      char sh[96];
      st = sf_error(SF_ERR_SHAPE, "%s: first output %s is not [batch, classes] logits", model, sf_shape_str(lg->ndim, lg->shape, sh, sizeof sh));
      for (int k = 0; k < sf_graph_num_outputs(g); k++) sf_tensor_free(&outs[k]);
      goto out;
    }
    if (start == 0 && (st = cli_labels_fit(&ds, ncls, model))) {
      for (int k = 0; k < sf_graph_num_outputs(g); k++) sf_tensor_free(&outs[k]);
      goto out;
    }
    for (int64_t b = 0; b < cnt; b++) {
      const float *row = (const float *)lg->data + b * ncls;
      int64_t best = 0;
      for (int64_t k = 1; k < ncls; k++) if (row[k] > row[best]) best = k;
      preds[start + b] = best;
      correct += best == ds.labels[start + b];
    }
    for (int k = 0; k < sf_graph_num_outputs(g); k++) sf_tensor_free(&outs[k]);
    cli_progress_update(&pb, start + cnt);
  }
  double secs = cli_now() - t0;
  cli_progress_end(&pb);
  double acc = ds.n ? (double)correct / (double)ds.n : 0.0;
  printf("model: %s\ndata: %s (%lld samples)\naccuracy: %.4f (%lld/%lld)\ntime: %.3fs (%.0f samples/s, %d thread%s)\n", model,
         ds.source, (long long)ds.n, acc, (long long)correct, (long long)ds.n, secs, secs > 0 ? (double)ds.n / secs : 0.0, sf_threads_get(), sf_threads_get() == 1 ? "" : "s");
  if (preds_path) {
    sf_tensor pt = {0};
    int64_t n = ds.n;
    sf_tensor_describe(&pt, SF_I64, 1, &n);
    pt.data = preds;
    if ((st = sf_npy_write(preds_path, &pt))) goto out;
  }
  if (json) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "accuracy", acc);
    cJSON_AddNumberToObject(r, "samples", (double)ds.n);
    cJSON_AddNumberToObject(r, "correct", (double)correct);
    cJSON_AddStringToObject(r, "model", model);
    cJSON_AddStringToObject(r, "data", ds.source);
    cJSON_AddNumberToObject(r, "seconds", secs);
    cJSON_AddNumberToObject(r, "threads", sf_threads_get());
    st = cli_write_json(json, r);
  }
out:
  free(preds);
  sf_session_free(s);
  sf_dataset_free(&ds);
  sf_graph_free(g);
  return st ? cli_fail(st) : 0;
}

/* spikeformer run MODEL --input [NAME=]FILE [--input ...] -o DIR */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "spikeformer/tensor_io.h"
#include "tools/cli.h"

#define MAX_IO 16

static void help(void) {
  printf("usage: spikeformer run MODEL --input [NAME=]FILE [--input ...] -o DIR\n"
         "\n"
         "Runs one inference. Inputs are .npy files or ONNX TensorProto (.pb) files, matched to the\n"
         "model's inputs by NAME= or else in graph-input order. Hugging Face models take pixel_values;\n"
         "or input_ids and attention_mask (a missing attention_mask is all ones). Every graph output\n"
         "is written as DIR/output_<i>.npy in graph-output order (logits first).\n"
         "For a spiking model (OUT.sfm): run OUT.sfm --input FILE.npy [--timesteps T] [--quant int8] -o DIR writes the\n"
         "decoded output after T steps (accumulated membrane potential / T; delta-coded: its sum).\n");
}

int cmd_run(int argc, char **argv) {
  const char *model = NULL, *outdir = NULL, *v;
  const char *specs[MAX_IO];
  int n_specs = 0;
  for (int i = 1; i < argc; i++)
    if (argv[i][0] != '-' && cli_is_sfm(argv[i])) return cmd_run_snn(argv[i], argc, argv);
  for (int i = 1; i < argc; i++) {
    if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) { help(); return 0; }
    if (cli_common(argc, argv, &i)) continue;
    if (cli_opt(argc, argv, &i, "--input", &v)) {
      if (!v) return cli_usage_error("run", "--input needs a file");
      if (n_specs == MAX_IO) return cli_usage_error("run", "at most %d inputs", MAX_IO);
      specs[n_specs++] = v;
      continue;
    }
    if (cli_opt(argc, argv, &i, "-o", &v) || cli_opt(argc, argv, &i, "--output", &v)) {
      if (!v) return cli_usage_error("run", "-o needs a directory");
      outdir = v;
      continue;
    }
    if (argv[i][0] == '-') return cli_usage_error("run", "unknown option '%s'", argv[i]);
    if (model) return cli_usage_error("run", "more than one MODEL given");
    model = argv[i];
  }
  if (!model) return cli_usage_error("run", "missing MODEL");
  if (!outdir) return cli_usage_error("run", "missing -o DIR");
  if (!n_specs) return cli_usage_error("run", "no --input given");
  sf_graph *g;
  sf_status st = sf_graph_load(model, &g);
  if (st) return cli_fail(st);
  int ni = sf_graph_num_inputs(g), no = sf_graph_num_outputs(g);
  sf_tensor inputs[MAX_IO] = {{0}}, outputs[MAX_IO] = {{0}};
  int have[MAX_IO] = {0};
  sf_session *s = NULL;
  char *written[MAX_IO] = {0};
  int n_written = 0;
  if (ni > MAX_IO || no > MAX_IO) { st = sf_error(SF_ERR_UNSUPPORTED, "models with more than %d inputs/outputs", MAX_IO); goto out; }
  for (int k = 0, pos = 0; k < n_specs; k++) {
    const char *eq = strchr(specs[k], '=');
    const char *file = eq ? eq + 1 : specs[k];
    int slot = -1;
    if (eq) {
      char name[256];
      snprintf(name, sizeof name, "%.*s", (int)(eq - specs[k]), specs[k]);
      for (int i = 0; i < ni; i++) if (!strcmp(sf_graph_input_name(g, i), name)) slot = i;
      if (slot < 0) {
        char list[512] = "";
        for (int i = 0; i < ni; i++) { strncat(list, sf_graph_input_name(g, i), sizeof list - strlen(list) - 1); if (i + 1 < ni) strncat(list, ", ", sizeof list - strlen(list) - 1); }
        st = sf_error(SF_ERR_ARG, "%s: the model has no input named '%s' (inputs: %s)", model, name, list);
        goto out;
      }
    } else {
      while (pos < ni && have[pos]) pos++;
      if (pos >= ni) { st = sf_error(SF_ERR_ARG, "%s: more inputs given than the model takes (%d)", model, ni); goto out; }
      slot = pos;
    }
    if (have[slot]) { st = sf_error(SF_ERR_ARG, "input '%s' given twice", sf_graph_input_name(g, slot)); goto out; }
    sf_tensor t;
    if ((st = sf_tensor_read_file(file, &t, NULL))) goto out;
    sf_tensor want = sf_graph_input_desc(g, slot);
    if (want.ndim >= 0 && t.dtype != want.dtype) {
      if (sf_dtype_is_float(t.dtype) && !sf_dtype_is_float(want.dtype)) {
        /* token ids and the like: a float file must hold whole numbers */
        for (int64_t e = 0; e < sf_tensor_numel(&t); e++) {
          double x = sf_tensor_get_f(&t, e);
          if (!sf_whole_in(x, -9.0e15, 9.0e15)) {
            st = sf_error(SF_ERR_VALUE, "%s: element %lld is %g, but input '%s' is %s: whole numbers only", file, (long long)e, x, sf_graph_input_name(g, slot),
                          sf_dtype_name(want.dtype));
            sf_tensor_free(&t);
            goto out;
          }
        }
      }
      sf_tensor c;
      st = sf_tensor_cast(&c, &t, want.dtype);
      sf_tensor_free(&t);
      if (st) goto out;
      t = c;
    }
    /* token ids longer than the position table: say so here, not as a broadcast error deep inside */
    const int64_t maxp = sf_graph_max_positions(g);
    if (maxp > 0 && !sf_dtype_is_float(t.dtype) && t.ndim == 2 && t.shape[1] > maxp) {
      st = sf_error(SF_ERR_SHAPE, "%s: %lld tokens per sequence, but %s's position table covers %lld", file, (long long)t.shape[1], model, (long long)maxp);
      sf_tensor_free(&t);
      goto out;
    }
    inputs[slot] = t;
    have[slot] = 1;
  }
  for (int i = 0; i < ni; i++) {
    if (have[i]) continue;
    if (!strcmp(sf_graph_input_name(g, i), "attention_mask")) {
      /* all ones, shaped like input_ids */
      int ids = -1;
      for (int k = 0; k < ni; k++) if (have[k] && !strcmp(sf_graph_input_name(g, k), "input_ids")) ids = k;
      if (ids >= 0) {
        if ((st = sf_tensor_alloc(&inputs[i], SF_I64, inputs[ids].ndim, inputs[ids].shape))) goto out;
        for (int64_t e = 0; e < sf_tensor_numel(&inputs[i]); e++) ((int64_t *)inputs[i].data)[e] = 1;
        have[i] = 1;
        continue;
      }
    }
    st = sf_error(SF_ERR_ARG, "%s: no value for input '%s' (give --input %s=FILE)", model, sf_graph_input_name(g, i), sf_graph_input_name(g, i));
    goto out;
  }
  if ((st = sf_session_create(g, NULL, &s))) goto out;
  if ((st = sf_session_run(s, inputs, outputs))) { sf_error_context(st, "%s", model); goto out; }
  if ((st = sf_mkdir_p(outdir))) goto out;
  for (int i = 0; i < no; i++) {
    char *p = sf_strfmt("%s/output_%d.npy", outdir, i);
    if (!p) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto out; }
    if ((st = sf_npy_write(p, &outputs[i]))) { free(p); goto out; }
    written[n_written++] = p;
    char sh[96];
    printf("%s: %s %s %s\n", p, sf_graph_output_name(g, i), sf_dtype_name(outputs[i].dtype), sf_shape_str(outputs[i].ndim, outputs[i].shape, sh, sizeof sh));
  }
out:
  if (st)
    for (int i = 0; i < n_written; i++) remove(written[i]); /* no partial result set */
  for (int i = 0; i < n_written; i++) free(written[i]);
  for (int i = 0; i < MAX_IO; i++) { sf_tensor_free(&inputs[i]); sf_tensor_free(&outputs[i]); }
  sf_session_free(s);
  sf_graph_free(g);
  return st ? cli_fail(st) : 0;
}

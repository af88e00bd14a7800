/* spikeformer analyze MODEL [--json FILE] [--batch N] [--seq-len N] [--no-fuse] */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "tools/cli.h"

static void help(void) {
  printf("usage: spikeformer analyze MODEL [--json FILE] [--batch N] [--seq-len N] [--no-fuse]\n"
         "\n"
         "Imports MODEL (ONNX file or Hugging Face directory), specialises it to one input shape\n"
         "(shape subgraphs fold away), fuses LayerNorm / GELU / attention, and prints every node:\n"
         "op, output shape, parameters, MACs, and how it converts to spikes, or why it cannot.\n"
         "\n"
         "  --json FILE    also write the report as JSON\n"
         "  --batch N      batch size used for shapes (default 1)\n"
         "  --seq-len N    sequence length for token inputs with free dims (default 16)\n"
         "  --no-fuse      show the graph as imported, without fusion\n");
}

static int make_descs(const sf_graph *g, int64_t batch, int64_t seq, sf_tensor *d) {
  for (int i = 0; i < sf_graph_num_inputs(g); i++) {
    d[i] = sf_graph_input_desc(g, i);
    if (d[i].ndim < 0) {
      sf_error(SF_ERR_SHAPE, "input '%s' has no declared shape; analyze needs one", sf_graph_input_name(g, i));
      return -1;
    }
    for (int k = 0; k < d[i].ndim; k++)
      if (d[i].shape[k] < 0) d[i].shape[k] = k == 0 ? batch : seq;
  }
  return 0;
}

int cmd_analyze(int argc, char **argv) {
  const char *model = NULL, *json = NULL, *v;
  int64_t batch = 1, seq = 16;
  int fuse = 1;
  for (int i = 1; i < argc; i++) {
    if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) { help(); return 0; }
    if (cli_common(argc, argv, &i)) continue;
    if (cli_opt(argc, argv, &i, "--json", &v)) { if (!v) return cli_usage_error("analyze", "--json needs a file"); json = v; continue; }
    if (cli_opt(argc, argv, &i, "--batch", &v)) { if (cli_parse_i64(v, 1, 1 << 20, &batch)) return cli_usage_error("analyze", "--batch needs a whole number from 1 to 1048576"); continue; }
    if (cli_opt(argc, argv, &i, "--seq-len", &v)) { if (cli_parse_i64(v, 1, 1 << 20, &seq)) return cli_usage_error("analyze", "--seq-len needs a whole number from 1 to 1048576"); continue; }
    if (cli_flag(argv, i, "--no-fuse")) { fuse = 0; continue; }
    if (argv[i][0] == '-') return cli_usage_error("analyze", "unknown option '%s'", argv[i]);
    if (model) return cli_usage_error("analyze", "more than one MODEL given");
    model = argv[i];
  }
  if (!model) return cli_usage_error("analyze", "missing MODEL");
  sf_graph *g;
  sf_status st = sf_graph_load(model, &g);
  if (st) return cli_fail(st);
  int n_imported = sf_graph_num_nodes(g);
  sf_tensor descs[16];
  if (sf_graph_num_inputs(g) > 16) { sf_graph_free(g); return cli_fail(sf_error(SF_ERR_UNSUPPORTED, "more than 16 inputs")); }
  if (make_descs(g, batch, seq, descs)) { sf_graph_free(g); return cli_fail(SF_ERR_SHAPE); }
  sf_graph *plan;
  if ((st = sf_graph_specialize(g, descs, fuse ? SF_SPEC_FUSE : 0, &plan))) { sf_error_context(st, "%s", model); sf_graph_free(g); return cli_fail(st); }
  sf_model_report r;
  if ((st = sf_analyze(plan, &r))) { sf_graph_free(plan); sf_graph_free(g); return cli_fail(st); }

  printf("model: %s\n", model);
  printf("inputs:");
  for (int i = 0; i < sf_graph_num_inputs(g); i++) {
    char s[96];
    printf(" %s %s %s", sf_graph_input_name(g, i), sf_dtype_name(descs[i].dtype), sf_shape_str(descs[i].ndim, descs[i].shape, s, sizeof s));
  }
  printf("\nnodes: %d imported, %d after folding%s\n\n", n_imported, r.n_nodes, fuse ? " and fusion" : "");
  printf("%-4s %-30s %-20s %-18s %10s %12s  %-14s %s\n", "#", "node", "op", "output", "params", "MACs", "spiking", "how");
  for (int i = 0; i < r.n_nodes; i++) {
    const sf_node_report *n = &r.nodes[i];
    char op[64];
    snprintf(op, sizeof op, "%s%s", n->op_type, *n->domain ? "*" : "");
    printf("%-4d %-30.30s %-20.20s %-18.18s %10lld %12lld  %-14s %s\n", i, n->name, op, n->out_shape, (long long)n->params,
           (long long)n->macs, sf_spike_class_name(n->cls), n->how);
  }
  printf("\n(* = fused by SpikeFormer)\n");
  printf("parameters: %lld   MACs per batch of %lld: %lld\n", (long long)r.total_params, (long long)batch, (long long)r.total_macs);
  printf("spike conversion by node class (nodes / share of MACs):\n");
  for (int c = 0; c <= SF_SPIKE_UNSUPPORTED; c++)
    if (r.count_by_class[c])
      printf("  %-14s %4d nodes  %6.2f%% of MACs\n", sf_spike_class_name((sf_spike_class)c), r.count_by_class[c],
             r.total_macs ? 100.0 * (double)r.macs_by_class[c] / (double)r.total_macs : 0.0);
  if (r.n_unsupported) printf("NOT CONVERTIBLE: %d node(s) have no spiking form (listed above as 'unsupported')\n", r.n_unsupported);
  else printf("every node has a spiking form\n");

  int rc = 0;
  if (json) {
    cJSON *root = cJSON_CreateObject(), *arr = cJSON_CreateArray(), *cls = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model", model);
    cJSON_AddNumberToObject(root, "nodes_imported", n_imported);
    cJSON_AddNumberToObject(root, "nodes", r.n_nodes);
    cJSON_AddNumberToObject(root, "params", (double)r.total_params);
    cJSON_AddNumberToObject(root, "macs", (double)r.total_macs);
    cJSON_AddNumberToObject(root, "batch", (double)batch);
    cJSON_AddNumberToObject(root, "unsupported", r.n_unsupported);
    for (int i = 0; i < r.n_nodes; i++) {
      const sf_node_report *n = &r.nodes[i];
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "name", n->name);
      cJSON_AddStringToObject(o, "op", n->op_type);
      cJSON_AddStringToObject(o, "domain", n->domain);
      cJSON_AddStringToObject(o, "output_shape", n->out_shape);
      cJSON_AddNumberToObject(o, "params", (double)n->params);
      cJSON_AddNumberToObject(o, "macs", (double)n->macs);
      cJSON_AddStringToObject(o, "spiking", sf_spike_class_name(n->cls));
      cJSON_AddStringToObject(o, "how", n->how);
      if (n->note) cJSON_AddStringToObject(o, "fused", n->note);
      cJSON_AddItemToArray(arr, o);
    }
    for (int c = 0; c <= SF_SPIKE_UNSUPPORTED; c++) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddNumberToObject(o, "nodes", r.count_by_class[c]);
      cJSON_AddNumberToObject(o, "macs", (double)r.macs_by_class[c]);
      cJSON_AddItemToObject(cls, sf_spike_class_name((sf_spike_class)c), o);
    }
    cJSON_AddItemToObject(root, "by_class", cls);
    cJSON_AddItemToObject(root, "layers", arr);
    st = cli_write_json(json, root);
    if (st) rc = cli_fail(st);
  }
  sf_model_report_free(&r);
  sf_graph_free(plan);
  sf_graph_free(g);
  return rc;
}

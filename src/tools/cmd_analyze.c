/* spikeformer analyze MODEL: parse, sf_analyze_model, print the per-node table. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct {
  cli_head h;
  const char *json;
  int64_t batch, seq_len;
  int no_fuse;
} analyze_args;

#define A(f) offsetof(analyze_args, f)
static const cli_option options[] = {
    {.name = "--json", .kind = CLI_STR, .arg = "FILE", .offset = A(json), .help = "also write the report as JSON"},
    {.name = "--batch", .kind = CLI_INT, .arg = "N", .offset = A(batch), .help = "batch size used for shapes (default 1)", .lo = 1, .hi = 1 << 20},
    {.name = "--seq-len", .kind = CLI_INT, .arg = "N", .offset = A(seq_len), .help = "sequence length for token inputs with free dims (default 16)", .lo = 1, .hi = 1 << 20},
    {.name = "--no-fuse", .kind = CLI_FLAG, .offset = A(no_fuse), .help = "show the graph as imported, without fusion"},
    {.name = NULL}};

static void defaults(void *p) {
  analyze_args *a = p;
  a->batch = 1;
  a->seq_len = 16;
}

static int run(void *p) {
  analyze_args *a = p;
  const char *model = a->h.pos[0];
  sf_status st = sf_check_writable((const char *[]){a->json}, 1);
  if (st) return cli_fail(st);
  sf_graph *g;
  if ((st = sf_graph_load(model, &g))) return cli_fail(st);
  sf_analyze_options o = {a->batch, a->seq_len, !a->no_fuse};
  sf_model_report r;
  if ((st = sf_analyze_model(g, &o, &r))) { sf_graph_free(g); return cli_fail(st); }
  printf("model: %s\ninputs:", model);
  for (int i = 0; i < sf_graph_num_inputs(r.plan); i++) {
    char s[96];
    sf_tensor d = sf_graph_input_desc(r.plan, i);
    printf(" %s %s %s", sf_graph_input_name(r.plan, i), sf_dtype_name(d.dtype), sf_shape_str(d.ndim, d.shape, s, sizeof s));
  }
  printf("\nnodes: %d imported, %d after folding%s\n\n", r.n_imported, r.n_nodes, o.fuse ? " and fusion" : "");
  printf("%-4s %-30s %-20s %-18s %10s %12s  %-14s %s\n", "#", "node", "op", "output", "params", "MACs", "spiking", "how");
  for (int i = 0; i < r.n_nodes; i++) {
    const sf_node_report *n = &r.nodes[i];
    char op[64];
    snprintf(op, sizeof op, "%s%s", n->op_type, *n->domain ? "*" : "");
    printf("%-4d %-30.30s %-20.20s %-18.18s %10lld %12lld  %-14s %s\n", i, n->name, op, n->out_shape, (long long)n->params, (long long)n->macs,
           sf_spike_class_name(n->cls), n->how);
  }
  printf("\n(* = fused by SpikeFormer)\n");
  printf("parameters: %lld   MACs per batch of %lld: %lld\n", (long long)r.total_params, (long long)r.batch, (long long)r.total_macs);
  printf("spike conversion by node class (nodes / share of MACs):\n");
  for (int c = 0; c <= SF_SPIKE_UNSUPPORTED; c++)
    if (r.count_by_class[c])
      printf("  %-14s %4d nodes  %6.2f%% of MACs\n", sf_spike_class_name((sf_spike_class)c), r.count_by_class[c],
             r.total_macs ? 100.0 * (double)r.macs_by_class[c] / (double)r.total_macs : 0.0);
  if (r.n_unsupported) printf("NOT CONVERTIBLE: %d node(s) have no spiking form (listed above as 'unsupported')\n", r.n_unsupported);
  else printf("every node has a spiking form\n");
  if (a->json) st = cli_write_text(a->json, sf_model_report_json(&r, model));
  sf_model_report_free(&r);
  sf_graph_free(g);
  return st ? cli_fail(st) : 0;
}

const cli_command cmd_analyze = {
    "analyze", "MODEL [options]", "layers, shapes, parameters, MACs and how each node converts to spikes",
    "Imports MODEL (ONNX file or Hugging Face directory), specialises it to one input shape (shape subgraphs fold\n"
    "away), fuses LayerNorm / GELU / attention, and prints every node: op, output shape, parameters, MACs, and how\n"
    "it converts to spikes, or why it cannot.",
    options, sizeof(analyze_args), defaults, run, 1, 1, "MODEL"};

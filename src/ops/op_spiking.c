/* The one place that decides how a node runs in a spiking network: its op's spiking class (the op
 * table) and which of its inputs are constants. The converter assigns these modes and the analyzer
 * reports from the same answer, so the two never disagree. */
#include "ops/ops.h"

static int is_const(const sf_graph *g, int v) { return v >= 0 && g->values[v].t.data != NULL; }

sf_spiking_mode sf_node_spiking_mode(const sf_graph *g, const sf_node *n, const char **why) {
  static const char *no_why;
  if (!why) why = &no_why;
  *why = NULL;
  if (!n->def) {
    *why = "unknown op";
    return SF_MODE_NONE;
  }
  int n_dyn = 0;
  for (int k = 0; k < n->n_in; k++) n_dyn += n->in[k] >= 0 && !is_const(g, n->in[k]);
  const sf_spiking_class cls = n->def->spiking;
  if (cls == SF_SPK_NEURON) return SF_MODE_NEURON;
  /* a node of constants only that was not folded: a constant current */
  if (n_dyn == 0) return SF_MODE_LINEAR;
  const int c0 = n->n_in > 0 && is_const(g, n->in[0]), c1 = n->n_in > 1 && is_const(g, n->in[1]);
  switch (cls) {
    case SF_SPK_LINEAR:
    case SF_SPK_LAYOUT: return SF_MODE_LINEAR;
    case SF_SPK_WEIGHTED:
      switch (n->def->id) {
        case SF_OP_MATMUL: return c0 || c1 ? SF_MODE_LINEAR : SF_MODE_PRODUCT;
        case SF_OP_GEMM:
          if (c1 && (n->n_in < 3 || n->in[2] < 0 || is_const(g, n->in[2]))) return SF_MODE_LINEAR;
          if (!c0 && !c1) return SF_MODE_PRODUCT;
          return SF_MODE_EC; /* a bias computed at runtime: a float function of its inputs */
        default: return SF_MODE_LINEAR; /* Linear, Conv: the weights are constants */
      }
    case SF_SPK_SCALE:
      if (n->def->id == SF_OP_MUL) return c0 || c1 ? SF_MODE_LINEAR : SF_MODE_PRODUCT;
      return c1 ? SF_MODE_LINEAR : SF_MODE_EC; /* Div by a stream: a float function */
    case SF_SPK_SELECT: {
      const int selector = n->def->id == SF_OP_GATHER ? 1 : 0;
      if (selector < n->n_in && is_const(g, n->in[selector])) return SF_MODE_LINEAR;
      *why = n->def->id == SF_OP_GATHER ? "indices computed at runtime" : "a condition computed at runtime";
      return SF_MODE_NONE;
    }
    case SF_SPK_CAST:
      if (n->n_out > 0 && n->out[0] >= 0 && sf_dtype_is_float(g->values[n->out[0]].t.dtype)) return SF_MODE_LINEAR;
      *why = "a cast to a non-float type (masks, ids) has no spiking form; fold it away with constant inputs";
      return SF_MODE_NONE;
    case SF_SPK_FLOAT:
    case SF_SPK_RELU:
    case SF_SPK_MAX: return SF_MODE_EC;
    case SF_SPK_ATTENTION:
      *why = "the fused attention core is split into its products and softmax before conversion";
      return SF_MODE_NONE;
    case SF_SPK_NONE:
    case SF_SPK_NEURON: break;
  }
  *why = "no spiking equivalent for this op (booleans, shapes and ranges must fold away as constants)";
  return SF_MODE_NONE;
}

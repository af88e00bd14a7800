#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "graph/graph.h"
#include "graph/passes.h"
#include "ops/ops.h"
#include "spikeformer/session.h"

static sf_status node_ctx(sf_graph *g, sf_node *n, sf_op_ctx *c, sf_tensor **ins, sf_tensor **outs) {
  c->graph = g;
  c->node = n;
  c->n_in = n->n_in;
  c->n_out = n->n_out;
  c->in = ins;
  c->out = outs;
  c->opset = g->opset;
  for (int k = 0; k < n->n_in; k++) ins[k] = n->in[k] >= 0 ? &g->values[n->in[k]].t : NULL;
  for (int k = 0; k < n->n_out; k++) outs[k] = &g->values[n->out[k]].t;
  return SF_OK;
}

sf_status sf_node_infer(sf_graph *g, int idx) {
  sf_node *n = &g->nodes[idx];
  sf_tensor *ins[SF_OP_MAX_INPUTS], *outs[SF_OP_MAX_OUTPUTS];
  if (n->n_in > SF_OP_MAX_INPUTS || n->n_out > SF_OP_MAX_OUTPUTS)
    return sf_error(SF_ERR_UNSUPPORTED, "node '%s': %d inputs and %d outputs (at most %d and %d)", n->name, n->n_in, n->n_out, SF_OP_MAX_INPUTS, SF_OP_MAX_OUTPUTS);
  if (!n->def) {
    n->def = sf_op_find(n->op_type, n->domain);
    if (!n->def) return sf_error(SF_ERR_UNSUPPORTED, "node '%s': unknown op '%s'", n->name, n->op_type);
  }
  if (n->n_in < n->def->min_in || n->n_in > n->def->max_in)
    return sf_error(SF_ERR_FORMAT, "node '%s' (%s): %d inputs, expected %d..%d", n->name, n->op_type, n->n_in, n->def->min_in, n->def->max_in);
  for (int k = 0; k < n->def->min_in && k < n->n_in; k++)
    if (n->in[k] < 0) return sf_error(SF_ERR_FORMAT, "node '%s' (%s): required input %d is missing", n->name, n->op_type, k);
  if (n->n_out < 1) return sf_error(SF_ERR_FORMAT, "node '%s' (%s): no outputs", n->name, n->op_type);
  for (int k = 0; k < n->n_out; k++)
    if (n->out[k] < 0) return sf_error(SF_ERR_FORMAT, "node '%s' (%s): output %d has no name", n->name, n->op_type, k);
  sf_op_ctx c;
  node_ctx(g, n, &c, ins, outs);
  for (int k = 0; k < n->n_in; k++)
    if (ins[k] && !sf_tensor_shape_known(ins[k]))
      return sf_error(SF_ERR_SHAPE, "node '%s' (%s): shape of input '%s' is unknown", n->name, n->op_type, g->values[n->in[k]].name);
  return n->def->infer(&c);
}

sf_status sf_pass_infer_and_fold(sf_graph *g) {
  sf_tensor *ins[SF_OP_MAX_INPUTS], *outs[SF_OP_MAX_OUTPUTS];
  for (int i = 0; i < g->n_nodes; i++) {
    sf_node *n = &g->nodes[i];
    sf_status st = sf_node_infer(g, i);
    if (st) return st;
    int all_const = 1;
    for (int k = 0; k < n->n_in; k++)
      if (n->in[k] >= 0 && !g->values[n->in[k]].t.data) all_const = 0;
    int fold = (all_const && !(n->def->flags & SF_OPF_NO_FOLD)) || (n->def->flags & SF_OPF_OUTPUT_FROM_SHAPE);
    if (!fold) continue;
    sf_op_ctx c;
    node_ctx(g, n, &c, ins, outs);
    for (int k = 0; k < n->n_out; k++) {
      sf_tensor *t = outs[k];
      sf_tensor desc = *t;
      if ((st = sf_tensor_alloc(t, desc.dtype, desc.ndim, desc.shape))) return st;
    }
    int64_t produced = 0;
    for (int k = 0; k < n->n_out; k++) produced += sf_tensor_numel(outs[k]);
    if (produced && (st = n->def->exec(&c))) return st;
    /* The node is now redundant: its outputs are constants. Detach it. */
    for (int k = 0; k < n->n_out; k++) g->values[n->out[k]].producer = -1;
    n->n_out = 0;
  }
  return sf_graph_compact(g);
}

sf_status sf_graph_specialize(const sf_graph *src, const sf_tensor *inputs, int flags, sf_graph **out) {
  *out = NULL;
  sf_graph *g = sf_graph_clone(src);
  if (!g) return sf_error(SF_ERR_NOMEM, "out of memory");
  sf_status st = SF_OK;
  for (int i = 0; i < g->n_inputs; i++) {
    sf_value *v = &g->values[g->inputs[i]];
    const sf_tensor *x = &inputs[i];
    char want[128], got[128];
    if (v->t.ndim >= 0) {
      int ok = v->t.ndim == x->ndim && v->t.dtype == x->dtype;
      for (int d = 0; ok && d < x->ndim; d++)
        if (v->t.shape[d] >= 0 && v->t.shape[d] != x->shape[d]) ok = 0;
      if (!ok) {
        st = sf_error(SF_ERR_SHAPE, "input '%s': the model expects %s %s, got %s %s", v->name, sf_dtype_name(v->t.dtype),
                      sf_shape_str(v->t.ndim, v->t.shape, want, sizeof want), sf_dtype_name(x->dtype),
                      sf_shape_str(x->ndim, x->shape, got, sizeof got));
        goto fail;
      }
    }
    sf_tensor_describe(&v->t, x->dtype, x->ndim, x->shape);
    v->t.data = NULL;
    if ((flags & SF_SPEC_BIND_INPUTS) && !sf_dtype_is_float(x->dtype) && x->data) {
      sf_tensor c;
      if ((st = sf_tensor_clone(&c, x))) goto fail;
      v->t = c;
    }
  }
  if ((st = sf_pass_infer_and_fold(g))) goto fail;
  if ((flags & SF_SPEC_FUSE) && (st = sf_pass_fuse(g))) goto fail;
  *out = g;
  return SF_OK;
fail:
  sf_graph_free(g);
  return st;
}

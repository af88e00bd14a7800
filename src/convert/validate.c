#include "spikeformer/validate.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/convert_internal.h"
#include "core/util.h"
#include "graph/passes.h"
#include "ops/ops.h"

static void add(sf_validation *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(sf_validation *v, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  char **e = realloc(v->errors, sizeof(char *) * (size_t)(v->n_errors + 1));
  if (!e) return;
  v->errors = e;
  v->errors[v->n_errors++] = sf_strdup(buf);
}

static int64_t fan_in(const sf_graph *g, const sf_node *n) {
  const sf_op_id op = sf_node_op(n);
  if (op == SF_OP_LINEAR && n->n_in > 1) return g->values[n->in[1]].t.shape[0];
  if (op == SF_OP_CONV && n->n_in > 1) {
    const sf_tensor *w = &g->values[n->in[1]].t;
    int64_t k = 1;
    for (int d = 1; d < w->ndim; d++) k *= w->shape[d];
    return k;
  }
  if (op == SF_OP_MATMUL && n->n_in > 1) {
    const sf_tensor *a = &g->values[n->in[0]].t;
    return a->ndim ? a->shape[a->ndim - 1] : 1;
  }
  if (op == SF_OP_GEMM && n->n_in > 1) {
    const sf_tensor *w = &g->values[n->in[1]].t;
    return sf_node_attr_int(n, "transB", 0) ? w->shape[1] : w->shape[0];
  }
  return 0;
}

sf_status sf_validate(const sf_graph *cg, const sf_hardware_constraints *hw, sf_validation *v) {
  memset(v, 0, sizeof *v);
  sf_graph *g = sf_graph_clone(cg);
  if (!g) return sf_error(SF_ERR_NOMEM, "out of memory");
  for (int i = 0; i < g->n_nodes; i++) {
    sf_node *n = &g->nodes[i];
    v->n_checked_nodes++;
    if (n->mode == SF_MODE_NONE) add(v, "node '%s' (%s): not converted (no spiking mode)", n->name, n->op_type);
    sf_tensor before = g->values[n->out[0]].t;
    if (sf_node_infer(g, i) != SF_OK) add(v, "node '%s' (%s): shapes inconsistent: %s", n->name, n->op_type, sf_last_error());
    else if (!sf_tensor_same_shape(&before, &g->values[n->out[0]].t)) add(v, "node '%s' (%s): stored output shape differs from the inferred one", n->name, n->op_type);
    if (sf_node_op(n) == SF_OP_NEURON) {
      const sf_tensor *th = &g->values[n->in[1]].t;
      for (int64_t c = 0; c < sf_tensor_numel(th); c++) {
        float x = ((const float *)th->data)[c];
        if (!isfinite(x) || x <= 0) { add(v, "neuron '%s': threshold %lld is %g (must be finite and positive)", n->name, (long long)c, x); break; }
      }
      const sf_tensor *xo = &g->values[n->out[0]].t;
      int64_t per_sample = sf_tensor_numel(xo) / (xo->shape[0] ? xo->shape[0] : 1);
      if (hw && hw->max_neurons_per_core > 0 && per_sample > hw->max_neurons_per_core)
        add(v, "neuron layer '%s': %lld neurons exceed the target's %d per core (split the layer across cores)", n->name,
            (long long)per_sample, hw->max_neurons_per_core);
    }
    int64_t f = fan_in(g, n);
    if (f > v->max_fan_in) v->max_fan_in = (int)f;
    if (hw && hw->max_fan_in > 0 && f > hw->max_fan_in)
      add(v, "node '%s' (%s): fan-in %lld exceeds the target's limit %d", n->name, n->op_type, (long long)f, hw->max_fan_in);
  }
  for (int k = 0; k < g->n_values; k++) {
    const sf_tensor *t = &g->values[k].t;
    if (!t->data || !sf_dtype_is_float(t->dtype)) continue;
    int64_t bad = sf_tensor_find_nonfinite(t);
    if (bad >= 0) add(v, "constant '%s': element %lld is %g", g->values[k].name, (long long)bad, sf_tensor_get_f(t, bad));
  }
  sf_graph_free(g);
  if (v->n_errors) return sf_error(SF_ERR_VALUE, "validation failed: %d problem(s); first: %s", v->n_errors, v->errors[0]);
  return SF_OK;
}

void sf_validation_free(sf_validation *v) {
  for (int i = 0; i < v->n_errors; i++) free(v->errors[i]);
  free(v->errors);
  memset(v, 0, sizeof *v);
}

sf_status sf_snn_model_validate(const sf_snn_model *m, const sf_hardware_constraints *hw, sf_validation *out) {
  memset(out, 0, sizeof *out);
  sf_graph *g;
  sf_status st = sf_snn_model_build(m, 1, &g);
  if (st) return st;
  st = sf_validate(g, hw ? hw : &sf_snn_model_options(m)->snn.hardware_constraints, out);
  sf_graph_free(g);
  return st;
}

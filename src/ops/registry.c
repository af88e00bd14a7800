#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ops/ops.h"

static const sf_op_def *const families[] = {sf_ops_elementwise, sf_ops_matmul, sf_ops_conv, sf_ops_pool,
                                            sf_ops_norm, sf_ops_reduce, sf_ops_shape, sf_ops_attention, sf_ops_neuron};
#define N_FAMILIES (int)(sizeof families / sizeof families[0])

static int same_domain(const char *a, const char *b) {
  if (!a || !*a || !strcmp(a, "ai.onnx")) a = "";
  if (!b || !*b || !strcmp(b, "ai.onnx")) b = "";
  return strcmp(a, b) == 0;
}

const sf_op_def *sf_op_find(const char *op_type, const char *domain) {
  for (int f = 0; f < N_FAMILIES; f++)
    for (const sf_op_def *d = families[f]; d->op_type; d++)
      if (!strcmp(d->op_type, op_type) && same_domain(d->domain, domain)) return d;
  return NULL;
}

int sf_op_count(void) {
  int n = 0;
  for (int f = 0; f < N_FAMILIES; f++)
    for (const sf_op_def *d = families[f]; d->op_type; d++) n++;
  return n;
}

const sf_op_def *sf_op_at(int i) {
  for (int f = 0; f < N_FAMILIES; f++)
    for (const sf_op_def *d = families[f]; d->op_type; d++)
      if (i-- == 0) return d;
  return NULL;
}

int sf_op_describe(int i, const char **op_type, const char **domain, const char **summary) {
  const sf_op_def *d = sf_op_at(i);
  if (!d) return -1;
  if (op_type) *op_type = d->op_type;
  if (domain) *domain = d->domain;
  if (summary) *summary = d->summary;
  return 0;
}

sf_status sf_op_fail(const sf_op_ctx *c, sf_status code, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return sf_error(code, "node '%s' (%s): %s", c->node->name, c->node->op_type, msg);
}

sf_status sf_broadcast_shape(const sf_op_ctx *c, int na, const int64_t *a, int nb, const int64_t *b,
                             int *nout, int64_t *out) {
  int n = na > nb ? na : nb;
  for (int i = 0; i < n; i++) {
    int64_t da = i < n - na ? 1 : a[i - (n - na)];
    int64_t db = i < n - nb ? 1 : b[i - (n - nb)];
    if (da == db || db == 1) out[i] = da;
    else if (da == 1) out[i] = db;
    else {
      char sa[128], sb[128];
      return sf_op_fail(c, SF_ERR_SHAPE, "shapes %s and %s do not broadcast", sf_shape_str(na, a, sa, sizeof sa),
                        sf_shape_str(nb, b, sb, sizeof sb));
    }
  }
  *nout = n;
  return SF_OK;
}

sf_status sf_norm_axis(const sf_op_ctx *c, int64_t axis, int rank, int *out) {
  if (axis < -rank || axis >= rank) return sf_op_fail(c, SF_ERR_SHAPE, "axis %lld out of range for rank %d", (long long)axis, rank);
  *out = (int)(axis < 0 ? axis + rank : axis);
  return SF_OK;
}

sf_status sf_need_const(const sf_op_ctx *c, int i, const char *what) {
  if (i >= c->n_in || !c->in[i] || !c->in[i]->data)
    return sf_op_fail(c, SF_ERR_UNSUPPORTED, "input %d (%s) must be known before running (a constant or a shape "
                      "computation); data-dependent shapes are not supported", i, what);
  return SF_OK;
}

int sf_input_ints(const sf_op_ctx *c, int i, int64_t *buf, int cap) {
  const sf_tensor *t = c->in[i];
  int64_t n = sf_tensor_numel(t);
  if (n > cap) return -1;
  for (int64_t k = 0; k < n; k++) buf[k] = sf_tensor_get_i(t, k);
  return (int)n;
}

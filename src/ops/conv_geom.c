#include "ops/conv_geom.h"

#include <string.h>

sf_status sf_conv_geom_init(const sf_op_ctx *c, const sf_tensor *x, const int64_t *kernel, int ceil_mode,
                            sf_conv_geom *g) {
  memset(g, 0, sizeof *g);
  if (x->ndim != 3 && x->ndim != 4)
    return sf_op_fail(c, SF_ERR_UNSUPPORTED, "input rank %d (only 1-D and 2-D windows: rank 3 or 4)", x->ndim);
  int n = x->ndim - 2;
  g->nsp = n;
  const int64_t *v;
  int cnt;
  for (int i = 0; i < 2; i++) { g->in[i] = 1; g->k[i] = 1; g->s[i] = 1; g->d[i] = 1; }
  int o = 2 - n; /* 1-D lives in index 1 */
  for (int i = 0; i < n; i++) g->in[o + i] = x->shape[2 + i];
  if (kernel) for (int i = 0; i < n; i++) g->k[o + i] = kernel[i];
  else {
    cnt = sf_node_attr_ints(c->node, "kernel_shape", &v);
    if (cnt != n) return sf_op_fail(c, SF_ERR_SHAPE, "kernel_shape must have %d entries", n);
    for (int i = 0; i < n; i++) g->k[o + i] = v[i];
  }
  if ((cnt = sf_node_attr_ints(c->node, "strides", &v)) >= 0) {
    if (cnt != n) return sf_op_fail(c, SF_ERR_SHAPE, "strides must have %d entries", n);
    for (int i = 0; i < n; i++) g->s[o + i] = v[i];
  }
  if ((cnt = sf_node_attr_ints(c->node, "dilations", &v)) >= 0) {
    if (cnt != n) return sf_op_fail(c, SF_ERR_SHAPE, "dilations must have %d entries", n);
    for (int i = 0; i < n; i++) g->d[o + i] = v[i];
  }
  const char *auto_pad = sf_node_attr_string(c->node, "auto_pad", "NOTSET");
  if ((cnt = sf_node_attr_ints(c->node, "pads", &v)) >= 0) {
    if (cnt != 2 * n) return sf_op_fail(c, SF_ERR_SHAPE, "pads must have %d entries", 2 * n);
    for (int i = 0; i < n; i++) { g->pb[o + i] = v[i]; g->pe[o + i] = v[n + i]; }
  }
  for (int i = 0; i < 2; i++) {
    if (g->k[i] < 1 || g->s[i] < 1 || g->d[i] < 1 || g->pb[i] < 0 || g->pe[i] < 0)
      return sf_op_fail(c, SF_ERR_VALUE, "kernel, strides and dilations must be positive and pads non-negative");
    int64_t ext = (g->k[i] - 1) * g->d[i] + 1;
    if (!strcmp(auto_pad, "SAME_UPPER") || !strcmp(auto_pad, "SAME_LOWER")) {
      g->out[i] = (g->in[i] + g->s[i] - 1) / g->s[i];
      int64_t total = (g->out[i] - 1) * g->s[i] + ext - g->in[i];
      if (total < 0) total = 0;
      g->pb[i] = !strcmp(auto_pad, "SAME_UPPER") ? total / 2 : total - total / 2;
      g->pe[i] = total - g->pb[i];
    } else if (!strcmp(auto_pad, "VALID")) {
      g->pb[i] = g->pe[i] = 0;
      g->out[i] = (g->in[i] - ext) / g->s[i] + 1;
    } else {
      int64_t span = g->in[i] + g->pb[i] + g->pe[i] - ext;
      g->out[i] = ceil_mode ? (span + g->s[i] - 1) / g->s[i] + 1 : span / g->s[i] + 1;
      /* ceil_mode: the last window must start inside the input or left padding */
      if (ceil_mode && (g->out[i] - 1) * g->s[i] >= g->in[i] + g->pb[i]) g->out[i]--;
    }
    if (g->out[i] < 1) return sf_op_fail(c, SF_ERR_SHAPE, "window larger than the padded input");
  }
  return SF_OK;
}

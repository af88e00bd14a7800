/* Spiking neuron node (domain "spikeformer"), as the ANN sees it.
 *   X [...], theta [C] or [1] (C = channels on `axis`) -> Y [same]
 * In the ANN (calibration, "run the ANN beside the SNN") a neuron is the identity, or ReLU when
 * unsigned. Its spiking behaviour lives in src/snn/. */
#include <string.h>

#include "ops/ops.h"

static sf_status infer_neuron(sf_op_ctx *c) {
  const sf_tensor *x = c->in[0], *th = c->in[1];
  if (x->dtype != SF_F32 || th->dtype != SF_F32) return sf_op_fail(c, SF_ERR_UNSUPPORTED, "float32 only");
  int axis;
  sf_status st = sf_norm_axis(c, sf_node_attr_int(c->node, "axis", -1), x->ndim, &axis);
  if (st) return st;
  int64_t n = sf_tensor_numel(th);
  if (n != 1 && n != x->shape[axis]) return sf_op_fail(c, SF_ERR_SHAPE, "threshold has %lld entries, channels %lld", (long long)n, (long long)x->shape[axis]);
  sf_tensor_describe(c->out[0], SF_F32, x->ndim, x->shape);
  return SF_OK;
}

static sf_status exec_neuron(sf_op_ctx *c) {
  const float *x = c->in[0]->data;
  float *y = c->out[0]->data;
  int64_t n = sf_tensor_numel(c->in[0]);
  if (sf_node_attr_int(c->node, "signed", 1)) memcpy(y, x, sizeof(float) * (size_t)n);
  else for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0.0f;
  return SF_OK;
}

const sf_op_def sf_ops_neuron[] = {
  {"Neuron", "spikeformer", 2, 2, SF_OPF_NO_FOLD, infer_neuron, exec_neuron, "spiking neuron (ANN view: identity, or ReLU if unsigned)", SF_OP_NEURON, SF_SPK_NEURON},
  {NULL, NULL, 0, 0, 0, NULL, NULL, NULL, SF_OP_COUNT, SF_SPK_NONE}
};

/* Quantisation-aware training for the int8 runtime (--qat int8): the forward and backward run on
 * the weights, biases and thresholds exactly as sf_snn_set_quant(SF_QUANT_INT8) will run them, while
 * the optimizer updates the float masters (straight-through: the gradient at the quantised values is
 * applied to the masters). What snn_quant.c does, per weighted layer l of the chain:
 *   layer 0 (analog input, W8A8): W0 per output column c to int8 with scale s_c = max_k |W0[k, c]| / 127,
 *            W0q[k, c] = s_c clamp(rint(W0[k, c] / s_c), +-127); each sample's input to 8-bit codes
 *            (x >= 0: scale max(x) / 255) -- sf_q8_code_rows; the bias stays float
 *   layer l >= 1 (spike-fed): the presynaptic threshold folded in, W'[k, c] = theta_l[k] W[k, c],
 *            scale s_c = max_k |W'[k, c]| / 127, Wq[k, c] = s_c clamp(rint(W'[k, c] / s_c)) / theta_l[k];
 *            bias bq[c] = s_c rint(b[c] / s_c); the neurons it feeds (l + 1 < L) get thresholds in
 *            its units, theta_(l+1)q[c] = s_c max(1, rint(theta_(l+1)[c] / s_c)).
 * The masters are what is saved: the runtime quantises them to the same values. */
#ifndef SF_TRAIN_QAT_H
#define SF_TRAIN_QAT_H
#include "train/snn_net.h"

typedef struct {
  int L;
  float *W[SNN_NET_MAX_LAYERS], *b[SNN_NET_MAX_LAYERS], *theta[SNN_NET_MAX_LAYERS]; /* the quantised copies */
  float *mW[SNN_NET_MAX_LAYERS], *mb[SNN_NET_MAX_LAYERS], *mtheta[SNN_NET_MAX_LAYERS]; /* the masters */
} qat;

sf_status qat_init(qat *q, const snn_net *net);
void qat_free(qat *q);
/* Quantise the masters into the copies and point the net at them (before a forward). */
void qat_apply(qat *q, snn_net *net);
/* Point the net back at the masters (before the optimizer, checkpoints, export). */
void qat_restore(const qat *q, snn_net *net);
/* x [B, n] to the int8 runtime's 8-bit input codes, per sample, in place (sf_q8_code_rows's rule). */
void qat_inputs(float *x, int64_t B, int64_t n);

#endif

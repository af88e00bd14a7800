/* qcfs mode (Bu et al., "Optimal ANN-SNN conversion for high-accuracy and ultra-low-latency spiking
 * neural networks", ICLR 2022): the chain's ANN is fine-tuned with quantisation-clip-floor-shift
 * activations of L levels in place of ReLU,
 *   z_l = h_(l-1) W_(l-1) + b_(l-1)          (h_0 = x; logits = z_L)
 *   q_l = floor(z_l L / lambda_l + 1/2) / L  (per neuron; the + 1/2 is the shift)
 *   h_l = lambda_l clip(q_l, 0, 1)
 * with the floor's gradient passed straight through, as the paper's code does through autograd:
 *   dh/dz = 1 and dh/dlambda = q - z / lambda where 0 <= q <= 1; dh/dz = 0, dh/dlambda = 1 where
 *   q > 1; nothing where q < 0.
 * Then lambda_l becomes the thresholds of the spiking network, whose membranes start at theta / 2
 * (the runtime's convention, and the shift's counterpart): with L = T, the spike count over T steps
 * of an IF neuron fed a constant current is the QCFS activation, which is why the conversion is
 * near-lossless at T. The parameters are the snn_net's (W, b, theta = lambda, their gradients). */
#ifndef SF_TRAIN_QCFS_H
#define SF_TRAIN_QCFS_H
#include "train/snn_net.h"

typedef struct {
  int64_t cap;                          /* batch rows the buffers hold */
  float *z[SNN_NET_MAX_LAYERS + 1];     /* z_l [B, n_l], l = 1..L (z_L: the logits) */
  float *h[SNN_NET_MAX_LAYERS];         /* h_l [B, n_l], l = 1..L-1 */
  float *dz, *dh;                       /* [B, max n] */
  int64_t B;
  int levels;
} qcfs_ann;

void qcfs_free(qcfs_ann *a);
/* Forward on x [B, n0]: logits in a->z[L]. */
sf_status qcfs_forward(qcfs_ann *a, const snn_net *net, const float *x, int64_t B, int levels);
/* Backward from dlogits [B, n_L]: adds to the net's dW, db and (train_lambda) dtheta. */
void qcfs_backward(qcfs_ann *a, snn_net *net, const float *x, const float *dlogits, int train_lambda);

#endif

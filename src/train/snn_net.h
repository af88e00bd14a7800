/* The trainable spiking chain (train.h has the model): L weighted layers, neurons between them.
 *   layer 0     c = x W_0 + b_0                       x [B, n0] analog, the same every step
 *   neurons l   (l = 1..L-1, n_l of them) over T steps: u, k, v as in train.h; s = theta k
 *   layer l     i_(l+1),t = s_l,t W_l + b_l            spikes select weight rows (sparse)
 *   readout     logits = (1/T) sum_t i_L,t = (1/T) (sum_t s_(L-1),t) W_(L-1) + b_(L-1)
 * Weights are [in, out] (the runtime's Linear layout: a spike of input j adds row j). The forward
 * keeps, per neuron layer, the membranes before the spike u [T, B, n] and the counts k [T, B, n]
 * (int8) that the backward needs. Forward and backward are separate calls (llm.c's pairs). */
#ifndef SF_TRAIN_SNN_NET_H
#define SF_TRAIN_SNN_NET_H
#include <stdint.h>

#include "spikeformer/train.h"
#include "train/train_kernels.h"

#define SNN_NET_MAX_LAYERS 16

/* where a step's time goes (seconds, summed over calls; the benches print them) */
typedef enum {
  SNN_PHASE_INPUT_LAYER = 0, /* layer 0 on the analog input: forward sgemm and its weight gradient */
  SNN_PHASE_NEURONS,         /* neurons over time, forward and backward */
  SNN_PHASE_SPIKE_LAYERS,    /* spike-fed layers: forward and weight gradients (event-driven or sgemm) */
  SNN_PHASE_SPIKE_GRADS,     /* gradients of the spikes through the weights (sgemm) */
  SNN_PHASE_READOUT,         /* the readout and its gradients */
  SNN_PHASES
} snn_phase;
extern const char *const snn_phase_names[SNN_PHASES];

typedef struct {
  int L;                                   /* weighted layers (>= 2) */
  int64_t n[SNN_NET_MAX_LAYERS + 1];       /* n[0] inputs, n[l] neurons of layer l, n[L] classes */
  float *W[SNN_NET_MAX_LAYERS], *b[SNN_NET_MAX_LAYERS];  /* W[l] [n[l], n[l+1]], b[l] [n[l+1]] */
  float *theta[SNN_NET_MAX_LAYERS];        /* theta[l] [n[l]], l = 1..L-1 (index 0 unused) */
  float *dW[SNN_NET_MAX_LAYERS], *db[SNN_NET_MAX_LAYERS], *dtheta[SNN_NET_MAX_LAYERS];
  /* neurons */
  int K;                                   /* spikes per step at most (1: IF / LIF) */
  float beta;                              /* leak: v <- beta v + i (1: IF) */
  sf_surrogate surrogate;
  float slope;
  int detach_reset;
  float rate_penalty;                      /* lambda: the loss adds lambda x spikes per neuron per step */
  float sparse_max;                        /* spike-fed layers run spike by spike below this share of active
                                              inputs, dense (sgemm) above it (default 0.3) */
  /* the forward's record, for a batch of B and T steps (grown as needed) */
  int64_t B;
  int T;
  float *x;                                /* the batch's input, borrowed during forward/backward */
  float *c;                                /* layer 0's current [B, n1] */
  float *u[SNN_NET_MAX_LAYERS];            /* [T, B, n[l]] membranes before the spike */
  int8_t *k[SNN_NET_MAX_LAYERS];           /* [T, B, n[l]] spike counts */
  float *cur;                              /* [T, B, max n] a layer's input currents */
  float *dcur, *ds;                        /* gradients of currents and spikes [T, B, max n] */
  float *s_sum;                            /* [B, n[L-1]] sum over t of the last neurons' spikes */
  float *logits;                           /* [B, n[L]] */
  double spikes;                           /* unit spikes of the last forward */
  double phase[SNN_PHASES];                /* seconds by phase since init */
  int recompute;                           /* K > 0: gradient checkpointing over time: the forward keeps the
                                              membranes every K steps only, the backward recomputes each
                                              segment of K steps from them, so memory stops growing with T;
                                              0: every step kept */
  float *vck[SNN_NET_MAX_LAYERS];          /* [segments, B, n[l]] membranes at each segment's start */
  float *dvc[SNN_NET_MAX_LAYERS];          /* [B, n[l]] dL/dv carried from one segment to the one before */
  float *dc_sum;                           /* [B, n[1]] layer 0's current gradient, summed over the segments */
  int64_t cap_rows, cap_width, cap_B, cap_ck; /* what the buffers hold */
  int64_t state_bytes;                     /* bytes of the per-step record and checkpoints now allocated */
  tk_lists lists[SNN_NET_MAX_LAYERS];      /* spike lists of layer l's neurons (event-driven forward), for the backward */
  int listed[SNN_NET_MAX_LAYERS];          /* 1: the last forward ran layer l event-driven */
} snn_net;

/* Allocate a net of these sizes (weights zero, thresholds 1). */
sf_status snn_net_init(snn_net *net, int L, const int64_t *n);
void snn_net_free(snn_net *net);
/* Weights and biases uniform in +-1/sqrt(fan_in) (PyTorch nn.Linear's default), from the seed. */
void snn_net_init_random(snn_net *net, uint64_t seed);
/* Number of trainable numbers (weights, biases; thresholds when counted). */
int64_t snn_net_parameters(const snn_net *net, int with_thresholds);

/* Forward on x [B, n0] for T steps: logits [B, n[L]] in net->logits; records what backward needs. */
sf_status snn_net_forward(snn_net *net, const float *x, int64_t B, int T);
/* Cross-entropy of the logits against labels (mean over the batch); dlogits [B, n[L]] receives its
 * gradient. Returns the loss; *right the rows whose argmax is the label. */
double snn_cross_entropy(const float *logits, const int32_t *labels, int64_t B, int64_t C, float *dlogits, int64_t *right);
/* Knowledge distillation: alpha tau^2 KL(softmax(t / tau) || softmax(z / tau)), the mean over the
 * batch, for student logits z and teacher logits t [B, C]; adds its gradient
 * alpha tau (softmax(z / tau) - softmax(t / tau)) / B to dlogits (if given). Returns the term. */
double snn_distill_loss(const float *logits, const float *teacher, int64_t B, int64_t C, double tau, double alpha, float *dlogits);
/* The rate penalty's part of the loss for the last forward: lambda sum k / (B T N), N the neurons. */
double snn_net_rate_loss(const snn_net *net);
/* Backward from dlogits (and the rate penalty) [B, n[L]]: adds to dW, db, and (train_thresholds) dtheta. */
sf_status snn_net_backward(snn_net *net, const float *dlogits, int train_thresholds);
/* Zero the gradients. */
void snn_net_zero_grad(snn_net *net);
/* Bytes the training state takes for the last forward (the per-step record, the checkpoints). */
int64_t snn_net_state_bytes(const snn_net *net);

#endif

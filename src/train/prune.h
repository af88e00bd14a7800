/* Magnitude pruning with fine-tuning: every weighted layer of the chain is pruned to the target
 * sparsity S along Zhu & Gupta's gradual schedule (2017), s(k) = S (1 - (1 - k / k_end)^3) at
 * training step k, in ten pruning events up to k_end (two thirds of the run), then fine-tuned at S
 * for the last third. A pruning event zeroes the smallest-magnitude weights until s(k) of them are
 * zero: of all weighted layers together (global: the 784 inputs' layer, whose many near-empty border
 * pixels carry small weights, gives up more than the readout), or of each layer (W [n_l, n_(l+1)]); between events the pruned weights are set back to zero
 * after every optimizer step. Biases and thresholds are not pruned. The zeros travel in the .sfm
 * as they are, and the runtime counts no synaptic operation for them (snn_session.c, fan_out). */
#ifndef SF_TRAIN_PRUNE_H
#define SF_TRAIN_PRUNE_H
#include <stdint.h>

#include "train/snn_net.h"

typedef struct {
  double target;                       /* S */
  int global;                          /* 1: one magnitude cut over all layers' weights together; 0: each layer to S */
  int64_t end_step, every;             /* k_end; steps between events */
  int L;
  uint8_t *mask[SNN_NET_MAX_LAYERS];   /* 1: kept, 0: pruned [n_l * n_(l+1)] */
  float *scratch;                      /* |W| of the largest layer, sorted */
} pruner;

/* Nothing pruned yet; the schedule spans total_steps. */
sf_status pruner_init(pruner *p, const snn_net *net, double target, int global, int64_t total_steps);
void pruner_free(pruner *p);
/* The schedule's sparsity after `steps` training steps. */
double pruner_sparsity_at(const pruner *p, int64_t steps);
/* After the optimizer's step (steps done in all): prune at an event, then zero the pruned weights. */
void pruner_after_step(pruner *p, snn_net *net, int64_t steps);
/* A resumed run: the masks are the weights that are zero now. */
void pruner_from_weights(pruner *p, const snn_net *net);
/* The share of zero weights over all weighted layers. */
double pruner_measured(const snn_net *net);

#endif

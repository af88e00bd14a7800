/* Optimizers and learning-rate schedules of the trainer (train.h: sf_optimizer, sf_lr_schedule).
 *   AdamW  m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
 *          p -= lr (m / (1 - b1^t) / (sqrt(v / (1 - b2^t)) + eps) + wd p)    (PyTorch's AdamW)
 *   SGD    buf = mu buf + g + wd p; p -= lr buf                                (PyTorch's SGD)
 *   schedule  linear warm-up over W steps to lr, then cosine to 0 over the rest (or constant)
 * Parameters come in groups (one per tensor); weight decay applies where the group says so
 * (weights, not biases or thresholds). */
#ifndef SF_TRAIN_OPTIMIZER_H
#define SF_TRAIN_OPTIMIZER_H
#include <stdint.h>

#include "spikeformer/train.h"

#define OPTIM_MAX_GROUPS 64

typedef struct {
  float *p, *g;      /* the parameters and their gradients [n] (borrowed) */
  int64_t n;
  int decay;         /* weight decay applies */
  float min_value;   /* parameters kept >= this (thresholds: a small positive number); -INFINITY: none */
} optim_group;

typedef struct {
  sf_optimizer kind;
  double lr, weight_decay, momentum, beta1, beta2, eps;
  int n_groups;
  optim_group group[OPTIM_MAX_GROUPS];
  float *m[OPTIM_MAX_GROUPS], *v[OPTIM_MAX_GROUPS]; /* AdamW moments / SGD momentum buffers (v unused) */
  int64_t step;      /* steps taken */
} optim;

void optim_init(optim *o, sf_optimizer kind, double lr, double weight_decay, double momentum);
sf_status optim_add(optim *o, float *p, float *g, int64_t n, int decay, float min_value);
void optim_free(optim *o);
/* lr at step s of total (0-based): warm-up, then the schedule */
double optim_lr_at(sf_lr_schedule schedule, double lr, int64_t s, int64_t total, int64_t warmup);
/* global L2 norm of every group's gradient */
double optim_grad_norm(const optim *o);
/* scale every gradient */
void optim_scale_grads(optim *o, float f);
/* one update at learning rate lr */
void optim_step(optim *o, double lr);

#endif

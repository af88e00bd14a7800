/* Magnitude pruning with fine-tuning (prune.h). */
#include "train/prune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PRUNE_EVENTS 10

sf_status pruner_init(pruner *p, const snn_net *net, double target, int global, int64_t total_steps) {
  memset(p, 0, sizeof *p);
  p->target = target;
  p->global = global;
  p->L = net->L;
  p->end_step = total_steps * 2 / 3 > 0 ? total_steps * 2 / 3 : 1;
  p->every = p->end_step / PRUNE_EVENTS > 0 ? p->end_step / PRUNE_EVENTS : 1;
  int64_t largest = 0;
  for (int l = 0; l < net->L; l++) {
    const int64_t n = net->n[l] * net->n[l + 1];
    if (!(p->mask[l] = malloc((size_t)n))) return sf_error(SF_ERR_NOMEM, "out of memory");
    memset(p->mask[l], 1, (size_t)n);
    if (global) largest += n;
    else if (n > largest) largest = n;
  }
  if (!(p->scratch = malloc(sizeof(float) * (size_t)largest))) return sf_error(SF_ERR_NOMEM, "out of memory");
  return SF_OK;
}

void pruner_free(pruner *p) {
  for (int l = 0; l < p->L; l++) free(p->mask[l]);
  free(p->scratch);
  memset(p, 0, sizeof *p);
}

double pruner_sparsity_at(const pruner *p, int64_t steps) {
  if (steps >= p->end_step) return p->target;
  const double f = 1.0 - (double)steps / (double)p->end_step;
  return p->target * (1.0 - f * f * f);
}

static int by_value(const void *a, const void *b) {
  const float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* prune W [n] to sparsity s: the floor(s n) smallest magnitudes (and any tied with the largest of them) */
static void prune_layer(float *W, uint8_t *mask, int64_t n, double s, float *scratch) {
  const int64_t k = (int64_t)floor(s * (double)n);
  if (k < 1) return;
  for (int64_t i = 0; i < n; i++) scratch[i] = fabsf(W[i]);
  qsort(scratch, (size_t)n, sizeof(float), by_value);
  const float cut = scratch[k - 1];
  for (int64_t i = 0; i < n; i++)
    if (fabsf(W[i]) <= cut) mask[i] = 0;
}

/* prune all layers together to sparsity s: one cut over every |W| */
static void prune_global(pruner *p, snn_net *net, double s) {
  int64_t all = 0;
  for (int l = 0; l < net->L; l++) {
    const int64_t n = net->n[l] * net->n[l + 1];
    for (int64_t i = 0; i < n; i++) p->scratch[all + i] = fabsf(net->W[l][i]);
    all += n;
  }
  const int64_t k = (int64_t)floor(s * (double)all);
  if (k < 1) return;
  qsort(p->scratch, (size_t)all, sizeof(float), by_value);
  const float cut = p->scratch[k - 1];
  for (int l = 0; l < net->L; l++) {
    const int64_t n = net->n[l] * net->n[l + 1];
    for (int64_t i = 0; i < n; i++)
      if (fabsf(net->W[l][i]) <= cut) p->mask[l][i] = 0;
  }
}

void pruner_after_step(pruner *p, snn_net *net, int64_t steps) {
  const int event = steps <= p->end_step && (steps % p->every == 0 || steps == p->end_step);
  if (event && p->global) prune_global(p, net, pruner_sparsity_at(p, steps));
  for (int l = 0; l < net->L; l++) {
    const int64_t n = net->n[l] * net->n[l + 1];
    if (event && !p->global) prune_layer(net->W[l], p->mask[l], n, pruner_sparsity_at(p, steps), p->scratch);
    float *W = net->W[l];
    const uint8_t *m = p->mask[l];
    for (int64_t i = 0; i < n; i++)
      if (!m[i]) W[i] = 0.0f;
  }
}

void pruner_from_weights(pruner *p, const snn_net *net) {
  for (int l = 0; l < net->L; l++) {
    const int64_t n = net->n[l] * net->n[l + 1];
    for (int64_t i = 0; i < n; i++) p->mask[l][i] = net->W[l][i] != 0.0f;
  }
}

double pruner_measured(const snn_net *net) {
  int64_t zero = 0, all = 0;
  for (int l = 0; l < net->L; l++) {
    const int64_t n = net->n[l] * net->n[l + 1];
    for (int64_t i = 0; i < n; i++) zero += net->W[l][i] == 0.0f;
    all += n;
  }
  return all ? (double)zero / (double)all : 0.0;
}

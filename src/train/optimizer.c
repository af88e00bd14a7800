/* Optimizers and learning-rate schedules (optimizer.h). */
#include "train/optimizer.h"
#include "train/train_kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void optim_init(optim *o, sf_optimizer kind, double lr, double weight_decay, double momentum) {
  memset(o, 0, sizeof *o);
  o->kind = kind;
  o->lr = lr;
  o->weight_decay = weight_decay;
  o->momentum = momentum;
  o->beta1 = 0.9;
  o->beta2 = 0.999;
  o->eps = 1e-8;
}

sf_status optim_add(optim *o, float *p, float *g, int64_t n, int decay, float min_value) {
  if (o->n_groups >= OPTIM_MAX_GROUPS) return sf_error(SF_ERR_UNSUPPORTED, "more than %d parameter tensors", OPTIM_MAX_GROUPS);
  const int i = o->n_groups;
  o->m[i] = calloc((size_t)n, sizeof(float));
  o->v[i] = o->kind == SF_OPTIM_ADAMW ? calloc((size_t)n, sizeof(float)) : NULL;
  if (!o->m[i] || (o->kind == SF_OPTIM_ADAMW && !o->v[i])) {
    free(o->m[i]);
    free(o->v[i]);
    return sf_error(SF_ERR_NOMEM, "out of memory for the optimizer's state");
  }
  o->group[i] = (optim_group){p, g, n, decay, min_value};
  o->n_groups++;
  return SF_OK;
}

void optim_free(optim *o) {
  for (int i = 0; i < o->n_groups; i++) {
    free(o->m[i]);
    free(o->v[i]);
  }
  memset(o, 0, sizeof *o);
}

double optim_lr_at(sf_lr_schedule schedule, double lr, int64_t s, int64_t total, int64_t warmup) {
  if (s < warmup) return lr * (double)(s + 1) / (double)warmup;
  if (schedule == SF_SCHEDULE_CONSTANT) return lr;
  const double span = (double)(total - warmup > 1 ? total - warmup : 1);
  return lr * 0.5 * (1.0 + cos(3.14159265358979323846 * (double)(s - warmup) / span));
}

double optim_grad_norm(const optim *o) {
  double s = 0;
  for (int i = 0; i < o->n_groups; i++) {
    const float *g = o->group[i].g;
    for (int64_t j = 0; j < o->group[i].n; j++) s += (double)g[j] * (double)g[j];
  }
  return sqrt(s);
}

void optim_scale_grads(optim *o, float f) {
  for (int i = 0; i < o->n_groups; i++) {
    float *g = o->group[i].g;
    for (int64_t j = 0; j < o->group[i].n; j++) g[j] *= f;
  }
}

void optim_step(optim *o, double lr) {
  o->step++;
  const float flr = (float)lr, wd = (float)o->weight_decay;
  if (o->kind == SF_OPTIM_ADAMW) {
    const float b1 = (float)o->beta1, b2 = (float)o->beta2, eps = (float)o->eps;
    const float c1 = (float)(1.0 / (1.0 - pow(o->beta1, (double)o->step)));
    const float c2 = (float)(1.0 / sqrt(1.0 - pow(o->beta2, (double)o->step)));
    for (int i = 0; i < o->n_groups; i++) {
      float *p = o->group[i].p, *m = o->m[i], *v = o->v[i];
      const float *g = o->group[i].g;
      /* PyTorch: p *= 1 - lr wd first, then the Adam step */
      const float decay = o->group[i].decay ? 1.0f - flr * wd : 1.0f;
      tk_adamw(o->group[i].n, p, g, m, v, flr, b1, b2, eps, c1, c2, decay);
    }
  } else {
    const float mu = (float)o->momentum;
    for (int i = 0; i < o->n_groups; i++) {
      float *p = o->group[i].p, *buf = o->m[i];
      const float *g = o->group[i].g;
      const float d = o->group[i].decay ? wd : 0.0f;
      const int64_t n = o->group[i].n;
      if (o->step == 1)
        for (int64_t j = 0; j < n; j++) buf[j] = g[j] + d * p[j];
      else
        for (int64_t j = 0; j < n; j++) buf[j] = mu * buf[j] + g[j] + d * p[j];
      for (int64_t j = 0; j < n; j++) p[j] -= flr * buf[j];
    }
  }
  for (int i = 0; i < o->n_groups; i++) {
    const float lo = o->group[i].min_value;
    if (!isfinite(lo)) continue;
    float *p = o->group[i].p;
    for (int64_t j = 0; j < o->group[i].n; j++) p[j] = p[j] < lo ? lo : p[j];
  }
}

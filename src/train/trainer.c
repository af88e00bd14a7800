/* The trainer (train.h): direct and hybrid training of the model's spiking chain with BPTT and a
 * surrogate gradient, epoch by epoch, then the trained network handed out as an ordinary model. */
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"
#include "spikeformer/log.h"
#include "spikeformer/rng.h"
#include "train/chain.h"
#include "train/optimizer.h"
#include "train/snn_net.h"
#include "train/train_export.h"

/* thresholds stay above this (a neuron with theta -> 0 would fire without bound) */
#define THETA_MIN 1e-3f
/* validation batches */
#define EVAL_BATCH 500

void sf_train_options_default(sf_train_options *o) {
  memset(o, 0, sizeof *o);
  o->mode = SF_TRAIN_HYBRID;
  sf_convert_options_default(&o->convert);
  o->convert.relu_ec = 0;
  /* binary IF neurons at 8 steps: one spike at most per neuron and step (the converter's default, a
   * burst of 4 at 16 steps, is made for conversion without training) */
  o->convert.snn.neuron_model = SF_NEURON_IF;
  o->convert.snn.timesteps = 8;
  o->surrogate = SF_SURROGATE_FAST_SIGMOID;
  o->slope = 0.0f;
  o->detach_reset = 1;
  o->train_thresholds = -1;
  o->epochs = 10;
  o->batch = 128;
  o->lr = 1e-3;
  o->weight_decay = 0.01;
  o->momentum = 0.9;
  o->optimizer = SF_OPTIM_ADAMW;
  o->schedule = SF_SCHEDULE_COSINE;
  o->warmup_steps = 100;
  o->clip_norm = 0.0;
  o->seed = 1;
  o->limit = 0;
  o->val_images = 5000;
}

static sf_status parse_num(const char *key, const char *v, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  const double x = strtod(v, &end);
  if (errno || end == v || *end || !(x >= lo && x <= hi)) return sf_error(SF_ERR_ARG, "train option '%s': a number in [%g, %g], not '%s'", key, lo, hi, v);
  *out = x;
  return SF_OK;
}

static sf_status parse_i64(const char *key, const char *v, int64_t lo, int64_t hi, int64_t *out) {
  char *end;
  errno = 0;
  const long long x = strtoll(v, &end, 10);
  if (errno || end == v || *end || x < lo || x > hi) return sf_error(SF_ERR_ARG, "train option '%s': a whole number in [%lld, %lld], not '%s'", key, (long long)lo, (long long)hi, v);
  *out = x;
  return SF_OK;
}

static sf_status parse_flag(const char *key, const char *v, int *out) {
  if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes")) *out = 1;
  else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no")) *out = 0;
  else return sf_error(SF_ERR_ARG, "train option '%s': true or false, not '%s'", key, v);
  return SF_OK;
}

sf_status sf_train_options_set(sf_train_options *o, const char *key, const char *v) {
  if (!key || !v) return sf_error(SF_ERR_ARG, "train option: key and value needed");
  double d = 0;
  int64_t i = 0;
  sf_status st;
  if (!strcmp(key, "mode")) {
    if (!strcmp(v, "direct")) o->mode = SF_TRAIN_DIRECT;
    else if (!strcmp(v, "hybrid")) o->mode = SF_TRAIN_HYBRID;
    else return sf_error(SF_ERR_ARG, "train option 'mode': direct or hybrid, not '%s' (qcfs is not built yet)", v);
    return SF_OK;
  }
  if (!strcmp(key, "init")) {
    if (!strcmp(v, "random")) o->init_random = 1;
    else if (!strcmp(v, "model")) o->init_random = 0;
    else return sf_error(SF_ERR_ARG, "train option 'init': random or model, not '%s'", v);
    return SF_OK;
  }
  if (!strcmp(key, "surrogate")) {
    if (sf_surrogate_parse(v, &o->surrogate))
      return sf_error(SF_ERR_ARG, "train option 'surrogate': fast_sigmoid, atan, sigmoid, triangle or straight_through, not '%s'", v);
    return SF_OK;
  }
  if (!strcmp(key, "slope") || !strcmp(key, "surrogate_slope")) {
    if ((st = parse_num(key, v, 1e-6, 1e6, &d))) return st;
    o->slope = (float)d;
    return SF_OK;
  }
  if (!strcmp(key, "detach_reset")) return parse_flag(key, v, &o->detach_reset);
  if (!strcmp(key, "train_thresholds")) return parse_flag(key, v, &o->train_thresholds);
  if (!strcmp(key, "rate_penalty")) { if ((st = parse_num(key, v, 0, 1e6, &d))) return st; o->rate_penalty = d; return SF_OK; }
  if (!strcmp(key, "epochs")) { if ((st = parse_i64(key, v, 1, 100000, &i))) return st; o->epochs = (int)i; return SF_OK; }
  if (!strcmp(key, "batch")) { if ((st = parse_i64(key, v, 1, 1 << 20, &i))) return st; o->batch = (int)i; return SF_OK; }
  if (!strcmp(key, "lr")) { if ((st = parse_num(key, v, 1e-12, 100, &d))) return st; o->lr = d; return SF_OK; }
  if (!strcmp(key, "weight_decay")) { if ((st = parse_num(key, v, 0, 100, &d))) return st; o->weight_decay = d; return SF_OK; }
  if (!strcmp(key, "momentum")) { if ((st = parse_num(key, v, 0, 0.999999, &d))) return st; o->momentum = d; return SF_OK; }
  if (!strcmp(key, "optimizer")) {
    if (!strcmp(v, "adamw")) o->optimizer = SF_OPTIM_ADAMW;
    else if (!strcmp(v, "sgd")) o->optimizer = SF_OPTIM_SGD;
    else return sf_error(SF_ERR_ARG, "train option 'optimizer': adamw or sgd, not '%s'", v);
    return SF_OK;
  }
  if (!strcmp(key, "schedule")) {
    if (!strcmp(v, "cosine")) o->schedule = SF_SCHEDULE_COSINE;
    else if (!strcmp(v, "constant")) o->schedule = SF_SCHEDULE_CONSTANT;
    else return sf_error(SF_ERR_ARG, "train option 'schedule': cosine or constant, not '%s'", v);
    return SF_OK;
  }
  if (!strcmp(key, "warmup")) { if ((st = parse_i64(key, v, 0, 1 << 30, &i))) return st; o->warmup_steps = (int)i; return SF_OK; }
  if (!strcmp(key, "clip_norm")) { if ((st = parse_num(key, v, 0, 1e9, &d))) return st; o->clip_norm = d; return SF_OK; }
  if (!strcmp(key, "seed")) { if ((st = parse_i64(key, v, 0, INT64_MAX, &i))) return st; o->seed = (uint64_t)i; return SF_OK; }
  if (!strcmp(key, "limit")) { if ((st = parse_i64(key, v, 0, INT64_MAX, &i))) return st; o->limit = i; return SF_OK; }
  if (!strcmp(key, "val_images")) { if ((st = parse_i64(key, v, 0, INT64_MAX, &i))) return st; o->val_images = i; return SF_OK; }
  if (!strcmp(key, "beta")) key = "leak";
  st = sf_convert_options_set(&o->convert, key, v);
  if (st == SF_ERR_ARG && strstr(sf_last_error(), "unknown convert option"))
    return sf_error(SF_ERR_ARG, "unknown train option '%s' (mode, init, surrogate, slope, detach_reset, train_thresholds, rate_penalty, epochs, batch, lr, weight_decay, "
                    "momentum, optimizer, schedule, warmup, clip_norm, seed, limit, val_images, beta, or a convert option)", key);
  return st;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static sf_status check_options(const sf_train_options *o) {
  if (o->epochs < 1 || o->batch < 1) return sf_error(SF_ERR_ARG, "train: epochs (%d) and batch (%d) must be at least 1", o->epochs, o->batch);
  if (!(o->lr > 0) || !isfinite(o->lr)) return sf_error(SF_ERR_ARG, "train: the learning rate must be positive, not %g", o->lr);
  if (!(o->weight_decay >= 0) || !isfinite(o->weight_decay)) return sf_error(SF_ERR_ARG, "train: weight decay %g must be >= 0", o->weight_decay);
  if (!(o->momentum >= 0 && o->momentum < 1)) return sf_error(SF_ERR_ARG, "train: momentum %g is not in [0, 1)", o->momentum);
  if (!(o->rate_penalty >= 0) || !isfinite(o->rate_penalty)) return sf_error(SF_ERR_ARG, "train: rate penalty %g must be >= 0", o->rate_penalty);
  if (!(o->clip_norm >= 0) || !isfinite(o->clip_norm)) return sf_error(SF_ERR_ARG, "train: clip norm %g must be >= 0", o->clip_norm);
  if ((unsigned)o->surrogate >= SF_SURROGATE_COUNT) return sf_error(SF_ERR_ARG, "train: unknown surrogate %d", (int)o->surrogate);
  if (o->slope < 0 || !isfinite(o->slope)) return sf_error(SF_ERR_ARG, "train: surrogate slope %g must be positive", (double)o->slope);
  const sf_spiking_config *c = &o->convert.snn;
  if (c->coding == SF_CODING_DELTA) return sf_error(SF_ERR_UNSUPPORTED, "train: delta-coded neurons cannot be trained yet (use rate coding)");
  if (c->timesteps < 1 || c->timesteps > 4096) return sf_error(SF_ERR_ARG, "train: timesteps %d is not in [1, 4096]", c->timesteps);
  if (sf_convert_step_levels(&o->convert) > 127) return sf_error(SF_ERR_ARG, "train: a neuron sends at most 127 spikes per step");
  return SF_OK;
}

/* the labels must name the network's classes */
static sf_status check_data(const sf_dataset *d, int64_t n0, int64_t classes) {
  if (d->n < 1) return sf_error(SF_ERR_ARG, "train: the training set holds no samples");
  if (d->c * d->h * d->w != n0)
    return sf_error(SF_ERR_SHAPE, "train: samples of %s are [%lld, %lld, %lld] = %lld values; the model takes %lld", d->source ? d->source : "the data", (long long)d->c,
                    (long long)d->h, (long long)d->w, (long long)(d->c * d->h * d->w), (long long)n0);
  for (int64_t i = 0; i < d->n; i++)
    if (d->labels[i] < 0 || d->labels[i] >= classes)
      return sf_error(SF_ERR_VALUE, "train: label %d of sample %lld (%s) is outside the model's %lld classes", d->labels[i], (long long)i,
                      d->source ? d->source : "the data", (long long)classes);
  for (int64_t e = 0; e < d->n * n0; e++)
    if (!isfinite(d->x[e])) return sf_error(SF_ERR_VALUE, "train: sample %lld holds a non-finite value at element %lld", (long long)(e / n0), (long long)(e % n0));
  return SF_OK;
}

/* accuracy and firing rate of the net on samples [start, start + count) */
static sf_status evaluate(snn_net *net, const sf_dataset *d, int64_t start, int64_t count, int T, double *accuracy, double *rate) {
  int64_t right = 0;
  double spikes = 0;
  int64_t hidden = 0;
  for (int l = 1; l < net->L; l++) hidden += net->n[l];
  const int64_t n0 = net->n[0];
  for (int64_t s = start; s < start + count; s += EVAL_BATCH) {
    const int64_t B = start + count - s < EVAL_BATCH ? start + count - s : EVAL_BATCH;
    sf_status st = snn_net_forward(net, d->x + s * n0, B, T);
    if (st) return st;
    int64_t ok = 0;
    snn_cross_entropy(net->logits, d->labels + s, B, net->n[net->L], NULL, &ok);
    right += ok;
    spikes += net->spikes;
  }
  *accuracy = count ? (double)right / (double)count : NAN;
  *rate = count ? spikes / ((double)count * T * (double)hidden) : NAN;
  return SF_OK;
}

sf_status sf_train(const sf_graph *model, const char *name, const sf_dataset *train, const sf_train_options *o, sf_train_result **out) {
  *out = NULL;
  sf_status st = check_options(o);
  if (st) return st;
  const double t_start = now_s();
  sf_convert_options copt = o->convert;
  copt.relu_ec = 0;
  copt.per_channel = 1;
  const int T = copt.snn.timesteps;
  train_chain ch;
  if ((st = train_chain_extract(model, &copt, &ch))) return st;
  snn_net net;
  optim opt;
  memset(&opt, 0, sizeof opt);
  float *xb = NULL, *dlogits = NULL;
  int32_t *yb = NULL;
  int64_t *perm = NULL;
  sf_snn_model *calibrated = NULL;
  sf_train_result *r = NULL;
  if ((st = snn_net_init(&net, ch.L, ch.n))) goto done;
  if ((st = check_data(train, net.n[0], net.n[ch.L]))) goto done;
  net.K = sf_convert_step_levels(&copt);
  net.beta = copt.snn.neuron_model == SF_NEURON_LIF ? copt.snn.leak : 1.0f;
  net.surrogate = o->surrogate;
  net.slope = o->slope > 0 ? o->slope : sf_surrogate_default_slope(o->surrogate);
  net.detach_reset = o->detach_reset;
  net.rate_penalty = (float)o->rate_penalty;
  /* the data: training images first (limit), the last val_images held out */
  const int64_t val = o->val_images < train->n ? o->val_images : 0;
  int64_t n_train = train->n - val;
  if (o->limit > 0 && o->limit < n_train) n_train = o->limit;
  if (o->val_images > 0 && val == 0)
    sf_log(SF_LOG_WARN, "train: %lld validation images asked for, the set holds %lld: training without validation", (long long)o->val_images,
           (long long)train->n);
  /* weights */
  if (o->init_random) snn_net_init_random(&net, o->seed);
  else
    for (int l = 0; l < ch.L; l++) {
      memcpy(net.W[l], ch.W[l], sizeof(float) * (size_t)(net.n[l] * net.n[l + 1]));
      if (ch.b[l]) memcpy(net.b[l], ch.b[l], sizeof(float) * (size_t)net.n[l + 1]);
    }
  /* thresholds: calibrated on the training images (hybrid), or 1 */
  if (o->mode == SF_TRAIN_HYBRID) {
    if (o->init_random) { st = sf_error(SF_ERR_ARG, "train: hybrid mode fine-tunes the model's own weights; --init random needs --mode direct"); goto done; }
    sf_dataset calib = *train;
    calib.n = n_train;
    if ((st = sf_convert(model, &calib, &copt, &calibrated))) goto done;
    for (int l = 1; l < ch.L; l++) {
      const sf_site *s = NULL;
      for (int i = 0; i < calibrated->n_sites; i++)
        if (!strcmp(calibrated->sites[i].key, ch.site[l])) s = &calibrated->sites[i];
      if (!s || (s->channels != 1 && s->channels != net.n[l])) { st = sf_error(SF_ERR_INTERNAL, "train: no calibrated thresholds for site '%s'", ch.site[l]); goto done; }
      for (int64_t h = 0; h < net.n[l]; h++) net.theta[l][h] = s->theta[s->channels == 1 ? 0 : h];
    }
  }
  const int train_theta = o->train_thresholds >= 0 ? o->train_thresholds : o->mode == SF_TRAIN_HYBRID;
  /* the optimizer: weights and biases decay (PyTorch's AdamW default), thresholds do not */
  optim_init(&opt, o->optimizer, o->lr, o->weight_decay, o->momentum);
  for (int l = 0; l < ch.L && !st; l++) {
    st = optim_add(&opt, net.W[l], net.dW[l], net.n[l] * net.n[l + 1], 1, -INFINITY);
    if (!st) st = optim_add(&opt, net.b[l], net.db[l], net.n[l + 1], 1, -INFINITY);
  }
  for (int l = 1; train_theta && l < ch.L && !st; l++) st = optim_add(&opt, net.theta[l], net.dtheta[l], net.n[l], 0, THETA_MIN);
  if (st) goto done;
  const int64_t n0 = net.n[0], C = net.n[ch.L], Bmax = o->batch < n_train ? o->batch : n_train;
  xb = malloc(sizeof(float) * (size_t)(Bmax * n0));
  yb = malloc(sizeof(int32_t) * (size_t)Bmax);
  dlogits = malloc(sizeof(float) * (size_t)(Bmax * C));
  perm = malloc(sizeof(int64_t) * (size_t)n_train);
  r = calloc(1, sizeof *r);
  if (r) r->epochs = calloc((size_t)o->epochs, sizeof(sf_train_epoch));
  if (!xb || !yb || !dlogits || !perm || !r || !r->epochs) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
  r->model = sf_strdup(name ? name : model->source);
  r->options = *o;
  r->options.progress = NULL;
  r->options.on_epoch = NULL;
  r->mode = o->mode;
  r->train_images = n_train;
  r->val_images = val;
  r->layers = ch.L;
  r->parameters = snn_net_parameters(&net, train_theta);
  r->test_accuracy = NAN;
  const int64_t steps = (n_train + Bmax - 1) / Bmax, total = steps * o->epochs;
  const int64_t warmup = o->warmup_steps < total / 10 ? o->warmup_steps : total / 10;
  int64_t hidden = 0;
  for (int l = 1; l < ch.L; l++) hidden += net.n[l];
  sf_log(SF_LOG_INFO, "train: %s, %d layers, %lld parameters, %lld training images, %lld validation, T=%d, %s neurons, surrogate %s (slope %g), %s",
         o->mode == SF_TRAIN_HYBRID ? "hybrid" : "direct", ch.L, (long long)r->parameters, (long long)n_train, (long long)val, T,
         sf_neuron_model_name(copt.snn.neuron_model), sf_surrogate_name(net.surrogate), (double)net.slope, o->optimizer == SF_OPTIM_ADAMW ? "AdamW" : "SGD");
  for (int64_t i = 0; i < n_train; i++) perm[i] = i;
  int64_t step = 0;
  double optim_seconds = 0;
  char label[160];
  for (int e = 0; e < o->epochs; e++) {
    const double t0 = now_s();
    sf_rng rng;
    sf_rng_seed_stream(&rng, o->seed, (uint64_t)e + 1);
    for (int64_t i = n_train - 1; i > 0; i--) {
      const int64_t j = (int64_t)sf_rng_below(&rng, (uint64_t)i + 1), t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
    double loss_sum = 0, spikes = 0;
    int64_t right = 0, seen = 0;
    for (int64_t s = 0; s < steps; s++, step++) {
      const int64_t b0 = s * Bmax, B = n_train - b0 < Bmax ? n_train - b0 : Bmax;
      for (int64_t b = 0; b < B; b++) {
        memcpy(xb + b * n0, train->x + perm[b0 + b] * n0, sizeof(float) * (size_t)n0);
        yb[b] = train->labels[perm[b0 + b]];
      }
      snn_net_zero_grad(&net);
      if ((st = snn_net_forward(&net, xb, B, T))) goto done;
      int64_t ok = 0;
      const double loss = snn_cross_entropy(net.logits, yb, B, C, dlogits, &ok) + snn_net_rate_loss(&net);
      if (!isfinite(loss)) {
        st = sf_error(SF_ERR_VALUE, "train: the loss is %s at epoch %d, step %lld (of %lld): training diverged (lower the learning rate, or clip gradients)",
                      isnan(loss) ? "NaN" : "infinite",
                      e + 1, (long long)s + 1, (long long)steps);
        goto done;
      }
      if ((st = snn_net_backward(&net, dlogits, train_theta))) goto done;
      if (o->clip_norm > 0) {
        const double norm = optim_grad_norm(&opt);
        if (norm > o->clip_norm) optim_scale_grads(&opt, (float)(o->clip_norm / norm));
      }
      const double to = now_s();
      optim_step(&opt, optim_lr_at(o->schedule, o->lr, step, total, warmup));
      optim_seconds += now_s() - to;
      loss_sum += loss * (double)B;
      right += ok;
      seen += B;
      spikes += net.spikes;
      if (o->progress) {
        snprintf(label, sizeof label, "epoch %d/%d  loss %.4f  accuracy %5.2f%%", e + 1, o->epochs, loss_sum / (double)seen, 100.0 * (double)right / (double)seen);
        o->progress(label, (int64_t)e * n_train + seen, (int64_t)o->epochs * n_train, o->progress_user);
      }
    }
    sf_train_epoch *ep = &r->epochs[e];
    ep->epoch = e + 1;
    ep->seconds = now_s() - t0;
    ep->images_per_second = (double)seen / (ep->seconds > 0 ? ep->seconds : 1e-9);
    ep->train_loss = loss_sum / (double)seen;
    ep->train_accuracy = (double)right / (double)seen;
    ep->spikes_per_neuron_per_step = spikes / ((double)seen * T * (double)hidden);
    ep->val_accuracy = NAN;
    if (val) /* the firing rate of the network as it stands, on the validation images */
      if ((st = evaluate(&net, train, train->n - val, val, T, &ep->val_accuracy, &ep->spikes_per_neuron_per_step))) goto done;
    r->n_epochs = e + 1;
    if (o->on_epoch) o->on_epoch(ep, o->on_epoch_user);
    sf_log(SF_LOG_INFO, "train: epoch %d/%d: loss %.4f, train accuracy %.2f%%, validation %.2f%%, %.3f spikes per neuron per step, %.1f s (%.0f images/s)",
           e + 1, o->epochs, ep->train_loss, 100 * ep->train_accuracy, 100 * ep->val_accuracy, ep->spikes_per_neuron_per_step, ep->seconds,
           ep->images_per_second);
  }
  r->seconds = now_s() - t_start;
  for (int ph = 0; ph < SNN_PHASES; ph++) sf_log(SF_LOG_DEBUG, "train: %-26s %8.3f s", snn_phase_names[ph], net.phase[ph]);
  sf_log(SF_LOG_DEBUG, "train: %-26s %8.3f s", "optimizer", optim_seconds);
  st = train_export(&net, &ch, train, r->model, &copt, &r->result);
done:
  if (st) sf_train_result_free(r);
  else *out = r;
  sf_snn_model_free(calibrated);
  optim_free(&opt);
  snn_net_free(&net);
  train_chain_free(&ch);
  free(xb);
  free(yb);
  free(dlogits);
  free(perm);
  return st;
}

sf_status sf_train_evaluate(sf_train_result *r, const sf_dataset *test, const sf_eval_options *o, double *firing_rate) {
  if (!r || !r->result) return sf_error(SF_ERR_ARG, "train: no trained model to evaluate (it was handed over)");
  sf_eval_options eo;
  if (o) eo = *o;
  else {
    sf_eval_options_default(&eo);
    eo.ann = 0;
  }
  eo.timesteps = 0; /* the T it was trained for */
  sf_eval_result *er;
  sf_status st = sf_eval_snn(r->result, r->model, test, &eo, &er);
  if (st) return st;
  r->test_accuracy = er->snn_accuracy_by_t[er->timesteps - 1];
  if (firing_rate) *firing_rate = er->firing_rate;
  sf_eval_result_free(er);
  return SF_OK;
}

sf_snn_model *sf_train_result_take_model(sf_train_result *r) {
  sf_snn_model *m = r ? r->result : NULL;
  if (r) r->result = NULL;
  return m;
}

void sf_train_result_free(sf_train_result *r) {
  if (!r) return;
  sf_snn_model_free(r->result);
  free(r->model);
  free(r->epochs);
  free(r);
}

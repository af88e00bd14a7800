/* The trainer (train.h): direct and hybrid training of the model's spiking chain with BPTT and a
 * surrogate gradient, epoch by epoch, then the trained network handed out as an ordinary model. */
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"
#include "spikeformer/dist.h"
#include "spikeformer/log.h"
#include "spikeformer/rng.h"
#include "eval/eval_internal.h"
#include "spikeformer/session.h"
#include "train/chain.h"
#include "train/checkpoint.h"
#include "train/optimizer.h"
#include "train/prune.h"
#include "train/qat.h"
#include "train/qcfs.h"
#include "train/snn_net.h"
#include "train/train_export.h"
#include "train/train_internal.h"
#include "train/augment.h"


const char *sf_train_mode_name(sf_train_mode m) { return m == SF_TRAIN_HYBRID ? "hybrid" : m == SF_TRAIN_QCFS ? "qcfs" : "direct"; }

void sf_train_options_default(sf_train_options *o) {
  memset(o, 0, sizeof *o);
  o->mode = SF_TRAIN_HYBRID;
  sf_convert_options_default(&o->convert);
  o->convert.relu_ec = 0;
  /* binary IF neurons at 8 steps: one spike at most per neuron and step (the converter's default, a
   * burst of 4 at 16 steps, is made for conversion without training) */
  o->convert.snn.neuron_model = SF_NEURON_IF;
  o->convert.snn.timesteps = 8;
  o->surrogate = SF_SURROGATE_BY_MODEL;
  o->slope = 0.0f;
  o->detach_reset = 1;
  o->train_thresholds = -1;
  o->epochs = 0;          /* by model */
  o->rate_penalty = -1;   /* by model */
  o->augment = -1;        /* by model */
  o->batch = 128;
  o->lr = -1; /* by mode: hybrid 3e-4, direct 1e-3 */
  o->weight_decay = 0.01;
  o->momentum = 0.9;
  o->optimizer = SF_OPTIM_ADAMW;
  o->schedule = SF_SCHEDULE_COSINE;
  o->warmup_steps = 100;
  o->clip_norm = 0.0;
  o->seed = 1;
  o->limit = 0;
  o->val_images = 5000;
  o->kd_alpha = -1;
  o->kd_temperature = 4;
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
    else if (!strcmp(v, "qcfs")) o->mode = SF_TRAIN_QCFS;
    else return sf_error(SF_ERR_ARG, "train option 'mode': hybrid, direct or qcfs, not '%s'", v);
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
  if (!strcmp(key, "kd_alpha")) { if ((st = parse_num(key, v, 0, 1000, &d))) return st; o->kd_alpha = d; return SF_OK; }
  if (!strcmp(key, "qat")) {
    if (!strcmp(v, "int8") || !strcmp(v, "8")) o->qat = 8;
    else if (!strcmp(v, "none") || !strcmp(v, "float") || !strcmp(v, "0")) o->qat = 0;
    else return sf_error(SF_ERR_ARG, "train option 'qat': int8 or none, not '%s'", v);
    return SF_OK;
  }
  if (!strcmp(key, "augment")) {
    const int a = augment_parse(v);
    if (a < 0) return sf_error(SF_ERR_ARG, "train option 'augment': none, shift, flip or shift,flip, not '%s'", v);
    o->augment = a;
    return SF_OK;
  }
  if (!strcmp(key, "recompute")) { if ((st = parse_i64(key, v, 0, 4096, &i))) return st; o->recompute = (int)i; return SF_OK; }
  if (!strcmp(key, "prune_per_layer")) return parse_flag(key, v, &o->prune_per_layer);
  if (!strcmp(key, "prune")) { if ((st = parse_num(key, v, 0, 0.99, &d))) return st; o->prune = d; return SF_OK; }
  if (!strcmp(key, "kd_temperature")) { if ((st = parse_num(key, v, 1e-3, 1000, &d))) return st; o->kd_temperature = d; return SF_OK; }
  if (!strcmp(key, "checkpoint")) { o->checkpoint = *v ? v : NULL; return SF_OK; }
  if (!strcmp(key, "resume")) { o->resume = *v ? v : NULL; return SF_OK; }
  if (!strcmp(key, "val_images")) { if ((st = parse_i64(key, v, 0, INT64_MAX, &i))) return st; o->val_images = i; return SF_OK; }
  if (!strcmp(key, "beta")) key = "leak";
  st = sf_convert_options_set(&o->convert, key, v);
  if (st == SF_ERR_ARG && strstr(sf_last_error(), "unknown convert option"))
    return sf_error(SF_ERR_ARG, "unknown train option '%s' (mode, init, surrogate, slope, detach_reset, train_thresholds, rate_penalty, epochs, batch, lr, weight_decay, "
                    "momentum, optimizer, schedule, warmup, clip_norm, seed, limit, val_images, kd_alpha, kd_temperature, prune, prune_per_layer, recompute, qat, augment, checkpoint, resume, beta, or a convert option)", key);
  return st;
}

double train_now_s(void) {
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
  if (!(o->kd_alpha >= 0) || !isfinite(o->kd_alpha)) return sf_error(SF_ERR_ARG, "train: distillation weight %g must be >= 0", o->kd_alpha);
  if (o->recompute < 0) return sf_error(SF_ERR_ARG, "train: recompute %d must be >= 0", o->recompute);
  if (o->qat != 0 && o->qat != 8) return sf_error(SF_ERR_ARG, "train: qat %d: 8 (int8) or 0", o->qat);
  if (!(o->prune >= 0 && o->prune <= 0.99)) return sf_error(SF_ERR_ARG, "train: pruning sparsity %g is not in [0, 0.99]", o->prune);
  if (!(o->kd_temperature > 0) || !isfinite(o->kd_temperature)) return sf_error(SF_ERR_ARG, "train: distillation temperature %g must be > 0", o->kd_temperature);
  const sf_spiking_config *c = &o->convert.snn;
  if (c->coding == SF_CODING_DELTA) return sf_error(SF_ERR_UNSUPPORTED, "train: delta-coded neurons cannot be trained yet (use rate coding)");
  if (c->timesteps < 1 || c->timesteps > 4096) return sf_error(SF_ERR_ARG, "train: timesteps %d is not in [1, 4096]", c->timesteps);
  if (sf_convert_step_levels(&o->convert) > 127) return sf_error(SF_ERR_ARG, "train: a neuron sends at most 127 spikes per step");
  return SF_OK;
}

/* the labels must name the network's classes */
sf_status train_check_data(const sf_dataset *d, int64_t n0, int64_t classes) {
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

/* accuracy and firing rate of the net on samples [start, start + count), each rank taking its share */
static sf_status evaluate(snn_net *net, qat *qa, const sf_dataset *d, int64_t start, int64_t count, int T, double *accuracy, double *rate) {
  double sums[2] = {0, 0}; /* right, spikes */
  int64_t hidden = 0;
  for (int l = 1; l < net->L; l++) hidden += net->n[l];
  const int64_t n0 = net->n[0];
  int64_t lo, hi;
  sf_dist_share(count, &lo, &hi);
  float *xq = qa ? malloc(sizeof(float) * (size_t)(EVAL_BATCH * n0)) : NULL;
  if (qa && !xq) return sf_error(SF_ERR_NOMEM, "out of memory");
  if (qa) qat_apply(qa, net);
  for (int64_t s = start + lo; s < start + hi; s += EVAL_BATCH) {
    const int64_t B = start + hi - s < EVAL_BATCH ? start + hi - s : EVAL_BATCH;
    const float *x = d->x + s * n0;
    if (qa) { /* the int8 runtime's 8-bit input codes */
      memcpy(xq, x, sizeof(float) * (size_t)(B * n0));
      qat_inputs(xq, B, n0);
      x = xq;
    }
    sf_status st = snn_net_forward(net, x, B, T);
    if (st) {
      if (qa) qat_restore(qa, net);
      free(xq);
      return st;
    }
    int64_t ok = 0;
    snn_cross_entropy(net->logits, d->labels + s, B, net->n[net->L], NULL, &ok);
    sums[0] += (double)ok;
    sums[1] += net->spikes;
  }
  if (qa) qat_restore(qa, net);
  free(xq);
  sf_status st = sf_dist_sum_f64(sums, 2);
  if (st) return st;
  *accuracy = count ? sums[0] / (double)count : NAN;
  *rate = count ? sums[1] / ((double)count * T * (double)hidden) : NAN;
  return SF_OK;
}

/* rank 0's parameters on every rank (they start the same and take the same steps; this keeps them
 * so whatever the reduction's rounding) */
static sf_status same_parameters(snn_net *net) {
  sf_status st = SF_OK;
  for (int l = 0; l < net->L && !st; l++) {
    st = sf_dist_broadcast_f32(net->W[l], net->n[l] * net->n[l + 1]);
    if (!st) st = sf_dist_broadcast_f32(net->b[l], net->n[l + 1]);
    if (!st && l > 0) st = sf_dist_broadcast_f32(net->theta[l], net->n[l]);
  }
  return st;
}

/* the mean gradient of the global batch: each rank's (of its B_local images) weighted by
 * B_local / B_global, summed over the ranks */
static sf_status average_gradients(optim *opt, double weight) {
  for (int i = 0; i < opt->n_groups; i++) {
    float *g = opt->group[i].g;
    const int64_t n = opt->group[i].n;
    if (weight != 1.0)
      for (int64_t k = 0; k < n; k++) g[k] *= (float)weight;
    sf_status st = sf_dist_sum_f32(g, n);
    if (st) return st;
  }
  return SF_OK;
}

/* rank 0 writes the checkpoint; every rank learns whether it could */
static sf_status write_checkpoint(const char *path, const char *fingerprint, const snn_net *net, const optim *opt, const train_progress *p,
                                  const sf_train_epoch *done, int n_done) {
  sf_status st = sf_dist_rank() == 0 ? checkpoint_write(path, fingerprint, net, opt, p, done, n_done) : SF_OK;
  double failed = st != SF_OK;
  sf_status s2 = sf_dist_sum_f64(&failed, 1);
  if (st) return st;
  if (s2) return s2;
  if (failed > 0) return sf_error(SF_ERR_IO, "train: rank 0 could not write the checkpoint %s", path);
  return SF_OK;
}

sf_status train_teacher_logits(const sf_graph *teacher, const sf_dataset *d, int64_t n, int64_t C, float **out) {
  *out = NULL;
  if (sf_graph_num_inputs(teacher) != 1) return sf_error(SF_ERR_SHAPE, "train: the teacher %s takes %d inputs; one image input is expected", sf_graph_source(teacher), sf_graph_num_inputs(teacher));
  sf_session *s;
  sf_status st = sf_session_create(teacher, NULL, &s);
  if (st) return st;
  float *t = malloc(sizeof(float) * (size_t)(n * C));
  const int no = sf_graph_num_outputs(teacher);
  sf_tensor *outs = calloc((size_t)(no > 0 ? no : 1), sizeof *outs);
  if (!t || !outs) st = sf_error(SF_ERR_NOMEM, "out of memory");
  for (int64_t start = 0; start < n && !st; start += EVAL_BATCH) {
    const int64_t cnt = n - start < EVAL_BATCH ? n - start : EVAL_BATCH;
    sf_tensor x = sf_eval_batch(d, teacher, start, cnt);
    if ((st = sf_session_run(s, &x, outs))) {
      sf_error_context(st, "train: the teacher %s", sf_graph_source(teacher));
      break;
    }
    const sf_tensor *lg = &outs[0];
    char sh[96];
    if (lg->dtype != SF_F32 || lg->ndim < 1 || lg->shape[lg->ndim - 1] != C || sf_tensor_numel(lg) != cnt * C)
      st = sf_error(SF_ERR_SHAPE, "train: the teacher %s gives %s, not [batch, %lld] logits for the student's %lld classes", sf_graph_source(teacher),
                    sf_shape_str(lg->ndim, lg->shape, sh, sizeof sh), (long long)C, (long long)C);
    else memcpy(t + start * C, lg->data, sizeof(float) * (size_t)(cnt * C));
    for (int k = 0; k < no; k++) sf_tensor_free(&outs[k]);
  }
  free(outs);
  sf_session_free(s);
  if (st) free(t);
  else *out = t;
  return st;
}

/* hex SHA-256 of n bytes */
static void sha_hex(const void *d, size_t n, char out[65]) {
  unsigned char h[32];
  crypto_hash_sha256(h, d, n);
  for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", h[i]);
}

/* what identifies a run: the network (its sizes and starting weights), the data and every setting
 * that changes the trajectory (checkpoint.h) */
static char *run_fingerprint(const snn_net *net, const sf_train_options *o, const sf_convert_options *copt, const sf_dataset *d, int64_t n_train,
                             int64_t val, int train_theta, const float *teacher, double kd_alpha) {
  cJSON *f = cJSON_CreateObject(), *layers = cJSON_AddArrayToObject(f, "layers");
  for (int l = 0; l <= net->L; l++) cJSON_AddItemToArray(layers, cJSON_CreateNumber((double)net->n[l]));
  crypto_hash_sha256_state hs;
  crypto_hash_sha256_init(&hs);
  for (int l = 0; l < net->L; l++) {
    crypto_hash_sha256_update(&hs, (const unsigned char *)net->W[l], sizeof(float) * (size_t)(net->n[l] * net->n[l + 1]));
    crypto_hash_sha256_update(&hs, (const unsigned char *)net->b[l], sizeof(float) * (size_t)net->n[l + 1]);
  }
  unsigned char h[32];
  crypto_hash_sha256_final(&hs, h);
  char hex[65];
  for (int i = 0; i < 32; i++) sprintf(hex + 2 * i, "%02x", h[i]);
  cJSON_AddStringToObject(f, "initial_weights_sha256", hex);
  sha_hex(d->labels, sizeof(int32_t) * (size_t)d->n, hex);
  cJSON_AddStringToObject(f, "labels_sha256", hex);
  cJSON_AddNumberToObject(f, "train_images", (double)n_train);
  cJSON_AddNumberToObject(f, "val_images", (double)val);
  cJSON_AddStringToObject(f, "mode", sf_train_mode_name(o->mode));
  cJSON_AddNumberToObject(f, "timesteps", copt->snn.timesteps);
  cJSON_AddNumberToObject(f, "spikes_per_step", net->K);
  cJSON_AddNumberToObject(f, "beta", net->beta);
  cJSON_AddStringToObject(f, "surrogate", sf_surrogate_name(net->surrogate));
  cJSON_AddNumberToObject(f, "slope", net->slope);
  cJSON_AddBoolToObject(f, "detach_reset", net->detach_reset);
  cJSON_AddBoolToObject(f, "train_thresholds", train_theta);
  cJSON_AddNumberToObject(f, "rate_penalty", o->rate_penalty);
  cJSON_AddNumberToObject(f, "epochs", o->epochs);
  cJSON_AddNumberToObject(f, "batch", o->batch);
  cJSON_AddNumberToObject(f, "lr", o->lr);
  cJSON_AddNumberToObject(f, "weight_decay", o->weight_decay);
  cJSON_AddNumberToObject(f, "momentum", o->momentum);
  cJSON_AddStringToObject(f, "optimizer", o->optimizer == SF_OPTIM_ADAMW ? "adamw" : "sgd");
  cJSON_AddStringToObject(f, "schedule", o->schedule == SF_SCHEDULE_COSINE ? "cosine" : "constant");
  cJSON_AddNumberToObject(f, "warmup", o->warmup_steps);
  cJSON_AddNumberToObject(f, "clip_norm", o->clip_norm);
  cJSON_AddNumberToObject(f, "seed", (double)o->seed);
  cJSON_AddNumberToObject(f, "kd_alpha", kd_alpha);
  if (o->prune > 0) cJSON_AddNumberToObject(f, "prune", o->prune);
  if (o->prune > 0 && o->prune_per_layer) cJSON_AddBoolToObject(f, "prune_per_layer", 1);
  if (o->qat) cJSON_AddNumberToObject(f, "qat", o->qat);
  if (o->recompute) cJSON_AddNumberToObject(f, "recompute", o->recompute); /* (segments sum in another order) */
  if (teacher) {
    cJSON_AddNumberToObject(f, "kd_temperature", o->kd_temperature);
    sha_hex(teacher, sizeof(float) * (size_t)(n_train * net->n[net->L]), hex);
    cJSON_AddStringToObject(f, "teacher_logits_sha256", hex);
  }
  char *s = cJSON_PrintUnformatted(f);
  cJSON_Delete(f);
  return s;
}

static sf_status train_impl(const sf_graph *model, const sf_snn_model *start, const char *name, const sf_dataset *train, const sf_train_options *o_in,
                            sf_train_result **out);

sf_status sf_train(const sf_graph *model, const char *name, const sf_dataset *train, const sf_train_options *o, sf_train_result **out) {
  return train_impl(model, NULL, name, train, o, out);
}

sf_status sf_train_snn(const sf_snn_model *m, const char *name, const sf_dataset *train, const sf_train_options *o, sf_train_result **out) {
  *out = NULL;
  if (!m) return sf_error(SF_ERR_ARG, "train: no converted model");
  if (o->mode != SF_TRAIN_HYBRID)
    return sf_error(SF_ERR_ARG, "train: a converted model (.sfm) starts hybrid training; for %s mode give its ANN (%s)", sf_train_mode_name(o->mode),
                    sf_graph_source(m->src));
  /* the model's neurons, coding and thresholds; the steps the caller asks for */
  sf_train_options from = *o;
  from.convert = m->opt;
  from.convert.snn.timesteps = o->convert.snn.timesteps;
  return train_impl(m->src, m, name ? name : sf_graph_source(m->src), train, &from, out);
}

static sf_status train_impl(const sf_graph *model, const sf_snn_model *start, const char *name, const sf_dataset *train, const sf_train_options *o_in,
                            sf_train_result **out) {
  *out = NULL;
  /* the mode's defaults where the caller left them to it (chosen on validation images: see the user
   * guide's training section) */
  sf_train_options resolved = *o_in;
  const sf_train_options *o = &resolved;
  const int vit = train_is_vit(model);
  if (resolved.lr == -1) resolved.lr = resolved.mode == SF_TRAIN_DIRECT ? 1e-3 : 3e-4;
  if (resolved.epochs == 0) resolved.epochs = vit ? SF_TRAIN_VIT_EPOCHS : 10;
  if (resolved.surrogate == SF_SURROGATE_BY_MODEL) resolved.surrogate = vit ? SF_SURROGATE_TRIANGLE : SF_SURROGATE_FAST_SIGMOID;
  if (resolved.augment == -1) resolved.augment = vit ? SF_TRAIN_VIT_AUGMENT : 0;
  if (resolved.augment && !vit)
    return sf_error(SF_ERR_UNSUPPORTED, "train: augmentation (%s) is available for a ViT; the MLP trainer does not augment yet", augment_name(resolved.augment));
  if (resolved.rate_penalty == -1) resolved.rate_penalty = vit && resolved.mode == SF_TRAIN_HYBRID ? SF_TRAIN_VIT_RATE_PENALTY : 0.0;
  if (resolved.kd_alpha == -1) resolved.kd_alpha = resolved.teacher || resolved.mode == SF_TRAIN_HYBRID ? 1.0 : 0.0;
  sf_status st = check_options(o);
  if (st) return st;
  if (vit) return train_vit(model, start, name, train, o, out);
  const double t_start = train_now_s();
  sf_convert_options copt = o->convert;
  if (copt.snn.reset != SF_RESET_SUBTRACT || copt.snn.v_init != 0.5f)
    return sf_error(SF_ERR_UNSUPPORTED, "train: the trainer's neurons reset by subtraction from theta / 2; reset=%s, v_init=%g cannot be trained yet",
                    sf_reset_name(copt.snn.reset), (double)copt.snn.v_init);
  copt.relu_ec = 0;
  copt.per_channel = 1;
  const int T = copt.snn.timesteps;
  train_chain ch;
  if ((st = train_chain_extract(model, &copt, &ch))) return st;
  snn_net net;
  optim opt;
  memset(&opt, 0, sizeof opt);
  float *xb = NULL, *dlogits = NULL, *teacher = NULL, *tb = NULL;
  int32_t *yb = NULL;
  int64_t *perm = NULL;
  sf_snn_model *calibrated = NULL;
  sf_train_result *r = NULL;
  pruner pr;
  memset(&pr, 0, sizeof pr);
  qat qa;
  memset(&qa, 0, sizeof qa);
  qcfs_ann qa_ann;
  memset(&qa_ann, 0, sizeof qa_ann);
  if ((st = snn_net_init(&net, ch.L, ch.n))) goto done;
  if ((st = train_check_data(train, net.n[0], net.n[ch.L]))) goto done;
  net.K = sf_convert_step_levels(&copt);
  net.beta = copt.snn.neuron_model == SF_NEURON_LIF ? copt.snn.leak : 1.0f;
  net.surrogate = o->surrogate;
  net.slope = o->slope > 0 ? o->slope : sf_surrogate_default_slope(o->surrogate);
  net.detach_reset = o->detach_reset;
  net.rate_penalty = (float)o->rate_penalty;
  net.recompute = o->recompute;
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
  if (o->mode != SF_TRAIN_DIRECT && o->init_random) {
    st = sf_error(SF_ERR_ARG, "train: %s mode fine-tunes the model's own weights; --init random needs --mode direct", sf_train_mode_name(o->mode));
    goto done;
  }
  if (o->qat && o->mode == SF_TRAIN_QCFS) {
    st = sf_error(SF_ERR_ARG, "train: qcfs mode trains the ANN; quantisation-aware training (--qat) applies to hybrid and direct");
    goto done;
  }
  if (o->mode != SF_TRAIN_DIRECT && !o->resume) { /* (a resumed run reads its thresholds from the checkpoint) */
    sf_dataset calib = *train;
    calib.n = n_train;
    /* the thresholds: the converted model's it starts from, or a calibration of the ANN */
    if (!start && (st = sf_convert(model, &calib, &copt, &calibrated))) goto done;
    const sf_snn_model *from = start ? start : calibrated;
    for (int l = 1; l < ch.L; l++) {
      const sf_site *s = NULL;
      for (int i = 0; i < from->n_sites; i++)
        if (!strcmp(from->sites[i].key, ch.site[l])) s = &from->sites[i];
      if (!s || (s->channels != 1 && s->channels != net.n[l])) { st = sf_error(SF_ERR_INTERNAL, "train: no calibrated thresholds for site '%s'", ch.site[l]); goto done; }
      for (int64_t h = 0; h < net.n[l]; h++) net.theta[l][h] = s->theta[s->channels == 1 ? 0 : h];
    }
  }
  if ((st = same_parameters(&net))) goto done;
  const int train_theta = o->train_thresholds >= 0 ? o->train_thresholds : o->mode != SF_TRAIN_DIRECT;
  const int rank = sf_dist_rank(), world = sf_dist_size();
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
  r = train_result_new(o, name ? name : model->source);
  if (!xb || !yb || !dlogits || !perm || !r) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
  r->mode = o->mode;
  r->train_images = n_train;
  r->val_images = val;
  r->layers = ch.L;
  r->parameters = snn_net_parameters(&net, train_theta);
  r->test_accuracy = r->test_accuracy_int8 = NAN;
  r->world_size = world;
  const int64_t steps = (n_train + Bmax - 1) / Bmax, total = steps * o->epochs;
  const int64_t warmup = o->warmup_steps < total / 10 ? o->warmup_steps : total / 10;
  int64_t hidden = 0;
  for (int l = 1; l < ch.L; l++) hidden += net.n[l];
  if (o->prune > 0 && (st = pruner_init(&pr, &net, o->prune, !o->prune_per_layer, total))) goto done;
  if (o->qat && (st = qat_init(&qa, &net))) goto done;
  if (rank == 0)
    sf_log(SF_LOG_INFO, "train: %s, %d layers, %lld parameters, %lld training images, %lld validation, T=%d, %s neurons, surrogate %s (slope %g), %s",
         sf_train_mode_name(o->mode), ch.L, (long long)r->parameters, (long long)n_train, (long long)val, T,
         sf_neuron_model_name(copt.snn.neuron_model), sf_surrogate_name(net.surrogate), (double)net.slope, o->optimizer == SF_OPTIM_ADAMW ? "AdamW" : "SGD");
  /* the run's fingerprint: a checkpoint continues only the run it came from */
  /* distillation: the teacher's logits for every training image, once */
  const double kd_alpha = o->kd_alpha;
  if (kd_alpha > 0) {
    if ((st = train_teacher_logits(o->teacher ? o->teacher : model, train, n_train, C, &teacher))) goto done;
    if (!(tb = malloc(sizeof(float) * (size_t)(Bmax * C)))) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
    if (rank == 0)
      sf_log(SF_LOG_INFO, "train: distilling from %s (alpha %g, temperature %g)", sf_graph_source(o->teacher ? o->teacher : model), kd_alpha, o->kd_temperature);
  }
  r->kd_alpha = kd_alpha;
  if (kd_alpha > 0 && !(r->teacher = sf_strdup(o->teacher ? sf_graph_source(o->teacher) : "the model's ANN"))) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
  char *fingerprint = run_fingerprint(&net, o, &copt, train, n_train, val, train_theta, teacher, kd_alpha);
  if (!fingerprint) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
  train_progress pg;
  memset(&pg, 0, sizeof pg);
  if (o->resume) {
    int n_done = 0;
    st = checkpoint_read(o->resume, fingerprint, &net, &opt, &pg, r->epochs, o->epochs, &n_done);
    if (st) { free(fingerprint); goto done; }
    r->n_epochs = n_done;
    if (o->prune > 0) pruner_from_weights(&pr, &net);
    if (rank == 0) sf_log(SF_LOG_INFO, "train: resuming %s at epoch %d, step %lld", o->resume, pg.epoch + 1, (long long)pg.step_in_epoch);
  }
  double optim_seconds = 0;
  char label[160];
  for (int e = pg.epoch; e < o->epochs; e++) {
    const double t0 = train_now_s();
    /* the epoch's order depends on the seed and the epoch alone (a resumed run sees the same) */
    sf_rng rng;
    sf_rng_seed_stream(&rng, o->seed, (uint64_t)e + 1);
    for (int64_t i = 0; i < n_train; i++) perm[i] = i;
    for (int64_t i = n_train - 1; i > 0; i--) {
      const int64_t j = (int64_t)sf_rng_below(&rng, (uint64_t)i + 1), t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
    if (e > pg.epoch || pg.step_in_epoch == 0) {
      pg.loss_sum = pg.spikes = pg.seconds = 0;
      pg.right = pg.seen = 0;
      pg.step_in_epoch = 0;
    }
    pg.epoch = e;
    const double before = pg.seconds;
    for (int64_t s = pg.step_in_epoch; s < steps; s++) {
      /* the global batch [b0, b0 + Bg) of the epoch's order; this rank's share of it [lo, hi) */
      const int64_t b0 = s * Bmax, Bg = n_train - b0 < Bmax ? n_train - b0 : Bmax;
      int64_t lo, hi;
      sf_dist_share(Bg, &lo, &hi);
      const int64_t B = hi - lo;
      for (int64_t b = 0; b < B; b++) {
        memcpy(xb + b * n0, train->x + perm[b0 + lo + b] * n0, sizeof(float) * (size_t)n0);
        yb[b] = train->labels[perm[b0 + lo + b]];
        if (teacher) memcpy(tb + b * C, teacher + perm[b0 + lo + b] * C, sizeof(float) * (size_t)C);
      }
      snn_net_zero_grad(&net);
      /* loss (the mean over the global batch), right answers, spikes, and whether a rank was asked to stop */
      double sums[4] = {0, 0, 0, o->stop && *o->stop}, local_loss = 0;
      if (o->qat) { /* forward and backward on what the int8 runtime runs; the optimizer on the masters */
        qat_inputs(xb, B, n0);
        qat_apply(&qa, &net);
      }
      if (B > 0) {
        /* qcfs: the ANN with QCFS activations; else the spiking network over T steps */
        if (o->mode == SF_TRAIN_QCFS) st = qcfs_forward(&qa_ann, &net, xb, B, T);
        else st = snn_net_forward(&net, xb, B, T);
        if (st) { free(fingerprint); goto done; }
        const float *logits = o->mode == SF_TRAIN_QCFS ? qa_ann.z[net.L] : net.logits; /* (after the forward: it may grow the buffers) */
        int64_t ok = 0;
        local_loss = snn_cross_entropy(logits, yb, B, C, dlogits, &ok) + (o->mode == SF_TRAIN_QCFS ? 0.0 : snn_net_rate_loss(&net));
        if (teacher) local_loss += snn_distill_loss(logits, tb, B, C, o->kd_temperature, kd_alpha, dlogits);
        sums[0] = local_loss * (double)B;
        sums[1] = (double)ok;
        sums[2] = o->mode == SF_TRAIN_QCFS ? 0.0 : net.spikes;
      }
      if ((st = sf_dist_sum_f64(sums, 4))) { free(fingerprint); goto done; }
      const double loss = world > 1 ? sums[0] / (double)Bg : local_loss;
      const int stop = sums[3] > 0;
      if (!isfinite(loss)) {
        st = sf_error(SF_ERR_VALUE, "train: the loss is %s at epoch %d, step %lld (of %lld): training diverged (lower the learning rate, or clip gradients)%s%s",
                      isnan(loss) ? "NaN" : "infinite", e + 1, (long long)s + 1, (long long)steps,
                      o->checkpoint && r->n_epochs ? "; the last good state is the checkpoint " : "", o->checkpoint && r->n_epochs ? o->checkpoint : "");
        free(fingerprint);
        goto done;
      }
      if (B > 0 && o->mode == SF_TRAIN_QCFS) qcfs_backward(&qa_ann, &net, xb, dlogits, train_theta);
      else if (B > 0 && (st = snn_net_backward(&net, dlogits, train_theta))) { free(fingerprint); goto done; }
      qat_restore(&qa, &net);
      if (world > 1 && (st = average_gradients(&opt, (double)B / (double)Bg))) { free(fingerprint); goto done; }
      if (o->clip_norm > 0) {
        const double norm = optim_grad_norm(&opt);
        if (norm > o->clip_norm) optim_scale_grads(&opt, (float)(o->clip_norm / norm));
      }
      const double to = train_now_s();
      optim_step(&opt, optim_lr_at(o->schedule, o->lr, pg.global_step, total, warmup));
      optim_seconds += train_now_s() - to;
      if (snn_net_state_bytes(&net) > r->state_bytes) r->state_bytes = snn_net_state_bytes(&net);
      pg.global_step++;
      if (o->prune > 0) pruner_after_step(&pr, &net, pg.global_step);
      pg.step_in_epoch = s + 1;
      pg.loss_sum += loss * (double)Bg;
      pg.right += (int64_t)sums[1];
      pg.seen += Bg;
      pg.spikes += sums[2];
      if (o->progress && rank == 0) {
        snprintf(label, sizeof label, "epoch %d/%d  loss %.4f  accuracy %5.2f%%", e + 1, o->epochs, pg.loss_sum / (double)pg.seen,
                 100.0 * (double)pg.right / (double)pg.seen);
        o->progress(label, (int64_t)e * n_train + pg.seen, (int64_t)o->epochs * n_train, o->progress_user);
      }
      if (stop && s + 1 < steps) {
        /* stopped mid-epoch: keep the state, say where */
        pg.seconds = before + train_now_s() - t0;
        if (o->checkpoint && (st = write_checkpoint(o->checkpoint, fingerprint, &net, &opt, &pg, r->epochs, r->n_epochs))) { free(fingerprint); goto done; }
        st = sf_error(SF_ERR_INTERRUPTED, "train: stopped at epoch %d, step %lld of %lld%s%s", e + 1, (long long)s + 1, (long long)steps,
                      o->checkpoint ? "; the state is in " : " (no checkpoint was asked for)", o->checkpoint ? o->checkpoint : "");
        free(fingerprint);
        goto done;
      }
    }
    if (world > 1 && (st = same_parameters(&net))) { free(fingerprint); goto done; }
    sf_train_epoch *ep = &r->epochs[e];
    ep->epoch = e + 1;
    ep->seconds = before + train_now_s() - t0;
    ep->images_per_second = (double)pg.seen / (ep->seconds > 0 ? ep->seconds : 1e-9);
    ep->train_loss = pg.loss_sum / (double)pg.seen;
    ep->train_accuracy = (double)pg.right / (double)pg.seen;
    ep->spikes_per_neuron_per_step = pg.spikes / ((double)pg.seen * T * (double)hidden);
    ep->val_accuracy = NAN;
    if (val) /* the firing rate of the network as it stands, on the validation images */
      if ((st = evaluate(&net, o->qat ? &qa : NULL, train, train->n - val, val, T, &ep->val_accuracy, &ep->spikes_per_neuron_per_step))) { free(fingerprint); goto done; }
    r->n_epochs = e + 1;
    if (o->on_epoch && rank == 0) o->on_epoch(ep, o->on_epoch_user);
    if (rank == 0)
      sf_log(SF_LOG_INFO, "train: epoch %d/%d: loss %.4f, train accuracy %.2f%%, validation %.2f%%, %.3f spikes per neuron per step, %.1f s (%.0f images/s)",
           e + 1, o->epochs, ep->train_loss, 100 * ep->train_accuracy, 100 * ep->val_accuracy, ep->spikes_per_neuron_per_step, ep->seconds,
           ep->images_per_second);
    /* the next epoch starts here */
    train_progress next = {.epoch = e + 1, .global_step = pg.global_step};
    if (o->checkpoint && (st = write_checkpoint(o->checkpoint, fingerprint, &net, &opt, &next, r->epochs, r->n_epochs))) { free(fingerprint); goto done; }
    double stop_any = o->stop && *o->stop;
    if ((st = sf_dist_sum_f64(&stop_any, 1))) { free(fingerprint); goto done; }
    if (stop_any > 0 && e + 1 < o->epochs) {
      st = sf_error(SF_ERR_INTERRUPTED, "train: stopped after epoch %d of %d%s%s", e + 1, o->epochs, o->checkpoint ? "; the state is in " : " (no checkpoint was asked for)",
                    o->checkpoint ? o->checkpoint : "");
      free(fingerprint);
      goto done;
    }
  }
  free(fingerprint);
  r->seconds = train_now_s() - t_start;
  for (int ph = 0; ph < SNN_PHASES; ph++) sf_log(SF_LOG_DEBUG, "train: %-26s %8.3f s", snn_phase_names[ph], net.phase[ph]);
  sf_log(SF_LOG_DEBUG, "train: %-26s %8.3f s", "optimizer", optim_seconds);
  r->sparsity = pruner_measured(&net);
  if (o->prune > 0 && rank == 0) sf_log(SF_LOG_INFO, "train: %.2f%% of the weights are zero (pruned to %g)", 100 * r->sparsity, o->prune);
  st = train_export(&net, &ch, train, r->model, &copt, &r->result);
done:
  if (st) sf_train_result_free(r);
  else *out = r;
  sf_snn_model_free(calibrated);
  optim_free(&opt);
  qat_restore(&qa, &net); /* (the net frees its own arrays) */
  qat_free(&qa);
  qcfs_free(&qa_ann);
  snn_net_free(&net);
  train_chain_free(&ch);
  free(xb);
  free(yb);
  free(dlogits);
  free(perm);
  free(teacher);
  free(tb);
  pruner_free(&pr);
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
  const double acc = er->snn_accuracy_by_t[er->timesteps - 1];
  if (er->target_options && strstr(er->target_options, "quant=int8")) r->test_accuracy_int8 = acc;
  else r->test_accuracy = acc;
  if (firing_rate) *firing_rate = er->firing_rate;
  sf_eval_result_free(er);
  return SF_OK;
}

sf_train_result *train_result_new(const sf_train_options *o, const char *name) {
  sf_train_result *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->epochs = calloc((size_t)o->epochs, sizeof(sf_train_epoch));
  r->model = sf_strdup(name);
  if (!r->epochs || !r->model) {
    sf_train_result_free(r);
    return NULL;
  }
  /* what it ran with, without the callbacks and borrowed pointers */
  r->options = *o;
  r->options.progress = NULL;
  r->options.on_epoch = NULL;
  r->options.checkpoint = r->options.resume = NULL;
  r->options.stop = NULL;
  r->options.teacher = NULL;
  return r;
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
  free(r->teacher);
  free(r->epochs);
  free(r);
}

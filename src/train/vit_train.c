/* Hybrid training of the ViT (train_internal.h): the converted ViT's weights and thresholds
 * fine-tuned with BPTT through its spiking form (vit_snn.h), optionally distilled from the ANN, and
 * handed out as an ordinary converted model (a Hugging Face source with the trained weights and
 * the trained thresholds as its sites). */
#include <cJSON.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/convert_internal.h"
#include "core/util.h"
#include "spikeformer/dist.h"
#include "spikeformer/log.h"
#include "spikeformer/rng.h"
#include "train/augment.h"
#include "train/checkpoint.h"
#include "train/optimizer.h"
#include "train/snn_net.h"
#include "train/train_internal.h"
#include "train/vit_snn.h"

int train_is_vit(const sf_graph *model) {
  return model && model->architecture && !strcmp(model->architecture, "ViTForImageClassification") && model->format &&
         !strcmp(model->format, "safetensors");
}

/* what this trainer does not do for a ViT yet: refused by name rather than ignored */
static sf_status vit_refusals(const sf_train_options *o) {
  const char *what = o->mode == SF_TRAIN_DIRECT ? "--mode direct"
                     : o->qat ? "--qat" : o->prune > 0 ? "--prune" : o->recompute ? "--recompute" : NULL;
  if (what)
    return sf_error(SF_ERR_UNSUPPORTED, "train: %s is not available for a ViT yet (a ViT trains in hybrid mode, converted then fine-tuned with BPTT, or in "
                    "qcfs mode; without QAT, pruning or recompute)", what);
  return SF_OK;
}

/* the samples of d [start, start + count) in batches: accuracy and spikes per neuron per step */
static sf_status evaluate(vit_snn *n, const sf_dataset *d, int64_t start, int64_t count, double *accuracy, double *rate) {
  const int64_t n0 = (int64_t)d->c * d->h * d->w, C = n->v->classes;
  double sums[2] = {0, 0}; /* right, spikes: each rank its share of the images */
  double *right = &sums[0], *spikes = &sums[1];
  int64_t lo, hi;
  sf_dist_share(count, &lo, &hi);
  for (int64_t s = start + lo; s < start + hi; s += EVAL_BATCH / 2) {
    const int64_t B = start + hi - s < EVAL_BATCH / 2 ? start + hi - s : EVAL_BATCH / 2;
    sf_status st = vit_snn_forward(n, d->x + s * n0, B);
    if (st) return st;
    int64_t ok = 0;
    snn_cross_entropy(n->logits, d->labels + s, B, C, NULL, &ok);
    *right += (double)ok;
    *spikes += n->spikes;
  }
  sf_status st = sf_dist_sum_f64(sums, 2);
  if (st) return st;
  *accuracy = count ? *right / (double)count : NAN;
  *rate = count ? *spikes / ((double)count * n->T * (double)n->neurons) : NAN;
  return SF_OK;
}

/* rank 0's parameters on every rank (they start the same and take the same steps; this keeps them
 * so whatever the reductions' rounding) */
static sf_status same_parameters(const optim *opt) {
  sf_status st = SF_OK;
  for (int i = 0; i < opt->n_groups && !st; i++) st = sf_dist_broadcast_f32(opt->group[i].p, opt->group[i].n);
  return st;
}

/* the global batch's mean gradient: each rank's (of its share) weighted by its share, summed */
static sf_status average_gradients(optim *opt, double weight) {
  for (int i = 0; i < opt->n_groups; i++) {
    float *g = opt->group[i].g;
    if (weight != 1.0)
      for (int64_t k = 0; k < opt->group[i].n; k++) g[k] *= (float)weight;
    sf_status st = sf_dist_sum_f32(g, opt->group[i].n);
    if (st) return st;
  }
  return SF_OK;
}

/* rank 0 writes the checkpoint; every rank learns whether it could */
static sf_status write_checkpoint(const char *path, const char *fingerprint, const optim *opt, const train_progress *p, const sf_train_epoch *done, int n_done) {
  sf_status st = sf_dist_rank() == 0 ? checkpoint_write(path, fingerprint, NULL, opt, p, done, n_done) : SF_OK;
  double failed = st != SF_OK;
  sf_status s2 = sf_dist_sum_f64(&failed, 1);
  if (st) return st;
  if (s2) return s2;
  if (failed > 0) return sf_error(SF_ERR_IO, "train: rank 0 could not write the checkpoint %s", path);
  return SF_OK;
}

/* the trained network as a converted model: the weights as a Hugging Face ViT, the thresholds as
 * the converter's sites (keys and order of `keys`, per channel) */
static sf_status export_model(const vit_snn *n, const char *name, const sf_convert_options *copt, int n_keys, const sf_site *keys, const int *group,
                              const int64_t *first, sf_snn_model **out) {
  unsigned char *blob = NULL;
  size_t len = 0;
  sf_status st = vit_net_save_safetensors(n->v, &blob, &len);
  if (st) return st;
  sf_site *sites = calloc((size_t)n_keys, sizeof *sites);
  if (!sites) st = sf_error(SF_ERR_NOMEM, "out of memory");
  for (int i = 0; i < n_keys && !st; i++) {
    const vs_site *g = &n->site[group[i]];
    const int64_t ch = g->C == 3 * n->v->E ? n->v->E : g->C; /* q, k and v: a third each */
    sites[i].key = sf_strdup(keys[i].key);
    sites[i].is_signed = keys[i].is_signed;
    sites[i].axis = keys[i].axis;
    sites[i].channels = ch;
    sites[i].theta = malloc(sizeof(float) * (size_t)ch);
    if (!sites[i].key || !sites[i].theta) { st = sf_error(SF_ERR_NOMEM, "out of memory"); break; }
    memcpy(sites[i].theta, g->theta + first[i], sizeof(float) * (size_t)ch);
  }
  if (st) {
    sf_sites_free(sites, n_keys);
    free(blob);
    return st;
  }
  sf_convert_options mopt = *copt;
  mopt.per_channel = 1;
  char *src_name = sf_strfmt("%s (trained)", name);
  st = src_name ? sf_snn_model_from_hf_memory(src_name, n->v->config, blob, len, &mopt, sites, n_keys, out) : sf_error(SF_ERR_NOMEM, "out of memory");
  free(src_name);
  free(blob);
  return st;
}

/* what identifies a run (checkpoint.h): the network (its sizes, starting weights and thresholds),
 * the data and every setting that changes the trajectory */
static char *run_fingerprint(const vit_net *v, const vit_snn *n, const sf_train_options *o, const sf_convert_options *copt, const sf_dataset *d,
                             int64_t n_train, int64_t val, int train_theta, const float *teacher, double kd_alpha) {
  cJSON *f = cJSON_CreateObject();
  cJSON_AddStringToObject(f, "model", "vit");
  cJSON_AddNumberToObject(f, "layers", v->L);
  cJSON_AddNumberToObject(f, "hidden", v->E);
  cJSON_AddNumberToObject(f, "parameters", (double)v->n_params);
  char hex[65];
  crypto_hash_sha256_state hs;
  crypto_hash_sha256_init(&hs);
  crypto_hash_sha256_update(&hs, (const unsigned char *)v->params, sizeof(float) * (size_t)v->n_params);
  crypto_hash_sha256_update(&hs, (const unsigned char *)n->theta, sizeof(float) * (size_t)n->n_theta);
  unsigned char h[32];
  crypto_hash_sha256_final(&hs, h);
  for (int i = 0; i < 32; i++) sprintf(hex + 2 * i, "%02x", h[i]);
  cJSON_AddStringToObject(f, "initial_weights_sha256", hex);
  crypto_hash_sha256(h, (const unsigned char *)d->labels, sizeof(int32_t) * (size_t)d->n);
  for (int i = 0; i < 32; i++) sprintf(hex + 2 * i, "%02x", h[i]);
  cJSON_AddStringToObject(f, "labels_sha256", hex);
  if (teacher) {
    crypto_hash_sha256(h, (const unsigned char *)teacher, sizeof(float) * (size_t)(n_train * v->classes));
    for (int i = 0; i < 32; i++) sprintf(hex + 2 * i, "%02x", h[i]);
    cJSON_AddStringToObject(f, "teacher_logits_sha256", hex);
  }
  cJSON_AddNumberToObject(f, "train_images", (double)n_train);
  cJSON_AddNumberToObject(f, "val_images", (double)val);
  cJSON_AddStringToObject(f, "mode", sf_train_mode_name(o->mode));
  cJSON_AddNumberToObject(f, "timesteps", copt->snn.timesteps);
  cJSON_AddNumberToObject(f, "spikes_per_step", n->K);
  cJSON_AddNumberToObject(f, "beta", n->beta);
  cJSON_AddStringToObject(f, "surrogate", sf_surrogate_name(n->surrogate));
  cJSON_AddNumberToObject(f, "slope", n->slope);
  cJSON_AddBoolToObject(f, "detach_reset", n->detach_reset);
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
  if (kd_alpha > 0) cJSON_AddNumberToObject(f, "kd_temperature", o->kd_temperature);
  cJSON_AddStringToObject(f, "augment", augment_name(o->augment));
  char *s = cJSON_PrintUnformatted(f);
  cJSON_Delete(f);
  return s;
}

sf_status train_vit(const sf_graph *model, const sf_snn_model *start, const char *name, const sf_dataset *train, const sf_train_options *o,
                    sf_train_result **out) {
  *out = NULL;
  sf_status st = vit_refusals(o);
  if (st) return st;
  const double t_start = train_now_s();
  sf_convert_options copt = o->convert;
  if (copt.snn.reset != SF_RESET_SUBTRACT || copt.snn.v_init != 0.5f)
    return sf_error(SF_ERR_UNSUPPORTED, "train: the trainer's neurons reset by subtraction from theta / 2; reset=%s, v_init=%g cannot be trained yet",
                    sf_reset_name(copt.snn.reset), (double)copt.snn.v_init);
  copt.relu_ec = 0;
  copt.per_channel = 1;
  const int T = copt.snn.timesteps;
  vit_net v;
  vit_snn n;
  memset(&v, 0, sizeof v);
  memset(&n, 0, sizeof n);
  optim opt;
  memset(&opt, 0, sizeof opt);
  sf_snn_model *calibrated = NULL;
  sf_train_result *r = NULL;
  float *xb = NULL, *dlogits = NULL, *teacher = NULL, *tb = NULL;
  int32_t *yb = NULL;
  int64_t *perm = NULL, *first = NULL;
  int *group = NULL;
  char *fingerprint = NULL;
  /* the ANN's weights: the converted model's source, or the directory the graph came from */
  if (start) st = vit_net_load_hf_memory(&v, start->hf_config, start->src_blob, start->src_len, sf_graph_source(model));
  else st = vit_net_load_hf(&v, model->source);
  if (st) return st;
  const int64_t n0 = (int64_t)v.Cin * v.Hh * v.Ww, C = v.classes;
  if ((st = train_check_data(train, n0, C))) goto done;
  const int K = sf_convert_step_levels(&copt);
  if ((st = vit_snn_init(&n, &v, T, K, 1, copt.snn.neuron_model == SF_NEURON_LIF ? copt.snn.leak : 1.0f))) goto done;
  /* qcfs: the ANN with K T levels per site, lambda = K theta (T steps of up to K spikes of theta) */
  const int qcfs = o->mode == SF_TRAIN_QCFS;
  n.qcfs_levels = qcfs ? K * T : 0;
  const float lambda_per_theta = qcfs ? (float)K : 1.0f;
  n.surrogate = o->surrogate;
  /* the ViT's surrogates act on z = (u - j theta) / theta: default slopes whose g integrates to 1 over
   * z (the staircase's expected slope), where the MLP's act on u in the membrane's own units */
  static const float vit_slopes[SF_SURROGATE_COUNT] = {2.0f, 2.0f, 4.0f, 1.0f, 1.0f};
  n.slope = o->slope > 0 ? o->slope : vit_slopes[o->surrogate];
  n.detach_reset = o->detach_reset;
  n.rate_penalty = (float)o->rate_penalty;
  /* the data: training images first (limit), the last val_images held out */
  const int64_t val = o->val_images < train->n ? o->val_images : 0;
  int64_t n_train = train->n - val;
  if (o->limit > 0 && o->limit < n_train) n_train = o->limit;
  /* thresholds: the converted model's, or a calibration on the training images */
  if (!start) {
    sf_dataset calib = *train;
    calib.n = n_train;
    if ((st = sf_convert(model, &calib, &copt, &calibrated))) goto done;
  }
  const sf_snn_model *from = start ? start : calibrated;
  const int n_keys = from->n_sites;
  const char **keys = calloc((size_t)(n_keys ? n_keys : 1), sizeof *keys);
  int64_t *chans = calloc((size_t)(n_keys ? n_keys : 1), sizeof *chans);
  group = calloc((size_t)(n_keys ? n_keys : 1), sizeof *group);
  first = calloc((size_t)(n_keys ? n_keys : 1), sizeof *first);
  if (!keys || !chans || !group || !first) st = sf_error(SF_ERR_NOMEM, "out of memory");
  for (int i = 0; i < n_keys && !st; i++) {
    keys[i] = from->sites[i].key;
    chans[i] = from->sites[i].channels;
    if (!from->sites[i].is_signed) st = sf_error(SF_ERR_UNSUPPORTED, "train: the ViT's neuron site '%s' is unsigned; the trainer takes the converter's signed sites", keys[i]);
  }
  if (!st) st = vit_snn_map_sites(&n, n_keys, keys, chans, group, first);
  free(keys);
  free(chans);
  if (st) goto done;
  for (int i = 0; i < n_keys; i++) {
    const sf_site *s = &from->sites[i];
    vs_site *g = &n.site[group[i]];
    const int64_t ch = g->C == 3 * v.E ? v.E : g->C;
    for (int64_t c = 0; c < ch; c++) g->theta[first[i] + c] = lambda_per_theta * s->theta[s->channels == 1 ? 0 : c];
  }
  const int train_theta = o->train_thresholds != 0;
  optim_init(&opt, o->optimizer, o->lr, o->weight_decay, o->momentum);
  if ((st = optim_add(&opt, v.params, v.grads, v.n_params, 1, -INFINITY))) goto done;
  if (train_theta && (st = optim_add(&opt, n.theta, n.dtheta, n.n_theta, 0, THETA_MIN))) goto done;
  const int rank = sf_dist_rank(), world = sf_dist_size();
  if ((st = same_parameters(&opt))) goto done;
  const int64_t Bmax = o->batch < n_train ? o->batch : n_train;
  xb = malloc(sizeof(float) * (size_t)(Bmax * n0));
  yb = malloc(sizeof(int32_t) * (size_t)Bmax);
  dlogits = malloc(sizeof(float) * (size_t)(Bmax * C));
  perm = malloc(sizeof(int64_t) * (size_t)n_train);
  r = train_result_new(o, name ? name : model->source);
  if (!xb || !yb || !dlogits || !perm || !r) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
  r->options.slope = n.slope; /* (the slope it ran with: the ViT's defaults differ from the MLP's) */
  r->mode = o->mode;
  r->train_images = n_train;
  r->val_images = val;
  r->layers = 4 * v.L + 1 + 1; /* weighted: qkv, proj, fc1, fc2 per layer, patch embedding, head */
  r->parameters = v.n_params + (train_theta ? n.n_theta : 0);
  r->test_accuracy = r->test_accuracy_int8 = NAN;
  r->world_size = world;
  const int64_t steps = (n_train + Bmax - 1) / Bmax, total = steps * o->epochs;
  const int64_t warmup = o->warmup_steps < total / 10 ? o->warmup_steps : total / 10;
  if (sf_dist_rank() == 0)
    sf_log(SF_LOG_INFO, "train: ViT %s, %d layers, %lld parameters, %lld neurons per image in %d sites, %lld training images, %lld validation, T=%d, %s neurons, "
         "surrogate %s (slope %g, on u / theta)", sf_train_mode_name(o->mode), v.L, (long long)r->parameters, (long long)n.neurons, n_keys, (long long)n_train, (long long)val, T,
         sf_neuron_model_name(copt.snn.neuron_model), sf_surrogate_name(n.surrogate), (double)n.slope);
  const double kd_alpha = o->kd_alpha;
  const sf_graph *teacher_g = o->teacher ? o->teacher : model;
  if (kd_alpha > 0) {
    /* the teacher's logits once for every image, or (augmenting) for each transformed batch */
    if (!o->augment && (st = train_teacher_logits(teacher_g, train, n_train, C, &teacher))) goto done;
    if (!(tb = malloc(sizeof(float) * (size_t)(Bmax * C)))) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
    if (sf_dist_rank() == 0)
      sf_log(SF_LOG_INFO, "train: distilling from %s (alpha %g, temperature %g)", sf_graph_source(teacher_g), kd_alpha, o->kd_temperature);
  }
  if (o->augment && sf_dist_rank() == 0) sf_log(SF_LOG_INFO, "train: augmenting the training images (%s)", augment_name(o->augment));
  r->kd_alpha = kd_alpha;
  if (kd_alpha > 0 && !(r->teacher = sf_strdup(o->teacher ? sf_graph_source(o->teacher) : "the model's ANN"))) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
  if (val && sf_log_get_level() >= SF_LOG_INFO) {
    double acc0, rate0;
    if ((st = evaluate(&n, train, train->n - val, val, &acc0, &rate0))) goto done;
    if (sf_dist_rank() == 0)
      sf_log(SF_LOG_INFO, "train: before training: validation %.2f%%, %.3f spikes per neuron per step", 100 * acc0, rate0);
  }
  /* the run's fingerprint: a checkpoint continues only the run it came from */
  if ((o->checkpoint || o->resume) && !(fingerprint = run_fingerprint(&v, &n, o, &copt, train, n_train, val, train_theta, teacher, kd_alpha))) {
    st = sf_error(SF_ERR_NOMEM, "out of memory");
    goto done;
  }
  train_progress pg;
  memset(&pg, 0, sizeof pg);
  if (o->resume) {
    int n_done = 0;
    if ((st = checkpoint_read(o->resume, fingerprint, NULL, &opt, &pg, r->epochs, o->epochs, &n_done))) goto done;
    r->n_epochs = n_done;
    if (sf_dist_rank() == 0)
      sf_log(SF_LOG_INFO, "train: resuming %s at epoch %d, step %lld", o->resume, pg.epoch + 1, (long long)pg.step_in_epoch);
  }
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
      if (o->augment && B > 0) {
        /* the augmentation's own stream per step (a resumed run draws the same) */
        sf_rng arng;
        sf_rng_seed_stream(&arng, o->seed ^ 0x6175676d656e74ULL, ((uint64_t)e * (uint64_t)steps + (uint64_t)s) * 4096 + (uint64_t)sf_dist_rank() + 1);
        augment_images(xb, B, train->c, train->h, train->w, o->augment, 2, &arng);
        if (kd_alpha > 0) { /* the teacher on the batch as the student sees it */
          sf_dataset view = {.n = B, .c = train->c, .h = train->h, .w = train->w, .x = xb, .labels = yb, .n_classes = train->n_classes, .source = train->source};
          float *tl = NULL;
          if ((st = train_teacher_logits(teacher_g, &view, B, C, &tl))) goto done;
          memcpy(tb, tl, sizeof(float) * (size_t)(B * C));
          free(tl);
        }
      }
      vit_snn_zero_grad(&n);
      /* loss (the mean over the global batch), right answers, spikes, and whether a rank was asked to stop */
      double sums[4] = {0, 0, 0, o->stop && *o->stop}, local_loss = 0;
      if (B > 0) {
        if ((st = vit_snn_forward(&n, xb, B))) goto done;
        int64_t ok = 0;
        local_loss = snn_cross_entropy(n.logits, yb, B, C, dlogits, &ok) + vit_snn_rate_loss(&n);
        if (kd_alpha > 0) local_loss += snn_distill_loss(n.logits, tb, B, C, o->kd_temperature, kd_alpha, dlogits);
        sums[0] = local_loss * (double)B;
        sums[1] = (double)ok;
        sums[2] = n.spikes;
      }
      if ((st = sf_dist_sum_f64(sums, 4))) goto done;
      const double loss = world > 1 ? sums[0] / (double)Bg : local_loss;
      const int stop = sums[3] > 0;
      if (!isfinite(loss)) {
        st = sf_error(SF_ERR_VALUE, "train: the loss is %s at epoch %d, step %lld (of %lld): training diverged (lower the learning rate, or clip gradients)%s%s",
                      isnan(loss) ? "NaN" : "infinite", e + 1, (long long)s + 1, (long long)steps,
                      o->checkpoint && r->n_epochs ? "; the last good state is the checkpoint " : "", o->checkpoint && r->n_epochs ? o->checkpoint : "");
        goto done;
      }
      if (B > 0) vit_snn_backward(&n, dlogits);
      if (world > 1 && (st = average_gradients(&opt, (double)B / (double)Bg))) goto done;
      if (o->clip_norm > 0) {
        const double norm = optim_grad_norm(&opt);
        if (norm > o->clip_norm) optim_scale_grads(&opt, (float)(o->clip_norm / norm));
      }
      optim_step(&opt, optim_lr_at(o->schedule, o->lr, pg.global_step, total, warmup));
      pg.global_step++;
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
        if (o->checkpoint && (st = write_checkpoint(o->checkpoint, fingerprint, &opt, &pg, r->epochs, r->n_epochs))) goto done;
        st = sf_error(SF_ERR_INTERRUPTED, "train: stopped at epoch %d, step %lld of %lld%s%s", e + 1, (long long)s + 1, (long long)steps,
                      o->checkpoint ? "; the state is in " : " (no checkpoint was asked for)", o->checkpoint ? o->checkpoint : "");
        goto done;
      }
    }
    if (world > 1 && (st = same_parameters(&opt))) goto done;
    sf_train_epoch *ep = &r->epochs[e];
    ep->epoch = e + 1;
    ep->seconds = before + train_now_s() - t0;
    ep->images_per_second = (double)pg.seen / (ep->seconds > 0 ? ep->seconds : 1e-9);
    ep->train_loss = pg.loss_sum / (double)pg.seen;
    ep->train_accuracy = (double)pg.right / (double)pg.seen;
    ep->spikes_per_neuron_per_step = pg.spikes / ((double)pg.seen * T * (double)n.neurons);
    ep->val_accuracy = NAN;
    if (val && (st = evaluate(&n, train, train->n - val, val, &ep->val_accuracy, &ep->spikes_per_neuron_per_step))) goto done;
    r->n_epochs = e + 1;
    if (o->on_epoch && rank == 0) o->on_epoch(ep, o->on_epoch_user);
    if (rank == 0)
      sf_log(SF_LOG_INFO, "train: epoch %d/%d: loss %.4f, train accuracy %.2f%%, validation %.2f%%, %.3f spikes per neuron per step, %.1f s (%.0f images/s)", e + 1,
           o->epochs, ep->train_loss, 100 * ep->train_accuracy, 100 * ep->val_accuracy, ep->spikes_per_neuron_per_step, ep->seconds, ep->images_per_second);
    /* the next epoch starts here */
    train_progress next = {.epoch = e + 1, .global_step = pg.global_step};
    if (o->checkpoint && (st = write_checkpoint(o->checkpoint, fingerprint, &opt, &next, r->epochs, r->n_epochs))) goto done;
    double stop_any = o->stop && *o->stop;
    if ((st = sf_dist_sum_f64(&stop_any, 1))) goto done;
    if (stop_any > 0 && e + 1 < o->epochs) {
      st = sf_error(SF_ERR_INTERRUPTED, "train: stopped after epoch %d of %d%s%s", e + 1, o->epochs, o->checkpoint ? "; the state is in " : " (no checkpoint was asked for)",
                    o->checkpoint ? o->checkpoint : "");
      goto done;
    }
  }
  r->seconds = train_now_s() - t_start;
  r->state_bytes = (int64_t)n.cap * n.T * n.neurons * (3 * (int64_t)sizeof(float) + 1);
  if (qcfs) /* the clip levels back to thresholds */
    for (int64_t i = 0; i < n.n_theta; i++) n.theta[i] /= lambda_per_theta;
  st = export_model(&n, r->model, &copt, n_keys, from->sites, group, first, &r->result);
done:
  if (st) sf_train_result_free(r);
  else *out = r;
  free(fingerprint);
  sf_snn_model_free(calibrated);
  optim_free(&opt);
  vit_snn_free(&n);
  vit_net_free(&v);
  free(xb);
  free(yb);
  free(dlogits);
  free(perm);
  free(teacher);
  free(tb);
  free(group);
  free(first);
  return st;
}

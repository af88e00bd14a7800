/* The trainer's results as JSON (`train --json`) and as an MLflow run (train.h). */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "spikeformer/mlflow.h"
#include "spikeformer/train.h"
#include "train/augment.h"

static void add_num(cJSON *o, const char *k, double v) {
  if (isfinite(v)) cJSON_AddNumberToObject(o, k, v);
  else cJSON_AddNullToObject(o, k);
}

char *sf_train_json(const sf_train_result *r) {
  cJSON *o = cJSON_CreateObject(), *eps = cJSON_AddArrayToObject(o, "epochs");
  cJSON_AddStringToObject(o, "model", r->model ? r->model : "");
  cJSON_AddStringToObject(o, "mode", sf_train_mode_name(r->mode));
  for (int e = 0; e < r->n_epochs; e++) {
    const sf_train_epoch *ep = &r->epochs[e];
    cJSON *x = cJSON_CreateObject();
    cJSON_AddNumberToObject(x, "epoch", ep->epoch);
    add_num(x, "train_loss", ep->train_loss);
    add_num(x, "train_accuracy", ep->train_accuracy);
    add_num(x, "val_accuracy", ep->val_accuracy);
    add_num(x, "seconds", ep->seconds);
    add_num(x, "images_per_second", ep->images_per_second);
    add_num(x, "spikes_per_neuron_per_step", ep->spikes_per_neuron_per_step);
    cJSON_AddItemToArray(eps, x);
  }
  add_num(o, "test_accuracy", r->test_accuracy);
  add_num(o, "test_accuracy_int8", r->test_accuracy_int8);
  cJSON_AddNumberToObject(o, "world_size", r->world_size > 0 ? r->world_size : 1);
  cJSON_AddNumberToObject(o, "sparsity", r->sparsity);
  cJSON_AddNumberToObject(o, "state_bytes", (double)r->state_bytes);
  cJSON_AddNumberToObject(o, "train_images", (double)r->train_images);
  cJSON_AddNumberToObject(o, "val_images", (double)r->val_images);
  cJSON_AddNumberToObject(o, "parameters", (double)r->parameters);
  cJSON_AddNumberToObject(o, "layers", r->layers);
  add_num(o, "seconds", r->seconds);
  const sf_train_options *op = &r->options;
  cJSON *set = cJSON_AddObjectToObject(o, "settings");
  cJSON_AddNumberToObject(set, "timesteps", op->convert.snn.timesteps);
  cJSON_AddStringToObject(set, "neuron", sf_neuron_model_name(op->convert.snn.neuron_model));
  cJSON_AddNumberToObject(set, "beta", op->convert.snn.neuron_model == SF_NEURON_LIF ? op->convert.snn.leak : 1.0);
  cJSON_AddNumberToObject(set, "burst_levels", op->convert.snn.neuron_model == SF_NEURON_BURST ? op->convert.snn.burst_levels : 1);
  cJSON_AddStringToObject(set, "surrogate", sf_surrogate_name(op->surrogate));
  cJSON_AddNumberToObject(set, "surrogate_slope", op->slope > 0 ? op->slope : sf_surrogate_default_slope(op->surrogate));
  cJSON_AddBoolToObject(set, "detach_reset", op->detach_reset);
  cJSON_AddStringToObject(set, "augment", augment_name(op->augment > 0 ? op->augment : 0));
  cJSON_AddStringToObject(set, "init", op->init_random ? "random" : "model");
  cJSON_AddNumberToObject(set, "epochs", op->epochs);
  cJSON_AddNumberToObject(set, "batch", op->batch);
  cJSON_AddNumberToObject(set, "lr", op->lr);
  cJSON_AddStringToObject(set, "optimizer", op->optimizer == SF_OPTIM_ADAMW ? "adamw" : "sgd");
  cJSON_AddNumberToObject(set, "weight_decay", op->weight_decay);
  cJSON_AddStringToObject(set, "schedule", op->schedule == SF_SCHEDULE_COSINE ? "cosine" : "constant");
  cJSON_AddNumberToObject(set, "warmup_steps", op->warmup_steps);
  cJSON_AddNumberToObject(set, "clip_norm", op->clip_norm);
  cJSON_AddNumberToObject(set, "rate_penalty", op->rate_penalty);
  cJSON_AddNumberToObject(set, "seed", (double)op->seed);
  cJSON_AddNumberToObject(set, "kd_alpha", r->kd_alpha);
  cJSON_AddNumberToObject(set, "prune", op->prune);
  cJSON_AddNumberToObject(set, "recompute", op->recompute);
  if (op->prune > 0) cJSON_AddStringToObject(set, "prune_scope", op->prune_per_layer ? "per layer" : "global");
  cJSON_AddStringToObject(set, "qat", op->qat ? "int8" : "none");
  if (r->kd_alpha > 0) {
    cJSON_AddNumberToObject(set, "kd_temperature", op->kd_temperature);
    cJSON_AddStringToObject(set, "teacher", r->teacher ? r->teacher : "");
  }
  char *s = cJSON_Print(o);
  cJSON_Delete(o);
  return s;
}

sf_status sf_train_log_mlflow(const sf_train_result *r, const char *store_dir) {
  sf_mlflow_run *run;
  sf_status st = sf_mlflow_begin(store_dir, "train", &run);
  if (st) return st;
  char *js = sf_train_json(r);
  cJSON *j = js ? cJSON_Parse(js) : NULL;
  free(js);
  if (!j) { sf_mlflow_end(run, 0); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  sf_mlflow_param(run, "model", r->model ? r->model : "");
  for (cJSON *p = cJSON_GetObjectItem(j, "settings")->child; p; p = p->next) {
    char v[64];
    if (cJSON_IsString(p)) snprintf(v, sizeof v, "%s", p->valuestring);
    else if (cJSON_IsBool(p)) snprintf(v, sizeof v, "%s", cJSON_IsTrue(p) ? "true" : "false");
    else snprintf(v, sizeof v, "%.10g", p->valuedouble);
    sf_mlflow_param(run, p->string, v);
  }
  cJSON_Delete(j);
  for (int e = 0; e < r->n_epochs; e++) {
    const sf_train_epoch *ep = &r->epochs[e];
    const double v[6] = {ep->train_loss, ep->train_accuracy, ep->val_accuracy, ep->seconds, ep->images_per_second, ep->spikes_per_neuron_per_step};
    static const char *const k[6] = {"train_loss", "train_accuracy", "val_accuracy", "seconds", "images_per_second", "spikes_per_neuron_per_step"};
    for (int i = 0; i < 6; i++)
      if (isfinite(v[i]) && (st = sf_mlflow_metric(run, k[i], v[i], ep->epoch))) break;
  }
  if (!st && isfinite(r->test_accuracy)) st = sf_mlflow_metric(run, "test_accuracy", r->test_accuracy, r->n_epochs);
  if (!st && isfinite(r->test_accuracy_int8)) st = sf_mlflow_metric(run, "test_accuracy_int8", r->test_accuracy_int8, r->n_epochs);
  sf_status st2 = sf_mlflow_end(run, !st);
  return st ? st : st2;
}

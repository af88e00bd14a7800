/* EvaluationRunner for ANNs: the dataset in batches through the float reference executor. */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "eval/eval_internal.h"
#include "spikeformer/threads.h"

void sf_ann_eval_options_default(sf_ann_eval_options *o) {
  memset(o, 0, sizeof *o);
  o->batch = 256;
}

void sf_ann_eval_result_free(sf_ann_eval_result *r) {
  if (!r) return;
  free(r->model);
  free(r->data);
  free(r->predictions);
  free(r);
}

sf_status sf_eval_ann(const sf_graph *g, const char *name, const sf_dataset *ds, const sf_ann_eval_options *o_in, sf_ann_eval_result **out) {
  *out = NULL;
  sf_ann_eval_options o;
  if (o_in) o = *o_in;
  else sf_ann_eval_options_default(&o);
  if (o.batch < 1) o.batch = 256;
  if (!name) name = sf_graph_source(g);
  if (sf_graph_num_inputs(g) != 1)
    return sf_error(SF_ERR_UNSUPPORTED, "%s: eval needs a model with one image input; it has %d inputs", name, sf_graph_num_inputs(g));
  if (ds->n < 1) return sf_error(SF_ERR_ARG, "%s: no samples to evaluate", ds->source);
  sf_ann_eval_result *r = calloc(1, sizeof *r);
  if (!r) return sf_error(SF_ERR_NOMEM, "out of memory");
  sf_session *s = NULL;
  r->model = sf_strdup(name);
  r->data = sf_strdup(ds->source);
  r->samples = ds->n;
  r->threads = sf_threads_get();
  if (o.keep_predictions) r->predictions = malloc(sizeof(int64_t) * (size_t)ds->n);
  sf_status st = !r->model || !r->data || (o.keep_predictions && !r->predictions) ? sf_error(SF_ERR_NOMEM, "out of memory") : SF_OK;
  if (!st) st = sf_session_create(g, NULL, &s);
  if (o.progress) o.progress("eval", 0, ds->n, o.progress_user);
  double t0 = sf_now();
  for (int64_t start = 0; start < ds->n && !st; start += o.batch) {
    int64_t cnt = ds->n - start < o.batch ? ds->n - start : o.batch, right = 0;
    sf_tensor x = sf_eval_batch(ds, g, start, cnt);
    st = sf_eval_ann_batch(s, g, &x, ds->labels + start, cnt, &right, NULL, r->predictions ? r->predictions + start : NULL, NULL);
    if (!st && start == 0) {
      /* the classes the first output scores: every label must be one of them */
      sf_tensor od = sf_session_plan(s) ? sf_graph_output_desc(sf_session_plan(s), 0) : (sf_tensor){0};
      r->classes = od.ndim >= 1 ? od.shape[od.ndim - 1] : 0;
      st = sf_eval_labels_fit(ds, r->classes, name);
    }
    r->correct += right;
    if (o.progress) o.progress("eval", start + cnt, ds->n, o.progress_user);
  }
  r->seconds = sf_now() - t0;
  r->accuracy = (double)r->correct / (double)ds->n;
  sf_session_free(s);
  if (st) sf_ann_eval_result_free(r);
  else *out = r;
  return st;
}

char *sf_ann_eval_json(const sf_ann_eval_result *r) {
  cJSON *j = cJSON_CreateObject();
  cJSON_AddNumberToObject(j, "accuracy", r->accuracy);
  cJSON_AddNumberToObject(j, "samples", (double)r->samples);
  cJSON_AddNumberToObject(j, "correct", (double)r->correct);
  cJSON_AddStringToObject(j, "model", r->model);
  cJSON_AddStringToObject(j, "data", r->data);
  cJSON_AddNumberToObject(j, "seconds", r->seconds);
  cJSON_AddNumberToObject(j, "threads", r->threads);
  char *s = cJSON_Print(j);
  cJSON_Delete(j);
  return s;
}

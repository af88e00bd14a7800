/* Batches as model inputs, accuracy counting, the ANN beside a spiking run. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "eval/eval_internal.h"

sf_tensor sf_eval_batch(const sf_dataset *ds, const sf_graph *model, int64_t start, int64_t count) {
  sf_tensor x = sf_dataset_batch(ds, start, count);
  if (sf_graph_input_desc(model, 0).ndim == 2) {
    x.ndim = 2;
    x.shape[1] = ds->c * ds->h * ds->w;
  }
  return x;
}

int64_t sf_eval_mark_correct(const sf_tensor *logits, const int32_t *labels, int64_t n, uint8_t *ok) {
  int64_t ncls = logits->shape[logits->ndim - 1], correct = 0;
  const float *p = logits->data;
  for (int64_t b = 0; b < n; b++) {
    int64_t best = 0;
    for (int64_t k = 1; k < ncls; k++) if (p[b * ncls + k] > p[b * ncls + best]) best = k;
    if (ok) ok[b] = best == labels[b];
    correct += best == labels[b];
  }
  return correct;
}

int sf_acc_step(int t, const sf_tensor *decoded, void *user) {
  sf_acc_ctx *c = user;
  c->correct[t - 1] += sf_eval_mark_correct(decoded, c->labels, c->n, c->ok ? c->ok + (int64_t)(t - 1) * c->ok_stride + c->ok_offset : NULL);
  return 0;
}

sf_status sf_eval_ann_batch(sf_session *s, const sf_graph *g, const sf_tensor *x, const int32_t *labels, int64_t n, int64_t *right, uint8_t *ok,
                            int64_t *preds, double *seconds) {
  const int no = sf_graph_num_outputs(g);
  sf_tensor *outs = calloc((size_t)(no > 0 ? no : 1), sizeof *outs);
  if (!outs) return sf_error(SF_ERR_NOMEM, "out of memory");
  double t0 = sf_now();
  sf_status st = sf_session_run(s, x, outs);
  if (seconds) *seconds = sf_now() - t0;
  if (st) {
    sf_error_context(st, "%s", sf_graph_source(g));
    free(outs);
    return st;
  }
  const sf_tensor *lg = &outs[0];
  const int64_t ncls = lg->ndim >= 1 ? lg->shape[lg->ndim - 1] : 0;
  if (lg->dtype != SF_F32 || ncls < 1 || sf_tensor_numel(lg) != n * ncls) {
    char sh[96];
    st = sf_error(SF_ERR_SHAPE, "%s: first output %s is not [batch, classes] logits", sf_graph_source(g), sf_shape_str(lg->ndim, lg->shape, sh, sizeof sh));
  } else {
    const float *p = lg->data;
    int64_t good = 0;
    for (int64_t b = 0; b < n; b++) {
      int64_t best = 0;
      for (int64_t k = 1; k < ncls; k++) if (p[b * ncls + k] > p[b * ncls + best]) best = k;
      if (preds) preds[b] = best;
      if (ok) ok[b] = best == labels[b];
      good += best == labels[b];
    }
    *right = good;
  }
  for (int k = 0; k < no; k++) sf_tensor_free(&outs[k]);
  free(outs);
  return st;
}

int sf_file_is_sfm(const char *path) {
  FILE *f = fopen(path, "rb");
  char magic[4] = {0};
  if (!f) return 0;
  size_t n = fread(magic, 1, 4, f);
  fclose(f);
  return n == 4 && !memcmp(magic, "SFM1", 4);
}

void sf_free(void *p) { free(p); }

/* a whole number in [lo, hi] from text */
static sf_status opt_int(const char *key, const char *v, long long lo, long long hi, long long *out) {
  char *end;
  errno = 0;
  long long x = strtoll(v, &end, 10);
  if (errno || end == v || *end || x < lo || x > hi) return sf_error(SF_ERR_ARG, "option '%s': a whole number from %lld to %lld, not '%s'", key, lo, hi, v);
  *out = x;
  return SF_OK;
}

static sf_status opt_bool(const char *key, const char *v, int *out) {
  if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "True")) *out = 1;
  else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "False")) *out = 0;
  else return sf_error(SF_ERR_ARG, "option '%s': true or false, not '%s'", key, v);
  return SF_OK;
}

sf_status sf_eval_options_set(sf_eval_options *o, const char *key, const char *v) {
  long long x = 0;
  sf_status st;
  if (!key || !v) return sf_error(SF_ERR_ARG, "eval option: key and value needed");
  if (!strcmp(key, "timesteps")) {
    if ((st = opt_int(key, v, 0, 100000, &x))) return st;
    o->timesteps = (int)x;
  } else if (!strcmp(key, "batch")) {
    if ((st = opt_int(key, v, 0, 65536, &x))) return st;
    o->batch = x;
  } else if (!strcmp(key, "ann")) {
    return opt_bool(key, v, &o->ann);
  } else if (!strcmp(key, "profile")) {
    return opt_bool(key, v, &o->profile);
  } else if (!strcmp(key, "energy_dir")) {
    o->energy_dir = v;
  } else if (!strcmp(key, "backend")) {
    o->backend = v;
  } else {
    return sf_error(SF_ERR_ARG, "unknown eval option '%s' (timesteps, batch, ann, profile, energy_dir, backend; a backend's own options go to its "
                                "backend options)", key);
  }
  return SF_OK;
}

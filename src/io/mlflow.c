#define _XOPEN_SOURCE 700 /* realpath */
#include "spikeformer/mlflow.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/util.h"
#include "spikeformer/rng.h"

struct sf_mlflow_run {
  char *dir;       /* DIR/0/<run id> */
  char *abs_store;
  char id[33];
  char *name;
  long long start_ms;
};

static long long now_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static int valid_key(const char *k) {
  if (!*k) return 0;
  for (const char *p = k; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("_-. /", *p))) return 0;
  return !strstr(k, "..") && k[0] != '/';
}

static sf_status write_text(const char *path, const char *text) { return sf_write_file_atomic(path, text, strlen(text)); }

sf_status sf_mlflow_begin(const char *store, const char *run_name, sf_mlflow_run **out) {
  *out = NULL;
  sf_status st = sf_mkdir_p(store);
  if (st) return st;
  char absb[PATH_MAX];
  if (!realpath(store, absb)) return sf_error(SF_ERR_IO, "%s: cannot resolve path", store);
  char *exp_dir = sf_strfmt("%s/0", absb), *exp_meta = sf_strfmt("%s/0/meta.yaml", absb);
  if ((st = sf_mkdir_p(exp_dir))) { free(exp_dir); free(exp_meta); return st; }
  long long t = now_ms();
  if (!sf_file_exists(exp_meta)) {
    char *m = sf_strfmt("artifact_location: file://%s/0\ncreation_time: %lld\nexperiment_id: '0'\nlast_update_time: %lld\n"
                        "lifecycle_stage: active\nname: Default\n", absb, t, t);
    st = write_text(exp_meta, m);
    free(m);
  }
  free(exp_meta);
  if (st) { free(exp_dir); return st; }
  sf_mlflow_run *r = calloc(1, sizeof *r);
  if (!r) { free(exp_dir); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  sf_rng g;
  sf_rng_seed(&g, (uint64_t)t ^ ((uint64_t)getpid() << 32));
  for (int i = 0; i < 32; i++) r->id[i] = "0123456789abcdef"[sf_rng_below(&g, 16)];
  r->id[32] = 0;
  r->dir = sf_strfmt("%s/%s", exp_dir, r->id);
  r->abs_store = sf_strdup(absb);
  r->name = sf_strdup(run_name ? run_name : "spikeformer");
  r->start_ms = t;
  free(exp_dir);
  char *sub[4] = {sf_strfmt("%s/params", r->dir), sf_strfmt("%s/metrics", r->dir), sf_strfmt("%s/tags", r->dir), sf_strfmt("%s/artifacts", r->dir)};
  for (int i = 0; i < 4; i++) { if (!st) st = sf_mkdir_p(sub[i]); free(sub[i]); }
  if (!st) {
    char *tag = sf_strfmt("%s/tags/mlflow.runName", r->dir);
    st = write_text(tag, r->name);
    free(tag);
  }
  if (!st) {
    char *tag = sf_strfmt("%s/tags/mlflow.source.name", r->dir);
    st = write_text(tag, "spikeformer");
    free(tag);
  }
  if (st) { free(r->dir); free(r->abs_store); free(r->name); free(r); return st; }
  *out = r;
  return SF_OK;
}

sf_status sf_mlflow_param(sf_mlflow_run *r, const char *key, const char *value) {
  if (!valid_key(key)) return sf_error(SF_ERR_ARG, "mlflow: invalid parameter name '%s'", key);
  char *p = sf_strfmt("%s/params/%s", r->dir, key);
  sf_status st = write_text(p, value);
  free(p);
  return st;
}

sf_status sf_mlflow_metric(sf_mlflow_run *r, const char *key, double value, long step) {
  if (!valid_key(key)) return sf_error(SF_ERR_ARG, "mlflow: invalid metric name '%s'", key);
  char *p = sf_strfmt("%s/metrics/%s", r->dir, key);
  FILE *f = fopen(p, "a");
  if (!f) { sf_status st = sf_error(SF_ERR_IO, "%s: cannot write", p); free(p); return st; }
  fprintf(f, "%lld %.17g %ld\n", now_ms(), value, step);
  fclose(f);
  free(p);
  return SF_OK;
}

const char *sf_mlflow_run_id(const sf_mlflow_run *r) { return r->id; }

sf_status sf_mlflow_end(sf_mlflow_run *r, int ok) {
  if (!r) return SF_OK;
  const char *user = getenv("USER");
  char *meta = sf_strfmt("artifact_uri: file://%s/0/%s/artifacts\nend_time: %lld\nentry_point_name: ''\nexperiment_id: '0'\n"
                         "lifecycle_stage: active\nrun_id: %s\nrun_name: %s\nrun_uuid: %s\nsource_name: ''\nsource_type: 4\n"
                         "source_version: ''\nstart_time: %lld\nstatus: %d\ntags: []\nuser_id: %s\n",
                         r->abs_store, r->id, now_ms(), r->id, r->name, r->id, r->start_ms, ok ? 3 : 4, user ? user : "spikeformer");
  char *p = sf_strfmt("%s/meta.yaml", r->dir);
  sf_status st = write_text(p, meta);
  free(p);
  free(meta);
  free(r->dir);
  free(r->abs_store);
  free(r->name);
  free(r);
  return st;
}

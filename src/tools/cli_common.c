#include <cJSON.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "tools/cli.h"

int cli_fail(sf_status st) {
  const char *m = sf_last_error();
  fprintf(stderr, "spikeformer: error: %s\n", *m ? m : sf_status_name(st));
  return 1;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "spikeformer %s: ", cmd);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\nTry 'spikeformer %s --help'.\n", cmd);
  va_end(ap);
  return 2;
}

int cli_opt(int argc, char **argv, int *i, const char *name, const char **val) {
  size_t n = strlen(name);
  if (strncmp(argv[*i], name, n)) return 0;
  if (argv[*i][n] == '=') { *val = argv[*i] + n + 1; return 1; }
  if (argv[*i][n] != 0) return 0;
  if (*i + 1 >= argc) { *val = NULL; return 1; }
  *val = argv[++*i];
  return 1;
}

int cli_flag(char **argv, int i, const char *name) { return !strcmp(argv[i], name); }

int cli_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out) {
  if (!s) return -1;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

int cli_parse_f64(const char *s, double lo, double hi, double *out) {
  if (!s) return -1;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v >= lo && v <= hi)) return -1; /* NaN fails the range test */
  *out = v;
  return 0;
}

sf_status cli_outputs_writable(const char *const *paths, int n) {
  for (int k = 0; k < n; k++) {
    const char *p = paths[k];
    if (!p) continue;
    if (sf_is_dir(p)) return sf_error(SF_ERR_IO, "%s: is a directory; give a file name", p);
    const char *slash = strrchr(p, '/');
    char *dir = slash ? strndup(p, slash == p ? 1 : (size_t)(slash - p)) : strdup(".");
    int ok = dir && sf_is_dir(dir) && access(dir, W_OK) == 0;
    sf_status st = ok ? SF_OK : sf_error(SF_ERR_IO, "%s: cannot write there (folder %s %s)", p, dir ? dir : "?", dir && sf_is_dir(dir) ? "is not writable" : "does not exist");
    free(dir);
    if (st) return st;
  }
  return SF_OK;
}

double cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress_start(cli_progress *p, const char *label, int64_t total) {
  const char *env = getenv("SF_PROGRESS");
  p->label = label;
  p->total = total;
  p->done = 0;
  p->t0 = p->last = cli_now();
  p->enabled = env ? atoi(env) != 0 : isatty(2);
}

void cli_progress_update(cli_progress *p, int64_t done) {
  p->done = done;
  if (!p->enabled) return;
  double now = cli_now();
  if (now - p->last < 0.1 && done < p->total) return;
  p->last = now;
  int width = 30, fill = p->total > 0 ? (int)(width * done / p->total) : width;
  double el = now - p->t0, rate = el > 0 ? (double)done / el : 0, eta = rate > 0 ? (double)(p->total - done) / rate : 0;
  fprintf(stderr, "\r%s [", p->label);
  for (int i = 0; i < width; i++) fputc(i < fill ? '#' : '.', stderr);
  fprintf(stderr, "] %lld/%lld  %.0f/s  ETA %.0fs ", (long long)done, (long long)p->total, rate, eta);
  fflush(stderr);
}

void cli_progress_end(cli_progress *p) {
  if (!p->enabled) return;
  cli_progress_update(p, p->total);
  fprintf(stderr, "  %.2fs\n", cli_now() - p->t0);
}

int cli_common(int argc, char **argv, int *i) {
  const char *v;
  if (cli_opt(argc, argv, i, "--threads", &v)) {
    int64_t n;
    if (cli_parse_i64(v, 0, 1024, &n)) { fprintf(stderr, "spikeformer: --threads needs a whole number from 0 to 1024 (0 = all cores)\n"); exit(2); }
    sf_threads_set((int)n);
    return 1;
  }
  if (cli_opt(argc, argv, i, "--log", &v)) {
    sf_log_level l;
    if (sf_log_parse_level(v, &l)) { fprintf(stderr, "spikeformer: --log takes error, warn, info or debug\n"); exit(2); }
    sf_log_set_level(l);
    return 1;
  }
  return 0;
}

int cli_is_sfm(const char *path) {
  FILE *f = fopen(path, "rb");
  char magic[4] = {0};
  if (!f) return 0;
  size_t n = fread(magic, 1, 4, f);
  fclose(f);
  return n == 4 && !memcmp(magic, "SFM1", 4);
}

sf_status cli_labels_fit(const sf_dataset *ds, int64_t ncls, const char *model_name) {
  if (ncls > 0 && ds->n_classes > ncls)
    return sf_error(SF_ERR_SHAPE, "%s: labels go up to %d, but %s's first output scores %lld classes", ds->source, ds->n_classes - 1, model_name, (long long)ncls);
  return SF_OK;
}

int64_t cli_snn_classes(const sf_snn_model *m) {
  sf_graph *g;
  if (sf_snn_model_build(m, 1, &g)) return 0;
  sf_tensor o = sf_graph_num_outputs(g) > 0 ? sf_graph_output_desc(g, 0) : (sf_tensor){0};
  int64_t ncls = o.ndim >= 1 ? o.shape[o.ndim - 1] : 0;
  sf_graph_free(g);
  return ncls;
}

int64_t cli_count_correct(const sf_tensor *logits, const int32_t *labels, int64_t n) {
  int64_t ncls = logits->shape[logits->ndim - 1], correct = 0;
  const float *p = logits->data;
  for (int64_t b = 0; b < n; b++) {
    int64_t best = 0;
    for (int64_t k = 1; k < ncls; k++) if (p[b * ncls + k] > p[b * ncls + best]) best = k;
    correct += best == labels[b];
  }
  return correct;
}

int64_t cli_mark_correct(const sf_tensor *logits, const int32_t *labels, int64_t n, uint8_t *ok) {
  int64_t ncls = logits->shape[logits->ndim - 1], correct = 0;
  const float *p = logits->data;
  for (int64_t b = 0; b < n; b++) {
    int64_t best = 0;
    for (int64_t k = 1; k < ncls; k++) if (p[b * ncls + k] > p[b * ncls + best]) best = k;
    ok[b] = best == labels[b];
    correct += ok[b];
  }
  return correct;
}

int cli_acc_step(int t, const sf_tensor *decoded, void *user) {
  cli_acc_ctx *c = user;
  if (c->ok) c->correct[t - 1] += cli_mark_correct(decoded, c->labels, c->n, c->ok + (int64_t)(t - 1) * c->ok_stride + c->ok_offset);
  else c->correct[t - 1] += cli_count_correct(decoded, c->labels, c->n);
  return 0;
}

sf_status cli_write_json(const char *path, cJSON *root) {
  char *text = cJSON_Print(root);
  cJSON_Delete(root);
  if (!text) return sf_error(SF_ERR_NOMEM, "out of memory writing %s", path);
  sf_status st = sf_write_file_atomic(path, text, strlen(text));
  free(text);
  return st;
}

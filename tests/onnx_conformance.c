/* Runs the official ONNX backend test cases that Debian ships (libonnx-testdata) through the
 * importer and the float executor, for every case whose ops SpikeFormer supports.
 *   usage: onnx_conformance [--exclusions FILE] [--json FILE] [--min-pass N] DIR...
 * A case is skipped (and counted as such) when the importer reports an op or dtype it does not
 * know. A case whose model imports is supported: it must run and match every output
 * (|a-b| <= atol + rtol*|b|, rtol 1e-3, atol 1e-5; exact for integers and bools). A supported op
 * that refuses a variant at run time ("unsupported": 3-D pooling, training-mode BatchNorm) fails,
 * unless the exclusions file names the case with the reason. Exit status 1 if any supported,
 * non-excluded case fails, or if fewer than N cases pass (a harness that skips everything must
 * not pass). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "graph/graph.h"
#include "io/onnx_tensor.h"
#include "spikeformer/session.h"

typedef struct { char op[64]; int pass, fail, skip, excluded; } op_stat;
static op_stat stats[512];
static int n_stats;

static op_stat *stat_for(const char *op) {
  for (int i = 0; i < n_stats; i++) if (!strcmp(stats[i].op, op)) return &stats[i];
  if (n_stats == 512) return &stats[511];
  snprintf(stats[n_stats].op, sizeof stats[0].op, "%s", op);
  return &stats[n_stats++];
}

static char **excl;
static char **excl_why;
static int n_excl;

static const char *excluded(const char *name) {
  for (int i = 0; i < n_excl; i++) if (!strcmp(excl[i], name)) return excl_why[i];
  return NULL;
}

static void load_exclusions(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) { fprintf(stderr, "cannot read %s\n", path); exit(2); }
  char line[1024];
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#' || line[0] == '\n') continue;
    line[strcspn(line, "\n")] = 0;
    char *sp = strchr(line, ' ');
    if (sp) *sp++ = 0;
    excl = realloc(excl, sizeof(char *) * (size_t)(n_excl + 1));
    excl_why = realloc(excl_why, sizeof(char *) * (size_t)(n_excl + 1));
    excl[n_excl] = sf_strdup(line);
    excl_why[n_excl] = sf_strdup(sp ? sp : "");
    n_excl++;
  }
  fclose(f);
}

static int compare(const sf_tensor *got, const sf_tensor *want, char *why, size_t n) {
  char a[96], b[96];
  if (got->ndim != want->ndim || !sf_tensor_same_shape(got, want)) {
    snprintf(why, n, "shape %s, expected %s", sf_shape_str(got->ndim, got->shape, a, sizeof a), sf_shape_str(want->ndim, want->shape, b, sizeof b));
    return 0;
  }
  int64_t cnt = sf_tensor_numel(want);
  int fl = sf_dtype_is_float(want->dtype);
  for (int64_t i = 0; i < cnt; i++) {
    double x = sf_tensor_get_f(got, i), y = sf_tensor_get_f(want, i);
    if (fl) {
      if (isnan(y) && isnan(x)) continue;
      if (isinf(y) && x == y) continue;
      if (!(fabs(x - y) <= 1e-5 + 1e-3 * fabs(y))) { snprintf(why, n, "element %lld: %.7g, expected %.7g", (long long)i, x, y); return 0; }
    } else if (sf_tensor_get_i(got, i) != sf_tensor_get_i(want, i)) {
      snprintf(why, n, "element %lld: %lld, expected %lld", (long long)i, (long long)sf_tensor_get_i(got, i), (long long)sf_tensor_get_i(want, i));
      return 0;
    }
  }
  return 1;
}

/* returns 1 pass, 0 fail, -1 skipped (an op or dtype the importer does not know), -2 a supported op
 * refused the case at run time */
static int run_case(const char *dir, const char *name, char *op_out, size_t opn, char *why, size_t whyn) {
  char *mp = sf_strfmt("%s/model.onnx", dir);
  sf_graph *g = NULL;
  sf_status st = sf_graph_load_onnx(mp, &g);
  free(mp);
  snprintf(op_out, opn, "%s", "?");
  if (st) {
    snprintf(why, whyn, "%s", sf_last_error());
    return (st == SF_ERR_UNSUPPORTED) ? -1 : 0;
  }
  if (g->n_nodes >= 1) snprintf(op_out, opn, "%s", g->n_nodes == 1 ? g->nodes[0].op_type : "(model)");
  if (strstr(dir, "pytorch-")) snprintf(op_out, opn, "(pytorch model)");
  (void)name;
  int result = 1, any = 0;
  for (int set = 0; set < 16; set++) {
    char *sd = sf_strfmt("%s/test_data_set_%d", dir, set);
    if (!sf_is_dir(sd)) { free(sd); break; }
    any = 1;
    sf_tensor in[32] = {{0}}, out[32] = {{0}};
    int ni = g->n_inputs, no = g->n_outputs;
    if (ni > 32 || no > 32) { free(sd); result = -1; snprintf(why, whyn, "too many inputs"); break; }
    for (int i = 0; i < ni && result == 1; i++) {
      char *p = sf_strfmt("%s/input_%d.pb", sd, i);
      if ((st = sf_onnx_read_tensor_file(p, &in[i], NULL))) { result = st == SF_ERR_UNSUPPORTED ? -1 : 0; snprintf(why, whyn, "%s", sf_last_error()); }
      free(p);
    }
    sf_session *s = NULL;
    if (result == 1 && (st = sf_session_create(g, NULL, &s))) {
      snprintf(why, whyn, "%s", sf_last_error());
      result = (st == SF_ERR_UNSUPPORTED) ? -2 : 0;
    }
    if (result == 1 && (st = sf_session_run(s, in, out))) {
      snprintf(why, whyn, "%s", sf_last_error());
      result = (st == SF_ERR_UNSUPPORTED) ? -2 : 0;
    }
    for (int k = 0; k < no && result == 1; k++) {
      char *p = sf_strfmt("%s/output_%d.pb", sd, k);
      sf_tensor want = {0};
      if ((st = sf_onnx_read_tensor_file(p, &want, NULL))) { result = st == SF_ERR_UNSUPPORTED ? -1 : 0; snprintf(why, whyn, "%s", sf_last_error()); }
      else {
        if (!compare(&out[k], &want, why, whyn)) result = 0;
        sf_tensor_free(&want);
      }
      free(p);
    }
    if (result == 1) for (int k = 0; k < no; k++) sf_tensor_free(&out[k]);
    else if (s) for (int k = 0; k < no; k++) sf_tensor_free(&out[k]);
    for (int i = 0; i < ni; i++) sf_tensor_free(&in[i]);
    sf_session_free(s);
    free(sd);
    if (result != 1) break;
  }
  sf_graph_free(g);
  if (!any) { snprintf(why, whyn, "no test data"); return -1; }
  return result;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv) {
  const char *json = NULL;
  int verbose = 0, failures = 0, total_pass = 0, total_fail = 0, total_skip = 0, total_excl = 0, min_pass = 0;
  FILE *jf = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--exclusions") && i + 1 < argc) { load_exclusions(argv[++i]); continue; }
    if (!strcmp(argv[i], "--json") && i + 1 < argc) { json = argv[++i]; continue; }
    if (!strcmp(argv[i], "-v")) { verbose = 1; continue; }
    if (!strcmp(argv[i], "--min-pass") && i + 1 < argc) { min_pass = atoi(argv[++i]); continue; }
    DIR *d = opendir(argv[i]);
    if (!d) { fprintf(stderr, "onnx_conformance: cannot open %s\n", argv[i]); return 2; }
    char **names = NULL;
    int nn = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
      if (strncmp(e->d_name, "test_", 5)) continue;
      names = realloc(names, sizeof(char *) * (size_t)(nn + 1));
      names[nn++] = sf_strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)nn, sizeof(char *), cmp_str);
    for (int k = 0; k < nn; k++) {
      char *cd = sf_strfmt("%s/%s", argv[i], names[k]);
      char op[64], why[1024] = "";
      int r = run_case(cd, names[k], op, sizeof op, why, sizeof why);
      const char *ex = excluded(names[k]);
      op_stat *s = stat_for(op);
      if (r == -1) { s->skip++; total_skip++; if (verbose) printf("SKIP %s: %s\n", names[k], why); }
      else if (ex) { s->excluded++; total_excl++; if (verbose) printf("EXCL %s (%s): %s\n", names[k], r == 1 ? "passes" : "fails", ex); }
      else if (r == 1) { s->pass++; total_pass++; if (verbose) printf("PASS %s\n", names[k]); }
      else { s->fail++; total_fail++; failures++; printf("FAIL %s [%s]: %s%s\n", names[k], op, r == -2 ? "refused at run time: " : "", why); }
      free(cd);
      free(names[k]);
    }
    free(names);
  }
  printf("\n%-24s %5s %5s %5s %5s\n", "op", "pass", "fail", "excl", "skip");
  for (int i = 0; i < n_stats; i++)
    if (stats[i].pass || stats[i].fail || stats[i].excluded)
      printf("%-24s %5d %5d %5d %5d\n", stats[i].op, stats[i].pass, stats[i].fail, stats[i].excluded, stats[i].skip);
  printf("\nsupported cases: %d passed, %d failed, %d excluded; %d cases skipped (unsupported ops/dtypes)\n", total_pass,
         total_fail, total_excl, total_skip);
  if (json && (jf = fopen(json, "w"))) {
    fprintf(jf, "{\"passed\": %d, \"failed\": %d, \"excluded\": %d, \"skipped\": %d, \"ops\": {", total_pass, total_fail, total_excl, total_skip);
    int first = 1;
    for (int i = 0; i < n_stats; i++)
      if (stats[i].pass || stats[i].fail || stats[i].excluded) {
        fprintf(jf, "%s\"%s\": {\"pass\": %d, \"fail\": %d, \"excluded\": %d}", first ? "" : ", ", stats[i].op, stats[i].pass, stats[i].fail, stats[i].excluded);
        first = 0;
      }
    fprintf(jf, "}}\n");
    fclose(jf);
  }
  for (int i = 0; i < n_excl; i++) { free(excl[i]); free(excl_why[i]); }
  free(excl);
  free(excl_why);
  if (total_pass < min_pass) {
    printf("FAIL: %d cases passed, fewer than the %d required (--min-pass): cases that used to pass are skipped or gone\n", total_pass, min_pass);
    return 1;
  }
  return failures ? 1 : 0;
}

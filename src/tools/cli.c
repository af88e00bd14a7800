/* The option parser and help of every subcommand (from its option table), and the helpers the
 * commands share. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Options every command takes besides its own. */
typedef struct {
  int64_t threads;
  const char *log;
  int help;
} common_args;
static const cli_option common[] = {
    {.name = "--threads", .kind = CLI_INT, .arg = "N", .offset = offsetof(common_args, threads), .help = "threads for SpikeFormer's kernels and OpenBLAS (default: all cores)", .hi = 1024, .range_text = "a whole number from 0 to 1024 (0 = all cores)"},
    {.name = "--log", .kind = CLI_CHOICE, .arg = "LEVEL", .offset = offsetof(common_args, log), .help = "log level: error, warn (default), info or debug", .choices = (const char *const[]){"error", "warn", "info", "debug", NULL}},
    {.name = "--help", .alias = "-h", .kind = CLI_FLAG, .offset = offsetof(common_args, help), .help = "this help"},
    {.name = NULL}};

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

double cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cli_is_sfm(const char *path) { return sf_file_is_sfm(path); }

sf_status cli_write_text(const char *path, char *text) {
  /* under mpirun every rank holds the same figures: rank 0 writes them */
  sf_status st = !text || sf_dist_rank() == 0 ? sf_write_text_file(path, text) : SF_OK;
  free(text);
  return st;
}

/* ---- help ---- */

static void help_options(FILE *f, const cli_option *opts) {
  for (const cli_option *o = opts; o && o->name; o++) {
    char left[64];
    if (o->alias) snprintf(left, sizeof left, "%s, %s%s%s", o->alias, o->name, o->arg ? " " : "", o->arg ? o->arg : "");
    else snprintf(left, sizeof left, "%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
    fprintf(f, "  %-24s ", left);
    if (strlen(left) > 24) fprintf(f, "\n  %-24s ", "");
    /* wrap the help at about 100 columns, indented under itself */
    const char *h = o->help ? o->help : "";
    int col = 27, first = 1;
    while (*h) {
      while (*h == ' ') h++;
      const char *sp = h;
      while (*sp && *sp != ' ') sp++;
      int w = (int)(sp - h);
      if (!w) break;
      if (!first && col + 1 + w > 104) { fprintf(f, "\n  %-24s ", ""); col = 27; }
      else if (!first) { fputc(' ', f); col++; }
      fprintf(f, "%.*s", w, h);
      col += w;
      first = 0;
      h = sp;
    }
    fputc('\n', f);
  }
}

void cli_help(const cli_command *cmd, FILE *f) {
  fprintf(f, "usage: spikeformer %s %s\n\n%s\n", cmd->name, cmd->usage, cmd->description);
  if (cmd->options && cmd->options->name) {
    fprintf(f, "\noptions:\n");
    help_options(f, cmd->options);
  }
  fprintf(f, "\ncommon options:\n");
  help_options(f, common);
}

/* ---- parsing ---- */

static int parse_i64(const char *s, double lo, double hi, int64_t *out) {
  if (!s) return -1;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || (double)v < lo || (double)v > hi) return -1;
  *out = v;
  return 0;
}

static int parse_f64(const char *s, double lo, double hi, double *out) {
  if (!s) return -1;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v >= lo && v <= hi)) return -1; /* NaN fails the range test */
  *out = v;
  return 0;
}

static int range_error(const cli_command *cmd, const cli_option *o, int whole) {
  if (o->range_text) return cli_usage_error(cmd->name, "%s takes %s", o->name, o->range_text);
  if (whole && o->hi >= 9.0e18) return cli_usage_error(cmd->name, "%s needs a whole number of at least %.0f", o->name, o->lo);
  if (whole) return cli_usage_error(cmd->name, "%s needs a whole number from %.0f to %.0f", o->name, o->lo, o->hi);
  return cli_usage_error(cmd->name, "%s takes a number from %g to %g", o->name, o->lo, o->hi);
}

static const cli_option *match(const cli_option *opts, const char *arg, const char **inline_value) {
  for (const cli_option *o = opts; o && o->name; o++) {
    const char *names[2] = {o->name, o->alias};
    for (int k = 0; k < 2; k++) {
      if (!names[k]) continue;
      size_t n = strlen(names[k]);
      if (strncmp(arg, names[k], n)) continue;
      if (arg[n] == 0) { *inline_value = NULL; return o; }
      if (arg[n] == '=' && o->kind != CLI_FLAG) { *inline_value = arg + n + 1; return o; }
    }
  }
  return NULL;
}

/* Store value into the option's place; returns 0 or a usage-error exit status. */
static int apply(const cli_command *cmd, const cli_option *o, const char *v, char *args) {
  void *at = args + o->offset;
  switch (o->kind) {
    case CLI_FLAG: *(int *)at = 1; return 0;
    case CLI_STR: *(const char **)at = v; return 0;
    case CLI_INT: {
      int64_t x;
      if (parse_i64(v, o->lo, o->hi, &x)) return range_error(cmd, o, 1);
      *(int64_t *)at = x;
      return 0;
    }
    case CLI_NUM: {
      double x;
      if (parse_f64(v, o->lo, o->hi, &x)) return range_error(cmd, o, 0);
      *(double *)at = x;
      return 0;
    }
    case CLI_CHOICE: {
      for (int k = 0; o->choices[k]; k++)
        if (!strcmp(v, o->choices[k])) { *(const char **)at = o->choices[k]; return 0; }
      char list[256] = "";
      for (int k = 0; o->choices[k]; k++) {
        if (k) strncat(list, o->choices[k + 1] ? ", " : " or ", sizeof list - strlen(list) - 1);
        strncat(list, o->choices[k], sizeof list - strlen(list) - 1);
      }
      return cli_usage_error(cmd->name, "%s takes %s, not '%s'", o->name, list, v);
    }
    case CLI_LIST: {
      cli_list *l = at;
      if (l->n == CLI_MAX_LIST) return cli_usage_error(cmd->name, "%s given more than %d times", o->name, CLI_MAX_LIST);
      l->v[l->n++] = v;
      return 0;
    }
    case CLI_CONFIG: {
      sf_spiking_config *c = at;
      sf_status st;
      if (!strcmp(o->key, "@")) st = sf_config_load_json(c, v);
      else if (!strcmp(o->key, "=")) {
        const char *eq = strchr(v, '=');
        if (!eq) return cli_usage_error(cmd->name, "%s needs KEY=VALUE", o->name);
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)(eq - v), v);
        st = sf_config_set(c, key, eq + 1);
      } else {
        st = sf_config_set(c, o->key, v);
      }
      return st ? cli_fail(st) : 0;
    }
  }
  return 0;
}

int cli_given(const void *args, const char *name) {
  const cli_head *h = args;
  int i = 0;
  for (const cli_option *o = h->cmd->options; o && o->name; o++, i++)
    if (!strcmp(o->name, name)) return (int)((h->given >> i) & 1);
  return 0;
}

int cli_main(const cli_command *cmd, int argc, char **argv) {
  char *args = calloc(1, cmd->args_size);
  if (!args) return cli_fail(sf_error(SF_ERR_NOMEM, "out of memory"));
  cli_head *head = (cli_head *)args;
  head->cmd = cmd;
  if (cmd->defaults) cmd->defaults(args);
  /* --help anywhere wins over everything else */
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      cli_help(cmd, stdout);
      free(args);
      return 0;
    }
  int rc = 0, only_positional = 0;
  common_args com = {-1, NULL, 0};
  for (int i = 1; i < argc && !rc; i++) {
    const char *a = argv[i], *v = NULL;
    if (only_positional || a[0] != '-' || !a[1]) {
      if (head->n_pos == cmd->max_pos || head->n_pos == CLI_MAX_POS)
        rc = cli_usage_error(cmd->name, cmd->max_pos ? "more than one %s given ('%s')" : "takes no %s ('%s')", cmd->pos_name ? cmd->pos_name : "argument", a);
      else head->pos[head->n_pos++] = a;
      continue;
    }
    if (!strcmp(a, "--")) { only_positional = 1; continue; }
    const cli_option *o = match(cmd->options, a, &v), *c = o ? NULL : match(common, a, &v);
    if (!o && !c) { rc = cli_usage_error(cmd->name, "unknown option '%s'", a); break; }
    const cli_option *which = o ? o : c;
    if (which->kind != CLI_FLAG && !v) {
      if (i + 1 >= argc) { rc = cli_usage_error(cmd->name, "%s needs a value (%s)", which->name, which->arg ? which->arg : "VALUE"); break; }
      v = argv[++i];
    }
    if (o) head->given |= (uint64_t)1 << (o - cmd->options);
    rc = apply(cmd, which, v, o ? args : (char *)&com);
  }
  if (!rc && com.threads >= 0) sf_threads_set((int)com.threads);
  if (!rc && com.log) {
    sf_log_level l;
    if (!sf_log_parse_level(com.log, &l)) sf_log_set_level(l);
  }
  if (!rc && head->n_pos < cmd->min_pos) rc = cli_usage_error(cmd->name, "missing %s", cmd->pos_name ? cmd->pos_name : "argument");
  if (!rc) rc = cmd->run(args);
  free(args);
  return rc;
}

/* ---- progress ---- */

void cli_progress_fn(const char *what, int64_t done, int64_t total, void *user) {
  cli_progress *p = user;
  if (!p->started || p->label != what) {
    const char *env = getenv("SF_PROGRESS");
    if (p->started) cli_progress_end(p);
    p->label = what;
    p->t0 = p->last = cli_now();
    p->enabled = env ? atoi(env) != 0 : isatty(2);
    p->started = 1;
  }
  p->total = total;
  p->done = done;
  if (!p->enabled) return;
  double now = cli_now();
  if (now - p->last < 0.1 && done < total) return;
  p->last = now;
  int width = 30, fill = total > 0 ? (int)(width * done / total) : width;
  double el = now - p->t0, rate = el > 0 ? (double)done / el : 0, eta = rate > 0 ? (double)(total - done) / rate : 0;
  fprintf(stderr, "\r%s [", what);
  for (int i = 0; i < width; i++) fputc(i < fill ? '#' : '.', stderr);
  fprintf(stderr, "] %lld/%lld  %.0f/s  ETA %.0fs ", (long long)done, (long long)total, rate, eta);
  fflush(stderr);
}

void cli_progress_end(cli_progress *p) {
  if (!p->started) return;
  p->started = 0;
  if (!p->enabled) return;
  fprintf(stderr, "  %.2fs\n", cli_now() - p->t0);
}

sf_status cli_backend_opts(const sf_backend *b, void *target, const cli_list *opts) {
  for (int i = 0; i < opts->n; i++) {
    const char *kv = opts->v[i], *eq = strchr(kv, '=');
    if (!eq || eq == kv) return sf_error(SF_ERR_ARG, "--backend-opt takes KEY=VALUE, not '%s'", kv);
    char key[128];
    snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
    sf_status st = sf_backend_target_set(b, target, key, eq + 1);
    if (st) return st;
  }
  return SF_OK;
}

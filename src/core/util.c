#include "core/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

sf_status sf_read_file(const char *path, char **data, size_t *size) {
  *data = NULL;
  *size = 0;
  struct stat sb;
  if (stat(path, &sb) != 0) return sf_error(SF_ERR_IO, "%s: %s", path, strerror(errno));
  if (S_ISDIR(sb.st_mode)) return sf_error(SF_ERR_IO, "%s: is a directory, expected a file", path);
  FILE *f = fopen(path, "rb");
  if (!f) return sf_error(SF_ERR_IO, "%s: %s", path, strerror(errno));
  size_t cap = sb.st_size > 0 ? (size_t)sb.st_size : 4096, n = 0;
  char *buf = malloc(cap + 1);
  if (!buf) { fclose(f); return sf_error(SF_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, cap); }
  for (;;) {
    size_t r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (n < cap) break;
    char *nb = realloc(buf, cap * 2 + 1);
    if (!nb) { free(buf); fclose(f); return sf_error(SF_ERR_NOMEM, "%s: out of memory", path); }
    buf = nb;
    cap *= 2;
  }
  int err = ferror(f);
  fclose(f);
  if (err) { free(buf); return sf_error(SF_ERR_IO, "%s: read error", path); }
  buf[n] = 0;
  *data = buf;
  *size = n;
  return SF_OK;
}

int sf_is_dir(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int sf_file_exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

char *sf_strdup(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

char *sf_strfmt(const char *fmt, ...) {
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (s) vsnprintf(s, (size_t)n + 1, fmt, ap2);
  va_end(ap2);
  return s;
}

int strcasecmp_ascii(const char *a, const char *b) {
  for (;; a++, b++) {
    int ca = tolower((unsigned char)*a), cb = tolower((unsigned char)*b);
    if (ca != cb || !ca) return ca - cb;
  }
}

int sf_str_ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

sf_status sf_outfile_open(sf_outfile *o, const char *path) {
  memset(o, 0, sizeof *o);
  o->path = sf_strdup(path);
  o->tmp = sf_strfmt("%s.tmp.%ld", path, (long)getpid());
  if (!o->path || !o->tmp) { sf_outfile_abort(o); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  o->f = fopen(o->tmp, "wb");
  if (!o->f) {
    sf_status st = sf_error(SF_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    free(o->path); free(o->tmp);
    o->path = o->tmp = NULL;
    return st;
  }
  return SF_OK;
}

sf_status sf_outfile_commit(sf_outfile *o) {
  int bad = ferror(o->f);
  if (fclose(o->f) != 0) bad = 1;
  o->f = NULL;
  if (bad) {
    sf_status st = sf_error(SF_ERR_IO, "%s: write failed", o->path);
    sf_outfile_abort(o);
    return st;
  }
  if (rename(o->tmp, o->path) != 0) {
    sf_status st = sf_error(SF_ERR_IO, "%s: cannot rename into place: %s", o->path, strerror(errno));
    sf_outfile_abort(o);
    return st;
  }
  free(o->path); free(o->tmp);
  o->path = o->tmp = NULL;
  return SF_OK;
}

void sf_outfile_abort(sf_outfile *o) {
  if (o->f) fclose(o->f);
  if (o->tmp) unlink(o->tmp);
  free(o->path); free(o->tmp);
  memset(o, 0, sizeof *o);
}

sf_status sf_write_file_atomic(const char *path, const void *data, size_t size) {
  sf_outfile o;
  sf_status st = sf_outfile_open(&o, path);
  if (st) return st;
  if (size && fwrite(data, 1, size, o.f) != size) {
    sf_outfile_abort(&o);
    return sf_error(SF_ERR_IO, "%s: write failed", path);
  }
  return sf_outfile_commit(&o);
}

sf_status sf_mkdir_p(const char *path) {
  char *p = sf_strdup(path);
  if (!p) return sf_error(SF_ERR_NOMEM, "out of memory");
  for (char *s = p + 1; ; s++) {
    if (*s == '/' || *s == 0) {
      char c = *s;
      *s = 0;
      if (mkdir(p, 0777) != 0 && errno != EEXIST) {
        sf_status st = sf_error(SF_ERR_IO, "%s: cannot create directory: %s", p, strerror(errno));
        free(p);
        return st;
      }
      *s = c;
      if (!c) break;
    }
  }
  free(p);
  if (!sf_is_dir(path)) return sf_error(SF_ERR_IO, "%s: exists and is not a directory", path);
  return SF_OK;
}

int sf_whole_in(double x, double lo, double hi) { return x >= lo && x <= hi && x == floor(x); }

double sf_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

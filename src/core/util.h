/* Internal helpers: files, strings, atomic output. */
#ifndef SF_CORE_UTIL_H
#define SF_CORE_UTIL_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "spikeformer/status.h"

/* Read a whole file (NUL-terminated copy). Errors name the path. */
sf_status sf_read_file(const char *path, char **data, size_t *size);
int sf_is_dir(const char *path);
int sf_file_exists(const char *path);
char *sf_strdup(const char *s);
char *sf_strfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int strcasecmp_ascii(const char *a, const char *b);
int sf_str_ends_with(const char *s, const char *suffix);
/* 1 if x is a whole number in [lo, hi] (NaN is not): a value read from a file before it becomes an
 * integer, where converting a float that does not fit is undefined */
int sf_whole_in(double x, double lo, double hi);

/* Atomic output: write to "<path>.tmp.<pid>", then rename over <path> on commit. On abort (or on any
 * failure) the temporary is removed and <path> is untouched. */
typedef struct {
  FILE *f;
  char *path, *tmp;
} sf_outfile;
sf_status sf_outfile_open(sf_outfile *o, const char *path);
sf_status sf_outfile_commit(sf_outfile *o);
void sf_outfile_abort(sf_outfile *o);
/* Write a buffer atomically. */
sf_status sf_write_file_atomic(const char *path, const void *data, size_t size);

/* Seconds on a monotonic clock. */
double sf_now(void);

/* Make a directory (and parents). */
sf_status sf_mkdir_p(const char *path);

#endif

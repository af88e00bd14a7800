#include "spikeformer/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define SF_ERRBUF 2048
static _Thread_local char g_err[SF_ERRBUF];

sf_status sf_error(sf_status code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g_err, sizeof g_err, fmt, ap);
  va_end(ap);
  return code;
}

sf_status sf_error_context(sf_status code, const char *fmt, ...) {
  char prefix[SF_ERRBUF], old[SF_ERRBUF];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, g_err, sizeof old);
  size_t n = strlen(prefix);
  /* the message already says where ("PATH: ..."): once is enough */
  if (n > 0 && !strncmp(old, prefix, n) && old[n] == ':') return code;
  if (n > SF_ERRBUF - 3) n = SF_ERRBUF - 3;
  memcpy(g_err, prefix, n);
  memcpy(g_err + n, ": ", 2);
  size_t m = strlen(old);
  if (m > SF_ERRBUF - n - 3) m = SF_ERRBUF - n - 3;
  memcpy(g_err + n + 2, old, m);
  g_err[n + 2 + m] = 0;
  return code;
}

const char *sf_last_error(void) { return g_err; }
void sf_clear_error(void) { g_err[0] = 0; }

const char *sf_status_name(sf_status s) {
  switch (s) {
    case SF_OK: return "ok";
    case SF_ERR_IO: return "i/o error";
    case SF_ERR_FORMAT: return "format error";
    case SF_ERR_UNSUPPORTED: return "unsupported";
    case SF_ERR_SHAPE: return "shape error";
    case SF_ERR_VALUE: return "value error";
    case SF_ERR_ARG: return "argument error";
    case SF_ERR_NOMEM: return "out of memory";
    case SF_ERR_INTERNAL: return "internal error";
    case SF_ERR_INTERRUPTED: return "interrupted";
  }
  return "unknown error";
}

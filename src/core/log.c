#include "spikeformer/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <stdatomic.h>

/* the level, from SF_LOG once (thread-safe), or as set */
static atomic_int g_level = -1;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void init_level(void) {
  sf_log_level l = SF_LOG_WARN;
  const char *env = getenv("SF_LOG");
  if (env) sf_log_parse_level(env, &l);
  int unset = -1;
  atomic_compare_exchange_strong(&g_level, &unset, (int)l); /* a level set before this wins */
}

int sf_log_parse_level(const char *name, sf_log_level *out) {
  static const char *names[] = {"error", "warn", "info", "debug"};
  for (int i = 0; i < 4; i++)
    if (name && strcmp(name, names[i]) == 0) { *out = (sf_log_level)i; return 0; }
  return -1;
}

sf_log_level sf_log_get_level(void) {
  pthread_once(&g_once, init_level);
  return (sf_log_level)atomic_load_explicit(&g_level, memory_order_relaxed);
}

void sf_log_set_level(sf_log_level level) {
  pthread_once(&g_once, init_level);
  atomic_store(&g_level, (int)level);
}

void sf_log(sf_log_level level, const char *fmt, ...) {
  static const char *tags[] = {"error", "warning", "info", "debug"};
  if ((int)level > (int)sf_log_get_level()) return;
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "spikeformer: %s: ", tags[level]);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

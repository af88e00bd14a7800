#include "spikeformer/threads.h"

#include <omp.h>
#include <stdlib.h>
#include <strings.h>

void openblas_set_num_threads(int num_threads); /* from OpenBLAS */

static int g_threads = 0;

void sf_threads_set(int n) {
  if (n <= 0) n = omp_get_num_procs();
  g_threads = n;
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

void sf_blas_threads_set(int n) { openblas_set_num_threads(n > 0 ? n : 1); }

int sf_threads_get(void) { return g_threads > 0 ? g_threads : omp_get_max_threads(); }

char *openblas_get_corename(void); /* from OpenBLAS */

const char *sf_blas_core(void) {
  const char *c = openblas_get_corename();
  return c ? c : "unknown";
}

const char *sf_blas_better_core(void) {
  const char *env = getenv("OPENBLAS_CORETYPE");
  if (env && *env) return NULL;
  const char *c = sf_blas_core();
  const int generic = !strcasecmp(c, "Prescott") || !strcasecmp(c, "Core2") || !strcasecmp(c, "Nehalem") || !strcasecmp(c, "Katmai") ||
                      !strcasecmp(c, "Coppermine") || !strcasecmp(c, "Northwood");
  /* AVX2 kernels (OpenBLAS 0.3.21 runs AMD's AVX-512 CPUs, Zen 4 and later, as "Zen" = Haswell) */
  const int avx2 = !strcasecmp(c, "Haswell") || !strcasecmp(c, "Zen");
  if (!generic && !avx2) return NULL;
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq"))
    return "SkylakeX";
  if (generic && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
  return NULL;
}

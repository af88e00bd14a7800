/* The CPU-feature module (see cpu.h): detects the instruction sets once, reads SF_ISA once, and
 * holds the level every kernel family dispatches on.
 * The first call from any thread runs the detection and the SF_ISA rule under pthread_once; the
 * level then lives in an atomic int that the kernels load (relaxed) at each call, and that only
 * sf_cpu_force_isa writes afterwards. Nothing here is written from inside a parallel loop. */
#include "spikeformer/cpu.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "spikeformer/log.h"

static const char *const g_names[] = {"c", "avx2", "avx512", "avx512-vnni"};
#define N_LEVELS ((int)(sizeof g_names / sizeof g_names[0]))

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static sf_isa g_max = SF_ISA_C;  /* written once, inside g_once */
static atomic_int g_level = -1;  /* -1 until g_once has run */

static sf_isa detect(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  /* (libgcc's and compiler-rt's checks include the operating system's support for the AVX and
   * AVX-512 register state) */
  if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) return SF_ISA_C;
  if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq")))
    return SF_ISA_AVX2;
  if (!__builtin_cpu_supports("avx512vnni")) return SF_ISA_AVX512;
  return SF_ISA_AVX512_VNNI;
#else
  return SF_ISA_C;
#endif
}

/* sf_isa_parse with the CPU's maximum given (for use inside the one-time initialisation) */
static int parse_name(const char *name, sf_isa max, sf_isa *out) {
  if (!name) return -1;
  if (strcmp(name, "native") == 0) { *out = max; return 0; }
  for (int i = 0; i < N_LEVELS; i++)
    if (strcmp(name, g_names[i]) == 0) { *out = (sf_isa)i; return 0; }
  return -1;
}

static void init(void) {
  const sf_isa max = detect();
  sf_isa level = max;
  const char *env = getenv("SF_ISA");
  if (env && *env) {
    sf_isa want;
    if (parse_name(env, max, &want) != 0)
      SF_LOGW("SF_ISA=%s is not an instruction set (c, avx2, avx512, avx512-vnni or native): ignored, the kernels use %s", env, g_names[max]);
    else if (want > max)
      SF_LOGI("SF_ISA=%s: this CPU supports up to %s, the kernels use %s", env, g_names[max], g_names[max]);
    else level = want;
  }
  g_max = max;
  atomic_store_explicit(&g_level, (int)level, memory_order_relaxed);
}

sf_isa sf_cpu_isa_max(void) {
  pthread_once(&g_once, init);
  return g_max;
}

sf_isa sf_cpu_isa(void) {
  int l = atomic_load_explicit(&g_level, memory_order_relaxed);
  if (l < 0) {
    pthread_once(&g_once, init);
    l = atomic_load_explicit(&g_level, memory_order_relaxed);
  }
  return (sf_isa)l;
}

const char *sf_isa_name(sf_isa level) { return (int)level >= 0 && (int)level < N_LEVELS ? g_names[level] : "?"; }

int sf_isa_parse(const char *name, sf_isa *out) {
  if (name && strcmp(name, "native") == 0) return parse_name(name, sf_cpu_isa_max(), out);
  return parse_name(name, SF_ISA_C, out);
}

sf_status sf_cpu_force_isa(sf_isa level) {
  if ((int)level < 0 || (int)level >= N_LEVELS) return sf_error(SF_ERR_ARG, "sf_cpu_force_isa: %d is not an instruction-set level", (int)level);
  const sf_isa max = sf_cpu_isa_max();
  if (level > max)
    return sf_error(SF_ERR_ARG, "sf_cpu_force_isa: %s is above what this CPU supports (%s)", sf_isa_name(level), sf_isa_name(max));
  atomic_store_explicit(&g_level, (int)level, memory_order_relaxed);
  return SF_OK;
}

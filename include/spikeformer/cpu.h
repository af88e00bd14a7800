/* The instruction-set level SpikeFormer's kernels run at: what this CPU supports, and the level in
 * use, which every kernel family reads at each call (so a change takes effect at once).
 * The level starts as min(what the CPU supports, the SF_ISA environment variable): one of c, avx2,
 * avx512, avx512-vnni or native (unset or empty: native; any other value is reported once as a
 * warning and ignored). SF_ISA is read once, on the first call into this module from any thread. */
#ifndef SPIKEFORMER_CPU_H
#define SPIKEFORMER_CPU_H
#include "spikeformer/export.h"
#include "spikeformer/status.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Levels, each a superset of the one before:
 *   SF_ISA_C            portable C
 *   SF_ISA_AVX2         AVX2 + FMA
 *   SF_ISA_AVX512       AVX-512 F, BW, VL and DQ
 *   SF_ISA_AVX512_VNNI  the above and AVX-512 VNNI (the int8 kernels' 512-bit code needs it; below
 *                       it they run their AVX2 or C code) */
typedef enum { SF_ISA_C = 0, SF_ISA_AVX2, SF_ISA_AVX512, SF_ISA_AVX512_VNNI } sf_isa;

/* The highest level this CPU (and its operating system) supports. */
SF_API sf_isa sf_cpu_isa_max(void);
/* The level the kernels use now (cheap: one relaxed atomic load once initialised). */
SF_API sf_isa sf_cpu_isa(void);
/* "c", "avx2", "avx512", "avx512-vnni" ("?" for a value that is not a level). */
SF_API const char *sf_isa_name(sf_isa level);
/* A level from its name (the names above, or "native": sf_cpu_isa_max()). 0 on success, -1 for
 * an unknown name (*out is left as it is). */
SF_API int sf_isa_parse(const char *name, sf_isa *out);
/* Use `level` from now on, for every thread (a test hook, and for comparing levels). It must not
 * exceed sf_cpu_isa_max() (SF_ERR_ARG, naming both levels). Call it while no run is in flight: a
 * kernel already running finishes at the level it started with, but a run whose kernels change
 * level part-way may mix results. */
SF_API sf_status sf_cpu_force_isa(sf_isa level);

#ifdef __cplusplus
}
#endif
#endif

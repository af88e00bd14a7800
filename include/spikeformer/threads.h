/* Thread count for SpikeFormer's own kernels (OpenMP) and for OpenBLAS. */
#ifndef SPIKEFORMER_THREADS_H
#define SPIKEFORMER_THREADS_H
#include "spikeformer/export.h"
#ifdef __cplusplus
extern "C" {
#endif

/* n <= 0 selects the number of available cores. */
SF_API void sf_threads_set(int n);
SF_API int sf_threads_get(void);
/* OpenBLAS's own thread count alone (SpikeFormer's OpenMP kernels keep theirs). */
SF_API void sf_blas_threads_set(int n);

/* The OpenBLAS kernel family in use (e.g. "SkylakeX", "Haswell", "Prescott"). */
SF_API const char *sf_blas_core(void);
/* OpenBLAS 0.3.21 (Debian 12) does not recognise recent Xeons and falls back to its SSE3
 * "Prescott" kernels, about 3x slower than its AVX-512 ones on such a CPU; it runs AMD's AVX-512
 * CPUs with its AVX2 "Zen" (Haswell) kernels, half the speed of its SkylakeX ones on this
 * project's EPYC (sgemm 1024x256x512: 104 against 206 GFLOP/s, one thread). Returns the core type
 * to request with OPENBLAS_CORETYPE (read when the library loads), or NULL when the one in use
 * already matches the CPU or OPENBLAS_CORETYPE is set. */
SF_API const char *sf_blas_better_core(void);

#ifdef __cplusplus
}
#endif
#endif

/* Vectorised float functions over arrays: glibc's libmvec (AVX-512 or AVX2 variants, at most 4 ulp)
 * where the CPU has them, the scalar libm functions otherwise (or with SF_ISA=c). Every element,
 * including a tail shorter than one vector, goes through the same function, so a result never
 * depends on how an array was split between threads. */
#ifndef SF_CORE_VMATH_H
#define SF_CORE_VMATH_H
#include <stdint.h>

/* y[i] = exp(x[i]) for i < n (y may equal x) */
void sf_vexp(float *y, const float *x, int64_t n);
/* y[i] = erf(x[i]) */
void sf_verf(float *y, const float *x, int64_t n);
/* y[i] = x[i] / 2 * (1 + erf(x[i] / sqrt 2)): exact (erf) GELU */
void sf_vgelu(float *y, const float *x, int64_t n);
/* "avx512", "avx2" or "scalar" */
const char *sf_vmath_isa(void);

#endif

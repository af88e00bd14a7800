/* Vectorised exp / erf / GELU over arrays (see vmath.h). */
#include "core/vmath.h"

#include "spikeformer/cpu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { VM_SCALAR = 0, VM_AVX2 = 1, VM_AVX512 = 2 };

#if defined(__x86_64__) && defined(SF_HAVE_MVEC)
#include <immintrin.h>
/* glibc libmvec entry points (vector function ABI names) */
extern __m512 _ZGVeN16v_expf(__m512) __attribute__((target("avx512f")));
extern __m512 _ZGVeN16v_erff(__m512) __attribute__((target("avx512f")));
extern __m256 _ZGVdN8v_expf(__m256) __attribute__((target("avx2")));
extern __m256 _ZGVdN8v_erff(__m256) __attribute__((target("avx2")));
#endif

/* the level of the one CPU-feature module (cpu.h), read at each call */
static int vm_isa(void) {
#if defined(__x86_64__) && defined(SF_HAVE_MVEC)
  const sf_isa l = sf_cpu_isa();
  return l >= SF_ISA_AVX512 ? VM_AVX512 : l == SF_ISA_AVX2 ? VM_AVX2 : VM_SCALAR;
#else
  return VM_SCALAR;
#endif
}

const char *sf_vmath_isa(void) {
  int k = vm_isa();
  return k == VM_AVX512 ? "avx512" : k == VM_AVX2 ? "avx2" : "scalar";
}

typedef enum { F_EXP, F_ERF, F_GELU } vfun;

#if defined(__x86_64__) && defined(SF_HAVE_MVEC)
/* 16 lanes; a short tail is padded so that it takes the same path as a full vector */
__attribute__((target("avx512f"))) static void run_512(float *y, const float *x, int64_t n, vfun f) {
  const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f), rs2 = _mm512_set1_ps(0.70710678118654752f);
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 m = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
    __m512 v = _mm512_maskz_loadu_ps(m, x + i), r;
    if (f == F_EXP) r = _ZGVeN16v_expf(v);
    else if (f == F_ERF) r = _ZGVeN16v_erff(v);
    else r = _mm512_mul_ps(_mm512_mul_ps(half, v), _mm512_add_ps(one, _ZGVeN16v_erff(_mm512_mul_ps(v, rs2))));
    _mm512_mask_storeu_ps(y + i, m, r);
  }
}

__attribute__((target("avx2,fma"))) static void run_256(float *y, const float *x, int64_t n, vfun f) {
  const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f), rs2 = _mm256_set1_ps(0.70710678118654752f);
  for (int64_t i = 0; i < n; i += 8) {
    float tmp[8] = {0};
    int full = n - i >= 8;
    __m256 v = full ? _mm256_loadu_ps(x + i) : (memcpy(tmp, x + i, sizeof(float) * (size_t)(n - i)), _mm256_loadu_ps(tmp)), r;
    if (f == F_EXP) r = _ZGVdN8v_expf(v);
    else if (f == F_ERF) r = _ZGVdN8v_erff(v);
    else r = _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, _ZGVdN8v_erff(_mm256_mul_ps(v, rs2))));
    if (full) _mm256_storeu_ps(y + i, r);
    else {
      _mm256_storeu_ps(tmp, r);
      memcpy(y + i, tmp, sizeof(float) * (size_t)(n - i));
    }
  }
}
#endif

static void run(float *y, const float *x, int64_t n, vfun f) {
  if (n <= 0) return;
#if defined(__x86_64__) && defined(SF_HAVE_MVEC)
  int k = vm_isa();
  if (k == VM_AVX512) { run_512(y, x, n, f); return; }
  if (k == VM_AVX2) { run_256(y, x, n, f); return; }
#endif
  for (int64_t i = 0; i < n; i++) {
    float v = x[i];
    y[i] = f == F_EXP ? expf(v) : f == F_ERF ? erff(v) : 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
  }
}

void sf_vexp(float *y, const float *x, int64_t n) { run(y, x, n, F_EXP); }
void sf_verf(float *y, const float *x, int64_t n) { run(y, x, n, F_ERF); }
void sf_vgelu(float *y, const float *x, int64_t n) { run(y, x, n, F_GELU); }

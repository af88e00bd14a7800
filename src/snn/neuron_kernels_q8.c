/* int32-membrane neurons of the int8 runtime (see neuron_kernels_q8.h): a general kernel (any
 * levels, leak, int or float currents) and binary integrate-and-fire neurons; AVX-512 and portable
 * C, identical results. */
#include "snn/neuron_kernels_q8.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "snn/q8_isa.h"

static int64_t neuron_block_c(const int32_t *xa, const float *xf, int32_t *v, int8_t *kq, float *y, const int32_t *Th, const float *iTh,
                              const float *iu, const float *th, int64_t len, float leak, int lo, int K, int64_t *nz) {
  int64_t spikes = 0, z = 0;
  const float flo = (float)(lo - 1), fhi = (float)(K + 1);
  for (int64_t j = 0; j < len; j++) {
    int32_t in;
    if (xa) in = xa[j];
    else {
      float f = xf[j] * iu[j];
      f = f > 1e9f ? 1e9f : f < -1e9f ? -1e9f : f;
      in = (int32_t)floorf(f + 0.5f);
    }
    int32_t vv = leak != 1.0f ? (int32_t)floorf(leak * (float)v[j] + 0.5f) : v[j];
    int32_t u = vv + in, T1 = Th[j];
    float kf = floorf((float)u * iTh[j]);
    kf = kf < flo ? flo : kf > fhi ? fhi : kf;
    int32_t k = (int32_t)kf;
    int32_t r = u - k * T1;
    k += (r >= T1) - (r < 0);
    k = k < lo ? lo : k > K ? K : k;
    int32_t nv = u - k * T1;
    v[j] = nv > (1 << 30) ? (1 << 30) : nv < -(1 << 30) ? -(1 << 30) : nv;
    kq[j] = (int8_t)k;
    if (y) y[j] = (float)k * th[j];
    spikes += k < 0 ? -k : k;
    z += k != 0;
  }
  *nz = z;
  return spikes;
}

#if defined(__x86_64__)
enum { NB_K1, NB_SHIFT, NB_COMPARE, NB_DIVIDE }; /* how floor(u / Th) is found */

/* The same arithmetic 16 lanes at a time (identical results to the C version). One group of 16:
 * FULL groups load and store without masks (a masked load cannot take its data from a masked
 * store still in flight); XA, LEAK, STRAT, SIGNED, KC (levels, 0: K at run time) and YOUT are
 * constants in the specialised loops below, so their branches fold away. */
__attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) static inline void
neuron16_512(const int32_t *xa, const float *xf, int32_t *v, int8_t *kq, float *y, const int32_t *Th, const float *iTh, const float *iu,
             const float *th, float leak, int K, int th_shift, __mmask16 m, __m512i *sp, int64_t *z, const int FULL, const int XA, const int LEAK,
             const int STRAT, const int SIGNED, const int KC, const int YOUT) {
  const int lo = SIGNED ? -(KC ? KC : K) : 0, KK = KC ? KC : K;
  const __m512 half = _mm512_set1_ps(0.5f);
  const __m512i one = _mm512_set1_epi32(1), zero = _mm512_setzero_si512();
#define LD32(p) (FULL ? _mm512_loadu_si512((const void *)(p)) : _mm512_maskz_loadu_epi32(m, p))
#define LDPS(p) (FULL ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(m, p))
  __m512i in;
  if (XA) in = LD32(xa);
  else {
    __m512 f = _mm512_mul_ps(LDPS(xf), LDPS(iu));
    f = _mm512_min_ps(_mm512_max_ps(f, _mm512_set1_ps(-1e9f)), _mm512_set1_ps(1e9f));
    in = _mm512_cvttps_epi32(_mm512_roundscale_ps(_mm512_add_ps(f, half), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC));
  }
  __m512i vv = LD32(v);
  if (LEAK)
    vv = _mm512_cvttps_epi32(_mm512_roundscale_ps(_mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(leak), _mm512_cvtepi32_ps(vv)), half),
                                                  _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC));
  const __m512i u = _mm512_add_epi32(vv, in), T1 = LD32(Th);
  __m512i k, nv;
  if (STRAT == NB_K1) {
    /* one level: k = 1 if u >= Th, -1 if signed and u < 0, else 0 (floor(u / Th) clamped) */
    __mmask16 pos = _mm512_cmpge_epi32_mask(u, T1), neg = SIGNED ? _mm512_cmplt_epi32_mask(u, zero) : (__mmask16)0;
    k = _mm512_mask_mov_epi32(_mm512_mask_mov_epi32(zero, pos, one), neg, _mm512_set1_epi32(-1));
    nv = _mm512_mask_add_epi32(_mm512_mask_sub_epi32(u, pos, u, T1), neg, u, T1);
  } else if (STRAT == NB_SHIFT) {
    /* every threshold 2^th_shift: floor(u / Th) is an arithmetic shift, k Th a left shift */
    k = _mm512_min_epi32(_mm512_max_epi32(_mm512_srai_epi32(u, (unsigned)th_shift), _mm512_set1_epi32(lo)), _mm512_set1_epi32(KK));
    nv = _mm512_sub_epi32(u, _mm512_slli_epi32(k, (unsigned)th_shift));
  } else if (STRAT == NB_COMPARE) {
    /* k = #{j = 1..K : u >= j Th} - #{j = 0..K-1 (signed) : u < -j Th} = clamp(floor(u / Th), lo, K);
     * then the remainder u - k Th by one multiply (cheaper than a masked subtract after each compare) */
    __m512i up = T1, dn = zero;
    k = zero;
    for (int q = 0; q < KK; q++) {
      k = _mm512_mask_add_epi32(k, _mm512_cmpge_epi32_mask(u, up), k, one);
      up = _mm512_add_epi32(up, T1);
      if (SIGNED) {
        k = _mm512_mask_sub_epi32(k, _mm512_cmplt_epi32_mask(u, dn), k, one);
        dn = _mm512_sub_epi32(dn, T1);
      }
    }
    nv = _mm512_sub_epi32(u, _mm512_mullo_epi32(k, T1)); /* |k Th| <= K Th < 2^30: no overflow */
  } else {
    /* floor(u / Th) from the float quotient, corrected by one either way, clamped */
    __m512 kf = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(u), LDPS(iTh)), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    kf = _mm512_min_ps(_mm512_max_ps(kf, _mm512_set1_ps((float)(lo - 1))), _mm512_set1_ps((float)(KK + 1)));
    k = _mm512_cvttps_epi32(kf);
    __m512i r = _mm512_sub_epi32(u, _mm512_mullo_epi32(k, T1));
    k = _mm512_mask_add_epi32(k, _mm512_cmpge_epi32_mask(r, T1), k, one);
    k = _mm512_mask_sub_epi32(k, _mm512_cmplt_epi32_mask(r, zero), k, one);
    k = _mm512_min_epi32(_mm512_max_epi32(k, _mm512_set1_epi32(lo)), _mm512_set1_epi32(KK));
    nv = _mm512_sub_epi32(u, _mm512_mullo_epi32(k, T1));
  }
  nv = _mm512_min_epi32(_mm512_max_epi32(nv, _mm512_set1_epi32(-(1 << 30))), _mm512_set1_epi32(1 << 30));
  const __m128i k8 = _mm512_cvtepi32_epi8(k);
  if (FULL) {
    _mm512_storeu_si512((void *)v, nv);
    _mm_storeu_si128((__m128i *)kq, k8);
    if (YOUT) _mm512_storeu_ps(y, _mm512_mul_ps(_mm512_cvtepi32_ps(k), _mm512_loadu_ps(th)));
  } else {
    _mm512_mask_storeu_epi32(v, m, nv);
    _mm_mask_storeu_epi8(kq, m, k8);
    if (YOUT) _mm512_mask_storeu_ps(y, m, _mm512_mul_ps(_mm512_cvtepi32_ps(k), _mm512_maskz_loadu_ps(m, th)));
  }
#undef LD32
#undef LDPS
  /* (in a tail the masked-off lanes may hold any k: count only the lanes in m) */
  *sp = _mm512_add_epi32(*sp, FULL ? _mm512_abs_epi32(k) : _mm512_maskz_abs_epi32(m, k));
  *z += __builtin_popcount((unsigned)(FULL ? _mm512_cmpneq_epi32_mask(k, zero) : _mm512_mask_cmpneq_epi32_mask(m, k, zero)));
}

/* A block of len neurons: whole groups of 16, then the tail. */
__attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) static inline int64_t
neuron_loop_512(const int32_t *xa, const float *xf, int32_t *v, int8_t *kq, float *y, const int32_t *Th, const float *iTh, const float *iu,
                const float *th, int64_t len, float leak, int K, int th_shift, int64_t *nz, const int XA, const int LEAK, const int STRAT,
                const int SIGNED, const int KC, const int YOUT) {
  __m512i sp = _mm512_setzero_si512();
  int64_t z = 0, j = 0;
#define GROUP(m, FULL)                                                                                                                           \
  neuron16_512(XA ? xa + j : NULL, XA ? NULL : xf + j, v + j, kq + j, YOUT ? y + j : NULL, Th + j, iTh + j, XA ? NULL : iu + j, th + j, leak, K, \
               th_shift, m, &sp, &z, FULL, XA, LEAK, STRAT, SIGNED, KC, YOUT)
  for (; j + 16 <= len; j += 16) GROUP((__mmask16)0xFFFF, 1);
  if (j < len) GROUP((__mmask16)((1u << (len - j)) - 1), 0);
#undef GROUP
  *nz = z;
  return _mm512_reduce_add_epi32(sp);
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) static int64_t neuron_block_512(const int32_t *xa, const float *xf, int32_t *v, int8_t *kq,
                                                                                   float *y, const int32_t *Th, const float *iTh, const float *iu,
                                                                                   const float *th, int64_t len, float leak, int lo, int K,
                                                                                   int32_t th_max, int th_shift, int64_t *nz) {
  /* few levels and thresholds small enough that K * Th fits: count the multiples of Th that u
   * reaches with compares (short dependency chains) instead of dividing and multiplying back */
  const int strat = K == 1 ? NB_K1 : th_shift >= 0 ? NB_SHIFT : K <= 8 && (int64_t)th_max * (K + 1) < (1LL << 30) ? NB_COMPARE : NB_DIVIDE;
  const int sgn = lo < 0, yo = y != NULL;
#define LOOP(XA, STRAT, SIGNED, KC, YOUT) neuron_loop_512(xa, xf, v, kq, y, Th, iTh, iu, th, len, leak, K, th_shift, nz, XA, 0, STRAT, SIGNED, KC, YOUT)
  /* specialised: the converted transformer's neurons (burst K = 4 fed by an int8 layer, or fed by
   * float currents at power-of-two thresholds), signed or not, with or without a float output */
  if (leak == 1.0f && xa && strat == NB_COMPARE && K == 4) {
    if (sgn) return yo ? LOOP(1, NB_COMPARE, 1, 4, 1) : LOOP(1, NB_COMPARE, 1, 4, 0);
    return yo ? LOOP(1, NB_COMPARE, 0, 4, 1) : LOOP(1, NB_COMPARE, 0, 4, 0);
  }
  if (leak == 1.0f && !xa && strat == NB_SHIFT) {
    if (sgn) return yo ? LOOP(0, NB_SHIFT, 1, 0, 1) : LOOP(0, NB_SHIFT, 1, 0, 0);
    return yo ? LOOP(0, NB_SHIFT, 0, 0, 1) : LOOP(0, NB_SHIFT, 0, 0, 0);
  }
  if (leak == 1.0f && xa && strat == NB_SHIFT && sgn) return yo ? LOOP(1, NB_SHIFT, 1, 0, 1) : LOOP(1, NB_SHIFT, 1, 0, 0);
#undef LOOP
  /* everything else: the same code with its choices made at run time */
  return neuron_loop_512(xa, xf, v, kq, y, Th, iTh, iu, th, len, leak, K, th_shift, nz, xa != NULL, leak != 1.0f, strat, sgn, 0, yo);
}
#endif

/* Binary integrate-and-fire neurons of a row over a block of steps (see the header): the same
 * arithmetic as sf_q8_neuron_block with K = 1 at every step. */
static int64_t neuron_if_block_c(const int32_t *xa, int64_t ldx, const int16_t *x16, const int32_t *bias, int nb, int32_t *v, const int32_t *Th, int64_t len,
                                 int is_signed, int8_t *kq, uint32_t *bits, int32_t *lists, int32_t *counts) {
  int64_t total = 0;
  if (bits) memset(bits, 0, sizeof(uint32_t) * (size_t)len);
  for (int t = 0; t < nb; t++) {
    int32_t n = 0;
    for (int64_t j = 0; j < len; j++) {
      const int32_t u = v[j] + (x16 ? bias[j] + x16[(int64_t)t * len + j] : xa[(int64_t)t * ldx + j]);
      const int k = u >= Th[j] ? 1 : is_signed && u < 0 ? -1 : 0;
      const int32_t nv = u - k * Th[j];
      v[j] = nv > (1 << 30) ? (1 << 30) : nv < -(1 << 30) ? -(1 << 30) : nv;
      if (kq) kq[(int64_t)t * len + j] = (int8_t)k;
      if (!k) continue;
      if (bits) bits[j] |= 1u << t;
      if (lists) lists[(int64_t)t * (len + 16) + n] = (int32_t)j;
      n++;
    }
    counts[t] = n;
    total += n;
  }
  return total;
}

#if defined(__x86_64__)
enum { X_CONST, X_STEPS, X_INT16 }; /* currents: the same every step, one row per step, int16 sums + bias */

/* The steps of four groups of 16 neurons (vv: their membranes, updated); CLAMP keeps |v| <= 2^30. */
__attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) static inline void if_steps_512(
    const int16_t *x16, const int32_t *xa, int64_t ldx, int nb, int64_t len, int64_t j0, const __mmask16 *m, __m512i *vv, const __m512i *th,
    const __m512i *cur, __m512i *bv, const __m512i *idx, int8_t *kq, uint32_t *bits, int32_t *lists, int32_t *counts, const int X,
    const int SIGNED, const int CLAMP) {
  const __m512i vmax = _mm512_set1_epi32(1 << 30), vmin = _mm512_set1_epi32(-(1 << 30)), zero = _mm512_setzero_si512();
  const __m128i one8 = _mm_set1_epi8(1), neg8 = _mm_set1_epi8(-1);
  for (int t = 0; t < nb; t++) {
    int32_t n = counts[t];
    int32_t *l = lists ? lists + (int64_t)t * (len + 16) : NULL;
    for (int q = 0; q < 4; q++) {
      if (!m[q]) break;
      const int64_t j = j0 + 16 * q;
      const __m512i x = X == X_INT16   ? _mm512_add_epi32(cur[q], _mm512_cvtepi16_epi32(_mm256_maskz_loadu_epi16(m[q], x16 + (int64_t)t * len + j)))
                        : X == X_STEPS ? _mm512_maskz_loadu_epi32(m[q], xa + (int64_t)t * ldx + j)
                                       : cur[q];
      const __m512i u = _mm512_add_epi32(vv[q], x);
      const __mmask16 pos = _mm512_mask_cmpge_epi32_mask(m[q], u, th[q]), neg = SIGNED ? _mm512_mask_cmplt_epi32_mask(m[q], u, zero) : 0;
      __m512i nv = _mm512_mask_sub_epi32(u, pos, u, th[q]);
      if (SIGNED) nv = _mm512_mask_add_epi32(nv, neg, u, th[q]);
      vv[q] = CLAMP ? _mm512_min_epi32(_mm512_max_epi32(nv, vmin), vmax) : nv;
      const __mmask16 fired = pos | neg;
      if (kq) {
        _mm_mask_storeu_epi8(kq + (int64_t)t * len + j, pos, one8);
        if (SIGNED) _mm_mask_storeu_epi8(kq + (int64_t)t * len + j, neg, neg8);
      }
      if (bits) bv[q] = _mm512_mask_or_epi32(bv[q], fired, bv[q], _mm512_set1_epi32((int)(1u << t)));
      if (l) _mm512_storeu_si512((void *)(l + n), _mm512_maskz_compress_epi32(fired, idx[q]));
      n += __builtin_popcount((unsigned)fired);
    }
    counts[t] = n;
  }
}

/* Four groups of 16 neurons at a time (independent dependency chains), their membranes, thresholds
 * and constant currents in registers for all nb steps; per group and step: add, compare, subtract,
 * clamp, and the outputs asked for (spikes as masked byte stores into kq cleared beforehand, step
 * bits in a register, list entries by one compress). */
__attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) static inline int64_t neuron_if_block_loop_512(
    const int32_t *xa, int64_t ldx, const int16_t *x16, const int32_t *bias, int nb, int32_t *v, const int32_t *Th, int64_t len, int8_t *kq,
    uint32_t *bits, int32_t *lists, int32_t *counts, const int X, const int SIGNED) {
  const __m512i zero = _mm512_setzero_si512();
  const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  if (kq) memset(kq, 0, (size_t)(nb * len));
  for (int t = 0; t < nb; t++) counts[t] = 0;
  for (int64_t j0 = 0; j0 < len; j0 += 64) {
    __mmask16 m[4];
    __m512i vv[4], th[4], cur[4], bv[4], idx[4];
    for (int q = 0; q < 4; q++) {
      const int64_t left = len - j0 - 16 * q, j = j0 + 16 * q;
      m[q] = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1);
      vv[q] = _mm512_maskz_loadu_epi32(m[q], v + j);
      th[q] = _mm512_maskz_loadu_epi32(m[q], Th + j);
      cur[q] = X == X_STEPS ? zero : _mm512_maskz_loadu_epi32(m[q], X == X_INT16 ? bias + j : xa + j);
      bv[q] = zero;
      idx[q] = _mm512_add_epi32(lane, _mm512_set1_epi32((int)j));
    }
    /* no clamping needed where |v| <= 2^29 and |x| + Th <= 2^24 (then |v| < 2^30 for 32 steps) */
    int clamp = X == X_STEPS;
    for (int q = 0; q < 4 && !clamp; q++) {
      const __m512i xmax = X == X_INT16 ? _mm512_add_epi32(_mm512_abs_epi32(cur[q]), _mm512_set1_epi32(32768)) : _mm512_abs_epi32(cur[q]);
      clamp = _mm512_mask_cmpgt_epi32_mask(m[q], _mm512_abs_epi32(vv[q]), _mm512_set1_epi32(1 << 29)) ||
              _mm512_mask_cmpgt_epi32_mask(m[q], _mm512_add_epi32(xmax, th[q]), _mm512_set1_epi32(1 << 24));
    }
    if (clamp) if_steps_512(x16, xa, ldx, nb, len, j0, m, vv, th, cur, bv, idx, kq, bits, lists, counts, X, SIGNED, 1);
    else if_steps_512(x16, xa, ldx, nb, len, j0, m, vv, th, cur, bv, idx, kq, bits, lists, counts, X, SIGNED, 0);
    for (int q = 0; q < 4; q++) {
      _mm512_mask_storeu_epi32(v + j0 + 16 * q, m[q], vv[q]);
      if (bits) _mm512_mask_storeu_epi32(bits + j0 + 16 * q, m[q], bv[q]);
    }
  }
  int64_t total = 0;
  for (int t = 0; t < nb; t++) total += counts[t];
  return total;
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) static int64_t neuron_if_block_512(const int32_t *xa, int64_t ldx, const int16_t *x16,
                                                                                      const int32_t *bias,
                                                                                      int nb, int32_t *v, const int32_t *Th, int64_t len,
                                                                                      int is_signed, int8_t *kq, uint32_t *bits, int32_t *lists,
                                                                                      int32_t *counts) {
#define LOOP(X, SIGNED) neuron_if_block_loop_512(xa, ldx, x16, bias, nb, v, Th, len, kq, bits, lists, counts, X, SIGNED)
  const int x = x16 ? X_INT16 : ldx ? X_STEPS : X_CONST;
  if (is_signed) return x == X_INT16 ? LOOP(X_INT16, 1) : x == X_STEPS ? LOOP(X_STEPS, 1) : LOOP(X_CONST, 1);
  return x == X_INT16 ? LOOP(X_INT16, 0) : x == X_STEPS ? LOOP(X_STEPS, 0) : LOOP(X_CONST, 0);
#undef LOOP
}
#endif

int64_t sf_q8_neuron_if_block(const int32_t *xa, int64_t ldx, const int16_t *x16, const int32_t *bias, int nb, int32_t *v, const int32_t *Th, int64_t len,
                              int is_signed, int8_t *kq, uint32_t *bits, int32_t *lists, int32_t *counts) {
#if defined(__x86_64__)
  if (sf_q8_level() == SF_ISA_AVX512_VNNI) return neuron_if_block_512(xa, ldx, x16, bias, nb, v, Th, len, is_signed, kq, bits, lists, counts);
#endif
  return neuron_if_block_c(xa, ldx, x16, bias, nb, v, Th, len, is_signed, kq, bits, lists, counts);
}

int64_t sf_q8_neuron_block(const int32_t *xa, const float *xf, int32_t *v, int8_t *kq, float *y, const int32_t *Th, const float *iTh,
                           const float *iu, const float *th, int64_t len, float leak, int lo, int K, int32_t th_max, int th_shift,
                           int64_t *nz) {
#if defined(__x86_64__)
  if (sf_q8_level() == SF_ISA_AVX512_VNNI) return neuron_block_512(xa, xf, v, kq, y, Th, iTh, iu, th, len, leak, lo, K, th_max, th_shift, nz);
#else
  (void)th_max;
  (void)th_shift;
#endif
  return neuron_block_c(xa, xf, v, kq, y, Th, iTh, iu, th, len, leak, lo, K, nz);
}

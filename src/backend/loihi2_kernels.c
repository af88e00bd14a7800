/* The Loihi 2 emulator's two hot loops, each a plain-C reference beside its AVX2 and AVX-512 code
 * (integer arithmetic: every version gives the same bits; tests/test_loihi2.c checks it).
 *
 * l2_dense_accumulate   W [K][N] int16 (input-major), list [nk] of the inputs that spiked
 *                       -> buf [N] int32 = sum over the list of W[k][:]   (Lava's Dense, binary spikes)
 * l2_lif_step_fast      a [n] int32 input, u, v [n] int32 state, bias [n] int32 or NULL -> s [n] 0/1;
 *                       CUBA LIF with du = 4095 (the current is this step's input) and dv = 0:
 *                       u = a << 6; v = clip(v + u + (bias << 6), +-(2^23 - 1)); s = v > vth (the threshold
 *                       mantissa << 6); v = 0 where s.
 *                       Inputs must satisfy |a| < 2^17 (no wrap of u): the caller checks.
 * l2_delta_step, l2_sigma_delta_step, l2_sigma_step, l2_dense_graded: the sigma-delta family
 *                       (loihi2_net.h), a [n] input -> s [n] graded spikes; int32 state that wraps
 *                       as numpy's int32 does (Lava's models are numpy); vth and bias already << 12
 * l2_spike_list         s [n] 0/1 -> list of the indices that spiked, ascending; returns their count
 * l2_lif_step           the general CUBA LIF step, Lava's PyLifModelBitAcc line by line (any du, dv;
 *                       u wraps into 24 bits as Lava wraps it, v saturates), vth already << 6. */
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "backend/loihi2_kernels.h"
#include "backend/loihi2_net.h"
#include "spikeformer/cpu.h"

#define VMAX ((1 << 23) - 1)

/* Lava: sign(x) * (|x| >> 12) of x = s * (4096 - d) */
static inline int64_t decay(int64_t s, int d) {
  const int64_t x = s * (4096 - d);
  return x < 0 ? -((-x) >> 12) : x >> 12;
}

int64_t l2_lif_step(int64_t n, const int32_t *a, const int32_t *bias, int du, int dv, int64_t vth, int32_t *u, int32_t *v, uint8_t *s, int64_t *wrapped,
                    int64_t *saturated) {
  const int64_t M = (int64_t)1 << 23;
  int64_t spikes = 0;
  for (int64_t j = 0; j < n; j++) {
    /* current: decay (du + 1, Lava's ds_offset), input << 6, wrap as Lava does */
    const int64_t cur = (du == 4095 ? 0 : decay(u[j], du + 1)) + (int64_t)a[j] * 64; /* << 6 */
    int64_t w = cur > M ? cur - 2 * M : cur;
    if (w <= -M) w = cur + 2 * M;
    *wrapped += w != cur;
    u[j] = (int32_t)w;
    /* voltage: decay dv, + current + bias << 6, saturate */
    int64_t vv = (dv ? decay(v[j], dv) : v[j]) + w + (bias ? (int64_t)bias[j] * 64 : 0); /* << 6 */
    if (vv > M - 1) { vv = M - 1; (*saturated)++; }
    if (vv < -(M - 1)) { vv = -(M - 1); (*saturated)++; }
    const uint8_t fire = vv > vth;
    v[j] = fire ? 0 : (int32_t)vv;
    s[j] = fire;
    spikes += fire;
  }
  return spikes;
}

/* ---- sigma-delta (loihi2_net.h): int32 arithmetic that wraps as numpy's int32 does ---- */
static inline int32_t add32(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static inline int32_t sub32(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }
static inline int32_t shl32(int32_t a, int k) { return (int32_t)((uint32_t)a << k); }
static inline int32_t abs32(int32_t a) { return a < 0 ? (int32_t)(0u - (uint32_t)a) : a; }

/* the delta stage both share: s' = delta where |delta| >= vth, residue kept, s' >> 6 sent */
static inline int32_t delta_send(int32_t act_new, int32_t *act, int32_t *res, int32_t vth) {
  const int32_t delta = add32(sub32(act_new, *act), *res);
  const int32_t sent = abs32(delta) >= vth ? delta : 0;
  *res = sub32(delta, sent);
  *act = act_new;
  return sent >> L2_SDNN_STATE_EXP;
}

int64_t l2_delta_step(int64_t n, const int32_t *a, int32_t vth, int32_t *act, int32_t *res, int32_t *s) {
  int64_t sent = 0;
  for (int64_t j = 0; j < n; j++) {
    s[j] = delta_send(shl32(a[j], L2_SDNN_SHIFT), &act[j], &res[j], vth);
    sent += s[j] != 0;
  }
  return sent;
}

int64_t l2_sigma_delta_step(int64_t n, const int32_t *a, const int32_t *bias, int32_t vth, int32_t *sigma, int32_t *act, int32_t *res, int32_t *s) {
  int64_t sent = 0;
  for (int64_t j = 0; j < n; j++) {
    sigma[j] = add32(a[j], sigma[j]);
    int32_t x = bias ? add32(sigma[j], bias[j]) : sigma[j];
    if (x < 0) x = 0; /* ReLU */
    s[j] = delta_send(x, &act[j], &res[j], vth);
    sent += s[j] != 0;
  }
  return sent;
}

int64_t l2_sigma_step(int64_t n, const int32_t *a, int32_t *sigma, int32_t *s) {
  int64_t sent = 0;
  for (int64_t j = 0; j < n; j++) {
    sigma[j] = add32(a[j], sigma[j]);
    s[j] = sigma[j];
    sent += s[j] != 0;
  }
  return sent;
}

void l2_dense_graded(const int16_t *W, int64_t N, const int64_t *list, const int32_t *vals, int64_t nk, int32_t *buf) {
  memset(buf, 0, sizeof(int32_t) * (size_t)N);
  for (int64_t i = 0; i < nk; i++) {
    const int16_t *w = W + list[i] * N;
    const uint32_t v = (uint32_t)vals[i];
    for (int64_t j = 0; j < N; j++) buf[j] = (int32_t)((uint32_t)buf[j] + (uint32_t)(int32_t)w[j] * v);
  }
}

static void dense_accumulate_c(const int16_t *W, int64_t N, const int64_t *list, int64_t nk, int32_t *buf) {
  memset(buf, 0, sizeof(int32_t) * (size_t)N);
  for (int64_t i = 0; i < nk; i++) {
    const int16_t *w = W + list[i] * N;
    for (int64_t j = 0; j < N; j++) buf[j] += w[j];
  }
}

static int64_t lif_step_c(int64_t n, const int32_t *a, const int32_t *bias, int32_t vth, int32_t *u, int32_t *v, uint8_t *s, int64_t *saturated) {
  int64_t sp = 0, sat = 0;
  for (int64_t j = 0; j < n; j++) {
    const int32_t uj = a[j] * 64;
    int32_t vj = v[j] + uj + (bias ? bias[j] * 64 : 0);
    sat += (vj > VMAX) | (vj < -VMAX);
    vj = vj > VMAX ? VMAX : vj < -VMAX ? -VMAX : vj;
    const int32_t fire = vj > vth;
    u[j] = uj;
    v[j] = fire ? 0 : vj;
    s[j] = (uint8_t)fire;
    sp += fire;
  }
  *saturated += sat;
  return sp;
}

static int64_t spike_list_c(const uint8_t *s, int64_t n, int64_t *list) {
  int64_t k = 0;
  for (int64_t j = 0; j < n; j++)
    if (s[j]) list[k++] = j;
  return k;
}

#if defined(__x86_64__)
/* 64 spikes at a time: a mask of the non-zero bytes, its set bits in order */
__attribute__((target("avx512f,avx512bw"))) static int64_t spike_list_avx512(const uint8_t *s, int64_t n, int64_t *list) {
  int64_t k = 0, j = 0;
  for (; j + 64 <= n; j += 64) {
    uint64_t m = _mm512_test_epi8_mask(_mm512_loadu_si512(s + j), _mm512_set1_epi8(-1));
    while (m) {
      list[k++] = j + __builtin_ctzll(m);
      m &= m - 1;
    }
  }
  for (; j < n; j++)
    if (s[j]) list[k++] = j;
  return k;
}

/* four spiking rows per pass over buf: one load and store of the sums per four rows */
__attribute__((target("avx2"))) static void dense_accumulate_avx2(const int16_t *W, int64_t N, const int64_t *list, int64_t nk, int32_t *buf) {
  memset(buf, 0, sizeof(int32_t) * (size_t)N);
  int64_t i = 0;
  for (; i + 4 <= nk; i += 4) {
    const int16_t *w0 = W + list[i] * N, *w1 = W + list[i + 1] * N, *w2 = W + list[i + 2] * N, *w3 = W + list[i + 3] * N;
    int64_t j = 0;
    for (; j + 8 <= N; j += 8) {
      __m256i acc = _mm256_loadu_si256((const __m256i *)(buf + j));
      acc = _mm256_add_epi32(acc, _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(w0 + j))));
      acc = _mm256_add_epi32(acc, _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(w1 + j))));
      acc = _mm256_add_epi32(acc, _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(w2 + j))));
      acc = _mm256_add_epi32(acc, _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(w3 + j))));
      _mm256_storeu_si256((__m256i *)(buf + j), acc);
    }
    for (; j < N; j++) buf[j] += w0[j] + w1[j] + w2[j] + w3[j];
  }
  for (; i < nk; i++) {
    const int16_t *w = W + list[i] * N;
    for (int64_t j = 0; j < N; j++) buf[j] += w[j];
  }
}

__attribute__((target("avx512f,avx512bw"))) static void dense_accumulate_avx512(const int16_t *W, int64_t N, const int64_t *list, int64_t nk, int32_t *buf) {
  memset(buf, 0, sizeof(int32_t) * (size_t)N);
  int64_t i = 0;
  for (; i + 4 <= nk; i += 4) {
    const int16_t *w0 = W + list[i] * N, *w1 = W + list[i + 1] * N, *w2 = W + list[i + 2] * N, *w3 = W + list[i + 3] * N;
    int64_t j = 0;
    for (; j + 16 <= N; j += 16) {
      __m512i acc = _mm512_loadu_si512(buf + j);
      acc = _mm512_add_epi32(acc, _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)(w0 + j))));
      acc = _mm512_add_epi32(acc, _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)(w1 + j))));
      acc = _mm512_add_epi32(acc, _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)(w2 + j))));
      acc = _mm512_add_epi32(acc, _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)(w3 + j))));
      _mm512_storeu_si512(buf + j, acc);
    }
    for (; j < N; j++) buf[j] += w0[j] + w1[j] + w2[j] + w3[j];
  }
  for (; i < nk; i++) {
    const int16_t *w = W + list[i] * N;
    for (int64_t j = 0; j < N; j++) buf[j] += w[j];
  }
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) static int64_t lif_step_avx512(int64_t n, const int32_t *a, const int32_t *bias, int32_t vth, int32_t *u, int32_t *v,
                                                                                    uint8_t *s, int64_t *saturated) {
  const __m512i hi = _mm512_set1_epi32(VMAX), lo = _mm512_set1_epi32(-VMAX), vt = _mm512_set1_epi32(vth), one = _mm512_set1_epi32(1);
  int64_t sp = 0, sat = 0, j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m512i uj = _mm512_slli_epi32(_mm512_loadu_si512(a + j), 6);
    __m512i vj = _mm512_add_epi32(_mm512_loadu_si512(v + j), uj);
    if (bias) vj = _mm512_add_epi32(vj, _mm512_slli_epi32(_mm512_loadu_si512(bias + j), 6));
    const __mmask16 over = _mm512_cmpgt_epi32_mask(vj, hi) | _mm512_cmplt_epi32_mask(vj, lo);
    sat += __builtin_popcount(over);
    vj = _mm512_min_epi32(_mm512_max_epi32(vj, lo), hi);
    const __mmask16 fire = _mm512_cmpgt_epi32_mask(vj, vt);
    _mm512_storeu_si512(u + j, uj);
    _mm512_storeu_si512(v + j, _mm512_maskz_mov_epi32((__mmask16)~fire, vj));
    _mm_storeu_si128((__m128i *)(s + j), _mm512_cvtepi32_epi8(_mm512_maskz_mov_epi32(fire, one)));
    sp += __builtin_popcount(fire);
  }
  int64_t sat_tail = 0;
  sp += lif_step_c(n - j, a + j, bias ? bias + j : NULL, vth, u + j, v + j, s + j, &sat_tail);
  *saturated += sat + sat_tail;
  return sp;
}
#endif

int64_t l2_spike_list(const uint8_t *s, int64_t n, int64_t *list) {
#if defined(__x86_64__)
  if (sf_cpu_isa() >= SF_ISA_AVX512) return spike_list_avx512(s, n, list);
#endif
  return spike_list_c(s, n, list);
}

void l2_dense_accumulate(const int16_t *W, int64_t N, const int64_t *list, int64_t nk, int32_t *buf) {
#if defined(__x86_64__)
  const sf_isa l = sf_cpu_isa();
  if (l >= SF_ISA_AVX512) { dense_accumulate_avx512(W, N, list, nk, buf); return; }
  if (l >= SF_ISA_AVX2) { dense_accumulate_avx2(W, N, list, nk, buf); return; }
#endif
  dense_accumulate_c(W, N, list, nk, buf);
}

int64_t l2_lif_step_fast(int64_t n, const int32_t *a, const int32_t *bias, int32_t vth, int32_t *u, int32_t *v, uint8_t *s, int64_t *saturated) {
#if defined(__x86_64__)
  if (sf_cpu_isa() >= SF_ISA_AVX512) return lif_step_avx512(n, a, bias, vth, u, v, s, saturated);
#endif
  return lif_step_c(n, a, bias, vth, u, v, s, saturated);
}

void l2_dense_accumulate_ref(const int16_t *W, int64_t N, const int64_t *list, int64_t nk, int32_t *buf) { dense_accumulate_c(W, N, list, nk, buf); }
int64_t l2_lif_step_ref(int64_t n, const int32_t *a, const int32_t *bias, int32_t vth, int32_t *u, int32_t *v, uint8_t *s, int64_t *saturated) {
  return lif_step_c(n, a, bias, vth, u, v, s, saturated);
}

/* Integer synaptic kernels (see spike_kernels_q8.h for shapes). Three implementations chosen at
 * run time: AVX-512 VNNI (vpdpbusd: 64 int8 products per instruction), AVX2 (widen to int32) and
 * portable C. All compute the same exact integer sums. */
#include "snn/spike_kernels_q8.h"
#include "snn/q8_isa.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "core/par.h"

/* the int8 level's name as it always was: "vnni512", "avx2" or "c" */
const char *sf_q8_isa(void) {
  const sf_isa l = sf_q8_level();
  return l == SF_ISA_AVX512_VNNI ? "vnni512" : l == SF_ISA_AVX2 ? "avx2" : "c";
}

static int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

int64_t sf_q8_packed_size(int64_t K, int64_t N) { return (K + 3) / 4 * round16(N) * 4; }

void sf_q8_pack(const int8_t *Wq, int64_t K, int64_t N, int8_t *Wp, int32_t *colsum) {
  int64_t Np = round16(N);
  memset(Wp, 0, (size_t)sf_q8_packed_size(K, N));
  for (int64_t n = 0; n < N; n++) colsum[n] = 0;
  for (int64_t k = 0; k < K; k++)
    for (int64_t n = 0; n < N; n++) {
      Wp[((k / 4) * Np + n) * 4 + (k % 4)] = Wq[k * N + n];
      colsum[n] += Wq[k * N + n];
    }
}

int64_t sf_q8_count_nonzero(const int8_t *x, int64_t n) {
  int64_t c = 0;
  SF_PAR_IF(n > 262144, "omp parallel for reduction(+ : c) schedule(static)",
  for (int64_t i = 0; i < n; i++) c += x[i] != 0;);
  return c;
}

/* ---- event path ---- */

static void row_add_c(int64_t N, int k, const int8_t *w, int32_t *acc) {
  for (int64_t n = 0; n < N; n++) acc[n] += k * w[n];
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) static void row_add_avx2(int64_t N, int k, const int8_t *w, int32_t *acc) {
  int64_t n = 0;
  __m256i vk = _mm256_set1_epi32(k);
  for (; n + 8 <= N; n += 8) {
    __m256i wv = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(w + n)));
    __m256i a = _mm256_loadu_si256((const __m256i *)(acc + n));
    a = k == 1 ? _mm256_add_epi32(a, wv) : k == -1 ? _mm256_sub_epi32(a, wv) : _mm256_add_epi32(a, _mm256_mullo_epi32(vk, wv));
    _mm256_storeu_si256((__m256i *)(acc + n), a);
  }
  for (; n < N; n++) acc[n] += k * w[n];
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) static void row_add_512(int64_t N, int k, const int8_t *w, int32_t *acc) {
  __m512i vk = _mm512_set1_epi32(k);
  for (int64_t n = 0; n < N; n += 16) {
    __mmask16 m = N - n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (N - n)) - 1);
    __m512i wv = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, w + n));
    __m512i a = _mm512_maskz_loadu_epi32(m, acc + n);
    a = k == 1 ? _mm512_add_epi32(a, wv) : k == -1 ? _mm512_sub_epi32(a, wv) : _mm512_add_epi32(a, _mm512_mullo_epi32(vk, wv));
    _mm512_mask_storeu_epi32(acc + n, m, a);
  }
}
#endif

typedef void (*row_add_fn)(int64_t, int, const int8_t *, int32_t *);

static row_add_fn pick_row_add(sf_isa level) {
#if defined(__x86_64__)
  if (level == SF_ISA_AVX512_VNNI) return row_add_512;
  if (level == SF_ISA_AVX2) return row_add_avx2;
#else
  (void)level;
#endif
  return row_add_c;
}

#if defined(__x86_64__)
/* Positions of the non-zero counts of one row x[0:K] into idx (64 inputs per mask test). */
__attribute__((target("avx512f,avx512bw,avx512vl"))) static int64_t collect_events_512(const int8_t *x, int64_t K, int32_t *idx) {
  int64_t ne = 0;
  for (int64_t k = 0; k < K; k += 64) {
    __mmask64 lm = K - k >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (K - k)) - 1);
    uint64_t bits = (uint64_t)_mm512_test_epi8_mask(_mm512_maskz_loadu_epi8(lm, x + k), _mm512_set1_epi8(-1));
    while (bits) {
      idx[ne++] = (int32_t)(k + __builtin_ctzll(bits));
      bits &= bits - 1;
    }
  }
  return ne;
}

/* One row: collect the events (64 inputs per mask test), then per block of 128 columns keep the
 * accumulators in 8 registers while every event's weights are added. */
__attribute__((target("avx512f,avx512bw,avx512vl"))) static int64_t events_row_512(const int8_t *x, int64_t K, const int8_t *Wq, int64_t N,
                                                                                  int32_t *acc, int32_t *idx) {
  int64_t ne = collect_events_512(x, K, idx);
  if (!ne) return 0;
  for (int64_t n0 = 0; n0 < N; n0 += 128) {
    __mmask16 m[8];
    __m512i a[8];
    for (int c = 0; c < 8; c++) {
      int64_t left = N - (n0 + 16 * c);
      m[c] = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1);
      a[c] = _mm512_maskz_loadu_epi32(m[c], acc + n0 + 16 * c);
    }
    for (int64_t e = 0; e < ne; e++) {
      const int8_t *w = Wq + (int64_t)idx[e] * N + n0;
      int kv = x[idx[e]];
      if (kv == 1) {
        for (int c = 0; c < 8; c++) a[c] = _mm512_add_epi32(a[c], _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m[c], w + 16 * c)));
      } else {
        __m512i vk = _mm512_set1_epi32(kv);
        for (int c = 0; c < 8; c++)
          a[c] = _mm512_add_epi32(a[c], _mm512_mullo_epi32(vk, _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m[c], w + 16 * c))));
      }
    }
    for (int c = 0; c < 8; c++) _mm512_mask_storeu_epi32(acc + n0 + 16 * c, m[c], a[c]);
  }
  return ne;
}

static int64_t events_512(const int8_t *X, int64_t rows, int64_t K, const int8_t *Wq, int64_t N, int32_t *ACC) {
  int64_t events = 0;
  /* (no orphaned "omp for" in the serial case: inside a shard's thread it would bind to the
   * shards' team and wait at its barrier for threads that never come) */
  if (rows * K > 16384 && !omp_in_parallel()) {
#pragma omp parallel reduction(+ : events)
    {
      int32_t *idx = malloc(sizeof(int32_t) * (size_t)(K + 64));
#pragma omp for schedule(static)
      for (int64_t r = 0; r < rows; r++) events += idx ? events_row_512(X + r * K, K, Wq, N, ACC + r * N, idx) : 0;
      free(idx);
    }
    return events;
  }
  int32_t *idx = malloc(sizeof(int32_t) * (size_t)(K + 64));
  for (int64_t r = 0; idx && r < rows; r++) events += events_row_512(X + r * K, K, Wq, N, ACC + r * N, idx);
  free(idx);
  return events;
}
#endif

#if defined(__x86_64__)
/* acc[0:N] = base[0:N] + the int16 sums of a[0:NC] widened (32 lanes into two int32 halves); a zeroed. */
__attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) static inline void flush16_512(__m512i *a, const int NC, int64_t N,
                                                                                                  const int32_t *base, int32_t *acc) {
  for (int c = 0; c < NC; c++) {
    const int64_t col = 32 * c, left = N - col;
    const __mmask16 m0 = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
    const __mmask16 m1 = left >= 32 ? (__mmask16)0xFFFF : left <= 16 ? (__mmask16)0 : (__mmask16)((1u << (left - 16)) - 1);
    __m512i lo = _mm512_cvtepi16_epi32(_mm512_castsi512_si256(a[c])), hi = _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(a[c], 1));
    _mm512_mask_storeu_epi32(acc + col, m0, _mm512_add_epi32(_mm512_maskz_loadu_epi32(m0, base + col), lo));
    if (m1) _mm512_mask_storeu_epi32(acc + col + 16, m1, _mm512_add_epi32(_mm512_maskz_loadu_epi32(m1, base + col + 16), hi));
    a[c] = _mm512_setzero_si512();
  }
}

/* One row of at most 32 * NC columns in NC int16 registers (NC a constant once inlined, so the
 * accumulators stay in registers): the events are taken straight from the mask bits of 64 inputs
 * at a time, no index list; every `per` events the int16 sums are flushed into the int32 row
 * (the first flush onto the bias row when given, else onto acc). */
__attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) static inline int64_t events16_direct_512(const int8_t *x, int64_t K,
                                                                                                           const int8_t *W, int64_t N, int kmax,
                                                                                                           const int32_t *bias, int32_t *acc,
                                                                                                           const int NC) {
  const int64_t per = 32767 / (127 * (kmax > 0 ? kmax : 1)) > 0 ? 32767 / (127 * (kmax > 0 ? kmax : 1)) : 1;
  const int64_t tail = N - 32 * (NC - 1);
  const __mmask32 mt = tail >= 32 ? (__mmask32)0xFFFFFFFFu : (__mmask32)((1u << tail) - 1);
  __m512i a[8];
  for (int c = 0; c < NC; c++) a[c] = _mm512_setzero_si512();
  const int32_t *base = bias ? bias : acc;
  int64_t ne = 0, since = 0;
  for (int64_t k0 = 0; k0 < K; k0 += 64) {
    __mmask64 lm = K - k0 >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (K - k0)) - 1);
    uint64_t bits = (uint64_t)_mm512_test_epi8_mask(_mm512_maskz_loadu_epi8(lm, x + k0), _mm512_set1_epi8(-1));
    while (bits) {
      const int64_t k = k0 + __builtin_ctzll(bits);
      bits &= bits - 1;
      const int8_t *w = W + k * N;
      const int kv = x[k];
      if (kv == 1) {
        for (int c = 0; c < NC - 1; c++) a[c] = _mm512_add_epi16(a[c], _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(w + 32 * c))));
        a[NC - 1] = _mm512_add_epi16(a[NC - 1], _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(mt, w + 32 * (NC - 1))));
      } else {
        const __m512i vk = _mm512_set1_epi16((short)kv);
        for (int c = 0; c < NC - 1; c++)
          a[c] = _mm512_add_epi16(a[c], _mm512_mullo_epi16(vk, _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(w + 32 * c)))));
        a[NC - 1] = _mm512_add_epi16(a[NC - 1], _mm512_mullo_epi16(vk, _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(mt, w + 32 * (NC - 1)))));
      }
      ne++;
      if (++since == per) {
        flush16_512(a, NC, N, base, acc);
        base = acc;
        since = 0;
      }
    }
  }
  if (since) flush16_512(a, NC, N, base, acc);
  if (!ne && bias) memcpy(acc, bias, sizeof(int32_t) * (size_t)N);
  return ne;
}

/* One row, int16 partial sums: 256 columns in 8 registers per pass, each event's int8 weight row
 * (256 bytes, half the cache lines of an int16 copy) widened on load; every `per` events (chosen
 * so that per * kmax * 127 < 2^15) the partial sums are widened and added into the int32 row. */
__attribute__((target("avx512f,avx512bw,avx512vl"))) static int64_t events16_row_512(const int8_t *x, int64_t K, const int8_t *W, int64_t N,
                                                                                    int kmax, const int32_t *bias, int32_t *acc, int32_t *idx) {
  /* a narrow layer (a 10-class output) in one register, straight from the mask bits; wider ones
   * through the index list, which lets the weight rows be fetched ahead */
  if (N <= 32) return events16_direct_512(x, K, W, N, kmax, bias, acc, 1);
  int64_t ne = collect_events_512(x, K, idx);
  if (!ne) {
    if (bias) memcpy(acc, bias, sizeof(int32_t) * (size_t)N);
    return 0;
  }
  int64_t per = 32767 / (127 * (kmax > 0 ? kmax : 1));
  if (per < 1) per = 1;
  for (int64_t n0 = 0; n0 < N; n0 += 256) {
    __mmask32 m[8];
    __m512i a[8];
    for (int c = 0; c < 8; c++) {
      int64_t left = N - (n0 + 32 * c);
      m[c] = left >= 32 ? (__mmask32)0xFFFFFFFFu : left <= 0 ? (__mmask32)0 : (__mmask32)((1u << left) - 1);
      a[c] = _mm512_setzero_si512();
    }
    for (int64_t e0 = 0; e0 < ne; e0 += per) {
      int64_t e1 = e0 + per < ne ? e0 + per : ne;
      /* the first flush of a block adds to the bias row (when given) instead of the accumulators */
      const int32_t *base = bias && e0 == 0 ? bias : acc;
      if (N - n0 >= 256) {
        /* full block: eight named accumulators, unmasked loads */
        __m512i a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5], a6 = a[6], a7 = a[7];
        for (int64_t e = e0; e < e1; e++) {
          const int8_t *w = W + (int64_t)idx[e] * N + n0;
          int kv = x[idx[e]];
          if (e + 4 < ne) {
            /* rows come in event order, which no hardware prefetcher predicts: fetch ahead */
            const char *pf = (const char *)(W + (int64_t)idx[e + 4] * N + n0);
            for (int l = 0; l < 256; l += 64) _mm_prefetch(pf + l, _MM_HINT_T0);
          }
#define W16_AT(o) _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(w + (o))))
          __m512i w0 = W16_AT(0), w1 = W16_AT(32), w2 = W16_AT(64), w3 = W16_AT(96);
          __m512i w4 = W16_AT(128), w5 = W16_AT(160), w6 = W16_AT(192), w7 = W16_AT(224);
#undef W16_AT
          if (kv != 1) {
            __m512i vk = _mm512_set1_epi16((short)kv);
            w0 = _mm512_mullo_epi16(vk, w0); w1 = _mm512_mullo_epi16(vk, w1); w2 = _mm512_mullo_epi16(vk, w2); w3 = _mm512_mullo_epi16(vk, w3);
            w4 = _mm512_mullo_epi16(vk, w4); w5 = _mm512_mullo_epi16(vk, w5); w6 = _mm512_mullo_epi16(vk, w6); w7 = _mm512_mullo_epi16(vk, w7);
          }
          a0 = _mm512_add_epi16(a0, w0); a1 = _mm512_add_epi16(a1, w1); a2 = _mm512_add_epi16(a2, w2); a3 = _mm512_add_epi16(a3, w3);
          a4 = _mm512_add_epi16(a4, w4); a5 = _mm512_add_epi16(a5, w5); a6 = _mm512_add_epi16(a6, w6); a7 = _mm512_add_epi16(a7, w7);
        }
        a[0] = a0; a[1] = a1; a[2] = a2; a[3] = a3; a[4] = a4; a[5] = a5; a[6] = a6; a[7] = a7;
      } else {
        /* a last, narrower block: only its nc registers (a 10-class output layer needs one) */
        const int nc = (int)((N - n0 + 31) / 32);
        for (int64_t e = e0; e < e1; e++) {
          const int8_t *w = W + (int64_t)idx[e] * N + n0;
          int kv = x[idx[e]];
          if (kv == 1) {
            for (int c = 0; c < nc; c++) a[c] = _mm512_add_epi16(a[c], _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m[c], w + 32 * c)));
          } else {
            __m512i vk = _mm512_set1_epi16((short)kv);
            for (int c = 0; c < nc; c++)
              a[c] = _mm512_add_epi16(a[c], _mm512_mullo_epi16(vk, _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m[c], w + 32 * c))));
          }
        }
      }
      /* flush: widen 32 int16 lanes to two int32 halves */
      for (int c = 0; c < 8; c++) {
        if (!m[c]) continue;
        int64_t col = n0 + 32 * c, left = N - col;
        __mmask16 m0 = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        __mmask16 m1 = left >= 32 ? (__mmask16)0xFFFF : left <= 16 ? (__mmask16)0 : (__mmask16)((1u << (left - 16)) - 1);
        __m512i lo = _mm512_cvtepi16_epi32(_mm512_castsi512_si256(a[c])), hi = _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(a[c], 1));
        _mm512_mask_storeu_epi32(acc + col, m0, _mm512_add_epi32(_mm512_maskz_loadu_epi32(m0, base + col), lo));
        if (m1) _mm512_mask_storeu_epi32(acc + col + 16, m1, _mm512_add_epi32(_mm512_maskz_loadu_epi32(m1, base + col + 16), hi));
        a[c] = _mm512_setzero_si512();
      }
    }
  }
  return ne;
}
#endif

static int64_t events16_row_c(const int8_t *x, int64_t K, const int8_t *W, int64_t N, const int32_t *bias, int32_t *acc) {
  int64_t events = 0;
  if (bias) memcpy(acc, bias, sizeof(int32_t) * (size_t)N);
  for (int64_t k = 0; k < K; k++) {
    int kv = x[k];
    if (!kv) continue;
    events++;
    for (int64_t n = 0; n < N; n++) acc[n] += kv * W[k * N + n];
  }
  return events;
}

/* one row at the level read once by the caller (every row of a call at the same level) */
static int64_t events16_row(sf_isa level, const int8_t *x, int64_t K, const int8_t *W, int64_t N, int kmax, const int32_t *bias,
                            int32_t *acc, int32_t *idx) {
#if defined(__x86_64__)
  if (level == SF_ISA_AVX512_VNNI) return events16_row_512(x, K, W, N, kmax, bias, acc, idx);
#else
  (void)level;
#endif
  (void)kmax;
  (void)idx;
  return events16_row_c(x, K, W, N, bias, acc);
}

int64_t sf_q8_events16_row(const int8_t *x, int64_t K, const int8_t *W, int64_t N, int kmax, const int32_t *bias, int32_t *acc,
                           int32_t *idx) {
  return events16_row(sf_q8_level(), x, K, W, N, kmax, bias, acc, idx);
}

/* ---- event path over a block of steps ---- */

static void events_steps_c(const int8_t *S, int nb, int64_t K, const uint32_t *bits, const int8_t *W, int64_t N, int16_t *I, int64_t ldi) {
  for (int64_t k = 0; k < K; k++)
    for (uint32_t b = bits[k]; b; b &= b - 1) {
      const int t = __builtin_ctz(b), kv = S[(int64_t)t * K + k];
      for (int64_t n = 0; n < N; n++) I[(int64_t)t * ldi + n] = (int16_t)(I[(int64_t)t * ldi + n] + kv * W[k * N + n]);
    }
  (void)nb;
}

#if defined(__x86_64__)
/* Input by input: its weight row widened once into NC registers, then added into the row of
 * every step it fired at (the rows [nb, N] int16 stay in L1). */
__attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) static inline void events_steps_512(const int8_t *S, int64_t K, const uint32_t *bits,
                                                                                                     const int8_t *W, int64_t N, int16_t *I,
                                                                                                     int64_t ldi, const int NC) {
  /* columns in registers of 32; a last, partial one is masked (rows are read again right after
   * they are written, and only unmasked stores forward to unmasked loads: full registers stay so) */
  const int64_t tail = N - 32 * (NC - 1);
  const int NF = tail == 32 ? NC : NC - 1;
  const __mmask32 mt = tail >= 32 ? (__mmask32)0xFFFFFFFFu : (__mmask32)((1u << tail) - 1);
  for (int64_t k = 0; k < K; k++) {
    uint32_t b = bits[k];
    if (!b) continue;
    const int8_t *w = W + k * N;
    __m512i wv[8];
    for (int c = 0; c < NF; c++) wv[c] = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(w + 32 * c)));
    if (NF < NC) wv[NC - 1] = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(mt, w + 32 * (NC - 1)));
    do {
      const int t = __builtin_ctz(b);
      b &= b - 1;
      int16_t *row = I + (int64_t)t * ldi;
      const int kv = S[(int64_t)t * K + k];
      const __m512i vk = _mm512_set1_epi16((short)kv);
      for (int c = 0; c < NF; c++) {
        const __m512i add = kv == 1 ? wv[c] : _mm512_mullo_epi16(vk, wv[c]);
        _mm512_storeu_si512((void *)(row + 32 * c), _mm512_add_epi16(_mm512_loadu_si512((const void *)(row + 32 * c)), add));
      }
      if (NF < NC) {
        const __m512i add = kv == 1 ? wv[NC - 1] : _mm512_mullo_epi16(vk, wv[NC - 1]);
        _mm512_mask_storeu_epi16(row + 32 * (NC - 1), mt, _mm512_add_epi16(_mm512_maskz_loadu_epi16(mt, row + 32 * (NC - 1)), add));
      }
    } while (b);
  }
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) static void events_steps_dispatch_512(const int8_t *S, int64_t K, const uint32_t *bits,
                                                                                          const int8_t *W, int64_t N, int16_t *I, int64_t ldi) {
  switch ((N + 31) / 32) {
    case 1: events_steps_512(S, K, bits, W, N, I, ldi, 1); break;
    case 2: events_steps_512(S, K, bits, W, N, I, ldi, 2); break;
    case 3: events_steps_512(S, K, bits, W, N, I, ldi, 3); break;
    case 4: events_steps_512(S, K, bits, W, N, I, ldi, 4); break;
    case 5: events_steps_512(S, K, bits, W, N, I, ldi, 5); break;
    case 6: events_steps_512(S, K, bits, W, N, I, ldi, 6); break;
    case 7: events_steps_512(S, K, bits, W, N, I, ldi, 7); break;
    default: events_steps_512(S, K, bits, W, N, I, ldi, 8); break;
  }
}
#endif

void sf_q8_events_steps(const int8_t *S, int nb, int64_t K, const uint32_t *bits, const int8_t *W, int64_t N, int16_t *I, int64_t ldi) {
#if defined(__x86_64__)
  if (sf_q8_level() == SF_ISA_AVX512_VNNI && N <= 256) { events_steps_dispatch_512(S, K, bits, W, N, I, ldi); return; }
#endif
  events_steps_c(S, nb, K, bits, W, N, I, ldi);
}

void sf_q8_step_bits(const int8_t *S, int nb, int64_t K, uint32_t *bits) {
  memset(bits, 0, sizeof(uint32_t) * (size_t)K);
  for (int t = 0; t < nb; t++) {
    const int8_t *x = S + (int64_t)t * K;
    const uint32_t bit = 1u << t;
#pragma omp simd
    for (int64_t k = 0; k < K; k++) bits[k] |= x[k] ? bit : 0u;
  }
}

int64_t sf_q8_linear_events16(const int8_t *X, int64_t rows, int64_t K, const int8_t *Wq, int64_t N, int kmax, const int32_t *bias,
                              int32_t *ACC) {
  const sf_isa level = sf_q8_level();
  int64_t events = 0;
  if (rows * K > 16384 && !omp_in_parallel()) {
#pragma omp parallel reduction(+ : events)
    {
      int32_t *idx = malloc(sizeof(int32_t) * (size_t)(K + 64));
#pragma omp for schedule(static)
      for (int64_t r = 0; r < rows; r++) events += idx ? events16_row(level, X + r * K, K, Wq, N, kmax, bias, ACC + r * N, idx) : 0;
      free(idx);
    }
    return events;
  }
  int32_t *idx = malloc(sizeof(int32_t) * (size_t)(K + 64));
  for (int64_t r = 0; idx && r < rows; r++) events += events16_row(level, X + r * K, K, Wq, N, kmax, bias, ACC + r * N, idx);
  free(idx);
  return events;
}

int64_t sf_q8_linear_events(const int8_t *X, int64_t rows, int64_t K, const int8_t *Wq, int64_t N, int32_t *ACC) {
  const sf_isa level = sf_q8_level();
#if defined(__x86_64__)
  if (level == SF_ISA_AVX512_VNNI) return events_512(X, rows, K, Wq, N, ACC);
#endif
  row_add_fn f = pick_row_add(level);
  int64_t events = 0;
  SF_PAR_IF(rows * K > 16384, "omp parallel for reduction(+ : events) schedule(static)",
  for (int64_t r = 0; r < rows; r++) {
    const int8_t *x = X + r * K;
    int32_t *acc = ACC + r * N;
    int64_t k = 0;
    /* skip 8 silent inputs at a time */
    for (; k + 8 <= K; k += 8) {
      uint64_t word;
      memcpy(&word, x + k, 8);
      while (word) {
        int b = __builtin_ctzll(word) / 8;
        word &= ~((uint64_t)0xFF << (8 * b));
        f(N, x[k + b], Wq + (k + b) * N, acc);
        events++;
      }
    }
    for (; k < K; k++)
      if (x[k]) { f(N, x[k], Wq + k * N, acc); events++; }
  });
  return events;
}

/* ---- dense path ---- */

static void dense_c(const int8_t *X, int64_t rows, int64_t K, const int8_t *Wq, int64_t N, int32_t *ACC) {
  SF_PAR_IF(rows * K > 16384, "omp parallel for schedule(static)",
  for (int64_t r = 0; r < rows; r++)
    for (int64_t k = 0; k < K; k++)
      if (X[r * K + k]) row_add_c(N, X[r * K + k], Wq + k * N, ACC + r * N););
}

#if defined(__x86_64__)
/* 4 rows x 64 columns of accumulators in registers over the whole K loop; each step broadcasts 4
 * inputs of a row (as unsigned x + 128) against 4 packed weights per column. */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void dense_rows_vnni(const int8_t *X, int64_t rows, int64_t r0, int64_t K,
                                                                                 const int8_t *Wp, const int32_t *colsum, int64_t N,
                                                                                 const int32_t *bias, int32_t *ACC) {
  int64_t nr = rows - r0 < 4 ? rows - r0 : 4, K4 = (K + 3) / 4, Np = round16(N);
  const __m512i flip = _mm512_set1_epi32((int)0x80808080u);
  for (int64_t n0 = 0; n0 < N; n0 += 64) {
    int nc = (int)((N - n0 + 15) / 16);
    if (nc > 4) nc = 4;
    __mmask16 m[4];
    __m512i a[4][4], corr[4];
    for (int c = 0; c < 4; c++) {
      int64_t left = N - (n0 + 16 * c);
      m[c] = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1);
      corr[c] = _mm512_slli_epi32(_mm512_maskz_loadu_epi32(m[c], colsum + n0 + 16 * c), 7);
    }
    for (int i = 0; i < 4; i++)
      for (int c = 0; c < 4; c++)
        a[i][c] = i < nr && c < nc ? _mm512_sub_epi32(_mm512_maskz_loadu_epi32(m[c], (bias ? bias : ACC + (r0 + i) * N) + n0 + 16 * c), corr[c])
                                   : _mm512_setzero_si512();
    for (int64_t k4 = 0; k4 < K4; k4++) {
      const int8_t *wrow = Wp + (k4 * Np + n0) * 4;
      __m512i w[4];
      for (int c = 0; c < 4; c++) w[c] = c < nc ? _mm512_loadu_si512((const void *)(wrow + 64 * c)) : _mm512_setzero_si512();
      for (int i = 0; i < 4; i++) {
        if (i >= nr) break;
        int32_t q;
        memcpy(&q, X + (r0 + i) * K + 4 * k4, 4);
        __m512i xb = _mm512_xor_si512(_mm512_set1_epi32(q), flip);
        for (int c = 0; c < 4; c++) a[i][c] = _mm512_dpbusd_epi32(a[i][c], xb, w[c]);
      }
    }
    for (int i = 0; i < nr; i++)
      for (int c = 0; c < nc; c++) _mm512_mask_storeu_epi32(ACC + (r0 + i) * N + n0 + 16 * c, m[c], a[i][c]);
  }
}

/* One row into a narrow layer (N <= 32, NC = 1 or 2 registers of 16 columns): the same sums with
 * four independent accumulator sets over k, so that the dot products do not wait on each other. */
__attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline)) static inline void dense_row_narrow_vnni(const int8_t *x, int64_t K,
                                                                                                            const int8_t *Wp, const int32_t *colsum,
                                                                                                            int64_t N, const int32_t *bias,
                                                                                                            int32_t *acc, const int NC) {
  const int64_t K4 = (K + 3) / 4, Np = round16(N);
  const __m512i flip = _mm512_set1_epi32((int)0x80808080u);
  __m512i a[4][2];
  for (int j = 0; j < 4; j++)
    for (int c = 0; c < NC; c++) a[j][c] = _mm512_setzero_si512();
  int64_t k4 = 0;
  for (; k4 + 4 <= K4; k4 += 4)
    for (int j = 0; j < 4; j++) {
      int32_t q;
      memcpy(&q, x + 4 * (k4 + j), 4);
      const __m512i xb = _mm512_xor_si512(_mm512_set1_epi32(q), flip);
      for (int c = 0; c < NC; c++) a[j][c] = _mm512_dpbusd_epi32(a[j][c], xb, _mm512_loadu_si512((const void *)(Wp + ((k4 + j) * Np + 16 * c) * 4)));
    }
  for (; k4 < K4; k4++) {
    int32_t q;
    memcpy(&q, x + 4 * k4, 4);
    const __m512i xb = _mm512_xor_si512(_mm512_set1_epi32(q), flip);
    for (int c = 0; c < NC; c++) a[0][c] = _mm512_dpbusd_epi32(a[0][c], xb, _mm512_loadu_si512((const void *)(Wp + (k4 * Np + 16 * c) * 4)));
  }
  for (int c = 0; c < NC; c++) {
    const int64_t left = N - 16 * c;
    const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
    __m512i sum = _mm512_add_epi32(_mm512_add_epi32(a[0][c], a[1][c]), _mm512_add_epi32(a[2][c], a[3][c]));
    sum = _mm512_sub_epi32(sum, _mm512_slli_epi32(_mm512_maskz_loadu_epi32(m, colsum + 16 * c), 7));
    sum = _mm512_add_epi32(sum, _mm512_maskz_loadu_epi32(m, (bias ? bias : acc) + 16 * c));
    _mm512_mask_storeu_epi32(acc + 16 * c, m, sum);
  }
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void dense_row_vnni(const int8_t *x, int64_t K, const int8_t *Wp,
                                                                                const int32_t *colsum, int64_t N, const int32_t *bias,
                                                                                int32_t *acc) {
  if (N <= 16) dense_row_narrow_vnni(x, K, Wp, colsum, N, bias, acc, 1);
  else if (N <= 32) dense_row_narrow_vnni(x, K, Wp, colsum, N, bias, acc, 2);
  else dense_rows_vnni(x, 1, 0, K, Wp, colsum, N, bias, acc);
}

/* Up to 8 rows into a layer of at most 16 columns (a class output): one weight register per k4,
 * shared by the rows, each row its own accumulator (8 independent dot-product chains). */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void dense_rows8_narrow_vnni(const int8_t *X, int64_t rows, int64_t r0, int64_t K,
                                                                                         const int8_t *Wp, const int32_t *colsum, int64_t N,
                                                                                         const int32_t *bias, int32_t *ACC) {
  const int64_t nr = rows - r0 < 8 ? rows - r0 : 8, K4 = (K + 3) / 4;
  const __m512i flip = _mm512_set1_epi32((int)0x80808080u);
  const __mmask16 m = N >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << N) - 1);
  __m512i a[8];
  for (int i = 0; i < 8; i++) a[i] = _mm512_setzero_si512();
  for (int64_t k4 = 0; k4 < K4; k4++) {
    const __m512i w = _mm512_loadu_si512((const void *)(Wp + k4 * 64));
    for (int i = 0; i < 8; i++) {
      if (i >= nr) break;
      int32_t q;
      memcpy(&q, X + (r0 + i) * K + 4 * k4, 4);
      a[i] = _mm512_dpbusd_epi32(a[i], _mm512_xor_si512(_mm512_set1_epi32(q), flip), w);
    }
  }
  const __m512i corr = _mm512_slli_epi32(_mm512_maskz_loadu_epi32(m, colsum), 7);
  for (int i = 0; i < nr; i++) {
    int32_t *acc = ACC + (r0 + i) * N;
    __m512i sum = _mm512_add_epi32(_mm512_sub_epi32(a[i], corr), _mm512_maskz_loadu_epi32(m, bias ? bias : acc));
    _mm512_mask_storeu_epi32(acc, m, sum);
  }
}

/* The OpenMP loop stays outside the target functions (clang outlines parallel regions). */
static void dense_vnni(const int8_t *X, int64_t rows, int64_t K, const int8_t *Wp, const int32_t *colsum, int64_t N, const int32_t *bias,
                       int32_t *ACC) {
  if (N <= 16) {
    int64_t blocks = (rows + 7) / 8;
    SF_PAR_IF(rows * K > 16384, "omp parallel for schedule(static)",
    for (int64_t b = 0; b < blocks; b++) dense_rows8_narrow_vnni(X, rows, b * 8, K, Wp, colsum, N, bias, ACC););
    return;
  }
  int64_t blocks = (rows + 3) / 4;
  SF_PAR_IF(rows * K > 16384, "omp parallel for schedule(static)",
  for (int64_t b = 0; b < blocks; b++) dense_rows_vnni(X, rows, b * 4, K, Wp, colsum, N, bias, ACC););
}

static void dense_avx2(const int8_t *X, int64_t rows, int64_t K, const int8_t *Wq, int64_t N, int32_t *ACC) {
  SF_PAR_IF(rows * K > 16384, "omp parallel for schedule(static)",
  for (int64_t r = 0; r < rows; r++)
    for (int64_t k = 0; k < K; k++)
      if (X[r * K + k]) row_add_avx2(N, X[r * K + k], Wq + k * N, ACC + r * N););
}
#endif

/* one row at the level read once by the caller */
static void dense_row(sf_isa level, const int8_t *x, int64_t K, const int8_t *Wq, const int8_t *Wp, const int32_t *colsum, int64_t N,
                      const int32_t *bias, int32_t *acc) {
#if defined(__x86_64__)
  if (level == SF_ISA_AVX512_VNNI) { dense_row_vnni(x, K, Wp, colsum, N, bias, acc); return; }
#endif
  (void)Wp;
  (void)colsum;
  if (bias) memcpy(acc, bias, sizeof(int32_t) * (size_t)N);
  row_add_fn f = pick_row_add(level);
  for (int64_t k = 0; k < K; k++)
    if (x[k]) f(N, x[k], Wq + k * N, acc);
}

void sf_q8_dense_row(const int8_t *x, int64_t K, const int8_t *Wq, const int8_t *Wp, const int32_t *colsum, int64_t N, const int32_t *bias,
                     int32_t *acc) {
  dense_row(sf_q8_level(), x, K, Wq, Wp, colsum, N, bias, acc);
}

void sf_q8_dense_rows(const int8_t *X, int64_t rows, int64_t K, const int8_t *Wq, const int8_t *Wp, const int32_t *colsum, int64_t N,
                      const int32_t *bias, int32_t *ACC) {
  const sf_isa level = sf_q8_level();
#if defined(__x86_64__)
  if (level == SF_ISA_AVX512_VNNI && N <= 16) {
    for (int64_t r0 = 0; r0 < rows; r0 += 8) dense_rows8_narrow_vnni(X, rows, r0, K, Wp, colsum, N, bias, ACC);
    return;
  }
#endif
  for (int64_t r = 0; r < rows; r++) dense_row(level, X + r * K, K, Wq, Wp, colsum, N, bias, ACC + r * N);
}

void sf_q8_linear_dense(const int8_t *X, int64_t rows, int64_t K, const int8_t *Wq, const int8_t *Wp, const int32_t *colsum,
                        int64_t N, const int32_t *bias, int32_t *ACC) {
  const sf_isa level = sf_q8_level();
#if defined(__x86_64__)
  if (level == SF_ISA_AVX512_VNNI) { dense_vnni(X, rows, K, Wp, colsum, N, bias, ACC); return; }
#endif
  if (bias)
    for (int64_t r = 0; r < rows; r++) memcpy(ACC + r * N, bias, sizeof(int32_t) * (size_t)N);
#if defined(__x86_64__)
  if (level == SF_ISA_AVX2) { dense_avx2(X, rows, K, Wq, N, ACC); return; }
#endif
  (void)Wp;
  (void)colsum;
  dense_c(X, rows, K, Wq, N, ACC);
}

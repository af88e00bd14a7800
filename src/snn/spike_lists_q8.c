/* The panel kernel on per-step event lists (see spike_lists_q8.h for shapes).
 *
 * sf_q8_events_steps adds each input's widened weight row into the int16 row of every step it fired
 * at: per event, one load and one store per 32 outputs, through L1. Here the loop order is turned:
 * per panel of 64 outputs and per step, the rows of the inputs that fired are added in registers
 * and stored once. Per event and panel that is two loads and two adds, no store; a panel
 * (K x 128 bytes) comes from L2 once per block and serves all its steps. */
#include "snn/spike_lists_q8.h"
#include "snn/q8_isa.h"

#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* columns per panel: 64, or 32 for a narrow layer (a class output) */
#define PANEL 64
static int64_t panel_width(int64_t N) { return N <= 32 ? 32 : PANEL; }

int64_t sf_q8_w16_size(int64_t K, int64_t N) {
  const int64_t pw = panel_width(N);
  return (N + pw - 1) / pw * K * pw;
}

void sf_q8_pack_w16(const int8_t *Wq, int64_t K, int64_t N, int16_t *W16) {
  const int64_t pw = panel_width(N);
  for (int64_t p = 0; p * pw < N; p++)
    for (int64_t k = 0; k < K; k++) {
      int16_t *dst = W16 + (p * K + k) * pw;
      for (int64_t c = 0; c < pw; c++) dst[c] = p * pw + c < N ? Wq[k * N + p * pw + c] : 0;
    }
}

/* ---- panel kernel ---- */

static void events_lists_c(const int32_t *lists, const int32_t *counts, int nb, int64_t K, const int16_t *W16, int64_t N, int16_t *I,
                           int64_t ldi) {
  const int64_t pw = panel_width(N);
  for (int64_t p = 0; p * pw < N; p++) {
    const int16_t *wp = W16 + p * K * pw;
    const int64_t w = N - p * pw < pw ? N - p * pw : pw;
    for (int t = 0; t < nb; t++) {
      const int32_t *l = lists + (int64_t)t * (K + 16);
      int16_t acc[64] = {0};
      for (int32_t e = 0; e < counts[t]; e++) {
        const int16_t *row = wp + (int64_t)l[e] * pw;
        for (int c = 0; c < pw; c++) acc[c] = (int16_t)(acc[c] + row[c]);
      }
      memcpy(I + (int64_t)t * ldi + p * pw, acc, sizeof(int16_t) * (size_t)w);
    }
  }
}

#if defined(__x86_64__)
/* Per panel and step: 4 events at a time into 4 pairs of registers (independent chains). */
__attribute__((target("avx512f,avx512bw"))) static void events_lists_512(const int32_t *lists, const int32_t *counts, int nb, int64_t K,
                                                                         const int16_t *W16, int64_t N, int16_t *I, int64_t ldi) {
  if (N <= 32) { /* one register per panel row */
    const __mmask32 m0 = N >= 32 ? 0xFFFFFFFFu : (__mmask32)((1u << N) - 1);
    for (int t = 0; t < nb; t++) {
      const int32_t *l = lists + (int64_t)t * (K + 16);
      const int32_t n = counts[t];
      __m512i a = _mm512_setzero_si512(), b = a, c = a, d = a;
      int32_t e = 0;
      for (; e + 4 <= n; e += 4) {
        a = _mm512_add_epi16(a, _mm512_loadu_si512((const void *)(W16 + (int64_t)l[e] * 32)));
        b = _mm512_add_epi16(b, _mm512_loadu_si512((const void *)(W16 + (int64_t)l[e + 1] * 32)));
        c = _mm512_add_epi16(c, _mm512_loadu_si512((const void *)(W16 + (int64_t)l[e + 2] * 32)));
        d = _mm512_add_epi16(d, _mm512_loadu_si512((const void *)(W16 + (int64_t)l[e + 3] * 32)));
      }
      for (; e < n; e++) a = _mm512_add_epi16(a, _mm512_loadu_si512((const void *)(W16 + (int64_t)l[e] * 32)));
      _mm512_mask_storeu_epi16(I + (int64_t)t * ldi, m0, _mm512_add_epi16(_mm512_add_epi16(a, b), _mm512_add_epi16(c, d)));
    }
    return;
  }
  for (int64_t p = 0; p * PANEL < N; p++) {
    const int16_t *wp = W16 + p * K * PANEL;
    const int64_t w = N - p * PANEL < PANEL ? N - p * PANEL : PANEL;
    const __mmask32 m0 = w >= 32 ? 0xFFFFFFFFu : (__mmask32)((1u << w) - 1),
                    m1 = w >= 64 ? 0xFFFFFFFFu : w <= 32 ? 0 : (__mmask32)((1u << (w - 32)) - 1);
    for (int t = 0; t < nb; t++) {
      const int32_t *l = lists + (int64_t)t * (K + 16);
      const int32_t n = counts[t];
      __m512i a0 = _mm512_setzero_si512(), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, d0 = a0, d1 = a0;
      int32_t e = 0;
      for (; e + 4 <= n; e += 4) {
        const int16_t *r0 = wp + (int64_t)l[e] * PANEL, *r1 = wp + (int64_t)l[e + 1] * PANEL, *r2 = wp + (int64_t)l[e + 2] * PANEL,
                      *r3 = wp + (int64_t)l[e + 3] * PANEL;
        a0 = _mm512_add_epi16(a0, _mm512_loadu_si512((const void *)r0));
        a1 = _mm512_add_epi16(a1, _mm512_loadu_si512((const void *)(r0 + 32)));
        b0 = _mm512_add_epi16(b0, _mm512_loadu_si512((const void *)r1));
        b1 = _mm512_add_epi16(b1, _mm512_loadu_si512((const void *)(r1 + 32)));
        c0 = _mm512_add_epi16(c0, _mm512_loadu_si512((const void *)r2));
        c1 = _mm512_add_epi16(c1, _mm512_loadu_si512((const void *)(r2 + 32)));
        d0 = _mm512_add_epi16(d0, _mm512_loadu_si512((const void *)r3));
        d1 = _mm512_add_epi16(d1, _mm512_loadu_si512((const void *)(r3 + 32)));
      }
      for (; e < n; e++) {
        const int16_t *r0 = wp + (int64_t)l[e] * PANEL;
        a0 = _mm512_add_epi16(a0, _mm512_loadu_si512((const void *)r0));
        a1 = _mm512_add_epi16(a1, _mm512_loadu_si512((const void *)(r0 + 32)));
      }
      a0 = _mm512_add_epi16(_mm512_add_epi16(a0, b0), _mm512_add_epi16(c0, d0));
      a1 = _mm512_add_epi16(_mm512_add_epi16(a1, b1), _mm512_add_epi16(c1, d1));
      int16_t *out = I + (int64_t)t * ldi + p * PANEL;
      _mm512_mask_storeu_epi16(out, m0, a0);
      if (m1) _mm512_mask_storeu_epi16(out + 32, m1, a1);
    }
  }
}

/* The same on AVX2: a panel is four registers of 16. */
__attribute__((target("avx2"))) static void events_lists_avx2(const int32_t *lists, const int32_t *counts, int nb, int64_t K,
                                                              const int16_t *W16, int64_t N, int16_t *I, int64_t ldi) {
  const int64_t pw = panel_width(N);
  const int nr = (int)(pw / 16);
  for (int64_t p = 0; p * pw < N; p++) {
    const int16_t *wp = W16 + p * K * pw;
    const int64_t w = N - p * pw < pw ? N - p * pw : pw;
    for (int t = 0; t < nb; t++) {
      const int32_t *l = lists + (int64_t)t * (K + 16);
      __m256i a[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
      for (int32_t e = 0; e < counts[t]; e++) {
        const int16_t *r = wp + (int64_t)l[e] * pw;
        for (int c = 0; c < nr; c++) a[c] = _mm256_add_epi16(a[c], _mm256_loadu_si256((const __m256i *)(r + 16 * c)));
      }
      int16_t tmp[64];
      for (int c = 0; c < nr; c++) _mm256_storeu_si256((__m256i *)(tmp + 16 * c), a[c]);
      memcpy(I + (int64_t)t * ldi + p * pw, tmp, sizeof(int16_t) * (size_t)w);
    }
  }
}
#endif

void sf_q8_events_lists(const int32_t *lists, const int32_t *counts, int nb, int64_t K, const int16_t *W16, int64_t N, int16_t *I,
                        int64_t ldi) {
#if defined(__x86_64__)
  const sf_isa level = sf_q8_level();
  if (level == SF_ISA_AVX512_VNNI) { events_lists_512(lists, counts, nb, K, W16, N, I, ldi); return; }
  if (level == SF_ISA_AVX2) { events_lists_avx2(lists, counts, nb, K, W16, N, I, ldi); return; }
#endif
  events_lists_c(lists, counts, nb, K, W16, N, I, ldi);
}

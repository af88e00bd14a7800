/* Every kernel family at every instruction-set level this CPU supports, in one run: each level from
 * SF_ISA_C up to sf_cpu_isa_max() is forced in turn (sf_cpu_force_isa) and every kernel variant is
 * checked against the plain-C reference (the same kernel forced to SF_ISA_C, or an exact integer
 * reference written here). Integer results must match bit for bit; float results within the
 * tolerances derived at each check (FMA against a separate multiply and add, summation order).
 * Inputs: odd sizes (not multiples of 16 or 64, so every vector tail is taken), random values from
 * fixed seeds. A table at the end shows which code each family ran at each level; the test fails if
 * a level the CPU supports was not checked for every family. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/vmath.h"
#include "ops/row_kernels.h"
#include "ops/small_gemm.h"
#include "snn/ec_kernels.h"
#include "snn/ec_rows.h"
#include "snn/neuron_kernels_q8.h"
#include "snn/q8_codes.h"
#include "snn/spike_kernels.h"
#include "snn/spike_kernels_q8.h"
#include "snn/spike_lists_q8.h"
#include "spikeformer/cpu.h"
#include "spikeformer/rng.h"
#include "spikeformer/status.h"

#define NL 4             /* levels */
#define U 0x1p-24        /* unit roundoff of float32 (round to nearest) */

/* ---- the table: kernel family x level -> the code it ran there ---- */

enum {
  F_AXPY, F_DENSE, F_EVENTS, F_BITPACKED, F_NEURON_F32,
  F_Q8_DENSE, F_Q8_EVENTS, F_Q8_EVENTS16, F_Q8_STEPS, F_Q8_LISTS,
  F_Q8_N_IF, F_Q8_N_BURST_CMP, F_Q8_N_BURST_DIV, F_Q8_N_LEAK, F_Q8_N_SHIFT, F_Q8_N_FLOAT, F_Q8_IF_BLOCK,
  F_Q8_UNITS, F_Q8_DEQUANTISE, F_Q8_CODES, F_Q8_CURRENTS,
  F_EC_ACC, F_EC_INC, F_EC_GELU, F_EC_LAYERNORM, F_EC_SOFTMAX,
  F_LAYERNORM, F_SOFTMAX, F_GEMM, F_VEXP, F_VERF, F_VGELU, NF
};

/* the code each family's dispatch picks at each level (c, avx2, avx512, avx512-vnni), as the kernel
 * files choose it: float kernels take their AVX-512 code from SF_ISA_AVX512 up; the int8 kernels
 * theirs only at SF_ISA_AVX512_VNNI, below it their AVX2 code where they have one */
#define FLOAT3 {"c", "avx2", "avx512", "avx512"}
#define Q8_AVX2 {"c", "avx2", "avx2", "avx512"}
#define Q8_512 {"c", "c", "c", "avx512"}
#define F512 {"c", "c", "avx512", "avx512"}
static const struct {
  const char *name;
  const char *code[NL];
} k_fam[NF] = {
    [F_AXPY] = {"float axpy", FLOAT3},
    [F_DENSE] = {"float spike linear: dense", FLOAT3},
    [F_EVENTS] = {"float spike linear: event list", FLOAT3},
    [F_BITPACKED] = {"float spike linear: bit-packed", FLOAT3},
    [F_NEURON_F32] = {"float neurons (IF/LIF/burst)", FLOAT3},
    [F_Q8_DENSE] = {"int8 linear: dense, rows, row", Q8_AVX2},
    [F_Q8_EVENTS] = {"int8 linear: events", Q8_AVX2},
    [F_Q8_EVENTS16] = {"int8 linear: events16, row", Q8_512},
    [F_Q8_STEPS] = {"int8 events over a block of steps", Q8_512},
    [F_Q8_LISTS] = {"int8 time-major spike lists", Q8_AVX2},
    [F_Q8_N_IF] = {"int8 neurons: binary IF (K=1)", Q8_512},
    [F_Q8_N_BURST_CMP] = {"int8 neurons: burst K>1 (compare)", Q8_512},
    [F_Q8_N_BURST_DIV] = {"int8 neurons: burst K>1 (divide)", Q8_512},
    [F_Q8_N_LEAK] = {"int8 neurons: leaky", Q8_512},
    [F_Q8_N_SHIFT] = {"int8 neurons: shift thresholds", Q8_512},
    [F_Q8_N_FLOAT] = {"int8 neurons: float currents", Q8_512},
    [F_Q8_IF_BLOCK] = {"int8 IF neurons over a block of steps", Q8_512},
    [F_Q8_UNITS] = {"q8 units conversion", Q8_512},
    [F_Q8_DEQUANTISE] = {"q8 dequantise", Q8_512},
    [F_Q8_CODES] = {"q8 codes of rows", Q8_512},
    [F_Q8_CURRENTS] = {"q8 input currents", Q8_512},
    [F_EC_ACC] = {"EC accumulate", FLOAT3},
    [F_EC_INC] = {"EC increment", FLOAT3},
    [F_EC_GELU] = {"EC rows: GELU", FLOAT3},
    [F_EC_LAYERNORM] = {"EC rows: LayerNorm", FLOAT3},
    [F_EC_SOFTMAX] = {"EC rows: softmax", FLOAT3},
    [F_LAYERNORM] = {"row kernels: LayerNorm", F512},
    [F_SOFTMAX] = {"row kernels: softmax (exp from vmath)", FLOAT3},
    [F_GEMM] = {"small GEMM", F512},
    [F_VEXP] = {"vmath exp (libmvec)", FLOAT3},
    [F_VERF] = {"vmath erf (libmvec)", FLOAT3},
    [F_VGELU] = {"vmath GELU (libmvec erf)", FLOAT3},
};

static int g_checked[NF][NL];

static void mark(int f, sf_isa level) { g_checked[f][level] = 1; }

/* force a level and make sure the kernels see it */
static void at(sf_isa level) {
  assert_int_equal(sf_cpu_force_isa(level), SF_OK);
  assert_int_equal(sf_cpu_isa(), level);
}

static float urand(sf_rng *r, float lo, float hi) { return lo + (hi - lo) * sf_rng_uniform(r); }

/* bit-for-bit equality of float arrays, naming the first difference */
static void same_floats(const char *what, sf_isa level, const float *got, const float *ref, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (memcmp(&got[i], &ref[i], sizeof(float)) != 0) {
      printf("  %s at %s: [%lld] = %.9g, C gives %.9g\n", what, sf_isa_name(level), (long long)i, got[i], ref[i]);
      fail();
    }
}

/* |got - ref| <= tol elementwise */
static void close_floats(const char *what, sf_isa level, const float *got, const float *ref, const double *tol, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (!(fabs((double)got[i] - (double)ref[i]) <= tol[i])) {
      printf("  %s at %s: [%lld] = %.9g, C gives %.9g, tolerance %.3g\n", what, sf_isa_name(level), (long long)i, got[i], ref[i], tol[i]);
      fail();
    }
}

/* ---- float spike kernels ---- */

/* axpy: the C code rounds twice per element (y + fl(a w)), the AVX2 and AVX-512 code once (one
 * FMA). Each is exact up to u|a w| + u|a w + y| (C) and u|a w + y| (FMA), so they differ by at most
 * 3u(|a w| + |y|). Besides, each variant must equal its own exact model bit for bit. */
static void check_axpy(sf_isa level) {
  const int ns[] = {1, 7, 17, 45, 301};
  sf_rng rng;
  sf_rng_seed(&rng, 101);
  for (int c = 0; c < 5; c++) {
    const int n = ns[c];
    float w[301], y0[301], ref[301], got[301];
    double tol[301];
    const float a = urand(&rng, -2, 2);
    for (int i = 0; i < n; i++) w[i] = urand(&rng, -2, 2), y0[i] = urand(&rng, -3, 3);
    at(SF_ISA_C);
    memcpy(ref, y0, sizeof(float) * (size_t)n);
    sf_axpy(n, a, w, ref);
    at(level);
    memcpy(got, y0, sizeof(float) * (size_t)n);
    sf_axpy(n, a, w, got);
    for (int i = 0; i < n; i++) {
      tol[i] = 3 * U * (fabs((double)a * w[i]) + fabs((double)y0[i]));
      float model;
      if (level == SF_ISA_C) {
        const float p = a * w[i]; /* (separate statements: never contracted into an FMA) */
        model = y0[i] + p;
      } else model = fmaf(a, w[i], y0[i]);
      assert_memory_equal(&got[i], &model, sizeof(float));
    }
    close_floats("axpy", level, got, ref, tol, n);
  }
  mark(F_AXPY, level);
}

/* Spike linear, Y = Y0 + X W: per output element every path runs one chain over k in increasing
 * order (a zero input adds nothing). The C chain rounds twice per step, the FMA chains once; by the
 * bound on recursive summation each is within gamma_2K (C) or gamma_K (FMA) of the exact sum,
 * relative to S = |Y0| + sum_k |x_k w_kn| (gamma_m = m u / (1 - m u)), so they differ by at most
 * 3(K + 1) u S. At one level the dense, event and bit-packed paths are bit-identical (their
 * documented contract). */
static void check_spike_linear(sf_isa level) {
  const int64_t sizes[][3] = {{7, 77, 45}, {5, 61, 301}, {9, 33, 13}, {13, 1301, 37}}; /* the last one on threads */
  sf_rng rng;
  sf_rng_seed(&rng, 202);
  for (int c = 0; c < 4; c++) {
    const int64_t R = sizes[c][0], K = sizes[c][1], N = sizes[c][2];
    float *X = calloc((size_t)(R * K), sizeof(float)), *W = malloc(sizeof(float) * (size_t)(K * N)), *Y0 = malloc(sizeof(float) * (size_t)(R * N));
    float *ref = malloc(sizeof(float) * (size_t)(R * N)), *yd = malloc(sizeof(float) * (size_t)(R * N)), *ye = malloc(sizeof(float) * (size_t)(R * N)),
          *yb = malloc(sizeof(float) * (size_t)(R * N));
    double *tol = malloc(sizeof(double) * (size_t)(R * N));
    int64_t nnz = 0;
    for (int64_t i = 0; i < R * K; i++)
      if (i / K != 1 && sf_rng_uniform(&rng) < 0.2f) { /* row 1 silent */
        X[i] = 0.25f * (float)(1 + (int)(sf_rng_uniform(&rng) * 3)) * (sf_rng_uniform(&rng) < 0.3f ? -1.0f : 1.0f);
        nnz++;
      }
    for (int64_t i = 0; i < K * N; i++) W[i] = urand(&rng, -1, 1);
    for (int64_t i = 0; i < R * N; i++) Y0[i] = urand(&rng, -0.5f, 0.5f);
    for (int64_t r = 0; r < R; r++)
      for (int64_t n = 0; n < N; n++) {
        double s = fabs(Y0[r * N + n]);
        for (int64_t k = 0; k < K; k++) s += fabs((double)X[r * K + k] * W[k * N + n]);
        tol[r * N + n] = 3.0 * (double)(K + 1) * U * s;
      }
    at(SF_ISA_C);
    memcpy(ref, Y0, sizeof(float) * (size_t)(R * N));
    assert_int_equal(sf_spike_linear_dense(X, R, K, W, N, ref), R * K);
    at(level);
    memcpy(yd, Y0, sizeof(float) * (size_t)(R * N));
    memcpy(ye, Y0, sizeof(float) * (size_t)(R * N));
    memcpy(yb, Y0, sizeof(float) * (size_t)(R * N));
    assert_int_equal(sf_spike_linear_dense(X, R, K, W, N, yd), R * K);
    assert_int_equal(sf_spike_linear_events(X, R, K, W, N, ye), nnz);
    assert_int_equal(sf_spike_linear_bitpacked(X, R, K, W, N, yb), nnz);
    close_floats("spike linear (dense)", level, yd, ref, tol, R * N);
    close_floats("spike linear (events)", level, ye, ref, tol, R * N);
    close_floats("spike linear (bit-packed)", level, yb, ref, tol, R * N);
    same_floats("spike linear: events against dense at one level", level, ye, yd, R * N);
    same_floats("spike linear: bit-packed against dense at one level", level, yb, yd, R * N);
    free(X), free(W), free(Y0), free(ref), free(yd), free(ye), free(yb), free(tol);
  }
  mark(F_DENSE, level);
  mark(F_EVENTS, level);
  mark(F_BITPACKED, level);
}

/* Float-membrane neurons: every variant rounds each multiply and add separately (no FMA) and
 * floors, so all levels give identical results. Per-element and shared thresholds, leak or none,
 * binary, signed burst and unsigned burst levels, three steps. */
static void check_neuron_f32(sf_isa level) {
  enum { L = 301 };
  const int levels[][2] = {{0, 1}, {-4, 4}, {0, 7}};
  const float leaks[] = {1.0f, 0.875f};
  sf_rng rng;
  sf_rng_seed(&rng, 303);
  for (int st = 0; st < 2; st++)
    for (int li = 0; li < 2; li++)
      for (int ki = 0; ki < 3; ki++) {
        float x[L], th[L], ith[L], v0[L], vr[L], vg[L], yr[L], yg[L];
        for (int j = 0; j < L; j++) {
          th[j] = urand(&rng, 0.25f, 1.25f);
          ith[j] = 1.0f / th[j];
          v0[j] = urand(&rng, -1, 1);
        }
        memcpy(vr, v0, sizeof vr);
        memcpy(vg, v0, sizeof vg);
        for (int t = 0; t < 3; t++) {
          for (int j = 0; j < L; j++) x[j] = urand(&rng, -2, 3);
          int64_t nzr = 0, nzg = 0;
          at(SF_ISA_C);
          const int64_t sr = sf_neuron_step_f32(x, vr, yr, th, ith, st, L, leaks[li], levels[ki][0], levels[ki][1], &nzr);
          at(level);
          const int64_t sg = sf_neuron_step_f32(x, vg, yg, th, ith, st, L, leaks[li], levels[ki][0], levels[ki][1], &nzg);
          assert_int_equal(sg, sr);
          assert_int_equal(nzg, nzr);
          same_floats("float neurons: v", level, vg, vr, L);
          same_floats("float neurons: y", level, yg, yr, L);
        }
      }
  mark(F_NEURON_F32, level);
}

/* ---- int8 synaptic kernels: exact integer references ---- */

static void q8_reference(const int8_t *X, int64_t R, int64_t K, const int8_t *W, int64_t N, int32_t *acc) {
  for (int64_t r = 0; r < R; r++)
    for (int64_t k = 0; k < K; k++)
      for (int64_t n = 0; n < N; n++) acc[r * N + n] += X[r * K + k] * W[k * N + n];
}

static void check_q8_linear(sf_isa level) {
  /* narrow (one and two registers), wide, wider than 256 (several passes) and on threads */
  const int64_t sizes[][3] = {{9, 77, 37}, {13, 301, 10}, {13, 301, 23}, {7, 133, 301}, {13, 1301, 45}};
  sf_rng rng;
  sf_rng_seed(&rng, 404);
  for (int c = 0; c < 5; c++) {
    const int64_t R = sizes[c][0], K = sizes[c][1], N = sizes[c][2], RN = R * N;
    int8_t *X = calloc((size_t)(R * K + 4), 1), *W = malloc((size_t)(K * N)), *Wp = malloc((size_t)sf_q8_packed_size(K, N));
    int32_t *colsum = malloc(sizeof(int32_t) * (size_t)N), *bias = malloc(sizeof(int32_t) * (size_t)N);
    int32_t *ref = malloc(sizeof(int32_t) * (size_t)RN), *refb = malloc(sizeof(int32_t) * (size_t)RN), *a = malloc(sizeof(int32_t) * (size_t)RN);
    int32_t *idx = malloc(sizeof(int32_t) * (size_t)(K + 64));
    int64_t nnz = 0;
    for (int64_t i = 0; i < R * K; i++)
      if (i / K != 2 && sf_rng_uniform(&rng) < 0.3f) { /* row 2 silent */
        int v = (int)(sf_rng_uniform(&rng) * 8) - 4;
        X[i] = (int8_t)(v >= 0 ? v + 1 : v); /* -4..-1, 1..4 */
        nnz++;
      }
    for (int64_t i = 0; i < K * N; i++) W[i] = (int8_t)((int)(sf_rng_uniform(&rng) * 255) - 127);
    for (int64_t n = 0; n < N; n++) bias[n] = 1000 - 37 * (int32_t)n;
    sf_q8_pack(W, K, N, Wp, colsum);
    for (int64_t i = 0; i < RN; i++) ref[i] = (int32_t)i - 100, refb[i] = bias[i % N];
    q8_reference(X, R, K, W, N, ref);
    q8_reference(X, R, K, W, N, refb);
    at(level);
    /* events: onto the accumulators */
    for (int64_t i = 0; i < RN; i++) a[i] = (int32_t)i - 100;
    assert_int_equal(sf_q8_linear_events(X, R, K, W, N, a), nnz);
    assert_memory_equal(a, ref, sizeof(int32_t) * (size_t)RN);
    /* dense: onto the accumulators, and from the bias row; one row at a time; rows at once */
    for (int64_t i = 0; i < RN; i++) a[i] = (int32_t)i - 100;
    sf_q8_linear_dense(X, R, K, W, Wp, colsum, N, NULL, a);
    assert_memory_equal(a, ref, sizeof(int32_t) * (size_t)RN);
    for (int64_t i = 0; i < RN; i++) a[i] = 12345;
    sf_q8_linear_dense(X, R, K, W, Wp, colsum, N, bias, a);
    assert_memory_equal(a, refb, sizeof(int32_t) * (size_t)RN);
    for (int64_t i = 0; i < RN; i++) a[i] = 12345;
    for (int64_t r = 0; r < R; r++) sf_q8_dense_row(X + r * K, K, W, Wp, colsum, N, bias, a + r * N);
    assert_memory_equal(a, refb, sizeof(int32_t) * (size_t)RN);
    for (int64_t i = 0; i < RN; i++) a[i] = 12345;
    sf_q8_dense_rows(X, R, K, W, Wp, colsum, N, bias, a);
    assert_memory_equal(a, refb, sizeof(int32_t) * (size_t)RN);
    /* int16 partial sums (|k| <= 4: a flush every 64 events), from the bias row and onto the
     * accumulators; one row at a time */
    for (int64_t i = 0; i < RN; i++) a[i] = 12345;
    assert_int_equal(sf_q8_linear_events16(X, R, K, W, N, 4, bias, a), nnz);
    assert_memory_equal(a, refb, sizeof(int32_t) * (size_t)RN);
    for (int64_t i = 0; i < RN; i++) a[i] = (int32_t)i - 100;
    assert_int_equal(sf_q8_linear_events16(X, R, K, W, N, 4, NULL, a), nnz);
    assert_memory_equal(a, ref, sizeof(int32_t) * (size_t)RN);
    for (int64_t i = 0; i < RN; i++) a[i] = 12345;
    int64_t ev = 0;
    for (int64_t r = 0; r < R; r++) ev += sf_q8_events16_row(X + r * K, K, W, N, 4, bias, a + r * N, idx);
    assert_int_equal(ev, nnz);
    assert_memory_equal(a, refb, sizeof(int32_t) * (size_t)RN);
    free(X), free(W), free(Wp), free(colsum), free(bias), free(ref), free(refb), free(a), free(idx);
  }
  mark(F_Q8_EVENTS, level);
  mark(F_Q8_DENSE, level);
  mark(F_Q8_EVENTS16, level);
}

/* The events of a block of steps (int16 rows ldi apart, added to) and the panel kernel on per-step
 * lists (rows overwritten; the gaps between rows untouched). */
static void check_q8_steps_lists(sf_isa level) {
  enum { K = 133, LDX = 3 };
  const int64_t Ns[] = {10, 23, 45, 130, 255, 301};
  const int nbs[] = {5, 32};
  sf_rng rng;
  sf_rng_seed(&rng, 505);
  int8_t *W = malloc(K * 301), *S = calloc(32 * K + 4, 1);
  for (int i = 0; i < K * 301; i++) W[i] = (int8_t)((int)(sf_rng_uniform(&rng) * 255) - 127);
  for (int c = 0; c < 6; c++)
    for (int b = 0; b < 2; b++) {
      const int64_t N = Ns[c], ldi = N + LDX;
      const int nb = nbs[b];
      int16_t *I = malloc(sizeof(int16_t) * (size_t)(nb * ldi)), *ref = malloc(sizeof(int16_t) * (size_t)(nb * ldi));
      uint32_t bits[K];
      /* signed spikes, at most ~20 per step: |sums| <= 20 * 127 + the start values, no overflow */
      for (int i = 0; i < nb * K; i++) S[i] = sf_rng_uniform(&rng) < 0.15f ? (int8_t)(sf_rng_uniform(&rng) < 0.8f ? 1 : -1) : 0;
      for (int64_t i = 0; i < nb * ldi; i++) ref[i] = (int16_t)((int)(sf_rng_uniform(&rng) * 2000) - 1000);
      memcpy(I, ref, sizeof(int16_t) * (size_t)(nb * ldi));
      for (int t = 0; t < nb; t++)
        for (int64_t n = 0; n < N; n++) {
          int32_t s = ref[t * ldi + n];
          for (int k = 0; k < K; k++) s += S[t * K + k] * W[k * N + n];
          ref[t * ldi + n] = (int16_t)s;
        }
      at(level);
      sf_q8_step_bits(S, nb, K, bits);
      sf_q8_events_steps(S, nb, K, bits, W, N, I, ldi);
      assert_memory_equal(I, ref, sizeof(int16_t) * (size_t)(nb * ldi));
      /* binary spikes as lists */
      int32_t *lists = malloc(sizeof(int32_t) * (size_t)(nb * (K + 16))), counts[32];
      int16_t *W16 = malloc(sizeof(int16_t) * (size_t)sf_q8_w16_size(K, N));
      for (int t = 0; t < nb; t++) {
        counts[t] = 0;
        for (int k = 0; k < K; k++) {
          S[t * K + k] = (int8_t)(S[t * K + k] != 0);
          if (S[t * K + k]) lists[t * (K + 16) + counts[t]++] = k;
        }
      }
      for (int64_t i = 0; i < nb * ldi; i++) I[i] = ref[i] = 0x5A5A;
      for (int t = 0; t < nb; t++)
        for (int64_t n = 0; n < N; n++) {
          int32_t s = 0;
          for (int k = 0; k < K; k++) s += S[t * K + k] * W[k * N + n];
          ref[t * ldi + n] = (int16_t)s;
        }
      sf_q8_pack_w16(W, K, N, W16);
      sf_q8_events_lists(lists, counts, nb, K, W16, N, I, ldi);
      assert_memory_equal(I, ref, sizeof(int16_t) * (size_t)(nb * ldi));
      free(I), free(ref), free(lists), free(W16);
    }
  free(W), free(S);
  mark(F_Q8_STEPS, level);
  mark(F_Q8_LISTS, level);
}

/* ---- int32-membrane neurons ---- */

/* The general kernel in every mode it has: K = 1 (binary IF), burst levels found by compares (few
 * levels, small thresholds) or by a corrected float division (many levels or huge thresholds),
 * power-of-two thresholds (shifts), leak, int and float currents, signed and unsigned, with and
 * without a float output. Reference: the kernel forced to C, and for integer currents without leak
 * also exact integer division. */
static void check_q8_neuron(sf_isa level) {
  enum { L = 301 };
  const int Ks[] = {1, 2, 4, 5, 12};
  const int32_t scales[] = {37, 4096, 1 << 28};
  const float leaks[] = {1.0f, 0.9f};
  sf_rng rng;
  sf_rng_seed(&rng, 606);
  for (int ki = 0; ki < 5; ki++)
    for (int si = 0; si < 3; si++)
      for (int li = 0; li < 2; li++)
        for (int sgn = 0; sgn < 2; sgn++)
          for (int xf_in = 0; xf_in < 2; xf_in++)
            for (int yo = 0; yo < 2; yo++) {
              const int K = Ks[ki], lo = sgn ? -K : 0;
              const float leak = leaks[li];
              int32_t xa[L], v0[L], vr[L], vg[L], Th[L], thmax = 1;
              float xf[L], iTh[L], iu[L], th[L], yr[L], yg[L];
              int8_t kr[L + 4], kg[L + 4];
              int shift = -1;
              for (int j = 0; j < L; j++) {
                Th[j] = si == 1 ? 4096 : 1 + (int32_t)(sf_rng_uniform(&rng) * (float)scales[si]);
                thmax = Th[j] > thmax ? Th[j] : thmax;
                iTh[j] = 1.0f / (float)Th[j];
                th[j] = urand(&rng, 0.25f, 1.0f);
                v0[j] = (int32_t)((sf_rng_uniform(&rng) - 0.5f) * 2.0f * (float)Th[j]);
                double x = (sf_rng_uniform(&rng) - 0.5) * 2.5 * (K + 1) * (double)Th[j];
                xa[j] = (int32_t)(x > 1e9 ? 1e9 : x < -1e9 ? -1e9 : x);
                xf[j] = (float)xa[j] * 0.25f + 0.3f;
                iu[j] = 4.0f;
              }
              if (si == 1) shift = 12;
              const int cmp = K > 1 && shift < 0 && K <= 8 && (int64_t)thmax * (K + 1) < (1LL << 30);
              memcpy(vr, v0, sizeof vr);
              memcpy(vg, v0, sizeof vg);
              int64_t nzr = 0, nzg = 0;
              at(SF_ISA_C);
              const int64_t sr = sf_q8_neuron_block(xf_in ? NULL : xa, xf_in ? xf : NULL, vr, kr, yo ? yr : NULL, Th, iTh, iu, th, L, leak, lo, K,
                                                    thmax, shift, &nzr);
              at(level);
              const int64_t sg = sf_q8_neuron_block(xf_in ? NULL : xa, xf_in ? xf : NULL, vg, kg, yo ? yg : NULL, Th, iTh, iu, th, L, leak, lo, K,
                                                    thmax, shift, &nzg);
              assert_int_equal(sg, sr);
              assert_int_equal(nzg, nzr);
              assert_memory_equal(kg, kr, L);
              assert_memory_equal(vg, vr, sizeof vg);
              if (yo) same_floats("int8 neurons: y", level, yg, yr, L);
              if (!xf_in && leak == 1.0f)
                for (int j = 0; j < L; j++) { /* exact: floor division, clamp, reset by subtraction */
                  int64_t u = (int64_t)v0[j] + xa[j], k = u >= 0 ? u / Th[j] : -((-u + Th[j] - 1) / Th[j]);
                  k = k < lo ? lo : k > K ? K : k;
                  int64_t nv = u - k * Th[j];
                  nv = nv > (1 << 30) ? (1 << 30) : nv < -(1 << 30) ? -(1 << 30) : nv;
                  assert_int_equal(kg[j], (int)k);
                  assert_int_equal(vg[j], (int32_t)nv);
                }
              if (K == 1) mark(F_Q8_N_IF, level);
              else if (shift >= 0) mark(F_Q8_N_SHIFT, level);
              else if (cmp) mark(F_Q8_N_BURST_CMP, level);
              else mark(F_Q8_N_BURST_DIV, level);
              if (leak != 1.0f) mark(F_Q8_N_LEAK, level);
              if (xf_in) mark(F_Q8_N_FLOAT, level);
            }
}

/* Binary IF neurons over a block of steps, against the exact per-step arithmetic: constant
 * currents, one row per step, int16 sums plus a bias row; signed and unsigned; thresholds small and
 * near the membrane clamp at 2^30; rows with partial groups of 16 and 64; every output, or counts only. */
static void check_q8_if_block(sf_isa level) {
  enum { LMAX = 301, TB = 32 };
  const int lens[] = {37, 75, 301}, nbs[] = {1, 7, 32};
  sf_rng rng;
  sf_rng_seed(&rng, 707);
  int32_t *xa = malloc(sizeof(int32_t) * TB * LMAX), *lists = malloc(sizeof(int32_t) * TB * (LMAX + 16));
  int16_t *x16 = malloc(sizeof(int16_t) * TB * LMAX);
  int8_t *kq = malloc(TB * LMAX), *kref = malloc(TB * LMAX);
  int32_t b32[LMAX], v0[LMAX], v[LMAX], vref[LMAX], Th[LMAX], counts[TB], cref[TB];
  uint32_t bits[LMAX], bref[LMAX];
  for (int big = 0; big < 2; big++)
    for (int sgn = 0; sgn < 2; sgn++)
      for (int li = 0; li < 3; li++)
        for (int bi = 0; bi < 3; bi++)
          for (int mode = 0; mode < 3; mode++)
            for (int outs = 0; outs < 2; outs++) {
              const int len = lens[li], nb = nbs[bi];
              for (int j = 0; j < len; j++) {
                Th[j] = 1 + (int32_t)(sf_rng_uniform(&rng) * (big ? 2.0e8f : 5000.0f));
                v0[j] = (int32_t)((sf_rng_uniform(&rng) - 0.5f) * 2.0f * (float)Th[j]);
                b32[j] = (int32_t)((sf_rng_uniform(&rng) - 0.4f) * 2.0f * (float)Th[j]);
              }
              for (int i = 0; i < nb * len; i++) {
                xa[i] = (int32_t)((sf_rng_uniform(&rng) - 0.4f) * 3.0f * (float)Th[i % len]);
                x16[i] = (int16_t)((sf_rng_uniform(&rng) - 0.5f) * 60000.0f);
              }
              /* reference */
              memcpy(vref, v0, sizeof(int32_t) * (size_t)len);
              memset(bref, 0, sizeof bref);
              int64_t total_ref = 0;
              for (int t = 0; t < nb; t++) {
                cref[t] = 0;
                for (int j = 0; j < len; j++) {
                  const int64_t x = mode == 0 ? xa[j] : mode == 1 ? xa[t * len + j] : (int64_t)b32[j] + x16[t * len + j];
                  const int64_t u = vref[j] + x;
                  const int k = u >= Th[j] ? 1 : sgn && u < 0 ? -1 : 0;
                  int64_t nv = u - (int64_t)k * Th[j];
                  vref[j] = (int32_t)(nv > (1 << 30) ? (1 << 30) : nv < -(1 << 30) ? -(1 << 30) : nv);
                  kref[t * len + j] = (int8_t)k;
                  if (k) bref[j] |= 1u << t, cref[t]++;
                }
                total_ref += cref[t];
              }
              at(level);
              memcpy(v, v0, sizeof(int32_t) * (size_t)len);
              const int64_t total = sf_q8_neuron_if_block(xa, mode == 1 ? len : 0, mode == 2 ? x16 : NULL, b32, nb, v, Th, len, sgn,
                                                          outs ? kq : NULL, outs ? bits : NULL, outs ? lists : NULL, counts);
              assert_int_equal(total, total_ref);
              assert_memory_equal(counts, cref, sizeof(int32_t) * (size_t)nb);
              assert_memory_equal(v, vref, sizeof(int32_t) * (size_t)len);
              if (!outs) continue;
              assert_memory_equal(kq, kref, (size_t)(nb * len));
              assert_memory_equal(bits, bref, sizeof(uint32_t) * (size_t)len);
              for (int t = 0; t < nb; t++)
                for (int j = 0, e = 0; j < len; j++)
                  if (kref[t * len + j]) assert_int_equal(lists[t * (len + 16) + e++], j); /* ascending */
            }
  free(xa), free(lists), free(x16), free(kq), free(kref);
  mark(F_Q8_IF_BLOCK, level);
}

/* ---- between floats and integers: identical arithmetic (one rounding per operation) at every
 * level, so bit for bit against C ---- */

static void check_q8_codes(sf_isa level) {
  enum { R = 6, K = 301, N = 45 };
  sf_rng rng;
  sf_rng_seed(&rng, 808);
  /* codes of rows: unsigned, signed, all zero, a NaN among negatives, large values, one tiny */
  float X[R * K];
  for (int k = 0; k < K; k++) {
    X[0 * K + k] = urand(&rng, 0, 3);
    X[1 * K + k] = urand(&rng, -2, 3);
    X[2 * K + k] = 0.0f;
    X[3 * K + k] = k == 17 ? NAN : urand(&rng, -5, -0.5f);
    X[4 * K + k] = urand(&rng, -1e6f, 1e6f);
    X[5 * K + k] = k == K - 1 ? 1e-30f : 0.0f;
  }
  int8_t qr[R * K], qg[R * K];
  float sr[R], sg[R];
  uint8_t ur[R], ug[R];
  at(SF_ISA_C);
  sf_q8_code_rows(X, R, K, qr, sr, ur);
  at(level);
  sf_q8_code_rows(X, R, K, qg, sg, ug);
  assert_memory_equal(qg, qr, sizeof qr);
  assert_memory_equal(ug, ur, sizeof ur);
  same_floats("q8 codes: scales", level, sg, sr, R);
  mark(F_Q8_CODES, level);
  /* input currents, with and without bias */
  int32_t acc[R * N], colsum[N];
  float ws[N], bias[N], xs[R], yr[R * N], yg[R * N];
  uint8_t u8[R];
  for (int i = 0; i < R * N; i++) acc[i] = (int32_t)((sf_rng_uniform(&rng) - 0.5f) * 2e5f);
  for (int n = 0; n < N; n++) colsum[n] = (int32_t)((sf_rng_uniform(&rng) - 0.5f) * 6000.0f), ws[n] = urand(&rng, 1e-4f, 1e-2f), bias[n] = urand(&rng, -1, 1);
  for (int r = 0; r < R; r++) xs[r] = urand(&rng, 1e-3f, 1e-1f), u8[r] = (uint8_t)(r & 1);
  for (int b = 0; b < 2; b++) {
    at(SF_ISA_C);
    sf_q8_input_currents(acc, R, N, xs, u8, ws, colsum, b ? bias : NULL, yr);
    at(level);
    sf_q8_input_currents(acc, R, N, xs, u8, ws, colsum, b ? bias : NULL, yg);
    same_floats("q8 input currents", level, yg, yr, R * N);
  }
  mark(F_Q8_CURRENTS, level);
  /* units: including currents beyond the +-1e9 clamp and halves */
  float x[K], iu[K];
  int32_t ur32[K], ug32[K];
  for (int j = 0; j < K; j++) {
    x[j] = j % 50 == 0 ? (j % 100 ? 1e12f : -1e12f) : j % 7 == 0 ? (float)(j - 150) + 0.5f : urand(&rng, -3000, 3000);
    iu[j] = j % 7 == 0 ? 1.0f : urand(&rng, 0.5f, 8.0f);
  }
  at(SF_ISA_C);
  sf_q8_units(x, iu, K, ur32);
  at(level);
  sf_q8_units(x, iu, K, ug32);
  assert_memory_equal(ug32, ur32, sizeof ur32);
  mark(F_Q8_UNITS, level);
  /* dequantise, with and without bias */
  for (int b = 0; b < 2; b++) {
    at(SF_ISA_C);
    sf_q8_dequantise(acc, R, N, ws, b ? bias : NULL, yr);
    at(level);
    sf_q8_dequantise(acc, R, N, ws, b ? bias : NULL, yg);
    same_floats("q8 dequantise", level, yg, yr, R * N);
  }
  mark(F_Q8_DEQUANTISE, level);
}

/* ---- expectation compensation ---- */

/* running sums: one add, one multiply, one subtract per element at every level (no FMA) */
static void check_ec(sf_isa level) {
  const int ns[] = {1, 15, 17, 301};
  sf_rng rng;
  sf_rng_seed(&rng, 909);
  for (int c = 0; c < 4; c++) {
    const int n = ns[c];
    float x[301], cr[301] = {0}, cg[301] = {0}, mr[301], mg[301], pr[301] = {0}, pg[301] = {0}, yr[301], yg[301], f[301];
    for (int t = 1; t <= 3; t++) {
      for (int i = 0; i < n; i++) x[i] = urand(&rng, -2, 2), f[i] = urand(&rng, -1, 1);
      const int with_mean = t != 2;
      at(SF_ISA_C);
      sf_ec_accumulate(cr, with_mean ? mr : NULL, x, 1.0f / (float)t, n);
      sf_ec_increment(yr, f, pr, (float)t, n);
      at(level);
      sf_ec_accumulate(cg, with_mean ? mg : NULL, x, 1.0f / (float)t, n);
      sf_ec_increment(yg, f, pg, (float)t, n);
      same_floats("EC accumulate: sums", level, cg, cr, n);
      if (with_mean) same_floats("EC accumulate: means", level, mg, mr, n);
      same_floats("EC increment: y", level, yg, yr, n);
      same_floats("EC increment: prev", level, pg, pr, n);
    }
  }
  mark(F_EC_ACC, level);
  mark(F_EC_INC, level);
}

/* LayerNorm of one row: the bound on |y_level - y_C| per element. The C code sums the row in order,
 * the AVX-512 code in 16 lanes and a tree, with FMAs for the squares. With s = mean |x|, m the mean,
 * inv = 1 / sqrt(var + eps) and A = (s + |x - m|) inv |scale| + |bias|:
 *   the two means differ by at most 2 gamma_D s + 2u |m| (two sums of D terms, two divisions);
 *   the two variances (sums of D squares, D >= 0 terms) by a relative 2 gamma_(D+2), so the two inv
 *   by a relative (D + 10) u (the square root halves it; eps, sqrt and the division add roundings);
 *     (the means' difference enters the variance only squared: negligible)
 *   the last four operations (subtract, scale by inv, by scale, add bias) add 4u A per code.
 * In all |y_level - y_C| <= 2 (D + 1) u s inv |scale| + (D + 10) u |x - m| inv |scale| + 8u A
 * <= 4 (D + 8) u A. The means and the inverse deviations themselves: 4 (D + 8) u s and 4 (D + 8) u inv. */
static void layernorm_tol(const float *x, int64_t D, const float *scale, const float *bias, float eps, double *tol, double *tol_mean,
                          double *tol_inv) {
  double s = 0, m = 0, var = 0;
  for (int64_t i = 0; i < D; i++) s += fabs(x[i]), m += x[i];
  s /= (double)D;
  m /= (double)D;
  for (int64_t i = 0; i < D; i++) var += (x[i] - m) * (x[i] - m);
  const double inv = 1.0 / sqrt(var / (double)D + eps), g = 4.0 * (double)(D + 8) * U;
  for (int64_t i = 0; i < D; i++)
    tol[i] = g * ((s + fabs(x[i] - m)) * inv * (scale ? fabs(scale[i]) : 1.0) + (bias ? fabs(bias[i]) : 0.0));
  if (tol_mean) *tol_mean = g * s;
  if (tol_inv) *tol_inv = g * inv;
}

static void check_layernorm_softmax(sf_isa level) {
  const int64_t shapes[][2] = {{9, 7}, {9, 65}, {3, 1501}, {23, 1501}}; /* the last one on threads */
  sf_rng rng;
  sf_rng_seed(&rng, 1010);
  float scale[1501], bias[1501];
  for (int j = 0; j < 1501; j++) scale[j] = urand(&rng, 0.5f, 1.5f), bias[j] = urand(&rng, -0.5f, 0.5f);
  for (int c = 0; c < 4; c++)
    for (int aff = 0; aff < 3; aff++) { /* scale and bias, neither, scale alone */
      const int64_t R = shapes[c][0], D = shapes[c][1];
      const float *sc = aff != 1 ? scale : NULL, *bi = aff == 0 ? bias : NULL, eps = aff == 1 ? 1e-6f : 1e-5f;
      float *X = malloc(sizeof(float) * (size_t)(R * D)), *yr = malloc(sizeof(float) * (size_t)(R * D)), *yg = malloc(sizeof(float) * (size_t)(R * D));
      double *tol = malloc(sizeof(double) * (size_t)(R * D));
      float mr[23], mg[23], ir[23], ig[23];
      for (int64_t i = 0; i < R * D; i++) X[i] = (sf_rng_uniform(&rng) - 0.4f) * 3.0f;
      at(SF_ISA_C);
      sf_layernorm_rows(X, yr, R, D, sc, bi, eps, mr, ir);
      at(level);
      sf_layernorm_rows(X, yg, R, D, sc, bi, eps, mg, ig);
      for (int64_t r = 0; r < R; r++) {
        double tm, ti;
        layernorm_tol(X + r * D, D, sc, bi, eps, tol + r * D, &tm, &ti);
        if (!(fabs((double)mg[r] - mr[r]) <= tm) || !(fabs((double)ig[r] - ir[r]) <= ti)) {
          printf("  LayerNorm row %lld at %s: mean %.9g / %.9g (tol %.3g), inv %.9g / %.9g (tol %.3g)\n", (long long)r, sf_isa_name(level), mg[r],
                 mr[r], tm, ig[r], ir[r], ti);
          fail();
        }
      }
      close_floats("LayerNorm rows", level, yg, yr, tol, R * D);
      if (aff == 0) {
        /* softmax: its own code is one, its exp is vmath's (libm's expf at c, libmvec's above):
         * each e_i within 4 ulp (8u), the sum within 8u + D u, the quotient one more rounding: (20 + 2 D) u of y_i */
        at(SF_ISA_C);
        sf_softmax_rows(X, yr, R, D);
        at(level);
        sf_softmax_rows(X, yg, R, D);
        for (int64_t i = 0; i < R * D; i++) tol[i] = (20.0 + 2.0 * (double)D) * U * fabs(yr[i]) + 1e-37;
        close_floats("softmax rows", level, yg, yr, tol, R * D);
      }
      free(X), free(yr), free(yg), free(tol);
    }
  mark(F_LAYERNORM, level);
  mark(F_SOFTMAX, level);
}

/* Fused EC rows over 4 steps: at each level bit-identical to its three passes at that level (the
 * fused kernel's contract), and against the fused kernel forced to C: the running sums and means
 * exactly (check_ec), the outputs within: prev_t = t f_t differs by at most t tol_f(mean_t) +
 * 2u |prev_t| (tol_f: LayerNorm's as in layernorm_tol; GELU's and softmax's from vmath's 4 ulp, as
 * in check_vmath and check_layernorm_softmax), y_t = prev_t - prev_(t-1) by the two prev bounds
 * plus 2u |y_t|. */
static void check_ec_rows(sf_isa level) {
  enum { NMAX = 4700, T = 4 };
  sf_rng rng;
  sf_rng_seed(&rng, 1111);
  float scale[1501], bias[1501];
  for (int j = 0; j < 1501; j++) scale[j] = urand(&rng, 0.5f, 1.5f), bias[j] = urand(&rng, -0.5f, 0.5f);
  const sf_ec_rows_op ops[] = {{SF_EC_ROWS_GELU, 1, 0, NULL, NULL},           {SF_EC_ROWS_LAYERNORM, 65, 1e-5f, scale, bias},
                               {SF_EC_ROWS_LAYERNORM, 65, 1e-6f, NULL, NULL},  {SF_EC_ROWS_LAYERNORM, 1501, 1e-5f, scale, NULL},
                               {SF_EC_ROWS_SOFTMAX, 17, 0, NULL, NULL},        {SF_EC_ROWS_SOFTMAX, 7, 0, NULL, NULL}};
  float *buf[10];
  for (int i = 0; i < 10; i++) buf[i] = malloc(sizeof(float) * NMAX);
  float *x = buf[0], *cr = buf[1], *pr = buf[2], *yr = buf[3], *cg = buf[4], *pg = buf[5], *yg = buf[6], *c3 = buf[7], *p3 = buf[8], *y3 = buf[9];
  float *mean = malloc(sizeof(float) * NMAX), *f = malloc(sizeof(float) * NMAX), m2[1536], f2[1536];
  double *tol = malloc(sizeof(double) * NMAX), *tprev = malloc(sizeof(double) * NMAX), *tprev0 = malloc(sizeof(double) * NMAX);
  for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
    const sf_ec_rows_op *op = &ops[o];
    const int64_t n = 3000 / op->D * op->D + op->D; /* whole rows; blocks of several rows end inside one */
    assert_true(n <= NMAX && sf_ec_rows_block(op) <= 1536);
    for (int64_t i = 0; i < n; i++) cr[i] = cg[i] = c3[i] = pr[i] = pg[i] = p3[i] = 0.0f, tprev0[i] = 0.0;
    for (int t = 1; t <= T; t++) {
      const float it = 1.0f / (float)t, ft = (float)t;
      for (int64_t i = 0; i < n; i++) x[i] = (sf_rng_uniform(&rng) - 0.4f) * 3.0f;
      at(SF_ISA_C);
      sf_ec_rows_step(op, cr, x, pr, yr, m2, f2, it, ft, n);
      at(level);
      sf_ec_rows_step(op, cg, x, pg, yg, m2, f2, it, ft, n);
      /* the three passes over the whole tensor at this level */
      sf_ec_accumulate(c3, mean, x, it, n);
      if (op->kind == SF_EC_ROWS_GELU) sf_vgelu(f, mean, n);
      else if (op->kind == SF_EC_ROWS_LAYERNORM) sf_layernorm_rows(mean, f, n / op->D, op->D, op->scale, op->bias, op->eps, NULL, NULL);
      else sf_softmax_rows(mean, f, n / op->D, op->D);
      sf_ec_increment(y3, f, p3, ft, n);
      same_floats("EC rows: fused against three passes (y)", level, yg, y3, n);
      same_floats("EC rows: fused against three passes (prev)", level, pg, p3, n);
      same_floats("EC rows: fused against three passes (sums)", level, cg, c3, n);
      same_floats("EC rows: running sums", level, cg, cr, n);
      /* f's tolerance on the identical means: LayerNorm's, or the vmath bounds (GELU: 4 ulp of erf
       * scaled by |x| / 2; softmax: as in the row kernels) */
      if (op->kind == SF_EC_ROWS_LAYERNORM)
        for (int64_t r = 0; r < n / op->D; r++) layernorm_tol(mean + r * op->D, op->D, op->scale, op->bias, op->eps, tol + r * op->D, NULL, NULL);
      else if (op->kind == SF_EC_ROWS_GELU)
        for (int64_t i = 0; i < n; i++) tol[i] = 16.0 * U * (fabs(f[i]) + 0.5 * fabs(mean[i])) + 1e-37;
      else
        for (int64_t i = 0; i < n; i++) tol[i] = (20.0 + 2.0 * (double)op->D) * U * fabs(f[i]) + 1e-37;
      for (int64_t i = 0; i < n; i++) {
        tprev[i] = (double)t * tol[i] * (1 + 2 * U) + 2 * U * fabs(pr[i]);
        tol[i] = tprev[i] + tprev0[i] + 2 * U * fabs(yr[i]);
      }
      close_floats("EC rows: prev", level, pg, pr, tprev, n);
      close_floats("EC rows: y", level, yg, yr, tol, n);
      memcpy(tprev0, tprev, sizeof(double) * (size_t)n);
    }
    mark(op->kind == SF_EC_ROWS_GELU ? F_EC_GELU : op->kind == SF_EC_ROWS_LAYERNORM ? F_EC_LAYERNORM : F_EC_SOFTMAX, level);
  }
  for (int i = 0; i < 10; i++) free(buf[i]);
  free(mean), free(f), free(tol), free(tprev), free(tprev0);
}

/* Small GEMM, Y = alpha A B: per element one chain over k in order, then the scaling. As for the
 * spike linear: the chains differ by at most 3(K + 1) u S, S = sum_k |a_k b_kn|, times |alpha|; the
 * final multiply adds u |y| per code. */
static void check_gemm(sf_isa level) {
  const int64_t sizes[][3] = {{1, 1, 1}, {13, 5, 7}, {13, 13, 65}, {7, 17, 127}, {11, 31, 33}, {128, 23, 128}};
  sf_rng rng;
  sf_rng_seed(&rng, 1212);
  for (int c = 0; c < 6; c++) {
    const int64_t M = sizes[c][0], N = sizes[c][1], K = sizes[c][2];
    assert_true(sf_small_gemm_fits(M, N, K));
    float *A = malloc(sizeof(float) * (size_t)(M * K)), *B = malloc(sizeof(float) * (size_t)(K * N)), *yr = malloc(sizeof(float) * (size_t)(M * N)),
          *yg = malloc(sizeof(float) * (size_t)(M * N));
    double *tol = malloc(sizeof(double) * (size_t)(M * N));
    const float alpha = 0.37f;
    for (int64_t i = 0; i < M * K; i++) A[i] = urand(&rng, -1, 1);
    for (int64_t i = 0; i < K * N; i++) B[i] = urand(&rng, -1, 1);
    at(SF_ISA_C);
    sf_small_gemm(M, N, K, alpha, A, B, yr);
    at(level);
    sf_small_gemm(M, N, K, alpha, A, B, yg);
    for (int64_t m = 0; m < M; m++)
      for (int64_t n = 0; n < N; n++) {
        double s = 0;
        for (int64_t k = 0; k < K; k++) s += fabs((double)A[m * K + k] * B[k * N + n]);
        tol[m * N + n] = 3.0 * (double)(K + 1) * U * fabs(alpha) * s + 2 * U * fabs(yr[m * N + n]);
      }
    close_floats("small GEMM", level, yg, yr, tol, M * N);
    free(A), free(B), free(yr), free(yg), free(tol);
  }
  mark(F_GEMM, level);
}

/* vmath (exp, erf, GELU over arrays): libm's scalar functions at c, libmvec's AVX2 / AVX-512 ones
 * above (glibc documents at most 4 ulp for them). Against a double-precision reference: 4 ulp of
 * the result plus the float rounding of the input's use (GELU: x / 2 (1 + erf(x / sqrt 2)), so 4 ulp
 * of erf scaled by |x| / 2, and a few roundings of the product). */
static void check_vmath(sf_isa level) {
  enum { N = 1237 };
  sf_rng rng;
  sf_rng_seed(&rng, 1313);
  float x[N], y[N];
  double tol[N];
  float ref[N];
  for (int i = 0; i < N; i++) x[i] = urand(&rng, -12.0f, 12.0f);
  x[0] = 0.0f, x[1] = -0.0f, x[2] = 80.0f, x[3] = -100.0f, x[4] = 1e-30f;
  at(level);
  sf_vexp(y, x, N);
  for (int i = 0; i < N; i++) {
    const double e = exp((double)x[i]);
    ref[i] = (float)e;
    tol[i] = 4.0 * 2.0 * U * fabs(e) + 1e-44;
  }
  close_floats("vmath exp", level, y, ref, tol, N);
  sf_verf(y, x, N);
  for (int i = 0; i < N; i++) {
    const double e = erf((double)x[i]);
    ref[i] = (float)e;
    tol[i] = 4.0 * 2.0 * U * fabs(e) + 1e-44;
  }
  close_floats("vmath erf", level, y, ref, tol, N);
  sf_vgelu(y, x, N);
  for (int i = 0; i < N; i++) {
    const double g = 0.5 * x[i] * (1.0 + erf((double)x[i] / sqrt(2.0)));
    ref[i] = (float)g;
    tol[i] = 8.0 * 2.0 * U * (fabs(g) + 0.5 * fabs((double)x[i])) + 1e-44;
  }
  close_floats("vmath GELU", level, y, ref, tol, N);
  mark(F_VEXP, level);
  mark(F_VERF, level);
  mark(F_VGELU, level);
}

/* ---- the module itself ---- */

/* what this CPU supports, found here independently of the module */
static sf_isa cpu_max_here(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return SF_ISA_C;
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") || !__builtin_cpu_supports("avx512vl") ||
      !__builtin_cpu_supports("avx512dq"))
    return SF_ISA_AVX2;
  return __builtin_cpu_supports("avx512vnni") ? SF_ISA_AVX512_VNNI : SF_ISA_AVX512;
#else
  return SF_ISA_C;
#endif
}

static void names_parse_force(void **st) {
  (void)st;
  const char *names[NL] = {"c", "avx2", "avx512", "avx512-vnni"};
  for (int l = 0; l < NL; l++) {
    sf_isa got = (sf_isa)99;
    assert_string_equal(sf_isa_name((sf_isa)l), names[l]);
    assert_int_equal(sf_isa_parse(names[l], &got), 0);
    assert_int_equal(got, l);
  }
  assert_string_equal(sf_isa_name((sf_isa)7), "?");
  sf_isa got = (sf_isa)99;
  assert_int_equal(sf_isa_parse("native", &got), 0);
  assert_int_equal(got, sf_cpu_isa_max());
  const char *bad[] = {"", "C", "AVX2", "avx", "avx512vnni", "vnni512", "avx2 ", "sse"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    got = (sf_isa)99;
    assert_int_equal(sf_isa_parse(bad[i], &got), -1);
    assert_int_equal(got, 99); /* left as it was */
  }
  assert_int_equal(sf_isa_parse(NULL, &got), -1);
  /* the module finds what the CPU has */
  assert_int_equal(sf_cpu_isa_max(), cpu_max_here());
  assert_true(sf_cpu_isa() <= sf_cpu_isa_max());
  /* refusals leave the level as it is */
  const sf_isa before = sf_cpu_isa();
  assert_int_equal(sf_cpu_force_isa((sf_isa)-1), SF_ERR_ARG);
  assert_int_equal(sf_cpu_force_isa((sf_isa)NL), SF_ERR_ARG);
  if (sf_cpu_isa_max() < SF_ISA_AVX512_VNNI) {
    assert_int_equal(sf_cpu_force_isa(SF_ISA_AVX512_VNNI), SF_ERR_ARG);
    assert_non_null(strstr(sf_last_error(), "avx512-vnni"));
    assert_non_null(strstr(sf_last_error(), sf_isa_name(sf_cpu_isa_max())));
  }
  assert_int_equal(sf_cpu_isa(), before);
  printf("  this CPU supports up to %s; SF_ISA gave %s\n", sf_isa_name(sf_cpu_isa_max()), sf_isa_name(before));
}

static void kernels_at_every_level(void **st) {
  (void)st;
  const sf_isa start = sf_cpu_isa(), max = sf_cpu_isa_max();
  assert_int_equal(max, cpu_max_here()); /* a level this CPU has can not be skipped */
  memset(g_checked, 0, sizeof g_checked);
  for (int l = SF_ISA_C; l <= (int)max; l++) {
    const sf_isa level = (sf_isa)l;
    at(level);
    /* the names the kernel files report follow the level */
    assert_string_equal(sf_axpy_isa(), k_fam[F_AXPY].code[l]);
    assert_string_equal(sf_q8_isa(), level == SF_ISA_AVX512_VNNI ? "vnni512" : level >= SF_ISA_AVX2 ? "avx2" : "c");
    check_axpy(level);
    check_spike_linear(level);
    check_neuron_f32(level);
    check_q8_linear(level);
    check_q8_steps_lists(level);
    check_q8_neuron(level);
    check_q8_if_block(level);
    check_q8_codes(level);
    check_ec(level);
    check_ec_rows(level);
    check_layernorm_softmax(level);
    check_gemm(level);
    check_vmath(level);
  }
  at(start);
  printf("\n  %-40s", "kernel family \\ level");
  for (int l = 0; l < NL; l++) printf(" %-13s", sf_isa_name((sf_isa)l));
  printf("\n");
  int missing = 0;
  for (int f = 0; f < NF; f++) {
    printf("  %-40s", k_fam[f].name);
    for (int l = 0; l < NL; l++) {
      char cell[32];
      if (l > (int)max) snprintf(cell, sizeof cell, "n/a (cpu)");
      else if (g_checked[f][l]) snprintf(cell, sizeof cell, "ok: %s", k_fam[f].code[l]);
      else snprintf(cell, sizeof cell, "MISSING"), missing++;
      printf(" %-13s", cell);
    }
    printf("\n");
  }
  printf("  (ok: CODE = checked against C at that level, CODE the variant the dispatch ran; n/a (cpu) = above what this CPU supports)\n");
  assert_int_equal(missing, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(names_parse_force), cmocka_unit_test(kernels_at_every_level)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}

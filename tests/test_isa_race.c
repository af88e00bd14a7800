/* The CPU-feature module from several threads at once (plain pthreads, no OpenMP region, so that
 * ThreadSanitizer can check it without libgomp's false positives; tests/tsan_isa.sh runs it so).
 *   usage: test_isa_race [SF_ISA value, or - for none]
 * The value is put in the environment before anything reads it. Then:
 *   1. THREADS threads, released together by a barrier, make the first calls into the library, each
 *      through a different entry point (sf_cpu_isa itself, or one of the dispatching kernels), and
 *      go on through every kernel family on small inputs (serial sizes: no parallel region).
 *      All must see one level, min(the CPU's, SF_ISA's), and compute identical results; an
 *      unknown SF_ISA must be reported once (one warning), a known one never.
 *   2. The main thread forces one level after another while the threads run an integer kernel,
 *      which gives the same sums at every level: every result must still be exact (the level is an
 *      atomic; a kernel reads it once per call).
 * Exit status 0 when all holds. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/vmath.h"
#include "ops/row_kernels.h"
#include "ops/small_gemm.h"
#include "snn/ec_kernels.h"
#include "snn/neuron_kernels_q8.h"
#include "snn/q8_codes.h"
#include "snn/spike_kernels.h"
#include "snn/spike_kernels_q8.h"
#include "snn/spike_lists_q8.h"
#include "spikeformer/cpu.h"
#include "spikeformer/rng.h"

#define THREADS 8
#define OPS 12
enum { K = 61, N = 37, R = 3, L = 45 };

/* inputs, written before the threads start and only read by them */
static int8_t g_x8[R * K + 4], g_w8[K * N], g_wp[(K + 3) / 4 * 48 * 4];
static int16_t g_w16[K * 64];
static int32_t g_colsum[N], g_bias[N], g_ref[R * N], g_refb[R * N], g_lists[K + 16], g_count, g_th[L], g_xa[L];
static float g_xf[R * K], g_wf[K * N], g_a[L], g_th_f[L], g_ith_f[L], g_iu[L], g_ws[N];
static uint32_t g_bits[K];

typedef struct {
  int id;
  sf_isa seen[OPS];     /* the level at each step */
  const char *q8, *axpy; /* the names the kernel files report */
  float yf[R * N], yd[R * N], axpy_y[N], nv[L], ny[L], cum[L], inc[L], prev[L], ln[L], sm[L], gemm[5 * 23], gelu[L], deq[R * N];
  int32_t acc[R * N], accd[R * N], acc16[N], units[L], v[L], vif[L], counts[4];
  int16_t lists_out[N], steps_out[N];
  int8_t kq[L + 4], codes[R * K];
  int64_t events, spikes;
  int phase2_errors;
} worker;

static pthread_barrier_t g_start, g_phase2;

/* one entry point into the library per step; each thread starts at a different one */
static void step(worker *w, int op) {
  switch (op) {
    case 0: w->seen[op] = sf_cpu_isa(); break;
    case 1:
      w->events = sf_q8_linear_events(g_x8, R, K, g_w8, N, w->acc);
      sf_q8_linear_dense(g_x8, R, K, g_w8, g_wp, g_colsum, N, g_bias, w->accd);
      w->seen[op] = sf_cpu_isa();
      break;
    case 2:
      sf_spike_linear_events(g_xf, R, K, g_wf, N, w->yf);
      sf_spike_linear_dense(g_xf, R, K, g_wf, N, w->yd);
      w->seen[op] = sf_cpu_isa();
      break;
    case 3: sf_axpy(N, 0.5f, g_wf, w->axpy_y); w->axpy = sf_axpy_isa(); w->seen[op] = sf_cpu_isa(); break;
    case 4: {
      int32_t idx[K + 64];
      w->q8 = sf_q8_isa();
      sf_q8_events16_row(g_x8, K, g_w8, N, 4, g_bias, w->acc16, idx);
      sf_q8_events_steps(g_x8, 1, K, g_bits, g_w8, N, w->steps_out, N);
      w->seen[op] = sf_cpu_isa();
      break;
    }
    case 5: {
      int64_t nz;
      w->spikes = sf_q8_neuron_block(g_xa, NULL, w->v, w->kq, NULL, g_th, g_ith_f, g_iu, g_th_f, L, 1.0f, -4, 4, 7, -1, &nz);
      w->spikes += sf_q8_neuron_if_block(g_xa, 0, NULL, NULL, 4, w->vif, g_th, L, 1, NULL, NULL, NULL, w->counts);
      w->seen[op] = sf_cpu_isa();
      break;
    }
    case 6: {
      int64_t nz;
      sf_neuron_step_f32(g_a, w->nv, w->ny, g_th_f, g_ith_f, 1, L, 0.9f, 0, 3, &nz);
      w->seen[op] = sf_cpu_isa();
      break;
    }
    case 7:
      sf_ec_accumulate(w->cum, NULL, g_a, 0.5f, L);
      sf_ec_increment(w->inc, g_a, w->prev, 2.0f, L);
      w->seen[op] = sf_cpu_isa();
      break;
    case 8:
      sf_layernorm_rows(g_a, w->ln, 1, L, NULL, NULL, 1e-5f, NULL, NULL);
      sf_softmax_rows(g_a, w->sm, 1, L);
      w->seen[op] = sf_cpu_isa();
      break;
    case 9: sf_small_gemm(5, 23, 9, 0.25f, g_xf, g_wf, w->gemm); w->seen[op] = sf_cpu_isa(); break; /* (N <= 32: sf_small_gemm_fits) */
    case 10: {
      float sc[R];
      uint8_t u8[R];
      sf_q8_units(g_a, g_iu, L, w->units);
      sf_q8_code_rows(g_xf, R, K, w->codes, sc, u8);
      sf_q8_dequantise(g_ref, R, N, g_ws, NULL, w->deq);
      w->seen[op] = sf_cpu_isa();
      break;
    }
    case 11: sf_q8_events_lists(g_lists, &g_count, 1, K, g_w16, N, w->lists_out, N); sf_vgelu(w->gelu, g_a, L); w->seen[op] = sf_cpu_isa(); break;
  }
}

static void *run(void *arg) {
  worker *w = arg;
  pthread_barrier_wait(&g_start);
  for (int i = 0; i < OPS; i++) step(w, (w->id + i) % OPS);
  /* phase 2: integer sums while the main thread changes the level */
  pthread_barrier_wait(&g_phase2);
  int32_t acc[R * N];
  for (int it = 0; it < 200; it++) {
    memset(acc, 0, sizeof acc);
    sf_q8_linear_events(g_x8, R, K, g_w8, N, acc);
    w->phase2_errors += memcmp(acc, g_ref, sizeof acc) != 0;
    const sf_isa l = sf_cpu_isa();
    w->phase2_errors += (int)l < 0 || l > sf_cpu_isa_max();
  }
  return NULL;
}

static void inputs(void) {
  sf_rng rng;
  sf_rng_seed(&rng, 99);
  for (int i = 0; i < R * K; i++) {
    g_x8[i] = sf_rng_uniform(&rng) < 0.3f ? (int8_t)(1 + (int)(sf_rng_uniform(&rng) * 4)) : 0;
    g_xf[i] = g_x8[i] * 0.25f;
  }
  for (int i = 0; i < K * N; i++) g_w8[i] = (int8_t)((int)(sf_rng_uniform(&rng) * 255) - 127), g_wf[i] = g_w8[i] / 127.0f;
  for (int n = 0; n < N; n++) g_bias[n] = 3 * n - 50;
  for (int j = 0; j < L; j++) {
    g_a[j] = 3 * sf_rng_uniform(&rng) - 1;
    g_th[j] = 1 + j % 7;
    g_th_f[j] = 0.5f + 0.01f * (float)j;
    g_ith_f[j] = 1.0f / g_th_f[j];
    g_iu[j] = 8.0f;
  }
  for (int n = 0; n < N; n++) g_ws[n] = 0.01f * (float)(n + 1);
  for (int j = 0; j < L; j++) g_xa[j] = 2 * j - L;
  for (int k = 0; k < K; k++) {
    if (g_x8[k]) g_lists[g_count++] = k;
    g_bits[k] = g_x8[k] != 0;
  }
  /* (packing does not dispatch: no call reaches the CPU-feature module before the threads) */
  if (sf_q8_packed_size(K, N) > (int64_t)sizeof g_wp || sf_q8_w16_size(K, N) > (int64_t)(sizeof g_w16 / sizeof g_w16[0])) abort();
  sf_q8_pack(g_w8, K, N, g_wp, g_colsum);
  sf_q8_pack_w16(g_w8, K, N, g_w16);
  for (int r = 0; r < R; r++)
    for (int n = 0; n < N; n++) {
      g_refb[r * N + n] = g_bias[n];
      for (int k = 0; k < K; k++) g_ref[r * N + n] += g_x8[r * K + k] * g_w8[k * N + n], g_refb[r * N + n] += g_x8[r * K + k] * g_w8[k * N + n];
    }
}

int main(int argc, char **argv) {
  const char *want = argc > 1 ? argv[1] : "-";
  if (strcmp(want, "-") == 0) unsetenv("SF_ISA");
  else setenv("SF_ISA", want, 1);
  inputs();
  /* the warnings go to a file, to be counted */
  char path[] = "/tmp/sf_isa_race_XXXXXX";
  const int fd = mkstemp(path), saved = dup(2);
  if (fd < 0 || saved < 0) return 2;
  unlink(path);
  fflush(stderr);
  dup2(fd, 2);

  static worker w[THREADS];
  pthread_t th[THREADS];
  pthread_barrier_init(&g_start, NULL, THREADS);
  pthread_barrier_init(&g_phase2, NULL, THREADS + 1);
  for (int i = 0; i < THREADS; i++) {
    w[i].id = i;
    pthread_create(&th[i], NULL, run, &w[i]);
  }
  /* phase 2: switch levels while the threads sum */
  pthread_barrier_wait(&g_phase2);
  const sf_isa first = w[0].seen[0], max = sf_cpu_isa_max();
  for (int it = 0; it < 100; it++) sf_cpu_force_isa((sf_isa)(it % ((int)max + 1)));
  sf_cpu_force_isa(first);
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);

  fflush(stderr);
  dup2(saved, 2);
  char log[4096] = {0};
  const ssize_t got = pread(fd, log, sizeof log - 1, 0);
  close(fd);
  int warnings = 0;
  for (const char *p = log; got > 0 && (p = strstr(p, "warning: SF_ISA=")); p++) warnings++;

  int bad = 0;
  sf_isa expect = max, parsed;
  const char *env = getenv("SF_ISA");
  const int known = !env || !*env || sf_isa_parse(env, &parsed) == 0;
  if (env && *env && known) expect = parsed < max ? parsed : max;
  for (int i = 0; i < THREADS; i++) {
    for (int s = 0; s < OPS; s++)
      if (w[i].seen[s] != expect) printf("FAIL thread %d step %d saw level %s, expected %s\n", i, s, sf_isa_name(w[i].seen[s]), sf_isa_name(expect)), bad++;
    if (w[i].phase2_errors) printf("FAIL thread %d: %d wrong sums or levels while the level changed\n", i, w[i].phase2_errors), bad++;
    if (memcmp(w[i].acc, g_ref, sizeof g_ref) || memcmp(w[i].accd, g_refb, sizeof g_refb))
      printf("FAIL thread %d: int8 event or dense sums differ from the reference\n", i), bad++;
    if (i == 0) continue;
    /* every thread computed the same at the same level */
    const worker *a = &w[0], *b = &w[i];
    if (memcmp(a->yf, b->yf, sizeof a->yf) || memcmp(a->yd, b->yd, sizeof a->yd) || memcmp(a->inc, b->inc, sizeof a->inc) ||
        memcmp(a->sm, b->sm, sizeof a->sm) || memcmp(a->deq, b->deq, sizeof a->deq) || memcmp(a->codes, b->codes, sizeof a->codes) ||
        memcmp(a->vif, b->vif, sizeof a->vif) || memcmp(a->counts, b->counts, sizeof a->counts) || memcmp(a->steps_out, b->steps_out, sizeof a->steps_out) || memcmp(a->axpy_y, b->axpy_y, sizeof a->axpy_y) || memcmp(a->nv, b->nv, sizeof a->nv) ||
        memcmp(a->ny, b->ny, sizeof a->ny) || memcmp(a->cum, b->cum, sizeof a->cum) || memcmp(a->ln, b->ln, sizeof a->ln) ||
        memcmp(a->gemm, b->gemm, sizeof a->gemm) || memcmp(a->acc16, b->acc16, sizeof a->acc16) || memcmp(a->units, b->units, sizeof a->units) ||
        memcmp(a->v, b->v, sizeof a->v) || memcmp(a->kq, b->kq, sizeof a->kq) || memcmp(a->lists_out, b->lists_out, sizeof a->lists_out) ||
        memcmp(a->gelu, b->gelu, sizeof a->gelu) || a->events != b->events || a->spikes != b->spikes || strcmp(a->q8, b->q8) || strcmp(a->axpy, b->axpy))
      printf("FAIL thread %d computed other results than thread 0\n", i), bad++;
  }
  const int want_warnings = known ? 0 : 1;
  if (warnings != want_warnings) printf("FAIL SF_ISA=%s: %d warnings, expected %d\n%s", env ? env : "(unset)", warnings, want_warnings, log), bad++;
  if (sf_cpu_isa() != first) printf("FAIL the level was not restored\n"), bad++;
  printf("%s SF_ISA=%s: %d threads entered through %d entry points at once and all saw %s (CPU: %s), %d warning(s); "
         "%d level switches during integer sums left them exact (int8 kernels: %s, float: %s)\n",
         bad ? "FAIL" : "ok  ", env ? env : "(unset)", THREADS, OPS, sf_isa_name(first), sf_isa_name(max), warnings, 100, w[0].q8, w[0].axpy);
  return bad ? 1 : 0;
}

/* The loihi2 backend: its kernels against their plain-C references at every instruction-set level,
 * the CUBA LIF step against values worked out by hand from Lava's PyLifModelBitAcc formulas, and
 * the shipped MLP compiled, mapped and run (thread-count invariance, core exclusion, faults,
 * refusals). Bit-exactness against Lava's own semantics, from a netx file and an independent
 * simulator, is tests/netx_lava.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend/loihi2_kernels.h"
#include "spikeformer/spikeformer.h"
#include "test_util.h"

static uint64_t rng_state = 88172645463325252ULL;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 11);
}

static void kernels_match_reference(void **st) {
  (void)st;
  const int64_t K = 300, N = 77, n = 203;
  int16_t *W = malloc(sizeof(int16_t) * K * N);
  int64_t list[300];
  int32_t b_ref[77], b_got[77];
  for (int64_t i = 0; i < K * N; i++) W[i] = (int16_t)((int)(rnd() % 511) - 256);
  int64_t nk = 0;
  for (int64_t k = 0; k < K; k++)
    if (rnd() % 3 == 0) list[nk++] = k;
  int32_t a[203], bias[203], u0[203], v0[203], u1[203], v1[203], u2[203], v2[203];
  uint8_t s1[203], s2[203];
  for (int64_t j = 0; j < n; j++) {
    a[j] = (int32_t)(rnd() % (1 << 18)) - (1 << 17);
    bias[j] = (int32_t)(rnd() % 8192) - 4096;
    u0[j] = 0;
    v0[j] = (int32_t)(rnd() % (1 << 24)) - (1 << 23) + 1; /* includes voltages near saturation */
  }
  uint8_t sp[203];
  int64_t l_ref[203], l_got[203];
  for (int64_t j = 0; j < n; j++) sp[j] = rnd() % 7 == 0;
  const sf_isa top = sf_cpu_isa_max();
  for (int lvl = SF_ISA_C; lvl <= (int)top; lvl++) {
    assert_int_equal(sf_cpu_force_isa((sf_isa)lvl), SF_OK);
    assert_int_equal(sf_cpu_force_isa(SF_ISA_C), SF_OK);
    const int64_t c_ref = l2_spike_list(sp, n, l_ref);
    assert_int_equal(sf_cpu_force_isa((sf_isa)lvl), SF_OK);
    assert_int_equal(l2_spike_list(sp, n, l_got), c_ref);
    assert_memory_equal(l_ref, l_got, sizeof(int64_t) * (size_t)c_ref);
    l2_dense_accumulate_ref(W, N, list, nk, b_ref);
    l2_dense_accumulate(W, N, list, nk, b_got);
    assert_memory_equal(b_ref, b_got, sizeof b_ref);
    memcpy(u1, u0, sizeof u1); memcpy(v1, v0, sizeof v1);
    memcpy(u2, u0, sizeof u2); memcpy(v2, v0, sizeof v2);
    int64_t sat1 = 0, sat2 = 0;
    const int64_t sp1 = l2_lif_step_ref(n, a, bias, 1000 << 6, u1, v1, s1, &sat1);
    const int64_t sp2 = l2_lif_step_fast(n, a, bias, 1000 << 6, u2, v2, s2, &sat2);
    assert_int_equal(sp1, sp2);
    assert_int_equal(sat1, sat2);
    assert_memory_equal(u1, u2, sizeof u1);
    assert_memory_equal(v1, v2, sizeof v1);
    assert_memory_equal(s1, s2, sizeof s1);
    /* and the general step (du 4095, dv 0) agrees with the fast one */
    memcpy(u2, u0, sizeof u2); memcpy(v2, v0, sizeof v2);
    int64_t wr = 0, sat3 = 0;
    const int64_t sp3 = l2_lif_step(n, a, bias, 4095, 0, 1000 << 6, u2, v2, s2, &wr, &sat3);
    assert_int_equal(sp1, sp3);
    assert_int_equal(sat1, sat3);
    assert_int_equal(wr, 0);
    assert_memory_equal(v1, v2, sizeof v1);
  }
  sf_cpu_force_isa(top);
  free(W);
}

/* Lava's PyLifModelBitAcc worked by hand: du = 2047 (the current halves: (4096 - 2048) / 4096),
 * dv = 1024 (the voltage keeps 3/4), threshold 8 (spike when v > 8 << 6 = 512). */
static void lif_step_by_hand(void **st) {
  (void)st;
  int32_t u[1] = {0}, v[1] = {0}, a[1] = {5};
  uint8_t s[1];
  int64_t wr = 0, sat = 0;
  /* t1: u = 0 + 5 << 6 = 320, v = 0 + 320 = 320 */
  l2_lif_step(1, a, NULL, 2047, 1024, 8 << 6, u, v, s, &wr, &sat);
  assert_int_equal(u[0], 320); assert_int_equal(v[0], 320); assert_int_equal(s[0], 0);
  /* t2: u = 320 / 2 + 320 = 480, v = 320 * 3/4 + 480 = 720 > 512: spike, v = 0 */
  l2_lif_step(1, a, NULL, 2047, 1024, 8 << 6, u, v, s, &wr, &sat);
  assert_int_equal(u[0], 480); assert_int_equal(v[0], 0); assert_int_equal(s[0], 1);
  /* decays truncate toward zero (sign * (|x| >> 12)), not toward minus infinity: u = -5 after
   * halvings of -320 halves to -5 * 2048 >> 12 = -2 (floor would give -3) */
  u[0] = -5; v[0] = 0; a[0] = 0;
  l2_lif_step(1, a, NULL, 2047, 4095, 8 << 6, u, v, s, &wr, &sat);
  assert_int_equal(u[0], -2);
  /* the current wraps at 24 bits as Lava wraps it: (2^17 + 1) << 6 = 2^23 + 64 -> -2^23 + 64 */
  u[0] = 0; v[0] = 0; a[0] = (1 << 17) + 1; wr = 0;
  l2_lif_step(1, a, NULL, 4095, 0, (int64_t)131071 << 6, u, v, s, &wr, &sat);
  assert_int_equal(u[0], -(1 << 23) + 64);
  assert_int_equal(wr, 1);
  /* exactly 2^23 does not wrap (Lava tests u > 2^23); the voltage saturates at 2^23 - 1 */
  u[0] = 0; v[0] = 100; a[0] = 1 << 17; wr = 0; sat = 0;
  l2_lif_step(1, a, NULL, 4095, 0, (int64_t)131071 << 6, u, v, s, &wr, &sat);
  assert_int_equal(u[0], 1 << 23);
  assert_int_equal(wr, 0);
  assert_int_equal(sat, 1);
  assert_int_equal(s[0], 1); /* 2^23 - 1 > 131071 << 6 = 2^23 - 64 */
  /* bias mantissa << 6 joins the voltage, not the current */
  int32_t bias[1] = {3};
  u[0] = 0; v[0] = 0; a[0] = 0;
  l2_lif_step(1, a, bias, 4095, 0, 8 << 6, u, v, s, &wr, &sat);
  assert_int_equal(u[0], 0); assert_int_equal(v[0], 192);
}

/* ---- the shipped MLP ---- */

static sf_snn_model *mlp;
static sf_dataset test_set;

static int setup_mlp(void **st) {
  (void)st;
  char path[1024];
  TU_PATH(path, "models/mlp/model.onnx");
  sf_graph *g = NULL;
  sf_dataset calib = {0};
  sf_convert_options o;
  sf_convert_options_default(&o);
  o.snn.neuron_model = SF_NEURON_IF;
  o.snn.timesteps = 16;
  if (sf_graph_load(path, &g) || sf_dataset_load(SF_DEFAULT_DATA_DIR, SF_SPLIT_TRAIN, 512, &calib) || sf_convert(g, &calib, &o, &mlp)) return -1;
  sf_dataset_free(&calib);
  /* the model borrows g: keep it by saving and loading (the file owns its source) */
  const char *tmp = "/tmp/sf_test_loihi2_mlp.sfm";
  if (sf_snn_model_save(mlp, tmp)) return -1;
  sf_snn_model_free(mlp);
  sf_graph_free(g);
  if (sf_snn_model_load(tmp, &mlp)) return -1;
  remove(tmp);
  return sf_dataset_load(SF_DEFAULT_DATA_DIR, SF_SPLIT_TEST, 300, &test_set) ? -1 : 0;
}

static int teardown_mlp(void **st) {
  (void)st;
  sf_snn_model_free(mlp);
  sf_dataset_free(&test_set);
  return 0;
}

typedef struct {
  const int32_t *labels;
  int64_t n;
  int64_t correct_last;
} acc_state;

static int count_correct(int t, const sf_tensor *dec, void *user) {
  (void)t;
  acc_state *a = user;
  const int64_t C = dec->shape[1];
  const float *d = dec->data;
  int64_t c = 0;
  for (int64_t b = 0; b < a->n; b++) {
    int64_t best = 0;
    for (int64_t j = 1; j < C; j++)
      if (d[b * C + j] > d[b * C + best]) best = j;
    c += best == a->labels[b];
  }
  a->correct_last = c;
  return 0;
}

/* run the test images on loihi2 with the given options; returns the accuracy at T, fills stats */
static double run_l2(const char *const *kv, int nkv, int T, double *spikes, double *sops, char **report) {
  const sf_backend *be;
  assert_int_equal(sf_backend_find("loihi2", &be), SF_OK);
  sf_backend_options *o;
  assert_int_equal(sf_backend_options_new(be, &o), SF_OK);
  for (int i = 0; i < nkv; i++) assert_int_equal(sf_backend_options_set(o, be, kv[2 * i], kv[2 * i + 1]), SF_OK);
  sf_compiled *c;
  sf_deployed *d;
  assert_int_equal(sf_backend_compile(be, mlp, o, &c), SF_OK);
  assert_int_equal(sf_backend_deploy(c, test_set.n, &d), SF_OK);
  sf_tensor x = sf_dataset_batch(&test_set, 0, test_set.n);
  acc_state a = {test_set.labels, test_set.n, 0};
  assert_int_equal(sf_backend_execute(d, &x, T, count_correct, &a), SF_OK);
  *spikes = *sops = 0;
  for (int i = 0; i < sf_backend_profile_count(d); i++) {
    sf_snn_node_stats s;
    sf_backend_profile(d, i, &s);
    *spikes += s.spikes;
    *sops += s.sops;
  }
  if (report) *report = sf_loihi2_report_json(c, d);
  sf_deployed_free(d);
  sf_compiled_free(c);
  sf_backend_options_free(o);
  return (double)a.correct_last / (double)test_set.n;
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = calloc((size_t)n + 1, 1);
  if (s && fread(s, 1, (size_t)n, f) != (size_t)n) { free(s); s = NULL; }
  fclose(f);
  return s;
}

static void mlp_runs_and_maps(void **st) {
  (void)st;
  double spikes, sops, sp2, so2;
  char *rep = NULL;
  /* the full test set gives 86.5% at T = 16 (docs/loihi2.md); 300 images: well above chance, and
   * a lowering that lost the thresholds' scale would fall to about 10% */
  const char *const tr1[] = {"trace", "/tmp/sf_test_loihi2_t1.txt"};
  sf_threads_set(1);
  const double acc = run_l2(tr1, 1, 16, &spikes, &sops, &rep);
  assert_true(acc > 0.75);
  assert_true(spikes > 0 && sops > 0);
  assert_non_null(rep);
  assert_non_null(strstr(rep, "\"cores\""));
  assert_non_null(strstr(rep, "\"messages_between_cores\""));
  free(rep);
  /* the spikes do not depend on the thread count, nor on which cores are excluded */
  const char *const tr2[] = {"trace", "/tmp/sf_test_loihi2_t2.txt", "exclude_cores", "0-2,5"};
  sf_threads_set(2);
  const double acc2 = run_l2(tr2, 2, 16, &sp2, &so2, &rep);
  assert_true(acc == acc2 && spikes == sp2 && sops == so2);
  const char *ex = strstr(rep, "\"excluded_cores_skipped\"");
  assert_non_null(ex);
  assert_int_equal(strtol(strchr(ex, ':') + 1, NULL, 10), 4);
  free(rep);
  char *t1 = slurp("/tmp/sf_test_loihi2_t1.txt"), *t2 = slurp("/tmp/sf_test_loihi2_t2.txt");
  assert_non_null(t1);
  assert_non_null(t2);
  assert_string_equal(t1, t2);
  free(t1);
  free(t2);
  remove("/tmp/sf_test_loihi2_t1.txt");
  remove("/tmp/sf_test_loihi2_t2.txt");
}

static void mlp_faults(void **st) {
  (void)st;
  double spikes, sops;
  const int T = 8;
  /* every neuron dead: nothing spikes, nothing is accumulated */
  const char *const dead[] = {"fault_dead", "1"};
  run_l2(dead, 1, T, &spikes, &sops, NULL);
  assert_true(spikes == 0 && sops == 0);
  /* every neuron stuck: each spikes at every step (784 + 512 + 256 + 10 neurons) */
  const char *const stuck[] = {"fault_stuck", "1"};
  run_l2(stuck, 1, T, &spikes, &sops, NULL);
  assert_true(spikes == (double)test_set.n * T * (784 + 512 + 256 + 10));
  /* every message lost: spikes happen (input layer), no synaptic operation */
  const char *const drop[] = {"fault_drop", "1"};
  run_l2(drop, 1, T, &spikes, &sops, NULL);
  assert_true(spikes > 0 && sops == 0);
  /* some neurons dead: accuracy degrades, not collapses */
  const char *const some[] = {"fault_dead", "0.05"};
  assert_true(run_l2(some, 1, 16, &spikes, &sops, NULL) > 0.6);
  /* 2% stuck at spiking ruins the network; the self-test masks them (they become as dead) */
  const char *const stuck2[] = {"fault_stuck", "0.02"}, *const masked[] = {"fault_stuck", "0.02", "mask_stuck", "32"}, *const dead2[] = {"fault_dead", "0.02"};
  char *rep = NULL;
  const double a_stuck = run_l2(stuck2, 1, 16, &spikes, &sops, NULL), a_masked = run_l2(masked, 2, 16, &spikes, &sops, &rep),
               a_dead = run_l2(dead2, 1, 16, &spikes, &sops, NULL);
  assert_true(a_masked > a_stuck + 0.2);
  assert_true(a_masked == a_dead); /* the same neurons: stuck and masked is dead */
  const char *nm = strstr(rep, "\"neurons_masked_as_stuck\"");
  assert_non_null(nm);
  assert_true(strtol(strchr(nm, ':') + 1, NULL, 10) > 0);
  free(rep);
  /* and on a healthy chip the self-test masks nothing */
  const char *const healthy[] = {"mask_stuck", "32"};
  const char *const none[] = {"input_exp", "8"};
  assert_true(run_l2(healthy, 1, 16, &spikes, &sops, &rep) == run_l2(none, 1, 16, &spikes, &sops, NULL));
  nm = strstr(rep, "\"neurons_masked_as_stuck\"");
  assert_non_null(nm);
  assert_int_equal(strtol(strchr(nm, ':') + 1, NULL, 10), 0);
  free(rep);
}

static void refusals(void **st) {
  (void)st;
  const sf_backend *be;
  assert_int_equal(sf_backend_find("loihi2", &be), SF_OK);
  sf_backend_options *o;
  assert_int_equal(sf_backend_options_new(be, &o), SF_OK);
  /* too big for the chips allowed: the numbers in the error */
  assert_int_equal(sf_backend_options_set(o, be, "cores_per_chip", "1"), SF_OK);
  assert_int_equal(sf_backend_options_set(o, be, "max_chips", "2"), SF_OK);
  sf_compiled *c = NULL;
  assert_int_equal(sf_backend_compile(be, mlp, o, &c), SF_ERR_UNSUPPORTED);
  assert_non_null(strstr(sf_last_error(), "needs 3 neurocores on 3 chips"));
  /* bad option values name the key */
  assert_int_equal(sf_backend_options_set(o, be, "exclude_cores", "3,x"), SF_ERR_ARG);
  assert_non_null(strstr(sf_last_error(), "exclude_cores"));
  assert_int_equal(sf_backend_options_set(o, be, "fault_drop", "2"), SF_ERR_ARG);
  sf_backend_options_free(o);
  /* the CNN lowers (Conv, max pooling as the OR of spikes) under CUBA; the sigma-delta lowering
   * refuses its convolution by name, and writes no file */
  char path[1024];
  TU_PATH(path, "models/variants/cnn_bn_maxpool/model.onnx");
  sf_graph *g = NULL;
  sf_dataset calib = {0};
  sf_snn_model *cnn = NULL;
  sf_convert_options co;
  sf_convert_options_default(&co);
  co.snn.neuron_model = SF_NEURON_IF;
  co.calib_samples = 64;
  assert_int_equal(sf_graph_load(path, &g) || sf_dataset_load(SF_DEFAULT_DATA_DIR, SF_SPLIT_TRAIN, 64, &calib) || sf_convert(g, &calib, &co, &cnn), 0);
  assert_int_equal(sf_backend_compile(be, cnn, NULL, &c), SF_OK);
  sf_compiled_free(c);
  assert_int_equal(sf_backend_options_new(be, &o), SF_OK);
  assert_int_equal(sf_backend_options_set(o, be, "family", "sdnn"), SF_OK);
  assert_int_equal(sf_backend_compile(be, cnn, o, &c), SF_ERR_UNSUPPORTED);
  assert_non_null(strstr(sf_last_error(), "Conv"));
  assert_int_equal(sf_export_netx(cnn, o->target, "/tmp/sf_test_loihi2_cnn.net"), SF_ERR_UNSUPPORTED);
  assert_int_equal(access("/tmp/sf_test_loihi2_cnn.net", F_OK), -1); /* nothing half-written */
  sf_backend_options_free(o);
  /* a hybrid's mapping report: what runs on the host, by op */
  char *js = NULL, *txt = NULL;
  assert_int_equal(sf_backend_options_new(be, &o), SF_OK);
  assert_int_equal(sf_backend_options_set(o, be, "family", "sdnn"), SF_OK);
  assert_int_equal(sf_backend_compile_report(be, cnn, o, &calib, 4, &js, &txt), SF_OK);
  assert_non_null(strstr(js, "\"deployment\""));
  assert_non_null(strstr(txt, "hybrid"));
  free(js);
  free(txt);
  sf_backend_options_free(o);
  sf_snn_model_free(cnn);
  sf_dataset_free(&calib);
  sf_graph_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(kernels_match_reference), cmocka_unit_test(lif_step_by_hand), cmocka_unit_test(mlp_runs_and_maps),
      cmocka_unit_test(mlp_faults), cmocka_unit_test(refusals)};
  return cmocka_run_group_tests(tests, setup_mlp, teardown_mlp);
}

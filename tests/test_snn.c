/* Spiking ops against their float counterparts, the whole converted network against the ANN, and
 * the .sfm file's integrity checks.
 * Op tests build a tiny graph x -> Neuron(theta) -> OP, drive it with a constant analog current and
 * decode the running mean after T steps: the error must fall as T grows at the rate the method
 * promises (the neuron's rounding error theta / (2T), propagated through OP). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert/convert_internal.h"
#include "core/util.h"
#include "graph/passes.h"
#include "ops/ops.h"
#include "spikeformer/batcher.h"
#include "core/vmath.h"
#include "ops/row_kernels.h"
#include "snn/ec_kernels.h"
#include "snn/ec_rows.h"
#include "snn/spike_kernels_q8.h"
#include "snn/spike_lists_q8.h"
#include "snn/neuron_kernels_q8.h"
#include "spikeformer/rng.h"
#include "spikeformer/snn.h"
#include "core/fault.h"
#include "sfm_resign.h"
#include "snn/spike_kernels.h"
#include "test_util.h"

static sf_graph *G;

static int cval(const char *name, sf_dtype dt, int nd, const int64_t *shape, const float *data) {
  sf_tensor t;
  sf_tensor_alloc(&t, dt, nd, shape);
  if (data) memcpy(t.data, data, sf_tensor_nbytes(&t));
  return sf_graph_add_const(G, name, &t);
}

static int node(const char *op, const char *dom, const char *mode, int n_in, const int *in, const char *out) {
  int o = sf_graph_value(G, out);
  int idx = sf_graph_add_node(G, out, op, dom, n_in, in, 1, &o);
  G->nodes[idx].def = sf_op_find(op, dom);
  G->nodes[idx].mode = SF_MODE_NONE;
  for (int k = 0; k < SF_MODE_COUNT; k++)
    if (!strcmp(sf_spiking_mode_name((sf_spiking_mode)k), mode)) G->nodes[idx].mode = (sf_spiking_mode)k;
  return o;
}

static int neuron(int x, float theta, int K, int is_signed, const char *out) {
  int64_t one = 1;
  char nm[64];
  snprintf(nm, sizeof nm, "%s/theta", out);
  int th = cval(nm, SF_F32, 1, &one, &theta);
  int in[2] = {x, th};
  int o = node("Neuron", "spikeformer", "neuron", 2, in, out);
  sf_node *n = &G->nodes[G->n_nodes - 1];
  sf_node_set_attr_int(n, "levels", K);
  sf_node_set_attr_int(n, "signed", is_signed);
  return o;
}

typedef struct { float *buf; int64_t n; } grab;
static int grab_cb(int t, const sf_tensor *d, void *u) {
  (void)t;
  grab *g = u;
  memcpy(g->buf, d->data, sizeof(float) * (size_t)g->n);
  return 0;
}

/* every step's decoded output: buf [T, n] */
typedef struct { float *buf; int64_t n; } grab_steps;
static int grab_steps_cb(int t, const sf_tensor *d, void *u) {
  grab_steps *g = u;
  memcpy(g->buf + (int64_t)(t - 1) * g->n, d->data, sizeof(float) * (size_t)g->n);
  return 0;
}

/* a spiking session over G (shapes inferred), direct coding, membrane decoder */
static sf_snn_session *direct_session(void) {
  for (int i = 0; i < G->n_nodes; i++) assert_int_equal(sf_node_infer(G, i), SF_OK);
  sf_spiking_config cfg;
  sf_config_default(&cfg);
  cfg.spike_encoding = SF_ENCODE_DIRECT;
  sf_snn_session *s;
  assert_int_equal(sf_snn_session_create(G, &cfg, SF_DECODE_MEMBRANE, &s), SF_OK);
  return s;
}

/* run the graph G (input [1, n]) for T steps on x; returns max |snn - ann| of output 0 */
static double run_err(const float *x, int64_t n_in, int T) {
  sf_snn_session *s = direct_session();
  int64_t shape[2] = {1, n_in};
  sf_tensor in = {0};
  sf_tensor_describe(&in, SF_F32, 2, shape);
  in.data = (void *)x;
  int64_t n_out = sf_tensor_numel(&G->values[G->outputs[0]].t);
  grab gb = {calloc((size_t)n_out, sizeof(float)), n_out};
  assert_int_equal(sf_snn_run(s, &in, T, grab_cb, &gb), SF_OK);
  /* ANN view of the same graph */
  sf_session *a;
  assert_int_equal(sf_session_create_planned(G, NULL, &a), SF_OK);
  sf_tensor out[1] = {{0}};
  assert_int_equal(sf_session_run(a, &in, out), SF_OK);
  double err = 0;
  for (int64_t i = 0; i < n_out; i++) {
    double d = fabs(gb.buf[i] - ((float *)out[0].data)[i]);
    if (d > err) err = d;
  }
  sf_tensor_free(&out[0]);
  sf_session_free(a);
  sf_snn_session_free(s);
  free(gb.buf);
  return err;
}

/* build: x [1,16] -> neuron -> op -> output, for several T; check monotone fall and ~1/T rate */
typedef int (*build_fn)(int spikes);
static void check_rate(const char *what, build_fn build, double theta, double L) {
  float x[16];
  sf_rng r;
  sf_rng_seed(&r, 11);
  for (int i = 0; i < 16; i++) x[i] = 1.6f * sf_rng_uniform(&r) - 0.8f;
  int Ts[5] = {2, 4, 8, 16, 64};
  double e[5];
  for (int k = 0; k < 5; k++) {
    G = sf_graph_new();
    G->opset = 17;
    int64_t shape[2] = {1, 16};
    int xin = sf_graph_value(G, "x");
    sf_tensor_describe(&G->values[xin].t, SF_F32, 2, shape);
    sf_graph_add_input(G, xin);
    int sp = neuron(xin, (float)theta, 1, 1, "spikes");
    int out = build(sp);
    sf_graph_add_output(G, out);
    e[k] = run_err(x, 16, Ts[k]);
    sf_graph_free(G);
  }
  printf("  %-28s max error at T=2,4,8,16,64: %.4f %.4f %.4f %.4f %.5f\n", what, e[0], e[1], e[2], e[3], e[4]);
  /* the neuron's mean output is within theta/(2T) of the input; an op with Lipschitz constant L
   * keeps the error within L * theta / (2T) (L <= 4 for these ops at these sizes) */
  for (int k = 0; k < 5; k++) assert_true(e[k] <= L * theta / (2.0 * Ts[k]) + 1e-5);
  assert_true(e[4] < e[1]);
}

static int b_identity(int sp) { return sp; }
static int b_softmax(int sp) { int o = node("Softmax", "", "ec", 1, &sp, "y"); sf_node_set_attr_int(&G->nodes[G->n_nodes - 1], "axis", -1); return o; }
static int b_gelu(int sp) { int o = node("Gelu", "spikeformer", "ec", 1, &sp, "y"); sf_node_set_attr_string(&G->nodes[G->n_nodes - 1], "approximate", "none"); return o; }
static int b_layernorm(int sp) {
  float ones[16], zeros[16];
  for (int i = 0; i < 16; i++) { ones[i] = 1.0f; zeros[i] = 0.0f; }
  int64_t d = 16;
  int in[3] = {sp, cval("gamma", SF_F32, 1, &d, ones), cval("beta", SF_F32, 1, &d, zeros)};
  int o = node("LayerNormalization", "spikeformer", "ec", 3, in, "y");
  sf_node_set_attr_float(&G->nodes[G->n_nodes - 1], "epsilon", 1e-5f);
  return o;
}
static int b_linear(int sp) {
  float w[16 * 8];
  for (int i = 0; i < 128; i++) w[i] = ((float)((i * 37) % 11 - 5) + 0.5f) / 40.0f; /* (no zero: every spike reaches all 8 outputs) */
  int64_t ws[2] = {16, 8};
  int in[2] = {sp, cval("w", SF_F32, 2, ws, w)};
  return node("Linear", "spikeformer", "linear", 2, in, "y");
}
static int b_product(int sp) {
  /* outer product of the spike stream with itself through two reshapes: [1,16,1] x [1,1,16] */
  int64_t s1[3] = {1, 16, 1}, s2[3] = {1, 1, 16};
  int64_t v1[3] = {1, 16, 1}, v2[3] = {1, 1, 16};
  (void)s1; (void)s2;
  int sh1 = cval("shape1", SF_I64, 1, (int64_t[]){3}, NULL), sh2 = cval("shape2", SF_I64, 1, (int64_t[]){3}, NULL);
  memcpy(G->values[sh1].t.data, v1, sizeof v1);
  memcpy(G->values[sh2].t.data, v2, sizeof v2);
  int i1[2] = {sp, sh1}, i2[2] = {sp, sh2};
  int a = node("Reshape", "", "linear", 2, i1, "a"), b = node("Reshape", "", "linear", 2, i2, "b");
  int in[2] = {a, b};
  return node("MatMul", "", "product", 2, in, "y");
}
static int b_residual(int sp) {
  int in[2] = {sp, sp};
  return node("Add", "", "linear", 2, in, "y");
}

static void neuron_rounding(void **st) { (void)st; check_rate("neuron (identity)", b_identity, 1.0, 1.0); }
static void softmax_ec(void **st) { (void)st; check_rate("softmax (EC)", b_softmax, 1.0, 1.0); }
static void gelu_ec(void **st) { (void)st; check_rate("GELU (EC)", b_gelu, 1.0, 1.2); }
static void layernorm_ec(void **st) { (void)st; check_rate("LayerNorm (EC)", b_layernorm, 1.0, 8.0); }
static void linear_ac(void **st) { (void)st; check_rate("linear (accumulate)", b_linear, 1.0, 2.0); }
static void product_streams(void **st) { (void)st; check_rate("product of spike streams", b_product, 1.0, 2.0); }
static void residual_add(void **st) { (void)st; check_rate("residual add", b_residual, 1.0, 2.0); }

/* burst neurons: K levels cut the error K-fold at the same T */
/* Reset to zero (config reset = zero): the dynamics of snnTorch's Leaky(reset_mechanism="zero"), NIR's LIF
 * with v_reset 0 and Lava's LIF, against a reference written from them: u = leak v + x; a spike when u > theta
 * (strictly; |u| > theta for signed neurons), k = min(ceil(|u| / theta) - 1, K) for bursts; v = 0 after a spike. */
static void reset_zero_neuron(void **st) {
  (void)st;
  enum { L = 37, STEPS = 20 };
  float x[L], v[L], y[L], th[L], ith[L], vr[L];
  uint64_t s = 12345;
  for (int j = 0; j < L; j++) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    th[j] = 0.5f + (float)(s >> 40) / (float)(1 << 24);
    ith[j] = 1.0f / th[j];
  }
  const int Ks[2] = {1, 3};
  for (int ki = 0; ki < 2; ki++)
    for (int sg = 0; sg < 2; sg++)
      for (int per = 0; per < 2; per++) {
        const int K = Ks[ki], lo = sg ? -K : 0;
        memset(v, 0, sizeof v);
        memset(vr, 0, sizeof vr);
        for (int t = 0; t < STEPS; t++) {
          for (int j = 0; j < L; j++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            x[j] = ((float)(s >> 40) / (float)(1 << 24) - 0.4f) * 2.5f;
          }
          x[3] = th[per ? 3 : 0] - 0.9f * vr[3]; /* lands exactly on the threshold: no spike (strict) */
          int64_t nz;
          const int64_t spikes = sf_neuron_step_zero_f32(x, v, y, th, ith, per, L, 0.9f, lo, K, &nz);
          int64_t want_spikes = 0, want_nz = 0;
          for (int j = 0; j < L; j++) {
            const float t0 = th[per ? j : 0];
            const float u = 0.9f * vr[j] + x[j];
            int k = 0;
            if (fabsf(u) * (1.0f / t0) > 1.0f) k = (int)ceilf(fabsf(u) * (1.0f / t0)) - 1;
            if (k > K) k = K;
            if (u < 0) k = sg ? -k : 0;
            vr[j] = k ? 0.0f : u;
            assert_float_equal(y[j], (float)k * t0, 0.0f);
            assert_float_equal(v[j], vr[j], 0.0f);
            want_spikes += abs(k);
            want_nz += k != 0;
          }
          assert_int_equal(spikes, want_spikes);
          assert_int_equal(nz, want_nz);
          if (per) assert_float_equal(y[3], 0.0f, 0.0f);
        }
      }
}

static void burst_levels(void **st) {
  (void)st;
  float x[16];
  for (int i = 0; i < 16; i++) x[i] = -3.7f + 0.47f * (float)i;
  double e[2];
  int Ks[2] = {1, 4};
  for (int k = 0; k < 2; k++) {
    G = sf_graph_new();
    int64_t shape[2] = {1, 16};
    int xin = sf_graph_value(G, "x");
    sf_tensor_describe(&G->values[xin].t, SF_F32, 2, shape);
    sf_graph_add_input(G, xin);
    sf_graph_add_output(G, neuron(xin, 4.0f / (float)Ks[k], Ks[k], 1, "spikes"));
    e[k] = run_err(x, 16, 8);
    sf_graph_free(G);
  }
  printf("  burst: max error at T=8 with K=1 (theta 4): %.4f, K=4 (theta 1): %.4f\n", e[0], e[1]);
  assert_true(e[0] <= 4.0 / 16 + 1e-5 && e[1] <= 1.0 / 16 + 1e-5 && e[1] < e[0]);
}

/* binary-coded bursts: the same sums as unary bursts, and synaptic operations counted as
 * popcount(|k|) per input element per target, plus (bits of K) - 1 combining adds per output,
 * where k are the counts the neuron emits (read back from a graph whose output is the neuron) */
/* x [1,16] -> signed burst neuron (theta 0.25, K 12, unary or binary code) [-> Linear 16x8]: runs T
 * steps, the decoded output after each step in out_steps [T, n_out]; the graph in *g */
static sf_snn_session *burst_session(int code, int with_linear, int quant, const float *x, int T, float *out_steps, sf_graph **g) {
  G = sf_graph_new();
  int64_t shape[2] = {1, 16};
  int xin = sf_graph_value(G, "x");
  sf_tensor_describe(&G->values[xin].t, SF_F32, 2, shape);
  sf_graph_add_input(G, xin);
  int sp = neuron(xin, 0.25f, 12, 1, "spikes");
  if (code) sf_node_set_attr_int(&G->nodes[G->n_nodes - 1], "code", 1);
  sf_graph_add_output(G, with_linear ? b_linear(sp) : sp);
  sf_snn_session *s = direct_session();
  if (quant) assert_int_equal(sf_snn_set_quant(s, 8), SF_OK);
  sf_tensor in = {0};
  sf_tensor_describe(&in, SF_F32, 2, shape);
  in.data = (void *)x;
  grab_steps gs = {out_steps, with_linear ? 8 : 16};
  assert_int_equal(sf_snn_run(s, &in, T, grab_steps_cb, &gs), SF_OK);
  *g = G;
  return s;
}

static void binary_burst_counts(void **st) {
  (void)st;
  enum { T = 3 };
  float x[16];
  for (int i = 0; i < 16; i++) x[i] = -3.3f + 0.43f * (float)i; /* counts up to 12 per step: every bit of K = 12 */
  float spikes_mean[T * 16], y_un[T * 8], y_bin[T * 8], y_q[T * 8];
  sf_graph *g0, *gu, *gb, *gq;
  sf_snn_session *s0 = burst_session(0, 0, 0, x, T, spikes_mean, &g0);
  sf_snn_session_free(s0);
  sf_graph_free(g0);
  /* k_t = (t mean_t - (t - 1) mean_{t-1}) / theta */
  double pop[T] = {0}, unit[T] = {0};
  for (int t = 1; t <= T; t++)
    for (int e = 0; e < 16; e++) {
      double cum = (double)spikes_mean[(t - 1) * 16 + e] * t, prev = t > 1 ? (double)spikes_mean[(t - 2) * 16 + e] * (t - 1) : 0;
      int k = (int)lrint((cum - prev) / 0.25);
      assert_true(abs(k) <= 12);
      pop[t - 1] += __builtin_popcount((unsigned)abs(k));
      unit[t - 1] += abs(k);
    }
  assert_true(unit[0] > pop[0]); /* the input drives counts above 1 */
  const double planes = 4; /* 12 = 0b1100 */
  sf_snn_session *su = burst_session(0, 1, 0, x, T, y_un, &gu);
  sf_snn_session *sb = burst_session(1, 1, 0, x, T, y_bin, &gb);
  sf_snn_session *sq = burst_session(1, 1, 1, x, T, y_q, &gq);
  for (int i = 0; i < T * 8; i++) assert_float_equal(y_un[i], y_bin[i], 1e-6);
  for (int i = 0; i < T * 8; i++) assert_float_equal(y_bin[i], y_q[i], 0.02); /* int8 weights */
  for (int t = 1; t <= T; t++) {
    double su_s, sb_s, sq_s, m, f, u;
    sf_snn_step_counts(su, t, &su_s, &m, &f, &u);
    sf_snn_step_counts(sb, t, &sb_s, &m, &f, &u);
    sf_snn_step_counts(sq, t, &sq_s, &m, &f, &u);
    printf("  step %d: unary %.0f SOPs (%.0f spikes x 8), binary %.0f (%.0f spikes x 8 + 3 x 8 combining adds), int8 %.0f\n", t, su_s, unit[t - 1], sb_s,
           pop[t - 1], sq_s);
    assert_float_equal(su_s, unit[t - 1] * 8, 1e-9);
    assert_float_equal(sb_s, pop[t - 1] * 8 + (planes - 1) * 8, 1e-9);
    assert_float_equal(sq_s, sb_s, 1e-9);
  }
  sf_snn_node_stats ns;
  sf_snn_node_stats_get(sq, 1, &ns);
  assert_int_equal(ns.int8, 1); /* the int8 path ran (its popcounts come from the int8 counts) */
  sf_snn_session_free(su);
  sf_snn_session_free(sb);
  sf_snn_session_free(sq);
  sf_graph_free(gu);
  sf_graph_free(gb);
  sf_graph_free(gq);
}

/* Delta (sigma-delta) coding against a plain simulation of its rules, on
 *   x [1,16] -> N1 (theta 0.25, K 3) -> Linear (16x8, bias) = y -> N2 (theta 4, K 2) -> p = N2 * N2 (product)
 *   -> out = p + y + c (c a constant vector: a generic op with a constant input)
 * The input, the bias and c arrive at t = 1 only; x needs up to 5 steps of N1's bursts and y up to
 * several of N2's, so later steps run only what still changes. Every value is a small multiple of
 * a power of two: the float runtime must match the simulation exactly at every step, and skip
 * exactly the nodes the simulation says have nothing to do (counted by neuron updates). Run on a
 * static input (sf_snn_run), and on a clip whose frames change at two steps (sf_snn_run_frames). */
enum { DT = 14, DNI = 16, DNO = 8 };
static float delta_w[DNI * DNO], delta_b[DNO];

/* the rules, step by step, on frames [DT][DNI]: want [DT][DNO] decoded outputs, upd [DT] neuron
 * updates; returns the first step from which nothing runs until the frames change again (or 0) */
static int delta_simulate(const float frames[DT][DNI], double want[DT][DNO], double upd[DT]) {
  double v1[DNI], v2[DNO], S2[DNO] = {0}, Y[DNO] = {0};
  int pend1 = 0, pend2 = 0, settled = 0;
  for (int i = 0; i < DNI; i++) v1[i] = 0.125;
  for (int j = 0; j < DNO; j++) v2[j] = 2.0;
  for (int t = 1; t <= DT; t++) {
    double in[DNI];
    int changed = t == 1;
    for (int i = 0; i < DNI; i++) {
      in[i] = t == 1 ? frames[0][i] : (double)frames[t - 1][i] - frames[t - 2][i];
      changed |= in[i] != 0;
    }
    int run1 = changed || pend1, fired1 = 0, run2;
    double s1[DNI] = {0}, y[DNO] = {0};
    pend1 = 0;
    for (int i = 0; i < DNI && run1; i++) {
      v1[i] += in[i];
      double k = floor(v1[i] / 0.25);
      k = k > 3 ? 3 : k < -3 ? -3 : k;
      v1[i] -= 0.25 * k;
      s1[i] = 0.25 * k;
      fired1 |= k != 0;
      pend1 |= fabs(k) == 3;
    }
    run2 = fired1 || pend2 || t == 1;
    pend2 = 0;
    for (int j = 0; j < DNO; j++) {
      y[j] = t == 1 ? delta_b[j] : 0.0;
      for (int i = 0; i < DNI; i++) y[j] += s1[i] * delta_w[i * DNO + j];
      Y[j] += y[j];
      if (!run2) continue;
      v2[j] += y[j];
      double k = floor(v2[j] / 4.0);
      k = k > 2 ? 2 : k < -2 ? -2 : k;
      v2[j] -= 4.0 * k;
      S2[j] += 4.0 * k;
      pend2 |= fabs(k) == 2;
    }
    for (int j = 0; j < DNO; j++) want[t - 1][j] = S2[j] * S2[j] + Y[j] + 0.25 * j;
    upd[t - 1] = (run1 ? DNI : 0) + (run2 ? DNO : 0);
    if (!settled && !run1 && !run2) settled = t;
  }
  return settled;
}

/* the network above as G, and a session of it (coding, float or int8) */
static sf_snn_session *delta_session(int quant, sf_temporal_coding coding) {
  G = sf_graph_new();
  int64_t shape[2] = {1, DNI}, ws[2] = {DNI, DNO}, bs = DNO;
  int xin = sf_graph_value(G, "x");
  sf_tensor_describe(&G->values[xin].t, SF_F32, 2, shape);
  sf_graph_add_input(G, xin);
  int s1 = neuron(xin, 0.25f, 3, 1, "s1");
  int lin[3] = {s1, cval("w", SF_F32, 2, ws, delta_w), cval("b", SF_F32, 1, &bs, delta_b)};
  int y = node("Linear", "spikeformer", "linear", 3, lin, "y");
  int s2 = neuron(y, 4.0f, 2, 1, "s2");
  int pin[2] = {s2, s2};
  int pr = node("Mul", "", "product", 2, pin, "p");
  float cv[DNO];
  for (int j = 0; j < DNO; j++) cv[j] = 0.25f * (float)j;
  int ain[2] = {pr, y}, cin[2] = {node("Add", "", "linear", 2, ain, "py"), cval("c", SF_F32, 2, (int64_t[]){1, DNO}, cv)};
  sf_graph_add_output(G, node("Add", "", "linear", 2, cin, "out"));
  for (int i = 0; i < G->n_nodes; i++) assert_int_equal(sf_node_infer(G, i), SF_OK);
  sf_spiking_config cfg;
  sf_config_default(&cfg);
  cfg.spike_encoding = SF_ENCODE_DIRECT;
  cfg.coding = coding;
  sf_snn_session *s;
  assert_int_equal(sf_snn_session_create(G, &cfg, SF_DECODE_MEMBRANE, &s), SF_OK);
  if (quant) assert_int_equal(sf_snn_set_quant(s, 8), SF_OK);
  return s;
}

/* the network's input x [1, DNI] and a clip [1, T, DNI] of it as tensors (views) */
static void delta_inputs(sf_tensor *in, float *x, sf_tensor *clips, void *frames, int T) {
  *in = (sf_tensor){0};
  *clips = (sf_tensor){0};
  sf_tensor_describe(in, SF_F32, 2, (int64_t[]){1, DNI});
  sf_tensor_describe(clips, SF_F32, 3, (int64_t[]){1, T, DNI});
  in->data = x;
  clips->data = frames;
}

static void delta_coding(void **st) {
  (void)st;
  float x[DNI], frames[DT][DNI], clip[DT][DNI];
  for (int i = 0; i < DNI; i++) x[i] = 0.25f * (float)((i * 7) % 31 - 15);
  for (int i = 0; i < DNI * DNO; i++) delta_w[i] = 2.0f * (float)(((i / DNO) * 5 + (i % DNO) * 3) % 3 - 1);
  for (int j = 0; j < DNO; j++) delta_b[j] = 0.5f * (float)(j - 4);
  /* the static input as frames, and a clip: three inputs change at step 4 (while bursts are still
   * going out), two at step 10 (after the network has settled) */
  for (int t = 0; t < DT; t++)
    for (int i = 0; i < DNI; i++) {
      frames[t][i] = x[i];
      clip[t][i] = x[i] + (t >= 3 && i % 5 == 1 ? 1.5f : 0.0f) + (t >= 9 && i % 7 == 3 ? -0.75f : 0.0f);
    }
  double want[2][DT][DNO], upd[2][DT];
  int settled = delta_simulate(frames, want[0], upd[0]);
  assert_true(settled > 3 && settled < DT); /* bursts cut at K for a few steps, then nothing */
  delta_simulate(clip, want[1], upd[1]);
  assert_true(upd[1][9] > 0 && upd[0][9] == 0); /* the clip's change at step 10 wakes the network */
  for (int quant = 0; quant <= 8; quant += 8)
    for (int use_clip = 0; use_clip < 2; use_clip++) {
      sf_snn_session *s = delta_session(quant, SF_CODING_DELTA);
      sf_tensor in, clips;
      delta_inputs(&in, x, &clips, clip, DT);
      float got[DT * DNO];
      grab_steps gs = {got, DNO};
      for (int run = 0; run < 2; run++) { /* the second run starts from a clean state */
        if (use_clip) assert_int_equal(sf_snn_run_frames(s, &clips, grab_steps_cb, &gs), SF_OK);
        else assert_int_equal(sf_snn_run(s, &in, DT, grab_steps_cb, &gs), SF_OK);
        for (int t = 1; t <= DT; t++)
          for (int j = 0; j < DNO; j++) {
            /* int8: the bias in weight units and the threshold rounded to them: within a few per cent */
            double w = want[use_clip][t - 1][j], tol = quant ? 0.03 * fabs(w) + 0.5 : 1e-6;
            if (fabs(got[(t - 1) * DNO + j] - w) > tol)
              fail_msg("%s %s run %d step %d output %d: %g, the simulation %g", quant ? "int8" : "float", use_clip ? "clip" : "static", run, t, j,
                       (double)got[(t - 1) * DNO + j], w);
          }
      }
      for (int t = 1; t <= DT; t++) {
        double sops, macs, fops, nupd;
        sf_snn_step_counts(s, t, &sops, &macs, &fops, &nupd);
        if (!quant) assert_float_equal(nupd, 2 * upd[use_clip][t - 1], 1e-9); /* two runs */
        if (upd[use_clip][t - 1] == 0) assert_true(sops == 0 && nupd == 0);
      }
      printf("  delta coding %s, %s: matches the simulation at all %d steps\n", quant ? "int8" : "float", use_clip ? "a clip (frames change at steps 4 and 10)" : "static input", DT);
      sf_snn_session_free(s);
      sf_graph_free(G);
    }
  /* rate coding: a clip of equal frames is the static input, bit for bit */
  for (int quant = 0; quant <= 8; quant += 8) {
    sf_snn_session *s = delta_session(quant, SF_CODING_RATE);
    sf_tensor in, clips;
    delta_inputs(&in, x, &clips, frames, DT);
    float a[DT * DNO], b[DT * DNO];
    grab_steps ga = {a, DNO}, gb = {b, DNO};
    assert_int_equal(sf_snn_run(s, &in, DT, grab_steps_cb, &ga), SF_OK);
    assert_int_equal(sf_snn_run_frames(s, &clips, grab_steps_cb, &gb), SF_OK);
    assert_memory_equal(a, b, sizeof a);
    /* clips of the wrong shape are refused */
    clips.shape[2] = DNI + 1;
    assert_int_equal(sf_snn_run_frames(s, &clips, NULL, NULL), SF_ERR_SHAPE);
    sf_snn_session_free(s);
    sf_graph_free(G);
  }
  printf("  rate coding: a clip of equal frames gives the static input's outputs bit for bit (float, int8)\n");
  /* delta coding refuses what it cannot run */
  sf_snn_session *s = delta_session(0, SF_CODING_DELTA);
  sf_snn_session_free(s);
  sf_spiking_config cfg;
  sf_config_default(&cfg);
  cfg.coding = SF_CODING_DELTA;
  cfg.spike_encoding = SF_ENCODE_RATE;
  assert_int_equal(sf_snn_session_create(G, &cfg, SF_DECODE_MEMBRANE, &s), SF_ERR_ARG);
  assert_non_null(strstr(sf_last_error(), "direct input encoding"));
  cfg.spike_encoding = SF_ENCODE_DIRECT;
  assert_int_equal(sf_snn_session_create(G, &cfg, SF_DECODE_COUNT, &s), SF_ERR_ARG);
  sf_node_set_attr_float(&G->nodes[0], "leak", 0.9f);
  assert_int_equal(sf_snn_session_create(G, &cfg, SF_DECODE_MEMBRANE, &s), SF_ERR_ARG);
  assert_non_null(strstr(sf_last_error(), "leaky"));
  sf_graph_free(G);
}

/* A spiking graph whose output does not depend on the input (fuzz_convert: an ONNX Size folded to a
 * constant) has nothing to decode: refused when the session is made, not a NULL read at run time. */
static void constant_output_refused(void **st) {
  (void)st;
  G = sf_graph_new();
  int64_t shape[2] = {1, 4}, one = 1;
  int xin = sf_graph_value(G, "x");
  sf_tensor_describe(&G->values[xin].t, SF_F32, 2, shape);
  sf_graph_add_input(G, xin);
  neuron(xin, 0.5f, 1, 1, "spikes");
  float c = 3.0f;
  sf_graph_add_output(G, cval("size", SF_F32, 1, &one, &c));
  sf_spiking_config cfg;
  sf_config_default(&cfg);
  cfg.spike_encoding = SF_ENCODE_DIRECT;
  sf_snn_session *s = NULL;
  assert_int_equal(sf_snn_session_create(G, &cfg, SF_DECODE_MEMBRANE, &s), SF_ERR_UNSUPPORTED);
  assert_non_null(strstr(sf_last_error(), "output 'size' is a constant"));
  assert_null(s);
  sf_graph_free(G);
}

/* whole network: converted ViT and MLP against the ANN on test images */
static void network_vs_ann(const char *rel, int T, double max_loss_points, int neuron_if) {
  char path[1024];
  TU_PATH(path, rel);
  sf_graph *g;
  if (sf_graph_load(path, &g)) fail_msg("%s", sf_last_error());
  sf_dataset calib, test;
  if (sf_dataset_load(SF_DEFAULT_DATA_DIR, SF_SPLIT_TRAIN, 256, &calib)) fail_msg("%s", sf_last_error());
  if (sf_dataset_load(SF_DEFAULT_DATA_DIR, SF_SPLIT_TEST, 400, &test)) fail_msg("%s", sf_last_error());
  sf_convert_options o;
  sf_convert_options_default(&o);
  o.calib_samples = 256;
  o.snn.timesteps = T;
  if (neuron_if) o.snn.neuron_model = SF_NEURON_IF;
  sf_snn_model *m;
  if (sf_convert(g, &calib, &o, &m)) fail_msg("%s", sf_last_error());
  /* round trip through a .sfm file */
  char sfm[256];
  snprintf(sfm, sizeof sfm, "/tmp/sf_test_%d.sfm", (int)getpid());
  assert_int_equal(sf_snn_model_save(m, sfm), SF_OK);
  sf_snn_model *m2;
  if (sf_snn_model_load(sfm, &m2)) fail_msg("%s", sf_last_error());
  unlink(sfm);
  sf_graph *sg;
  assert_int_equal(sf_snn_model_build(m2, test.n, &sg), SF_OK);
  sf_snn_session *snn;
  sf_spiking_config cfg = sf_snn_model_options(m2)->snn;
  assert_int_equal(sf_snn_session_create(sg, &cfg, SF_DECODE_MEMBRANE, &snn), SF_OK);
  sf_session *ann;
  assert_int_equal(sf_session_create_planned(sg, NULL, &ann), SF_OK);
  sf_tensor x = sf_dataset_batch(&test, 0, test.n), out[1] = {{0}};
  if (sg->values[sg->inputs[0]].t.ndim == 2) { x.ndim = 2; x.shape[1] = 784; }
  assert_int_equal(sf_session_run(ann, &x, out), SF_OK);
  float *snn_out = calloc((size_t)sf_tensor_numel(&out[0]), sizeof(float));
  grab gb = {snn_out, sf_tensor_numel(&out[0])};
  assert_int_equal(sf_snn_run(snn, &x, T, grab_cb, &gb), SF_OK);
  int ca = 0, cs = 0, agree = 0;
  for (int64_t b = 0; b < test.n; b++) {
    int ba = 0, bs = 0;
    for (int k = 1; k < 10; k++) {
      if (((float *)out[0].data)[b * 10 + k] > ((float *)out[0].data)[b * 10 + ba]) ba = k;
      if (snn_out[b * 10 + k] > snn_out[b * 10 + bs]) bs = k;
    }
    ca += ba == test.labels[b];
    cs += bs == test.labels[b];
    agree += ba == bs;
  }
  double loss = 100.0 * (ca - cs) / (double)test.n;
  printf("  %-24s T=%d: ANN %.2f%%, SNN %.2f%%, same prediction on %d/%lld\n", rel, T, 100.0 * ca / (double)test.n, 100.0 * cs / (double)test.n,
         agree, (long long)test.n);
  assert_true(loss <= max_loss_points);
  assert_true(agree >= 0.95 * (double)test.n);
  {
    /* int8 weights / int32 membranes: within a point of the float SNN */
    sf_snn_session *q;
    assert_int_equal(sf_snn_session_create(sg, &cfg, SF_DECODE_MEMBRANE, &q), SF_OK);
    assert_int_equal(sf_snn_set_quant(q, 8), SF_OK);
    int n8 = 0, nf = 0;
    assert_int_equal(sf_snn_quant_layers(q, &n8, &nf), 8);
    assert_true(n8 > 0 || !strstr(rel, "mlp"));
    assert_int_equal(sf_snn_run(q, &x, T, grab_cb, &gb), SF_OK);
    int cq = 0;
    for (int64_t b = 0; b < test.n; b++) {
      int bq = 0;
      for (int k = 1; k < 10; k++) if (snn_out[b * 10 + k] > snn_out[b * 10 + bq]) bq = k;
      cq += bq == test.labels[b];
    }
    printf("  %-24s T=%d: int8 SNN %.2f%% (%d int8 layers, %d float)\n", rel, T, 100.0 * cq / (double)test.n, n8, nf);
    assert_true(fabs(100.0 * (cs - cq) / (double)test.n) <= 1.0);
    assert_int_equal(sf_snn_set_quant(q, 0), SF_ERR_ARG); /* set once */
    sf_snn_session_free(q);
  }
  free(snn_out);
  sf_tensor_free(&out[0]);
  sf_session_free(ann);
  sf_snn_session_free(snn);
  sf_graph_free(sg);
  sf_snn_model_free(m2);
  sf_snn_model_free(m);
  sf_dataset_free(&calib);
  sf_dataset_free(&test);
  sf_graph_free(g);
}


/* int8 kernels: event path, dense (VNNI where present) path and a plain reference agree exactly */
static void q8_kernels(void **st) {
  (void)st;
  enum { R = 9, K = 77, N = 37 };
  int8_t *X = calloc(R * K + 4, 1), *W = malloc(K * N), *Wp = malloc((size_t)sf_q8_packed_size(K, N));
  int32_t colsum[N], a[R * N], b[R * N], ref[R * N];
  sf_rng rng;
  sf_rng_seed(&rng, 7);
  for (int i = 0; i < R * K; i++) X[i] = sf_rng_uniform(&rng) < 0.2f ? (int8_t)((int)(sf_rng_uniform(&rng) * 9) - 4) : 0;
  memset(X + 2 * K, 0, K); /* a row without events */
  for (int i = 0; i < K * N; i++) W[i] = (int8_t)((int)(sf_rng_uniform(&rng) * 255) - 127);
  sf_q8_pack(W, K, N, Wp, colsum);
  for (int i = 0; i < R * N; i++) a[i] = b[i] = ref[i] = i - 100;
  for (int r = 0; r < R; r++)
    for (int k = 0; k < K; k++)
      for (int n = 0; n < N; n++) ref[r * N + n] += X[r * K + k] * W[k * N + n];
  int64_t ev = sf_q8_linear_events(X, R, K, W, N, a);
  sf_q8_linear_dense(X, R, K, W, Wp, colsum, N, NULL, b);
  assert_int_equal(ev, sf_q8_count_nonzero(X, R * K));
  assert_memory_equal(a, ref, sizeof ref);
  assert_memory_equal(b, ref, sizeof ref);
  /* starting from a bias row instead of the accumulators: int16 event path and dense path */
  int32_t bias[N], c[R * N], d[R * N], refb[R * N];
  for (int n = 0; n < N; n++) bias[n] = 1000 - 37 * n;
  for (int r = 0; r < R; r++)
    for (int n = 0; n < N; n++) refb[r * N + n] = ref[r * N + n] - (r * N + n - 100) + bias[n];
  for (int i = 0; i < R * N; i++) c[i] = d[i] = 12345;
  assert_int_equal(sf_q8_linear_events16(X, R, K, W, N, 4, bias, c), ev);
  sf_q8_linear_dense(X, R, K, W, Wp, colsum, N, bias, d);
  assert_memory_equal(c, refb, sizeof refb);
  assert_memory_equal(d, refb, sizeof refb);
  printf("  int8 kernels (%s): events, int16 events and dense paths equal the reference on %d x %d x %d\n", sf_q8_isa(), R, K, N);
  free(X); free(W); free(Wp);
}

/* The one-sample kernels of the time-major chain against exact integer references: a row of int16
 * events (register and index-list paths, flushes mid-row), a narrow dense row, the events of a
 * block of steps, and binary IF neurons against the general neuron kernel. */
static void q8_row_kernels(void **st) {
  (void)st;
  enum { K = 200, NMAX = 300, NB = 32 };
  sf_rng rng;
  sf_rng_seed(&rng, 23);
  int8_t *W = malloc(K * NMAX), *Wp = malloc((size_t)sf_q8_packed_size(K, NMAX)), *S = calloc(NB * K + 4, 1);
  int32_t colsum[NMAX], bias[NMAX], ref[NMAX], a[NMAX], idx[K + 64];
  for (int i = 0; i < K * NMAX; i++) W[i] = (int8_t)((int)(sf_rng_uniform(&rng) * 255) - 127);
  const int Ns[] = {10, 20, 37, 256, 300};
  for (int ni = 0; ni < 5; ni++) {
    const int N = Ns[ni];
    for (int n = 0; n < N; n++) bias[n] = 77 * n - 5000;
    sf_q8_pack(W, K, N, Wp, colsum); /* W read as [K, N] */
    for (int kmax = 1; kmax <= 4; kmax += 3) {
      int8_t x[K + 4] = {0};
      for (int k = 0; k < K; k++) x[k] = sf_rng_uniform(&rng) < 0.4f ? (int8_t)(kmax == 1 ? 1 : (int)(sf_rng_uniform(&rng) * 9) - 4) : 0;
      int64_t nz = 0;
      for (int n = 0; n < N; n++) ref[n] = bias[n];
      for (int k = 0; k < K; k++) {
        nz += x[k] != 0;
        for (int n = 0; n < N; n++) ref[n] += x[k] * W[k * N + n];
      }
      for (int n = 0; n < N; n++) a[n] = 999;
      assert_int_equal(sf_q8_events16_row(x, K, W, N, kmax, bias, a, idx), nz);
      assert_memory_equal(a, ref, sizeof(int32_t) * (size_t)N);
      for (int n = 0; n < N; n++) a[n] = 999;
      sf_q8_dense_row(x, K, W, Wp, colsum, N, bias, a);
      assert_memory_equal(a, ref, sizeof(int32_t) * (size_t)N);
    }
    {
      /* 19 rows at once (8-row blocks and a tail) = row by row */
      int32_t *A = malloc(sizeof(int32_t) * 19 * NMAX), *B = malloc(sizeof(int32_t) * 19 * NMAX);
      int8_t *X = calloc(19 * K + 4, 1);
      for (int i = 0; i < 19 * K; i++) X[i] = sf_rng_uniform(&rng) < 0.3f ? (int8_t)((int)(sf_rng_uniform(&rng) * 9) - 4) : 0;
      sf_q8_dense_rows(X, 19, K, W, Wp, colsum, N, bias, A);
      for (int r = 0; r < 19; r++) sf_q8_dense_row(X + r * K, K, W, Wp, colsum, N, bias, B + r * N);
      assert_memory_equal(A, B, sizeof(int32_t) * 19 * (size_t)N);
      free(A); free(B); free(X);
    }
    {
      /* binary spikes of a block of steps as per-step lists on widened panels (every width: the
       * last panel partial); rows ldi = N + 3 apart, whose gaps stay untouched */
      int32_t *lists = malloc(sizeof(int32_t) * NB * (K + 16)), counts[NB];
      int16_t *W16 = malloc(sizeof(int16_t) * (size_t)sf_q8_w16_size(K, N)), *I = malloc(sizeof(int16_t) * NB * (N + 3));
      for (int i = 0; i < NB * K; i++) S[i] = sf_rng_uniform(&rng) < 0.15f;
      for (int t = 0; t < NB; t++) {
        counts[t] = 0;
        for (int k = 0; k < K; k++)
          if (S[t * K + k]) lists[t * (K + 16) + counts[t]++] = k;
      }
      for (int i = 0; i < NB * (N + 3); i++) I[i] = 0x5A5A;
      sf_q8_pack_w16(W, K, N, W16);
      sf_q8_events_lists(lists, counts, NB, K, W16, N, I, N + 3);
      for (int t = 0; t < NB; t++) {
        for (int n = 0; n < N; n++) {
          int32_t r = 0;
          for (int k = 0; k < K; k++) r += S[t * K + k] * W[k * N + n];
          assert_int_equal(I[t * (N + 3) + n], r);
        }
        for (int n = N; n < N + 3; n++) assert_int_equal(I[t * (N + 3) + n], 0x5A5A);
      }
      free(lists); free(W16); free(I);
    }
    if (N > 256) continue;
    /* a block of 32 steps: at most 200 unit spikes per step keeps the int16 sums exact */
    for (int i = 0; i < NB * K; i++) S[i] = sf_rng_uniform(&rng) < 0.15f ? (int8_t)(sf_rng_uniform(&rng) < 0.8f ? 1 : -1) : 0;
    uint32_t bits[K];
    int16_t *I = calloc(NB * N, sizeof(int16_t));
    sf_q8_step_bits(S, NB, K, bits);
    sf_q8_events_steps(S, NB, K, bits, W, N, I, N);
    for (int t = 0; t < NB; t++)
      for (int n = 0; n < N; n++) {
        int32_t r = 0;
        for (int k = 0; k < K; k++) r += S[t * K + k] * W[k * N + n];
        assert_int_equal(I[t * N + n], r);
      }
    free(I);
  }
  /* binary IF neurons over a block of steps = the general kernel stepped (K = 1), with the step
   * bits and lists they record; constant currents, one row per step, int16 sums plus a bias row;
   * rows with a partial group of 16 and a partial group of 64 */
  {
    enum { LMAX = 520, TB = 32 };
    int32_t *xa = malloc(sizeof(int32_t) * TB * LMAX), *b32 = malloc(sizeof(int32_t) * LMAX), *x32 = malloc(sizeof(int32_t) * LMAX);
    int32_t *lists = malloc(sizeof(int32_t) * TB * (LMAX + 16)), v1[LMAX], v2[LMAX], Th[LMAX], counts[TB];
    int16_t *x16 = malloc(sizeof(int16_t) * TB * LMAX);
    int8_t *k1 = malloc(TB * LMAX), k2[LMAX + 4];
    float iTh[LMAX], iu[LMAX], th[LMAX];
    uint32_t bits[LMAX];
    const int lens[] = {37, 512, 520}, nbs[] = {1, 7, 32};
    for (int big = 0; big < 2; big++) /* thresholds and currents near the membrane's clamp at 2^30 */
    for (int sgn = 0; sgn < 2; sgn++)
      for (int li = 0; li < 3; li++)
        for (int bi = 0; bi < 3; bi++)
          for (int mode = 0; mode < 3; mode++) { /* constant, per step, int16 + bias */
            const int len = lens[li], nb = nbs[bi];
            for (int j = 0; j < len; j++) {
              Th[j] = 1 + (int32_t)(sf_rng_uniform(&rng) * (big ? 2.0e8f : 5000.0f));
              iTh[j] = 1.0f / (float)Th[j];
              iu[j] = th[j] = 1.0f;
              v1[j] = v2[j] = (int32_t)((sf_rng_uniform(&rng) - 0.5f) * 2.0f * (float)Th[j]);
              b32[j] = (int32_t)((sf_rng_uniform(&rng) - 0.4f) * 2.0f * (float)Th[j]);
            }
            for (int i = 0; i < nb * len; i++) {
              xa[i] = (int32_t)((sf_rng_uniform(&rng) - 0.4f) * 3.0f * (float)Th[i % len]);
              x16[i] = (int16_t)((sf_rng_uniform(&rng) - 0.5f) * 60000.0f);
            }
            int64_t total = sf_q8_neuron_if_block(xa, mode == 1 ? len : 0, mode == 2 ? x16 : NULL, b32, nb, v1, Th, len, sgn, k1, bits, lists, counts);
            int64_t ref_total = 0;
            for (int t = 0; t < nb; t++) {
              for (int j = 0; j < len; j++) x32[j] = mode == 0 ? xa[j] : mode == 1 ? xa[t * len + j] : b32[j] + x16[t * len + j];
              int64_t z = 0;
              int64_t sp = sf_q8_neuron_block(x32, NULL, v2, k2, NULL, Th, iTh, iu, th, len, 1.0f, sgn ? -1 : 0, 1, 5000, -1, &z);
              assert_int_equal(counts[t], sp);
              assert_int_equal(z, sp);
              assert_memory_equal(k1 + t * len, k2, (size_t)len);
              for (int j = 0, e = 0; j < len; j++) {
                assert_int_equal((bits[j] >> t) & 1u, k2[j] != 0);
                if (k2[j]) assert_int_equal(lists[t * (len + 16) + e++], j); /* ascending */
              }
              ref_total += sp;
            }
            assert_int_equal(total, ref_total);
            assert_memory_equal(v1, v2, sizeof(int32_t) * (size_t)len);
            /* the outputs are optional */
            memcpy(v2, v1, sizeof(int32_t) * (size_t)len);
            int32_t c2[TB];
            sf_q8_neuron_if_block(xa, mode == 1 ? len : 0, mode == 2 ? x16 : NULL, b32, nb, v1, Th, len, sgn, k1, bits, lists, counts);
            sf_q8_neuron_if_block(xa, mode == 1 ? len : 0, mode == 2 ? x16 : NULL, b32, nb, v2, Th, len, sgn, NULL, NULL, NULL, c2);
            assert_memory_equal(v1, v2, sizeof(int32_t) * (size_t)len);
            assert_memory_equal(counts, c2, sizeof(int32_t) * (size_t)nb);
          }
    free(xa); free(b32); free(x32); free(lists); free(x16); free(k1);
  }
  printf("  one-sample int8 kernels (%s): event rows, dense rows, step blocks, step lists on panels and IF neurons equal their references\n", sf_q8_isa());
  free(W); free(Wp); free(S);
}

/* A feed-forward int8 chain of odd widths (37 -> 70 -> 300 -> 23 -> 10: partial groups of 16 and
 * panels of 64, a panel layer wider than 256, a narrow one), binary IF neurons, 5 samples, 40 steps
 * (a block of 32 and one of 8): the time-major runner gives the step-major executor's decoded
 * outputs at every step and its spike counts, on the auto, dense and event paths. */

static void chain_odd_widths(void **st) {
  (void)st;
  enum { B = 5, T = 40, L = 4 };
  const int64_t width[L + 1] = {37, 70, 300, 23, 10};
  sf_rng rng;
  sf_rng_seed(&rng, 31);
  G = sf_graph_new();
  G->opset = 17;
  int64_t xs[2] = {B, width[0]};
  int v = sf_graph_value(G, "x");
  sf_tensor_describe(&G->values[v].t, SF_F32, 2, xs);
  sf_graph_add_input(G, v);
  for (int l = 0; l < L; l++) {
    const int64_t K = width[l], N = width[l + 1], ws[2] = {K, N};
    float *w = malloc(sizeof(float) * (size_t)(K * N)), *bias = malloc(sizeof(float) * (size_t)N);
    for (int64_t i = 0; i < K * N; i++) w[i] = (2.0f * sf_rng_uniform(&rng) - 0.8f) / sqrtf((float)K);
    for (int64_t i = 0; i < N; i++) bias[i] = 0.1f * sf_rng_uniform(&rng) - 0.03f;
    char wn[32], bn[32], on[32];
    snprintf(wn, sizeof wn, "w%d", l);
    snprintf(bn, sizeof bn, "b%d", l);
    snprintf(on, sizeof on, "fc%d", l);
    int in[3] = {v, cval(wn, SF_F32, 2, ws, w), cval(bn, SF_F32, 1, &N, bias)};
    v = node("Linear", "spikeformer", "linear", 3, in, on);
    if (l + 1 < L) {
      snprintf(on, sizeof on, "relu%d", l);
      v = neuron(v, 0.25f, 1, 0, on);
    }
    free(w);
    free(bias);
  }
  sf_graph_add_output(G, v);
  for (int i = 0; i < G->n_nodes; i++) assert_int_equal(sf_node_infer(G, i), SF_OK);
  float x[B * 37];
  for (int i = 0; i < B * 37; i++) x[i] = sf_rng_uniform(&rng);
  sf_tensor in = {0};
  sf_tensor_describe(&in, SF_F32, 2, xs);
  in.data = x;
  const int64_t n_out = B * width[L];
  float *ref = NULL;
  double ref_spikes[16] = {0};
  for (int path = 0; path <= 2; path++)
    for (int step_major = 0; step_major <= 1; step_major++) {
      sf_spiking_config cfg;
      sf_config_default(&cfg);
      cfg.spike_encoding = SF_ENCODE_DIRECT;
      sf_snn_session *s;
      assert_int_equal(sf_snn_session_create(G, &cfg, SF_DECODE_MEMBRANE, &s), SF_OK);
      assert_int_equal(sf_snn_set_quant(s, 8), SF_OK);
      sf_snn_set_path(s, path, 0);
      sf_snn_set_schedule(s, step_major);
      assert_int_equal(sf_snn_time_major(s), !step_major); /* the chain is recognised */
      grab_steps gb = {malloc(sizeof(float) * (size_t)(T * n_out)), n_out};
      assert_int_equal(sf_snn_run(s, &in, T, grab_steps_cb, &gb), SF_OK);
      double spikes[16] = {0};
      int total = 0;
      for (int i = 0; i < sf_snn_num_nodes(s) && i < 16; i++) {
        sf_snn_node_stats ns;
        sf_snn_node_stats_get(s, i, &ns);
        spikes[i] = ns.spikes;
        total += ns.spikes > 0;
      }
      assert_int_equal(total, L - 1); /* every hidden layer fires */
      if (!ref) {
        ref = gb.buf;
        memcpy(ref_spikes, spikes, sizeof spikes);
      } else {
        assert_memory_equal(gb.buf, ref, sizeof(float) * (size_t)(T * n_out));
        assert_memory_equal(spikes, ref_spikes, sizeof spikes);
        free(gb.buf);
      }
      sf_snn_session_free(s);
    }
  printf("  int8 chain 37-70-300-23-10, 40 steps: time-major = step-major on the auto, dense and event paths\n");
  free(ref);
  sf_graph_free(G);
}

/* Pruned weights make no synaptic operations: x -> Linear(identity) -> IF neurons (theta 1) ->
 * Linear(W with zeros). Each neuron j gets the constant current x_j = q/8, so over T = 8 steps it
 * fires exactly round(8 x_j) times (membrane from theta/2, reset by subtraction; exact in float),
 * and each of its spikes costs the non-zero weights of row j: sops = sum_(b,j) spikes_bj nnz_j,
 * on every path, float and int8. The identity input layer: MACs = B x its K non-zeros. */
static void pruned_synapses_counted(void **st) {
  (void)st;
  enum { B = 3, K = 16, N = 12, T = 8 };
  G = sf_graph_new();
  G->opset = 17;
  int64_t xs[2] = {B, K};
  int v = sf_graph_value(G, "x");
  sf_tensor_describe(&G->values[v].t, SF_F32, 2, xs);
  sf_graph_add_input(G, v);
  float eye[K * K] = {0}, w1[K * N], b0[K] = {0}, b1[N] = {0};
  for (int j = 0; j < K; j++) eye[j * K + j] = 1.0f;
  int64_t nnz[K];
  for (int j = 0; j < K; j++) {
    nnz[j] = 0;
    for (int c = 0; c < N; c++) {
      const int keep = (j * 7 + c * 3) % 5 < j % 4; /* rows from empty to 3/5 full */
      w1[j * N + c] = keep ? 0.01f * (float)(1 + (j + c) % 9) : 0.0f;
      nnz[j] += keep;
    }
  }
  const int64_t s0[2] = {K, K}, s1[2] = {K, N}, kk = K, nn = N;
  int in0[3] = {v, cval("w0", SF_F32, 2, s0, eye), cval("b0", SF_F32, 1, &kk, b0)};
  v = node("Linear", "spikeformer", "linear", 3, in0, "fc0");
  v = neuron(v, 1.0f, 1, 0, "if0");
  int in1[3] = {v, cval("w1", SF_F32, 2, s1, w1), cval("b1", SF_F32, 1, &nn, b1)};
  v = node("Linear", "spikeformer", "linear", 3, in1, "fc1");
  sf_graph_add_output(G, v);
  for (int i = 0; i < G->n_nodes; i++) assert_int_equal(sf_node_infer(G, i), SF_OK);
  float x[B * K];
  double want = 0;
  for (int b = 0; b < B; b++)
    for (int j = 0; j < K; j++) {
      const int q = (b * 5 + j * 3) % 9; /* 0..8 spikes in 8 steps */
      x[b * K + j] = (float)q / 8.0f;
      want += (double)q * (double)nnz[j];
    }
  sf_tensor in = {0};
  sf_tensor_describe(&in, SF_F32, 2, xs);
  in.data = x;
  for (int quant = 0; quant <= 8; quant += 8)
    for (int path = 0; path <= 2; path++) {
      sf_spiking_config cfg;
      sf_config_default(&cfg);
      cfg.spike_encoding = SF_ENCODE_DIRECT;
      sf_snn_session *s;
      assert_int_equal(sf_snn_session_create(G, &cfg, SF_DECODE_MEMBRANE, &s), SF_OK);
      if (quant) assert_int_equal(sf_snn_set_quant(s, 8), SF_OK);
      sf_snn_set_path(s, path, 0);
      assert_int_equal(sf_snn_run(s, &in, T, NULL, NULL), SF_OK);
      double sops = 0, macs = 0;
      for (int i = 0; i < sf_snn_num_nodes(s); i++) {
        sf_snn_node_stats ns;
        sf_snn_node_stats_get(s, i, &ns);
        sops += ns.sops;
        macs += ns.macs;
      }
      if (sops != want || macs != (double)(B * K)) fprintf(stderr, "  quant %d path %d: sops %g (want %g), macs %g (want %d)\n", quant, path, sops, want, macs, B * K);
      assert_true(sops == want);
      assert_true(macs == (double)(B * K));
      sf_snn_session_free(s);
    }
  printf("  pruned layer: %g synaptic operations = sum of spikes x each row's non-zero weights, float and int8, every path\n", want);
  sf_graph_free(G);
}

/* int32-membrane neurons against exact integer arithmetic: floor division, clamping, reset by
 * subtraction; few and many levels, small and huge thresholds (both kernel strategies) */
static void q8_neuron_block(void **st) {
  (void)st;
  enum { L = 300 };
  sf_rng rng;
  sf_rng_seed(&rng, 11);
  const int Ks[] = {1, 2, 4, 8, 12};
  const int32_t scales[] = {37, 4096, 1 << 28};
  for (int ki = 0; ki < 5; ki++)
    for (int si = 0; si < 3; si++)
      for (int sgn = 0; sgn < 2; sgn++) {
        int K = Ks[ki], lo = sgn ? -K : 0;
        int32_t xa[L], v[L], v0[L], Th[L], thmax = 1;
        float iTh[L], iu[L], th[L], y[L];
        int8_t kq[L + 4];
        for (int j = 0; j < L; j++) {
          Th[j] = 1 + (int32_t)(sf_rng_uniform(&rng) * (float)scales[si]);
          thmax = Th[j] > thmax ? Th[j] : thmax;
          iTh[j] = 1.0f / (float)Th[j];
          iu[j] = 1.0f;
          th[j] = 0.5f;
          v[j] = v0[j] = (int32_t)((sf_rng_uniform(&rng) - 0.5f) * 2.0f * (float)Th[j]);
          double x = (sf_rng_uniform(&rng) - 0.5) * 2.5 * (K + 1) * (double)Th[j];
          xa[j] = (int32_t)(x > 1e9 ? 1e9 : x < -1e9 ? -1e9 : x);
        }
        int shift = -1;
        if (si == 1) {
          /* one power-of-two threshold everywhere: the shift path */
          for (int j = 0; j < L; j++) { Th[j] = 4096; iTh[j] = 1.0f / 4096.0f; }
          thmax = 4096;
          shift = 12;
        }
        int64_t nz = 0, sp = sf_q8_neuron_block(xa, NULL, v, kq, y, Th, iTh, iu, th, L, 1.0f, lo, K, thmax, shift, &nz), sp_ref = 0, nz_ref = 0;
        for (int j = 0; j < L; j++) {
          int64_t u = (int64_t)v0[j] + xa[j], k = u >= 0 ? u / Th[j] : -((-u + Th[j] - 1) / Th[j]);
          k = k < lo ? lo : k > K ? K : k;
          int64_t nv = u - k * Th[j];
          nv = nv > (1 << 30) ? (1 << 30) : nv < -(1 << 30) ? -(1 << 30) : nv;
          if (kq[j] != (int)k) printf("  K=%d lo=%d Th=%d v0=%d x=%d: k=%d, exact %lld\n", K, lo, Th[j], v0[j], xa[j], kq[j], (long long)k);
          assert_int_equal(kq[j], (int)k);
          assert_int_equal(v[j], (int32_t)nv);
          assert_true(y[j] == (float)k * 0.5f);
          sp_ref += k < 0 ? -k : k;
          nz_ref += k != 0;
        }
        assert_int_equal(sp, sp_ref);
        assert_int_equal(nz, nz_ref);
        /* float currents (rounded to units: round half up of clamp(x / unit)) and no float output */
        float xf[L];
        int32_t v2[L];
        int8_t kq2[L + 4];
        memcpy(v2, v0, sizeof v2);
        for (int j = 0; j < L; j++) xf[j] = (float)xa[j] * 0.25f + 0.3f, iu[j] = 4.0f;
        int64_t nz2 = 0, sp2 = sf_q8_neuron_block(NULL, xf, v2, kq2, NULL, Th, iTh, iu, th, L, 1.0f, lo, K, thmax, shift, &nz2);
        sp_ref = nz_ref = 0;
        for (int j = 0; j < L; j++) {
          float f = xf[j] * iu[j];
          f = f > 1e9f ? 1e9f : f < -1e9f ? -1e9f : f;
          int64_t u = (int64_t)v0[j] + (int32_t)floorf(f + 0.5f), k = u >= 0 ? u / Th[j] : -((-u + Th[j] - 1) / Th[j]);
          k = k < lo ? lo : k > K ? K : k;
          int64_t nv = u - k * Th[j];
          nv = nv > (1 << 30) ? (1 << 30) : nv < -(1 << 30) ? -(1 << 30) : nv;
          assert_int_equal(kq2[j], (int)k);
          assert_int_equal(v2[j], (int32_t)nv);
          sp_ref += k < 0 ? -k : k;
          nz_ref += k != 0;
        }
        assert_int_equal(sp2, sp_ref);
        assert_int_equal(nz2, nz_ref);
      }
  printf("  int32 neurons (%s): K = 1..12, signed and unsigned, int and float currents, thresholds up to 2^28 and 2^12 everywhere (shifts) match exact integer division\n", sf_q8_isa());
}

/* Fused expectation compensation (ec_rows.h) against its three passes over the whole tensor
 * (running mean, the op, the increment): bit-identical for GELU, LayerNorm (with and without scale
 * and bias, rows of 64 and of 1500, longer than a block) and softmax (rows of 17 and 7), over 8
 * steps on sizes that end inside a block. */
static void ec_rows_fused(void **st) {
  (void)st;
  enum { N = 4500 * 2, T = 8 };
  sf_rng rng;
  sf_rng_seed(&rng, 5);
  float *x = malloc(sizeof(float) * N), *cum[2], *prev[2], *y[2], *mean = malloc(sizeof(float) * N), *f = malloc(sizeof(float) * N);
  float scale[1500], bias[1500];
  for (int j = 0; j < 1500; j++) scale[j] = 0.5f + sf_rng_uniform(&rng), bias[j] = sf_rng_uniform(&rng) - 0.5f;
  for (int k = 0; k < 2; k++) cum[k] = malloc(sizeof(float) * N), prev[k] = malloc(sizeof(float) * N), y[k] = malloc(sizeof(float) * N);
  const sf_ec_rows_op ops[] = {{SF_EC_ROWS_GELU, 1, 0, NULL, NULL},        {SF_EC_ROWS_LAYERNORM, 64, 1e-5f, scale, bias},
                               {SF_EC_ROWS_LAYERNORM, 64, 1e-6f, NULL, NULL}, {SF_EC_ROWS_LAYERNORM, 1500, 1e-5f, scale, NULL},
                               {SF_EC_ROWS_SOFTMAX, 17, 0, NULL, NULL},      {SF_EC_ROWS_SOFTMAX, 7, 0, NULL, NULL}};
  for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
    const sf_ec_rows_op *op = &ops[o];
    const int64_t n = N / op->D / 2 * op->D + op->D * 3; /* whole rows, and (blocks of several rows) a part block */
    assert_true(n <= N && (sf_ec_rows_block(op) == op->D || n % sf_ec_rows_block(op) != 0));
    for (int k = 0; k < 2; k++) memset(cum[k], 0, sizeof(float) * N), memset(prev[k], 0, sizeof(float) * N);
    for (int t = 1; t <= T; t++) {
      for (int64_t e = 0; e < n; e++) x[e] = (sf_rng_uniform(&rng) - 0.4f) * 3.0f;
      /* the three passes over the whole tensor, as the step loop runs an op it does not fuse */
      sf_ec_accumulate(cum[0], mean, x, 1.0f / (float)t, n);
      if (op->kind == SF_EC_ROWS_GELU) sf_vgelu(f, mean, n);
      else if (op->kind == SF_EC_ROWS_LAYERNORM) sf_layernorm_rows(mean, f, n / op->D, op->D, op->scale, op->bias, op->eps, NULL, NULL);
      else sf_softmax_rows(mean, f, n / op->D, op->D);
      sf_ec_increment(y[0], f, prev[0], (float)t, n);
      /* fused, block by block */
      float m2[1536], f2[1536];
      assert_true(sf_ec_rows_block(op) <= 1536);
      sf_ec_rows_step(op, cum[1], x, prev[1], y[1], m2, f2, 1.0f / (float)t, (float)t, n);
      assert_memory_equal(y[0], y[1], sizeof(float) * (size_t)n);
      assert_memory_equal(cum[0], cum[1], sizeof(float) * (size_t)n);
      assert_memory_equal(prev[0], prev[1], sizeof(float) * (size_t)n);
    }
  }
  for (int k = 0; k < 2; k++) free(cum[k]), free(prev[k]), free(y[k]);
  free(x), free(mean), free(f);
  printf("  fused EC (GELU, LayerNorm, softmax) is bit-identical to its three passes over 8 steps\n");
}

static void vit_snn(void **st) { (void)st; network_vs_ann("models/vit/model.onnx", 8, 1.0, 0); }
static void mlp_snn(void **st) { (void)st; network_vs_ann("models/mlp/hf", 16, 1.0, 1); }
static void cnn_snn(void **st) { (void)st; network_vs_ann("models/variants/cnn_bn_maxpool/model.onnx", 16, 1.0, 0); }

/* The MLP converted (calibrated on `calib_samples` training images), saved to /tmp/sf_test_TAG_PID.sfm
 * (its path in sfm) and read back into *buf [*n]. The model borrows *g: free the model first. */
static sf_snn_model *mlp_sfm_file(int calib_samples, const char *tag, char *sfm, size_t sfm_n, sf_graph **g, char **buf, size_t *n) {
  char path[1024];
  TU_PATH(path, "models/mlp/model.onnx");
  assert_int_equal(sf_graph_load(path, g), SF_OK);
  sf_dataset calib;
  assert_int_equal(sf_dataset_load(SF_DEFAULT_DATA_DIR, SF_SPLIT_TRAIN, calib_samples, &calib), SF_OK);
  sf_convert_options o;
  sf_convert_options_default(&o);
  o.calib_samples = calib_samples;
  sf_snn_model *m;
  assert_int_equal(sf_convert(*g, &calib, &o, &m), SF_OK);
  sf_dataset_free(&calib);
  snprintf(sfm, sfm_n, "/tmp/sf_test_%s_%d.sfm", tag, (int)getpid());
  assert_int_equal(sf_snn_model_save(m, sfm), SF_OK);
  assert_int_equal(sf_read_file(sfm, buf, n), SF_OK);
  return m;
}

/* A re-signed model file with crafted thresholds or options (the checksum holds) is refused with
 * a message naming the entry, never undefined behaviour (this test also runs under UBSan): an axis
 * of 1e12 once overflowed an int. */
static void sfm_crafted(void **st) {
  (void)st;
  char sfm[256], *buf;
  size_t n;
  sf_graph *g;
  sf_snn_model *m2, *m = mlp_sfm_file(32, "crafted", sfm, sizeof sfm, &g, &buf, &n);
  char *thrs = sfm_section((unsigned char *)buf, n, "THRS"), *conf = sfm_section((unsigned char *)buf, n, "CONF");
  assert_non_null(thrs);
  assert_non_null(conf);
  /* site 0 edited: {field, JSON value, expected message}; "options" entries edit CONF instead */
  static const struct { const char *field, *value, *want; } cases[] = {
      {"axis", "1e12", "channel axis 1e+12 is not a whole number in [0, 7]"},
      {"axis", "-7", "channel axis -7 is not a whole number"},
      {"axis", "1.5", "channel axis 1.5 is not a whole number"},
      {"axis", "0", "thresholds along axis 0, but its channels are on axis 1"},
      {"theta", "[1, \"x\"]", "threshold 1 is not a number"},
      {"theta", "[1, -2]", "threshold 1 is -2 (must be finite and positive)"},
      {"site", "\"no/such/site\"", "no thresholds for neuron site"},
      {"repeat", "", "repeats site"},
      {"options.percentile", "1e300", "percentile must be a number in (0, 100]"},
      {"options.calib_samples", "1e300", "calib_samples must be a whole number"},
      {"options", "null", "CONF has no \"options\" object"},
      {"options.spiking_config", "{\"coding\": \"sigma\"}", "config key 'coding': unknown value 'sigma' (one of: rate, delta)"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    int in_conf = !strncmp(cases[k].field, "options", 7);
    cJSON *root = cJSON_Parse(in_conf ? conf : thrs), *site0 = cJSON_GetArrayItem(root, 0);
    if (!strcmp(cases[k].field, "repeat")) cJSON_AddItemToArray(root, cJSON_Duplicate(site0, 1));
    else if (!strcmp(cases[k].field, "options")) cJSON_ReplaceItemInObjectCaseSensitive(root, "options", cJSON_CreateNull());
    else if (in_conf)
      cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "options"), cases[k].field + 8, cJSON_Parse(cases[k].value));
    else cJSON_ReplaceItemInObjectCaseSensitive(site0, cases[k].field, cJSON_Parse(cases[k].value));
    char *text = cJSON_PrintUnformatted(root);
    size_t cn;
    unsigned char *crafted = resigned_sfm((unsigned char *)buf, n, in_conf ? "CONF" : "THRS", text, &cn);
    assert_int_equal(sf_write_file_atomic(sfm, crafted, cn), SF_OK);
    sf_status s2 = sf_snn_model_load(sfm, &m2);
    sf_graph *built = NULL;
    if (!s2) {
      s2 = sf_snn_model_build(m2, 1, &built);
      sf_graph_free(built);
      sf_snn_model_free(m2);
    }
    printf("  %s = %s: %s\n", cases[k].field, cases[k].value, sf_last_error());
    assert_int_not_equal(s2, SF_OK);
    assert_non_null(strstr(sf_last_error(), cases[k].want));
    free(crafted);
    free(text);
    cJSON_Delete(root);
  }
  /* the same re-signing with the sections unchanged gives a file that loads */
  size_t cn;
  unsigned char *same = resigned_sfm((unsigned char *)buf, n, "THRS", thrs, &cn);
  assert_int_equal(sf_write_file_atomic(sfm, same, cn), SF_OK);
  assert_int_equal(sf_snn_model_load(sfm, &m2), SF_OK);
  sf_snn_model_free(m2);
  free(same);
  unlink(sfm);
  free(thrs);
  free(conf);
  free(buf);
  sf_snn_model_free(m);
  sf_graph_free(g);
}

/* Weights near the float range: activations of 1e30 still give thresholds a saved model can be
 * loaded with; activations that overflow to infinity are refused at calibration, by site. */
static void extreme_weights(void **st) {
  (void)st;
  char path[1024], sfm[256];
  TU_PATH(path, "models/mlp/model.onnx");
  snprintf(sfm, sizeof sfm, "/tmp/sf_test_extreme_%d.sfm", (int)getpid());
  sf_dataset calib;
  assert_int_equal(sf_dataset_load(SF_DEFAULT_DATA_DIR, SF_SPLIT_TRAIN, 16, &calib), SF_OK);
  sf_convert_options o;
  sf_convert_options_default(&o);
  o.calib_samples = 16;
  const float scales[2] = {1e30f, 1e38f};
  for (int k = 0; k < 2; k++) {
    sf_graph *g;
    assert_int_equal(sf_graph_load(path, &g), SF_OK);
    int w = sf_graph_find_value(g, "fc1.weight");
    assert_true(w >= 0);
    float *p = g->values[w].t.data;
    for (int64_t e = 0; e < sf_tensor_numel(&g->values[w].t); e++) p[e] *= scales[k];
    sf_snn_model *m = NULL, *m2 = NULL;
    sf_status s2 = sf_convert(g, &calib, &o, &m);
    printf("  fc1 x %g: %s\n", (double)scales[k], s2 ? sf_last_error() : "converted");
    if (k == 0) {
      assert_int_equal(s2, SF_OK);
      assert_int_equal(sf_snn_model_save(m, sfm), SF_OK);
      if (sf_snn_model_load(sfm, &m2)) fail_msg("a model convert wrote does not load: %s", sf_last_error());
      sf_snn_model_free(m2);
      unlink(sfm);
    } else {
      assert_int_not_equal(s2, SF_OK);
      assert_non_null(strstr(sf_last_error(), "no finite threshold fits"));
    }
    sf_snn_model_free(m);
    sf_graph_free(g);
  }
  sf_dataset_free(&calib);
}

/* .sfm integrity: a flipped byte or a truncated file is refused with a clear message */
static void sfm_integrity(void **st) {
  (void)st;
  char sfm[256], *buf;
  size_t n;
  sf_graph *g;
  sf_snn_model *m2, *m = mlp_sfm_file(64, "integrity", sfm, sizeof sfm, &g, &buf, &n);
  size_t where[3] = {100, n / 2, n - 80};
  for (int k = 0; k < 3; k++) {
    buf[where[k]] ^= 0x10;
    assert_int_equal(sf_write_file_atomic(sfm, buf, n), SF_OK);
    sf_status s2 = sf_snn_model_load(sfm, &m2);
    printf("  flipped byte %zu: %s\n", where[k], sf_last_error());
    assert_int_not_equal(s2, SF_OK);
    assert_true(strstr(sf_last_error(), "checksum") || strstr(sf_last_error(), "SHA-256") || strstr(sf_last_error(), "section"));
    buf[where[k]] ^= 0x10;
  }
  assert_int_equal(sf_write_file_atomic(sfm, buf, n / 3), SF_OK);
  assert_int_not_equal(sf_snn_model_load(sfm, &m2), SF_OK);
  printf("  truncated: %s\n", sf_last_error());
  assert_int_equal(sf_write_file_atomic(sfm, buf, n), SF_OK);
  assert_int_equal(sf_snn_model_load(sfm, &m2), SF_OK);
  assert_int_equal(sf_snn_model_num_sites(m2), sf_snn_model_num_sites(m));
  assert_string_equal(sf_snn_model_source_sha256(m2), sf_snn_model_source_sha256(m));
  sf_snn_model_free(m2);
  unlink(sfm);
  free(buf);
  sf_snn_model_free(m);
  sf_graph_free(g);
}

/* a node with no spiking form fails the conversion with its name and the reason: here the cast of
 * activations to indices (the first node without one; the op table says a Cast to a non-float type
 * has no spiking form, and the Gather it feeds would be next) */
static void unconvertible_node_named(void **st) {
  (void)st;
  char path[1024];
  TU_PATH(path, "tests/data/unconvertible.onnx");
  sf_graph *g;
  assert_int_equal(sf_graph_load(path, &g), SF_OK);
  sf_dataset calib = {0};
  float xs[8 * 4];
  for (int i = 0; i < 32; i++) xs[i] = (float)(i % 7) * 0.1f;
  calib.n = 8; calib.c = 1; calib.h = 1; calib.w = 4;
  calib.x = malloc(sizeof xs);
  memcpy(calib.x, xs, sizeof xs);
  calib.labels = calloc(8, sizeof(int32_t));
  sf_convert_options o;
  sf_convert_options_default(&o);
  sf_snn_model *m;
  assert_int_equal(sf_convert(g, &calib, &o, &m), SF_ERR_UNSUPPORTED);
  printf("  %s\n", sf_last_error());
  assert_non_null(strstr(sf_last_error(), "node 'to_index' (Cast) cannot be converted"));
  assert_non_null(strstr(sf_last_error(), "no spiking form"));
  sf_dataset_free(&calib);
  sf_graph_free(g);
}

/* An allocation that fails while the converter sets a neuron's attributes (signed, axis, levels,
 * leak...) must fail the conversion with "out of memory"; the setters once returned nothing and the
 * model came out with attributes missing (K = 1, a signed neuron where an unsigned one belongs). */
static void attribute_oom(void **st) {
  (void)st;
  char path[1024];
  TU_PATH(path, "models/mlp/model.onnx");
  sf_graph *g;
  assert_int_equal(sf_graph_load(path, &g), SF_OK);
  sf_dataset calib = {0};
  calib.n = 16; calib.c = 1; calib.h = 28; calib.w = 28;
  calib.x = calloc(16 * 784, sizeof(float));
  calib.labels = calloc(16, sizeof(int32_t));
  for (int i = 0; i < 16 * 784; i++) calib.x[i] = (float)(i % 13) / 13.0f;
  sf_convert_options o;
  sf_convert_options_default(&o);
  o.calib_samples = 16;
  int failed = 0, k;
  for (k = 1; k < 200; k++) {
    sf_fault_fail_after(k);
    sf_snn_model *m = NULL;
    sf_status s = sf_convert(g, &calib, &o, &m);
    sf_fault_fail_after(0);
    if (s == SF_OK) {
      sf_snn_model_free(m);
      break; /* k is past the conversion's attribute allocations */
    }
    if (s != SF_ERR_NOMEM || !strstr(sf_last_error(), "out of memory")) fail_msg("allocation %d failed: %s (%s)", k, sf_status_name(s), sf_last_error());
    failed++;
  }
  printf("  %d attribute allocations of a conversion failed in turn: each gave SF_ERR_NOMEM\n", failed);
  assert_true(failed > 0 && k < 200);
  sf_dataset_free(&calib);
  sf_graph_free(g);
}

/* dynamic batching: full batches run at once, a partial one when its oldest sample has waited
 * the latency bound; every sample gets the prediction it gets when run alone */
typedef struct { int64_t n; int pred[64]; } batch_results;
static void on_done(int64_t ticket, const float *o, int64_t n, void *u) {
  batch_results *r = u;
  int best = 0;
  for (int k = 1; k < n; k++) if (o[k] > o[best]) best = k;
  r->pred[ticket] = best;
  r->n++;
}

static void dynamic_batching(void **st) {
  (void)st;
  char path[1024];
  TU_PATH(path, "models/mlp/model.onnx");
  sf_graph *g;
  assert_int_equal(sf_graph_load(path, &g), SF_OK);
  sf_dataset calib, test;
  assert_int_equal(sf_dataset_load(SF_DEFAULT_DATA_DIR, SF_SPLIT_TRAIN, 64, &calib), SF_OK);
  assert_int_equal(sf_dataset_load(SF_DEFAULT_DATA_DIR, SF_SPLIT_TEST, 10, &test), SF_OK);
  sf_convert_options o;
  sf_convert_options_default(&o);
  o.calib_samples = 64;
  sf_snn_model *m;
  assert_int_equal(sf_convert(g, &calib, &o, &m), SF_OK);
  const sf_backend *be;
  sf_compiled *c;
  assert_int_equal(sf_backend_find("cpu", &be), SF_OK);
  assert_int_equal(sf_backend_compile(be, m, NULL, &c), SF_OK);
  sf_tensor desc = sf_dataset_batch(&test, 0, 1);
  batch_results r = {0};
  sf_batcher *b;
  assert_int_equal(sf_batcher_create(c, &desc, 4, 0.010, 8, on_done, &r, &b), SF_OK);
  int64_t nb, ns;
  for (int i = 0; i < 10; i++) assert_int_equal(sf_batcher_submit(b, test.x + i * 784, 0.001 * i, NULL), SF_OK);
  sf_batcher_stats(b, &nb, &ns);
  assert_int_equal(nb, 2); /* two full batches of 4 */
  assert_int_equal(sf_batcher_poll(b, 0.0095), SF_OK); /* the oldest pending arrived at 0.008: not yet */
  sf_batcher_stats(b, &nb, &ns);
  assert_int_equal(nb, 2);
  assert_int_equal(sf_batcher_poll(b, 0.0185), SF_OK); /* waited 10.5 ms: runs */
  sf_batcher_stats(b, &nb, &ns);
  assert_int_equal(nb, 3);
  assert_int_equal(ns, 10);
  assert_int_equal(r.n, 10);
  /* the same predictions one sample at a time */
  sf_deployed *d;
  assert_int_equal(sf_backend_deploy(c, 1, &d), SF_OK);
  for (int i = 0; i < 10; i++) {
    batch_results one = {0};
    sf_batcher *b1;
    assert_int_equal(sf_batcher_create(c, &desc, 1, 0, 8, on_done, &one, &b1), SF_OK);
    assert_int_equal(sf_batcher_submit(b1, test.x + i * 784, 0, NULL), SF_OK);
    assert_int_equal(one.pred[0], r.pred[i]);
    sf_batcher_free(b1);
  }
  printf("  10 samples, max batch 4, latency 10 ms: 3 batches, predictions equal to single-sample runs\n");
  sf_deployed_free(d);
  sf_batcher_free(b);
  sf_compiled_free(c);
  sf_snn_model_free(m);
  sf_dataset_free(&calib);
  sf_dataset_free(&test);
  sf_graph_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(neuron_rounding), cmocka_unit_test(reset_zero_neuron), cmocka_unit_test(softmax_ec),     cmocka_unit_test(gelu_ec),
    cmocka_unit_test(layernorm_ec),    cmocka_unit_test(linear_ac),      cmocka_unit_test(product_streams),
    cmocka_unit_test(residual_add),    cmocka_unit_test(burst_levels),   cmocka_unit_test(binary_burst_counts),   cmocka_unit_test(sfm_integrity), cmocka_unit_test(sfm_crafted), cmocka_unit_test(extreme_weights),
    cmocka_unit_test(unconvertible_node_named), cmocka_unit_test(attribute_oom), cmocka_unit_test(mlp_snn), cmocka_unit_test(cnn_snn),
    cmocka_unit_test(vit_snn),         cmocka_unit_test(dynamic_batching), cmocka_unit_test(q8_kernels), cmocka_unit_test(q8_neuron_block),
    cmocka_unit_test(q8_row_kernels),  cmocka_unit_test(ec_rows_fused),
    cmocka_unit_test(chain_odd_widths), cmocka_unit_test(pruned_synapses_counted), cmocka_unit_test(delta_coding), cmocka_unit_test(constant_output_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

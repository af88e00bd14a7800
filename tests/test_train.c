/* The trainer against independent references:
 *  - gradients: every case of tests/data/train (PyTorch autograd in double, models/make_train_fixtures.py:
 *    IF, LIF, burst neurons; each surrogate; reset detached and attached) -> loss, logits, dW, db,
 *    dtheta of the C forward/backward, on the spike-by-spike and the dense paths;
 *  - finite differences: the readout layer's weights and biases (the loss is smooth in them: the spikes
 *    do not move) in double-checked central differences;
 *  - the optimizers: three steps of PyTorch's AdamW and SGD;
 *  - training end to end: the shipped MLP fine-tuned (hybrid) and trained from random weights (direct)
 *    on a slice of Fashion-MNIST, the trained model saved as .sfm, loaded and evaluated by the
 *    runtime: the same accuracy as the trainer's own evaluation.
 * Tolerances: the reference is double, the C side float32. A gradient is a sum over B T terms of
 * products of O(1) factors, so its float error is a few ulp of its largest partial sums:
 * |c - ref| <= 1e-4 max(|ref|_inf, 1e-2) per tensor (the spikes themselves are exact: no input lies
 * within 1e-4 of a threshold in these fixtures; the test reports it if one does). */
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "train/optimizer.h"
#include "train/prune.h"
#include "train/qcfs.h"
#include "train/snn_net.h"
#include "test_util.h"

#define GRAD_RTOL 1e-4

static sf_tensor load(const char *name) {
  char p[1024];
  snprintf(p, sizeof p, "%s/tests/data/train/%s.npy", SF_SOURCE_DIR, name);
  sf_tensor t;
  if (sf_npy_read(p, &t)) fail_msg("%s: %s", p, sf_last_error());
  return t;
}

static sf_tensor load_case(const char *c, const char *what) {
  char n[256];
  snprintf(n, sizeof n, "case_%s_%s", c, what);
  return load(n);
}

/* max |got - ref| / max(|ref|_inf, 1e-2); got [rows, cols] in net layout; transpose: ref is [cols, rows] */
static double rel_err(const float *got, const sf_tensor *ref, int64_t rows, int64_t cols, int transpose) {
  double m = 0, scale = 1e-2;
  for (int64_t i = 0; i < rows * cols; i++) scale = fmax(scale, fabs(((const float *)ref->data)[i]));
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) {
      const double want = ((const float *)ref->data)[transpose ? c * rows + r : r * cols + c];
      m = fmax(m, fabs((double)got[r * cols + c] - want));
    }
  return m / scale;
}

typedef struct {
  const char *name;
  double beta;
  int levels, T, detach;
  sf_surrogate sg;
  float slope;
  double loss, rate_penalty;
} fixture_case;

static int read_cases(fixture_case *cases, int max, int64_t *sizes, int *B) {
  char p[1024];
  snprintf(p, sizeof p, "%s/tests/data/train/cases.json", SF_SOURCE_DIR);
  char *text;
  size_t n;
  assert_int_equal(sf_read_file(p, &text, &n), SF_OK);
  cJSON *j = cJSON_Parse(text);
  free(text);
  assert_non_null(j);
  cJSON *sz = cJSON_GetObjectItem(j, "sizes"), *cs = cJSON_GetObjectItem(j, "cases");
  assert_int_equal(cJSON_GetArraySize(sz), 4);
  for (int i = 0; i < 4; i++) sizes[i] = (int64_t)cJSON_GetArrayItem(sz, i)->valuedouble;
  *B = cJSON_GetObjectItem(j, "batch")->valueint;
  int k = 0;
  for (cJSON *c = cs->child; c && k < max; c = c->next, k++) {
    static char names[16][64];
    snprintf(names[k], sizeof names[k], "%s", cJSON_GetObjectItem(c, "name")->valuestring);
    cases[k].name = names[k];
    cases[k].beta = cJSON_GetObjectItem(c, "beta")->valuedouble;
    cases[k].levels = cJSON_GetObjectItem(c, "levels")->valueint;
    cases[k].T = cJSON_GetObjectItem(c, "timesteps")->valueint;
    cases[k].detach = cJSON_IsTrue(cJSON_GetObjectItem(c, "detach_reset"));
    assert_int_equal(sf_surrogate_parse(cJSON_GetObjectItem(c, "surrogate")->valuestring, &cases[k].sg), 0);
    cases[k].slope = (float)cJSON_GetObjectItem(c, "slope")->valuedouble;
    cases[k].loss = cJSON_GetObjectItem(c, "loss")->valuedouble;
    const cJSON *rp = cJSON_GetObjectItem(c, "rate_penalty");
    cases[k].rate_penalty = rp ? rp->valuedouble : 0.0;
  }
  cJSON_Delete(j);
  return k;
}

/* a net holding case c's weights and thresholds */
static void net_from_case(snn_net *net, const fixture_case *c, const int64_t *sizes) {
  assert_int_equal(snn_net_init(net, 3, sizes), SF_OK);
  for (int l = 0; l < 3; l++) {
    char w[8], b[8];
    snprintf(w, sizeof w, "w%d", l + 1);
    snprintf(b, sizeof b, "b%d", l + 1);
    sf_tensor tw = load_case(c->name, w), tb = load_case(c->name, b);
    const int64_t in = sizes[l], out = sizes[l + 1];
    for (int64_t i = 0; i < in; i++)
      for (int64_t o = 0; o < out; o++) net->W[l][i * out + o] = ((float *)tw.data)[o * in + i];
    memcpy(net->b[l], tb.data, sizeof(float) * (size_t)out);
    sf_tensor_free(&tw);
    sf_tensor_free(&tb);
  }
  for (int l = 1; l < 3; l++) {
    char th[16];
    snprintf(th, sizeof th, "theta%d", l);
    sf_tensor t = load_case(c->name, th);
    memcpy(net->theta[l], t.data, sizeof(float) * (size_t)sizes[l]);
    sf_tensor_free(&t);
  }
  net->K = c->levels;
  net->beta = (float)c->beta;
  net->surrogate = c->sg;
  net->slope = c->slope;
  net->detach_reset = c->detach;
  net->rate_penalty = (float)c->rate_penalty;
}

/* the smallest |u - j theta| / theta over the forward: how close a spike decision came to a tie */
static double closest_tie(const snn_net *net) {
  double m = INFINITY;
  for (int l = 1; l < net->L; l++)
    for (int64_t e = 0; e < (int64_t)net->T * net->B * net->n[l]; e++) {
      const int64_t h = e % net->n[l];
      for (int j = 1; j <= net->K; j++) m = fmin(m, fabs(net->u[l][e] - (double)j * net->theta[l][h]) / net->theta[l][h]);
    }
  return m;
}

/* the largest relative errors of the net's dW, db and dtheta against case `name`'s PyTorch gradients */
static void case_grad_errors(const snn_net *net, const char *name, const int64_t *sizes, double *ew, double *eb, double *et) {
  *ew = *eb = *et = 0;
  for (int l = 0; l < 3; l++) {
    char w[8], b[8];
    snprintf(w, sizeof w, "dw%d", l + 1);
    snprintf(b, sizeof b, "db%d", l + 1);
    sf_tensor tw = load_case(name, w), tb = load_case(name, b);
    *ew = fmax(*ew, rel_err(net->dW[l], &tw, sizes[l], sizes[l + 1], 1));
    *eb = fmax(*eb, rel_err(net->db[l], &tb, 1, sizes[l + 1], 0));
    sf_tensor_free(&tw);
    sf_tensor_free(&tb);
  }
  for (int l = 1; l < 3; l++) {
    char th[16];
    snprintf(th, sizeof th, "dtheta%d", l);
    sf_tensor t = load_case(name, th);
    *et = fmax(*et, rel_err(net->dtheta[l], &t, 1, sizes[l], 0));
    sf_tensor_free(&t);
  }
}

static void gradients_vs_pytorch(void **state) {
  (void)state;
  fixture_case cases[16];
  int64_t sizes[4];
  int B;
  const int n = read_cases(cases, 16, sizes, &B);
  assert_true(n >= 8);
  printf("  %-14s %-6s %-11s %10s %10s %10s %10s %10s\n", "case", "path", "isa", "loss", "dW", "db", "dtheta", "tie");
  for (int ci = 0; ci < n; ci++)
    for (int path = 0; path < 2; path++)
      for (int isa = SF_ISA_C; isa <= (int)sf_cpu_isa_max(); isa++) {
      assert_int_equal(sf_cpu_force_isa((sf_isa)isa), SF_OK);
      const fixture_case *c = &cases[ci];
      snn_net net;
      net_from_case(&net, c, sizes);
      net.sparse_max = path ? 2.0f : -1.0f; /* 0: dense (sgemm) always; 1: spike by spike always */
      sf_tensor x = load_case(c->name, "x"), y = load_case(c->name, "y"), logits = load_case(c->name, "logits");
      int32_t labels[64];
      for (int b = 0; b < B; b++) labels[b] = (int32_t)((int64_t *)y.data)[b];
      assert_int_equal(snn_net_forward(&net, x.data, B, c->T), SF_OK);
      const double tie = closest_tie(&net);
      assert_true(tie > 1e-4);
      float dlogits[64 * 16];
      const double loss = snn_cross_entropy(net.logits, labels, B, sizes[3], dlogits, NULL) + snn_net_rate_loss(&net);
      snn_net_zero_grad(&net);
      assert_int_equal(snn_net_backward(&net, dlogits, 1), SF_OK);
      double ew, eb, et;
      case_grad_errors(&net, c->name, sizes, &ew, &eb, &et);
      const double el = fabs(loss - c->loss) / fabs(c->loss), elog = rel_err(net.logits, &logits, B, sizes[3], 0);
      printf("  %-14s %-6s %-11s %10.2e %10.2e %10.2e %10.2e %10.2e\n", c->name, path ? "sparse" : "dense", sf_isa_name((sf_isa)isa), el, ew, eb, et, tie);
      assert_true(el < 1e-5);
      assert_true(elog < 1e-5);
      assert_true(ew < GRAD_RTOL);
      assert_true(eb < GRAD_RTOL);
      assert_true(et < GRAD_RTOL);
      sf_tensor_free(&x);
      sf_tensor_free(&y);
      sf_tensor_free(&logits);
      snn_net_free(&net);
    }
  assert_int_equal(sf_cpu_force_isa(sf_cpu_isa_max()), SF_OK);
}

/* loss in double for finite differences, from the net's forward */
static double loss_of(snn_net *net, const float *x, const int32_t *labels, int B, int T) {
  assert_int_equal(snn_net_forward(net, x, B, T), SF_OK);
  return snn_cross_entropy(net->logits, labels, B, net->n[net->L], NULL, NULL);
}

static void readout_finite_differences(void **state) {
  (void)state;
  fixture_case cases[16];
  int64_t sizes[4];
  int B;
  read_cases(cases, 16, sizes, &B);
  const fixture_case *c = &cases[1]; /* LIF */
  snn_net net;
  net_from_case(&net, c, sizes);
  sf_tensor x = load_case(c->name, "x"), y = load_case(c->name, "y");
  int32_t labels[64];
  for (int b = 0; b < B; b++) labels[b] = (int32_t)((int64_t *)y.data)[b];
  float dlogits[64 * 16];
  assert_int_equal(snn_net_forward(&net, x.data, B, c->T), SF_OK);
  snn_cross_entropy(net.logits, labels, B, sizes[3], dlogits, NULL);
  snn_net_zero_grad(&net);
  assert_int_equal(snn_net_backward(&net, dlogits, 0), SF_OK);
  /* central differences, h = 1e-2: the loss is smooth (softmax of a linear map) in the readout; its
   * third derivative is O(1), so the truncation error is O(h^2) = 1e-4, float rounding 1e-7 / h = 1e-5 */
  const float h = 1e-2f;
  double worst = 0;
  for (int64_t e = 0; e < sizes[2] * sizes[3] + sizes[3]; e++) {
    float *p = e < sizes[2] * sizes[3] ? &net.W[2][e] : &net.b[2][e - sizes[2] * sizes[3]];
    const float g = e < sizes[2] * sizes[3] ? net.dW[2][e] : net.db[2][e - sizes[2] * sizes[3]];
    const float keep = *p;
    *p = keep + h;
    const double lp = loss_of(&net, x.data, labels, B, c->T);
    *p = keep - h;
    const double lm = loss_of(&net, x.data, labels, B, c->T);
    *p = keep;
    worst = fmax(worst, fabs((lp - lm) / (2 * h) - g));
  }
  printf("  readout: max |finite difference - backward| = %.2e over %lld parameters\n", worst, (long long)(sizes[2] * sizes[3] + sizes[3]));
  assert_true(worst < 5e-4);
  sf_tensor_free(&x);
  sf_tensor_free(&y);
  snn_net_free(&net);
}

static void optimizers_vs_pytorch(void **state) {
  (void)state;
  sf_tensor p0 = load("optim_p0"), gs = load("optim_grads");
  const char *names[2] = {"adamw", "sgd"};
  for (int k = 0; k < 2; k++) {
    float p[6], g[6];
    memcpy(p, p0.data, sizeof p);
    optim o;
    if (k == 0) optim_init(&o, SF_OPTIM_ADAMW, 0.01, 0.1, 0);
    else optim_init(&o, SF_OPTIM_SGD, 0.05, 0.01, 0.9);
    assert_int_equal(optim_add(&o, p, g, 6, 1, -INFINITY), SF_OK);
    for (int s = 0; s < 3; s++) {
      memcpy(g, (float *)gs.data + 6 * s, sizeof g);
      optim_step(&o, k == 0 ? 0.01 : 0.05);
    }
    char n[32];
    snprintf(n, sizeof n, "optim_%s_p3", names[k]);
    sf_tensor want = load(n);
    const double e = rel_err(p, &want, 1, 6, 0);
    printf("  %s: 3 steps, max relative difference to PyTorch %.2e\n", names[k], e);
    assert_true(e < 1e-6);
    sf_tensor_free(&want);
    optim_free(&o);
  }
  sf_tensor_free(&p0);
  sf_tensor_free(&gs);
  /* the schedule: warm-up to lr, cosine to 0 */
  assert_float_equal(optim_lr_at(SF_SCHEDULE_COSINE, 1.0, 0, 100, 10), 0.1, 1e-12);
  assert_float_equal(optim_lr_at(SF_SCHEDULE_COSINE, 1.0, 9, 100, 10), 1.0, 1e-12);
  assert_float_equal(optim_lr_at(SF_SCHEDULE_COSINE, 1.0, 10, 100, 10), 1.0, 1e-12);
  assert_float_equal(optim_lr_at(SF_SCHEDULE_COSINE, 1.0, 55, 100, 10), 0.5, 1e-12);
  assert_float_equal(optim_lr_at(SF_SCHEDULE_CONSTANT, 1.0, 55, 100, 10), 1.0, 1e-12);
}

/* qcfs: the ANN with QCFS activations (6 levels; clip levels = case if_fast's thresholds) against
 * PyTorch autograd with the floor passed straight through: loss, logits, every gradient (no
 * pre-activation lies within 0.027 of a floor step in this fixture). And the reason for the mode: an
 * IF neuron fed a constant current z for T = L steps from theta / 2 fires exactly the QCFS level,
 * T clip(floor(z T / theta + 1/2) / T, 0, 1) times: the first layer's spike counts equal it. */
static void qcfs_vs_pytorch(void **state) {
  (void)state;
  fixture_case cases[16];
  int64_t sizes[4];
  int B;
  read_cases(cases, 16, sizes, &B);
  assert_string_equal(cases[0].name, "if_fast");
  snn_net net;
  net_from_case(&net, &cases[0], sizes);
  sf_tensor x = load_case("if_fast", "x"), y = load_case("if_fast", "y"), loss = load("qcfs_loss"), logits = load("qcfs_logits");
  int32_t labels[64];
  for (int b = 0; b < B; b++) labels[b] = (int32_t)((int64_t *)y.data)[b];
  const int Lq = 6;
  qcfs_ann a;
  memset(&a, 0, sizeof a);
  assert_int_equal(qcfs_forward(&a, &net, x.data, B, Lq), SF_OK);
  float dlogits[64 * 16];
  const double l = snn_cross_entropy(a.z[3], labels, B, sizes[3], dlogits, NULL);
  snn_net_zero_grad(&net);
  qcfs_backward(&a, &net, x.data, dlogits, 1);
  double ew = 0, eb = 0, et = 0;
  for (int k = 0; k < 3; k++) {
    char w[16], b[16];
    snprintf(w, sizeof w, "qcfs_dw%d", k + 1);
    snprintf(b, sizeof b, "qcfs_db%d", k + 1);
    sf_tensor tw = load(w), tb = load(b);
    ew = fmax(ew, rel_err(net.dW[k], &tw, sizes[k], sizes[k + 1], 1));
    eb = fmax(eb, rel_err(net.db[k], &tb, 1, sizes[k + 1], 0));
    sf_tensor_free(&tw);
    sf_tensor_free(&tb);
  }
  for (int k = 1; k < 3; k++) {
    char th[16];
    snprintf(th, sizeof th, "qcfs_dtheta%d", k);
    sf_tensor t = load(th);
    et = fmax(et, rel_err(net.dtheta[k], &t, 1, sizes[k], 0));
    sf_tensor_free(&t);
  }
  const double el = fabs(l - ((float *)loss.data)[0]) / fabs(((float *)loss.data)[0]), elog = rel_err(a.z[3], &logits, B, sizes[3], 0);
  printf("  qcfs: loss %.2e, logits %.2e, dW %.2e, db %.2e, dlambda %.2e (relative to PyTorch)\n", el, elog, ew, eb, et);
  assert_true(el < 1e-5 && elog < 1e-5 && ew < GRAD_RTOL && eb < GRAD_RTOL && et < GRAD_RTOL);
  /* the first layer: spike counts over T = 6 steps = the QCFS levels */
  assert_int_equal(snn_net_forward(&net, x.data, B, Lq), SF_OK);
  int64_t differ = 0;
  for (int b = 0; b < B; b++)
    for (int64_t j = 0; j < sizes[1]; j++) {
      int count = 0;
      for (int t = 0; t < Lq; t++) count += net.k[1][((int64_t)t * B + b) * sizes[1] + j];
      const float h = a.h[1][b * sizes[1] + j], lam = net.theta[1][j];
      differ += count != (int)lrintf(h / lam * (float)Lq);
    }
  printf("  qcfs: first-layer spike counts over %d steps = the QCFS levels for all %lld neurons\n", Lq, (long long)(B * sizes[1]));
  assert_int_equal(differ, 0);
  qcfs_free(&a);
  snn_net_free(&net);
  sf_tensor_free(&x);
  sf_tensor_free(&y);
  sf_tensor_free(&loss);
  sf_tensor_free(&logits);
}

/* gradient checkpointing over time: segments of 1, 2 and 3 steps recomputed in the backward give
 * PyTorch's gradients as the whole record does (the same tolerance), on both paths; and the state
 * stops growing with T: the 784-512-256-10 MLP, batch 128, T = 32 in segments of 4 takes at most
 * 1.5x the bytes of T = 4 */
static void recompute_over_time(void **state) {
  (void)state;
  fixture_case cases[16];
  int64_t sizes[4];
  int B;
  const int n = read_cases(cases, 16, sizes, &B);
  double worst = 0;
  for (int ci = 0; ci < n; ci++)
    for (int path = 0; path < 2; path++)
      for (int rc = 1; rc <= 3; rc++) {
        const fixture_case *c = &cases[ci];
        snn_net net;
        net_from_case(&net, c, sizes);
        net.sparse_max = path ? 2.0f : -1.0f;
        net.recompute = rc;
        sf_tensor x = load_case(c->name, "x"), y = load_case(c->name, "y");
        int32_t labels[64];
        for (int b = 0; b < B; b++) labels[b] = (int32_t)((int64_t *)y.data)[b];
        assert_int_equal(snn_net_forward(&net, x.data, B, c->T), SF_OK);
        float dlogits[64 * 16];
        const double loss = snn_cross_entropy(net.logits, labels, B, sizes[3], dlogits, NULL) + snn_net_rate_loss(&net);
        assert_true(fabs(loss - c->loss) / fabs(c->loss) < 1e-5);
        snn_net_zero_grad(&net);
        assert_int_equal(snn_net_backward(&net, dlogits, 1), SF_OK);
        double ew, eb, et;
        case_grad_errors(&net, c->name, sizes, &ew, &eb, &et);
        worst = fmax(worst, fmax(ew, fmax(eb, et)));
        sf_tensor_free(&x);
        sf_tensor_free(&y);
        snn_net_free(&net);
      }
  printf("  recompute in segments of 1, 2, 3 steps: largest gradient error against PyTorch %.2e\n", worst);
  assert_true(worst < GRAD_RTOL);
  /* memory */
  const int64_t mlp[4] = {784, 512, 256, 10};
  const int64_t Bm = 128;
  float *xm = calloc((size_t)(Bm * 784), sizeof(float));
  for (int64_t i = 0; i < Bm * 784; i++) xm[i] = (float)(i % 7) / 7.0f;
  int64_t bytes[3];
  const int Ts[3] = {4, 32, 32}, rcs[3] = {0, 0, 4};
  for (int k = 0; k < 3; k++) {
    snn_net net;
    assert_int_equal(snn_net_init(&net, 3, mlp), SF_OK);
    snn_net_init_random(&net, 1);
    net.recompute = rcs[k];
    assert_int_equal(snn_net_forward(&net, xm, Bm, Ts[k]), SF_OK);
    float dl[128 * 10] = {0};
    dl[3] = 1.0f;
    assert_int_equal(snn_net_backward(&net, dl, 1), SF_OK);
    bytes[k] = snn_net_state_bytes(&net);
    snn_net_free(&net);
  }
  free(xm);
  printf("  training state, batch 128: T=4 %.1f MB, T=32 %.1f MB, T=32 recomputed every 4 steps %.1f MB (%.2fx T=4)\n", bytes[0] / 1e6, bytes[1] / 1e6,
         bytes[2] / 1e6, (double)bytes[2] / (double)bytes[0]);
  assert_true((double)bytes[2] <= 1.5 * (double)bytes[0]);
}

/* distillation: the loss and its gradient in the student's logits against PyTorch's kl_div
 * (batchmean) in double, and against central differences of the C function itself */
static void distillation_vs_pytorch(void **state) {
  (void)state;
  sf_tensor z = load("kd_z"), t = load("kd_t"), loss = load("kd_loss"), dz = load("kd_dz");
  const int64_t B = z.shape[0], C = z.shape[1];
  const double alpha = 0.7, tau = 3.0; /* cases.json "distillation" */
  float *g = calloc((size_t)(B * C), sizeof(float));
  const double l = snn_distill_loss(z.data, t.data, B, C, tau, alpha, g);
  const double lerr = fabs(l - ((float *)loss.data)[0]) / fabs(((float *)loss.data)[0]);
  const double gerr = rel_err(g, &dz, B, C, 0);
  /* finite differences (float logits: h = 1e-2 keeps the rounding of the loss below 1e-6 of it) */
  double fd = 0, gmax = 0;
  float *zz = z.data;
  for (int64_t i = 0; i < B * C; i++) {
    const float keep = zz[i];
    zz[i] = keep + 1e-2f;
    const double up = snn_distill_loss(zz, t.data, B, C, tau, alpha, NULL);
    zz[i] = keep - 1e-2f;
    const double down = snn_distill_loss(zz, t.data, B, C, tau, alpha, NULL);
    zz[i] = keep;
    const double d = (up - down) / (double)((keep + 1e-2f) - (keep - 1e-2f));
    if (fabs(d - g[i]) > fd) fd = fabs(d - g[i]);
    if (fabs(g[i]) > gmax) gmax = fabs(g[i]);
  }
  printf("  distillation: loss rel err %.2e, gradient rel err %.2e (PyTorch), finite differences %.2e of max |g| %.3g\n", lerr, gerr, fd / gmax, gmax);
  assert_true(lerr <= 1e-5);
  assert_true(gerr <= 1e-5);
  assert_true(fd <= 1e-3 * gmax); /* central differences: O(h^2) curvature terms */
  free(g);
  sf_tensor_free(&z);
  sf_tensor_free(&t);
  sf_tensor_free(&loss);
  sf_tensor_free(&dz);
}

/* train on a slice, save, load, evaluate through the runtime: the same accuracy */
static void train_save_eval(sf_train_mode mode, const char *const *kv, double min_val) {
  char mp[1024];
  TU_PATH(mp, "models/mlp/model.onnx");
  sf_graph *g;
  assert_int_equal(sf_graph_load(mp, &g), SF_OK);
  sf_dataset d;
  assert_int_equal(sf_dataset_load(SF_DEFAULT_DATA_DIR, SF_SPLIT_TRAIN, 3000, &d), SF_OK);
  sf_train_options o;
  sf_train_options_default(&o);
  o.mode = mode;
  o.epochs = 1;
  o.val_images = 1000;
  o.convert.snn.timesteps = 4;
  o.convert.calib_samples = 256;
  char what[256] = "";
  for (int i = 0; kv && kv[i]; i += 2) {
    assert_int_equal(sf_train_options_set(&o, kv[i], kv[i + 1]), SF_OK);
    snprintf(what + strlen(what), sizeof what - strlen(what), " %s=%s", kv[i], kv[i + 1]);
  }
  sf_train_result *r;
  sf_status st = sf_train(g, "mlp", &d, &o, &r);
  if (st) fail_msg("%s", sf_last_error());
  assert_int_equal(r->n_epochs, 1);
  const double val = r->epochs[0].val_accuracy;
  printf("  %s%s: loss %.4f, train %.2f%%, validation %.2f%%, %.3f spikes per neuron per step\n", sf_train_mode_name(mode),
         what, r->epochs[0].train_loss, 100 * r->epochs[0].train_accuracy, 100 * val,
         r->epochs[0].spikes_per_neuron_per_step);
  assert_true(val >= min_val);
  if (o.prune > 0) { /* every layer pruned to floor(S n) zeros at least */
    printf("  sparsity %.4f (asked %.2f)\n", r->sparsity, o.prune);
    assert_true(r->sparsity >= o.prune - 1e-4 && r->sparsity < o.prune + 0.01);
  }
  char *js = sf_train_json(r);
  cJSON *j = cJSON_Parse(js);
  assert_non_null(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "epochs"), 0), "spikes_per_neuron_per_step"));
  cJSON_Delete(j);
  free(js);
  /* through a file, then the runtime on the validation images */
  char path[] = "/tmp/sf_train_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  sf_snn_model *m = sf_train_result_take_model(r);
  assert_int_equal(sf_snn_model_save(m, path), SF_OK);
  sf_snn_model_free(m);
  assert_int_equal(sf_snn_model_load(path, &m), SF_OK);
  unlink(path);
  sf_dataset v = d;
  v.x = d.x + (d.n - 1000) * 784;
  v.labels = d.labels + (d.n - 1000);
  v.n = 1000;
  sf_eval_options eo;
  sf_eval_options_default(&eo);
  eo.ann = 0;
  void *target = NULL;
  if (o.qat) { /* trained for the int8 runtime: evaluated there */
    const sf_backend *be;
    assert_int_equal(sf_backend_find("cpu", &be), SF_OK);
    assert_int_equal(sf_backend_target_new(be, &target), SF_OK);
    assert_int_equal(sf_backend_target_set(be, target, "quant", "int8"), SF_OK);
    eo.backend_options.target = target;
  }
  sf_eval_result *er;
  assert_int_equal(sf_eval_snn(m, "trained", &v, &eo, &er), SF_OK);
  free(target);
  assert_int_equal(er->timesteps, 4);
  const double acc = er->snn_accuracy_by_t[3];
  printf("  the saved model in the %s runtime: %.2f%% (trainer %.2f%%), %.3f spikes per neuron per step\n", o.qat ? "int8" : "float", 100 * acc, 100 * val,
         er->firing_rate);
  /* the same network and decisions; a membrane exactly at a threshold may round the other way in the
   * runtime's vector kernels: at most 2 of 1000 images */
  assert_true(fabs(acc - val) <= 0.002 + 1e-9);
  sf_eval_result_free(er);
  sf_snn_model_free(m);
  sf_train_result_free(r);
  sf_dataset_free(&d);
  sf_graph_free(g);
}

static void hybrid_mlp(void **state) {
  (void)state;
  train_save_eval(SF_TRAIN_HYBRID, NULL, 0.80);
}
static void direct_random_lif(void **state) {
  (void)state;
  /* one epoch of 2,000 images from random weights: far above chance (10%), not converged (about
   * 60%; compilers differ in the last bits, and so in the spikes) */
  const char *kv[] = {"init", "random", "neuron", "lif", "beta", "0.9", NULL};
  train_save_eval(SF_TRAIN_DIRECT, kv, 0.45);
}
static void direct_burst_atan(void **state) {
  (void)state;
  const char *kv[] = {"neuron", "burst", "burst_levels", "3", "surrogate", "atan", "train_thresholds", "true", NULL};
  train_save_eval(SF_TRAIN_DIRECT, kv, 0.60);
}

/* ---- checkpoints: a stopped and resumed run ends bit for bit where the run that was not stopped does */

typedef struct {
  volatile sig_atomic_t *stop;
  int64_t at; /* set the flag once this many images are done */
} stopper;
static void stop_at(const char *what, int64_t done, int64_t total, void *user) {
  (void)what;
  (void)total;
  stopper *s = user;
  if (done >= s->at) *s->stop = 1;
}

/* the bytes of the trained model as saved */
static char *trained_bytes(sf_train_result *r, size_t *n) {
  char path[] = "/tmp/sf_ck_model_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(sf_snn_model_save(r->result, path), SF_OK);
  char *b;
  assert_int_equal(sf_read_file(path, &b, n), SF_OK);
  unlink(path);
  return b;
}

static sf_status run_ck(sf_graph *g, const sf_dataset *d, const char *ck, const char *resume, int64_t stop_after, sf_train_result **r) {
  sf_train_options o;
  sf_train_options_default(&o);
  o.epochs = 2;
  o.batch = 100;
  o.val_images = 500;
  o.convert.snn.timesteps = 4;
  o.convert.calib_samples = 256;
  o.checkpoint = ck;
  o.resume = resume;
  volatile sig_atomic_t stop = 0;
  stopper s = {&stop, stop_after};
  if (stop_after > 0) {
    o.stop = &stop;
    o.progress = stop_at;
    o.progress_user = &s;
  }
  return sf_train(g, "mlp", d, &o, r);
}

static void checkpoint_resume(void **state) {
  (void)state;
  char mp[1024];
  TU_PATH(mp, "models/mlp/model.onnx");
  sf_graph *g;
  assert_int_equal(sf_graph_load(mp, &g), SF_OK);
  sf_dataset d;
  assert_int_equal(sf_dataset_load(SF_DEFAULT_DATA_DIR, SF_SPLIT_TRAIN, 2000, &d), SF_OK);
  char ck[] = "/tmp/sf_ck_XXXXXX";
  int fd = mkstemp(ck);
  assert_true(fd >= 0);
  close(fd);
  /* the run that is not stopped (15 steps per epoch) */
  sf_train_result *ref;
  assert_int_equal(run_ck(g, &d, NULL, NULL, 0, &ref), SF_OK);
  size_t nref;
  char *bref = trained_bytes(ref, &nref);
  /* stopped mid-epoch (epoch 1, step 7), at an epoch's end (15 steps: the epoch-end check), and in
   * the second epoch; each resumed to the end */
  const int64_t stops[] = {700, 1500, 2300};
  for (int k = 0; k < 3; k++) {
    sf_train_result *r = NULL;
    assert_int_equal(run_ck(g, &d, ck, NULL, stops[k], &r), SF_ERR_INTERRUPTED);
    printf("  stopped: %s\n", sf_last_error());
    assert_non_null(strstr(sf_last_error(), ck));
    assert_null(r);
    assert_int_equal(run_ck(g, &d, ck, ck, 0, &r), SF_OK);
    assert_int_equal(r->n_epochs, 2);
    for (int e = 0; e < 2; e++) {
      if (r->epochs[e].train_loss != ref->epochs[e].train_loss) fprintf(stderr, "  epoch %d: loss %.17g, reference %.17g\n", e + 1, r->epochs[e].train_loss, ref->epochs[e].train_loss);
      assert_true(r->epochs[e].train_loss == ref->epochs[e].train_loss);
      assert_true(r->epochs[e].train_accuracy == ref->epochs[e].train_accuracy);
      assert_true(r->epochs[e].val_accuracy == ref->epochs[e].val_accuracy);
    }
    size_t n;
    char *b = trained_bytes(r, &n);
    assert_int_equal(n, nref);
    assert_memory_equal(b, bref, n);
    free(b);
    sf_train_result_free(r);
  }
  printf("  resumed after a stop at images 700, 1500 and 2300: the trained model is byte-identical, loss %.6f\n", ref->epochs[1].train_loss);
  /* another run's checkpoint is refused, naming the setting */
  sf_train_options o;
  sf_train_options_default(&o);
  o.epochs = 2;
  o.batch = 100;
  o.val_images = 500;
  o.convert.snn.timesteps = 4;
  o.convert.calib_samples = 256;
  o.lr = 5e-4;
  o.resume = ck;
  sf_train_result *r = NULL;
  assert_int_equal(sf_train(g, "mlp", &d, &o, &r), SF_ERR_ARG);
  printf("  mismatched: %s\n", sf_last_error());
  assert_non_null(strstr(sf_last_error(), "lr"));
  /* a corrupt checkpoint: one byte flipped */
  char *b;
  size_t n;
  assert_int_equal(sf_read_file(ck, &b, &n), SF_OK);
  b[n / 2] ^= 0x10;
  assert_int_equal(sf_write_file_atomic(ck, b, n), SF_OK);
  assert_int_equal(run_ck(g, &d, NULL, ck, 0, &r), SF_ERR_FORMAT);
  printf("  corrupt: %s\n", sf_last_error());
  assert_non_null(strstr(sf_last_error(), "checksum"));
  /* truncated */
  assert_int_equal(sf_write_file_atomic(ck, b, n - 40), SF_OK);
  assert_int_equal(run_ck(g, &d, NULL, ck, 0, &r), SF_ERR_FORMAT);
  /* not a checkpoint */
  assert_int_equal(sf_write_file_atomic(ck, "hello", 5), SF_OK);
  assert_int_equal(run_ck(g, &d, NULL, ck, 0, &r), SF_ERR_FORMAT);
  assert_non_null(strstr(sf_last_error(), "not a SpikeFormer training checkpoint"));
  free(b);
  unlink(ck);
  free(bref);
  sf_train_result_free(ref);
  sf_dataset_free(&d);
  sf_graph_free(g);
}

static void qcfs_mlp(void **state) {
  (void)state;
  /* the ANN fine-tuned with QCFS activations, its clip levels the thresholds: the validation
   * accuracy is the spiking network's at T, and the saved model runs to it */
  train_save_eval(SF_TRAIN_QCFS, NULL, 0.80);
}

static void hybrid_qat_int8(void **state) {
  (void)state;
  /* the trainer's forward on the int8 runtime's weights, thresholds and input codes: the int8
   * runtime evaluates the saved model to the trainer's validation accuracy (the same 2-image bound:
   * the runtime's membranes start at floor(Th / 2) units, the trainer's at Th / 2) */
  const char *kv[] = {"qat", "int8", NULL};
  train_save_eval(SF_TRAIN_HYBRID, kv, 0.80);
}

static void hybrid_pruned(void **state) {
  (void)state;
  /* the schedule: Zhu & Gupta's cubic ramp to S at two thirds of the steps */
  snn_net net;
  const int64_t sizes[3] = {4, 3, 2};
  assert_int_equal(snn_net_init(&net, 2, sizes), SF_OK);
  pruner p;
  assert_int_equal(pruner_init(&p, &net, 0.8, 0, 300), SF_OK);
  assert_int_equal(p.end_step, 200);
  assert_float_equal(pruner_sparsity_at(&p, 0), 0.0, 1e-12);
  assert_float_equal(pruner_sparsity_at(&p, 100), 0.8 * (1 - 0.125), 1e-12);
  assert_float_equal(pruner_sparsity_at(&p, 200), 0.8, 1e-12);
  assert_float_equal(pruner_sparsity_at(&p, 250), 0.8, 1e-12);
  pruner_free(&p);
  snn_net_free(&net);
  /* pruned to half its weights in 20 steps: the saved model, zeros included, evaluates to the
   * trainer's accuracy (90% takes longer fine-tuning than a test affords: docs/RESULTS.md) */
  const char *kv[] = {"prune", "0.5", "lr", "1e-3", NULL};
  train_save_eval(SF_TRAIN_HYBRID, kv, 0.75);
}

static void refuses_bad_input(void **state) {
  (void)state;
  char mp[1024];
  sf_train_options o;
  sf_train_options_default(&o);
  /* options */
  assert_int_equal(sf_train_options_set(&o, "surrogate", "gaussian"), SF_ERR_ARG);
  assert_non_null(strstr(sf_last_error(), "fast_sigmoid"));
  assert_int_equal(sf_train_options_set(&o, "lr", "-1"), SF_ERR_ARG);
  assert_int_equal(sf_train_options_set(&o, "epochs", "0"), SF_ERR_ARG);
  assert_int_equal(sf_train_options_set(&o, "no_such", "1"), SF_ERR_ARG);
  assert_non_null(strstr(sf_last_error(), "no_such"));
  assert_int_equal(sf_train_options_set(&o, "beta", "0.9"), SF_OK);
  assert_float_equal(o.convert.snn.leak, 0.9, 1e-7);
  /* a model that is not a chain: the ViT, named at its first node without a backward */
  TU_PATH(mp, "models/vit/model.onnx");
  sf_graph *g;
  assert_int_equal(sf_graph_load(mp, &g), SF_OK);
  sf_dataset d;
  assert_int_equal(sf_dataset_load(SF_DEFAULT_DATA_DIR, SF_SPLIT_TRAIN, 64, &d), SF_OK);
  sf_train_options_default(&o);
  o.epochs = 1;
  o.val_images = 0;
  sf_train_result *r = NULL;
  assert_int_equal(sf_train(g, "vit", &d, &o, &r), SF_ERR_UNSUPPORTED);
  printf("  vit: %s\n", sf_last_error());
  assert_non_null(strstr(sf_last_error(), "cannot be trained"));
  assert_null(r);
  sf_graph_free(g);
  /* labels beyond the model's classes, named with the sample */
  TU_PATH(mp, "models/mlp/model.onnx");
  assert_int_equal(sf_graph_load(mp, &g), SF_OK);
  d.labels[17] = 12;
  assert_int_equal(sf_train(g, "mlp", &d, &o, &r), SF_ERR_VALUE);
  assert_non_null(strstr(sf_last_error(), "sample 17"));
  d.labels[17] = 1;
  /* a wrong sample shape */
  sf_dataset bad = d;
  bad.w = 27;
  assert_int_equal(sf_train(g, "mlp", &bad, &o, &r), SF_ERR_SHAPE);
  /* a diverging run stops with the step */
  o.lr = 1e6;
  o.warmup_steps = 0;
  o.batch = 8;
  o.mode = SF_TRAIN_DIRECT;
  o.schedule = SF_SCHEDULE_CONSTANT;
  o.epochs = 3;
  char ck[] = "/tmp/sf_ck_nan_XXXXXX";
  int fd = mkstemp(ck);
  assert_true(fd >= 0);
  close(fd);
  o.checkpoint = ck;
  assert_int_equal(sf_train(g, "mlp", &d, &o, &r), SF_ERR_VALUE);
  printf("  diverging: %s\n", sf_last_error());
  assert_non_null(strstr(sf_last_error(), "diverged"));
  assert_non_null(strstr(sf_last_error(), "epoch 2, step 2"));
  assert_non_null(strstr(sf_last_error(), ck)); /* the last good state: after epoch 1 */
  unlink(ck);
  o.checkpoint = NULL;
  /* a non-finite input, named with its sample */
  d.x[5 * 784 + 3] = NAN;
  assert_int_equal(sf_train(g, "mlp", &d, &o, &r), SF_ERR_VALUE);
  assert_non_null(strstr(sf_last_error(), "sample 5 "));
  sf_graph_free(g);
  sf_dataset_free(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(gradients_vs_pytorch), cmocka_unit_test(readout_finite_differences), cmocka_unit_test(optimizers_vs_pytorch),
      cmocka_unit_test(refuses_bad_input),    cmocka_unit_test(hybrid_mlp),                 cmocka_unit_test(direct_random_lif),
      cmocka_unit_test(direct_burst_atan),    cmocka_unit_test(checkpoint_resume),          cmocka_unit_test(distillation_vs_pytorch), cmocka_unit_test(hybrid_pruned), cmocka_unit_test(hybrid_qat_int8), cmocka_unit_test(qcfs_vs_pytorch), cmocka_unit_test(qcfs_mlp), cmocka_unit_test(recompute_over_time),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The transformer ops' forward / backward pairs (src/train/ann_ops.c) against PyTorch autograd in
 * double (tests/data/ann_ops from models/make_ann_op_fixtures.py): each op's output and the
 * gradients of sum(out * dout) for its inputs and parameters. The inputs are float32 values on both
 * sides; the C side computes in float32, so each result is a sum of a few dozen products of O(1)
 * factors: |c - ref| <= 1e-5 max(|ref|_inf, 1) per tensor (measured errors are printed). Every
 * backward adds to its gradients: run on buffers already holding 1, the gradient is 1 + ref. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spikeformer/tensor_io.h"
#include "spikeformer/npy.h"
#include "train/ann_ops.h"
#include "train/vit_net.h"

#define TOL 1e-5

static sf_tensor load(const char *op, const char *what) {
  char p[1024];
  snprintf(p, sizeof p, "%s/tests/data/ann_ops/%s_%s.npy", SF_SOURCE_DIR, op, what);
  sf_tensor t;
  if (sf_npy_read(p, &t)) fail_msg("%s", p);
  return t;
}

static float *f(sf_tensor *t) { return (float *)t->data; }

/* a gradient buffer of n ones (the backward must add to it) */
static float *ones(int64_t n) {
  float *g = malloc(sizeof(float) * (size_t)n);
  for (int64_t i = 0; i < n; i++) g[i] = 1.0f;
  return g;
}

/* max |got - ref| / max(|ref|_inf, 1); with plus_one, got holds 1 + the gradient */
static double err(const float *got, sf_tensor *ref, int plus_one) {
  const int64_t n = sf_tensor_numel(ref);
  double m = 0, scale = 1;
  for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(f(ref)[i]));
  for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)got[i] - (plus_one ? 1.0 : 0.0) - f(ref)[i]));
  return m / scale;
}

static double worst;
static void check(const char *op, const char *what, double e) {
  printf("  %-12s %-6s %.2e\n", op, what, e);
  if (e > worst) worst = e;
  assert_true(e <= TOL);
}

static void linear(void **state) {
  (void)state;
  sf_tensor x = load("linear", "x"), W = load("linear", "W"), b = load("linear", "b"), out = load("linear", "out"), dout = load("linear", "dout");
  sf_tensor dx = load("linear", "dx"), dW = load("linear", "dW"), db = load("linear", "db");
  const int64_t N = x.shape[0], C = x.shape[1], OC = W.shape[1];
  float *y = malloc(sizeof(float) * (size_t)(N * OC)), *gx = ones(N * C), *gW = ones(C * OC), *gb = ones(OC);
  ann_linear_forward(y, f(&x), f(&W), f(&b), N, C, OC);
  ann_linear_backward(gx, gW, gb, f(&dout), f(&x), f(&W), N, C, OC);
  check("linear", "out", err(y, &out, 0));
  check("linear", "dx", err(gx, &dx, 1));
  check("linear", "dW", err(gW, &dW, 1));
  check("linear", "db", err(gb, &db, 1));
  free(y); free(gx); free(gW); free(gb);
  sf_tensor *all[] = {&x, &W, &b, &out, &dout, &dx, &dW, &db};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) sf_tensor_free(all[i]);
}

static void layernorm(void **state) {
  (void)state;
  sf_tensor x = load("layernorm", "x"), w = load("layernorm", "w"), b = load("layernorm", "b"), out = load("layernorm", "out"), dout = load("layernorm", "dout");
  sf_tensor dx = load("layernorm", "dx"), dw = load("layernorm", "dw"), db = load("layernorm", "db");
  const int64_t N = x.shape[0], C = x.shape[1];
  float *y = malloc(sizeof(float) * (size_t)(N * C)), mean[64], rstd[64], *gx = ones(N * C), *gw = ones(C), *gb = ones(C);
  ann_layernorm_forward(y, mean, rstd, f(&x), f(&w), f(&b), N, C, 1e-5f);
  ann_layernorm_backward(gx, gw, gb, f(&dout), f(&x), f(&w), mean, rstd, N, C);
  check("layernorm", "out", err(y, &out, 0));
  check("layernorm", "dx", err(gx, &dx, 1));
  check("layernorm", "dw", err(gw, &dw, 1));
  check("layernorm", "db", err(gb, &db, 1));
  free(y); free(gx); free(gw); free(gb);
  sf_tensor *all[] = {&x, &w, &b, &out, &dout, &dx, &dw, &db};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) sf_tensor_free(all[i]);
}

/* elementwise ops and softmax: one input x */
static void unary(const char *op) {
  sf_tensor x = load(op, "x"), out = load(op, "out"), dout = load(op, "dout"), dx = load(op, "dx");
  const int64_t n = sf_tensor_numel(&x), N = x.shape[0], C = n / N;
  float *y = malloc(sizeof(float) * (size_t)n), *gx = ones(n);
  if (!strcmp(op, "gelu")) {
    ann_gelu_forward(y, f(&x), n);
    ann_gelu_backward(gx, f(&dout), f(&x), n);
  } else if (!strcmp(op, "gelu_tanh")) {
    ann_gelu_tanh_forward(y, f(&x), n);
    ann_gelu_tanh_backward(gx, f(&dout), f(&x), n);
  } else {
    ann_softmax_forward(y, f(&x), N, C);
    ann_softmax_backward(gx, f(&dout), y, N, C);
  }
  check(op, "out", err(y, &out, 0));
  check(op, "dx", err(gx, &dx, 1));
  free(y);
  free(gx);
  sf_tensor *all[] = {&x, &out, &dout, &dx};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) sf_tensor_free(all[i]);
}
static void gelu(void **state) { (void)state; unary("gelu"); }
static void gelu_tanh(void **state) { (void)state; unary("gelu_tanh"); }
static void softmax(void **state) { (void)state; unary("softmax"); }

static void attention(void **state) {
  (void)state;
  sf_tensor qkv = load("attention", "qkv"), out = load("attention", "out"), dout = load("attention", "dout"), dqkv = load("attention", "dqkv");
  const int64_t B = qkv.shape[0], S = qkv.shape[1], H = 3, D = qkv.shape[2] / (3 * H); /* (the fixture's heads) */
  float *y = malloc(sizeof(float) * (size_t)(B * S * H * D)), *att = malloc(sizeof(float) * (size_t)(B * H * S * S)), *g = ones(sf_tensor_numel(&qkv));
  float *datt = malloc(sizeof(float) * (size_t)(B * H * S * S));
  ann_attention_forward(y, att, f(&qkv), B, S, H, D);
  ann_attention_backward(g, f(&dout), f(&qkv), att, B, S, H, D, datt);
  check("attention", "out", err(y, &out, 0));
  check("attention", "dqkv", err(g, &dqkv, 1));
  free(y); free(att); free(g); free(datt);
  sf_tensor *all[] = {&qkv, &out, &dout, &dqkv};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) sf_tensor_free(all[i]);
}

static void residual(void **state) {
  (void)state;
  sf_tensor a = load("residual", "a"), b = load("residual", "b"), out = load("residual", "out"), dout = load("residual", "dout");
  sf_tensor da = load("residual", "da"), db = load("residual", "db");
  const int64_t n = sf_tensor_numel(&a);
  float *y = malloc(sizeof(float) * (size_t)n), *ga = ones(n), *gb = ones(n);
  ann_residual_forward(y, f(&a), f(&b), n);
  ann_residual_backward(ga, gb, f(&dout), n);
  check("residual", "out", err(y, &out, 0));
  check("residual", "da", err(ga, &da, 1));
  check("residual", "db", err(gb, &db, 1));
  free(y); free(ga); free(gb);
  sf_tensor *all[] = {&a, &b, &out, &dout, &da, &db};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) sf_tensor_free(all[i]);
}

static void patch_embed(void **state) {
  (void)state;
  sf_tensor img = load("patch_embed", "img"), W = load("patch_embed", "W"), bias = load("patch_embed", "bias"), cls = load("patch_embed", "cls"),
            pos = load("patch_embed", "pos"), out = load("patch_embed", "out"), dout = load("patch_embed", "dout"), dW = load("patch_embed", "dW"),
            dbias = load("patch_embed", "dbias"), dcls = load("patch_embed", "dcls"), dpos = load("patch_embed", "dpos");
  const int64_t B = img.shape[0], Cin = img.shape[1], Hh = img.shape[2], Ww = img.shape[3], E = W.shape[0], P = W.shape[2];
  const int64_t Np = (Hh / P) * (Ww / P), K = Cin * P * P, S = 1 + Np;
  float *y = malloc(sizeof(float) * (size_t)(B * S * E)), *patches = malloc(sizeof(float) * (size_t)(B * Np * K));
  float *gW = ones(E * K), *gb = ones(E), *gc = ones(E), *gp = ones(S * E);
  ann_patch_embed_forward(y, patches, f(&img), f(&W), f(&bias), f(&cls), f(&pos), B, Cin, Hh, Ww, P, E);
  ann_patch_embed_backward(gW, gb, gc, gp, f(&dout), patches, B, Np, K, E);
  check("patch_embed", "out", err(y, &out, 0));
  check("patch_embed", "dW", err(gW, &dW, 1));
  check("patch_embed", "dbias", err(gb, &dbias, 1));
  check("patch_embed", "dcls", err(gc, &dcls, 1));
  check("patch_embed", "dpos", err(gp, &dpos, 1));
  free(y); free(patches); free(gW); free(gb); free(gc); free(gp);
  sf_tensor *all[] = {&img, &W, &bias, &cls, &pos, &out, &dout, &dW, &dbias, &dcls, &dpos};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) sf_tensor_free(all[i]);
}

static void qcfs_signed(void **state) {
  (void)state;
  sf_tensor x = load("qcfs_signed", "x"), lam = load("qcfs_signed", "lam"), out = load("qcfs_signed", "out"), dout = load("qcfs_signed", "dout");
  sf_tensor dx = load("qcfs_signed", "dx"), dlam = load("qcfs_signed", "dlam");
  const int64_t N = x.shape[0], C = x.shape[1];
  float *y = malloc(sizeof(float) * (size_t)(N * C)), *gx = ones(N * C), *gl = ones(C);
  ann_qcfs_forward(y, f(&x), f(&lam), N, C, 3, 1);
  ann_qcfs_backward(gx, gl, f(&dout), f(&x), f(&lam), N, C, 3, 1);
  check("qcfs_signed", "out", err(y, &out, 0));
  check("qcfs_signed", "dx", err(gx, &dx, 1));
  check("qcfs_signed", "dlam", err(gl, &dlam, 1));
  free(y);
  free(gx);
  free(gl);
  sf_tensor *all[] = {&x, &lam, &out, &dout, &dx, &dlam};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) sf_tensor_free(all[i]);
}

static void pool(int mean) {
  const char *op = mean ? "pool_mean" : "pool_cls";
  sf_tensor x = load(op, "x"), out = load(op, "out"), dout = load(op, "dout"), dx = load(op, "dx");
  const int64_t B = x.shape[0], S = x.shape[1], E = x.shape[2];
  float *y = malloc(sizeof(float) * (size_t)(B * E)), *gx = ones(B * S * E);
  ann_pool_forward(y, f(&x), B, S, E, mean);
  ann_pool_backward(gx, f(&dout), B, S, E, mean);
  check(op, "out", err(y, &out, 0));
  check(op, "dx", err(gx, &dx, 1));
  free(y);
  free(gx);
  sf_tensor *all[] = {&x, &out, &dout, &dx};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) sf_tensor_free(all[i]);
}
static void pool_cls(void **state) { (void)state; pool(0); }
static void pool_mean(void **state) { (void)state; pool(1); }

/* finite differences of the scalar sum(out * dout) for the ops with a non-linear input path (LayerNorm,
 * GELU, softmax, attention): central differences in double of the C forward itself, h = 1e-2 */
static double objective(const char *op, const float *x, int64_t n, const float *dout, const float *p1, const float *p2) {
  float *y = malloc(sizeof(float) * (size_t)(n * 4)), mean[64], rstd[64];
  double s = 0;
  if (!strcmp(op, "layernorm")) {
    ann_layernorm_forward(y, mean, rstd, x, p1, p2, n / 10, 10, 1e-5f);
  } else if (!strcmp(op, "attention")) {
    float att[2 * 3 * 5 * 5];
    ann_attention_forward(y, att, x, 2, 5, 3, 4);
    n = 2 * 5 * 12;
  } else {
    ann_softmax_forward(y, x, n / 10, 10);
  }
  for (int64_t i = 0; i < n; i++) s += (double)y[i] * dout[i];
  free(y);
  return s;
}

static void finite_differences(void **state) {
  (void)state;
  const char *ops[] = {"layernorm", "softmax", "attention"};
  for (int k = 0; k < 3; k++) {
    const char *op = ops[k];
    const int att = !strcmp(op, "attention");
    sf_tensor x = load(op, att ? "qkv" : "x"), dout = load(op, "dout"), dx = load(op, att ? "dqkv" : "dx");
    sf_tensor w = {0}, b = {0};
    if (!strcmp(op, "layernorm")) { w = load(op, "w"); b = load(op, "b"); }
    const int64_t n = sf_tensor_numel(&x);
    double m = 0, scale = 1e-2;
    for (int64_t i = 0; i < n; i++) {
      float *xx = f(&x);
      const float keep = xx[i];
      xx[i] = keep + 1e-2f;
      const double up = objective(op, xx, n, f(&dout), w.data, b.data);
      xx[i] = keep - 1e-2f;
      const double down = objective(op, xx, n, f(&dout), w.data, b.data);
      xx[i] = keep;
      const double d = (up - down) / (double)((keep + 1e-2f) - (keep - 1e-2f));
      m = fmax(m, fabs(d - f(&dx)[i]));
      scale = fmax(scale, fabs(f(&dx)[i]));
    }
    printf("  %-12s finite differences: %.2e of max |grad|\n", op, m / scale);
    assert_true(m / scale <= 5e-3); /* O(h^2) curvature terms */
    sf_tensor_free(&x); sf_tensor_free(&dout); sf_tensor_free(&dx); sf_tensor_free(&w); sf_tensor_free(&b);
  }
}

/* The whole ViT assembled from the pairs (src/train/vit_net.c) on the shipped model: its logits on
 * the 4 sample images against the plain-PyTorch ViT (itself within 1.7e-06 of the transformers
 * library's), and the cross-entropy's gradient for every one of its parameters. Float32 through
 * 4 layers: tolerance 1e-4 of the largest gradient (measured: printed). */
static void vit_whole(void **state) {
  (void)state;
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/models/vit/hf", SF_SOURCE_DIR);
  vit_net v;
  if (vit_net_load_hf(&v, dir)) fail_msg("%s", sf_last_error());
  char p[1024];
  snprintf(p, sizeof p, "%s/models/vit/sample_input.npy", SF_SOURCE_DIR);
  sf_tensor img;
  assert_int_equal(sf_npy_read(p, &img), SF_OK);
  sf_tensor logits = load("vit", "logits"), loss = load("vit", "loss"), y = load("vit", "y"), grads = load("vit", "grads");
  const int64_t B = img.shape[0], C = v.classes;
  assert_int_equal(sf_tensor_numel(&grads), v.n_params);
  assert_int_equal(vit_net_forward(&v, img.data, B), SF_OK);
  const double el = err(v.logits, &logits, 0);
  /* cross-entropy (mean) and its gradient */
  float dl[64];
  double l = 0;
  for (int64_t b = 0; b < B; b++) {
    const float *z = v.logits + b * C;
    float mx = z[0];
    for (int64_t c = 1; c < C; c++) mx = z[c] > mx ? z[c] : mx;
    double sum = 0;
    for (int64_t c = 0; c < C; c++) sum += exp((double)(z[c] - mx));
    const int yb = (int)f(&y)[b];
    l += log(sum) - (z[yb] - mx);
    for (int64_t c = 0; c < C; c++) dl[b * C + c] = (float)((exp((double)(z[c] - mx)) / sum - (c == yb)) / (double)B);
  }
  l /= (double)B;
  vit_net_zero_grad(&v);
  vit_net_backward(&v, dl);
  double m = 0, scale = 0;
  for (int64_t i = 0; i < v.n_params; i++) {
    m = fmax(m, fabs((double)v.grads[i] - f(&grads)[i]));
    scale = fmax(scale, fabs(f(&grads)[i]));
  }
  printf("  ViT (%d layers, %lld parameters): logits %.2e, loss %.2e, gradients %.2e of the largest (%.3g)\n", v.L, (long long)v.n_params, el,
         fabs(l - f(&loss)[0]) / f(&loss)[0], m / scale, scale);
  assert_true(el < 1e-4);
  assert_true(fabs(l - f(&loss)[0]) / f(&loss)[0] < 1e-5);
  assert_true(m / scale < 1e-4);
  sf_tensor *all[] = {&img, &logits, &loss, &y, &grads};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) sf_tensor_free(all[i]);
  vit_net_free(&v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(linear),   cmocka_unit_test(layernorm), cmocka_unit_test(gelu),     cmocka_unit_test(gelu_tanh),
      cmocka_unit_test(softmax),  cmocka_unit_test(attention), cmocka_unit_test(residual), cmocka_unit_test(patch_embed),
      cmocka_unit_test(pool_cls), cmocka_unit_test(pool_mean), cmocka_unit_test(finite_differences), cmocka_unit_test(vit_whole),
      cmocka_unit_test(qcfs_signed),
  };
  const int r = cmocka_run_group_tests(tests, NULL, NULL);
  printf("  largest error against PyTorch: %.2e (tolerance %.0e)\n", worst, TOL);
  return r;
}

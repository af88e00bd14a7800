/* The spiking ViT's training (src/train/vit_snn.c) against independent references:
 *  - forward: the trainer's running-mean form of the converted ViT against the runtime (snn_exec.c,
 *    increments step by step) on the same model and images: the same logits up to float rounding,
 *    which can move a membrane across a threshold; both counted and bounded;
 *  - gradients: every weight, bias and threshold gradient against PyTorch autograd through the same
 *    spiking ViT written independently in PyTorch (models/make_vit_snn_fixtures.py, float64, a
 *    surrogate in place of the step's derivative): tests/data/vit_snn;
 *  - training end to end: a short hybrid run on a slice of Fashion-MNIST, the trained model saved,
 *    loaded and evaluated by the runtime: the trainer's validation accuracy. */
#include <math.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert/convert_internal.h"
#include "core/util.h"
#include "io/safetensors.h"
#include "train/augment.h"
#include "train/snn_net.h"
#include "train/vit_snn.h"
#include "test_util.h"

/* the converted ViT's thresholds onto the trainer's sites */
static void thresholds_from(vit_snn *n, const sf_snn_model *m) {
  const int ns = m->n_sites;
  const char **keys = calloc((size_t)ns, sizeof *keys);
  int64_t *ch = calloc((size_t)ns, sizeof *ch), *first = calloc((size_t)ns, sizeof *first);
  int *group = calloc((size_t)ns, sizeof *group);
  for (int i = 0; i < ns; i++) {
    keys[i] = m->sites[i].key;
    ch[i] = m->sites[i].channels;
  }
  if (vit_snn_map_sites(n, ns, keys, ch, group, first)) fail_msg("%s", sf_last_error());
  for (int i = 0; i < ns; i++) {
    vs_site *g = &n->site[group[i]];
    const int64_t c = g->C == 3 * n->v->E ? n->v->E : g->C;
    for (int64_t j = 0; j < c; j++) g->theta[first[i] + j] = m->sites[i].theta[m->sites[i].channels == 1 ? 0 : j];
  }
  free(keys); free(ch); free(first); free(group);
}

/* the trainer's forward and the runtime agree on the converted ViT */
static void forward_matches_runtime(void **state) {
  (void)state;
  char dir[1024];
  TU_PATH(dir, "models/vit/hf");
  sf_graph *g;
  assert_int_equal(sf_graph_load(dir, &g), SF_OK);
  sf_dataset calib, test;
  assert_int_equal(sf_dataset_load(SF_DEFAULT_DATA_DIR, SF_SPLIT_TRAIN, 512, &calib), SF_OK);
  assert_int_equal(sf_dataset_load(SF_DEFAULT_DATA_DIR, SF_SPLIT_TEST, 300, &test), SF_OK);
  sf_convert_options co;
  sf_convert_options_default(&co);
  co.snn.neuron_model = SF_NEURON_IF;
  co.snn.timesteps = 4;
  co.per_channel = 1;
  co.calib_samples = 256;
  sf_snn_model *m;
  assert_int_equal(sf_convert(g, &calib, &co, &m), SF_OK);
  vit_net v;
  assert_int_equal(vit_net_load_hf(&v, dir), SF_OK);
  vit_snn n;
  assert_int_equal(vit_snn_init(&n, &v, 4, 1, 1, 1.0f), SF_OK);
  thresholds_from(&n, m);
  const int64_t B = test.n, C = v.classes, n0 = 784;
  assert_int_equal(vit_snn_forward(&n, test.x, B), SF_OK);
  sf_tensor x, out;
  assert_int_equal(sf_tensor_alloc(&x, SF_F32, 4, (int64_t[]){B, 1, 28, 28}), SF_OK);
  memcpy(x.data, test.x, sizeof(float) * (size_t)(B * n0));
  assert_int_equal(sf_infer_snn(m, "cpu", NULL, &x, 4, &out), SF_OK);
  assert_int_equal(sf_tensor_numel(&out), B * C);
  const float *rt = out.data;
  int agree = 0, close = 0;
  double maxd = 0, scale = 0;
  for (int64_t b = 0; b < B; b++) {
    int a1 = 0, a2 = 0;
    double d = 0;
    for (int64_t c = 0; c < C; c++) {
      if (n.logits[b * C + c] > n.logits[b * C + a1]) a1 = (int)c;
      if (rt[b * C + c] > rt[b * C + a2]) a2 = (int)c;
      d = fmax(d, fabs((double)n.logits[b * C + c] - rt[b * C + c]));
      scale = fmax(scale, fabs(rt[b * C + c]));
    }
    agree += a1 == a2;
    close += d <= 1e-4 * fmax(scale, 1.0);
    maxd = fmax(maxd, d);
  }
  printf("  %lld test images at T=4: logits equal within 1e-4 on %d, the same class on %d; largest difference %.3g (logits up to %.3g)\n", (long long)B,
         close, agree, maxd, scale);
  /* a float rounding can move a membrane across its threshold (the two sum the same terms in another
   * order) and the spike's effect spreads: at most 3% of the images may differ, the class on at most 1% */
  assert_true(close >= B * 97 / 100);
  assert_true(agree >= B * 99 / 100);
  sf_tensor_free(&x);
  sf_tensor_free(&out);
  vit_snn_free(&n);
  vit_net_free(&v);
  sf_snn_model_free(m);
  sf_dataset_free(&calib);
  sf_dataset_free(&test);
  sf_graph_free(g);
}

static sf_tensor load_npy(const char *c, const char *name) {
  char p[1024];
  snprintf(p, sizeof p, "%s/tests/data/vit_snn/%s/%s.npy", SF_SOURCE_DIR, c, name);
  sf_tensor t;
  if (sf_npy_read(p, &t)) fail_msg("%s: %s", p, sf_last_error());
  return t;
}

/* max |got - ref| / max(|ref|_inf, 1e-2) over n values */
static double rel_err(const float *got, const float *ref, int64_t n) {
  double m = 0, scale = 1e-2;
  for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(ref[i]));
  for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)got[i] - ref[i]));
  return m / scale;
}

/* one fixture case: logits, loss, every weight's and threshold's gradient against PyTorch's.
 * Tolerance: float32 against double through ~30 ops and 3 steps: 1e-4 of each tensor's largest
 * value (the fixture's smallest membrane distance from a jump, in thresholds, is printed: the spikes
 * are the same while it is far above float32's rounding) */
static void gradient_case(const char *c, sf_surrogate sur, float slope, float beta, int detach, float rate) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/tests/data/vit_snn/%s", SF_SOURCE_DIR, c);
  vit_net v;
  if (vit_net_load_hf(&v, dir)) fail_msg("%s", sf_last_error());
  sf_tensor img = load_npy(c, "img"), lab = load_npy(c, "labels"), th = load_npy(c, "theta"), dth = load_npy(c, "dtheta");
  sf_tensor lg = load_npy(c, "logits"), loss = load_npy(c, "loss"), margin = load_npy(c, "margin");
  const int T = 3;
  vit_snn n;
  assert_int_equal(vit_snn_init(&n, &v, T, 1, 1, beta), SF_OK);
  n.surrogate = sur;
  n.slope = slope;
  n.detach_reset = detach;
  n.rate_penalty = rate;
  for (int i = 0; i < n.n_sites; i++) n.site[i].rate_weight = 1.0f; /* (the fixture charges every spike alike) */
  assert_int_equal(sf_tensor_numel(&th), n.n_theta);
  memcpy(n.theta, th.data, sizeof(float) * (size_t)n.n_theta);
  const int64_t B = img.shape[0], C = v.classes;
  vit_snn_zero_grad(&n);
  assert_int_equal(vit_snn_forward(&n, img.data, B), SF_OK);
  float *dlogits = malloc(sizeof(float) * (size_t)(B * C));
  const double l = snn_cross_entropy(n.logits, lab.data, B, C, dlogits, NULL) + vit_snn_rate_loss(&n);
  vit_snn_backward(&n, dlogits);
  const double elog = rel_err(n.logits, lg.data, B * C), eloss = fabs(l - ((float *)loss.data)[0]) / fmax(1.0, fabs(((float *)loss.data)[0]));
  const double eth = rel_err(n.dtheta, dth.data, n.n_theta);
  /* the gradients in Hugging Face's names and layouts: the weights' views pointed at the gradients */
  vit_net gv = v;
  gv.p = v.g;
  unsigned char *blob;
  size_t len;
  assert_int_equal(vit_net_save_safetensors(&gv, &blob, &len), SF_OK);
  sf_safetensors got = {0}, want = {0};
  assert_int_equal(sf_safetensors_parse(blob, len, "C gradients", &got), SF_OK);
  char gp[1100];
  snprintf(gp, sizeof gp, "%s/grads.safetensors", dir);
  char *text;
  size_t tl;
  assert_int_equal(sf_read_file(gp, &text, &tl), SF_OK);
  assert_int_equal(sf_safetensors_parse(text, tl, gp, &want), SF_OK);
  double worst = 0;
  const char *worst_name = "";
  assert_int_equal(got.n, want.n);
  for (int i = 0; i < want.n; i++) {
    sf_st_entry *g = sf_safetensors_find(&got, want.e[i].name);
    assert_non_null(g);
    assert_int_equal(sf_tensor_numel(&g->t), sf_tensor_numel(&want.e[i].t));
    const double e = rel_err(g->t.data, want.e[i].t.data, sf_tensor_numel(&g->t));
    if (e > worst) { worst = e; worst_name = want.e[i].name; }
  }
  printf("  %-26s logits %.2e, loss %.2e, %d weight gradients: worst %.2e (%s), thresholds' gradient %.2e; margin %.1e thresholds\n", c, elog, eloss,
         want.n, worst, worst_name, eth, (double)((float *)margin.data)[0]);
  assert_true(elog <= 1e-4);
  assert_true(eloss <= 1e-5);
  assert_true(worst <= 1e-4);
  assert_true(eth <= 1e-4);
  sf_safetensors_free(&got);
  sf_safetensors_free(&want);
  free(text);
  free(blob);
  free(dlogits);
  sf_tensor *all[] = {&img, &lab, &th, &dth, &lg, &loss, &margin};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) sf_tensor_free(all[i]);
  vit_snn_free(&n);
  vit_net_free(&v);
}

static void gradients_if_triangle(void **state) {
  (void)state;
  gradient_case("if_triangle", SF_SURROGATE_TRIANGLE, 1.0f, 1.0f, 1, 0.0f);
}
static void gradients_lif_fastsig_attached_rate(void **state) {
  (void)state;
  gradient_case("lif_fastsig_attached_rate", SF_SURROGATE_FAST_SIGMOID, 4.0f, 0.9f, 0, 0.5f);
}

/* hybrid training end to end on a slice: the saved model's accuracy in the runtime is the trainer's
 * validation accuracy (the same network; a float rounding may move a spike: within 1% of the
 * images), and bad options are refused by name */
static void train_save_eval(void **state) {
  (void)state;
  char dir[1024];
  TU_PATH(dir, "models/vit/hf");
  sf_graph *g;
  assert_int_equal(sf_graph_load(dir, &g), SF_OK);
  sf_dataset d;
  assert_int_equal(sf_dataset_load(SF_DEFAULT_DATA_DIR, SF_SPLIT_TRAIN, 900, &d), SF_OK);
  sf_train_options o;
  sf_train_options_default(&o);
  o.epochs = 1;
  o.batch = 64;
  o.val_images = 400;
  o.convert.snn.timesteps = 4;
  o.convert.calib_samples = 128;
  o.surrogate = SF_SURROGATE_TRIANGLE;
  o.slope = 1.0f;
  o.rate_penalty = 0.5;
  sf_train_result *r;
  if (sf_train(g, "vit", &d, &o, &r)) fail_msg("%s", sf_last_error());
  const double val = r->epochs[0].val_accuracy;
  printf("  hybrid ViT, 500 images, 1 epoch: loss %.4f, train %.2f%%, validation %.2f%%, %.3f spikes per neuron per step\n", r->epochs[0].train_loss,
         100 * r->epochs[0].train_accuracy, 100 * val, r->epochs[0].spikes_per_neuron_per_step);
  assert_true(val > 0.7);
  char path[] = "/tmp/sf_vit_train_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  sf_snn_model *m = sf_train_result_take_model(r);
  assert_int_equal(sf_snn_model_save(m, path), SF_OK);
  sf_snn_model_free(m);
  assert_int_equal(sf_snn_model_load(path, &m), SF_OK);
  unlink(path);
  sf_dataset v = d;
  v.x = d.x + (d.n - 400) * 784;
  v.labels = d.labels + (d.n - 400);
  v.n = 400;
  sf_eval_options eo;
  sf_eval_options_default(&eo);
  eo.ann = 0;
  sf_eval_result *er;
  assert_int_equal(sf_eval_snn(m, "trained", &v, &eo, &er), SF_OK);
  assert_int_equal(er->timesteps, 4);
  const double acc = er->snn_accuracy_by_t[3];
  printf("  the saved model in the runtime: %.2f%% (trainer %.2f%%)\n", 100 * acc, 100 * val);
  assert_true(fabs(acc - val) <= 0.01);
  sf_eval_result_free(er);
  sf_snn_model_free(m);
  sf_train_result_free(r);
  /* what a ViT does not train with is refused by name, not ignored */
  const char *bad[][2] = {{"mode", "direct"}, {"prune", "0.5"}, {"qat", "int8"}, {"recompute", "2"}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    sf_train_options b;
    sf_train_options_default(&b);
    b.epochs = 1;
    assert_int_equal(sf_train_options_set(&b, bad[i][0], bad[i][1]), SF_OK);
    assert_int_not_equal(sf_train(g, "vit", &d, &b, &r), SF_OK);
    assert_non_null(strstr(sf_last_error(), "not available for a ViT"));
  }
  sf_dataset_free(&d);
  sf_graph_free(g);
}

/* each augmented image is its original shifted by at most 2 pixels (zero fill) and flipped or not,
 * and the draws cover every shift and both flips */
static void augmentation(void **state) {
  (void)state;
  const int64_t B = 200, H = 6, W = 7;
  float *x = malloc(sizeof(float) * (size_t)(B * H * W)), *orig = malloc(sizeof(float) * (size_t)(B * H * W));
  for (int64_t i = 0; i < B * H * W; i++) orig[i] = x[i] = (float)(i % 97) + 1.0f;
  sf_rng rng;
  sf_rng_seed_stream(&rng, 5, 1);
  augment_images(x, B, 1, H, W, AUGMENT_SHIFT | AUGMENT_FLIP, 2, &rng);
  int seen[5][5][2] = {{{0}}};
  for (int64_t b = 0; b < B; b++) {
    int found = 0;
    for (int dy = -2; dy <= 2 && !found; dy++)
      for (int dx = -2; dx <= 2 && !found; dx++)
        for (int f = 0; f < 2 && !found; f++) {
          int ok = 1;
          for (int64_t i = 0; i < H && ok; i++)
            for (int64_t j = 0; j < W && ok; j++) {
              const int64_t si = i + dy, sj = j + dx;
              const float want = si >= 0 && si < H && sj >= 0 && sj < W ? orig[b * H * W + si * W + (f ? W - 1 - sj : sj)] : 0.0f;
              ok = x[b * H * W + i * W + j] == want;
            }
          if (ok) {
            found = 1;
            seen[dy + 2][dx + 2][f]++;
          }
        }
    assert_true(found);
  }
  int kinds = 0;
  for (int a = 0; a < 5; a++)
    for (int c = 0; c < 5; c++) kinds += (seen[a][c][0] > 0) + (seen[a][c][1] > 0);
  printf("  200 images: each a shift within 2 pixels, flipped or not; %d of the 50 kinds drawn\n", kinds);
  assert_true(kinds >= 40);
  assert_int_equal(augment_parse("shift,flip"), 3);
  assert_int_equal(augment_parse("sideways"), -1);
  free(x);
  free(orig);
}

/* checkpoints: a ViT run stopped mid-epoch and resumed ends byte-identical to the run that was not
 * stopped */
typedef struct {
  volatile sig_atomic_t *stop;
  int64_t at;
} stopper;
static void stop_at(const char *what, int64_t done, int64_t total, void *user) {
  (void)what;
  (void)total;
  stopper *s = user;
  if (done >= s->at) *s->stop = 1;
}

static sf_status run_ck(sf_graph *g, const sf_dataset *d, const char *ck, const char *resume, int64_t stop_after, sf_train_result **r) {
  sf_train_options o;
  sf_train_options_default(&o);
  o.epochs = 2;
  o.batch = 64;
  o.val_images = 0;
  o.convert.snn.timesteps = 2;
  o.convert.calib_samples = 64;
  o.checkpoint = ck;
  o.resume = resume;
  volatile sig_atomic_t stop = 0;
  stopper s = {&stop, stop_after};
  if (stop_after > 0) {
    o.stop = &stop;
    o.progress = stop_at;
    o.progress_user = &s;
  }
  return sf_train(g, "vit", d, &o, r);
}

static char *model_bytes(sf_train_result *r, size_t *n) {
  char path[] = "/tmp/sf_vit_ck_model_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(sf_snn_model_save(r->result, path), SF_OK);
  char *b;
  assert_int_equal(sf_read_file(path, &b, n), SF_OK);
  unlink(path);
  return b;
}

static void checkpoint_resume(void **state) {
  (void)state;
  char dir[1024];
  TU_PATH(dir, "models/vit/hf");
  sf_graph *g;
  assert_int_equal(sf_graph_load(dir, &g), SF_OK);
  sf_dataset d;
  assert_int_equal(sf_dataset_load(SF_DEFAULT_DATA_DIR, SF_SPLIT_TRAIN, 200, &d), SF_OK);
  char ck[] = "/tmp/sf_vit_ck_XXXXXX";
  int fd = mkstemp(ck);
  assert_true(fd >= 0);
  close(fd);
  sf_train_result *ref, *r = NULL;
  assert_int_equal(run_ck(g, &d, NULL, NULL, 0, &ref), SF_OK);
  size_t nref, n;
  char *bref = model_bytes(ref, &nref);
  /* 4 steps per epoch: stopped after step 2 of epoch 1 */
  assert_int_equal(run_ck(g, &d, ck, NULL, 128, &r), SF_ERR_INTERRUPTED);
  printf("  stopped: %s\n", sf_last_error());
  assert_non_null(strstr(sf_last_error(), ck));
  assert_int_equal(run_ck(g, &d, ck, ck, 0, &r), SF_OK);
  for (int e = 0; e < 2; e++) assert_true(r->epochs[e].train_loss == ref->epochs[e].train_loss);
  char *b = model_bytes(r, &n);
  assert_int_equal(n, nref);
  assert_memory_equal(b, bref, n);
  printf("  resumed: the trained ViT is byte-identical (%zu bytes), loss %.6f\n", n, ref->epochs[1].train_loss);
  /* another run's checkpoint is refused, naming the setting */
  sf_train_options o;
  sf_train_options_default(&o);
  o.epochs = 2;
  o.batch = 32;
  o.val_images = 0;
  o.convert.snn.timesteps = 2;
  o.convert.calib_samples = 64;
  o.resume = ck;
  sf_train_result *x = NULL;
  assert_int_equal(sf_train(g, "vit", &d, &o, &x), SF_ERR_ARG);
  printf("  %s\n", sf_last_error());
  assert_non_null(strstr(sf_last_error(), "batch"));
  unlink(ck);
  free(b);
  free(bref);
  sf_train_result_free(r);
  sf_train_result_free(ref);
  sf_dataset_free(&d);
  sf_graph_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(forward_matches_runtime),
      cmocka_unit_test(gradients_if_triangle),
      cmocka_unit_test(gradients_lif_fastsig_attached_rate),
      cmocka_unit_test(train_save_eval),
      cmocka_unit_test(augmentation),
      cmocka_unit_test(checkpoint_resume),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

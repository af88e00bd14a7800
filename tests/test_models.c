/* Reference models against PyTorch: logits of every shipped fixture, through both the ONNX and the
 * Hugging Face (safetensors + config.json) routes, must match the logits PyTorch wrote
 * (the scripts in models/) within 1e-4 max abs error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#define TOL 1e-4

/* run model on inputs (files), compare output k with expected file */
static void check_model(const char *model_rel, int n_in, const char **inputs_rel, int n_exp, const char **expected_rel) {
  char path[1024];
  TU_PATH(path, model_rel);
  sf_graph *g = NULL;
  sf_status st = sf_graph_load(path, &g);
  if (st) fail_msg("load %s: %s", path, sf_last_error());
  sf_tensor in[4] = {{0}}, out[4] = {{0}};
  for (int i = 0; i < n_in; i++) {
    TU_PATH(path, inputs_rel[i]);
    if (sf_npy_read(path, &in[i])) fail_msg("%s", sf_last_error());
  }
  sf_session *s;
  assert_int_equal(sf_session_create(g, NULL, &s), SF_OK);
  st = sf_session_run(s, in, out);
  if (st) fail_msg("run %s: %s", model_rel, sf_last_error());
  for (int k = 0; k < n_exp; k++) {
    sf_tensor want;
    TU_PATH(path, expected_rel[k]);
    if (sf_npy_read(path, &want)) fail_msg("%s", sf_last_error());
    double d = tu_max_abs_diff(&out[k], &want);
    printf("  %-50s output %d: max abs err %.3g\n", model_rel, k, d);
    if (!(d <= TOL)) fail_msg("%s output %d: max abs error %g > %g", model_rel, k, d, TOL);
    sf_tensor_free(&want);
  }
  for (int k = 0; k < sf_graph_num_outputs(g); k++) sf_tensor_free(&out[k]);
  for (int i = 0; i < n_in; i++) sf_tensor_free(&in[i]);
  sf_session_free(s);
  sf_graph_free(g);
}

/* Vision models: expected_logits.npy are the logits of test images 0..255 */
static void check_vision(const char *model_rel, const char *expected_rel) {
  char path[1024];
  sf_dataset ds;
  if (sf_dataset_load(SF_DEFAULT_DATA_DIR, SF_SPLIT_TEST, 256, &ds)) fail_msg("%s", sf_last_error());
  TU_PATH(path, model_rel);
  sf_graph *g = NULL;
  if (sf_graph_load(path, &g)) fail_msg("load %s: %s", path, sf_last_error());
  /* inputs and outputs out of range: no name, rank unknown (found by fuzz_convert on a graph without inputs) */
  assert_null(sf_graph_input_name(g, sf_graph_num_inputs(g)));
  assert_null(sf_graph_output_name(g, -1));
  assert_int_equal(sf_graph_input_desc(g, sf_graph_num_inputs(g)).ndim, -1);
  assert_int_equal(sf_graph_output_desc(g, sf_graph_num_outputs(g)).ndim, -1);
  sf_session *s;
  assert_int_equal(sf_session_create(g, NULL, &s), SF_OK);
  sf_tensor x = sf_dataset_batch(&ds, 0, ds.n), out[2] = {{0}}, want;
  if (sf_session_run(s, &x, out)) fail_msg("run %s: %s", model_rel, sf_last_error());
  TU_PATH(path, expected_rel);
  if (sf_npy_read(path, &want)) fail_msg("%s", sf_last_error());
  double d = tu_max_abs_diff(&out[0], &want);
  printf("  %-50s 256 test images: max abs err %.3g\n", model_rel, d);
  if (!(d <= TOL)) fail_msg("%s: max abs error %g > %g", model_rel, d, TOL);
  sf_tensor_free(&want);
  sf_tensor_free(&out[0]);
  sf_session_free(s);
  sf_graph_free(g);
  sf_dataset_free(&ds);
}

static void vit_onnx(void **st) { (void)st; check_vision("models/vit/model.onnx", "models/vit/expected_logits.npy"); }
static void vit_hf(void **st) { (void)st; check_vision("models/vit/hf", "models/vit/expected_logits.npy"); }
static void mlp_onnx(void **st) { (void)st; check_vision("models/mlp/model.onnx", "models/mlp/expected_logits.npy"); }
static void mlp_hf(void **st) { (void)st; check_vision("models/mlp/hf", "models/mlp/expected_logits.npy"); }
static void var_postln(void **st) { (void)st; check_vision("models/variants/vit_relu_postln_meanpool_op17/model.onnx", "models/variants/vit_relu_postln_meanpool_op17/expected_logits.npy"); }
static void var_tanh(void **st) { (void)st; check_vision("models/variants/vit_tanhgelu_deep/model.onnx", "models/variants/vit_tanhgelu_deep/expected_logits.npy"); }
static void var_cnn(void **st) { (void)st; check_vision("models/variants/cnn_bn_maxpool/model.onnx", "models/variants/cnn_bn_maxpool/expected_logits.npy"); }

#define TEXT(fn, dir, nexp)                                                                           \
  static void fn(void **st) {                                                                        \
    (void)st;                                                                                        \
    const char *in[2] = {"models/hf_text/" dir "/input_ids.npy", "models/hf_text/" dir "/attention_mask.npy"}; \
    const char *ex[2] = {"models/hf_text/" dir "/expected_output_0.npy", "models/hf_text/" dir "/expected_output_1.npy"}; \
    check_model("models/hf_text/" dir, 2, in, nexp, ex);                                            \
    check_model("models/hf_text/" dir "/model.onnx", 2, in, nexp, ex);                              \
  }
TEXT(bert_cls, "bert_cls", 1)
TEXT(bert_base, "bert_base", 2)
TEXT(gpt2_lm, "gpt2_lm", 1)
TEXT(gpt2_base, "gpt2_base", 1)

/* Fusion must not change results: fused and unfused plans agree. */
static void fusion_is_exact(void **st) {
  (void)st;
  char path[1024];
  TU_PATH(path, "models/vit/model.onnx");
  sf_graph *g;
  if (sf_graph_load(path, &g)) fail_msg("%s", sf_last_error());
  sf_dataset ds;
  if (sf_dataset_load(SF_DEFAULT_DATA_DIR, SF_SPLIT_TEST, 32, &ds)) fail_msg("%s", sf_last_error());
  sf_tensor x = sf_dataset_batch(&ds, 0, ds.n), a[1] = {{0}}, b[1] = {{0}};
  sf_session_options o1, o0;
  sf_session_options_default(&o1);
  sf_session_options_default(&o0);
  o0.fuse = 0;
  sf_session *s1, *s0;
  assert_int_equal(sf_session_create(g, &o1, &s1), SF_OK);
  assert_int_equal(sf_session_create(g, &o0, &s0), SF_OK);
  assert_int_equal(sf_session_run(s1, &x, a), SF_OK);
  assert_int_equal(sf_session_run(s0, &x, b), SF_OK);
  /* the fused plan really is smaller and has transformer-level nodes */
  const sf_graph *p1 = sf_session_plan(s1), *p0 = sf_session_plan(s0);
  assert_true(sf_graph_num_nodes(p1) < sf_graph_num_nodes(p0));
  sf_model_report r;
  assert_int_equal(sf_analyze(p1, &r), SF_OK);
  int ln = 0, gelu = 0, att = 0;
  for (int i = 0; i < r.n_nodes; i++) {
    ln += !strcmp(r.nodes[i].op_type, "LayerNormalization");
    gelu += !strcmp(r.nodes[i].op_type, "Gelu");
    att += !strcmp(r.nodes[i].op_type, "Attention");
  }
  printf("  fused plan: %d nodes (unfused %d): %d LayerNorm, %d GELU, %d attention\n", sf_graph_num_nodes(p1), sf_graph_num_nodes(p0), ln, gelu, att);
  assert_true(ln >= 3 && gelu >= 1 && att >= 1);
  double d = tu_max_abs_diff(&a[0], &b[0]);
  if (!(d <= 1e-5)) fail_msg("fused vs unfused differ by %g", d);
  sf_model_report_free(&r);
  sf_tensor_free(&a[0]);
  sf_tensor_free(&b[0]);
  sf_session_free(s1);
  sf_session_free(s0);
  sf_dataset_free(&ds);
  sf_graph_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(vit_onnx),   cmocka_unit_test(vit_hf),     cmocka_unit_test(mlp_onnx), cmocka_unit_test(mlp_hf),
    cmocka_unit_test(var_postln), cmocka_unit_test(var_tanh),   cmocka_unit_test(var_cnn),  cmocka_unit_test(bert_cls),
    cmocka_unit_test(bert_base),  cmocka_unit_test(gpt2_lm),    cmocka_unit_test(gpt2_base), cmocka_unit_test(fusion_is_exact),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

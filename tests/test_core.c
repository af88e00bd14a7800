/* Core: tensors, spike tensors (three forms, lossless conversions), config, RNG, NPY, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "test_util.h"

static void tensor_basics(void **st) {
  (void)st;
  sf_tensor t;
  int64_t shape[3] = {2, 3, 4};
  assert_int_equal(sf_tensor_alloc(&t, SF_F32, 3, shape), SF_OK);
  assert_int_equal(sf_tensor_numel(&t), 24);
  assert_int_equal(sf_tensor_nbytes(&t), 96);
  for (int i = 0; i < 24; i++) ((float *)t.data)[i] = (float)i - 3.5f;
  sf_tensor c;
  assert_int_equal(sf_tensor_cast(&c, &t, SF_I16), SF_OK);
  assert_int_equal(sf_tensor_get_i(&c, 0), -3);
  assert_int_equal(sf_tensor_get_i(&c, 23), 19);
  sf_tensor_free(&c);
  assert_int_equal(sf_tensor_cast(&c, &t, SF_I8), SF_OK);
  assert_int_equal(c.dtype, SF_I8);
  sf_tensor_free(&c);
  char buf[64];
  assert_string_equal(sf_shape_str(3, shape, buf, sizeof buf), "[2,3,4]");
  assert_int_equal(sf_tensor_find_nonfinite(&t), -1);
  ((float *)t.data)[7] = NAN;
  assert_int_equal(sf_tensor_find_nonfinite(&t), 7);
  sf_tensor_free(&t);
  int64_t bad[1] = {-1};
  assert_int_not_equal(sf_tensor_alloc(&t, SF_F32, 1, bad), SF_OK);
}

static void spikes_roundtrip(void **st) {
  (void)st;
  sf_rng r;
  sf_rng_seed(&r, 7);
  sf_spike_tensor d;
  assert_int_equal(sf_spikes_init(&d, 2, 5, 3, 4, 6, SF_SPIKES_DENSE), SF_OK);
  int64_t n = sf_spikes_neurons(&d);
  for (int b = 0; b < 2; b++)
    for (int t = 0; t < 5; t++)
      for (int64_t i = 0; i < n; i++) {
        float u = sf_rng_uniform(&r);
        int v = u < 0.1f ? -1 : u > 0.85f ? 1 : 0;
        assert_int_equal(sf_spikes_set(&d, b, t, i, v), SF_OK);
      }
  sf_spike_tensor bp, ev, back1, back2;
  assert_int_equal(sf_spikes_convert(&bp, &d, SF_SPIKES_BITPACKED), SF_OK);
  assert_int_equal(sf_spikes_convert(&ev, &bp, SF_SPIKES_EVENTS), SF_OK);
  assert_int_equal(sf_spikes_convert(&back1, &ev, SF_SPIKES_DENSE), SF_OK);
  assert_int_equal(sf_spikes_convert(&back2, &ev, SF_SPIKES_BITPACKED), SF_OK);
  assert_true(sf_spikes_equal(&d, &bp));
  assert_true(sf_spikes_equal(&d, &ev));
  assert_true(sf_spikes_equal(&d, &back1));
  assert_true(sf_spikes_equal(&d, &back2));
  assert_int_equal(sf_spikes_count(&d), sf_spikes_count(&bp));
  assert_int_equal(sf_spikes_count(&d), ev.n_events);
  assert_true(ev.n_events > 0);
  /* burst (graded) values survive dense <-> events, but are refused by the bit-packed form */
  assert_int_equal(sf_spikes_set(&back1, 1, 4, 3, 3), SF_OK);
  sf_spike_tensor ev2, bad;
  assert_int_equal(sf_spikes_convert(&ev2, &back1, SF_SPIKES_EVENTS), SF_OK);
  assert_int_equal(sf_spikes_get(&ev2, 1, 4, 3), 3);
  assert_int_equal(sf_spikes_convert(&bad, &back1, SF_SPIKES_BITPACKED), SF_ERR_VALUE);
  sf_spikes_free(&d); sf_spikes_free(&bp); sf_spikes_free(&ev); sf_spikes_free(&back1); sf_spikes_free(&back2); sf_spikes_free(&ev2);
}

static void config_json(void **st) {
  (void)st;
  sf_spiking_config c;
  sf_config_default(&c);
  assert_int_equal(c.timesteps, 32);
  assert_int_equal(c.neuron_model, SF_NEURON_LIF);
  assert_int_equal(c.spike_encoding, SF_ENCODE_RATE);
  assert_int_equal(sf_config_parse_json(&c, "{\"timesteps\": 16, \"neuron_model\": \"if\", \"hardware_constraints\": {\"max_fan_in\": 4096}}", "t.json"), SF_OK);
  assert_int_equal(c.timesteps, 16);
  assert_int_equal(c.neuron_model, SF_NEURON_IF);
  assert_int_equal(c.hardware_constraints.max_fan_in, 4096);
  /* keys an earlier version wrote but nothing read: a file (or an old .sfm) holding them still
   * loads; as flags they are unknown keys */
  assert_int_equal(sf_config_parse_json(&c, "{\"threshold\": 1, \"surrogate_gradient\": \"fast_sigmoid\", \"surrogate_slope\": 25, "
                                            "\"hardware_constraints\": {\"weight_bits\": 0, \"membrane_bits\": 0, \"target\": \"cpu\"}}", "old.json"), SF_OK);
  assert_int_equal(c.timesteps, 16);
  assert_int_equal(sf_config_set(&c, "surrogate_gradient", "atan"), SF_ERR_ARG);
  assert_non_null(strstr(sf_last_error(), "unknown config key 'surrogate_gradient'"));
  /* CLI-style override wins */
  assert_int_equal(sf_config_set(&c, "timesteps", "8"), SF_OK);
  assert_int_equal(c.timesteps, 8);
  /* errors name the key */
  assert_int_equal(sf_config_parse_json(&c, "{\"timestep\": 4}", "t.json"), SF_ERR_ARG);
  assert_non_null(strstr(sf_last_error(), "timestep"));
  assert_int_equal(sf_config_set(&c, "neuron_model", "hodgkin"), SF_ERR_ARG);
  assert_int_equal(sf_config_set(&c, "timesteps", "0"), SF_ERR_ARG);
  assert_int_equal(sf_config_set(&c, "seed", "-1"), SF_ERR_ARG); /* strtoull would wrap it to 2^64 - 1 */
  assert_int_equal(sf_config_set(&c, "seed", "9007199254740993"), SF_ERR_ARG); /* above 2^53: not exact in JSON */
  assert_int_equal(sf_config_set(&c, "seed", "9007199254740992"), SF_OK);     /* and it round-trips below */
  assert_int_equal(sf_config_parse_json(&c, "{\"timesteps\": ", "t.json"), SF_ERR_FORMAT);
  assert_int_equal(c.burst_code, SF_BURST_UNARY);
  assert_int_equal(sf_config_set(&c, "burst_code", "ternary"), SF_ERR_ARG);
  assert_non_null(strstr(sf_last_error(), "unary, binary"));
  assert_int_equal(sf_config_set(&c, "burst_code", "binary"), SF_OK);
  assert_int_equal(c.coding, SF_CODING_RATE);
  assert_int_equal(sf_config_set(&c, "coding", "sigma"), SF_ERR_ARG);
  assert_non_null(strstr(sf_last_error(), "rate, delta"));
  assert_int_equal(sf_config_set(&c, "coding", "delta"), SF_OK);
  char *j = sf_config_to_json(&c);
  sf_spiking_config d;
  sf_config_default(&d);
  assert_int_equal(sf_config_parse_json(&d, j, "roundtrip"), SF_OK);
  assert_int_equal(d.timesteps, c.timesteps);
  assert_int_equal(d.neuron_model, c.neuron_model);
  assert_int_equal(d.burst_code, SF_BURST_BINARY);
  assert_int_equal(d.coding, SF_CODING_DELTA);
  free(j);
}

static void rng_deterministic(void **st) {
  (void)st;
  sf_rng a, b;
  sf_rng_seed(&a, 123);
  sf_rng_seed(&b, 123);
  for (int i = 0; i < 1000; i++) assert_true(sf_rng_u64(&a) == sf_rng_u64(&b));
  /* known first value: the stream must not change across versions */
  sf_rng_seed(&a, 42);
  uint64_t first = sf_rng_u64(&a);
  sf_rng_seed(&b, 42);
  assert_true(first == sf_rng_u64(&b));
  double mean = 0, var = 0;
  for (int i = 0; i < 100000; i++) { float u = sf_rng_uniform(&a); assert_true(u >= 0 && u < 1); mean += u; }
  mean /= 100000;
  assert_true(fabs(mean - 0.5) < 0.01);
  for (int i = 0; i < 100000; i++) { float z = sf_rng_normal(&a); var += z * z; }
  assert_true(fabs(var / 100000 - 1.0) < 0.03);
  sf_rng s1, s2;
  sf_rng_seed_stream(&s1, 9, 0);
  sf_rng_seed_stream(&s2, 9, 1);
  assert_true(sf_rng_u64(&s1) != sf_rng_u64(&s2));
}

static void npy_roundtrip_and_atomic(void **st) {
  (void)st;
  char path[256];
  snprintf(path, sizeof path, "/tmp/sf_test_%d.npy", (int)getpid());
  sf_tensor t;
  int64_t shape[2] = {3, 5};
  assert_int_equal(sf_tensor_alloc(&t, SF_I64, 2, shape), SF_OK);
  for (int i = 0; i < 15; i++) ((int64_t *)t.data)[i] = i * 1000003LL;
  assert_int_equal(sf_npy_write(path, &t), SF_OK);
  sf_tensor r;
  assert_int_equal(sf_npy_read(path, &r), SF_OK);
  assert_int_equal(r.dtype, SF_I64);
  assert_true(sf_tensor_same_shape(&r, &t));
  assert_memory_equal(r.data, t.data, 15 * 8);
  sf_tensor_free(&r);
  /* truncated file: clear error with the byte offset */
  char *buf;
  size_t n;
  assert_int_equal(sf_read_file(path, &buf, &n), SF_OK);
  assert_int_equal(sf_npy_parse(buf, n - 9, path, &r), SF_ERR_FORMAT);
  assert_non_null(strstr(sf_last_error(), "truncated"));
  free(buf);
  /* write to an unwritable place fails cleanly */
  assert_int_equal(sf_npy_write("/nonexistent-dir/x.npy", &t), SF_ERR_IO);
  unlink(path);
  sf_tensor_free(&t);
}

static void error_context(void **st) {
  (void)st;
  sf_error(SF_ERR_FORMAT, "byte %d: bad", 17);
  sf_error_context(SF_ERR_FORMAT, "model.onnx");
  assert_string_equal(sf_last_error(), "model.onnx: byte 17: bad");
  /* a message that already names the place keeps one prefix; a longer name is still added */
  sf_error_context(SF_ERR_FORMAT, "model.onnx");
  assert_string_equal(sf_last_error(), "model.onnx: byte 17: bad");
  sf_error_context(SF_ERR_FORMAT, "model");
  assert_string_equal(sf_last_error(), "model: model.onnx: byte 17: bad");
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(tensor_basics), cmocka_unit_test(spikes_roundtrip), cmocka_unit_test(config_json),
    cmocka_unit_test(rng_deterministic), cmocka_unit_test(npy_roundtrip_and_atomic), cmocka_unit_test(error_context),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Inference on given inputs: an ANN by the float executor with inputs matched by name, and a
 * converted model through a backend (static input or clips). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "spikeformer/infer.h"
#include "spikeformer/session.h"

void sf_infer_outputs_free(sf_tensor *outputs, int n) {
  for (int i = 0; outputs && i < n; i++) sf_tensor_free(&outputs[i]);
  free(outputs);
}

/* values[k] as graph input `slot` wants it: cast to its dtype (integers from whole floats only) and
 * token sequences checked against the position table. *t receives a tensor of its own. */
static sf_status prepare_input(const sf_graph *g, int slot, const sf_tensor *value, const char *origin, sf_tensor *t) {
  const char *src = sf_graph_source(g), *name = sf_graph_input_name(g, slot);
  char where[600];
  if (origin) snprintf(where, sizeof where, "%s", origin);
  else snprintf(where, sizeof where, "input '%s'", name);
  sf_tensor want = sf_graph_input_desc(g, slot);
  sf_status st;
  if (want.ndim >= 0 && value->dtype != want.dtype) {
    if (sf_dtype_is_float(value->dtype) && !sf_dtype_is_float(want.dtype))
      /* token ids and the like: a float tensor must hold whole numbers */
      for (int64_t e = 0; e < sf_tensor_numel(value); e++) {
        double x = sf_tensor_get_f(value, e);
        if (!sf_whole_in(x, -9.0e15, 9.0e15))
          return sf_error(SF_ERR_VALUE, "%s: element %lld is %g, but input '%s' is %s: whole numbers only", where, (long long)e, x, name,
                          sf_dtype_name(want.dtype));
      }
    if ((st = sf_tensor_cast(t, value, want.dtype))) return st;
  } else if ((st = sf_tensor_clone(t, value))) {
    return st;
  }
  /* token ids longer than the position table: say so here, not as a broadcast error deep inside */
  const int64_t maxp = sf_graph_max_positions(g);
  if (maxp > 0 && !sf_dtype_is_float(t->dtype) && t->ndim == 2 && t->shape[1] > maxp) {
    st = sf_error(SF_ERR_SHAPE, "%s: %lld tokens per sequence, but %s's position table covers %lld", where, (long long)t->shape[1], src, (long long)maxp);
    sf_tensor_free(t);
    return st;
  }
  return SF_OK;
}

sf_status sf_infer(const sf_graph *g, int n_given, const char *const *names, const sf_tensor *values, const char *const *origins,
                   sf_tensor **outputs, int *n_outputs) {
  *outputs = NULL;
  *n_outputs = 0;
  const char *src = sf_graph_source(g);
  const int ni = sf_graph_num_inputs(g), no = sf_graph_num_outputs(g);
  sf_tensor *in = calloc((size_t)(ni ? ni : 1), sizeof *in), *out = calloc((size_t)(no ? no : 1), sizeof *out);
  int *have = calloc((size_t)(ni ? ni : 1), sizeof *have);
  sf_session *s = NULL;
  sf_status st = in && out && have ? SF_OK : sf_error(SF_ERR_NOMEM, "out of memory");
  for (int k = 0, pos = 0; k < n_given && !st; k++) {
    int slot = -1;
    if (names && names[k]) {
      for (int i = 0; i < ni; i++) if (!strcmp(sf_graph_input_name(g, i), names[k])) slot = i;
      if (slot < 0) {
        char list[512] = "";
        for (int i = 0; i < ni; i++) {
          strncat(list, sf_graph_input_name(g, i), sizeof list - strlen(list) - 1);
          if (i + 1 < ni) strncat(list, ", ", sizeof list - strlen(list) - 1);
        }
        st = sf_error(SF_ERR_ARG, "%s: the model has no input named '%s' (inputs: %s)", src, names[k], ni ? list : "none");
        break;
      }
    } else {
      while (pos < ni && have[pos]) pos++;
      if (pos >= ni) { st = sf_error(SF_ERR_ARG, "%s: more inputs given than the model takes (%d)", src, ni); break; }
      slot = pos;
    }
    if (have[slot]) { st = sf_error(SF_ERR_ARG, "input '%s' given twice", sf_graph_input_name(g, slot)); break; }
    if ((st = prepare_input(g, slot, &values[k], origins ? origins[k] : NULL, &in[slot]))) break;
    have[slot] = 1;
  }
  for (int i = 0; i < ni && !st; i++) {
    if (have[i]) continue;
    if (!strcmp(sf_graph_input_name(g, i), "attention_mask")) {
      /* all ones, shaped like input_ids */
      int ids = -1;
      for (int k = 0; k < ni; k++) if (have[k] && !strcmp(sf_graph_input_name(g, k), "input_ids")) ids = k;
      if (ids >= 0) {
        if ((st = sf_tensor_alloc(&in[i], SF_I64, in[ids].ndim, in[ids].shape))) break;
        for (int64_t e = 0; e < sf_tensor_numel(&in[i]); e++) ((int64_t *)in[i].data)[e] = 1;
        have[i] = 1;
        continue;
      }
    }
    st = sf_error(SF_ERR_ARG, "%s: no value for input '%s'", src, sf_graph_input_name(g, i));
  }
  if (!st) st = sf_session_create(g, NULL, &s);
  if (!st && (st = sf_session_run(s, in, out))) sf_error_context(st, "%s", src);
  sf_session_free(s);
  for (int i = 0; in && i < ni; i++) sf_tensor_free(&in[i]);
  free(in);
  free(have);
  if (st) {
    sf_infer_outputs_free(out, no);
    return st;
  }
  *outputs = out;
  *n_outputs = no;
  return SF_OK;
}

typedef struct {
  sf_tensor *out;
} keep_ctx;

/* keeps the decoded output of the latest step */
static int keep_last(int t, const sf_tensor *dec, void *u) {
  (void)t;
  keep_ctx *k = u;
  memcpy(k->out->data, dec->data, sf_tensor_nbytes(dec));
  return 0;
}

/* compile + deploy for `batch` samples and allocate the decoded output */
static sf_status prepare_snn(const sf_snn_model *m, const char *backend, const sf_backend_options *o, int64_t batch, sf_compiled **c, sf_deployed **d,
                             sf_tensor *out) {
  const sf_backend *be;
  sf_graph *g = NULL;
  sf_status st;
  if ((st = sf_backend_find(backend ? backend : "cpu", &be)) || (st = sf_backend_compile(be, m, o, c)) || (st = sf_backend_deploy(*c, batch, d)) ||
      (st = sf_snn_model_build(m, batch, &g)))
    return st;
  sf_tensor desc = sf_graph_output_desc(g, 0);
  st = sf_tensor_alloc(out, SF_F32, desc.ndim, desc.shape);
  sf_graph_free(g);
  return st;
}

/* x as float32, deploy for its batch, run T steps (clips: T = x's second dimension) and keep the
 * decoded output of the last step in out */
static sf_status run_snn(const sf_snn_model *m, const char *backend, const sf_backend_options *o, const sf_tensor *x_in, int T, int clips,
                         sf_tensor *out) {
  sf_tensor x = *x_in, cast = {0};
  x.owns_data = 0;
  sf_compiled *c = NULL;
  sf_deployed *d = NULL;
  sf_status st = SF_OK;
  if (x.dtype != SF_F32) {
    if ((st = sf_tensor_cast(&cast, x_in, SF_F32))) return st;
    x = cast;
    x.owns_data = 0;
  }
  if (!(st = prepare_snn(m, backend, o, x.shape[0], &c, &d, out))) {
    keep_ctx kc = {out};
    st = clips ? sf_backend_execute_frames(d, &x, keep_last, &kc) : sf_backend_execute(d, &x, T, keep_last, &kc);
  }
  sf_deployed_free(d);
  sf_compiled_free(c);
  sf_tensor_free(&cast);
  if (st) sf_tensor_free(out);
  return st;
}

sf_status sf_infer_snn(const sf_snn_model *m, const char *backend, const sf_backend_options *o, const sf_tensor *x, int T, sf_tensor *out) {
  memset(out, 0, sizeof *out);
  if (T <= 0) T = sf_snn_model_options(m)->snn.timesteps;
  if (x->ndim < 1) return sf_error(SF_ERR_SHAPE, "SNN input needs a batch dimension");
  if (x->shape[0] == 0) return sf_error(SF_ERR_SHAPE, "SNN input holds no samples (batch dimension 0)");
  return run_snn(m, backend, o, x, T, 0, out);
}

sf_status sf_infer_snn_frames(const sf_snn_model *m, const char *backend, const sf_backend_options *o, const sf_tensor *clips, sf_tensor *out) {
  memset(out, 0, sizeof *out);
  if (clips->ndim < 2 || clips->shape[0] < 1 || clips->shape[1] < 1)
    return sf_error(SF_ERR_SHAPE, "SNN clips: expected [batch, T, the input's shape] with batch and T at least 1");
  return run_snn(m, backend, o, clips, 0, 1, out);
}

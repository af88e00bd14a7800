/* libFuzzer: ONNX model bytes -> import -> (if it imports) specialise at batch 1 and run once on zeros. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "spikeformer/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sf_tensor_set_alloc_limit((size_t)64 << 20);
  sf_graph *g = NULL;
  if (sf_graph_load_onnx_buffer(data, size, "fuzz.onnx", &g) != SF_OK) return 0;
  int ni = sf_graph_num_inputs(g);
  if (ni <= 8) {
    sf_tensor in[8] = {{0}};
    int ok = 1;
    for (int i = 0; i < ni && ok; i++) {
      sf_tensor d = sf_graph_input_desc(g, i);
      if (d.ndim < 0) { ok = 0; break; }
      for (int k = 0; k < d.ndim; k++) if (d.shape[k] < 0) d.shape[k] = 1;
      if (sf_shape_numel(d.ndim, d.shape) > (1 << 16) || sf_tensor_alloc(&in[i], d.dtype, d.ndim, d.shape)) ok = 0;
    }
    if (ok) {
      sf_session *s;
      if (sf_session_create(g, NULL, &s) == SF_OK) {
        sf_tensor out[64] = {{0}};
        if (sf_graph_num_outputs(g) <= 64 && sf_session_run(s, in, out) == SF_OK)
          for (int k = 0; k < sf_graph_num_outputs(g); k++) sf_tensor_free(&out[k]);
        sf_session_free(s);
      }
    }
    for (int i = 0; i < ni; i++) sf_tensor_free(&in[i]);
  }
  sf_graph_free(g);
  return 0;
}

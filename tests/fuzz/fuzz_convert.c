/* libFuzzer: ONNX model bytes -> import -> convert (calibrated on a few synthetic samples shaped
 * like its first input) -> build the spiking graph at batch 2 -> run 3 timesteps and a clip of two
 * frames, float and int8, rate- and delta-coded.
 * Every stage may refuse the model with an error; none may crash, leak or hit undefined behaviour. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "spikeformer/convert.h"
#include "spikeformer/dataset.h"
#include "spikeformer/snn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sf_tensor_set_alloc_limit((size_t)64 << 20);
  sf_graph *g = NULL;
  if (sf_graph_load_onnx_buffer(data, size, "fuzz.onnx", &g) != SF_OK) return 0;
  if (sf_graph_num_inputs(g) != 1) goto out;
  sf_tensor d = sf_graph_input_desc(g, 0);
  if (d.dtype != SF_F32 || d.ndim < 2 || d.ndim > 4) goto out;
  /* samples shaped like the input without its batch dimension: [C, H, W], [H, W] or [F] */
  int64_t dims[3] = {1, 1, 1};
  for (int k = 1; k < d.ndim; k++) dims[3 - d.ndim + k] = d.shape[k] < 1 ? 1 : d.shape[k];
  const int64_t per = dims[0] * dims[1] * dims[2], n = 4;
  if (per > 4096) goto out;
  sf_dataset calib = {n, dims[0], dims[1], dims[2], calloc((size_t)(n * per), sizeof(float)), calloc((size_t)n, sizeof(int32_t)), 1, NULL};
  if (!calib.x || !calib.labels) goto done;
  for (int64_t i = 0; i < n * per; i++) calib.x[i] = (float)((i * 37) % 11) / 10.0f - 0.3f;
  sf_convert_options o;
  sf_convert_options_default(&o);
  o.calib_samples = (int)n;
  o.calib_batch = 2;
  sf_snn_model *m = NULL;
  if (sf_convert(g, &calib, &o, &m) == SF_OK) {
    sf_graph *sg = NULL;
    if (sf_snn_model_build(m, 2, &sg) == SF_OK) {
      sf_tensor x = sf_graph_input_desc(sg, 0);
      if (sf_tensor_numel(&x) > 0 && sf_tensor_numel(&x) <= 2 * per && sf_tensor_alloc(&x, SF_F32, x.ndim, x.shape) == SF_OK) {
        memcpy(x.data, calib.x, sizeof(float) * (size_t)sf_tensor_numel(&x));
        for (int run = 0; run < 4; run++) {
          const int bits = run & 1 ? 8 : 0;
          sf_snn_session *s = NULL;
          sf_spiking_config cfg = o.snn;
          cfg.coding = run & 2 ? SF_CODING_DELTA : SF_CODING_RATE; /* the runtime's two codings on the same graph */
          if (sf_snn_session_create(sg, &cfg, SF_DECODE_MEMBRANE, &s) == SF_OK) {
            if (!bits || sf_snn_set_quant(s, 8) == SF_OK) {
              sf_snn_run(s, &x, 3, NULL, NULL);
              /* a clip of two frames per sample: the input, then the input with one element changed */
              sf_tensor c = {0};
              int64_t cs[SF_MAX_DIMS] = {x.shape[0], 2};
              for (int k = 1; k < x.ndim; k++) cs[k + 1] = x.shape[k];
              const int64_t fr = sf_tensor_numel(&x) / (x.shape[0] ? x.shape[0] : 1);
              if (x.ndim + 1 <= SF_MAX_DIMS && fr > 0 && sf_tensor_alloc(&c, SF_F32, x.ndim + 1, cs) == SF_OK) {
                float *cd = c.data;
                for (int64_t b = 0; b < x.shape[0]; b++) {
                  memcpy(cd + 2 * b * fr, (float *)x.data + b * fr, sizeof(float) * (size_t)fr);
                  memcpy(cd + (2 * b + 1) * fr, (float *)x.data + b * fr, sizeof(float) * (size_t)fr);
                  cd[(2 * b + 1) * fr] += 0.5f;
                }
                sf_snn_run_frames(s, &c, NULL, NULL);
                sf_tensor_free(&c);
              }
            }
            sf_snn_session_free(s);
          }
        }
        sf_tensor_free(&x);
      }
      sf_graph_free(sg);
    }
    sf_snn_model_free(m);
  }
done:
  free(calib.x);
  free(calib.labels);
out:
  sf_graph_free(g);
  return 0;
}

/* libFuzzer: a converted model file whose THRS (thresholds) or CONF (options) section is replaced by
 * the input and re-signed, so the checksum holds -> load -> build the spiking graph. The first byte
 * picks the section. A model file that someone edited and re-signed must be refused by name or
 * work; it must never crash or reach undefined behaviour. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "graph/graph.h"
#include "spikeformer/convert.h"
#include "spikeformer/dataset.h"
#include "../sfm_resign.h"

/* the shipped MLP, converted once (8 synthetic calibration samples) and saved: the file every input edits */
static unsigned char *base;
static size_t base_n;
static char path[256];

static int make_base(void) {
  sf_graph *g = NULL;
  if (sf_graph_load(SF_SOURCE_DIR "/models/mlp/model.onnx", &g)) return -1;
  sf_dataset calib = {8, 1, 28, 28, calloc(8 * 784, sizeof(float)), calloc(8, sizeof(int32_t)), 1, NULL};
  for (int i = 0; i < 8 * 784; i++) calib.x[i] = (float)(i % 13) / 13.0f;
  sf_convert_options o;
  sf_convert_options_default(&o);
  o.calib_samples = 8;
  sf_snn_model *m = NULL;
  snprintf(path, sizeof path, "/tmp/fuzz_sfm_%d.sfm", (int)getpid());
  int ok = !sf_convert(g, &calib, &o, &m) && !sf_snn_model_save(m, path) && !sf_read_file(path, (char **)&base, &base_n);
  sf_snn_model_free(m);
  free(calib.x);
  free(calib.labels);
  sf_graph_free(g);
  return ok ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!base && make_base()) abort();
  if (size < 1) return 0;
  char *text = malloc(size);
  memcpy(text, data + 1, size - 1);
  text[size - 1] = 0;
  size_t n;
  unsigned char *f = resigned_sfm(base, base_n, data[0] & 1 ? "CONF" : "THRS", text, &n);
  if (sf_write_file_atomic(path, f, n) == SF_OK) {
    sf_snn_model *m = NULL;
    if (sf_snn_model_load(path, &m) == SF_OK) {
      sf_graph *g = NULL;
      if (sf_snn_model_build(m, 1, &g) == SF_OK) sf_graph_free(g);
      sf_snn_model_free(m);
    }
  }
  free(f);
  free(text);
  return 0;
}

/* libFuzzer: NPY bytes -> parser (the format `run --input` and NPY datasets read). */
#include <stdint.h>
#include <stdlib.h>

#include "spikeformer/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sf_tensor t = {0};
  if (sf_npy_parse(data, size, "fuzz.npy", &t) == SF_OK) sf_tensor_free(&t);
  return 0;
}

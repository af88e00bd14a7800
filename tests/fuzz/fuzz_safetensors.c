/* libFuzzer: safetensors bytes -> parser. */
#include <stdint.h>
#include <stdlib.h>

#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sf_safetensors s = {0};
  sf_safetensors_parse(data, size, "fuzz.safetensors", &s);
  sf_safetensors_free(&s);
  return 0;
}

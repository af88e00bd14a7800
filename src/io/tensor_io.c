#include "spikeformer/tensor_io.h"

#include <string.h>

#include "core/util.h"
#include "io/onnx_tensor.h"
#include "spikeformer/npy.h"

sf_status sf_tensor_read_file(const char *path, sf_tensor *out, char **name) {
  if (name) *name = NULL;
  if (sf_str_ends_with(path, ".npy")) return sf_npy_read(path, out);
  if (sf_str_ends_with(path, ".pb")) return sf_onnx_read_tensor_file(path, out, name);
  return sf_error(SF_ERR_ARG, "%s: unknown tensor file type (expected .npy or .pb)", path);
}

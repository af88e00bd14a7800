/* Reading tensors from files: .npy, or ONNX TensorProto (.pb). */
#ifndef SPIKEFORMER_TENSOR_IO_H
#define SPIKEFORMER_TENSOR_IO_H
#include "spikeformer/export.h"
#include "spikeformer/tensor.h"
#ifdef __cplusplus
extern "C" {
#endif

/* name (may be NULL) receives the tensor's own name for .pb files (caller frees). */
SF_API sf_status sf_tensor_read_file(const char *path, sf_tensor *out, char **name);

#ifdef __cplusplus
}
#endif
#endif

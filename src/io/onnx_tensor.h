/* ONNX TensorProto <-> sf_tensor. */
#ifndef SF_IO_ONNX_TENSOR_H
#define SF_IO_ONNX_TENSOR_H
#include "onnx.pb-c.h"
#include "spikeformer/tensor.h"

/* Convert a TensorProto (raw_data, typed fields, or external data relative to base_dir). `what` names
 * it in errors. */
sf_status sf_onnx_tensor_to_sf(const Onnx__TensorProto *tp, const char *base_dir, const char *what, sf_tensor *out);
/* ONNX elem_type -> sf_dtype; -1 if unsupported. */
int sf_onnx_dtype(int32_t elem_type, sf_dtype *out);
/* Read a TensorProto file (.pb) into a tensor; name receives the proto's name (may be NULL). */
sf_status sf_onnx_read_tensor_file(const char *path, sf_tensor *out, char **name);

#endif

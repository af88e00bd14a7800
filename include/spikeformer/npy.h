/* NumPy .npy files (format versions 1-3, little-endian, C order). */
#ifndef SPIKEFORMER_NPY_H
#define SPIKEFORMER_NPY_H
#include "spikeformer/export.h"
#include <stddef.h>

#include "spikeformer/tensor.h"
#ifdef __cplusplus
extern "C" {
#endif

SF_API sf_status sf_npy_read(const char *path, sf_tensor *out);
SF_API sf_status sf_npy_parse(const void *data, size_t size, const char *name, sf_tensor *out);
/* Written atomically (temp file + rename). */
SF_API sf_status sf_npy_write(const char *path, const sf_tensor *t);

#ifdef __cplusplus
}
#endif
#endif

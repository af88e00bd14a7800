/* Dense n-dimensional tensors (row-major, contiguous).
 * A tensor with data == NULL is a descriptor: dtype and shape only (used by shape inference). */
#ifndef SPIKEFORMER_TENSOR_H
#define SPIKEFORMER_TENSOR_H
#include "spikeformer/export.h"
#include <stddef.h>
#include <stdint.h>

#include "spikeformer/status.h"
#ifdef __cplusplus
extern "C" {
#endif

#define SF_MAX_DIMS 8

typedef enum {
  SF_F32 = 0, SF_F64, SF_I8, SF_I16, SF_I32, SF_I64, SF_U8, SF_BOOL, SF_DTYPE_COUNT
} sf_dtype;

typedef struct sf_tensor {
  sf_dtype dtype;
  int ndim;                      /* -1: rank unknown */
  int64_t shape[SF_MAX_DIMS];    /* -1: dimension unknown */
  void *data;                    /* NULL for a descriptor */
  int owns_data;                 /* data is freed by sf_tensor_free */
} sf_tensor;

SF_API size_t sf_dtype_size(sf_dtype t);
SF_API const char *sf_dtype_name(sf_dtype t);
SF_API int sf_dtype_is_float(sf_dtype t);

SF_API int64_t sf_shape_numel(int ndim, const int64_t *shape);
SF_API int64_t sf_tensor_numel(const sf_tensor *t);
SF_API size_t sf_tensor_nbytes(const sf_tensor *t);
SF_API int sf_tensor_shape_known(const sf_tensor *t);
SF_API int sf_tensor_same_shape(const sf_tensor *a, const sf_tensor *b);

/* Largest single tensor allocation allowed, in bytes (default 16 GiB). Guards against absurd
 * shapes in untrusted models. */
SF_API void sf_tensor_set_alloc_limit(size_t bytes);
/* Bytes a tensor of this dtype/shape needs; fails if unknown, overflowing or above the limit. */
SF_API sf_status sf_tensor_check_size(sf_dtype dtype, int ndim, const int64_t *shape, size_t *bytes);

/* Set dtype/shape (descriptor only; data untouched). */
SF_API void sf_tensor_describe(sf_tensor *t, sf_dtype dtype, int ndim, const int64_t *shape);
/* Allocate zeroed storage for the given dtype/shape. */
SF_API sf_status sf_tensor_alloc(sf_tensor *t, sf_dtype dtype, int ndim, const int64_t *shape);
/* Deep copy (descriptor and data). */
SF_API sf_status sf_tensor_clone(sf_tensor *dst, const sf_tensor *src);
/* Convert to another dtype (allocates dst). */
SF_API sf_status sf_tensor_cast(sf_tensor *dst, const sf_tensor *src, sf_dtype to);
SF_API void sf_tensor_free(sf_tensor *t);

/* Element i as double / int64 whatever the dtype (for small shape tensors). */
SF_API double sf_tensor_get_f(const sf_tensor *t, int64_t i);
SF_API int64_t sf_tensor_get_i(const sf_tensor *t, int64_t i);

/* "[2,3,4]" into buf; returns buf. */
SF_API char *sf_shape_str(int ndim, const int64_t *shape, char *buf, size_t n);
/* Index of the first non-finite element of a float tensor, or -1. */
SF_API int64_t sf_tensor_find_nonfinite(const sf_tensor *t);

#ifdef __cplusplus
}
#endif
#endif

#include "spikeformer/tensor.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t sf_dtype_size(sf_dtype t) {
  switch (t) {
    case SF_F32: return 4;
    case SF_F64: return 8;
    case SF_I8: return 1;
    case SF_I16: return 2;
    case SF_I32: return 4;
    case SF_I64: return 8;
    case SF_U8: return 1;
    case SF_BOOL: return 1;
    default: return 0;
  }
}

const char *sf_dtype_name(sf_dtype t) {
  static const char *n[] = {"f32", "f64", "i8", "i16", "i32", "i64", "u8", "bool"};
  return (t >= 0 && t < SF_DTYPE_COUNT) ? n[t] : "?";
}

int sf_dtype_is_float(sf_dtype t) { return t == SF_F32 || t == SF_F64; }

int64_t sf_shape_numel(int ndim, const int64_t *shape) {
  int64_t n = 1;
  int saturated = 0;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0) return -1;
    if (shape[i] == 0) return 0;
    if (n > INT64_MAX / shape[i]) saturated = 1; /* keep scanning: a later 0 or -1 wins */
    else n *= shape[i];
  }
  return saturated ? INT64_MAX : n;
}

int64_t sf_tensor_numel(const sf_tensor *t) {
  if (t->ndim < 0) return -1;
  return sf_shape_numel(t->ndim, t->shape);
}

size_t sf_tensor_nbytes(const sf_tensor *t) {
  int64_t n = sf_tensor_numel(t);
  return n < 0 ? 0 : (size_t)n * sf_dtype_size(t->dtype);
}

int sf_tensor_shape_known(const sf_tensor *t) { return t->ndim >= 0 && sf_tensor_numel(t) >= 0; }

int sf_tensor_same_shape(const sf_tensor *a, const sf_tensor *b) {
  if (a->ndim != b->ndim) return 0;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i]) return 0;
  return 1;
}

void sf_tensor_describe(sf_tensor *t, sf_dtype dtype, int ndim, const int64_t *shape) {
  t->dtype = dtype;
  t->ndim = ndim;
  for (int i = 0; i < ndim && i < SF_MAX_DIMS; i++) t->shape[i] = shape[i];
}

static size_t g_alloc_limit = (size_t)16 << 30;

void sf_tensor_set_alloc_limit(size_t bytes) { g_alloc_limit = bytes; }

sf_status sf_tensor_check_size(sf_dtype dtype, int ndim, const int64_t *shape, size_t *bytes) {
  if (ndim < 0 || ndim > SF_MAX_DIMS)
    return sf_error(SF_ERR_SHAPE, "tensor rank %d out of range (max %d)", ndim, SF_MAX_DIMS);
  int64_t n = sf_shape_numel(ndim, shape);
  if (n < 0) return sf_error(SF_ERR_SHAPE, "cannot allocate a tensor of unknown shape");
  if (n > ((int64_t)1 << 40) || (size_t)n * sf_dtype_size(dtype) > g_alloc_limit) {
    char s[160];
    return sf_error(SF_ERR_NOMEM, "a %s tensor of shape %s exceeds the allocation limit (%zu MiB)", sf_dtype_name(dtype),
                    sf_shape_str(ndim, shape, s, sizeof s), g_alloc_limit >> 20);
  }
  *bytes = (size_t)n * sf_dtype_size(dtype);
  return SF_OK;
}

sf_status sf_tensor_alloc(sf_tensor *t, sf_dtype dtype, int ndim, const int64_t *shape) {
  size_t bytes;
  sf_status st = sf_tensor_check_size(dtype, ndim, shape, &bytes);
  if (st) return st;
  sf_tensor_describe(t, dtype, ndim, shape);
  t->data = calloc(bytes ? bytes : 1, 1);
  if (!t->data) return sf_error(SF_ERR_NOMEM, "out of memory allocating %zu bytes", bytes);
  t->owns_data = 1;
  return SF_OK;
}

sf_status sf_tensor_clone(sf_tensor *dst, const sf_tensor *src) {
  sf_status st = sf_tensor_alloc(dst, src->dtype, src->ndim, src->shape);
  if (st) return st;
  if (src->data) memcpy(dst->data, src->data, sf_tensor_nbytes(src));
  return SF_OK;
}

void sf_tensor_free(sf_tensor *t) {
  if (!t) return;
  if (t->owns_data) free(t->data);
  t->data = NULL;
  t->owns_data = 0;
}

double sf_tensor_get_f(const sf_tensor *t, int64_t i) {
  switch (t->dtype) {
    case SF_F32: return ((const float *)t->data)[i];
    case SF_F64: return ((const double *)t->data)[i];
    case SF_I8: return ((const int8_t *)t->data)[i];
    case SF_I16: return ((const int16_t *)t->data)[i];
    case SF_I32: return ((const int32_t *)t->data)[i];
    case SF_I64: return (double)((const int64_t *)t->data)[i];
    case SF_U8: return ((const uint8_t *)t->data)[i];
    case SF_BOOL: return ((const uint8_t *)t->data)[i] != 0;
    default: return 0;
  }
}

int64_t sf_tensor_get_i(const sf_tensor *t, int64_t i) {
  switch (t->dtype) {
    case SF_F32:
    case SF_F64: {
      /* NaN reads as 0 and out-of-range values saturate: converting them is undefined in C */
      double v = t->dtype == SF_F32 ? ((const float *)t->data)[i] : ((const double *)t->data)[i];
      return v != v ? 0 : v >= 9223372036854775807.0 ? INT64_MAX : v <= -9223372036854775808.0 ? INT64_MIN : (int64_t)v;
    }
    case SF_I8: return ((const int8_t *)t->data)[i];
    case SF_I16: return ((const int16_t *)t->data)[i];
    case SF_I32: return ((const int32_t *)t->data)[i];
    case SF_I64: return ((const int64_t *)t->data)[i];
    case SF_U8: return ((const uint8_t *)t->data)[i];
    case SF_BOOL: return ((const uint8_t *)t->data)[i] != 0;
    default: return 0;
  }
}

/* v clamped to [lo, hi]: a float converted to an integer type it does not fit is undefined in C,
 * so casts saturate instead */
static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

static void set_from_double(void *data, sf_dtype t, int64_t i, double v) {
  switch (t) {
    case SF_F32: ((float *)data)[i] = (float)clampd(v, -FLT_MAX, FLT_MAX); break;
    case SF_F64: ((double *)data)[i] = v; break;
    case SF_I8: ((int8_t *)data)[i] = (int8_t)clampd(v, INT8_MIN, INT8_MAX); break;
    case SF_I16: ((int16_t *)data)[i] = (int16_t)clampd(v, INT16_MIN, INT16_MAX); break;
    case SF_I32: ((int32_t *)data)[i] = (int32_t)clampd(v, INT32_MIN, INT32_MAX); break;
    case SF_I64: ((int64_t *)data)[i] = v >= 9223372036854775807.0 ? INT64_MAX : v <= -9223372036854775808.0 ? INT64_MIN : (int64_t)v; break;
    case SF_U8: ((uint8_t *)data)[i] = (uint8_t)clampd(v, 0, UINT8_MAX); break;
    case SF_BOOL: ((uint8_t *)data)[i] = v != 0; break;
    default: break;
  }
}

sf_status sf_tensor_cast(sf_tensor *dst, const sf_tensor *src, sf_dtype to) {
  sf_status st = sf_tensor_alloc(dst, to, src->ndim, src->shape);
  if (st) return st;
  int64_t n = sf_tensor_numel(src);
  if (src->dtype == to) {
    memcpy(dst->data, src->data, sf_tensor_nbytes(src));
  } else if (src->dtype == SF_I64 && to != SF_F32 && to != SF_F64) {
    for (int64_t i = 0; i < n; i++) {
      int64_t v = ((const int64_t *)src->data)[i];
      if (to == SF_BOOL) ((uint8_t *)dst->data)[i] = v != 0;
      else if (to == SF_I32) ((int32_t *)dst->data)[i] = (int32_t)v;
      else set_from_double(dst->data, to, i, (double)v);
    }
  } else if (to == SF_I64 && src->dtype != SF_F32 && src->dtype != SF_F64) {
    for (int64_t i = 0; i < n; i++) ((int64_t *)dst->data)[i] = sf_tensor_get_i(src, i);
  } else if (to == SF_BOOL) {
    for (int64_t i = 0; i < n; i++) ((uint8_t *)dst->data)[i] = sf_tensor_get_f(src, i) != 0;
  } else {
    for (int64_t i = 0; i < n; i++) {
      double v = sf_tensor_get_f(src, i);
      if (!sf_dtype_is_float(to) && !isfinite(v)) v = 0; /* float->int of NaN/Inf is undefined in C */
      set_from_double(dst->data, to, i, v);
    }
  }
  return SF_OK;
}

char *sf_shape_str(int ndim, const int64_t *shape, char *buf, size_t n) {
  size_t k = 0;
  if (n == 0) return buf;
  buf[0] = 0;
  if (ndim < 0) { snprintf(buf, n, "[?]"); return buf; }
  k += (size_t)snprintf(buf + k, n - k, "[");
  for (int i = 0; i < ndim && k < n; i++) {
    if (shape[i] < 0) k += (size_t)snprintf(buf + k, n - k, "%s?", i ? "," : "");
    else k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? "," : "", (long long)shape[i]);
  }
  if (k < n) snprintf(buf + k, n - k, "]");
  return buf;
}

int64_t sf_tensor_find_nonfinite(const sf_tensor *t) {
  int64_t n = sf_tensor_numel(t);
  if (!t->data) return -1;
  if (t->dtype == SF_F32) {
    /* blocks scanned without an early exit (vectorised: exponent bits all ones = NaN or infinity),
     * the offending block searched again */
    const uint32_t *u = t->data;
    for (int64_t b0 = 0; b0 < n; b0 += 4096) {
      const int64_t b1 = b0 + 4096 < n ? b0 + 4096 : n;
      uint32_t any = 0;
      for (int64_t i = b0; i < b1; i++) any |= (u[i] & 0x7f800000u) == 0x7f800000u;
      if (any)
        for (int64_t i = b0; i < b1; i++)
          if ((u[i] & 0x7f800000u) == 0x7f800000u) return i;
    }
  } else if (t->dtype == SF_F64) {
    const double *p = t->data;
    for (int64_t i = 0; i < n; i++) if (!isfinite(p[i])) return i;
  }
  return -1;
}

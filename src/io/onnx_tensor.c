#include "io/onnx_tensor.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

int sf_onnx_dtype(int32_t elem_type, sf_dtype *out) {
  switch (elem_type) {
    case 1: *out = SF_F32; return 0;
    case 2: *out = SF_U8; return 0;
    case 3: *out = SF_I8; return 0;
    case 5: *out = SF_I16; return 0;
    case 6: *out = SF_I32; return 0;
    case 7: *out = SF_I64; return 0;
    case 9: *out = SF_BOOL; return 0;
    case 10: *out = SF_F32; return 0; /* float16, widened on load */
    case 11: *out = SF_F64; return 0;
    default: return -1;
  }
}

static float half_to_float(uint16_t h) {
  uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 0x1f, m = h & 0x3ff, bits;
  if (e == 0) {
    if (m == 0) bits = s;
    else { /* subnormal */
      float f = ldexpf((float)m, -24);
      return s ? -f : f;
    }
  } else if (e == 31) bits = s | 0x7f800000u | (m << 13);
  else bits = s | ((e + 112) << 23) | (m << 13);
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

static sf_status read_external(const Onnx__TensorProto *tp, const char *base_dir, const char *what, void *dst, size_t nbytes) {
  const char *loc = NULL;
  long long offset = 0, length = -1;
  for (size_t i = 0; i < tp->n_external_data; i++) {
    const char *k = tp->external_data[i]->key, *v = tp->external_data[i]->value;
    if (!k || !v) continue;
    if (!strcmp(k, "location")) loc = v;
    else if (!strcmp(k, "offset")) offset = atoll(v);
    else if (!strcmp(k, "length")) length = atoll(v);
  }
  if (!loc) return sf_error(SF_ERR_FORMAT, "%s: external data without a location", what);
  if (strstr(loc, "..") || loc[0] == '/') return sf_error(SF_ERR_FORMAT, "%s: external data location '%s' leaves the model directory", what, loc);
  if (length >= 0 && (size_t)length != nbytes)
    return sf_error(SF_ERR_FORMAT, "%s: external length %lld, expected %zu bytes", what, length, nbytes);
  char *path = sf_strfmt("%s/%s", base_dir ? base_dir : ".", loc);
  FILE *f = path ? fopen(path, "rb") : NULL;
  if (!f) { sf_status st = sf_error(SF_ERR_IO, "%s: cannot open external data file %s", what, path ? path : loc); free(path); return st; }
  int ok = fseek(f, offset, SEEK_SET) == 0 && fread(dst, 1, nbytes, f) == nbytes;
  fclose(f);
  sf_status st = ok ? SF_OK : sf_error(SF_ERR_FORMAT, "%s: external data file %s is shorter than offset %lld + %zu bytes", what, path, offset, nbytes);
  free(path);
  return st;
}

sf_status sf_onnx_tensor_to_sf(const Onnx__TensorProto *tp, const char *base_dir, const char *what, sf_tensor *out) {
  sf_dtype dt;
  memset(out, 0, sizeof *out);
  if (sf_onnx_dtype(tp->data_type, &dt))
    return sf_error(SF_ERR_UNSUPPORTED, "%s: ONNX data type %d is not supported", what, (int)tp->data_type);
  if (tp->n_dims > SF_MAX_DIMS) return sf_error(SF_ERR_UNSUPPORTED, "%s: rank %zu above %d", what, tp->n_dims, SF_MAX_DIMS);
  int64_t shape[SF_MAX_DIMS];
  for (size_t i = 0; i < tp->n_dims; i++) {
    if (tp->dims[i] < 0) return sf_error(SF_ERR_FORMAT, "%s: negative dimension %lld", what, (long long)tp->dims[i]);
    shape[i] = tp->dims[i];
  }
  sf_status st = sf_tensor_alloc(out, dt, (int)tp->n_dims, shape);
  if (st) return sf_error_context(st, "%s", what);
  int64_t n = sf_tensor_numel(out);
  int is_half = tp->data_type == 10;
  size_t esz = is_half ? 2 : sf_dtype_size(dt), nbytes = (size_t)n * esz;
  if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
    void *tmp = is_half ? malloc(nbytes ? nbytes : 1) : out->data;
    if (!tmp) { sf_tensor_free(out); return sf_error(SF_ERR_NOMEM, "%s: out of memory", what); }
    st = read_external(tp, base_dir, what, tmp, nbytes);
    if (!st && is_half) for (int64_t i = 0; i < n; i++) ((float *)out->data)[i] = half_to_float(((uint16_t *)tmp)[i]);
    if (is_half) free(tmp);
    if (st) sf_tensor_free(out);
    return st;
  }
  if (tp->has_raw_data) {
    if (tp->raw_data.len != nbytes) {
      sf_tensor_free(out);
      return sf_error(SF_ERR_FORMAT, "%s: raw_data holds %zu bytes, shape needs %zu", what, tp->raw_data.len, nbytes);
    }
    if (is_half) {
      for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, tp->raw_data.data + 2 * i, 2);
        ((float *)out->data)[i] = half_to_float(h);
      }
    } else if (nbytes) {
      memcpy(out->data, tp->raw_data.data, nbytes);
    }
    return SF_OK;
  }
  size_t have;
  switch (tp->data_type) {
    case 1: have = tp->n_float_data; break;
    case 7: have = tp->n_int64_data; break;
    case 11: have = tp->n_double_data; break;
    default: have = tp->n_int32_data; break;
  }
  if ((int64_t)have != n) {
    sf_tensor_free(out);
    return sf_error(SF_ERR_FORMAT, "%s: holds %zu values, shape needs %lld", what, have, (long long)n);
  }
  for (int64_t i = 0; i < n; i++) {
    switch (tp->data_type) {
      case 1: ((float *)out->data)[i] = tp->float_data[i]; break;
      case 7: ((int64_t *)out->data)[i] = tp->int64_data[i]; break;
      case 11: ((double *)out->data)[i] = tp->double_data[i]; break;
      case 10: ((float *)out->data)[i] = half_to_float((uint16_t)tp->int32_data[i]); break;
      case 6: ((int32_t *)out->data)[i] = tp->int32_data[i]; break;
      case 5: ((int16_t *)out->data)[i] = (int16_t)tp->int32_data[i]; break;
      case 3: ((int8_t *)out->data)[i] = (int8_t)tp->int32_data[i]; break;
      default: ((uint8_t *)out->data)[i] = (uint8_t)tp->int32_data[i]; break;
    }
  }
  return SF_OK;
}

sf_status sf_onnx_read_tensor_file(const char *path, sf_tensor *out, char **name) {
  char *buf;
  size_t n;
  sf_status st = sf_read_file(path, &buf, &n);
  if (st) return st;
  Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, n, (const uint8_t *)buf);
  free(buf);
  if (!tp) return sf_error(SF_ERR_FORMAT, "%s: not a valid ONNX TensorProto (protobuf parse failed)", path);
  if (name) *name = tp->name && *tp->name ? sf_strdup(tp->name) : NULL;
  st = sf_onnx_tensor_to_sf(tp, NULL, path, out);
  onnx__tensor_proto__free_unpacked(tp, NULL);
  return st;
}

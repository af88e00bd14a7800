#include "spikeformer/npy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

static int descr_dtype(const char *d, sf_dtype *out) {
  static const struct { const char *s; sf_dtype t; } map[] = {
    {"<f4", SF_F32}, {"<f8", SF_F64}, {"<i8", SF_I64}, {"<i4", SF_I32}, {"<i2", SF_I16}, {"|i1", SF_I8},
    {"|u1", SF_U8}, {"|b1", SF_BOOL}, {"<u1", SF_U8}, {"<i1", SF_I8}};
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (!strcmp(d, map[i].s)) { *out = map[i].t; return 0; }
  return -1;
}

static const char *dtype_descr(sf_dtype t) {
  switch (t) {
    case SF_F32: return "<f4";
    case SF_F64: return "<f8";
    case SF_I64: return "<i8";
    case SF_I32: return "<i4";
    case SF_I16: return "<i2";
    case SF_I8: return "|i1";
    case SF_U8: return "|u1";
    case SF_BOOL: return "|b1";
    default: return NULL;
  }
}

sf_status sf_npy_parse(const void *data, size_t size, const char *name, sf_tensor *out) {
  const unsigned char *p = data;
  memset(out, 0, sizeof *out);
  if (size < 10 || memcmp(p, "\x93NUMPY", 6) != 0) return sf_error(SF_ERR_FORMAT, "%s: not a .npy file (bad magic at byte 0)", name);
  int major = p[6];
  size_t hlen, hoff;
  if (major == 1) { hlen = (size_t)p[8] | ((size_t)p[9] << 8); hoff = 10; }
  else if (major == 2 || major == 3) {
    if (size < 12) return sf_error(SF_ERR_FORMAT, "%s: truncated header", name);
    hlen = (size_t)p[8] | ((size_t)p[9] << 8) | ((size_t)p[10] << 16) | ((size_t)p[11] << 24);
    hoff = 12;
  } else return sf_error(SF_ERR_FORMAT, "%s: unsupported .npy version %d (byte 6)", name, major);
  if (hlen > size - hoff) return sf_error(SF_ERR_FORMAT, "%s: header of %zu bytes runs past the end of the file (%zu bytes)", name, hlen, size);
  char *h = malloc(hlen + 1);
  if (!h) return sf_error(SF_ERR_NOMEM, "out of memory");
  memcpy(h, p + hoff, hlen);
  h[hlen] = 0;
  sf_status st = SF_OK;
  char descr[16] = "";
  const char *d = strstr(h, "'descr'");
  const char *fo = strstr(h, "'fortran_order'");
  const char *sh = strstr(h, "'shape'");
  if (!d || !fo || !sh) { st = sf_error(SF_ERR_FORMAT, "%s: header lacks descr/fortran_order/shape", name); goto done; }
  if (sscanf(d, "'descr' : '%15[^']'", descr) != 1 && sscanf(d, "'descr': '%15[^']'", descr) != 1) {
    st = sf_error(SF_ERR_FORMAT, "%s: cannot read descr", name);
    goto done;
  }
  sf_dtype dt;
  if (descr_dtype(descr, &dt)) { st = sf_error(SF_ERR_UNSUPPORTED, "%s: dtype '%s' not supported (little-endian f4 f8 i8 i4 i2 i1 u1 b1)", name, descr); goto done; }
  const char *fv = fo + strlen("'fortran_order'");
  while (*fv == ':' || *fv == ' ') fv++;
  if (!strncmp(fv, "True", 4)) {
    st = sf_error(SF_ERR_UNSUPPORTED, "%s: Fortran-order arrays are not supported", name);
    goto done;
  }
  const char *q = strchr(sh, '(');
  if (!q) { st = sf_error(SF_ERR_FORMAT, "%s: cannot read shape", name); goto done; }
  q++;
  int64_t shape[SF_MAX_DIMS];
  int nd = 0;
  while (*q && *q != ')') {
    while (*q == ' ' || *q == ',') q++;
    if (*q == ')') break;
    char *end;
    long long v = strtoll(q, &end, 10);
    if (end == q || v < 0) { st = sf_error(SF_ERR_FORMAT, "%s: bad shape entry", name); goto done; }
    if (nd == SF_MAX_DIMS) { st = sf_error(SF_ERR_UNSUPPORTED, "%s: rank above %d", name, SF_MAX_DIMS); goto done; }
    shape[nd++] = v;
    q = end;
  }
  /* the data the header declares must be in the file before anything is allocated for it */
  size_t need = sf_dtype_size(dt), have = size - hoff - hlen;
  for (int i = 0; i < nd; i++) {
    if (shape[i] && need > SIZE_MAX / (size_t)shape[i]) { need = SIZE_MAX; break; }
    need *= (size_t)shape[i];
  }
  if (have < need) {
    if (need == SIZE_MAX) st = sf_error(SF_ERR_FORMAT, "%s: the shape in the header describes more bytes than any file holds", name);
    else st = sf_error(SF_ERR_FORMAT, "%s: truncated: data needs %zu bytes after byte %zu, file has %zu", name, need, hoff + hlen, have);
    goto done;
  }
  if ((st = sf_tensor_alloc(out, dt, nd, shape))) goto done;
  memcpy(out->data, p + hoff + hlen, need);
done:
  free(h);
  return st;
}

sf_status sf_npy_read(const char *path, sf_tensor *out) {
  char *buf;
  size_t n;
  sf_status st = sf_read_file(path, &buf, &n);
  if (st) return st;
  st = sf_npy_parse(buf, n, path, out);
  free(buf);
  return st;
}

sf_status sf_npy_write(const char *path, const sf_tensor *t) {
  const char *descr = dtype_descr(t->dtype);
  if (!descr) return sf_error(SF_ERR_UNSUPPORTED, "%s: cannot write dtype %s", path, sf_dtype_name(t->dtype));
  char shape[256] = "";
  size_t k = 0;
  for (int i = 0; i < t->ndim; i++) k += (size_t)snprintf(shape + k, sizeof shape - k, "%lld,%s", (long long)t->shape[i], (t->ndim > 1 && i < t->ndim - 1) ? " " : "");
  if (t->ndim > 1 && k > 0 && shape[k - 1] == ',') shape[--k] = 0;
  char header[512];
  int hl = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, shape);
  int total = 10 + hl + 1;
  int pad = (64 - total % 64) % 64;
  sf_outfile o;
  sf_status st = sf_outfile_open(&o, path);
  if (st) return st;
  uint16_t len = (uint16_t)(hl + pad + 1);
  fwrite("\x93NUMPY\x01\x00", 1, 8, o.f);
  fputc(len & 0xff, o.f);
  fputc(len >> 8, o.f);
  fwrite(header, 1, (size_t)hl, o.f);
  for (int i = 0; i < pad; i++) fputc(' ', o.f);
  fputc('\n', o.f);
  size_t nb = sf_tensor_nbytes(t);
  if (nb && fwrite(t->data, 1, nb, o.f) != nb) { sf_outfile_abort(&o); return sf_error(SF_ERR_IO, "%s: write failed", path); }
  return sf_outfile_commit(&o);
}

#include "spikeformer/dataset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/util.h"
#include "spikeformer/npy.h"

/* Read exactly n bytes from a (possibly gzip) stream; errors name the byte offset reached. */
static sf_status gz_exact(gzFile f, const char *path, void *buf, size_t n, size_t offset, const char *what) {
  size_t got = 0;
  while (got < n) {
    unsigned chunk = (unsigned)((n - got) > (1u << 30) ? (1u << 30) : (n - got));
    int r = gzread(f, (char *)buf + got, chunk);
    if (r < 0) {
      int err;
      const char *msg = gzerror(f, &err);
      return sf_error(SF_ERR_FORMAT, "%s: corrupt data reading %s at byte %zu: %s", path, what, offset + got, msg);
    }
    if (r == 0) break;
    got += (size_t)r;
  }
  if (got < n)
    return sf_error(SF_ERR_FORMAT, "%s: truncated: %s needs %zu bytes from byte %zu, only %zu present", path, what, n, offset, got);
  return SF_OK;
}

static uint32_t be32(const unsigned char *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static sf_status idx_open(const char *path, gzFile *f) {
  if (!sf_file_exists(path)) return sf_error(SF_ERR_IO, "%s: no such file", path);
  *f = gzopen(path, "rb");
  if (!*f) return sf_error(SF_ERR_IO, "%s: cannot open", path);
  return SF_OK;
}

sf_status sf_idx_read_images(const char *path, int64_t limit, float **x, int64_t *n, int64_t *h, int64_t *w) {
  gzFile f;
  sf_status st = idx_open(path, &f);
  if (st) return st;
  unsigned char hdr[16];
  if ((st = gz_exact(f, path, hdr, 16, 0, "the IDX header"))) { gzclose(f); return st; }
  if (be32(hdr) != 0x00000803) {
    gzclose(f);
    return sf_error(SF_ERR_FORMAT, "%s: bad IDX magic 0x%08x at byte 0 (expected 0x00000803: unsigned byte, 3 dims)", path, be32(hdr));
  }
  int64_t cnt = be32(hdr + 4), rows = be32(hdr + 8), cols = be32(hdr + 12);
  if (rows <= 0 || cols <= 0 || rows * cols > (1 << 24)) { gzclose(f); return sf_error(SF_ERR_FORMAT, "%s: implausible image size %lldx%lld", path, (long long)rows, (long long)cols); }
  if (limit > 0 && limit < cnt) cnt = limit;
  size_t npx = (size_t)(cnt * rows * cols);
  unsigned char *raw = malloc(npx ? npx : 1);
  float *out = malloc(sizeof(float) * (npx ? npx : 1));
  if (!raw || !out) { free(raw); free(out); gzclose(f); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  st = gz_exact(f, path, raw, npx, 16, "pixel data");
  gzclose(f);
  if (st) { free(raw); free(out); return st; }
  for (size_t i = 0; i < npx; i++) out[i] = (float)raw[i] / 255.0f;
  free(raw);
  *x = out;
  *n = cnt;
  *h = rows;
  *w = cols;
  return SF_OK;
}

sf_status sf_idx_read_labels(const char *path, int64_t limit, int32_t **labels, int64_t *n) {
  gzFile f;
  sf_status st = idx_open(path, &f);
  if (st) return st;
  unsigned char hdr[8];
  if ((st = gz_exact(f, path, hdr, 8, 0, "the IDX header"))) { gzclose(f); return st; }
  if (be32(hdr) != 0x00000801) {
    gzclose(f);
    return sf_error(SF_ERR_FORMAT, "%s: bad IDX magic 0x%08x at byte 0 (expected 0x00000801: unsigned byte, 1 dim)", path, be32(hdr));
  }
  int64_t cnt = be32(hdr + 4);
  if (limit > 0 && limit < cnt) cnt = limit;
  unsigned char *raw = malloc((size_t)(cnt ? cnt : 1));
  int32_t *out = malloc(sizeof(int32_t) * (size_t)(cnt ? cnt : 1));
  if (!raw || !out) { free(raw); free(out); gzclose(f); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  st = gz_exact(f, path, raw, (size_t)cnt, 8, "labels");
  gzclose(f);
  if (st) { free(raw); free(out); return st; }
  for (int64_t i = 0; i < cnt; i++) out[i] = raw[i];
  free(raw);
  *labels = out;
  *n = cnt;
  return SF_OK;
}

static char *find_file(const char *dir, const char *base) {
  char *p = sf_strfmt("%s/%s", dir, base);
  if (p && sf_file_exists(p)) return p;
  free(p);
  p = sf_strfmt("%s/%s.gz", dir, base);
  if (p && sf_file_exists(p)) return p;
  free(p);
  return NULL;
}

static sf_status load_npy_split(const char *dir, sf_split split, int64_t limit, sf_dataset *d, const char *xp, const char *yp) {
  sf_tensor x = {0}, y = {0};
  sf_status st = sf_npy_read(xp, &x);
  if (st) return st;
  if ((st = sf_npy_read(yp, &y))) { sf_tensor_free(&x); return st; }
  (void)dir; (void)split;
  int64_t n = x.ndim > 0 ? x.shape[0] : 0;
  if (y.ndim != 1 || y.shape[0] != n) {
    st = sf_error(SF_ERR_SHAPE, "%s: %lld labels for %lld samples in %s", yp, (long long)(y.ndim ? y.shape[0] : 0), (long long)n, xp);
    goto done;
  }
  if (x.ndim == 3) { d->c = 1; d->h = x.shape[1]; d->w = x.shape[2]; }
  else if (x.ndim == 4) { d->c = x.shape[1]; d->h = x.shape[2]; d->w = x.shape[3]; }
  else if (x.ndim == 2) { d->c = 1; d->h = 1; d->w = x.shape[1]; }
  else { st = sf_error(SF_ERR_SHAPE, "%s: expected [N,H,W], [N,C,H,W] or [N,F], got rank %d", xp, x.ndim); goto done; }
  if (limit > 0 && limit < n) n = limit;
  int64_t per = d->c * d->h * d->w;
  int64_t total = n * per;
  d->x = malloc(sizeof(float) * (size_t)(total > 0 ? total : 1));
  d->labels = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
  if (!d->x || !d->labels) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
  for (int64_t i = 0; i < n * per; i++) {
    double v = sf_tensor_get_f(&x, i);
    if (!isfinite(v) || fabs(v) > 3e38) {
      st = sf_error(SF_ERR_VALUE, "%s: sample %lld, element %lld is %g: images must be finite", xp, (long long)(i / per), (long long)(i % per), v);
      goto done;
    }
    d->x[i] = x.dtype == SF_U8 ? (float)(v / 255.0) : (float)v;
  }
  for (int64_t i = 0; i < n; i++) {
    /* labels are class indices: whole numbers that fit an int32, whatever the file's dtype */
    double v = sf_tensor_get_f(&y, i);
    if (!sf_whole_in(v, -2147483648.0, 2147483647.0)) {
      st = sf_error(SF_ERR_VALUE, "%s: label %lld is %g, not a class index", yp, (long long)i, v);
      goto done;
    }
    d->labels[i] = (int32_t)v;
  }
  d->n = n;
done:
  sf_tensor_free(&x);
  sf_tensor_free(&y);
  return st;
}

sf_status sf_dataset_load(const char *dir, sf_split split, int64_t limit, sf_dataset *d) {
  memset(d, 0, sizeof *d);
  if (!dir || !*dir) dir = SF_DEFAULT_DATA_DIR;
  if (!sf_is_dir(dir)) {
    return sf_error(SF_ERR_IO, "%s: data folder not found%s", dir,
                    strcmp(dir, SF_DEFAULT_DATA_DIR) ? "" : " (install Debian's dataset-fashion-mnist: scripts/install-deps.sh)");
  }
  const char *pre = split == SF_SPLIT_TEST ? "t10k" : "train";
  char base_i[64], base_l[64];
  snprintf(base_i, sizeof base_i, "%s-images-idx3-ubyte", pre);
  snprintf(base_l, sizeof base_l, "%s-labels-idx1-ubyte", pre);
  char *ip = find_file(dir, base_i), *lp = find_file(dir, base_l);
  sf_status st = SF_OK;
  if (ip || lp) {
    if (!ip || !lp) {
      st = sf_error(SF_ERR_IO, "%s: found %s but not %s (.gz or raw)", dir, ip ? ip : lp, ip ? base_l : base_i);
      goto out;
    }
    int64_t n_img, n_lab;
    if ((st = sf_idx_read_images(ip, limit, &d->x, &n_img, &d->h, &d->w))) goto out;
    if ((st = sf_idx_read_labels(lp, limit, &d->labels, &n_lab))) goto out;
    if (n_img != n_lab) { st = sf_error(SF_ERR_FORMAT, "%s has %lld images but %s has %lld labels", ip, (long long)n_img, lp, (long long)n_lab); goto out; }
    d->n = n_img;
    d->c = 1;
    d->source = sf_strfmt("%s + %s", ip, lp);
  } else {
    const char *s = split == SF_SPLIT_TEST ? "test" : "train";
    char *xp = sf_strfmt("%s/x_%s.npy", dir, s), *yp = sf_strfmt("%s/y_%s.npy", dir, s);
    if (!sf_file_exists(xp) || !sf_file_exists(yp)) {
      st = sf_error(SF_ERR_IO, "%s: no %s split: expected %s-images-idx3-ubyte[.gz] + %s-labels-idx1-ubyte[.gz], or x_%s.npy + y_%s.npy",
                    dir, s, pre, pre, s, s);
    } else {
      st = load_npy_split(dir, split, limit, d, xp, yp);
      if (!st) d->source = sf_strfmt("%s + %s", xp, yp);
    }
    free(xp);
    free(yp);
    if (st) goto out;
  }
  if (d->n == 0) { st = sf_error(SF_ERR_FORMAT, "%s: the %s split holds no samples", dir, split == SF_SPLIT_TEST ? "test" : "train"); goto out; }
  d->n_classes = 0;
  for (int64_t i = 0; i < d->n; i++) {
    if (d->labels[i] < 0) { st = sf_error(SF_ERR_VALUE, "%s: negative label %d at sample %lld", dir, d->labels[i], (long long)i); goto out; }
    if (d->labels[i] + 1 > d->n_classes) d->n_classes = d->labels[i] + 1;
  }
out:
  free(ip);
  free(lp);
  if (st) sf_dataset_free(d);
  return st;
}

void sf_dataset_free(sf_dataset *d) {
  free(d->x);
  free(d->labels);
  free(d->source);
  memset(d, 0, sizeof *d);
}

sf_tensor sf_dataset_batch(const sf_dataset *d, int64_t start, int64_t count) {
  sf_tensor t = {0};
  int64_t shape[4] = {count, d->c, d->h, d->w};
  sf_tensor_describe(&t, SF_F32, 4, shape);
  t.data = d->x + start * d->c * d->h * d->w;
  t.owns_data = 0;
  return t;
}

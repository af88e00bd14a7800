/* Shape and data-movement ops. Shapes they read from inputs (Reshape's shape, Slice's starts...)
 * must be known when the graph is specialised: constants or folded shape computations.
 *   Shape: X -> int64 [rank]          Reshape/Flatten/Squeeze/Unsqueeze: X -> X with a new shape
 *   Transpose: X -> X permuted        Concat: X_i -> joined on axis     Gather: data, indices -> ...
 *   Slice, Split, Expand, Tile, Pad, Range, ConstantOfShape, Constant */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/par.h"
#include "ops/broadcast.h"
#include "ops/ops.h"

static sf_status copy_exec(sf_op_ctx *c) {
  memcpy(c->out[0]->data, c->in[0]->data, sf_tensor_nbytes(c->in[0]));
  return SF_OK;
}

/* ---- Shape / Size ---- */
static sf_status infer_shape(sf_op_ctx *c) {
  const sf_tensor *x = c->in[0];
  if (x->ndim < 0) return sf_op_fail(c, SF_ERR_SHAPE, "input rank unknown");
  int64_t r = x->ndim;
  int64_t start = sf_node_attr_int(c->node, "start", 0), end = sf_node_attr_int(c->node, "end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = start < 0 ? 0 : start > r ? r : start;
  end = end < 0 ? 0 : end > r ? r : end;
  int64_t n = end > start ? end - start : 0;
  sf_tensor_describe(c->out[0], SF_I64, 1, &n);
  return SF_OK;
}

static sf_status exec_shape(sf_op_ctx *c) {
  const sf_tensor *x = c->in[0];
  int64_t r = x->ndim, start = sf_node_attr_int(c->node, "start", 0);
  if (start < 0) start += r;
  if (start < 0) start = 0;
  int64_t n = c->out[0]->shape[0];
  for (int64_t i = 0; i < n; i++) ((int64_t *)c->out[0]->data)[i] = x->shape[start + i];
  return SF_OK;
}

static sf_status infer_size(sf_op_ctx *c) {
  sf_tensor_describe(c->out[0], SF_I64, 0, NULL);
  return SF_OK;
}

static sf_status exec_size(sf_op_ctx *c) {
  *(int64_t *)c->out[0]->data = sf_tensor_numel(c->in[0]);
  return SF_OK;
}

/* ---- Reshape ---- */
static sf_status infer_reshape(sf_op_ctx *c) {
  sf_status st = sf_need_const(c, 1, "shape");
  if (st) return st;
  const sf_tensor *x = c->in[0];
  int64_t shape[SF_MAX_DIMS];
  int n = sf_input_ints(c, 1, shape, SF_MAX_DIMS);
  if (n < 0) return sf_op_fail(c, SF_ERR_SHAPE, "target rank above %d", SF_MAX_DIMS);
  int allowzero = (int)sf_node_attr_int(c->node, "allowzero", 0);
  int infer_at = -1;
  int64_t known = 1;
  for (int i = 0; i < n; i++) {
    if (shape[i] == 0 && !allowzero) {
      if (i >= x->ndim) return sf_op_fail(c, SF_ERR_SHAPE, "0 at position %d copies a dimension the input lacks", i);
      shape[i] = x->shape[i];
    }
    if (shape[i] == -1) {
      if (infer_at >= 0) return sf_op_fail(c, SF_ERR_SHAPE, "more than one -1 in target shape");
      infer_at = i;
    } else if (shape[i] < 0) {
      return sf_op_fail(c, SF_ERR_SHAPE, "negative dimension %lld in target shape", (long long)shape[i]);
    } else {
      known *= shape[i];
    }
  }
  int64_t total = sf_tensor_numel(x);
  if (infer_at >= 0) {
    if (known == 0 || total % known) return sf_op_fail(c, SF_ERR_SHAPE, "cannot infer -1: %lld elements into blocks of %lld", (long long)total, (long long)known);
    shape[infer_at] = total / known;
  } else if (known != total) {
    char a[128], b[128];
    return sf_op_fail(c, SF_ERR_SHAPE, "cannot reshape %s (%lld elements) to %s", sf_shape_str(x->ndim, x->shape, a, sizeof a),
                      (long long)total, sf_shape_str(n, shape, b, sizeof b));
  }
  sf_tensor_describe(c->out[0], x->dtype, n, shape);
  return SF_OK;
}

static sf_status infer_flatten(sf_op_ctx *c) {
  const sf_tensor *x = c->in[0];
  int64_t axis = sf_node_attr_int(c->node, "axis", 1);
  if (axis < 0) axis += x->ndim;
  if (axis < 0 || axis > x->ndim) return sf_op_fail(c, SF_ERR_SHAPE, "axis out of range");
  int64_t shape[2] = {sf_shape_numel((int)axis, x->shape), sf_shape_numel(x->ndim - (int)axis, x->shape + axis)};
  sf_tensor_describe(c->out[0], x->dtype, 2, shape);
  return SF_OK;
}

/* axes from input 1 (opset >= 13) or attribute */
static sf_status get_axes(sf_op_ctx *c, int64_t *axes, int *n) {
  if (c->n_in > 1 && c->in[1]) {
    sf_status st = sf_need_const(c, 1, "axes");
    if (st) return st;
    *n = sf_input_ints(c, 1, axes, SF_MAX_DIMS);
    if (*n < 0) return sf_op_fail(c, SF_ERR_SHAPE, "too many axes");
    return SF_OK;
  }
  const int64_t *a;
  *n = sf_node_attr_ints(c->node, "axes", &a);
  if (*n > SF_MAX_DIMS) return sf_op_fail(c, SF_ERR_SHAPE, "too many axes");
  for (int i = 0; i < *n; i++) axes[i] = a[i];
  return SF_OK;
}

static sf_status infer_squeeze(sf_op_ctx *c) {
  const sf_tensor *x = c->in[0];
  int64_t axes[SF_MAX_DIMS];
  int n;
  sf_status st = get_axes(c, axes, &n);
  if (st) return st;
  int mask[SF_MAX_DIMS] = {0};
  if (n <= 0) {
    for (int i = 0; i < x->ndim; i++) mask[i] = x->shape[i] == 1;
  } else {
    for (int i = 0; i < n; i++) {
      int ax;
      if ((st = sf_norm_axis(c, axes[i], x->ndim, &ax))) return st;
      if (x->shape[ax] != 1) return sf_op_fail(c, SF_ERR_SHAPE, "cannot squeeze axis %d of size %lld", ax, (long long)x->shape[ax]);
      mask[ax] = 1;
    }
  }
  int64_t shape[SF_MAX_DIMS];
  int nd = 0;
  for (int i = 0; i < x->ndim; i++)
    if (!mask[i]) shape[nd++] = x->shape[i];
  sf_tensor_describe(c->out[0], x->dtype, nd, shape);
  return SF_OK;
}

static sf_status infer_unsqueeze(sf_op_ctx *c) {
  const sf_tensor *x = c->in[0];
  int64_t axes[SF_MAX_DIMS];
  int n;
  sf_status st = get_axes(c, axes, &n);
  if (st) return st;
  if (n < 0) return sf_op_fail(c, SF_ERR_ARG, "axes missing");
  int r = x->ndim + n;
  if (r > SF_MAX_DIMS) return sf_op_fail(c, SF_ERR_SHAPE, "result rank %d above %d", r, SF_MAX_DIMS);
  int mask[SF_MAX_DIMS] = {0};
  for (int i = 0; i < n; i++) {
    int ax;
    if ((st = sf_norm_axis(c, axes[i], r, &ax))) return st;
    if (mask[ax]) return sf_op_fail(c, SF_ERR_SHAPE, "repeated axis %d", ax);
    mask[ax] = 1;
  }
  int64_t shape[SF_MAX_DIMS];
  for (int i = 0, k = 0; i < r; i++) shape[i] = mask[i] ? 1 : x->shape[k++];
  sf_tensor_describe(c->out[0], x->dtype, r, shape);
  return SF_OK;
}

/* ---- Transpose ---- */
static void get_perm(const sf_op_ctx *c, int r, int *perm) {
  const int64_t *p;
  int n = sf_node_attr_ints(c->node, "perm", &p);
  for (int i = 0; i < r; i++) perm[i] = n == r ? (int)p[i] : r - 1 - i;
}

static sf_status infer_transpose(sf_op_ctx *c) {
  const sf_tensor *x = c->in[0];
  int perm[SF_MAX_DIMS], seen[SF_MAX_DIMS] = {0};
  const int64_t *p;
  int n = sf_node_attr_ints(c->node, "perm", &p);
  if (n >= 0 && n != x->ndim) return sf_op_fail(c, SF_ERR_SHAPE, "perm has %d entries for rank %d", n, x->ndim);
  get_perm(c, x->ndim, perm);
  int64_t shape[SF_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++) {
    if (perm[i] < 0 || perm[i] >= x->ndim || seen[perm[i]]++) return sf_op_fail(c, SF_ERR_VALUE, "invalid perm");
    shape[i] = x->shape[perm[i]];
  }
  sf_tensor_describe(c->out[0], x->dtype, x->ndim, shape);
  return SF_OK;
}

/* Y = transpose(X, perm): generic strided copy, inner loop over the last output dim. */
static sf_status exec_transpose(sf_op_ctx *c) {
  const sf_tensor *x = c->in[0];
  sf_tensor *y = c->out[0];
  int r = x->ndim, perm[SF_MAX_DIMS];
  get_perm(c, r, perm);
  size_t es = sf_dtype_size(x->dtype);
  int64_t xs[SF_MAX_DIMS], s = 1;
  for (int i = r - 1; i >= 0; i--) { xs[i] = s; s *= x->shape[i]; }
  int64_t st[SF_MAX_DIMS];
  for (int i = 0; i < r; i++) st[i] = xs[perm[i]];
  int64_t n = sf_tensor_numel(y);
  if (n == 0) return SF_OK;
  if (r == 0) { memcpy(y->data, x->data, es); return SF_OK; }
  int64_t inner = y->shape[r - 1], outer = n / inner, istride = st[r - 1];
  /* rows of the output in blocks; within a block the source offset follows an odometer over the
   * output's leading indices (no division per row) */
  const int64_t rows_per_block = 256, blocks = (outer + rows_per_block - 1) / rows_per_block;
  SF_PAR_IF(n > 65536, "omp parallel for schedule(static)",
  for (int64_t b = 0; b < blocks; b++) {
    int64_t o0 = b * rows_per_block, o1 = o0 + rows_per_block < outer ? o0 + rows_per_block : outer;
    int64_t idx[SF_MAX_DIMS] = {0}, rem = o0, off = 0;
    for (int d = r - 2; d >= 0; d--) { idx[d] = rem % y->shape[d]; off += idx[d] * st[d]; rem /= y->shape[d]; }
    for (int64_t o = o0; o < o1; o++) {
      char *dst = (char *)y->data + o * inner * (int64_t)es;
      const char *src = (const char *)x->data + off * (int64_t)es;
      if (istride == 1 && es == 4 && inner <= 64) {
        /* short contiguous rows (attention heads): an inline copy, no call per row */
        for (int64_t i = 0; i < inner; i++) ((uint32_t *)dst)[i] = ((const uint32_t *)src)[i];
      } else if (istride == 1) memcpy(dst, src, (size_t)inner * es);
      else if (es == 4)
        for (int64_t i = 0; i < inner; i++) ((uint32_t *)dst)[i] = ((const uint32_t *)src)[i * istride];
      else
        for (int64_t i = 0; i < inner; i++) memcpy(dst + i * (int64_t)es, src + i * istride * (int64_t)es, es);
      for (int d = r - 2; d >= 0; d--) {
        off += st[d];
        if (++idx[d] < y->shape[d]) break;
        off -= st[d] * y->shape[d];
        idx[d] = 0;
      }
    }
  });
  return SF_OK;
}

/* ---- Concat ---- */
static sf_status infer_concat(sf_op_ctx *c) {
  const sf_tensor *x0 = c->in[0];
  int axis;
  sf_status st = sf_norm_axis(c, sf_node_attr_int(c->node, "axis", 0), x0->ndim, &axis);
  if (st) return st;
  int64_t shape[SF_MAX_DIMS];
  memcpy(shape, x0->shape, sizeof(int64_t) * (size_t)x0->ndim);
  for (int i = 1; i < c->n_in; i++) {
    const sf_tensor *x = c->in[i];
    if (x->ndim != x0->ndim || x->dtype != x0->dtype) return sf_op_fail(c, SF_ERR_SHAPE, "input %d rank/dtype differs", i);
    for (int d = 0; d < x->ndim; d++)
      if (d != axis && x->shape[d] != x0->shape[d]) {
        char a[96], b[96];
        return sf_op_fail(c, SF_ERR_SHAPE, "input %d shape %s does not match %s off axis %d", i,
                          sf_shape_str(x->ndim, x->shape, a, sizeof a), sf_shape_str(x0->ndim, x0->shape, b, sizeof b), axis);
      }
    shape[axis] += x->shape[axis];
  }
  sf_tensor_describe(c->out[0], x0->dtype, x0->ndim, shape);
  return SF_OK;
}

static sf_status exec_concat(sf_op_ctx *c) {
  sf_tensor *y = c->out[0];
  int axis;
  sf_norm_axis(c, sf_node_attr_int(c->node, "axis", 0), y->ndim, &axis);
  size_t es = sf_dtype_size(y->dtype);
  int64_t outer = sf_shape_numel(axis, y->shape);
  int64_t inner = sf_shape_numel(y->ndim - axis - 1, y->shape + axis + 1);
  int64_t yrow = y->shape[axis] * inner, off = 0;
  for (int i = 0; i < c->n_in; i++) {
    const sf_tensor *x = c->in[i];
    int64_t xrow = x->shape[axis] * inner;
    for (int64_t o = 0; o < outer; o++)
      memcpy((char *)y->data + (o * yrow + off) * (int64_t)es, (const char *)x->data + o * xrow * (int64_t)es, (size_t)xrow * es);
    off += xrow;
  }
  return SF_OK;
}

/* ---- Gather ---- */
static sf_status infer_gather(sf_op_ctx *c) {
  const sf_tensor *d = c->in[0], *idx = c->in[1];
  int axis;
  sf_status st = sf_norm_axis(c, sf_node_attr_int(c->node, "axis", 0), d->ndim, &axis);
  if (st) return st;
  if (idx->dtype != SF_I64 && idx->dtype != SF_I32) return sf_op_fail(c, SF_ERR_VALUE, "indices must be int32/int64");
  int r = d->ndim - 1 + idx->ndim;
  if (r > SF_MAX_DIMS) return sf_op_fail(c, SF_ERR_SHAPE, "result rank too large");
  int64_t shape[SF_MAX_DIMS];
  int k = 0;
  for (int i = 0; i < axis; i++) shape[k++] = d->shape[i];
  for (int i = 0; i < idx->ndim; i++) shape[k++] = idx->shape[i];
  for (int i = axis + 1; i < d->ndim; i++) shape[k++] = d->shape[i];
  sf_tensor_describe(c->out[0], d->dtype, r, shape);
  return SF_OK;
}

static sf_status exec_gather(sf_op_ctx *c) {
  const sf_tensor *d = c->in[0], *idx = c->in[1];
  int axis;
  sf_norm_axis(c, sf_node_attr_int(c->node, "axis", 0), d->ndim, &axis);
  size_t es = sf_dtype_size(d->dtype);
  int64_t outer = sf_shape_numel(axis, d->shape), dim = d->shape[axis];
  int64_t inner = sf_shape_numel(d->ndim - axis - 1, d->shape + axis + 1), ni = sf_tensor_numel(idx);
  for (int64_t j = 0; j < ni; j++) {
    int64_t k = sf_tensor_get_i(idx, j);
    if (k < -dim || k >= dim) return sf_op_fail(c, SF_ERR_VALUE, "index %lld out of range [-%lld, %lld)", (long long)k, (long long)dim, (long long)dim);
  }
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < ni; j++) {
      int64_t k = sf_tensor_get_i(idx, j);
      if (k < 0) k += dim;
      memcpy((char *)c->out[0]->data + ((o * ni + j) * inner) * (int64_t)es,
             (const char *)d->data + ((o * dim + k) * inner) * (int64_t)es, (size_t)inner * es);
    }
  return SF_OK;
}

/* ---- Slice ---- */
typedef struct { int64_t start[SF_MAX_DIMS], step[SF_MAX_DIMS], len[SF_MAX_DIMS]; } slice_plan;

static sf_status plan_slice(sf_op_ctx *c, slice_plan *p) {
  const sf_tensor *x = c->in[0];
  int r = x->ndim;
  int64_t starts[SF_MAX_DIMS], ends[SF_MAX_DIMS], axes[SF_MAX_DIMS], steps[SF_MAX_DIMS];
  int n, na = -1, ns = -1;
  sf_status st;
  if (c->n_in >= 3) {
    if ((st = sf_need_const(c, 1, "starts")) || (st = sf_need_const(c, 2, "ends"))) return st;
    n = sf_input_ints(c, 1, starts, SF_MAX_DIMS);
    if (sf_input_ints(c, 2, ends, SF_MAX_DIMS) != n || n < 0) return sf_op_fail(c, SF_ERR_SHAPE, "starts and ends differ in length");
    if (c->n_in > 3 && c->in[3]) {
      if ((st = sf_need_const(c, 3, "axes"))) return st;
      na = sf_input_ints(c, 3, axes, SF_MAX_DIMS);
    }
    if (c->n_in > 4 && c->in[4]) {
      if ((st = sf_need_const(c, 4, "steps"))) return st;
      ns = sf_input_ints(c, 4, steps, SF_MAX_DIMS);
    }
  } else {
    const int64_t *a;
    n = sf_node_attr_ints(c->node, "starts", &a);
    if (n < 0 || n > SF_MAX_DIMS) return sf_op_fail(c, SF_ERR_ARG, "starts missing");
    memcpy(starts, a, sizeof(int64_t) * (size_t)n);
    if (sf_node_attr_ints(c->node, "ends", &a) != n) return sf_op_fail(c, SF_ERR_ARG, "ends missing");
    memcpy(ends, a, sizeof(int64_t) * (size_t)n);
    na = sf_node_attr_ints(c->node, "axes", &a);
    if (na > SF_MAX_DIMS) return sf_op_fail(c, SF_ERR_ARG, "too many axes");
    if (na > 0) memcpy(axes, a, sizeof(int64_t) * (size_t)na);
  }
  if (na >= 0 && na != n) return sf_op_fail(c, SF_ERR_SHAPE, "axes length differs from starts");
  if (ns >= 0 && ns != n) return sf_op_fail(c, SF_ERR_SHAPE, "steps length differs from starts");
  for (int i = 0; i < r; i++) { p->start[i] = 0; p->step[i] = 1; p->len[i] = x->shape[i]; }
  int seen[SF_MAX_DIMS] = {0};
  for (int i = 0; i < n; i++) {
    int ax;
    if ((st = sf_norm_axis(c, na >= 0 ? axes[i] : i, r, &ax))) return st;
    if (seen[ax]++) return sf_op_fail(c, SF_ERR_VALUE, "repeated axis %d", ax);
    int64_t dim = x->shape[ax], s = starts[i], e = ends[i], step = ns >= 0 ? steps[i] : 1;
    if (step == 0) return sf_op_fail(c, SF_ERR_VALUE, "step 0");
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    if (step > 0) {
      s = s < 0 ? 0 : s > dim ? dim : s;
      e = e < 0 ? 0 : e > dim ? dim : e;
      p->len[ax] = e > s ? (e - s + step - 1) / step : 0;
    } else {
      s = s < 0 ? -1 : s > dim - 1 ? dim - 1 : s;
      e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
      p->len[ax] = s > e ? (s - e + (-step) - 1) / (-step) : 0;
    }
    p->start[ax] = s;
    p->step[ax] = step;
  }
  return SF_OK;
}

static sf_status infer_slice(sf_op_ctx *c) {
  slice_plan p;
  sf_status st = plan_slice(c, &p);
  if (st) return st;
  sf_tensor_describe(c->out[0], c->in[0]->dtype, c->in[0]->ndim, p.len);
  return SF_OK;
}

static sf_status exec_slice(sf_op_ctx *c) {
  slice_plan p;
  sf_status st = plan_slice(c, &p);
  if (st) return st;
  const sf_tensor *x = c->in[0];
  int r = x->ndim;
  size_t es = sf_dtype_size(x->dtype);
  int64_t xs[SF_MAX_DIMS], s = 1;
  for (int i = r - 1; i >= 0; i--) { xs[i] = s; s *= x->shape[i]; }
  int64_t n = sf_tensor_numel(c->out[0]);
  int64_t idx[SF_MAX_DIMS] = {0};
  for (int64_t o = 0; o < n; o++) {
    int64_t off = 0;
    for (int d = 0; d < r; d++) off += (p.start[d] + idx[d] * p.step[d]) * xs[d];
    memcpy((char *)c->out[0]->data + o * (int64_t)es, (const char *)x->data + off * (int64_t)es, es);
    for (int d = r - 1; d >= 0; d--) {
      if (++idx[d] < p.len[d]) break;
      idx[d] = 0;
    }
  }
  return SF_OK;
}

/* ---- Split ---- */
static sf_status split_sizes(sf_op_ctx *c, int axis, int64_t *sizes) {
  const sf_tensor *x = c->in[0];
  int n = c->n_out;
  int64_t dim = x->shape[axis];
  if (c->n_in > 1 && c->in[1]) {
    sf_status st = sf_need_const(c, 1, "split");
    if (st) return st;
    if (sf_tensor_numel(c->in[1]) != n) return sf_op_fail(c, SF_ERR_SHAPE, "split has %lld entries for %d outputs", (long long)sf_tensor_numel(c->in[1]), n);
    for (int i = 0; i < n; i++) sizes[i] = sf_tensor_get_i(c->in[1], i);
  } else {
    const int64_t *a;
    int k = sf_node_attr_ints(c->node, "split", &a);
    if (k >= 0) {
      if (k != n) return sf_op_fail(c, SF_ERR_SHAPE, "split has %d entries for %d outputs", k, n);
      for (int i = 0; i < n; i++) sizes[i] = a[i];
    } else {
      int64_t chunk = (dim + n - 1) / n;
      for (int i = 0; i < n; i++) {
        int64_t left = dim - chunk * i;
        sizes[i] = left < chunk ? (left > 0 ? left : 0) : chunk;
      }
    }
  }
  int64_t tot = 0;
  for (int i = 0; i < n; i++) {
    if (sizes[i] < 0) return sf_op_fail(c, SF_ERR_VALUE, "negative split size");
    tot += sizes[i];
  }
  if (tot != dim) return sf_op_fail(c, SF_ERR_SHAPE, "split sizes sum to %lld, axis has %lld", (long long)tot, (long long)dim);
  return SF_OK;
}

static sf_status infer_split(sf_op_ctx *c) {
  const sf_tensor *x = c->in[0];
  int axis;
  sf_status st = sf_norm_axis(c, sf_node_attr_int(c->node, "axis", 0), x->ndim, &axis);
  if (st) return st;
  int64_t *sizes = malloc(sizeof(int64_t) * (size_t)c->n_out);
  if (!sizes) return sf_op_fail(c, SF_ERR_NOMEM, "out of memory");
  if ((st = split_sizes(c, axis, sizes))) { free(sizes); return st; }
  for (int i = 0; i < c->n_out; i++) {
    int64_t shape[SF_MAX_DIMS];
    memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    shape[axis] = sizes[i];
    sf_tensor_describe(c->out[i], x->dtype, x->ndim, shape);
  }
  free(sizes);
  return SF_OK;
}

static sf_status exec_split(sf_op_ctx *c) {
  const sf_tensor *x = c->in[0];
  int axis;
  sf_norm_axis(c, sf_node_attr_int(c->node, "axis", 0), x->ndim, &axis);
  size_t es = sf_dtype_size(x->dtype);
  int64_t outer = sf_shape_numel(axis, x->shape), inner = sf_shape_numel(x->ndim - axis - 1, x->shape + axis + 1);
  int64_t xrow = x->shape[axis] * inner, off = 0;
  for (int i = 0; i < c->n_out; i++) {
    int64_t yrow = c->out[i]->shape[axis] * inner;
    for (int64_t o = 0; o < outer; o++)
      memcpy((char *)c->out[i]->data + o * yrow * (int64_t)es, (const char *)x->data + (o * xrow + off) * (int64_t)es, (size_t)yrow * es);
    off += yrow;
  }
  return SF_OK;
}

/* ---- Constant / ConstantOfShape ---- */
static sf_status constant_value(sf_op_ctx *c, sf_tensor *tmp, int *owned) {
  const sf_attr *a;
  *owned = 0;
  if ((a = sf_node_attr(c->node, "value")) && a->type == SF_ATTR_TENSOR) { *tmp = *a->t; return SF_OK; }
  *owned = 1;
  int64_t n1 = 1;
  if ((a = sf_node_attr(c->node, "value_float"))) {
    sf_status st = sf_tensor_alloc(tmp, SF_F32, 0, NULL);
    if (!st) *(float *)tmp->data = a->f;
    return st;
  }
  if ((a = sf_node_attr(c->node, "value_int"))) {
    sf_status st = sf_tensor_alloc(tmp, SF_I64, 0, NULL);
    if (!st) *(int64_t *)tmp->data = a->i;
    return st;
  }
  if ((a = sf_node_attr(c->node, "value_floats")) && a->type == SF_ATTR_FLOATS) {
    n1 = a->n;
    sf_status st = sf_tensor_alloc(tmp, SF_F32, 1, &n1);
    if (!st && n1) memcpy(tmp->data, a->floats, sizeof(float) * (size_t)n1);
    return st;
  }
  if ((a = sf_node_attr(c->node, "value_ints")) && a->type == SF_ATTR_INTS) {
    n1 = a->n;
    sf_status st = sf_tensor_alloc(tmp, SF_I64, 1, &n1);
    if (!st && n1) memcpy(tmp->data, a->ints, sizeof(int64_t) * (size_t)n1);
    return st;
  }
  return sf_op_fail(c, SF_ERR_UNSUPPORTED, "Constant without a supported value attribute (value, value_float(s), value_int(s))");
}

static sf_status infer_constant(sf_op_ctx *c) {
  sf_tensor t = {0};
  int owned;
  sf_status st = constant_value(c, &t, &owned);
  if (st) return st;
  sf_tensor_describe(c->out[0], t.dtype, t.ndim, t.shape);
  if (owned) sf_tensor_free(&t);
  return SF_OK;
}

static sf_status exec_constant(sf_op_ctx *c) {
  sf_tensor t = {0};
  int owned;
  sf_status st = constant_value(c, &t, &owned);
  if (st) return st;
  memcpy(c->out[0]->data, t.data, sf_tensor_nbytes(&t));
  if (owned) sf_tensor_free(&t);
  return SF_OK;
}

static sf_status infer_cos(sf_op_ctx *c) {
  sf_status st = sf_need_const(c, 0, "shape");
  if (st) return st;
  int64_t shape[SF_MAX_DIMS];
  int n = sf_input_ints(c, 0, shape, SF_MAX_DIMS);
  if (n < 0) return sf_op_fail(c, SF_ERR_SHAPE, "rank above %d", SF_MAX_DIMS);
  for (int i = 0; i < n; i++)
    if (shape[i] < 0) return sf_op_fail(c, SF_ERR_SHAPE, "negative dimension");
  const sf_attr *a = sf_node_attr(c->node, "value");
  sf_dtype dt = (a && a->type == SF_ATTR_TENSOR) ? a->t->dtype : SF_F32;
  sf_tensor_describe(c->out[0], dt, n, shape);
  return SF_OK;
}

static sf_status exec_cos(sf_op_ctx *c) {
  const sf_attr *a = sf_node_attr(c->node, "value");
  sf_tensor *y = c->out[0];
  int64_t n = sf_tensor_numel(y);
  size_t es = sf_dtype_size(y->dtype);
  if (!a || a->type != SF_ATTR_TENSOR) { memset(y->data, 0, (size_t)n * es); return SF_OK; }
  for (int64_t i = 0; i < n; i++) memcpy((char *)y->data + i * (int64_t)es, a->t->data, es);
  return SF_OK;
}

/* ---- Expand / Tile ---- */
static sf_status infer_expand(sf_op_ctx *c) {
  sf_status st = sf_need_const(c, 1, "shape");
  if (st) return st;
  int64_t shape[SF_MAX_DIMS], out[SF_MAX_DIMS];
  int n = sf_input_ints(c, 1, shape, SF_MAX_DIMS), nd;
  if (n < 0) return sf_op_fail(c, SF_ERR_SHAPE, "rank above %d", SF_MAX_DIMS);
  if ((st = sf_broadcast_shape(c, c->in[0]->ndim, c->in[0]->shape, n, shape, &nd, out))) return st;
  sf_tensor_describe(c->out[0], c->in[0]->dtype, nd, out);
  return SF_OK;
}

static sf_status exec_expand(sf_op_ctx *c) {
  sf_tensor *y = c->out[0];
  const sf_tensor *ops[1] = {c->in[0]};
  sf_bcast bp;
  sf_bcast_init(&bp, y->ndim, y->shape, 1, ops);
  size_t es = sf_dtype_size(y->dtype);
  int64_t inner = bp.shape[bp.nd - 1], s = bp.stride[0][bp.nd - 1];
  for (int64_t o = 0; o < bp.outer; o++) {
    int64_t off;
    sf_bcast_offsets(&bp, o, &off);
    char *dst = (char *)y->data + o * inner * (int64_t)es;
    for (int64_t i = 0; i < inner; i++) memcpy(dst + i * (int64_t)es, (const char *)c->in[0]->data + (off + i * s) * (int64_t)es, es);
  }
  return SF_OK;
}

static sf_status infer_tile(sf_op_ctx *c) {
  sf_status st = sf_need_const(c, 1, "repeats");
  if (st) return st;
  const sf_tensor *x = c->in[0];
  int64_t rep[SF_MAX_DIMS], shape[SF_MAX_DIMS];
  if (sf_input_ints(c, 1, rep, SF_MAX_DIMS) != x->ndim) return sf_op_fail(c, SF_ERR_SHAPE, "repeats length must equal the input rank");
  for (int i = 0; i < x->ndim; i++) {
    if (rep[i] < 0) return sf_op_fail(c, SF_ERR_VALUE, "negative repeat");
    shape[i] = x->shape[i] * rep[i];
  }
  sf_tensor_describe(c->out[0], x->dtype, x->ndim, shape);
  return SF_OK;
}

static sf_status exec_tile(sf_op_ctx *c) {
  const sf_tensor *x = c->in[0];
  sf_tensor *y = c->out[0];
  int r = x->ndim;
  size_t es = sf_dtype_size(x->dtype);
  int64_t n = sf_tensor_numel(y), idx[SF_MAX_DIMS] = {0}, xs[SF_MAX_DIMS], s = 1;
  for (int i = r - 1; i >= 0; i--) { xs[i] = s; s *= x->shape[i]; }
  for (int64_t o = 0; o < n; o++) {
    int64_t off = 0;
    for (int d = 0; d < r; d++) off += (idx[d] % x->shape[d]) * xs[d];
    memcpy((char *)y->data + o * (int64_t)es, (const char *)x->data + off * (int64_t)es, es);
    for (int d = r - 1; d >= 0; d--) {
      if (++idx[d] < y->shape[d]) break;
      idx[d] = 0;
    }
  }
  return SF_OK;
}

/* ---- Range ---- */
static sf_status infer_range(sf_op_ctx *c) {
  for (int i = 0; i < 3; i++) {
    sf_status st = sf_need_const(c, i, i == 0 ? "start" : i == 1 ? "limit" : "delta");
    if (st) return st;
  }
  double s = sf_tensor_get_f(c->in[0], 0), l = sf_tensor_get_f(c->in[1], 0), d = sf_tensor_get_f(c->in[2], 0);
  if (d == 0) return sf_op_fail(c, SF_ERR_VALUE, "delta is 0");
  double cnt = ceil((l - s) / d);
  int64_t n = cnt > 0 ? (int64_t)cnt : 0;
  sf_tensor_describe(c->out[0], c->in[0]->dtype, 1, &n);
  return SF_OK;
}

static sf_status exec_range(sf_op_ctx *c) {
  double s = sf_tensor_get_f(c->in[0], 0), d = sf_tensor_get_f(c->in[2], 0);
  sf_tensor *y = c->out[0];
  int64_t n = y->shape[0];
  for (int64_t i = 0; i < n; i++) {
    double v = s + (double)i * d;
    switch (y->dtype) {
      case SF_F32: ((float *)y->data)[i] = (float)(sf_tensor_get_f(c->in[0], 0) + (double)i * (float)d); break;
      case SF_F64: ((double *)y->data)[i] = v; break;
      case SF_I64: ((int64_t *)y->data)[i] = sf_tensor_get_i(c->in[0], 0) + i * sf_tensor_get_i(c->in[2], 0); break;
      case SF_I32: ((int32_t *)y->data)[i] = (int32_t)(sf_tensor_get_i(c->in[0], 0) + i * sf_tensor_get_i(c->in[2], 0)); break;
      case SF_I16: ((int16_t *)y->data)[i] = (int16_t)v; break;
      default: return sf_op_fail(c, SF_ERR_UNSUPPORTED, "dtype");
    }
  }
  return SF_OK;
}

/* ---- Pad (constant mode) ---- */
static sf_status pad_amounts(sf_op_ctx *c, int64_t *pads) {
  const sf_tensor *x = c->in[0];
  int r = x->ndim;
  if (c->n_in > 1 && c->in[1]) {
    sf_status st = sf_need_const(c, 1, "pads");
    if (st) return st;
    int64_t raw[2 * SF_MAX_DIMS];
    int n = sf_input_ints(c, 1, raw, 2 * SF_MAX_DIMS);
    int64_t axes[SF_MAX_DIMS];
    int na = r;
    for (int i = 0; i < r; i++) axes[i] = i;
    if (c->n_in > 3 && c->in[3]) {
      if ((st = sf_need_const(c, 3, "axes"))) return st;
      na = sf_input_ints(c, 3, axes, SF_MAX_DIMS);
    }
    if (n != 2 * na) return sf_op_fail(c, SF_ERR_SHAPE, "pads has %d entries, expected %d", n, 2 * na);
    for (int i = 0; i < 2 * r; i++) pads[i] = 0;
    for (int i = 0; i < na; i++) {
      int ax;
      if ((st = sf_norm_axis(c, axes[i], r, &ax))) return st;
      pads[ax] = raw[i];
      pads[r + ax] = raw[na + i];
    }
  } else {
    const int64_t *a;
    if (sf_node_attr_ints(c->node, "pads", &a) != 2 * r) return sf_op_fail(c, SF_ERR_SHAPE, "pads attribute length");
    memcpy(pads, a, sizeof(int64_t) * (size_t)(2 * r));
  }
  return SF_OK;
}

static sf_status infer_pad(sf_op_ctx *c) {
  const sf_tensor *x = c->in[0];
  if (strcmp(sf_node_attr_string(c->node, "mode", "constant"), "constant"))
    return sf_op_fail(c, SF_ERR_UNSUPPORTED, "Pad mode '%s' (only constant)", sf_node_attr_string(c->node, "mode", ""));
  int64_t pads[2 * SF_MAX_DIMS], shape[SF_MAX_DIMS];
  sf_status st = pad_amounts(c, pads);
  if (st) return st;
  for (int i = 0; i < x->ndim; i++) {
    shape[i] = x->shape[i] + pads[i] + pads[x->ndim + i];
    if (shape[i] < 0) return sf_op_fail(c, SF_ERR_SHAPE, "negative padded size");
  }
  sf_tensor_describe(c->out[0], x->dtype, x->ndim, shape);
  return SF_OK;
}

static sf_status exec_pad(sf_op_ctx *c) {
  const sf_tensor *x = c->in[0];
  sf_tensor *y = c->out[0];
  int64_t pads[2 * SF_MAX_DIMS];
  sf_status st = pad_amounts(c, pads);
  if (st) return st;
  int r = x->ndim;
  size_t es = sf_dtype_size(x->dtype);
  int64_t n = sf_tensor_numel(y), idx[SF_MAX_DIMS] = {0}, xs[SF_MAX_DIMS], s = 1;
  for (int i = r - 1; i >= 0; i--) { xs[i] = s; s *= x->shape[i]; }
  char fill[8] = {0};
  if (c->n_in > 2 && c->in[2] && c->in[2]->data) memcpy(fill, c->in[2]->data, es);
  else if (sf_node_attr(c->node, "value") && x->dtype == SF_F32) { float v = sf_node_attr_float(c->node, "value", 0); memcpy(fill, &v, 4); }
  for (int64_t o = 0; o < n; o++) {
    int64_t off = 0;
    int inside = 1;
    for (int d = 0; d < r; d++) {
      int64_t i = idx[d] - pads[d];
      if (i < 0 || i >= x->shape[d]) { inside = 0; break; }
      off += i * xs[d];
    }
    memcpy((char *)y->data + o * (int64_t)es, inside ? (const char *)x->data + off * (int64_t)es : fill, es);
    for (int d = r - 1; d >= 0; d--) {
      if (++idx[d] < y->shape[d]) break;
      idx[d] = 0;
    }
  }
  return SF_OK;
}

#define FOLDS_FROM_SHAPE (SF_OPF_OUTPUT_FROM_SHAPE)
const sf_op_def sf_ops_shape[] = {
  {"Shape", "", 1, 1, FOLDS_FROM_SHAPE, infer_shape, exec_shape, "the input's shape as int64", SF_OP_SHAPE, SF_SPK_NONE},
  {"Size", "", 1, 1, FOLDS_FROM_SHAPE, infer_size, exec_size, "the input's element count", SF_OP_SIZE, SF_SPK_NONE},
  {"Reshape", "", 2, 2, SF_OPF_SHAPE_NEEDS_DATA | SF_OPF_PERMUTES | SF_OPF_KEEPS_ORDER, infer_reshape, copy_exec, "new shape, same data", SF_OP_RESHAPE, SF_SPK_LAYOUT},
  {"Flatten", "", 1, 1, SF_OPF_PERMUTES | SF_OPF_KEEPS_ORDER, infer_flatten, copy_exec, "2-D view [prod(d<axis), prod(d>=axis)]", SF_OP_FLATTEN, SF_SPK_LAYOUT},
  {"Squeeze", "", 1, 2, SF_OPF_SHAPE_NEEDS_DATA | SF_OPF_PERMUTES | SF_OPF_KEEPS_ORDER, infer_squeeze, copy_exec, "drop size-1 axes", SF_OP_SQUEEZE, SF_SPK_LAYOUT},
  {"Unsqueeze", "", 1, 2, SF_OPF_SHAPE_NEEDS_DATA | SF_OPF_PERMUTES | SF_OPF_KEEPS_ORDER, infer_unsqueeze, copy_exec, "insert size-1 axes", SF_OP_UNSQUEEZE, SF_SPK_LAYOUT},
  {"Transpose", "", 1, 1, SF_OPF_PERMUTES, infer_transpose, exec_transpose, "permute axes", SF_OP_TRANSPOSE, SF_SPK_LAYOUT},
  {"Concat", "", 1, 1024, 0, infer_concat, exec_concat, "join along an axis", SF_OP_CONCAT, SF_SPK_LAYOUT},
  {"Gather", "", 2, 2, 0, infer_gather, exec_gather, "take indices along an axis", SF_OP_GATHER, SF_SPK_SELECT},
  {"Slice", "", 1, 5, SF_OPF_SHAPE_NEEDS_DATA, infer_slice, exec_slice, "strided sub-tensor", SF_OP_SLICE, SF_SPK_LAYOUT},
  {"Split", "", 1, 2, SF_OPF_SHAPE_NEEDS_DATA, infer_split, exec_split, "split along an axis", SF_OP_SPLIT, SF_SPK_LAYOUT},
  {"Constant", "", 0, 0, 0, infer_constant, exec_constant, "a constant tensor", SF_OP_CONSTANT, SF_SPK_NONE},
  {"ConstantOfShape", "", 1, 1, SF_OPF_SHAPE_NEEDS_DATA, infer_cos, exec_cos, "a filled tensor of a given shape", SF_OP_CONSTANT_OF_SHAPE, SF_SPK_NONE},
  {"Expand", "", 2, 2, SF_OPF_SHAPE_NEEDS_DATA, infer_expand, exec_expand, "broadcast to a shape", SF_OP_EXPAND, SF_SPK_LAYOUT},
  {"Tile", "", 2, 2, SF_OPF_SHAPE_NEEDS_DATA, infer_tile, exec_tile, "repeat along axes", SF_OP_TILE, SF_SPK_LAYOUT},
  {"Range", "", 3, 3, SF_OPF_SHAPE_NEEDS_DATA, infer_range, exec_range, "arithmetic sequence", SF_OP_RANGE, SF_SPK_NONE},
  {"Pad", "", 1, 4, SF_OPF_SHAPE_NEEDS_DATA, infer_pad, exec_pad, "constant padding", SF_OP_PAD, SF_SPK_LAYOUT},
  {NULL, NULL, 0, 0, 0, NULL, NULL, NULL, SF_OP_COUNT, SF_SPK_NONE}
};

/* Element-wise ops with numpy broadcasting.
 *   binary:  A [broadcastable], B [broadcastable] -> Y [broadcast shape]
 *   unary:   X [any] -> Y [same]
 *   Where:   C, X, Y [broadcastable] -> [broadcast shape] */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/par.h"
#include "ops/broadcast.h"
#include "core/vmath.h"
#include "ops/ops.h"

#define PAR_MIN 32768

typedef enum {
  B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MIN, B_MAX, B_MOD, B_EQ, B_LT, B_GT, B_LE, B_GE, B_AND, B_OR, B_XOR
} binop;

static int is_compare(binop op) { return op >= B_EQ; }

static binop binop_of(const char *t) {
  static const char *names[] = {"Add", "Sub", "Mul", "Div", "Pow", "Min", "Max", "Mod", "Equal", "Less",
                                "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor"};
  for (int i = 0; i < 16; i++)
    if (!strcmp(t, names[i])) return (binop)i;
  return B_ADD;
}

static sf_status infer_binary_n(sf_op_ctx *c) {
  /* Variadic (Sum/Max/Min/Mean) or binary: broadcast all inputs. */
  int nd = c->in[0]->ndim;
  int64_t shape[SF_MAX_DIMS];
  memcpy(shape, c->in[0]->shape, sizeof(int64_t) * (size_t)nd);
  for (int i = 1; i < c->n_in; i++) {
    if (!c->in[i]) continue;
    if (c->in[i]->dtype != c->in[0]->dtype && strcmp(c->node->op_type, "Pow"))
      return sf_op_fail(c, SF_ERR_VALUE, "input dtypes differ (%s vs %s)", sf_dtype_name(c->in[0]->dtype),
                        sf_dtype_name(c->in[i]->dtype));
    int64_t tmp[SF_MAX_DIMS];
    int n2;
    sf_status st = sf_broadcast_shape(c, nd, shape, c->in[i]->ndim, c->in[i]->shape, &n2, tmp);
    if (st) return st;
    nd = n2;
    memcpy(shape, tmp, sizeof(int64_t) * (size_t)nd);
  }
  binop op = binop_of(c->node->op_type);
  sf_dtype dt = (is_compare(op) && strcmp(c->node->op_type, "Max") && strcmp(c->node->op_type, "Min")) ? SF_BOOL : c->in[0]->dtype;
  if (!strcmp(c->node->op_type, "Sum") || !strcmp(c->node->op_type, "Mean")) dt = c->in[0]->dtype;
  sf_tensor_describe(c->out[0], dt, nd, shape);
  return SF_OK;
}

#define ARITH_LOOP(T, EXPR)                                         \
  do {                                                              \
    const T *a = (const T *)va; const T *b = (const T *)vb; T *y = (T *)vy; \
    if (sa && sb) { for (int64_t i = 0; i < n; i++) { T x = a[i], z = b[i]; y[i] = (EXPR); } } \
    else if (sa)  { T z = b[0]; for (int64_t i = 0; i < n; i++) { T x = a[i]; y[i] = (EXPR); } } \
    else if (sb)  { T x = a[0]; for (int64_t i = 0; i < n; i++) { T z = b[i]; y[i] = (EXPR); } } \
    else          { T x = a[0], z = b[0]; for (int64_t i = 0; i < n; i++) y[i] = (EXPR); } \
  } while (0)

#define CMP_LOOP(T, EXPR)                                           \
  do {                                                              \
    const T *a = (const T *)va; const T *b = (const T *)vb; uint8_t *y = (uint8_t *)vy; \
    for (int64_t i = 0; i < n; i++) { T x = a[sa ? i : 0], z = b[sb ? i : 0]; y[i] = (uint8_t)(EXPR); } \
  } while (0)

static double fmod_py(double x, double z) { double r = fmod(x, z); if (r != 0 && ((r < 0) != (z < 0))) r += z; return r; }
static int64_t imod_py(int64_t x, int64_t z) { if (z == 0) return 0; int64_t r = x % z; if (r != 0 && ((r < 0) != (z < 0))) r += z; return r; }
static int64_t idiv(int64_t x, int64_t z) { return z == 0 ? 0 : x / z; }
static int64_t ipow(int64_t x, int64_t e) { int64_t r = 1; if (e < 0) return 0; while (e--) r *= x; return r; }

#define ARITH_T(T, FDIV, FMOD, FPOW)                                               \
  switch (op) {                                                                    \
    case B_ADD: ARITH_LOOP(T, x + z); break;                                       \
    case B_SUB: ARITH_LOOP(T, x - z); break;                                       \
    case B_MUL: ARITH_LOOP(T, x * z); break;                                       \
    case B_DIV: ARITH_LOOP(T, FDIV(x, z)); break;                                  \
    case B_POW: ARITH_LOOP(T, FPOW(x, z)); break;                                  \
    case B_MIN: ARITH_LOOP(T, x < z ? x : z); break;                               \
    case B_MAX: ARITH_LOOP(T, x > z ? x : z); break;                               \
    case B_MOD: ARITH_LOOP(T, FMOD(x, z)); break;                                  \
    case B_EQ: CMP_LOOP(T, x == z); break;                                         \
    case B_LT: CMP_LOOP(T, x < z); break;                                          \
    case B_GT: CMP_LOOP(T, x > z); break;                                          \
    case B_LE: CMP_LOOP(T, x <= z); break;                                         \
    case B_GE: CMP_LOOP(T, x >= z); break;                                         \
    case B_AND: CMP_LOOP(T, (x != 0) && (z != 0)); break;                          \
    case B_OR: CMP_LOOP(T, (x != 0) || (z != 0)); break;                           \
    case B_XOR: CMP_LOOP(T, (x != 0) != (z != 0)); break;                          \
  }

#define FDIV_F(x, z) ((x) / (z))
static inline float fpow_f(float x, float z) { return z == 2.0f ? x * x : (z == 0.5f ? sqrtf(x) : powf(x, z)); }
static inline float fmod_f(float x, float z) { return (float)fmod_py(x, z); }
#define DPOW(x, z) pow(x, z)

static void binary_run(binop op, sf_dtype dt, const void *va, int sa, const void *vb, int sb, void *vy, int64_t n) {
  switch (dt) {
    case SF_F32: ARITH_T(float, FDIV_F, fmod_f, fpow_f); break;
    case SF_F64: ARITH_T(double, FDIV_F, fmod_py, DPOW); break;
    case SF_I64: ARITH_T(int64_t, idiv, imod_py, ipow); break;
    case SF_I32: ARITH_T(int32_t, idiv, imod_py, ipow); break;
    case SF_I16: ARITH_T(int16_t, idiv, imod_py, ipow); break;
    case SF_I8: ARITH_T(int8_t, idiv, imod_py, ipow); break;
    case SF_U8: case SF_BOOL: ARITH_T(uint8_t, idiv, imod_py, ipow); break;
    default: break;
  }
}

/* Apply binary op `op` to a (dtype dt) and b into y, broadcasting. Pow with mixed dtypes casts b. */
static sf_status binary_apply(const sf_op_ctx *c, binop op, const sf_tensor *a, const sf_tensor *b, sf_tensor *y) {
  sf_tensor bc = {0};
  if (b->dtype != a->dtype) {
    sf_status st = sf_tensor_cast(&bc, b, a->dtype);
    if (st) return st;
    b = &bc;
  }
  const sf_tensor *ops[3] = {y, a, b};
  sf_bcast bp;
  sf_bcast_init(&bp, y->ndim, y->shape, 3, ops);
  size_t ea = sf_dtype_size(a->dtype), ey = sf_dtype_size(y->dtype);
  int64_t inner = bp.shape[bp.nd - 1];
  int sa = bp.stride[1][bp.nd - 1] != 0, sb = bp.stride[2][bp.nd - 1] != 0;
  int64_t total = bp.outer * inner;
  if (total == 0) { sf_tensor_free(&bc); return SF_OK; }
  if (bp.outer == 1) {
    /* Single inner run: split it across threads. */
    int64_t chunk = total > PAR_MIN ? (total + 63) / 64 : total;
    int64_t nchunks = (total + chunk - 1) / chunk;
    SF_PAR_IF(nchunks > 1, "omp parallel for schedule(static)",
    for (int64_t k = 0; k < nchunks; k++) {
      int64_t s = k * chunk, n = total - s < chunk ? total - s : chunk;
      binary_run(op, a->dtype, (const char *)a->data + (sa ? s : 0) * (int64_t)ea, sa,
                 (const char *)b->data + (sb ? s : 0) * (int64_t)ea, sb, (char *)y->data + s * (int64_t)ey, n);
    });
  } else {
    SF_PAR_IF(total > PAR_MIN, "omp parallel for schedule(static)",
    for (int64_t o = 0; o < bp.outer; o++) {
      int64_t off[3];
      sf_bcast_offsets(&bp, o, off);
      binary_run(op, a->dtype, (const char *)a->data + off[1] * (int64_t)ea, sa, (const char *)b->data + off[2] * (int64_t)ea,
                 sb, (char *)y->data + off[0] * (int64_t)ey, inner);
    });
  }
  sf_tensor_free(&bc);
  return SF_OK;
}

static sf_status exec_binary(sf_op_ctx *c) {
  binop op = binop_of(c->node->op_type);
  if ((op == B_DIV || op == B_MOD) && !sf_dtype_is_float(c->in[0]->dtype)) {
    int64_t n = sf_tensor_numel(c->in[1]);
    for (int64_t i = 0; i < n; i++)
      if (sf_tensor_get_i(c->in[1], i) == 0) return sf_op_fail(c, SF_ERR_VALUE, "integer division by zero");
  }
  if (op == B_MOD && sf_dtype_is_float(c->in[0]->dtype) && !sf_node_attr_int(c->node, "fmod", 0))
    return sf_op_fail(c, SF_ERR_UNSUPPORTED, "float Mod requires fmod=1");
  if (op == B_MOD && sf_node_attr_int(c->node, "fmod", 0)) {
    /* C fmod semantics (sign of dividend). */
    const sf_tensor *ops[3] = {c->out[0], c->in[0], c->in[1]};
    sf_bcast bp;
    sf_bcast_init(&bp, c->out[0]->ndim, c->out[0]->shape, 3, ops);
    int64_t inner = bp.shape[bp.nd - 1];
    for (int64_t o = 0; o < bp.outer; o++) {
      int64_t off[3];
      sf_bcast_offsets(&bp, o, off);
      for (int64_t i = 0; i < inner; i++) {
        double x = sf_tensor_get_f(c->in[0], off[1] + i * bp.stride[1][bp.nd - 1]);
        double z = sf_tensor_get_f(c->in[1], off[2] + i * bp.stride[2][bp.nd - 1]);
        double r = fmod(x, z);
        if (c->out[0]->dtype == SF_F32) ((float *)c->out[0]->data)[off[0] + i] = (float)r;
        else if (c->out[0]->dtype == SF_F64) ((double *)c->out[0]->data)[off[0] + i] = r;
        else if (c->out[0]->dtype == SF_I64) ((int64_t *)c->out[0]->data)[off[0] + i] = (int64_t)x % (int64_t)z;
        else if (c->out[0]->dtype == SF_I32) ((int32_t *)c->out[0]->data)[off[0] + i] = (int32_t)((int64_t)x % (int64_t)z);
      }
    }
    return SF_OK;
  }
  return binary_apply(c, op, c->in[0], c->in[1], c->out[0]);
}

/* Variadic Sum / Max / Min / Mean. */
static sf_status exec_variadic(sf_op_ctx *c) {
  const char *t = c->node->op_type;
  binop op = !strcmp(t, "Max") ? B_MAX : !strcmp(t, "Min") ? B_MIN : B_ADD;
  sf_tensor *y = c->out[0];
  if (c->n_in == 1) {
    /* broadcast copy */
    sf_tensor zero = {0};
    int64_t one = 1;
    sf_status st = sf_tensor_alloc(&zero, c->in[0]->dtype, 1, &one);
    if (st) return st;
    st = binary_apply(c, B_ADD, c->in[0], &zero, y);
    sf_tensor_free(&zero);
    if (st) return st;
  } else {
    sf_status st = binary_apply(c, op, c->in[0], c->in[1], y);
    if (st) return st;
    for (int i = 2; i < c->n_in; i++) {
      sf_tensor acc = {0};
      st = sf_tensor_clone(&acc, y);
      if (!st) st = binary_apply(c, op, &acc, c->in[i], y);
      sf_tensor_free(&acc);
      if (st) return st;
    }
  }
  if (!strcmp(t, "Mean")) {
    int64_t n = sf_tensor_numel(y);
    if (y->dtype == SF_F32) for (int64_t i = 0; i < n; i++) ((float *)y->data)[i] /= (float)c->n_in;
    else if (y->dtype == SF_F64) for (int64_t i = 0; i < n; i++) ((double *)y->data)[i] /= c->n_in;
  }
  return SF_OK;
}

/* ---- unary ---- */

typedef enum {
  U_SQRT, U_ERF, U_TANH, U_RELU, U_SIGMOID, U_NEG, U_ABS, U_EXP, U_LOG, U_RECIP, U_FLOOR, U_CEIL, U_NOT,
  U_GELU, U_GELU_TANH, U_LEAKY, U_SOFTPLUS, U_SIN, U_COS, U_SIGN, U_ROUND, U_ELU, U_HARDSIGMOID, U_SELU,
  U_IDENTITY
} unop;

static unop unop_of(const sf_op_ctx *c) {
  const char *t = c->node->op_type;
  if (!strcmp(t, "Sqrt")) return U_SQRT;
  if (!strcmp(t, "Erf")) return U_ERF;
  if (!strcmp(t, "Tanh")) return U_TANH;
  if (!strcmp(t, "Relu")) return U_RELU;
  if (!strcmp(t, "Sigmoid")) return U_SIGMOID;
  if (!strcmp(t, "Neg")) return U_NEG;
  if (!strcmp(t, "Abs")) return U_ABS;
  if (!strcmp(t, "Exp")) return U_EXP;
  if (!strcmp(t, "Log")) return U_LOG;
  if (!strcmp(t, "Reciprocal")) return U_RECIP;
  if (!strcmp(t, "Floor")) return U_FLOOR;
  if (!strcmp(t, "Ceil")) return U_CEIL;
  if (!strcmp(t, "Not")) return U_NOT;
  if (!strcmp(t, "Gelu")) return strcmp(sf_node_attr_string(c->node, "approximate", "none"), "tanh") ? U_GELU : U_GELU_TANH;
  if (!strcmp(t, "LeakyRelu")) return U_LEAKY;
  if (!strcmp(t, "Softplus")) return U_SOFTPLUS;
  if (!strcmp(t, "Sin")) return U_SIN;
  if (!strcmp(t, "Cos")) return U_COS;
  if (!strcmp(t, "Sign")) return U_SIGN;
  if (!strcmp(t, "Round")) return U_ROUND;
  if (!strcmp(t, "Elu")) return U_ELU;
  if (!strcmp(t, "HardSigmoid")) return U_HARDSIGMOID;
  if (!strcmp(t, "Selu")) return U_SELU;
  return U_IDENTITY;
}

static sf_status infer_same(sf_op_ctx *c) {
  sf_tensor_describe(c->out[0], c->in[0]->dtype, c->in[0]->ndim, c->in[0]->shape);
  for (int k = 1; k < c->n_out; k++) /* Dropout mask */
    sf_tensor_describe(c->out[k], SF_BOOL, c->in[0]->ndim, c->in[0]->shape);
  return SF_OK;
}

static sf_status infer_dropout(sf_op_ctx *c) {
  if (c->n_in > 2 && c->in[2]) {
    sf_status st = sf_need_const(c, 2, "training_mode");
    if (st) return st;
    if (sf_tensor_get_i(c->in[2], 0)) return sf_op_fail(c, SF_ERR_UNSUPPORTED, "training_mode=true (random dropout; inference only)");
  }
  return infer_same(c);
}

static float gelu_tanh(float x) {
  return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
}

/* vectorised functions: blocks of whole vectors per thread */
#define UNARY_V(FN) \
  SF_PAR_IF(n > PAR_MIN, "omp parallel for schedule(static)", for (int64_t i0 = 0; i0 < n; i0 += 1024) FN(y + i0, a + i0, n - i0 < 1024 ? n - i0 : 1024);)

#define UNARY_F(EXPR) \
  SF_PAR_IF(n > PAR_MIN, "omp parallel for schedule(static)", for (int64_t i = 0; i < n; i++) { float x = a[i]; y[i] = (EXPR); })

static sf_status exec_unary(sf_op_ctx *c) {
  unop op = unop_of(c);
  const sf_tensor *in = c->in[0];
  sf_tensor *out = c->out[0];
  int64_t n = sf_tensor_numel(in);
  for (int k = 1; k < c->n_out; k++) memset(c->out[k]->data, 1, (size_t)n); /* Dropout mask: all kept */
  if (op == U_IDENTITY) { memcpy(out->data, in->data, sf_tensor_nbytes(in)); return SF_OK; }
  if (in->dtype == SF_BOOL || op == U_NOT) {
    if (op != U_NOT) return sf_op_fail(c, SF_ERR_UNSUPPORTED, "bool input");
    for (int64_t i = 0; i < n; i++) ((uint8_t *)out->data)[i] = !((uint8_t *)in->data)[i];
    return SF_OK;
  }
  if (in->dtype != SF_F32) {
    /* Integer / double: evaluate in double. */
    for (int64_t i = 0; i < n; i++) {
      double x = sf_tensor_get_f(in, i), r;
      switch (op) {
        case U_NEG: r = -x; break;
        case U_ABS: r = fabs(x); break;
        case U_RELU: r = x > 0 ? x : 0; break;
        case U_SIGN: r = (x > 0) - (x < 0); break;
        case U_SQRT: r = sqrt(x); break;
        case U_EXP: r = exp(x); break;
        case U_LOG: r = log(x); break;
        case U_FLOOR: r = floor(x); break;
        case U_CEIL: r = ceil(x); break;
        case U_TANH: r = tanh(x); break;
        case U_ERF: r = erf(x); break;
        case U_RECIP: r = 1.0 / x; break;
        case U_SIGMOID: r = 1.0 / (1.0 + exp(-x)); break;
        default: return sf_op_fail(c, SF_ERR_UNSUPPORTED, "dtype %s", sf_dtype_name(in->dtype));
      }
      if (in->dtype == SF_F64) ((double *)out->data)[i] = r;
      else if (in->dtype == SF_I64) ((int64_t *)out->data)[i] = (int64_t)r;
      else if (in->dtype == SF_I32) ((int32_t *)out->data)[i] = (int32_t)r;
      else if (in->dtype == SF_I8) ((int8_t *)out->data)[i] = (int8_t)r;
      else if (in->dtype == SF_I16) ((int16_t *)out->data)[i] = (int16_t)r;
      else ((uint8_t *)out->data)[i] = (uint8_t)r;
    }
    return SF_OK;
  }
  const float *a = in->data;
  float *y = out->data;
  float alpha = sf_node_attr_float(c->node, "alpha", op == U_LEAKY ? 0.01f : op == U_HARDSIGMOID ? 0.2f : op == U_SELU ? 1.67326319217681884765625f : 1.0f);
  float beta = sf_node_attr_float(c->node, "beta", 0.5f);
  float gamma = sf_node_attr_float(c->node, "gamma", 1.05070102214813232421875f);
  switch (op) {
    case U_SQRT: UNARY_F(sqrtf(x)); break;
    case U_ERF: UNARY_V(sf_verf); break;
    case U_TANH: UNARY_F(tanhf(x)); break;
    case U_RELU: UNARY_F(x > 0 ? x : 0.0f); break;
    case U_SIGMOID: UNARY_F(1.0f / (1.0f + expf(-x))); break;
    case U_NEG: UNARY_F(-x); break;
    case U_ABS: UNARY_F(fabsf(x)); break;
    case U_EXP: UNARY_V(sf_vexp); break;
    case U_LOG: UNARY_F(logf(x)); break;
    case U_RECIP: UNARY_F(1.0f / x); break;
    case U_FLOOR: UNARY_F(floorf(x)); break;
    case U_CEIL: UNARY_F(ceilf(x)); break;
    case U_GELU: UNARY_V(sf_vgelu); break;
    case U_GELU_TANH: UNARY_F(gelu_tanh(x)); break;
    case U_LEAKY: UNARY_F(x >= 0 ? x : alpha * x); break;
    case U_SOFTPLUS: UNARY_F(x > 20.0f ? x : log1pf(expf(x))); break;
    case U_SIN: UNARY_F(sinf(x)); break;
    case U_COS: UNARY_F(cosf(x)); break;
    case U_SIGN: UNARY_F((float)((x > 0) - (x < 0))); break;
    case U_ROUND: UNARY_F(nearbyintf(x)); break;
    case U_ELU: UNARY_F(x >= 0 ? x : alpha * (expf(x) - 1.0f)); break;
    case U_HARDSIGMOID: UNARY_F(fmaxf(0.0f, fminf(1.0f, alpha * x + beta))); break;
    case U_SELU: UNARY_F(x > 0 ? gamma * x : gamma * (alpha * expf(x) - alpha)); break;
    default: break;
  }
  return SF_OK;
}

/* Clip: X, [min], [max] (opset >= 11 as inputs; before as attributes). */
static sf_status exec_clip(sf_op_ctx *c) {
  double lo = -INFINITY, hi = INFINITY;
  if (c->n_in > 1 && c->in[1]) lo = sf_tensor_get_f(c->in[1], 0);
  else if (sf_node_attr(c->node, "min")) lo = sf_node_attr_float(c->node, "min", 0);
  if (c->n_in > 2 && c->in[2]) hi = sf_tensor_get_f(c->in[2], 0);
  else if (sf_node_attr(c->node, "max")) hi = sf_node_attr_float(c->node, "max", 0);
  int64_t n = sf_tensor_numel(c->in[0]);
  const sf_tensor *x = c->in[0];
  sf_tensor *y = c->out[0];
  if (x->dtype == SF_F32) {
    float l = (float)lo, h = (float)hi;
    const float *a = x->data;
    float *o = y->data;
    for (int64_t i = 0; i < n; i++) { float v = a[i]; o[i] = v < l ? l : v > h ? h : v; }
  } else {
    for (int64_t i = 0; i < n; i++) {
      double v = sf_tensor_get_f(x, i);
      v = v < lo ? lo : v > hi ? hi : v;
      if (x->dtype == SF_I64) ((int64_t *)y->data)[i] = (int64_t)v;
      else if (x->dtype == SF_I32) ((int32_t *)y->data)[i] = (int32_t)v;
      else if (x->dtype == SF_F64) ((double *)y->data)[i] = v;
      else if (x->dtype == SF_I8) ((int8_t *)y->data)[i] = (int8_t)v;
      else if (x->dtype == SF_U8) ((uint8_t *)y->data)[i] = (uint8_t)v;
      else ((int16_t *)y->data)[i] = (int16_t)v;
    }
  }
  return SF_OK;
}

/* Cast */
static int onnx_dtype_to_sf(int64_t onnx, sf_dtype *out) {
  switch (onnx) {
    case 1: *out = SF_F32; return 0;
    case 2: *out = SF_U8; return 0;
    case 3: *out = SF_I8; return 0;
    case 5: *out = SF_I16; return 0;
    case 6: *out = SF_I32; return 0;
    case 7: *out = SF_I64; return 0;
    case 9: *out = SF_BOOL; return 0;
    case 11: *out = SF_F64; return 0;
    default: return -1;
  }
}

static sf_status infer_cast(sf_op_ctx *c) {
  sf_dtype to;
  int64_t t = sf_node_attr_int(c->node, "to", -1);
  if (onnx_dtype_to_sf(t, &to)) return sf_op_fail(c, SF_ERR_UNSUPPORTED, "cast to ONNX dtype %lld", (long long)t);
  sf_tensor_describe(c->out[0], to, c->in[0]->ndim, c->in[0]->shape);
  return SF_OK;
}

static sf_status exec_cast(sf_op_ctx *c) {
  sf_tensor tmp = {0};
  sf_status st = sf_tensor_cast(&tmp, c->in[0], c->out[0]->dtype);
  if (st) return st;
  memcpy(c->out[0]->data, tmp.data, sf_tensor_nbytes(&tmp));
  sf_tensor_free(&tmp);
  return SF_OK;
}

/* Where(cond, X, Y) */
static sf_status infer_where(sf_op_ctx *c) {
  int64_t s1[SF_MAX_DIMS], s2[SF_MAX_DIMS];
  int n1, n2;
  sf_status st = sf_broadcast_shape(c, c->in[0]->ndim, c->in[0]->shape, c->in[1]->ndim, c->in[1]->shape, &n1, s1);
  if (st) return st;
  st = sf_broadcast_shape(c, n1, s1, c->in[2]->ndim, c->in[2]->shape, &n2, s2);
  if (st) return st;
  if (c->in[1]->dtype != c->in[2]->dtype) return sf_op_fail(c, SF_ERR_VALUE, "X and Y dtypes differ");
  sf_tensor_describe(c->out[0], c->in[1]->dtype, n2, s2);
  return SF_OK;
}

static sf_status exec_where(sf_op_ctx *c) {
  sf_tensor *y = c->out[0];
  const sf_tensor *ops4[3] = {c->in[0], c->in[1], c->in[2]};
  sf_bcast bp;
  sf_bcast_init(&bp, y->ndim, y->shape, 3, ops4);
  const uint8_t *cond = c->in[0]->data;
  size_t es = sf_dtype_size(y->dtype);
  int64_t inner = bp.shape[bp.nd - 1];
  SF_PAR_IF(bp.outer * inner > PAR_MIN, "omp parallel for schedule(static)",
  for (int64_t o = 0; o < bp.outer; o++) {
    int64_t off[3];
    sf_bcast_offsets(&bp, o, off);
    char *dst = (char *)y->data + o * inner * (int64_t)es;
    for (int64_t i = 0; i < inner; i++) {
      int64_t ci = off[0] + i * bp.stride[0][bp.nd - 1];
      int64_t xi = off[1] + i * bp.stride[1][bp.nd - 1];
      int64_t yi = off[2] + i * bp.stride[2][bp.nd - 1];
      const char *src = cond[ci] ? (const char *)c->in[1]->data + xi * (int64_t)es : (const char *)c->in[2]->data + yi * (int64_t)es;
      memcpy(dst + i * (int64_t)es, src, es);
    }
  });
  return SF_OK;
}

#define BIN(name, id, spk) {name, "", 2, 2, 0, infer_binary_n, exec_binary, "element-wise " name " with broadcasting", id, spk}
#define UN(name, summary, id, spk) {name, "", 1, 1, 0, infer_same, exec_unary, summary, id, spk}

const sf_op_def sf_ops_elementwise[] = {
  BIN("Add", SF_OP_ADD, SF_SPK_LINEAR), BIN("Sub", SF_OP_SUB, SF_SPK_LINEAR), BIN("Mul", SF_OP_MUL, SF_SPK_SCALE), BIN("Div", SF_OP_DIV, SF_SPK_SCALE), BIN("Pow", SF_OP_POW, SF_SPK_FLOAT), BIN("Mod", SF_OP_MOD, SF_SPK_FLOAT),
  BIN("Equal", SF_OP_EQUAL, SF_SPK_NONE), BIN("Less", SF_OP_LESS, SF_SPK_NONE), BIN("Greater", SF_OP_GREATER, SF_SPK_NONE), BIN("LessOrEqual", SF_OP_LESS_OR_EQUAL, SF_SPK_NONE), BIN("GreaterOrEqual", SF_OP_GREATER_OR_EQUAL, SF_SPK_NONE),
  BIN("And", SF_OP_AND, SF_SPK_NONE), BIN("Or", SF_OP_OR, SF_SPK_NONE), BIN("Xor", SF_OP_XOR, SF_SPK_NONE),
  {"Max", "", 1, 64, 0, infer_binary_n, exec_variadic, "element-wise max of inputs", SF_OP_MAX, SF_SPK_FLOAT},
  {"Min", "", 1, 64, 0, infer_binary_n, exec_variadic, "element-wise min of inputs", SF_OP_MIN, SF_SPK_FLOAT},
  {"Sum", "", 1, 64, 0, infer_binary_n, exec_variadic, "element-wise sum of inputs", SF_OP_SUM, SF_SPK_LINEAR},
  {"Mean", "", 1, 64, 0, infer_binary_n, exec_variadic, "element-wise mean of inputs", SF_OP_MEAN, SF_SPK_LINEAR},
  UN("Sqrt", "square root", SF_OP_SQRT, SF_SPK_FLOAT), UN("Erf", "error function", SF_OP_ERF, SF_SPK_FLOAT), UN("Tanh", "tanh", SF_OP_TANH, SF_SPK_FLOAT), UN("Relu", "max(x, 0)", SF_OP_RELU, SF_SPK_RELU),
  UN("Sigmoid", "logistic", SF_OP_SIGMOID, SF_SPK_FLOAT), UN("Neg", "-x", SF_OP_NEG, SF_SPK_LINEAR), UN("Abs", "|x|", SF_OP_ABS, SF_SPK_FLOAT), UN("Exp", "e^x", SF_OP_EXP, SF_SPK_FLOAT), UN("Log", "ln x", SF_OP_LOG, SF_SPK_FLOAT),
  UN("Reciprocal", "1/x", SF_OP_RECIPROCAL, SF_SPK_FLOAT), UN("Floor", "floor", SF_OP_FLOOR, SF_SPK_FLOAT), UN("Ceil", "ceil", SF_OP_CEIL, SF_SPK_FLOAT), UN("Not", "logical not", SF_OP_NOT, SF_SPK_NONE),
  UN("LeakyRelu", "leaky ReLU", SF_OP_LEAKY_RELU, SF_SPK_FLOAT), UN("Softplus", "ln(1+e^x)", SF_OP_SOFTPLUS, SF_SPK_FLOAT), UN("Sin", "sin", SF_OP_SIN, SF_SPK_FLOAT), UN("Cos", "cos", SF_OP_COS, SF_SPK_FLOAT),
  UN("Sign", "sign", SF_OP_SIGN, SF_SPK_FLOAT), UN("Round", "round half to even", SF_OP_ROUND, SF_SPK_FLOAT), UN("Elu", "ELU", SF_OP_ELU, SF_SPK_FLOAT), UN("HardSigmoid", "hard sigmoid", SF_OP_HARD_SIGMOID, SF_SPK_FLOAT),
  UN("Selu", "SELU", SF_OP_SELU, SF_SPK_FLOAT), UN("Identity", "copy", SF_OP_IDENTITY, SF_SPK_LAYOUT),
  {"Gelu", "", 1, 1, 0, infer_same, exec_unary, "GELU (erf, or tanh with approximate=tanh)", SF_OP_GELU, SF_SPK_FLOAT},
  {"Gelu", "spikeformer", 1, 1, 0, infer_same, exec_unary, "GELU fused from its erf / tanh decomposition", SF_OP_GELU, SF_SPK_FLOAT},
  {"Dropout", "", 1, 3, SF_OPF_SHAPE_NEEDS_DATA | SF_OPF_PERMUTES | SF_OPF_KEEPS_ORDER, infer_dropout, exec_unary, "identity at inference", SF_OP_DROPOUT, SF_SPK_LAYOUT},
  {"Clip", "", 1, 3, 0, infer_same, exec_clip, "clamp to [min, max]", SF_OP_CLIP, SF_SPK_FLOAT},
  {"Cast", "", 1, 1, 0, infer_cast, exec_cast, "dtype conversion", SF_OP_CAST, SF_SPK_CAST},
  {"Where", "", 3, 3, 0, infer_where, exec_where, "select X where cond else Y", SF_OP_WHERE, SF_SPK_SELECT},
  {NULL, NULL, 0, 0, 0, NULL, NULL, NULL, SF_OP_COUNT, SF_SPK_NONE}
};

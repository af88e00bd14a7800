/* Fusion passes: recognise what torch.onnx.export decomposes and rebuild transformer-level ops.
 *   LayerNorm:  ReduceMean, Sub, Pow|Mul, ReduceMean, Add eps, Sqrt, Div [, Mul gamma] [, Add beta]
 *   GELU (erf): Div(x, sqrt2)|Mul(x, 1/sqrt2), Erf, Add 1, Mul x, Mul 0.5
 *   GELU (tanh): Pow(x,3)|x*x*x, Mul 0.044715, Add x, Mul sqrt(2/pi), Tanh, Add 1, Mul x, Mul 0.5
 *   Attention:  MatMul(Q, Kt) [, Div|Mul scale] [, Add mask], Softmax(last axis), MatMul(., V)
 *   Linear:     MatMul(x, W const 2-D) [, Add b const [N]]
 * The last node of a pattern is rewritten in place (so topological order holds); the others are
 * detached and removed by compaction. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "graph/graph.h"
#include "graph/passes.h"
#include "ops/ops.h"

typedef struct {
  sf_graph *g;
  int *uses;
  int n_fused[5];
} fctx;

static sf_node *prod(fctx *f, int v) {
  if (v < 0) return NULL;
  int p = f->g->values[v].producer;
  if (p < 0 || f->g->nodes[p].n_out == 0) return NULL;
  return &f->g->nodes[p];
}

static int is_op(const sf_node *n, const char *op) { return n && !strcmp(n->op_type, op) && (!*n->domain || !strcmp(n->domain, "ai.onnx")); }
static int is_const(fctx *f, int v) { return v >= 0 && f->g->values[v].t.data != NULL; }
static int one_use(fctx *f, int v) { return v >= 0 && f->uses[v] == 1; }

/* scalar constant value (any dtype), or NAN if v is not a 1-element constant */
static double scalar(fctx *f, int v) {
  if (!is_const(f, v)) return NAN;
  const sf_tensor *t = &f->g->values[v].t;
  if (sf_tensor_numel(t) != 1) return NAN;
  return sf_tensor_get_f(t, 0);
}

static int near(double a, double b, double tol) { return !isnan(a) && fabs(a - b) <= tol * fabs(b); }

/* The other input of a binary node, given one of them. -1 if v is not an input. */
static int other(const sf_node *n, int v) {
  if (n->n_in != 2) return -1;
  if (n->in[0] == v) return n->in[1];
  if (n->in[1] == v) return n->in[0];
  return -1;
}

/* The single consumer of value v (NULL unless exactly one node reads it once). */
static sf_node *consumer(fctx *f, int v) {
  if (!one_use(f, v)) return NULL;
  for (int i = 0; i < f->g->n_nodes; i++) {
    sf_node *n = &f->g->nodes[i];
    if (!n->n_out) continue;
    for (int k = 0; k < n->n_in; k++)
      if (n->in[k] == v) return n;
  }
  return NULL;
}

static void detach(fctx *f, sf_node *n) {
  for (int k = 0; k < n->n_out; k++) f->g->values[n->out[k]].producer = -1;
  n->n_out = 0;
  for (int k = 0; k < n->n_in; k++)
    if (n->in[k] >= 0) f->uses[n->in[k]]--;
  n->n_in = 0;
}

static sf_status rewrite(fctx *f, sf_node *n, const char *op_type, int n_in, const int *in, const char *note) {
  for (int k = 0; k < n->n_in; k++)
    if (n->in[k] >= 0) f->uses[n->in[k]]--;
  int *ni = malloc(sizeof(int) * (size_t)(n_in ? n_in : 1));
  if (!ni) return sf_error(SF_ERR_NOMEM, "out of memory");
  memcpy(ni, in, sizeof(int) * (size_t)n_in);
  free(n->in);
  n->in = ni;
  n->n_in = n_in;
  for (int k = 0; k < n_in; k++)
    if (in[k] >= 0) f->uses[in[k]]++;
  for (int a = 0; a < n->n_attr; a++) {
    free(n->attrs[a].name); free(n->attrs[a].ints); free(n->attrs[a].floats); free(n->attrs[a].s);
    if (n->attrs[a].t) { sf_tensor_free(n->attrs[a].t); free(n->attrs[a].t); }
  }
  free(n->attrs);
  n->attrs = NULL;
  n->n_attr = 0;
  free(n->op_type);
  free(n->domain);
  n->op_type = sf_strdup(op_type);
  n->domain = sf_strdup("spikeformer");
  n->def = sf_op_find(op_type, "spikeformer");
  free(n->note);
  n->note = note ? sf_strdup(note) : NULL;
  if (!n->op_type || !n->domain || !n->def) return sf_error(SF_ERR_INTERNAL, "fusion to %s failed", op_type);
  return SF_OK;
}

static int last_axis_reduce(fctx *f, const sf_node *r, int rank) {
  if (!is_op(r, "ReduceMean") || sf_node_attr_int(r, "keepdims", 1) != 1) return 0;
  int64_t axes[SF_MAX_DIMS];
  int n;
  if (r->n_in > 1) {
    if (!is_const(f, r->in[1])) return 0;
    const sf_tensor *t = &f->g->values[r->in[1]].t;
    n = (int)sf_tensor_numel(t);
    if (n != 1) return 0;
    axes[0] = sf_tensor_get_i(t, 0);
  } else {
    const int64_t *a;
    n = sf_node_attr_ints(r, "axes", &a);
    if (n != 1) return 0;
    axes[0] = a[0];
  }
  return axes[0] == -1 || axes[0] == rank - 1;
}

static int new_const(fctx *f, const char *base, float fill, int64_t n) {
  sf_tensor t;
  if (sf_tensor_alloc(&t, SF_F32, 1, &n)) return -1;
  for (int64_t i = 0; i < n; i++) ((float *)t.data)[i] = fill;
  char name[512];
  for (int k = 0;; k++) {
    snprintf(name, sizeof name, "%s/%s%d", base, fill == 0.0f ? "zeros" : "ones", k);
    if (sf_graph_find_value(f->g, name) < 0) break;
  }
  int v = sf_graph_add_const(f->g, name, &t);
  if (v < 0) sf_tensor_free(&t);
  /* the values array may have moved; callers re-fetch pointers */
  return v;
}

/* ---- LayerNorm ---- */
static sf_status fuse_layernorm(fctx *f, int idx) {
  sf_graph *g = f->g;
  sf_node *D = &g->nodes[idx];
  if (!is_op(D, "Div") || D->n_out != 1) return SF_OK;
  sf_node *S = prod(f, D->in[0]), *Q = prod(f, D->in[1]);
  if (!is_op(S, "Sub") || !is_op(Q, "Sqrt") || !one_use(f, D->in[1])) return SF_OK;
  int x = S->in[0], d = D->in[0];
  int rank = g->values[x].t.ndim;
  sf_node *R1 = prod(f, S->in[1]);
  if (!R1 || R1->in[0] != x || !last_axis_reduce(f, R1, rank) || !one_use(f, S->in[1])) return SF_OK;
  sf_node *A = prod(f, Q->in[0]);
  if (!is_op(A, "Add") || !one_use(f, Q->in[0])) return SF_OK;
  int v = -1;
  double eps = scalar(f, A->in[1]);
  if (!isnan(eps)) v = A->in[0];
  else if (!isnan(eps = scalar(f, A->in[0]))) v = A->in[1];
  else return SF_OK;
  sf_node *R2 = prod(f, v);
  if (!R2 || !last_axis_reduce(f, R2, rank) || !one_use(f, v)) return SF_OK;
  sf_node *P = prod(f, R2->in[0]);
  if (!P || !one_use(f, R2->in[0])) return SF_OK;
  int pow_ok = (is_op(P, "Pow") && P->in[0] == d && near(scalar(f, P->in[1]), 2.0, 1e-6)) ||
               (is_op(P, "Mul") && P->in[0] == d && P->in[1] == d);
  if (!pow_ok) return SF_OK;
  int d_uses = is_op(P, "Mul") ? 3 : 2;
  if (f->uses[d] != d_uses) return SF_OK;
  /* optional affine tail */
  int64_t D_len = g->values[x].t.shape[rank - 1];
  sf_node *last = D, *Mg = NULL, *Ab = NULL;
  int gamma = -1, beta = -1;
  sf_node *c1 = consumer(f, D->out[0]);
  if (is_op(c1, "Mul")) {
    int o = other(c1, D->out[0]);
    if (is_const(f, o) && sf_tensor_numel(&g->values[o].t) == D_len && g->values[o].t.dtype == SF_F32) { Mg = c1; gamma = o; last = Mg; }
  }
  if (Mg) {
    sf_node *c2 = consumer(f, Mg->out[0]);
    if (is_op(c2, "Add")) {
      int o = other(c2, Mg->out[0]);
      if (is_const(f, o) && sf_tensor_numel(&g->values[o].t) == D_len && g->values[o].t.dtype == SF_F32) { Ab = c2; beta = o; last = Ab; }
    }
  }
  /* node pointers may move when constants are added: work with indices */
  int i_last = (int)(last - g->nodes), iS = (int)(S - g->nodes), iQ = (int)(Q - g->nodes), iR1 = (int)(R1 - g->nodes);
  int iA = (int)(A - g->nodes), iR2 = (int)(R2 - g->nodes), iP = (int)(P - g->nodes), iD = idx;
  int iMg = Mg ? (int)(Mg - g->nodes) : -1;
  char note[256];
  snprintf(note, sizeof note, "LayerNorm fused from %d nodes (eps=%g)", 7 + (Mg != NULL) + (Ab != NULL), eps);
  if (gamma < 0) gamma = new_const(f, g->nodes[i_last].name, 1.0f, D_len);
  if (beta < 0) beta = new_const(f, g->nodes[i_last].name, 0.0f, D_len);
  if (gamma < 0 || beta < 0) return sf_error(SF_ERR_NOMEM, "out of memory");
  int nodes_to_kill[] = {iS, iQ, iR1, iA, iR2, iP, iD, iMg};
  int in[3] = {x, gamma, beta};
  for (int k = 0; k < 8; k++)
    if (nodes_to_kill[k] >= 0 && nodes_to_kill[k] != i_last) detach(f, &g->nodes[nodes_to_kill[k]]);
  sf_status st = rewrite(f, &g->nodes[i_last], "LayerNormalization", 3, in, note);
  if (st) return st;
  if ((st = sf_node_set_attr_int(&g->nodes[i_last], "axis", -1)) || (st = sf_node_set_attr_float(&g->nodes[i_last], "epsilon", (float)eps))) return st;
  f->n_fused[0]++;
  return SF_OK;
}

/* ---- GELU tail: t = Add(a, 1) -> Mul with x and 0.5 in either order. Returns the last node. ---- */
static sf_node *gelu_tail(fctx *f, int a_out, int x, int *extra_kill) {
  *extra_kill = -1;
  sf_node *A1 = consumer(f, a_out);
  if (!is_op(A1, "Add") || !near(scalar(f, other(A1, a_out)), 1.0, 1e-6)) return NULL;
  sf_node *M1 = consumer(f, A1->out[0]);
  if (!is_op(M1, "Mul")) return NULL;
  int o = other(M1, A1->out[0]);
  if (o == x) {
    sf_node *M2 = consumer(f, M1->out[0]);
    if (!is_op(M2, "Mul") || !near(scalar(f, other(M2, M1->out[0])), 0.5, 1e-6)) return NULL;
    return M2;
  }
  sf_node *Mh = prod(f, o);
  if (is_op(Mh, "Mul") && one_use(f, o) && other(Mh, x) >= 0 && near(scalar(f, other(Mh, x)), 0.5, 1e-6)) {
    *extra_kill = (int)(Mh - f->g->nodes);
    return M1;
  }
  return NULL;
}

static sf_status finish_gelu(fctx *f, sf_node *last, int x, int *kill, int nkill, const char *approx, const char *note) {
  sf_graph *g = f->g;
  for (int k = 0; k < nkill; k++)
    if (kill[k] >= 0 && &g->nodes[kill[k]] != last) detach(f, &g->nodes[kill[k]]);
  sf_status st = rewrite(f, last, "Gelu", 1, &x, note);
  if (st) return st;
  if ((st = sf_node_set_attr_string(last, "approximate", approx))) return st;
  f->n_fused[1]++;
  return SF_OK;
}

static sf_status fuse_gelu_erf(fctx *f, int idx) {
  sf_graph *g = f->g;
  sf_node *E = &g->nodes[idx];
  if (!is_op(E, "Erf") || E->n_out != 1) return SF_OK;
  sf_node *Dv = prod(f, E->in[0]);
  if (!Dv || !one_use(f, E->in[0])) return SF_OK;
  int x;
  if (is_op(Dv, "Div") && near(scalar(f, Dv->in[1]), sqrt(2.0), 1e-5)) x = Dv->in[0];
  else if (is_op(Dv, "Mul") && near(scalar(f, Dv->in[1]), sqrt(0.5), 1e-5)) x = Dv->in[0];
  else if (is_op(Dv, "Mul") && near(scalar(f, Dv->in[0]), sqrt(0.5), 1e-5)) x = Dv->in[1];
  else return SF_OK;
  int extra;
  sf_node *last = gelu_tail(f, E->out[0], x, &extra);
  if (!last) return SF_OK;
  sf_node *A1 = consumer(f, E->out[0]), *M1 = consumer(f, A1->out[0]);
  int kill[] = {(int)(Dv - g->nodes), idx, (int)(A1 - g->nodes), (int)(M1 - g->nodes), extra};
  return finish_gelu(f, last, x, kill, 5, "none", "GELU (erf form) fused from 5 nodes");
}

static sf_status fuse_gelu_tanh(fctx *f, int idx) {
  sf_graph *g = f->g;
  sf_node *T = &g->nodes[idx];
  if (!is_op(T, "Tanh") || T->n_out != 1) return SF_OK;
  sf_node *Ms = prod(f, T->in[0]);
  if (!is_op(Ms, "Mul") || !one_use(f, T->in[0])) return SF_OK;
  int inner;
  if (near(scalar(f, Ms->in[1]), 0.7978845608028654, 1e-5)) inner = Ms->in[0];
  else if (near(scalar(f, Ms->in[0]), 0.7978845608028654, 1e-5)) inner = Ms->in[1];
  else return SF_OK;
  sf_node *Ai = prod(f, inner);
  if (!is_op(Ai, "Add") || !one_use(f, inner)) return SF_OK;
  /* one operand is x, the other Mul(c, x^3) */
  for (int side = 0; side < 2; side++) {
    int x = Ai->in[side], cube_term = Ai->in[1 - side];
    sf_node *Mc = prod(f, cube_term);
    if (!is_op(Mc, "Mul") || !one_use(f, cube_term)) continue;
    int cube;
    if (near(scalar(f, Mc->in[1]), 0.044715, 1e-4)) cube = Mc->in[0];
    else if (near(scalar(f, Mc->in[0]), 0.044715, 1e-4)) cube = Mc->in[1];
    else continue;
    sf_node *Pw = prod(f, cube);
    if (!Pw || !one_use(f, cube)) continue;
    int k_extra = -1;
    if (is_op(Pw, "Pow")) {
      if (Pw->in[0] != x || !near(scalar(f, Pw->in[1]), 3.0, 1e-6)) continue;
    } else if (is_op(Pw, "Mul")) {
      /* x * (x * x) or (x * x) * x */
      int o = other(Pw, x);
      sf_node *Sq = prod(f, o);
      if (!is_op(Sq, "Mul") || Sq->in[0] != x || Sq->in[1] != x || !one_use(f, o)) continue;
      k_extra = (int)(Sq - g->nodes);
    } else continue;
    int extra;
    sf_node *last = gelu_tail(f, T->out[0], x, &extra);
    if (!last) return SF_OK;
    sf_node *A1 = consumer(f, T->out[0]), *M1 = consumer(f, A1->out[0]);
    int kill[] = {(int)(Pw - g->nodes), k_extra, (int)(Mc - g->nodes), (int)(Ai - g->nodes), (int)(Ms - g->nodes), idx,
                  (int)(A1 - g->nodes), (int)(M1 - g->nodes), extra};
    return finish_gelu(f, last, x, kill, 9, "tanh", "GELU (tanh form) fused from its decomposition");
  }
  return SF_OK;
}

/* ---- Attention core ---- */
static int softmax_last_axis(fctx *f, const sf_node *s) {
  int r = f->g->values[s->in[0]].t.ndim;
  int64_t ax = sf_node_attr_int(s, "axis", f->g->opset >= 13 ? -1 : 1);
  return ax == -1 || ax == r - 1;
}

static sf_status fuse_attention(fctx *f, int idx) {
  sf_graph *g = f->g;
  sf_node *SM = &g->nodes[idx];
  if (!is_op(SM, "Softmax") || SM->n_out != 1 || !softmax_last_axis(f, SM)) return SF_OK;
  sf_node *MV = consumer(f, SM->out[0]);
  if (!is_op(MV, "MatMul") || MV->in[0] != SM->out[0] || is_const(f, MV->in[1])) return SF_OK;
  int s = SM->in[0], mask = -1;
  sf_node *Am = NULL, *Sc = NULL, *MM = NULL;
  double scale = 1.0;
  if (!one_use(f, s)) return SF_OK;
  sf_node *p = prod(f, s);
  if (is_op(p, "Add")) {
    /* which operand is the scores? the one that leads to MatMul */
    for (int side = 0; side < 2 && !Am; side++) {
      sf_node *q = prod(f, p->in[side]);
      if (q && (is_op(q, "MatMul") || is_op(q, "Div") || is_op(q, "Mul")) && one_use(f, p->in[side])) {
        Am = p;
        mask = p->in[1 - side];
        s = p->in[side];
      }
    }
    if (!Am) return SF_OK;
    p = prod(f, s);
  }
  if (is_op(p, "Div") || is_op(p, "Mul")) {
    double c = scalar(f, p->in[1]);
    int src = p->in[0];
    if (isnan(c) && is_op(p, "Mul")) { c = scalar(f, p->in[0]); src = p->in[1]; }
    if (isnan(c) || c == 0 || !one_use(f, src)) return SF_OK;
    scale = is_op(p, "Div") ? 1.0 / c : c;
    Sc = p;
    p = prod(f, src);
  }
  if (!is_op(p, "MatMul") || is_const(f, p->in[0]) || is_const(f, p->in[1])) return SF_OK;
  MM = p;
  int q = MM->in[0], kt = MM->in[1], v = MV->in[1];
  int r = g->values[q].t.ndim;
  if (r < 2 || g->values[kt].t.ndim != r || g->values[v].t.ndim != r) return SF_OK;
  for (int i = 0; i < r - 2; i++)
    if (g->values[q].t.shape[i] != g->values[kt].t.shape[i] || g->values[q].t.shape[i] != g->values[v].t.shape[i]) return SF_OK;
  if (mask >= 0 && g->values[mask].t.dtype != SF_F32) return SF_OK;
  int heads = r >= 3 ? (int)g->values[q].t.shape[r - 3] : 1;
  char note[256];
  snprintf(note, sizeof note, "attention core: %d heads, Sq=%lld, Sk=%lld, d=%lld%s", heads, (long long)g->values[q].t.shape[r - 2],
           (long long)g->values[kt].t.shape[r - 1], (long long)g->values[q].t.shape[r - 1], mask >= 0 ? ", masked" : "");
  detach(f, MM);
  if (Sc) detach(f, Sc);
  if (Am) detach(f, Am);
  detach(f, SM);
  int in[4] = {q, kt, v, mask};
  sf_status st = rewrite(f, MV, "Attention", mask >= 0 ? 4 : 3, in, note);
  if (st) return st;
  if ((st = sf_node_set_attr_float(MV, "scale", (float)scale))) return st;
  f->n_fused[2]++;
  return SF_OK;
}

/* ---- Gemm with a constant weight -> Linear (weight stored [K, N]) ---- */
static sf_status fuse_gemm(fctx *f, int idx) {
  sf_graph *g = f->g;
  sf_node *n = &g->nodes[idx];
  if (!is_op(n, "Gemm") || n->n_out != 1 || sf_node_attr_int(n, "transA", 0) || sf_node_attr_float(n, "alpha", 1.0f) != 1.0f ||
      sf_node_attr_float(n, "beta", 1.0f) != 1.0f)
    return SF_OK;
  int x = n->in[0], w = n->in[1], b = n->n_in > 2 ? n->in[2] : -1;
  if (is_const(f, x) || !is_const(f, w) || g->values[w].t.dtype != SF_F32 || g->values[w].t.ndim != 2) return SF_OK;
  int tb = (int)sf_node_attr_int(n, "transB", 0);
  int64_t N = tb ? g->values[w].t.shape[0] : g->values[w].t.shape[1];
  if (b >= 0 && (!is_const(f, b) || g->values[b].t.dtype != SF_F32 || sf_tensor_numel(&g->values[b].t) != N)) return SF_OK;
  int wk = w;
  if (tb) {
    const sf_tensor *src = &g->values[w].t;
    int64_t R = src->shape[0], C = src->shape[1], shape[2] = {C, R};
    sf_tensor t;
    if (sf_tensor_alloc(&t, SF_F32, 2, shape)) return sf_error(SF_ERR_NOMEM, "out of memory");
    /* in 32 x 32 tiles: both sides stay within a few cache lines */
    const float *a = src->data;
    float *at = t.data;
    for (int64_t i0 = 0; i0 < R; i0 += 32)
      for (int64_t j0 = 0; j0 < C; j0 += 32)
        for (int64_t i = i0; i < i0 + 32 && i < R; i++)
          for (int64_t j = j0; j < j0 + 32 && j < C; j++) at[j * R + i] = a[i * C + j];
    char name[600];
    snprintf(name, sizeof name, "%s/weight_kn", n->name);
    wk = sf_graph_new_value(g, name);
    if (wk < 0) { sf_tensor_free(&t); return sf_error(SF_ERR_NOMEM, "out of memory"); }
    g->values[wk].t = t;
  }
  int bias = b;
  if (b >= 0 && g->values[b].t.ndim != 1) {
    /* C of shape [1, N]: view it as [N] */
    sf_tensor t;
    if (sf_tensor_clone(&t, &g->values[b].t)) return sf_error(SF_ERR_NOMEM, "out of memory");
    t.ndim = 1;
    t.shape[0] = N;
    char name[600];
    snprintf(name, sizeof name, "%s/bias_n", g->nodes[idx].name);
    bias = sf_graph_new_value(g, name);
    if (bias < 0) { sf_tensor_free(&t); return sf_error(SF_ERR_NOMEM, "out of memory"); }
    g->values[bias].t = t;
  }
  int in[3] = {x, wk, bias};
  sf_status st = rewrite(f, &g->nodes[idx], "Linear", bias >= 0 ? 3 : 2, in, "Gemm with constant weight");
  if (!st) f->n_fused[3]++;
  return st;
}

/* ---- Linear ---- */
static sf_status fuse_linear(fctx *f, int idx) {
  sf_graph *g = f->g;
  sf_node *M = &g->nodes[idx];
  if (!is_op(M, "MatMul") || M->n_out != 1) return SF_OK;
  int x = M->in[0], w = M->in[1];
  if (is_const(f, x) || !is_const(f, w) || g->values[w].t.ndim != 2 || g->values[w].t.dtype != SF_F32) return SF_OK;
  if (g->values[x].t.ndim < 1) return SF_OK;
  int64_t N = g->values[w].t.shape[1];
  sf_node *A = consumer(f, M->out[0]);
  if (is_op(A, "Add")) {
    int b = other(A, M->out[0]);
    const sf_tensor *bt = b >= 0 ? &g->values[b].t : NULL;
    if (bt && is_const(f, b) && bt->dtype == SF_F32 && bt->ndim == 1 && bt->shape[0] == N) {
      detach(f, M);
      int in[3] = {x, w, b};
      sf_status st = rewrite(f, A, "Linear", 3, in, "MatMul + bias");
      if (!st) f->n_fused[3]++;
      return st;
    }
  }
  int in[2] = {x, w};
  sf_status st = rewrite(f, M, "Linear", 2, in, "MatMul with constant weight");
  if (!st) f->n_fused[3]++;
  return st;
}

typedef sf_status (*fuse_fn)(fctx *, int);

sf_status sf_pass_fuse(sf_graph *g) {
  fctx f = {g, NULL, {0}};
  fuse_fn passes[] = {fuse_layernorm, fuse_gelu_erf, fuse_gelu_tanh, fuse_attention, fuse_linear, fuse_gemm};
  for (size_t p = 0; p < sizeof passes / sizeof passes[0]; p++) {
    f.uses = calloc((size_t)(g->n_values + 64), sizeof(int));
    if (!f.uses) return sf_error(SF_ERR_NOMEM, "out of memory");
    sf_graph_use_counts(g, f.uses);
    for (int i = 0; i < g->n_nodes; i++) {
      if (!g->nodes[i].n_out) continue;
      int nv_before = g->n_values;
      sf_status st = passes[p](&f, i);
      if (st) { free(f.uses); return st; }
      if (g->n_values != nv_before) {
        /* constants were added: grow the use table */
        int *u = realloc(f.uses, sizeof(int) * (size_t)(g->n_values + 64));
        if (!u) { free(f.uses); return sf_error(SF_ERR_NOMEM, "out of memory"); }
        for (int k = nv_before; k < g->n_values; k++) u[k] = 0;
        f.uses = u;
        sf_graph_use_counts(g, f.uses);
      }
    }
    free(f.uses);
    f.uses = NULL;
  }
  sf_status st = sf_graph_compact(g);
  if (st) return st;
  /* re-check shapes of rewritten nodes */
  for (int i = 0; i < g->n_nodes; i++) {
    if (strcmp(g->nodes[i].domain, "spikeformer")) continue;
    sf_tensor before = g->values[g->nodes[i].out[0]].t;
    if ((st = sf_node_infer(g, i))) return st;
    if (!sf_tensor_same_shape(&before, &g->values[g->nodes[i].out[0]].t))
      return sf_error(SF_ERR_INTERNAL, "fusion changed the shape of '%s'", g->nodes[i].name);
  }
  return SF_OK;
}

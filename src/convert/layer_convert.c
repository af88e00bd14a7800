/* LayerConverter: turns a specialised, fused ANN graph into a spiking graph.
 *   1. fold BatchNorm into the preceding convolution
 *   2. split fused attention into MatMul(Q,Kt) -> scale -> [+mask] -> Softmax -> MatMul(P,V)
 *   3. insert neurons wherever an op needs spikes at its input (shared per site)
 *   4. give every node its spiking mode (linear / product / ec / neuron), or fail with the reason */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/convert_internal.h"
#include "core/util.h"
#include "graph/passes.h"
#include "ops/ops.h"
#include "spikeformer/session.h"

static int is_op(const sf_node *n, sf_op_id op) { return n && n->n_out > 0 && sf_node_op(n) == op; }
static int is_max_pool(const sf_node *n) { return is_op(n, SF_OP_MAX_POOL) || is_op(n, SF_OP_GLOBAL_MAX_POOL); }
static int is_const(const sf_graph *g, int v) { return v >= 0 && g->values[v].t.data != NULL; }
static sf_node *producer(sf_graph *g, int v) {
  if (v < 0 || g->values[v].producer < 0) return NULL;
  sf_node *n = &g->nodes[g->values[v].producer];
  return n->n_out ? n : NULL;
}

static int uses_of(const sf_graph *g, int v) {
  int u = 0;
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i].n_in; k++) u += g->nodes[i].in[k] == v;
  for (int i = 0; i < g->n_outputs; i++) u += g->outputs[i] == v;
  return u;
}

static int add_const_f32(sf_graph *g, const char *base, int ndim, const int64_t *shape, const float *data) {
  sf_tensor t;
  if (sf_tensor_alloc(&t, SF_F32, ndim, shape)) return -1;
  if (data) memcpy(t.data, data, sf_tensor_nbytes(&t));
  int v = sf_graph_new_value(g, base);
  if (v < 0) { sf_tensor_free(&t); return -1; }
  g->values[v].t = t;
  return v;
}

/* ---- 1. BatchNorm folding ---- */
static sf_status fold_batchnorm(sf_graph *g) {
  for (int i = 0; i < g->n_nodes; i++) {
    sf_node *bn = &g->nodes[i];
    if (!is_op(bn, SF_OP_BATCH_NORM)) continue;
    sf_node *cv = producer(g, bn->in[0]);
    if (!is_op(cv, SF_OP_CONV) || uses_of(g, bn->in[0]) != 1 || !is_const(g, cv->in[1])) continue;
    int ok = 1;
    for (int k = 1; k < 5; k++) ok &= is_const(g, bn->in[k]);
    if (!ok || (cv->n_in > 2 && cv->in[2] >= 0 && !is_const(g, cv->in[2]))) continue;
    const sf_tensor *W = &g->values[cv->in[1]].t;
    int64_t M = W->shape[0], per = sf_tensor_numel(W) / M;
    const float *sc = g->values[bn->in[1]].t.data, *be = g->values[bn->in[2]].t.data;
    const float *mu = g->values[bn->in[3]].t.data, *var = g->values[bn->in[4]].t.data;
    const float *b0 = (cv->n_in > 2 && cv->in[2] >= 0) ? g->values[cv->in[2]].t.data : NULL;
    float eps = sf_node_attr_float(bn, "epsilon", 1e-5f);
    float *w2 = malloc(sizeof(float) * (size_t)(M * per)), *b2 = malloc(sizeof(float) * (size_t)M);
    if (!w2 || !b2) { free(w2); free(b2); return sf_error(SF_ERR_NOMEM, "out of memory"); }
    for (int64_t m = 0; m < M; m++) {
      float a = sc[m] / sqrtf(var[m] + eps);
      for (int64_t j = 0; j < per; j++) w2[m * per + j] = ((const float *)W->data)[m * per + j] * a;
      b2[m] = ((b0 ? b0[m] : 0.0f) - mu[m]) * a + be[m];
    }
    char base[512];
    snprintf(base, sizeof base, "%s/bn_folded", cv->name);
    int64_t bshape[1] = {M};
    int vw = add_const_f32(g, base, W->ndim, W->shape, w2), vb = add_const_f32(g, base, 1, bshape, b2);
    free(w2);
    free(b2);
    if (vw < 0 || vb < 0) return sf_error(SF_ERR_NOMEM, "out of memory");
    cv = producer(g, bn->in[0]); /* values may have moved; nodes did not */
    int in[3] = {cv->in[0], vw, vb};
    int *ni = malloc(sizeof in);
    if (!ni) return sf_error(SF_ERR_NOMEM, "out of memory");
    memcpy(ni, in, sizeof in);
    free(cv->in);
    cv->in = ni;
    cv->n_in = 3;
    /* the conv now writes the BN's output */
    int bn_out = bn->out[0];
    g->values[cv->out[0]].producer = -1;
    cv->out[0] = bn_out;
    bn->n_out = 0;
    bn->n_in = 0;
    g->values[bn_out].producer = (int)(cv - g->nodes);
    free(cv->note);
    cv->note = sf_strdup("BatchNorm folded in");
  }
  return sf_graph_compact(g);
}

/* ---- 2. Attention decomposition ---- */
static sf_status split_attention(sf_graph *g) {
  for (int i = 0; i < g->n_nodes; i++) {
    sf_node *a = &g->nodes[i];
    if (!is_op(a, SF_OP_ATTENTION)) continue;
    int q = a->in[0], kt = a->in[1], v = a->in[2], mask = a->n_in > 3 ? a->in[3] : -1;
    float scale = sf_node_attr_float(a, "scale", 1.0f);
    char an[400], base[512], nm[512];
    snprintf(an, sizeof an, "%s", a->name);
#define NV(var, suffix) snprintf(base, sizeof base, "%s/" suffix, an); int var = sf_graph_new_value(g, base)
    NV(s, "scores");
    NV(s2, "scaled");
    int s3 = s2;
    if (mask >= 0) { snprintf(base, sizeof base, "%s/masked", an); s3 = sf_graph_new_value(g, base); }
    NV(p, "probs");
#undef NV
    snprintf(base, sizeof base, "%s/scale", an);
    int sc_c = add_const_f32(g, base, 0, NULL, &scale);
    if (s < 0 || sc_c < 0 || s2 < 0 || s3 < 0 || p < 0) return sf_error(SF_ERR_NOMEM, "out of memory");
    int pos = i;
    int in1[2] = {q, kt}, in2[2] = {s, sc_c}, in3[2] = {s2, mask}, in4[1] = {s3};
    snprintf(nm, sizeof nm, "%s/QK", an);
    if (sf_graph_insert_node(g, pos++, nm, "MatMul", "", 2, in1, 1, &s) < 0) return sf_error(SF_ERR_NOMEM, "out of memory");
    snprintf(nm, sizeof nm, "%s/scale", an);
    if (sf_graph_insert_node(g, pos++, nm, "Mul", "", 2, in2, 1, &s2) < 0) return sf_error(SF_ERR_NOMEM, "out of memory");
    if (mask >= 0) {
      snprintf(nm, sizeof nm, "%s/mask", an);
      if (sf_graph_insert_node(g, pos++, nm, "Add", "", 2, in3, 1, &s3) < 0) return sf_error(SF_ERR_NOMEM, "out of memory");
    }
    snprintf(nm, sizeof nm, "%s/softmax", an);
    if (sf_graph_insert_node(g, pos, nm, "Softmax", "", 1, in4, 1, &p) < 0) return sf_error(SF_ERR_NOMEM, "out of memory");
    sf_status ast = sf_node_set_attr_int(&g->nodes[pos], "axis", -1);
    if (ast) return ast;
    pos++;
    /* the attention node itself becomes MatMul(P, V) */
    sf_node *mv = &g->nodes[pos];
    int in5[2] = {p, v};
    memcpy(mv->in, in5, sizeof in5);
    mv->n_in = 2;
    free(mv->op_type);
    free(mv->domain);
    mv->op_type = sf_strdup("MatMul");
    mv->domain = sf_strdup("");
    mv->def = sf_op_find("MatMul", "");
    for (int k = pos - (mask >= 0 ? 4 : 3); k < pos; k++) g->nodes[k].def = sf_op_find(g->nodes[k].op_type, "");
    i = pos;
  }
  for (int i = 0; i < g->n_nodes; i++) {
    sf_status st = sf_node_infer(g, i);
    if (st) return st;
  }
  return SF_OK;
}

/* ---- 3. neuron insertion ---- */
/* a node whose output is its input rearranged: a neuron site lies behind it */
static int is_layout(const sf_node *n) { return n && n->n_out > 0 && sf_node_flag(n, SF_OPF_PERMUTES); }

/* ops whose listed inputs must be spikes */
static int wants_spikes(const sf_graph *g, const sf_node *n, int k) {
  if (!n->n_out || n->in[k] < 0 || is_const(g, n->in[k])) return 0;
  switch (sf_node_op(n)) {
    case SF_OP_LINEAR:
    case SF_OP_CONV: return k == 0;
    case SF_OP_GEMM: return k <= 1 && is_const(g, n->in[1 - k]);
    case SF_OP_MATMUL: return 1; /* with a constant: the other input; without: both (stream product) */
    case SF_OP_MUL: return !is_const(g, n->in[1 - k]) && k < 2;
    default: return 0;
  }
}

/* An average pooling of spikes of a neuron that the source graph holds itself (a NIR import:
 * LIF -> AvgPool2d -> Conv2d), through layout ops and further poolings. Converted ANNs have no
 * neurons of their own, so this never holds for them. */
static int pools_spikes(sf_graph *g, sf_node *p) {
  if (!is_op(p, SF_OP_AVERAGE_POOL) && !is_op(p, SF_OP_GLOBAL_AVERAGE_POOL)) return 0;
  while (p && (is_op(p, SF_OP_AVERAGE_POOL) || is_op(p, SF_OP_GLOBAL_AVERAGE_POOL) || is_layout(p))) p = producer(g, p->in[0]);
  return is_op(p, SF_OP_NEURON);
}

typedef struct { int site_value, neuron_out, is_signed, axis; } site_entry;

static sf_status insert_neurons(sf_graph *g, const sf_convert_options *opt, const sf_site *sites, int n_sites,
                                sf_site **sites_out, int *n_out) {
  site_entry *se = NULL;
  int n_se = 0;
  sf_site *found = NULL;
  int n_found = 0;
  sf_status st = SF_OK;
  for (int i = 0; i < g->n_nodes; i++) {
    for (int k = 0; k < g->nodes[i].n_in; k++) {
      sf_node *n = &g->nodes[i];
      if (!wants_spikes(g, n, k)) continue;
      int v = n->in[k];
      /* walk back through layout ops; remember the node consuming the site along the path */
      int walk = v, path_node = i, path_slot = k;
      sf_node *p = producer(g, walk);
      while (is_layout(p)) {
        path_node = (int)(p - g->nodes);
        path_slot = 0;
        walk = p->in[0];
        p = producer(g, walk);
      }
      if (is_op(p, SF_OP_NEURON)) continue;                 /* already spikes */
      if (pools_spikes(g, p)) continue;                     /* an average of spikes (an explicit neuron behind a pooling): fed as it is */
      if (g->values[walk].is_input) continue;           /* analog input: direct coding, first layer MACs */
      int maxpool_hop = 0;
      if (is_max_pool(p)) {
        /* q(max(x)) = max(q(x)) for a monotone quantiser: quantise before the pool, which then
         * works on spike counts */
        path_node = (int)(p - g->nodes);
        path_slot = 0;
        walk = p->in[0];
        p = producer(g, walk);
        maxpool_hop = 1;
        if (is_op(p, SF_OP_NEURON)) continue;
      }
      (void)maxpool_hop;
      /* reuse an existing neuron for this site */
      int found_se = -1;
      for (int e = 0; e < n_se; e++) if (se[e].site_value == walk) found_se = e;
      if (found_se < 0) {
        int is_signed = 1, src = walk;
        if (is_op(p, SF_OP_RELU) && !opt->relu_ec) {
          /* absorb the ReLU into an unsigned IF neuron when every use of its output wants spikes */
          int all = 1;
          for (int j = 0; j < g->n_nodes && all; j++)
            for (int kk = 0; kk < g->nodes[j].n_in; kk++)
              if (g->nodes[j].in[kk] == walk && g->nodes[j].n_out && !(wants_spikes(g, &g->nodes[j], kk) || is_layout(&g->nodes[j]) ||
                                                                         is_max_pool(&g->nodes[j])))
                all = 0;
          for (int o = 0; o < g->n_outputs; o++) if (g->outputs[o] == walk) all = 0;
          if (all) { is_signed = 0; src = p->in[0]; }
        }
        const sf_tensor *t = &g->values[walk].t;
        int axis = t->ndim - 1;
        /* conv feature maps [N, C, H, W]: channels on axis 1 */
        if (t->ndim == 4 && (is_op(&g->nodes[i], SF_OP_CONV) || is_op(p, SF_OP_CONV) || is_op(p, SF_OP_RELU) || is_op(p, SF_OP_BATCH_NORM) || maxpool_hop))
          axis = 1;
        if (axis < 0) axis = 0;
        const char *key = g->values[walk].name;
        int64_t C = t->ndim > 0 ? t->shape[axis] : 1;
        const sf_site *given = NULL;
        for (int s = 0; sites && s < n_sites; s++) if (!strcmp(sites[s].key, key)) given = &sites[s];
        if (sites && !given) { st = sf_error(SF_ERR_FORMAT, "no thresholds for neuron site '%s' (model file does not match the conversion)", key); goto done; }
        int64_t nth = given ? given->channels : (opt->per_channel ? C : 1);
        if (nth != 1 && nth != C) { st = sf_error(SF_ERR_SHAPE, "site '%s': %lld thresholds for %lld channels", key, (long long)nth, (long long)C); goto done; }
        if (given && nth > 1 && given->axis != axis) {
          st = sf_error(SF_ERR_SHAPE, "site '%s': thresholds along axis %d, but its channels are on axis %d", key, given->axis, axis);
          goto done;
        }
        char base[600];
        snprintf(base, sizeof base, "%s/theta", key);
        int64_t tshape[1] = {nth};
        int th = add_const_f32(g, base, 1, tshape, NULL);
        if (th < 0) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
        for (int64_t c = 0; c < nth; c++) ((float *)g->values[th].t.data)[c] = given ? given->theta[c] : 1.0f;
        snprintf(base, sizeof base, "%s/spikes", key);
        int out = sf_graph_new_value(g, base);
        if (out < 0) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
        /* insert right after the producer of src (or first) */
        int pos = g->values[src].producer >= 0 ? g->values[src].producer + 1 : 0;
        char nm[640];
        snprintf(nm, sizeof nm, "%s/neuron", key);
        int in2[2] = {src, th};
        if (sf_graph_insert_node(g, pos, nm, "Neuron", "spikeformer", 2, in2, 1, &out) < 0) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
        sf_node *nn = &g->nodes[pos];
        nn->def = sf_op_find("Neuron", "spikeformer");
        if ((st = sf_node_set_attr_int(nn, "signed", is_signed)) || (st = sf_node_set_attr_int(nn, "axis", axis)) ||
            (st = sf_node_set_attr_string(nn, "model", sf_neuron_model_name(opt->snn.neuron_model))) ||
            (st = sf_node_set_attr_int(nn, "levels", sf_convert_step_levels(opt))) ||
            (sf_config_binary_bursts(&opt->snn) && (st = sf_node_set_attr_int(nn, "code", 1))) ||
            (st = sf_node_set_attr_float(nn, "leak", opt->snn.neuron_model == SF_NEURON_LIF ? opt->snn.leak : 1.0f)))
          goto done;
        /* (only where they differ from the defaults: the graphs of default conversions keep their attributes) */
        if ((opt->snn.reset != SF_RESET_SUBTRACT && (st = sf_node_set_attr_int(nn, "reset", opt->snn.reset))) ||
            (opt->snn.v_init != 0.5f && (st = sf_node_set_attr_float(nn, "v_init", opt->snn.v_init))))
          goto done;
        if ((st = sf_node_infer(g, pos))) goto done;
        if (pos <= i) i++;
        if (pos <= path_node) path_node++;
        site_entry *ns = realloc(se, sizeof *se * (size_t)(n_se + 1));
        if (!ns) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
        se = ns;
        se[n_se++] = (site_entry){walk, out, is_signed, axis};
        sf_site *nf = realloc(found, sizeof *found * (size_t)(n_found + 1));
        if (!nf) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto done; }
        found = nf;
        found[n_found] = (sf_site){sf_strdup(key), is_signed, axis, nth, calloc((size_t)nth, sizeof(float))};
        for (int64_t c = 0; c < nth; c++) found[n_found].theta[c] = given ? given->theta[c] : 1.0f;
        n_found++;
        found_se = n_se - 1;
      }
      /* rewire: the node on the path that reads the site now reads the spikes */
      g->nodes[path_node].in[path_slot] = se[found_se].neuron_out;
      if (path_node != i) {
        /* re-infer the layout chain (shapes are unchanged; keeps descriptors consistent) */
        for (int j = path_node; j <= i; j++) if ((st = sf_node_infer(g, j))) goto done;
      }
    }
  }
  st = sf_graph_compact(g);
done:
  free(se);
  if (st) { sf_sites_free(found, n_found); return st; }
  if (sites_out) { *sites_out = found; *n_out = n_found; }
  else sf_sites_free(found, n_found);
  return SF_OK;
}

/* ---- 4. modes ---- */
static const char *const mode_names[SF_MODE_COUNT] = {"?", "linear", "product", "ec", "neuron"};
const char *sf_spiking_mode_name(sf_spiking_mode m) { return (unsigned)m < SF_MODE_COUNT ? mode_names[m] : "?"; }
const char *sf_snn_mode(const sf_node *n) { return sf_spiking_mode_name(n->mode); }
sf_spiking_mode sf_graph_node_mode(const sf_graph *g, int i) { return i >= 0 && i < g->n_nodes ? g->nodes[i].mode : SF_MODE_NONE; }

/* Every node gets its mode from the op table (sf_node_spiking_mode); a node without one fails the
 * conversion, named with the reason. */
static sf_status assign_modes(sf_graph *g) {
  for (int i = 0; i < g->n_nodes; i++) {
    sf_node *n = &g->nodes[i];
    for (int k = 0; k < n->n_in; k++) {
      int v = n->in[k];
      if (v < 0 || is_const(g, v)) continue;
      if (!sf_dtype_is_float(g->values[v].t.dtype))
        return sf_error(SF_ERR_UNSUPPORTED, "node '%s' (%s) cannot be converted: its input '%s' is %s data computed at runtime; "
                        "spiking layers carry float-valued spike trains (token-id inputs need a spiking embedding encoder)",
                        n->name, n->op_type, g->values[v].name, sf_dtype_name(g->values[v].t.dtype));
    }
    const char *why;
    n->mode = sf_node_spiking_mode(g, n, &why);
    if (n->mode == SF_MODE_NONE) return sf_error(SF_ERR_UNSUPPORTED, "node '%s' (%s) cannot be converted: %s", n->name, n->op_type, why);
  }
  return SF_OK;
}

void sf_sites_free(sf_site *s, int n) {
  for (int i = 0; i < n; i++) { free(s[i].key); free(s[i].theta); }
  free(s);
}

sf_status sf_build_spiking_graph(const sf_graph *src, int64_t batch, const sf_convert_options *opt,
                                 const sf_site *sites, int n_sites, sf_graph **out, sf_site **sites_out, int *n_sites_out) {
  *out = NULL;
  if (sf_graph_num_inputs(src) != 1)
    return sf_error(SF_ERR_UNSUPPORTED, "%s: conversion needs a model with one input; it has %d", src->source, sf_graph_num_inputs(src));
  sf_tensor d = sf_graph_input_desc(src, 0);
  if (d.ndim < 1 || !sf_dtype_is_float(d.dtype))
    return sf_error(SF_ERR_UNSUPPORTED, "%s: input '%s' is %s; conversion needs a float input (images, features)", src->source,
                    sf_graph_input_name(src, 0), sf_dtype_name(d.dtype));
  d.shape[0] = batch;
  for (int k = 1; k < d.ndim; k++)
    if (d.shape[k] < 0) return sf_error(SF_ERR_SHAPE, "%s: input dimension %d is free; conversion needs a fixed sample shape", src->source, k);
  sf_graph *g;
  sf_status st = sf_graph_specialize(src, &d, SF_SPEC_FUSE, &g);
  if (st) return st;
  if (opt->native_gelu)
    for (int i = 0; i < g->n_nodes; i++) {
      sf_node *n = &g->nodes[i];
      if (!is_op(n, SF_OP_GELU)) continue;
      /* spike-native alternative: GELU ~ ReLU, which an unsigned IF neuron computes exactly */
      free(n->op_type);
      free(n->domain);
      n->op_type = sf_strdup("Relu");
      n->domain = sf_strdup("");
      n->def = sf_op_find("Relu", "");
      free(n->note);
      n->note = sf_strdup("spike-native: GELU replaced by ReLU (IF neuron)");
    }
  if ((st = fold_batchnorm(g)) || (st = split_attention(g)) || (st = insert_neurons(g, opt, sites, n_sites, sites_out, n_sites_out)) ||
      (st = assign_modes(g))) {
    if (sites_out && *sites_out && st) { sf_sites_free(*sites_out, *n_sites_out); *sites_out = NULL; }
    sf_graph_free(g);
    return st;
  }
  *out = g;
  return SF_OK;
}

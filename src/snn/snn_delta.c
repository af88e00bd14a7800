/* Delta (sigma-delta) coding's part of the step loop (snn_delta.h): which nodes have work at a
 * step, what a burst leaves for the next step, and the constants a linear op must not re-send. */
#include "snn/snn_delta.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* 1 if some neuron of node n sent a full burst of K this step (its count was cut at K, so it may
 * have more to send at the next step without input): a scan of the counts (int32 membranes) or of
 * the outputs k theta. */
int sf_delta_burst_cut(const node_state *n, const float *y, int64_t on) {
  if (n->q) {
    /* the largest |count| (counts lie in [-127, 127]): an unsigned byte max, which vectorises */
    const int8_t *k = n->nrn.kq;
    uint8_t mx = 0;
#pragma omp simd reduction(max : mx)
    for (int64_t e = 0; e < on; e++) {
      const uint8_t a = (uint8_t)(k[e] < 0 ? -k[e] : k[e]);
      mx = a > mx ? a : mx;
    }
    return mx >= n->nrn.K;
  }
  /* the largest |k| = |y| / theta, per channel c of [outer, C, inner]: over K - 1/2 is a cut */
  const int64_t C = n->nrn.ntheta == 1 ? 1 : n->nrn.C, inner = n->nrn.ntheta == 1 ? on : n->nrn.inner, outer = on / (C * inner);
  const float *ith = n->nrn.inv_theta;
  float mx = 0.0f;
  if (inner == 1) {
    /* channels last: rows of C with a threshold each */
    for (int64_t o = 0; o < outer; o++) {
      const float *r = y + o * C;
#pragma omp simd reduction(max : mx)
      for (int64_t c = 0; c < C; c++) mx = fabsf(r[c]) * ith[c] > mx ? fabsf(r[c]) * ith[c] : mx;
    }
  } else {
    for (int64_t o = 0; o < outer; o++)
      for (int64_t c = 0; c < C; c++) {
        const float it = ith[n->nrn.ntheta == 1 ? 0 : c], *r = y + (o * C + c) * inner;
#pragma omp simd reduction(max : mx)
        for (int64_t j = 0; j < inner; j++) mx = fabsf(r[j]) * it > mx ? fabsf(r[j]) * it : mx;
      }
  }
  return mx > (float)n->nrn.K - 0.5f;
}

static int has_constants(const sf_graph *g, const sf_node *nd) {
  for (int k = 0; k < nd->n_in; k++)
    if (is_const(g, nd->in[k])) return 1;
  return 0;
}

/* Delta coding, t > 1: a linear op with constant inputs (a bias, an added table) ran on this step's
 * changes; take off what the constants add (its output on zero inputs, computed once), since they
 * were sent at t = 1. c: the op's context as it just ran. */
sf_status sf_delta_remove_constants(sf_snn_session *s, int i, const sf_op_ctx *c) {
  const sf_graph *g = s->g;
  const sf_node *nd = &g->nodes[i];
  node_state *n = &s->ns[i];
  const int64_t on = numel(g, nd->out[0]);
  if (!has_constants(g, nd) || n->syn.off_state == 2) return SF_OK;
  if (n->syn.off_state == 0) {
    if (!n->syn.off && !(n->syn.off = malloc(sizeof(float) * (size_t)(on ? on : 1)))) return sf_error(SF_ERR_NOMEM, "out of memory");
    sf_tensor zin[8], zout = *c->out[0], *pin[8], *pout = &zout;
    if (nd->n_in > 8) return sf_error(SF_ERR_UNSUPPORTED, "node '%s': delta coding takes linear ops of up to 8 inputs", nd->name);
    for (int k = 0; k < nd->n_in; k++) {
      pin[k] = c->in[k] ? &zin[k] : NULL;
      if (!c->in[k]) continue;
      zin[k] = *c->in[k];
      if (!is_const(g, nd->in[k])) zin[k].data = s->zeros;
    }
    zout.data = n->syn.off;
    sf_op_ctx z = *c;
    z.in = pin;
    z.out = &pout;
    sf_status st = nd->def->exec(&z);
    if (st) return st;
    int64_t nz = 0;
    for (int64_t e = 0; e < on; e++) nz += n->syn.off[e] != 0.0f;
    n->syn.off_state = nz ? 1 : 2;
  }
  if (n->syn.off_state == 1) {
    float *y = c->out[0]->data;
    const float *o = n->syn.off;
#pragma omp simd
    for (int64_t e = 0; e < on; e++) y[e] -= o[e];
  }
  return SF_OK;
}

/* Delta coding at t > 1: 1 if node i has nothing to do (no dynamic input changed, and a neuron has
 * no burst left over), its outputs then silent; else 0, its unchanged inputs zero-filled and its
 * outputs marked changed. */
int sf_delta_skip(sf_snn_session *s, int i) {
  const sf_graph *g = s->g;
  const sf_node *nd = &g->nodes[i];
  node_state *n = &s->ns[i];
  int changed = (n->m == M_NEURON && n->nrn.pending);
  for (int k = 0; k < nd->n_in; k++) {
    const int v = nd->in[k];
    if (v >= 0 && !is_const(g, v) && !s->silent[v]) changed = 1;
  }
  for (int k = 0; k < nd->n_out; k++)
    if (nd->out[k] >= 0) s->silent[nd->out[k]] = (uint8_t)!changed;
  if (!changed) {
    n->nrn.step_spikes = n->nrn.step_nz = 0; /* what consumers count as this step's events */
    return 1;
  }
  for (int k = 0; k < nd->n_in; k++) {
    const int v = nd->in[k];
    if (v < 0 || is_const(g, v) || s->silent[v] != 1 || !s->inc[v]) continue;
    memset(s->inc[v], 0, sizeof(float) * (size_t)numel(g, v));
    s->silent[v] = 2;
    /* an int32 neuron reads its feeding layer's accumulators */
    if (k == 0 && n->m == M_NEURON && n->nrn.fed_by >= 0) memset(s->ns[n->nrn.fed_by].syn.acc, 0, sizeof(int32_t) * (size_t)numel(g, v));
  }
  return 0;
}


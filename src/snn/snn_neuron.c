/* The neuron model on its own (snn_session.h: snn_neuron): parameters from a Neuron node, the
 * membrane at the start of a run, and one float step over a layer. The session's step loop
 * (snn_exec.c) adds its counters, raster and delta bookkeeping around these; an emulator or a
 * trainer can call them directly.
 *   x, v, y: [outer, C, inner] with theta per channel c (or one theta for the layer)
 *   step:    u = leak v + x; k = clamp(floor(u / theta), -K or 0, K); v = u - k theta; y = k theta
 *   reset to zero (attribute "reset" = 1): k = clamp(ceil(|u| / theta) - 1, 0, K) signed as u (a
 *            spike when |u| > theta, strictly); v = 0 where k != 0, else u
 *   start:   v = v_init theta (attribute "v_init", default 1/2) */
#include <stdlib.h>
#include <string.h>

#include "core/par.h"
#include "snn/snn_session.h"
#include "snn/spike_kernels.h"

sf_status snn_neuron_init(snn_neuron *nr, const sf_graph *g, const sf_node *nd) {
  const sf_tensor *x = &g->values[nd->in[0]].t, *th = &g->values[nd->in[1]].t;
  const int64_t on = numel(g, nd->out[0]);
  nr->K = (int)sf_node_attr_int(nd, "levels", 1);
  nr->code_binary = nr->K > 1 && sf_node_attr_int(nd, "code", 0) == 1;
  for (nr->planes = 0; (nr->K >> nr->planes) > 0; nr->planes++) {}
  nr->is_signed = (int)sf_node_attr_int(nd, "signed", 1);
  nr->leak = sf_node_attr_float(nd, "leak", 1.0f);
  nr->reset_zero = sf_node_attr_int(nd, "reset", SF_RESET_SUBTRACT) == SF_RESET_ZERO;
  nr->v_init = sf_node_attr_float(nd, "v_init", 0.5f);
  nr->axis = (int)sf_node_attr_int(nd, "axis", x->ndim - 1);
  nr->theta = th->data;
  nr->ntheta = sf_tensor_numel(th);
  nr->C = x->shape[nr->axis];
  nr->inner = 1;
  for (int d = nr->axis + 1; d < x->ndim; d++) nr->inner *= x->shape[d];
  nr->fed_by = -1;
  if (!(nr->v = sf_snn_alloc_f(on)) || !(nr->inv_theta = sf_snn_alloc_f(nr->ntheta))) return sf_error(SF_ERR_NOMEM, "out of memory");
  for (int64_t c = 0; c < nr->ntheta; c++) nr->inv_theta[c] = 1.0f / nr->theta[c];
  return SF_OK;
}

void snn_neuron_free(snn_neuron *nr) {
  free(nr->v); free(nr->inv_theta);
  free(nr->kq); free(nr->vi); free(nr->Th); free(nr->inv_unit);
  free(nr->ThE); free(nr->iThE); free(nr->iuE); free(nr->thE); free(nr->xin);
}

void snn_neuron_reset(snn_neuron *nr, int64_t on, int int32_membrane) {
  if (int32_membrane) {
    for (int64_t e0 = 0; e0 < on; e0 += nr->qchunk) {
      const int64_t len = on - e0 < nr->qchunk ? on - e0 : nr->qchunk;
      int32_t *vi = nr->vi + e0;
      const int32_t *th = nr->ThE;
      for (int64_t j = 0; j < len; j++) vi[j] = th[j] >> 1; /* thresholds are positive: half, rounded down */
    }
    return;
  }
  const float f = nr->v_init;
  /* membranes start at theta / 2: [outer, C, inner] walked without divisions (channels last: rows
   * of C thresholds) */
  const int64_t C = nr->ntheta == 1 ? 1 : nr->C, inner = nr->ntheta == 1 ? on : nr->inner, outer = on / (C * inner);
  const float *th = nr->theta;
  float *v = nr->v;
  if (inner == 1) {
    for (int64_t o = 0; o < outer; o++)
#pragma omp simd
      for (int64_t c = 0; c < C; c++) v[o * C + c] = f * th[c];
  } else {
    for (int64_t o = 0; o < outer; o++)
      for (int64_t c = 0; c < C; c++) {
        const float h = f * th[nr->ntheta == 1 ? 0 : c];
        float *r = v + (o * C + c) * inner;
#pragma omp simd
        for (int64_t j = 0; j < inner; j++) r[j] = h;
      }
  }
}

void snn_neuron_step_f32(snn_neuron *nr, const float *x, float *y, int64_t on, double *spikes_out, double *nz_out) {
  float *v = nr->v;
  const int K = nr->K, lo = nr->is_signed ? -K : 0;
  int64_t C = nr->ntheta == 1 ? 1 : nr->C, inner = nr->ntheta == 1 ? 1 : nr->inner, outer = on / (C * inner);
  if (nr->ntheta == 1) inner = on, outer = 1;
  const float leak = nr->leak;
  const float *thv = nr->theta, *ith = nr->inv_theta;
  double spikes = 0, nz = 0;
  if (nr->reset_zero) {
    /* reset to zero: plain C (one kernel; the SIMD variants serve reset by subtraction) */
    SF_PAR_IF(on > 16384, "omp parallel for reduction(+ : spikes, nz) schedule(static)",
    for (int64_t o = 0; o < outer; o++) {
      int64_t z = 0;
      if (nr->ntheta == 1) spikes += (double)sf_neuron_step_zero_f32(x, v, y, thv, ith, 0, on, leak, lo, K, &z);
      else if (inner == 1) spikes += (double)sf_neuron_step_zero_f32(x + o * C, v + o * C, y + o * C, thv, ith, 1, C, leak, lo, K, &z);
      else
        for (int64_t c = 0; c < C; c++) {
          int64_t base = (o * C + c) * inner, zc = 0;
          spikes += (double)sf_neuron_step_zero_f32(x + base, v + base, y + base, thv + c, ith + c, 0, inner, leak, lo, K, &zc);
          z += zc;
        }
      nz += (double)z;
    });
    *spikes_out = spikes;
    *nz_out = nz;
    return;
  }
  if (nr->ntheta == 1) {
    /* one threshold: blocks of the whole tensor */
    SF_PAR_IF(on > 16384, "omp parallel for reduction(+ : spikes, nz) schedule(static)",
    for (int64_t e0 = 0; e0 < on; e0 += 4096) {
      int64_t z = 0;
      spikes += (double)sf_neuron_step_f32(x + e0, v + e0, y + e0, thv, ith, 0, on - e0 < 4096 ? on - e0 : 4096, leak, lo, K, &z);
      nz += (double)z;
    });
  } else {
    SF_PAR_IF(on > 16384, "omp parallel for reduction(+ : spikes, nz) schedule(static)",
    for (int64_t o = 0; o < outer; o++) {
      int64_t z = 0;
      if (inner == 1) {
        /* channels last: one contiguous row with per-element thresholds */
        spikes += (double)sf_neuron_step_f32(x + o * C, v + o * C, y + o * C, thv, ith, 1, C, leak, lo, K, &z);
        nz += (double)z;
      } else {
        for (int64_t c = 0; c < C; c++) {
          int64_t base = (o * C + c) * inner;
          spikes += (double)sf_neuron_step_f32(x + base, v + base, y + base, thv + c, ith + c, 0, inner, leak, lo, K, &z);
          nz += (double)z;
        }
      }
    });
  }
  *spikes_out = spikes;
  *nz_out = nz;
}

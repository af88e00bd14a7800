#include <stdlib.h>
#include <string.h>

#include "spikeformer/analyze.h"
#include "spikeformer/energy.h"
#include "spikeformer/session.h"

/* ANN operation counts per sample: MACs, float evaluations, activations written (batch 1). */
sf_status sf_energy_ann_counts(const sf_graph *src, sf_op_counts *c) {
  memset(c, 0, sizeof *c);
  sf_tensor d = sf_graph_input_desc(src, 0);
  d.shape[0] = 1;
  sf_graph *g;
  sf_status st = sf_graph_specialize(src, &d, SF_SPEC_FUSE, &g);
  if (st) return st;
  sf_model_report r;
  if ((st = sf_analyze(g, &r))) { sf_graph_free(g); return st; }
  c->float_ops = (double)r.macs_by_class[SF_SPIKE_FLOAT_RUNTIME];
  c->macs = (double)r.total_macs - c->float_ops;
  for (int i = 0; i < r.n_nodes; i++) {
    if (r.nodes[i].cls == SF_SPIKE_LAYOUT) continue;
    int64_t n = 1;
    const char *q = r.nodes[i].out_shape;
    /* parse "[a,b,c]" */
    for (const char *p = q; *p; p++)
      if (*p >= '0' && *p <= '9') { n *= strtoll(p, (char **)&p, 10); p--; }
    c->activations += (double)n;
  }
  sf_model_report_free(&r);
  sf_graph_free(g);
  return SF_OK;
}


/* EnergyAnalyzer: energy per layer, per model and at every T, modelled from the exact counters of
 * an evaluation (per sample), beside the ANN's under the same model. */
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

/* layer i's counts per sample */
static sf_op_counts layer_counts(const sf_eval_result *r, int i) {
  const sf_snn_node_stats *s = &r->layers[i].stats;
  const double n = (double)r->samples;
  sf_op_counts c = {s->macs / n, s->sops / n, s->float_ops / n, s->neuron_updates / n, 0};
  return c;
}

sf_status sf_eval_energy(sf_eval_result *r, const sf_graph *ann) {
  sf_status st = sf_energy_ann_counts(ann, &r->ann_counts);
  if (st) return st;
  const int ne = r->n_energy;
  r->snn_pj = calloc((size_t)(ne ? ne : 1), sizeof(double));
  r->ann_pj = calloc((size_t)(ne ? ne : 1), sizeof(double));
  if (!r->snn_pj || !r->ann_pj) return sf_error(SF_ERR_NOMEM, "out of memory");
  for (int i = 0; i < r->n_layers; i++) {
    sf_op_counts c = layer_counts(r, i);
    if (!(r->layers[i].energy_pj = calloc((size_t)(ne ? ne : 1), sizeof(double)))) return sf_error(SF_ERR_NOMEM, "out of memory");
    for (int k = 0; k < ne; k++) {
      r->layers[i].energy_pj[k] = sf_energy_pj(&r->energy[k], &c);
      r->snn_pj[k] += r->layers[i].energy_pj[k];
    }
  }
  for (int k = 0; k < ne; k++) r->ann_pj[k] = sf_energy_pj(&r->energy[k], &r->ann_counts);
  return SF_OK;
}

int sf_eval_energy_index(const sf_eval_result *r, const char *name) {
  for (int k = 0; k < r->n_energy; k++)
    if (!strcmp(r->energy[k].name, name)) return k;
  return -1;
}

double *sf_eval_energy_ratio_by_t(const sf_eval_result *r, int k) {
  if (k < 0 || k >= r->n_energy || !r->ops_by_t) return NULL;
  double *out = calloc((size_t)r->timesteps, sizeof(double));
  if (!out) return NULL;
  sf_op_counts cum = {0};
  for (int t = 1; t <= r->timesteps; t++) {
    const double *o4 = r->ops_by_t + (t - 1) * 4;
    cum.sops += o4[0]; cum.macs += o4[1]; cum.float_ops += o4[2]; cum.neuron_updates += o4[3];
    out[t - 1] = r->ann_pj[k] > 0 ? sf_energy_pj(&r->energy[k], &cum) / r->ann_pj[k] : 0.0;
  }
  return out;
}

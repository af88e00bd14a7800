/* The Loihi 2 mapping report: what compile placed where, what the lowering changed, and (after a
 * run) the measured traffic, energy and time per inference.
 *
 * Energy and time per operation are Loihi 1's published figures (M. Davies et al., "Loihi: A
 * Neuromorphic Manycore Processor with On-Chip Learning", IEEE Micro 38(1), 2018, table 1): Intel
 * has published Loihi 2 results per workload, not per operation.
 *   synaptic operation 23.6 pJ, 3.5 ns;  neuron update 52 pJ, 8.4 ns (active neuron);
 *   spike message inside a tile 1.7 pJ, 2.1 ns;  between tiles 3.5 pJ, 6.5 ns per hop (charged one
 *   hop per message between cores: a lower bound);  barrier synchronisation per step 113-465 ns
 *   (465 used). Messages between chips and between host and chip have no published per-message
 *   figure: they are counted, not priced. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend_impl.h"
#include "backend/loihi2_net.h"
#include "core/util.h"

#define PJ_SOP 23.6
#define PJ_NEURON 52.0
#define PJ_MSG_TILE 1.7
#define PJ_MSG_HOP 3.5
#define NS_SOP 3.5
#define NS_NEURON 8.4
#define NS_BARRIER 465.0

typedef struct {
  double spikes, intra, inter_core, inter_chip, host_in, host_out, sops, updates, sat, wrap;
  double energy_pj, time_ns; /* per inference */
} l2_traffic;

/* per sample, from the emulator's counters; time: the busiest core per step (its synaptic
 * operations and neuron updates, shared among a layer's cores by their neurons) plus the barrier */
static int traffic(const l2_compiled *c, const l2_deployed *d, int T, l2_traffic *tr) {
  memset(tr, 0, sizeof *tr);
  const double S = d ? d->emu.samples : 0;
  if (!d || S <= 0) return 0;
  const l2_net *n = &c->net;
  for (int l = 0; l < n->n_layers; l++) {
    const l2_counts *k = &d->emu.layer[l];
    tr->spikes += k->spikes / S; tr->intra += k->messages_core / S; tr->inter_core += k->messages_inter_core / S;
    tr->inter_chip += k->messages_inter_chip / S; tr->host_in += k->host_in / S; tr->host_out += k->host_out / S;
    tr->sops += k->sops / S; tr->updates += k->neuron_updates / S; tr->sat += k->saturated_v / S; tr->wrap += k->wrapped_u / S;
  }
  tr->energy_pj = tr->sops * PJ_SOP + tr->updates * PJ_NEURON + tr->intra * PJ_MSG_TILE + (tr->inter_core + tr->inter_chip) * PJ_MSG_HOP;
  double busiest = 0;
  for (int ci = 0; ci < c->map.n_cores; ci++) {
    const l2_core *co = &c->map.cores[ci];
    double ns = 0;
    for (int64_t g = co->n0; g < co->n1;) {
      int l = 0;
      while (c->map.layer_offset[l + 1] <= g) l++;
      const int64_t end = co->n1 < c->map.layer_offset[l + 1] ? co->n1 : c->map.layer_offset[l + 1];
      const double share = (double)(end - g) / (double)n->layers[l].n;
      ns += share * (d->emu.layer[l].sops / S * NS_SOP + d->emu.layer[l].neuron_updates / S * NS_NEURON);
      g = end;
    }
    if (ns > busiest) busiest = ns;
  }
  tr->time_ns = busiest + T * NS_BARRIER;
  return 1;
}

static int steps_run(const l2_deployed *d) {
  int T = 0;
  for (int t = 0; d && t < d->emu.T_cap; t++)
    if (d->emu.step_updates[t] > 0) T = t + 1;
  return T;
}

char *sf_loihi2_report_json(const sf_compiled *cc, const sf_deployed *dd) {
  if (!cc || strcmp(cc->backend->iface.name, "loihi2")) return NULL;
  const l2_compiled *c = cc->state;
  const l2_deployed *d = dd ? dd->state : NULL;
  const l2_net *n = &c->net;
  const int cpc = c->o.cores_per_chip;
  cJSON *r = cJSON_CreateObject(), *ls = cJSON_AddArrayToObject(r, "layers"), *cs = cJSON_AddArrayToObject(r, "cores");
  cJSON_AddStringToObject(r, "backend", "loihi2");
  cJSON_AddStringToObject(r, "neuron", "CUBA LIF (Lava PyLifModelBitAcc)");
  cJSON_AddNumberToObject(r, "cores", c->map.n_cores);
  cJSON_AddNumberToObject(r, "chips", c->map.n_chips);
  cJSON_AddNumberToObject(r, "cores_per_chip", cpc);
  cJSON_AddNumberToObject(r, "excluded_cores_skipped", c->map.excluded_used);
  if (d && d->emu.self_tested) cJSON_AddNumberToObject(r, "neurons_masked_as_stuck", (double)d->emu.n_masked);
  cJSON_AddNumberToObject(r, "input_exp", n->input_exp);
  cJSON_AddNumberToObject(r, "input_rate", n->input_rate);
  cJSON_AddNumberToObject(r, "vth_scale", n->vth_scale);
  cJSON_AddStringToObject(r, "host", "input currents round(x 2^E) sent to the input neurons at every step; the output layer read at the end. "
                                      "Every other node runs on neurocores");
  cJSON *chg = cJSON_AddArrayToObject(r, "lowering");
  cJSON_AddItemToArray(chg, cJSON_CreateString("reset by subtraction -> Lava's reset to zero (the residue above threshold is lost at every spike)"));
  cJSON_AddItemToArray(chg, cJSON_CreateString("membranes start at 0 (the converter starts them at theta / 2)"));
  cJSON_AddItemToArray(chg, cJSON_CreateString("per-neuron thresholds folded into the weights: one 17-bit threshold per layer"));
  cJSON_AddItemToArray(chg, cJSON_CreateString("the first layer's analog input -> a layer of input neurons (rate coding of x)"));
  if (n->was_burst) cJSON_AddItemToArray(chg, cJSON_CreateString("burst neurons (several spikes a step) -> binary spikes"));
  for (int l = 0; l < n->n_layers; l++) {
    const l2_layer *L = &n->layers[l];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", L->name);
    cJSON_AddStringToObject(o, "kind", L->kind == L2_INPUT ? "input" : "dense");
    cJSON_AddNumberToObject(o, "neurons", (double)L->n);
    cJSON_AddNumberToObject(o, "fan_in", (double)L->n_in);
    cJSON_AddNumberToObject(o, "vth", L->vth);
    cJSON_AddNumberToObject(o, "du", L->du);
    cJSON_AddNumberToObject(o, "dv", L->dv);
    cJSON_AddNumberToObject(o, "clipped_weights", (double)L->clipped_w);
    cJSON_AddNumberToObject(o, "clipped_biases", (double)L->clipped_b);
    if (L->readout) cJSON_AddStringToObject(o, "readout", L->readout == L2_READ_VOLTAGE ? "voltage" : "spikes");
    const int64_t c0 = c->map.core_of[c->map.layer_offset[l]], c1 = c->map.core_of[c->map.layer_offset[l + 1] - 1];
    cJSON_AddNumberToObject(o, "first_core", (double)c->map.cores[c0].global_core);
    cJSON_AddNumberToObject(o, "cores", (double)(c1 - c0 + 1));
    cJSON_AddItemToArray(ls, o);
  }
  for (int i = 0; i < c->map.n_cores; i++) {
    const l2_core *co = &c->map.cores[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "core", co->global_core % cpc);
    cJSON_AddNumberToObject(o, "chip", co->global_core / cpc);
    cJSON_AddNumberToObject(o, "layer", co->layer);
    cJSON_AddNumberToObject(o, "neurons", (double)co->neurons);
    cJSON_AddNumberToObject(o, "synapse_bytes", (double)co->synapse_bytes);
    cJSON_AddNumberToObject(o, "memory_utilisation", (double)(co->synapse_bytes + co->neurons * L2_STATE_BYTES_PER_NEURON) / L2_MEMORY_PER_CORE);
    cJSON_AddNumberToObject(o, "neuron_utilisation", (double)co->neurons / L2_NEURONS_PER_CORE);
    cJSON_AddNumberToObject(o, "axons_in", (double)co->axons_in);
    cJSON_AddItemToArray(cs, o);
  }
  l2_traffic tr;
  const int T = steps_run(d);
  if (traffic(c, d, T, &tr)) {
    cJSON *t = cJSON_AddObjectToObject(r, "per_inference");
    cJSON_AddNumberToObject(t, "timesteps", T);
    cJSON_AddNumberToObject(t, "samples", d->emu.samples);
    cJSON_AddNumberToObject(t, "spikes", tr.spikes);
    cJSON_AddNumberToObject(t, "messages_inside_core", tr.intra);
    cJSON_AddNumberToObject(t, "messages_between_cores", tr.inter_core);
    cJSON_AddNumberToObject(t, "messages_between_chips", tr.inter_chip);
    cJSON_AddNumberToObject(t, "host_to_chip_values", tr.host_in);
    cJSON_AddNumberToObject(t, "chip_to_host_values", tr.host_out);
    cJSON_AddNumberToObject(t, "synaptic_ops", tr.sops);
    cJSON_AddNumberToObject(t, "neuron_updates", tr.updates);
    cJSON_AddNumberToObject(t, "saturated_voltages", tr.sat);
    cJSON_AddNumberToObject(t, "wrapped_currents", tr.wrap);
    cJSON_AddNumberToObject(t, "energy_joules", tr.energy_pj * 1e-12);
    cJSON_AddNumberToObject(t, "time_seconds", tr.time_ns * 1e-9);
    cJSON_AddStringToObject(t, "energy_source", "Loihi 1 per-operation figures, Davies et al., IEEE Micro 38(1), 2018: 23.6 pJ per synaptic op, 52 pJ per neuron update, "
                                                "1.7 pJ per message in a tile, 3.5 pJ per hop between tiles; 3.5 ns, 8.4 ns per op and update on the busiest core, "
                                                "465 ns barrier per step. Messages between chips and host traffic are counted, not priced");
  }
  char *s = cJSON_Print(r);
  cJSON_Delete(r);
  return s;
}

char *sf_loihi2_report_text(const sf_compiled *cc, const sf_deployed *dd) {
  if (!cc || strcmp(cc->backend->iface.name, "loihi2")) return NULL;
  const l2_compiled *c = cc->state;
  const l2_deployed *d = dd ? dd->state : NULL;
  const l2_net *n = &c->net;
  const int cpc = c->o.cores_per_chip;
  char ex[64] = "", sat[128] = "";
  if (c->map.excluded_used) snprintf(ex, sizeof ex, ", %d excluded cores skipped", c->map.excluded_used);
  char *s = sf_strfmt("Loihi 2 mapping: %d neurocore%s on %d chip%s (%d cores per chip%s); CUBA LIF neurons, Lava's bit-accurate fixed point\n", c->map.n_cores,
                      c->map.n_cores == 1 ? "" : "s", c->map.n_chips, c->map.n_chips == 1 ? "" : "s", cpc, ex);
#define APPEND(...)                          \
  do {                                       \
    char *add_ = sf_strfmt(__VA_ARGS__);     \
    char *cat_ = sf_strfmt("%s%s", s, add_); \
    free(s);                                 \
    free(add_);                              \
    s = cat_;                                \
  } while (0)
  APPEND("\n%-3s %-44s %8s %7s %7s %4s %5s %6s %s\n", "#", "layer", "neurons", "fan-in", "vth", "dv", "cores", "clipped", "readout");
  for (int l = 0; l < n->n_layers; l++) {
    const l2_layer *L = &n->layers[l];
    const int64_t c0 = c->map.core_of[c->map.layer_offset[l]], c1 = c->map.core_of[c->map.layer_offset[l + 1] - 1];
    APPEND("%-3d %-44.44s %8lld %7lld %7d %4d %5lld %6lld %s\n", l, L->name, (long long)L->n, (long long)L->n_in, L->vth, L->dv, (long long)(c1 - c0 + 1),
           (long long)(L->clipped_w + L->clipped_b), L->readout == L2_READ_VOLTAGE ? "voltage" : L->readout == L2_READ_SPIKES ? "spikes" : "");
  }
  APPEND("\n%-6s %-5s %-6s %8s %10s %9s %8s\n", "core", "chip", "layer", "neurons", "synapses", "memory", "axons");
  for (int i = 0; i < c->map.n_cores; i++) {
    const l2_core *co = &c->map.cores[i];
    APPEND("%-6d %-5d %-6d %8lld %10lld %8.1f%% %8lld\n", co->global_core % cpc, co->global_core / cpc, co->layer, (long long)co->neurons, (long long)co->synapse_bytes,
           100.0 * (double)(co->synapse_bytes + co->neurons * L2_STATE_BYTES_PER_NEURON) / L2_MEMORY_PER_CORE, (long long)co->axons_in);
  }
  APPEND("\nhost: sends %lld input currents per step and reads %lld outputs; every other node runs on neurocores\n", (long long)n->input_n,
         (long long)n->layers[n->n_layers - 1].n);
  APPEND("lowering: reset to zero (the model resets by subtraction), membranes start at 0, one threshold per layer%s; input 2^%d, input_rate %g, vth_scale %g\n",
         n->was_burst ? ", burst neurons made binary" : "", n->input_exp, (double)n->input_rate, (double)n->vth_scale);
  l2_traffic tr;
  const int T = steps_run(d);
  if (traffic(c, d, T, &tr)) {
    if (tr.sat > 0 || tr.wrap > 0) snprintf(sat, sizeof sat, "; %.3g saturated voltages, %.3g wrapped currents", tr.sat, tr.wrap);
    APPEND("\nper inference (T=%d, mean of %.0f samples): %.0f spikes; messages %.0f inside cores, %.0f between cores, %.0f between chips; "
           "host -> chip %.0f values, chip -> host %.0f\n",
           T, d->emu.samples, tr.spikes, tr.intra, tr.inter_core, tr.inter_chip, tr.host_in, tr.host_out);
    APPEND("  %.0f synaptic ops, %.0f neuron updates; energy %.3g uJ, time %.3g us (Loihi 1 per-op figures, Davies et al. 2018)%s\n", tr.sops, tr.updates,
           tr.energy_pj * 1e-6, tr.time_ns * 1e-3, sat);
  }
#undef APPEND
  return s;
}

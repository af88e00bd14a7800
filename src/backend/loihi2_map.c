/* Placing a lowered network's neurons and synapses on Loihi 2 neurocores.
 *
 * Limits per neurocore (sources, also in docs/loihi2.md):
 *   128 neurocores per chip, up to 8,192 neurons per core (1M neurons / 128 cores) and 192 KB of
 *     memory per core shared by synapses, neuron state and microcode: Intel, "Taking Neuromorphic
 *     Computing to the Next Level with Loihi 2", technology brief, 2021.
 *   4,096 input axons (fan-in) and 4,096 output axons (fan-out) per core: Loihi 1's figures,
 *     M. Davies et al., IEEE Micro 38(1), 2018 (Intel has not published Loihi 2's; Loihi 2's are
 *     not smaller).
 * Cost model: a dense synapse takes one byte (an 8-bit weight; the mixed-sign magnitude bit is
 * the sign of the synapse format), a neuron 8 bytes of state (24-bit u and v).
 *
 * Placement: neurons in layer order, packed greedily into the current core while its neurons,
 * memory and distinct input axons fit, else the next core that is not excluded; chips fill in
 * order. Consecutive layers stay on neighbouring cores of one chip, so spike traffic between
 * chips happens only where a layer boundary meets a chip boundary. */
#include <stdlib.h>
#include <string.h>

#include "backend/loihi2_net.h"
#include "core/util.h"

void l2_map_free(l2_map *m) {
  if (!m) return;
  free(m->cores);
  free(m->core_of);
  free(m->layer_offset);
  memset(m, 0, sizeof *m);
}

int l2_core_excluded(const sf_loihi2_options *o, int gc) {
  for (int i = 0; i < o->n_excluded; i++)
    if (o->excluded[i] == gc) return 1;
  return 0;
}

sf_status l2_map_build(const l2_net *n, const sf_loihi2_options *o, l2_map *m) {
  memset(m, 0, sizeof *m);
  const int cpc = o->cores_per_chip > 0 ? o->cores_per_chip : 128;
  int64_t total = 0;
  if (!(m->layer_offset = malloc(sizeof(int64_t) * (size_t)(n->n_layers + 1)))) return sf_error(SF_ERR_NOMEM, "out of memory");
  for (int l = 0; l < n->n_layers; l++) {
    m->layer_offset[l] = total;
    total += n->layers[l].n;
  }
  m->layer_offset[n->n_layers] = total;
  if (!(m->core_of = malloc(sizeof(int64_t) * (size_t)total))) { l2_map_free(m); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  int cap = 16, gc = -1;
  if (!(m->cores = calloc((size_t)cap, sizeof(l2_core)))) { l2_map_free(m); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  l2_core *c = NULL;
  int last_layer_on_core = -1;
  for (int l = 0; l < n->n_layers; l++) {
    const l2_layer *L = &n->layers[l];
    /* a Conv neuron's synapses: its kernel (stored per neuron here, an upper bound: Loihi 2 can share
     * them); its input axons: those of its receptive field, which the per-core check leaves out */
    const int64_t ksz = L->kind == L2_CONV ? (L->conv.cin / L->conv.groups) * L->conv.kh * L->conv.kw : 0;
    const int64_t syn = L->kind == L2_DENSE ? L->n_in : ksz, axons = L->kind == L2_DENSE ? L->n_in : 0;
    if (syn + L2_STATE_BYTES_PER_NEURON > L2_MEMORY_PER_CORE || axons > L2_AXONS_IN_PER_CORE) {
      l2_map_free(m);
      return sf_error(SF_ERR_UNSUPPORTED, "loihi2: layer %d (%s): a neuron with %lld inputs needs %lld bytes of synapses and %lld input axons; a neurocore has %d bytes and %d axons",
                      l, L->name, (long long)L->n_in, (long long)syn, (long long)axons, L2_MEMORY_PER_CORE, L2_AXONS_IN_PER_CORE);
    }
    for (int64_t j = 0; j < L->n; j++) {
      int fits = c != NULL;
      if (fits) {
        const int64_t add_axons = last_layer_on_core == l ? 0 : axons;
        fits = c->neurons + 1 <= L2_NEURONS_PER_CORE && c->synapse_bytes + (c->neurons + 1) * L2_STATE_BYTES_PER_NEURON + syn <= L2_MEMORY_PER_CORE &&
               c->axons_in + add_axons <= L2_AXONS_IN_PER_CORE;
      }
      if (!fits) {
        if (m->n_cores == cap) {
          l2_core *nc = realloc(m->cores, sizeof(l2_core) * (size_t)(cap *= 2));
          if (!nc) { l2_map_free(m); return sf_error(SF_ERR_NOMEM, "out of memory"); }
          m->cores = nc;
        }
        do {
          gc++;
          if (l2_core_excluded(o, gc)) m->excluded_used++;
        } while (l2_core_excluded(o, gc));
        c = &m->cores[m->n_cores++];
        memset(c, 0, sizeof *c);
        c->layer = l;
        c->n0 = m->layer_offset[l] + j;
        c->global_core = gc;
        last_layer_on_core = -1;
      }
      if (last_layer_on_core != l) c->axons_in += axons;
      last_layer_on_core = l;
      c->neurons++;
      c->synapse_bytes += syn;
      c->n1 = m->layer_offset[l] + j + 1;
      m->core_of[m->layer_offset[l] + j] = m->n_cores - 1;
    }
  }
  m->n_chips = m->n_cores ? m->cores[m->n_cores - 1].global_core / cpc + 1 : 0;
  if (o->max_chips > 0 && m->n_chips > o->max_chips) {
    sf_status st = sf_error(SF_ERR_UNSUPPORTED, "loihi2: the model needs %d neurocores on %d chips (%lld neurons, %d cores per chip%s); max_chips allows %d",
                            m->n_cores, m->n_chips, (long long)total, cpc, o->n_excluded ? ", excluded cores skipped" : "", o->max_chips);
    l2_map_free(m);
    return st;
  }
  return SF_OK;
}

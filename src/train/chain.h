/* The trainable chain inside a model: its spiking graph read as layers (snn_net.h's shape).
 *   input [B, c, h, w] (or [B, n0]) -> order-keeping layout ops (Flatten, Reshape) ->
 *   Linear 0 -> Neuron 1 -> Linear 1 -> ... -> Neuron L-1 -> Linear L-1 = the output (logits)
 * The neurons are unsigned IF / LIF / burst neurons that absorbed a ReLU (the converter's form
 * with relu_ec off). A model of any other shape is refused with the first node that does not fit,
 * named, and why (the transformer ops have no trainer here yet). */
#ifndef SF_TRAIN_CHAIN_H
#define SF_TRAIN_CHAIN_H
#include "train/snn_net.h"
#include "convert/convert_internal.h"

typedef struct {
  int L;
  int64_t n[SNN_NET_MAX_LAYERS + 1];
  const float *W[SNN_NET_MAX_LAYERS];   /* [n[l], n[l+1]] in the spiking graph (borrowed from it) */
  const float *b[SNN_NET_MAX_LAYERS];   /* [n[l+1]] or NULL */
  const char *site[SNN_NET_MAX_LAYERS]; /* neuron layer l's site key (l = 1..L-1) */
  const char *linear[SNN_NET_MAX_LAYERS]; /* the Linear nodes' names */
  sf_graph *spiking;                    /* the spiking graph (owned) */
  sf_site *sites;                       /* its neuron sites (owned; provisional thresholds) */
  int n_sites;
} train_chain;

/* Read the chain of `ann` converted with opt (relu_ec is forced off, per-channel thresholds on).
 * On failure nothing is left to free. */
sf_status train_chain_extract(const sf_graph *ann, const sf_convert_options *opt, train_chain *c);
void train_chain_free(train_chain *c);

#endif

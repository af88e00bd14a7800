/* The trained chain as an ordinary model: a Hugging Face "SpikeformerMLP" source (config.json +
 * safetensors, in memory) with the trained weights, and the trained thresholds as its neuron sites,
 * so that eval, run, profile, report, save and every backend take it like any converted model. */
#ifndef SF_TRAIN_EXPORT_H
#define SF_TRAIN_EXPORT_H
#include "train/chain.h"
#include "train/snn_net.h"

/* data gives the sample shape (the source's input); name the source's name. */
sf_status train_export(const snn_net *net, const train_chain *ch, const sf_dataset *data, const char *name, const sf_convert_options *opt, sf_snn_model **out);

#endif

/* Conversion internals shared by the converter, the calibrator, the .sfm format and the SNN runtime. */
#ifndef SF_CONVERT_INTERNAL_H
#define SF_CONVERT_INTERNAL_H
#include "graph/graph.h"
#include "spikeformer/convert.h"

/* One neuron site: where a spiking neuron layer sits (keyed by the ANN value it quantises). */
typedef struct {
  char *key;
  int is_signed;
  int axis;          /* channel axis in the site tensor (normalised, >= 0) */
  int64_t channels;  /* thresholds per site: `channels` values (1 = per layer) */
  float *theta;
} sf_site;

struct sf_snn_model {
  sf_graph *owned_src;       /* when loaded from a file */
  const sf_graph *src;
  sf_convert_options opt;
  sf_site *sites;
  int n_sites;
  double calib_seconds, convert_seconds;
  /* source model bytes (kept for .sfm): ONNX file, or HF config.json + model.safetensors */
  char *src_kind;            /* "onnx" or "hf" */
  unsigned char *src_blob;   /* ONNX bytes, or safetensors bytes */
  size_t src_len;
  char *hf_config;           /* config.json text (hf) */
  char src_sha256[65];
};

/* Build the spiking graph for `batch` samples. With sites == NULL, thresholds are provisional
 * (1.0) and *sites_out receives the site list (caller frees with sf_sites_free). */
sf_status sf_build_spiking_graph(const sf_graph *src, int64_t batch, const sf_convert_options *opt,
                                 const sf_site *sites, int n_sites, sf_graph **out, sf_site **sites_out, int *n_sites_out);
void sf_sites_free(sf_site *s, int n);
/* Calibrate thresholds for the sites of a spiking graph built with provisional thresholds. */
sf_status sf_calibrate(const sf_graph *src, const sf_dataset *calib, const sf_convert_options *opt, sf_site *sites, int n_sites);
/* A model from a Hugging Face source held in memory (config.json text + safetensors bytes, both
 * copied) and its thresholds (the sites are taken over): what a trainer hands out. `name` names the
 * source in messages and in the .sfm. */
sf_status sf_snn_model_from_hf_memory(const char *name, const char *config_text, const void *safetensors, size_t len, const sf_convert_options *opt,
                                      sf_site *sites, int n_sites, sf_snn_model **out);
/* Neuron node of site `key` in a spiking graph, or -1. */
const char *sf_snn_mode(const sf_node *n);

#endif

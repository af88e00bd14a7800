/* Loading a pre-trained model into SpikeFormer's IR.
 * A MODEL is an ONNX file (*.onnx) or a Hugging Face directory (config.json + model.safetensors). */
#ifndef SPIKEFORMER_GRAPH_H
#define SPIKEFORMER_GRAPH_H
#include <stdint.h>

#include "spikeformer/status.h"
#include "spikeformer/tensor.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef struct sf_graph sf_graph;

/* Load a model from an ONNX file or a Hugging Face model directory. */
sf_status sf_graph_load(const char *path, sf_graph **out);
sf_status sf_graph_load_onnx(const char *path, sf_graph **out);
sf_status sf_graph_load_onnx_buffer(const void *data, size_t size, const char *name, sf_graph **out);
sf_status sf_graph_load_hf(const char *dir, sf_graph **out);
/* A Hugging Face model from memory: config.json text and one safetensors buffer. */
sf_status sf_graph_load_hf_memory(const char *name, const char *config_text, const void *safetensors, size_t len, sf_graph **out);
void sf_graph_free(sf_graph *g);

int sf_graph_num_inputs(const sf_graph *g);
int sf_graph_num_outputs(const sf_graph *g);
/* Name and descriptor (dtype, shape; -1 for symbolic dims) of graph input / output i; for i out
 * of range, NULL and a descriptor with ndim -1. */
const char *sf_graph_input_name(const sf_graph *g, int i);
const char *sf_graph_output_name(const sf_graph *g, int i);
sf_tensor sf_graph_input_desc(const sf_graph *g, int i);
/* Shape and dtype of output i as the graph holds them: known in a built spiking graph or a
 * session's specialised one; ndim 0 where a loaded model leaves them to inference */
sf_tensor sf_graph_output_desc(const sf_graph *g, int i);
/* Text models imported from config.json + safetensors: the longest token sequence their position
 * table covers; 0 where unknown (an ONNX file, or a model without one). */
int64_t sf_graph_max_positions(const sf_graph *g);
int sf_graph_num_nodes(const sf_graph *g);

#ifdef __cplusplus
}
#endif
#endif

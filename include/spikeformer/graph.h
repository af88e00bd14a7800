/* Loading a pre-trained model into SpikeFormer's IR.
 * A MODEL is an ONNX file (*.onnx) or a Hugging Face directory (config.json + model.safetensors). */
#ifndef SPIKEFORMER_GRAPH_H
#define SPIKEFORMER_GRAPH_H
#include "spikeformer/export.h"
#include <stdint.h>

#include "spikeformer/status.h"
#include "spikeformer/tensor.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef struct sf_graph sf_graph;

/* Load a model from an ONNX file or a Hugging Face model directory. */
SF_API sf_status sf_graph_load(const char *path, sf_graph **out);
SF_API sf_status sf_graph_load_onnx(const char *path, sf_graph **out);
SF_API sf_status sf_graph_load_onnx_buffer(const void *data, size_t size, const char *name, sf_graph **out);
SF_API sf_status sf_graph_load_hf(const char *dir, sf_graph **out);
/* A Hugging Face model from memory: config.json text and one safetensors buffer. */
SF_API sf_status sf_graph_load_hf_memory(const char *name, const char *config_text, const void *safetensors, size_t len, sf_graph **out);
SF_API void sf_graph_free(sf_graph *g);

SF_API int sf_graph_num_inputs(const sf_graph *g);
SF_API int sf_graph_num_outputs(const sf_graph *g);
/* Name and descriptor (dtype, shape; -1 for symbolic dims) of graph input / output i; for i out
 * of range, NULL and a descriptor with ndim -1. */
SF_API const char *sf_graph_input_name(const sf_graph *g, int i);
SF_API const char *sf_graph_output_name(const sf_graph *g, int i);
SF_API sf_tensor sf_graph_input_desc(const sf_graph *g, int i);
/* Shape and dtype of output i as the graph holds them: known in a built spiking graph or a
 * session's specialised one; ndim 0 where a loaded model leaves them to inference */
SF_API sf_tensor sf_graph_output_desc(const sf_graph *g, int i);
/* Text models imported from config.json + safetensors: the longest token sequence their position
 * table covers; 0 where unknown (an ONNX file, or a model without one). */
SF_API int64_t sf_graph_max_positions(const sf_graph *g);
SF_API int sf_graph_num_nodes(const sf_graph *g);
/* The ops the importer and the float executor support: op i's type, domain ("" = ONNX,
 * "spikeformer" = fused by SpikeFormer's passes) and a line on what it does. 0, or -1 out of range. */
SF_API int sf_op_count(void);
SF_API int sf_op_describe(int i, const char **op_type, const char **domain, const char **summary);
/* Node i's name and op type (NULL out of range). */
SF_API const char *sf_graph_node_name(const sf_graph *g, int i);
SF_API const char *sf_graph_node_op(const sf_graph *g, int i);
/* The file or directory the model came from ("" if built in memory). */
SF_API const char *sf_graph_source(const sf_graph *g);

#ifdef __cplusplus
}
#endif
#endif

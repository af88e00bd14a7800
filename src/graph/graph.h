/* The model IR: a graph of nodes (op type + attributes) over named values (typed tensors).
 * A value whose tensor has data is a constant (an initializer, or folded). Nodes are kept in
 * topological order. Conversion and every backend work on this one IR. */
#ifndef SF_GRAPH_GRAPH_H
#define SF_GRAPH_GRAPH_H
#include <stdint.h>

#include "spikeformer/graph.h"
#include "spikeformer/snn.h"
#include "spikeformer/tensor.h"

typedef enum { SF_ATTR_INT, SF_ATTR_FLOAT, SF_ATTR_INTS, SF_ATTR_FLOATS, SF_ATTR_STRING, SF_ATTR_TENSOR } sf_attr_type;

typedef struct {
  char *name;
  sf_attr_type type;
  int64_t i;
  float f;
  int64_t *ints;
  float *floats;
  int n;            /* length of ints / floats */
  char *s;
  sf_tensor *t;
} sf_attr;

typedef struct {
  char *name;
  sf_tensor t;      /* dtype + shape; data != NULL for constants */
  int producer;     /* node index, or -1 */
  int is_input;     /* graph input */
} sf_value;

struct sf_op_def;

typedef struct {
  char *name;
  char *op_type;
  char *domain;     /* "" for ONNX, "spikeformer" for fused ops */
  const struct sf_op_def *def;
  int n_in, n_out;
  int *in, *out;    /* value indices; -1 for an omitted optional input */
  int n_attr;
  sf_attr *attrs;
  char *note;       /* set by fusion passes: what the node stands for */
  sf_spiking_mode mode; /* in a spiking graph: how the node runs (set by the converter) */
} sf_node;

struct sf_graph {
  char *source;     /* file or directory it came from */
  char *format;     /* "onnx", "safetensors" */
  char *producer;
  char *architecture; /* e.g. "ViTForImageClassification", "" for plain ONNX */
  int64_t max_positions; /* text models from config.json: rows of the position table, the longest sequence (0: unknown) */
  int64_t opset;
  sf_value *values;
  int n_values, cap_values;
  sf_node *nodes;
  int n_nodes, cap_nodes;
  int *inputs, n_inputs;
  int *outputs, n_outputs;
  /* name -> value index hash */
  int *hash;
  int hash_cap;
};

sf_graph *sf_graph_new(void);
/* Find or add a value by name. Returns index or -1 on OOM. */
int sf_graph_value(sf_graph *g, const char *name);
int sf_graph_find_value(const sf_graph *g, const char *name);
/* Rename a value (fails if the name is taken). */
sf_status sf_graph_rename_value(sf_graph *g, int v, const char *name);
/* Add a constant value; takes ownership of t's data. */
int sf_graph_add_const(sf_graph *g, const char *name, sf_tensor *t);
/* Append a node; in/out are value indices. Returns node index or -1. */
int sf_graph_add_node(sf_graph *g, const char *name, const char *op_type, const char *domain,
                      int n_in, const int *in, int n_out, const int *out);
sf_status sf_graph_add_input(sf_graph *g, int value);
sf_status sf_graph_add_output(sf_graph *g, int value);
/* Insert a node at position `pos` (0..n_nodes); producers are recomputed. Returns pos or -1. */
int sf_graph_insert_node(sf_graph *g, int pos, const char *name, const char *op_type, const char *domain,
                         int n_in, const int *in, int n_out, const int *out);
/* A fresh value name based on `base` ("base", "base_1", ...). Returns the value index. */
int sf_graph_new_value(sf_graph *g, const char *base);
/* Attributes */
sf_attr *sf_node_add_attr(sf_node *n, const char *name, sf_attr_type type);
const sf_attr *sf_node_attr(const sf_node *n, const char *name);
int64_t sf_node_attr_int(const sf_node *n, const char *name, int64_t dflt);
float sf_node_attr_float(const sf_node *n, const char *name, float dflt);
const char *sf_node_attr_string(const sf_node *n, const char *name, const char *dflt);
/* ints attribute: returns count (or -1 if absent) and sets *out */
int sf_node_attr_ints(const sf_node *n, const char *name, const int64_t **out);
/* Setters: SF_ERR_NOMEM (naming the node and attribute) when an allocation fails. */
sf_status sf_node_set_attr_int(sf_node *n, const char *name, int64_t v);
sf_status sf_node_set_attr_float(sf_node *n, const char *name, float v);
sf_status sf_node_set_attr_string(sf_node *n, const char *name, const char *v);
sf_status sf_node_set_attr_ints(sf_node *n, const char *name, const int64_t *v, int count);

/* Deep copy of the structure; constant data is borrowed from src (src must outlive the copy),
 * except for constants the copy creates itself later. */
sf_graph *sf_graph_clone(const sf_graph *src);
/* Remove dead nodes and unused values; recompute producers; keep topological order. */
sf_status sf_graph_compact(sf_graph *g);
/* Producer and consumer counts. */
void sf_graph_use_counts(const sf_graph *g, int *uses /* n_values */);
/* Topologically sort nodes (imports may be unordered). */
sf_status sf_graph_toposort(sf_graph *g);

#endif

/* Graph passes over a specialised graph (all shapes known). */
#ifndef SF_GRAPH_PASSES_H
#define SF_GRAPH_PASSES_H
#include "graph/graph.h"

/* Infer shapes node by node and fold every node whose inputs are constants (or whose output
 * depends only on input shapes). */
sf_status sf_pass_infer_and_fold(sf_graph *g);
/* Recognise decomposed LayerNorm, GELU (erf and tanh forms), attention cores, MatMul+Add. */
sf_status sf_pass_fuse(sf_graph *g);
/* Run one node's infer() (used by passes that build nodes). */
sf_status sf_node_infer(sf_graph *g, int node);

#endif

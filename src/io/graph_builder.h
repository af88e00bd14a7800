/* Small helpers to build IR graphs in code (used by the Hugging Face importer). Every helper
 * returns a value index, or -1 after recording an error (check b->status). */
#ifndef SF_IO_GRAPH_BUILDER_H
#define SF_IO_GRAPH_BUILDER_H
#include "graph/graph.h"
#include "io/safetensors.h"

typedef struct {
  sf_graph *g;
  sf_safetensors *w;
  const char *dir;     /* for messages */
  const char *arch;
  sf_status status;
  int counter;
} sf_builder;

/* A weight from the checkpoint as a graph constant (copied). transpose: 2-D [out,in] -> [in,out]. */
int b_weight(sf_builder *b, const char *name, int transpose);
/* Is a weight present? */
int b_has(sf_builder *b, const char *name);
int b_const_i64(sf_builder *b, const char *hint, const int64_t *v, int n);
int b_const_f32(sf_builder *b, const char *hint, float v);
int b_const_tensor(sf_builder *b, const char *hint, sf_tensor *t); /* takes ownership */
/* Generic node with one output. attrs set by the caller on the returned node (b_last_node). */
int b_op(sf_builder *b, const char *op, const char *domain, int n_in, const int *in);
sf_node *b_last_node(sf_builder *b);

int b_linear(sf_builder *b, int x, const char *wname, const char *bname, int weight_is_in_out);
int b_layernorm(sf_builder *b, int x, const char *prefix, const char *wsuffix, const char *bsuffix, float eps);
int b_act(sf_builder *b, int x, const char *hidden_act);
/* [N, S, D] -> [N, H, S, dh] (transpose_k: [N, H, dh, S]) */
int b_split_heads(sf_builder *b, int x, int heads, int dh, int transpose_k);
/* [N, H, S, dh] -> [N, S, H*dh] */
int b_merge_heads(sf_builder *b, int x, int d);
int b_attention(sf_builder *b, int q, int kt, int v, int mask, float scale);
int b_add(sf_builder *b, int x, int y);
/* x[:, index, :] on axis 1 -> [N, D] */
int b_take_token(sf_builder *b, int x, int64_t index);
/* first n rows of table where n = dim `axis` of `like` (shape folded at specialisation) */
int b_rows_like(sf_builder *b, int table, int like, int axis);
int b_input(sf_builder *b, const char *name, sf_dtype dt, int ndim, const int64_t *shape);

/* Record st as the builder's failure (the first one wins); returns st. */
sf_status b_note(sf_builder *b, sf_status st);

#endif

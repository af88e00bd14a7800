/* Operator definitions: shape inference and float execution for each op of the IR.
 * An op sees its node (attributes), input tensors (NULL for an omitted optional input) and output
 * tensors. infer() fills the outputs' dtype and shape from the inputs' (and, where the ONNX op reads
 * a shape from an input tensor, that input's constant data). exec() computes outputs into storage
 * already allocated to the inferred shape. */
#ifndef SF_OPS_OPS_H
#define SF_OPS_OPS_H
#include "graph/graph.h"
#include "spikeformer/status.h"
#include "spikeformer/tensor.h"

typedef struct {
  const sf_graph *graph;
  const sf_node *node;
  int n_in, n_out;
  sf_tensor **in;   /* n_in entries, NULL for omitted */
  sf_tensor **out;  /* n_out entries */
  int64_t opset;
} sf_op_ctx;

enum {
  SF_OPF_SHAPE_NEEDS_DATA = 1, /* infer() reads constant input data (Reshape, Slice...) */
  SF_OPF_NO_FOLD = 2,          /* never constant-fold */
  SF_OPF_OUTPUT_FROM_SHAPE = 4 /* output depends only on input shapes (Shape, Size) */
};

typedef struct sf_op_def {
  const char *op_type;
  const char *domain;          /* "" = ONNX default domain */
  int min_in, max_in;          /* input count bounds */
  int flags;
  sf_status (*infer)(sf_op_ctx *c);
  sf_status (*exec)(sf_op_ctx *c);
  const char *summary;
} sf_op_def;

/* Find an op by type and domain ("" and "ai.onnx" are the same). NULL if unknown. */
const sf_op_def *sf_op_find(const char *op_type, const char *domain);
/* All ops (for --help / conformance listing). */
int sf_op_count(void);
const sf_op_def *sf_op_at(int i);

/* Helpers used by op implementations. */
sf_status sf_op_fail(const sf_op_ctx *c, sf_status code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Numpy broadcast of two shapes. */
sf_status sf_broadcast_shape(const sf_op_ctx *c, int na, const int64_t *a, int nb, const int64_t *b,
                             int *nout, int64_t *out);
/* Normalize an axis into [0, rank). */
sf_status sf_norm_axis(const sf_op_ctx *c, int64_t axis, int rank, int *out);
/* An input that must be a constant known at inference time (shape-like). */
sf_status sf_need_const(const sf_op_ctx *c, int i, const char *what);
/* Input i's data as int64 list (copies into buf, returns count); input must be constant. */
int sf_input_ints(const sf_op_ctx *c, int i, int64_t *buf, int cap);

/* Family registration tables (defined in each ops_*.c). */
extern const sf_op_def sf_ops_elementwise[];
extern const sf_op_def sf_ops_matmul[];
extern const sf_op_def sf_ops_conv[];
extern const sf_op_def sf_ops_pool[];
extern const sf_op_def sf_ops_norm[];
extern const sf_op_def sf_ops_reduce[];
extern const sf_op_def sf_ops_shape[];
extern const sf_op_def sf_ops_attention[];
extern const sf_op_def sf_ops_neuron[];

#endif

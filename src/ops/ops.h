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

/* Limits on a node's inputs and outputs (Concat takes up to SF_OP_MAX_INPUTS). */
#define SF_OP_MAX_INPUTS 1024
#define SF_OP_MAX_OUTPUTS 64

/* Every op the IR knows, one value each (the ONNX op and SpikeFormer's fused op of the same name
 * share one: Gelu, LayerNormalization). Code that asks "which op is this" compares these. */
typedef enum {
  SF_OP_ADD, SF_OP_SUB, SF_OP_MUL, SF_OP_DIV, SF_OP_POW, SF_OP_MOD, SF_OP_EQUAL, SF_OP_LESS, SF_OP_GREATER, SF_OP_LESS_OR_EQUAL,
  SF_OP_GREATER_OR_EQUAL, SF_OP_AND, SF_OP_OR, SF_OP_XOR, SF_OP_MAX, SF_OP_MIN, SF_OP_SUM, SF_OP_MEAN, SF_OP_SQRT, SF_OP_ERF, SF_OP_TANH,
  SF_OP_RELU, SF_OP_SIGMOID, SF_OP_NEG, SF_OP_ABS, SF_OP_EXP, SF_OP_LOG, SF_OP_RECIPROCAL, SF_OP_FLOOR, SF_OP_CEIL, SF_OP_NOT,
  SF_OP_LEAKY_RELU, SF_OP_SOFTPLUS, SF_OP_SIN, SF_OP_COS, SF_OP_SIGN, SF_OP_ROUND, SF_OP_ELU, SF_OP_HARD_SIGMOID, SF_OP_SELU,
  SF_OP_IDENTITY, SF_OP_GELU, SF_OP_DROPOUT, SF_OP_CLIP, SF_OP_CAST, SF_OP_WHERE, SF_OP_MATMUL, SF_OP_GEMM, SF_OP_LINEAR, SF_OP_CONV,
  SF_OP_MAX_POOL, SF_OP_AVERAGE_POOL, SF_OP_GLOBAL_AVERAGE_POOL, SF_OP_GLOBAL_MAX_POOL, SF_OP_LAYER_NORM, SF_OP_BATCH_NORM,
  SF_OP_SOFTMAX, SF_OP_LOG_SOFTMAX, SF_OP_REDUCE_MEAN, SF_OP_REDUCE_SUM, SF_OP_REDUCE_MAX, SF_OP_REDUCE_MIN, SF_OP_REDUCE_PROD,
  SF_OP_REDUCE_SUM_SQUARE, SF_OP_REDUCE_L1, SF_OP_REDUCE_L2, SF_OP_REDUCE_LOG_SUM_EXP, SF_OP_SHAPE, SF_OP_SIZE, SF_OP_RESHAPE,
  SF_OP_FLATTEN, SF_OP_SQUEEZE, SF_OP_UNSQUEEZE, SF_OP_TRANSPOSE, SF_OP_CONCAT, SF_OP_GATHER, SF_OP_SLICE, SF_OP_SPLIT, SF_OP_CONSTANT,
  SF_OP_CONSTANT_OF_SHAPE, SF_OP_EXPAND, SF_OP_TILE, SF_OP_RANGE, SF_OP_PAD, SF_OP_ATTENTION, SF_OP_NEURON,
  SF_OP_COUNT
} sf_op_id;

enum {
  SF_OPF_SHAPE_NEEDS_DATA = 1,  /* infer() reads constant input data (Reshape, Slice...) */
  SF_OPF_NO_FOLD = 2,           /* never constant-fold */
  SF_OPF_OUTPUT_FROM_SHAPE = 4, /* output depends only on input shapes (Shape, Size) */
  SF_OPF_PERMUTES = 8,          /* output is its first input's elements rearranged one to one (Reshape, Transpose,
                                   Identity...): spikes pass through, a neuron site is found behind it */
  SF_OPF_KEEPS_ORDER = 16,      /* ... and in the same flat order (not Transpose): the output can alias the input */
  SF_OPF_FOLDS_INTO_WEIGHTS = 32 /* folded into the preceding weighted layer by the converter (BatchNormalization) */
};

/* How an op becomes part of a spiking network (the converter's modes, sf_spiking_mode, and the
 * analyzer's classes follow from this and the node's constant inputs: sf_node_spiking_mode). */
typedef enum {
  SF_SPK_NONE = 0,  /* no spiking form (booleans, shapes, ranges): must fold away as constants */
  SF_SPK_LINEAR,    /* linear on increments: residual adds, pooling means, sums, pads; exact */
  SF_SPK_WEIGHTED,  /* weighted layer (Linear, Conv, Gemm, MatMul): spikes select weight rows; with two dynamic
                       operands, a product of two spike streams */
  SF_SPK_SCALE,     /* Mul / Div: linear by a constant; Mul of two streams is a product, Div by a stream a float function */
  SF_SPK_LAYOUT,    /* moves or selects elements (Reshape, Concat, Slice...): linear, no arithmetic */
  SF_SPK_SELECT,    /* selects by a selector input (Gather indices, Where condition): layout when it is constant */
  SF_SPK_CAST,      /* between float types an identity; to anything else no spiking form */
  SF_SPK_FLOAT,     /* a float function of its inputs: expectation compensation at runtime (softmax, LayerNorm, GELU) */
  SF_SPK_RELU,      /* an IF neuron's rate function: absorbed into an unsigned neuron, else a float function */
  SF_SPK_MAX,       /* max selection: runs after the neuron on spike counts (approximate: max of sums) */
  SF_SPK_ATTENTION, /* the fused attention core: split into two stream products and a softmax */
  SF_SPK_NEURON     /* a spiking neuron */
} sf_spiking_class;

typedef struct sf_op_def {
  const char *op_type;
  const char *domain;          /* "" = ONNX default domain */
  int min_in, max_in;          /* input count bounds */
  int flags;
  sf_status (*infer)(sf_op_ctx *c);
  sf_status (*exec)(sf_op_ctx *c);
  const char *summary;
  sf_op_id id;
  sf_spiking_class spiking;
} sf_op_def;

/* The node's op, from its definition (SF_OP_COUNT for a node without one). */
static inline sf_op_id sf_node_op(const sf_node *n) { return n && n->def ? n->def->id : SF_OP_COUNT; }
static inline int sf_node_flag(const sf_node *n, int flag) { return n && n->def && (n->def->flags & flag); }
/* How node n of g runs in a spiking network, from its op's class and which of its inputs are
 * constants; SF_MODE_NONE with *why (static text) where it has no spiking form. */
sf_spiking_mode sf_node_spiking_mode(const sf_graph *g, const sf_node *n, const char **why);

/* Find an op by type and domain ("" and "ai.onnx" are the same). NULL if unknown. */
const sf_op_def *sf_op_find(const char *op_type, const char *domain);
/* All ops (for --help / conformance listing; sf_op_count is public, in graph.h). */
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

/* Running a model: the float reference executor.
 * A session specialises the graph to the shapes of the inputs it is given (shape inference,
 * constant folding: shape subgraphs vanish), fuses decomposed LayerNorm / GELU / attention, plans
 * buffers, and runs. A new input shape re-specialises. */
#ifndef SPIKEFORMER_SESSION_H
#define SPIKEFORMER_SESSION_H
#include "spikeformer/export.h"
#include "spikeformer/graph.h"
#include "spikeformer/tensor.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef struct sf_session sf_session;

typedef struct {
  int fuse;        /* run fusion passes (default 1) */
  int keep_all;    /* keep every intermediate value after a run (sf_session_value); default 0 */
} sf_session_options;

SF_API void sf_session_options_default(sf_session_options *o);
/* The graph must outlive the session. */
SF_API sf_status sf_session_create(const sf_graph *g, const sf_session_options *opt, sf_session **out);
SF_API void sf_session_free(sf_session *s);
/* inputs: one per graph input, in graph order. outputs: n_outputs tensors, allocated by the call
 * (free with sf_tensor_free). */
SF_API sf_status sf_session_run(sf_session *s, const sf_tensor *inputs, sf_tensor *outputs);
/* An intermediate value of the last run, by name (needs keep_all), or NULL. */
SF_API const sf_tensor *sf_session_value(const sf_session *s, const char *name);
/* Use an already specialised graph as the plan (no re-specialisation; inputs must match it). */
SF_API sf_status sf_session_create_planned(const sf_graph *specialised, const sf_session_options *opt, sf_session **out);
/* The specialised graph of the last run (or of sf_session_prepare). */
SF_API const sf_graph *sf_session_plan(const sf_session *s);
/* Specialise for these input descriptors without running. */
SF_API sf_status sf_session_prepare(sf_session *s, const sf_tensor *inputs);

enum {
  SF_SPEC_FUSE = 1,        /* run the fusion passes */
  SF_SPEC_BIND_INPUTS = 2  /* treat the data of non-float inputs as constants (shape-like inputs) */
};
/* Specialise a graph for concrete input shapes: infer every shape, fold constants and shape
 * computations, optionally fuse. Returns a new graph that borrows g's constants. */
SF_API sf_status sf_graph_specialize(const sf_graph *g, const sf_tensor *inputs, int flags, sf_graph **out);

#ifdef __cplusplus
}
#endif
#endif

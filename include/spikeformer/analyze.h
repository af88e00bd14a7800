/* Model Analyzer: per-node report of a specialised graph: op, shapes, parameters, MACs, and how
 * (or whether) the node converts to spikes, with the reason. */
#ifndef SPIKEFORMER_ANALYZE_H
#define SPIKEFORMER_ANALYZE_H
#include "spikeformer/export.h"
#include <stdint.h>

#include "spikeformer/graph.h"
#include "spikeformer/session.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  SF_SPIKE_ACCUMULATE = 0,  /* spike-driven accumulate: a spike selects weights that are added (AC) */
  SF_SPIKE_ANALOG_INPUT,    /* first layer fed analog (direct-coded) input: MACs */
  SF_SPIKE_STREAM_PRODUCT,  /* product of two spike streams (running-sum decomposition), adds only */
  SF_SPIKE_NEURON,          /* an IF neuron's rate function (ReLU): exact */
  SF_SPIKE_LINEAR,          /* linear, exact on spike counts (residual add, pooling, scaling, constants) */
  SF_SPIKE_LAYOUT,          /* data movement, no arithmetic */
  SF_SPIKE_FLOAT_RUNTIME,   /* evaluates a float function at runtime (expectation compensation) */
  SF_SPIKE_APPROXIMATE,     /* converts with a known approximation error (max pooling) */
  SF_SPIKE_FOLDED,          /* folded into a neighbour (BatchNorm into conv) */
  SF_SPIKE_UNSUPPORTED      /* cannot be converted */
} sf_spike_class;

typedef struct {
  const char *name, *op_type, *domain, *note;
  char out_shape[96];
  int64_t params;
  int64_t macs;
  sf_spike_class cls;
  const char *how;          /* one line: how it converts, or why not */
} sf_node_report;

typedef struct {
  sf_node_report *nodes;
  int n_nodes;
  int n_imported;           /* nodes as imported, before folding and fusion (sf_analyze_model) */
  int64_t batch;            /* the batch the shapes are for */
  sf_graph *plan;           /* the specialised graph the report describes (owned when sf_analyze_model made it) */
  int64_t total_params, total_macs;
  int64_t macs_by_class[SF_SPIKE_UNSUPPORTED + 1];
  int count_by_class[SF_SPIKE_UNSUPPORTED + 1];
  int n_unsupported;
} sf_model_report;

/* Analyse a specialised graph (see sf_graph_specialize). The report borrows strings from g. */
SF_API sf_status sf_analyze(const sf_graph *g, sf_model_report *out);

typedef struct {
  int64_t batch;    /* batch size the shapes are for (default 1) */
  int64_t seq_len;  /* length of other free dimensions, e.g. token sequences (default 16) */
  int fuse;         /* fuse LayerNorm / GELU / attention first (default 1) */
} sf_analyze_options;
SF_API void sf_analyze_options_default(sf_analyze_options *o);
/* Specialise an imported model to one input shape (free dimensions: the first is the batch, the
 * others seq_len), fuse, and analyse. The report owns the specialised graph (out->plan). */
SF_API sf_status sf_analyze_model(const sf_graph *model, const sf_analyze_options *o, sf_model_report *out);
/* The report as `analyze --json` writes it ({"model", "nodes_imported", ..., "layers": [...]});
 * name: how the model is called. Caller frees. */
SF_API char *sf_model_report_json(const sf_model_report *r, const char *name);
SF_API void sf_model_report_free(sf_model_report *r);
SF_API const char *sf_spike_class_name(sf_spike_class c);

#ifdef __cplusplus
}
#endif
#endif

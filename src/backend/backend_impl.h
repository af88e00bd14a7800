/* The backend interface as function pointers (ggml-style _i table). A new target (edge, Loihi 2,
 * SpiNNaker2, CUDA) adds one file with one table and one line in registry.c. */
#ifndef SF_BACKEND_IMPL_H
#define SF_BACKEND_IMPL_H
#include <stddef.h>

#include "graph/graph.h"
#include "spikeformer/backend.h"

/* One backend-specific option: its key and a line of help (what it takes, the default). */
typedef struct {
  const char *key, *help;
} sf_backend_key;

typedef struct sf_backend_i {
  const char *name;
  const char *description;
  /* the backend's own options (sf_backend_options.target): size, defaults, set by name, keys */
  size_t target_size;
  void (*target_default)(void *target);
  sf_status (*target_set)(void *target, const char *key, const char *value);
  const sf_backend_key *target_keys; /* NULL-terminated */
  char *(*target_describe)(const void *target);
  /* whether it runs node i of a spiking graph (why not, as static text) */
  int (*supports_node)(const sf_graph *spiking, int i, const char **why);
  /* o->target is never NULL here: the registry passes the backend's defaults */
  sf_status (*compile)(const sf_backend *b, const sf_snn_model *m, const sf_backend_options *o, void **state);
  sf_status (*deploy)(void *compiled, int64_t batch, void **state);
  sf_status (*execute)(void *deployed, const sf_tensor *input, int T, sf_snn_step_fn cb, void *user);
  /* optional: clips [batch, T, ...], frame t at step t */
  sf_status (*execute_frames)(void *deployed, const sf_tensor *clips, sf_snn_step_fn cb, void *user);
  int (*profile_count)(const void *deployed);
  void (*profile)(const void *deployed, int i, sf_snn_node_stats *out);
  /* operations at timestep t (1-based) over all layers and runs: sops, macs, float_ops, neuron_updates */
  void (*profile_step)(const void *deployed, int t, double out[4]);
  /* optional: the raster of layer i, and what the kernels run on */
  const int8_t *(*raster)(const void *deployed, int i, int *T, int *neurons);
  const char *(*kernels)(const void *deployed);
  void (*free_deployed)(void *deployed);
  void (*free_compiled)(void *compiled);
} sf_backend_i;

struct sf_backend {
  sf_backend_i iface;
};

struct sf_compiled {
  const sf_backend *backend;
  void *state;
};

struct sf_deployed {
  const sf_backend *backend;
  void *state;
};

extern const sf_backend sf_backend_cpu;
extern const sf_backend sf_backend_loihi2;

#endif

/* The backend interface as function pointers (ggml-style _i table). A new target (edge, Loihi 2,
 * SpiNNaker2, CUDA) adds one file with one table and one line in registry.c. */
#ifndef SF_BACKEND_IMPL_H
#define SF_BACKEND_IMPL_H
#include "spikeformer/backend.h"

typedef struct sf_backend_i {
  const char *name;
  const char *description;
  sf_status (*compile)(const sf_backend *b, const sf_snn_model *m, const sf_backend_options *o, void **state);
  sf_status (*deploy)(void *compiled, int64_t batch, void **state);
  sf_status (*execute)(void *deployed, const sf_tensor *input, int T, sf_snn_step_fn cb, void *user);
  int (*profile_count)(const void *deployed);
  void (*profile)(const void *deployed, int i, sf_snn_node_stats *out);
  /* operations at timestep t (1-based) over all layers and runs: sops, macs, float_ops, neuron_updates */
  void (*profile_step)(const void *deployed, int t, double out[4]);
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

#endif

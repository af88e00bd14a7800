/* Helpers for bindings that reach the library through a foreign-function interface (Python's
 * ctypes): the size of every public struct such a front end allocates or mirrors, so that it can
 * check its layout against the library it loaded, and the optimiser's model handed over. */
#include <stdlib.h>
#include <string.h>

#include "spikeformer/spikeformer.h"

size_t sf_struct_size(const char *name) {
#define S(T) {#T, sizeof(T)}
  static const struct { const char *name; size_t size; } sizes[] = {
      S(sf_tensor),           S(sf_dataset),          S(sf_spiking_config),  S(sf_hardware_constraints), S(sf_convert_options),
      S(sf_analyze_options),  S(sf_model_report),     S(sf_node_report),     S(sf_backend_options),      S(sf_cpu_options),
      S(sf_ann_eval_options), S(sf_ann_eval_result),  S(sf_eval_options),    S(sf_eval_result),          S(sf_optimize_options),
      S(sf_optimize_result),  S(sf_validation),       S(sf_snn_node_stats),  S(sf_energy_model),         S(sf_op_counts),
      S(sf_train_options),    S(sf_train_epoch),      S(sf_train_result),    S(sf_nir_options)};
#undef S
  for (size_t i = 0; name && i < sizeof sizes / sizeof sizes[0]; i++)
    if (!strcmp(sizes[i].name, name)) return sizes[i].size;
  return 0;
}

sf_snn_model *sf_optimize_result_take_model(sf_optimize_result *r) {
  if (!r) return NULL;
  sf_snn_model *m = r->result;
  r->result = NULL;
  return m;
}

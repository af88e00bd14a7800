/* ArchitectureValidator: checks a converted spiking graph and says what failed:
 * every node has a spiking mode, shapes are consistent (re-inferred), thresholds are finite and
 * positive, no NaN/Inf weights, fan-in within the target's limit, neurons per layer within the
 * target's per-core limit (when set). */
#ifndef SPIKEFORMER_VALIDATE_H
#define SPIKEFORMER_VALIDATE_H
#include "spikeformer/export.h"
#include "spikeformer/config.h"
#include "spikeformer/graph.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int n_errors;
  char **errors;     /* one line each: what failed and where */
  int n_checked_nodes;
  int max_fan_in;    /* largest fan-in found */
} sf_validation;

/* Returns SF_OK when the graph passes; otherwise SF_ERR_VALUE and `out` lists every problem. */
SF_API sf_status sf_validate(const sf_graph *spiking, const sf_hardware_constraints *hw, sf_validation *out);
SF_API void sf_validation_free(sf_validation *v);
/* Validate a converted model's spiking graph against hw (NULL: the constraints in its config). */
struct sf_snn_model;
SF_API sf_status sf_snn_model_validate(const struct sf_snn_model *m, const sf_hardware_constraints *hw, sf_validation *out);

#ifdef __cplusplus
}
#endif
#endif

/* Delta (sigma-delta) coding in the step-major executor (cfg.coding == SF_CODING_DELTA): values are
 * sums over steps, the input and constants arrive at t = 1, and at t > 1 a node runs only where an
 * input changed. s->silent marks, per value and step, an increment that did not change (0 changed,
 * 1 unchanged with a stale buffer, 2 unchanged and zero-filled). Not a public header. */
#ifndef SF_SNN_DELTA_H
#define SF_SNN_DELTA_H
#include "ops/ops.h"
#include "snn/snn_session.h"

/* t > 1: 1 if node i has nothing to do (no dynamic input changed, and a neuron has no burst left
 * over): its outputs become unchanged and it is skipped. Else 0: its unchanged inputs are
 * zero-filled (and an int32 neuron's feeding accumulators), its outputs marked changed. */
int sf_delta_skip(sf_snn_session *s, int i);
/* 1 if some neuron of node n sent a full burst of K this step (cut at K: it may have more to send
 * without input). y: the node's outputs k theta [on] (float neurons; int32 neurons scan their counts). */
int sf_delta_burst_cut(const node_state *n, const float *y, int64_t on);
/* t > 1, after linear node i ran on this step's changes through its generic op (context c): takes
 * off what its constant inputs add (a bias, an added table: the op's output on zero inputs,
 * computed once), since they were sent at t = 1. No-op for a node without constant inputs. */
sf_status sf_delta_remove_constants(sf_snn_session *s, int i, const sf_op_ctx *c);

#endif

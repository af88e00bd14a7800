/* The int8 synapses driven by one sample's binary spikes over a block of steps, as per-step event
 * lists (the binary neuron kernel writes them: sf_q8_neuron_if_block), summed in registers (the time-major
 * runner's hidden layers, snn_chain.c).
 *   lists  [nb, K + 16] int32: lists[t, 0:counts[t]] = the inputs k that fired at step t, ascending
 *   W16    [ceil(N/P), K, P] int16: the int8 weights Wq [K, N] widened, in panels of P = 64
 *          columns (32 where N <= 32), zero padded: row k of a panel is 2P contiguous bytes
 *   I      [nb, N] int16, rows ldi apart: I[t, :] = sum over k in lists[t] of Wq[k, :]
 * Integer sums are exact, so I equals sf_q8_events_steps's for the same spikes. The caller keeps
 * every step's spike count times 127 below 2^15 (no overflow). */
#ifndef SF_SNN_SPIKE_LISTS_Q8_H
#define SF_SNN_SPIKE_LISTS_Q8_H
#include <stdint.h>

/* int16 elements of W16 for a [K, N] weight, and the widening of Wq into it. */
int64_t sf_q8_w16_size(int64_t K, int64_t N);
void sf_q8_pack_w16(const int8_t *Wq, int64_t K, int64_t N, int16_t *W16);
/* I[t, :] for every step of the block (overwritten, not added to). */
void sf_q8_events_lists(const int32_t *lists, const int32_t *counts, int nb, int64_t K, const int16_t *W16, int64_t N, int16_t *I,
                        int64_t ldi);

#endif

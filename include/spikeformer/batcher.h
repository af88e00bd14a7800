/* Dynamic batching: samples arrive one by one; they are grouped into a batch that runs when it is
 * full (max_batch) or when its oldest sample has waited max_latency seconds, whichever comes first.
 * Results come back per sample through a callback, in submission order within a batch. */
#ifndef SPIKEFORMER_BATCHER_H
#define SPIKEFORMER_BATCHER_H
#include "spikeformer/export.h"
#include <stdint.h>

#include "spikeformer/backend.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef struct sf_batcher sf_batcher;
/* output: the decoded output of one sample after T steps ([classes] floats) */
typedef void (*sf_batch_done_fn)(int64_t ticket, const float *output, int64_t n, void *user);

SF_API sf_status sf_batcher_create(sf_compiled *c, const sf_tensor *sample_desc, int max_batch, double max_latency_s, int T,
                            sf_batch_done_fn done, void *user, sf_batcher **out);
/* Queue one sample (copied). `now` is the caller's clock in seconds. Runs the batch if it is full. */
SF_API sf_status sf_batcher_submit(sf_batcher *b, const float *sample, double now, int64_t *ticket);
/* Run the pending batch if its oldest sample has waited max_latency. */
SF_API sf_status sf_batcher_poll(sf_batcher *b, double now);
/* Run whatever is pending. */
SF_API sf_status sf_batcher_flush(sf_batcher *b);
/* Batches run so far and the samples they held. */
SF_API void sf_batcher_stats(const sf_batcher *b, int64_t *batches, int64_t *samples);
SF_API void sf_batcher_free(sf_batcher *b);

#ifdef __cplusplus
}
#endif
#endif

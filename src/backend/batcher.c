#include "spikeformer/batcher.h"

#include <stdlib.h>
#include <string.h>

struct sf_batcher {
  sf_compiled *c;
  sf_tensor desc;        /* one sample: [1, ...] */
  int64_t per;           /* floats per sample */
  int max_batch, T;
  double max_latency, first_arrival;
  float *queue;          /* [max_batch, per] */
  int64_t *tickets;
  int pending;
  int64_t next_ticket, n_batches, n_samples;
  sf_deployed **deps;    /* one deployment per batch size, made on first use */
  float *out;            /* last step's decoded output */
  int64_t out_per;
  sf_batch_done_fn done;
  void *user;
};

sf_status sf_batcher_create(sf_compiled *c, const sf_tensor *sample_desc, int max_batch, double max_latency_s, int T,
                            sf_batch_done_fn done, void *user, sf_batcher **out) {
  if (max_batch < 1 || T < 1 || max_latency_s < 0) return sf_error(SF_ERR_ARG, "batcher: max_batch and T must be positive, latency >= 0");
  sf_batcher *b = calloc(1, sizeof *b);
  if (!b) return sf_error(SF_ERR_NOMEM, "out of memory");
  b->c = c;
  b->desc = *sample_desc;
  b->desc.data = NULL;
  b->desc.owns_data = 0;
  b->desc.shape[0] = 1;
  b->per = sf_tensor_numel(&b->desc);
  b->max_batch = max_batch;
  b->max_latency = max_latency_s;
  b->T = T;
  b->done = done;
  b->user = user;
  b->queue = malloc(sizeof(float) * (size_t)(b->per * max_batch));
  b->tickets = malloc(sizeof(int64_t) * (size_t)max_batch);
  b->deps = calloc((size_t)max_batch + 1, sizeof *b->deps);
  if (!b->queue || !b->tickets || !b->deps) { sf_batcher_free(b); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  *out = b;
  return SF_OK;
}

typedef struct { sf_batcher *b; } step_ctx;

static int keep(int t, const sf_tensor *dec, void *u) {
  sf_batcher *b = u;
  if (t < b->T) return 0;
  int64_t n = sf_tensor_numel(dec);
  float *o = realloc(b->out, sizeof(float) * (size_t)n);
  if (!o) return 1;
  b->out = o;
  memcpy(o, dec->data, sizeof(float) * (size_t)n);
  b->out_per = n / (dec->shape[0] ? dec->shape[0] : 1);
  return 0;
}

static sf_status run_pending(sf_batcher *b) {
  int n = b->pending;
  if (!n) return SF_OK;
  sf_status st;
  if (!b->deps[n] && (st = sf_backend_deploy(b->c, n, &b->deps[n]))) return st;
  sf_tensor x = b->desc;
  x.shape[0] = n;
  x.data = b->queue;
  if ((st = sf_backend_execute(b->deps[n], &x, b->T, keep, b))) return st;
  if (!b->out) return sf_error(SF_ERR_NOMEM, "out of memory");
  for (int i = 0; i < n; i++) b->done(b->tickets[i], b->out + (int64_t)i * b->out_per, b->out_per, b->user);
  b->pending = 0;
  b->n_batches++;
  b->n_samples += n;
  return SF_OK;
}

sf_status sf_batcher_submit(sf_batcher *b, const float *sample, double now, int64_t *ticket) {
  if (b->pending == 0) b->first_arrival = now;
  memcpy(b->queue + (int64_t)b->pending * b->per, sample, sizeof(float) * (size_t)b->per);
  b->tickets[b->pending++] = b->next_ticket;
  if (ticket) *ticket = b->next_ticket;
  b->next_ticket++;
  if (b->pending == b->max_batch) return run_pending(b);
  return sf_batcher_poll(b, now);
}

sf_status sf_batcher_poll(sf_batcher *b, double now) {
  if (b->pending && now - b->first_arrival >= b->max_latency) return run_pending(b);
  return SF_OK;
}

sf_status sf_batcher_flush(sf_batcher *b) { return run_pending(b); }

void sf_batcher_stats(const sf_batcher *b, int64_t *batches, int64_t *samples) {
  *batches = b->n_batches;
  *samples = b->n_samples;
}

void sf_batcher_free(sf_batcher *b) {
  if (!b) return;
  if (b->deps)
    for (int i = 0; i <= b->max_batch; i++) sf_deployed_free(b->deps[i]);
  free(b->deps);
  free(b->queue);
  free(b->tickets);
  free(b->out);
  free(b);
}

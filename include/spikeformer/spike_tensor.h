/* SpikeTensor: spikes over [batch, time, channels, height, width] in three forms with lossless
 * conversions between them:
 *   DENSE      one int8 per (b, t, neuron): 0, or a signed spike count (ternary -1/0/+1, or burst k)
 *   BITPACKED  two bit planes per (b, t) frame: positive and negative spikes (ternary values only)
 *   EVENTS     a list of (b, t, neuron, value), sorted by (b, t, neuron)
 * neuron = (c * height + h) * width + w. */
#ifndef SPIKEFORMER_SPIKE_TENSOR_H
#define SPIKEFORMER_SPIKE_TENSOR_H
#include "spikeformer/export.h"
#include <stdint.h>

#include "spikeformer/status.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef enum { SF_SPIKES_DENSE = 0, SF_SPIKES_BITPACKED, SF_SPIKES_EVENTS } sf_spike_form;

typedef struct {
  int32_t b, t, neuron;
  int8_t value;
} sf_spike_event;

typedef struct {
  int64_t batch, time, channels, height, width;
  float dt;              /* timestep duration in seconds (metadata) */
  sf_spike_form form;
  int8_t *dense;         /* DENSE: [batch*time*neurons] */
  uint64_t *pos, *neg;   /* BITPACKED: [batch*time*words] each */
  int64_t words;         /* 64-bit words per frame */
  sf_spike_event *events;/* EVENTS */
  int64_t n_events, cap_events;
} sf_spike_tensor;

SF_API sf_status sf_spikes_init(sf_spike_tensor *s, int64_t batch, int64_t time, int64_t channels,
                         int64_t height, int64_t width, sf_spike_form form);
SF_API void sf_spikes_free(sf_spike_tensor *s);
SF_API int64_t sf_spikes_neurons(const sf_spike_tensor *s);
/* Value of one spike site, whatever the form. */
SF_API int sf_spikes_get(const sf_spike_tensor *s, int64_t b, int64_t t, int64_t neuron);
/* Set a site (DENSE and BITPACKED in place; EVENTS appends, keep the order). */
SF_API sf_status sf_spikes_set(sf_spike_tensor *s, int64_t b, int64_t t, int64_t neuron, int value);
/* Convert into a new tensor of another form. Fails (SF_ERR_VALUE) when a non-ternary value would be
 * lost in the bit-packed form. */
SF_API sf_status sf_spikes_convert(sf_spike_tensor *dst, const sf_spike_tensor *src, sf_spike_form form);
SF_API int64_t sf_spikes_count(const sf_spike_tensor *s); /* number of non-zero sites */
SF_API int sf_spikes_equal(const sf_spike_tensor *a, const sf_spike_tensor *b);
SF_API const char *sf_spike_form_name(sf_spike_form f);

#ifdef __cplusplus
}
#endif
#endif

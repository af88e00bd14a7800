#include "spikeformer/spike_tensor.h"

#include <stdlib.h>
#include <string.h>

const char *sf_spike_form_name(sf_spike_form f) {
  switch (f) {
    case SF_SPIKES_DENSE: return "dense";
    case SF_SPIKES_BITPACKED: return "bitpacked";
    case SF_SPIKES_EVENTS: return "events";
  }
  return "?";
}

int64_t sf_spikes_neurons(const sf_spike_tensor *s) { return s->channels * s->height * s->width; }

sf_status sf_spikes_init(sf_spike_tensor *s, int64_t batch, int64_t time, int64_t channels,
                         int64_t height, int64_t width, sf_spike_form form) {
  memset(s, 0, sizeof *s);
  if (batch <= 0 || time <= 0 || channels <= 0 || height <= 0 || width <= 0)
    return sf_error(SF_ERR_SHAPE, "spike tensor dims must be positive (got [%lld,%lld,%lld,%lld,%lld])",
                    (long long)batch, (long long)time, (long long)channels, (long long)height, (long long)width);
  if (channels * height * width > INT32_MAX || batch > INT32_MAX || time > INT32_MAX)
    return sf_error(SF_ERR_SHAPE, "spike tensor too large");
  s->batch = batch; s->time = time; s->channels = channels; s->height = height; s->width = width;
  s->dt = 1e-3f;
  s->form = form;
  int64_t frames = batch * time, n = sf_spikes_neurons(s);
  s->words = (n + 63) / 64;
  if (form == SF_SPIKES_DENSE) {
    s->dense = calloc((size_t)(frames * n), 1);
    if (!s->dense) return sf_error(SF_ERR_NOMEM, "out of memory for dense spikes");
  } else if (form == SF_SPIKES_BITPACKED) {
    s->pos = calloc((size_t)(frames * s->words), sizeof(uint64_t));
    s->neg = calloc((size_t)(frames * s->words), sizeof(uint64_t));
    if (!s->pos || !s->neg) { sf_spikes_free(s); return sf_error(SF_ERR_NOMEM, "out of memory for spike bits"); }
  }
  return SF_OK;
}

void sf_spikes_free(sf_spike_tensor *s) {
  free(s->dense); free(s->pos); free(s->neg); free(s->events);
  s->dense = NULL; s->pos = s->neg = NULL; s->events = NULL;
  s->n_events = s->cap_events = 0;
}

static int64_t frame_of(const sf_spike_tensor *s, int64_t b, int64_t t) { return b * s->time + t; }

static int event_cmp(const sf_spike_event *e, int64_t b, int64_t t, int64_t n) {
  if (e->b != b) return e->b < b ? -1 : 1;
  if (e->t != t) return e->t < t ? -1 : 1;
  if (e->neuron != n) return e->neuron < n ? -1 : 1;
  return 0;
}

int sf_spikes_get(const sf_spike_tensor *s, int64_t b, int64_t t, int64_t neuron) {
  int64_t f = frame_of(s, b, t);
  switch (s->form) {
    case SF_SPIKES_DENSE: return s->dense[f * sf_spikes_neurons(s) + neuron];
    case SF_SPIKES_BITPACKED: {
      uint64_t bit = 1ull << (neuron & 63);
      int64_t w = f * s->words + (neuron >> 6);
      return (s->pos[w] & bit) ? 1 : (s->neg[w] & bit) ? -1 : 0;
    }
    case SF_SPIKES_EVENTS: {
      int64_t lo = 0, hi = s->n_events - 1;
      while (lo <= hi) {
        int64_t mid = (lo + hi) / 2;
        int c = event_cmp(&s->events[mid], b, t, neuron);
        if (c == 0) return s->events[mid].value;
        if (c < 0) lo = mid + 1; else hi = mid - 1;
      }
      return 0;
    }
  }
  return 0;
}

static sf_status push_event(sf_spike_tensor *s, int64_t b, int64_t t, int64_t n, int v) {
  if (s->n_events == s->cap_events) {
    int64_t cap = s->cap_events ? s->cap_events * 2 : 1024;
    sf_spike_event *e = realloc(s->events, (size_t)cap * sizeof *e);
    if (!e) return sf_error(SF_ERR_NOMEM, "out of memory for spike events");
    s->events = e; s->cap_events = cap;
  }
  s->events[s->n_events++] = (sf_spike_event){(int32_t)b, (int32_t)t, (int32_t)n, (int8_t)v};
  return SF_OK;
}

sf_status sf_spikes_set(sf_spike_tensor *s, int64_t b, int64_t t, int64_t neuron, int value) {
  if (b < 0 || b >= s->batch || t < 0 || t >= s->time || neuron < 0 || neuron >= sf_spikes_neurons(s))
    return sf_error(SF_ERR_ARG, "spike site (%lld,%lld,%lld) out of range", (long long)b, (long long)t, (long long)neuron);
  if (value < -128 || value > 127) return sf_error(SF_ERR_VALUE, "spike value %d does not fit int8", value);
  int64_t f = frame_of(s, b, t);
  switch (s->form) {
    case SF_SPIKES_DENSE: s->dense[f * sf_spikes_neurons(s) + neuron] = (int8_t)value; return SF_OK;
    case SF_SPIKES_BITPACKED: {
      if (value < -1 || value > 1) return sf_error(SF_ERR_VALUE, "bit-packed spikes are ternary; got %d", value);
      uint64_t bit = 1ull << (neuron & 63);
      int64_t w = f * s->words + (neuron >> 6);
      s->pos[w] &= ~bit; s->neg[w] &= ~bit;
      if (value > 0) s->pos[w] |= bit;
      if (value < 0) s->neg[w] |= bit;
      return SF_OK;
    }
    case SF_SPIKES_EVENTS:
      if (value == 0) return SF_OK;
      if (s->n_events && event_cmp(&s->events[s->n_events - 1], b, t, neuron) >= 0)
        return sf_error(SF_ERR_ARG, "events must be appended in (batch, time, neuron) order");
      return push_event(s, b, t, neuron, value);
  }
  return SF_OK;
}

sf_status sf_spikes_convert(sf_spike_tensor *dst, const sf_spike_tensor *src, sf_spike_form form) {
  sf_status st = sf_spikes_init(dst, src->batch, src->time, src->channels, src->height, src->width, form);
  if (st) return st;
  dst->dt = src->dt;
  int64_t n = sf_spikes_neurons(src);
  for (int64_t b = 0; b < src->batch; b++)
    for (int64_t t = 0; t < src->time; t++) {
      if (src->form == SF_SPIKES_EVENTS) continue;
      for (int64_t i = 0; i < n; i++) {
        int v = sf_spikes_get(src, b, t, i);
        if (v && (st = sf_spikes_set(dst, b, t, i, v))) { sf_spikes_free(dst); return st; }
      }
    }
  if (src->form == SF_SPIKES_EVENTS)
    for (int64_t k = 0; k < src->n_events; k++) {
      const sf_spike_event *e = &src->events[k];
      if ((st = sf_spikes_set(dst, e->b, e->t, e->neuron, e->value))) { sf_spikes_free(dst); return st; }
    }
  return SF_OK;
}

int64_t sf_spikes_count(const sf_spike_tensor *s) {
  if (s->form == SF_SPIKES_EVENTS) return s->n_events;
  int64_t c = 0, frames = s->batch * s->time;
  if (s->form == SF_SPIKES_DENSE) {
    int64_t total = frames * sf_spikes_neurons(s);
    for (int64_t i = 0; i < total; i++) c += s->dense[i] != 0;
  } else {
    for (int64_t i = 0; i < frames * s->words; i++) c += __builtin_popcountll(s->pos[i] | s->neg[i]);
  }
  return c;
}

int sf_spikes_equal(const sf_spike_tensor *a, const sf_spike_tensor *b) {
  if (a->batch != b->batch || a->time != b->time || sf_spikes_neurons(a) != sf_spikes_neurons(b)) return 0;
  int64_t n = sf_spikes_neurons(a);
  for (int64_t bb = 0; bb < a->batch; bb++)
    for (int64_t t = 0; t < a->time; t++)
      for (int64_t i = 0; i < n; i++)
        if (sf_spikes_get(a, bb, t, i) != sf_spikes_get(b, bb, t, i)) return 0;
  return 1;
}

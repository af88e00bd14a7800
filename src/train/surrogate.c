/* Surrogate gradients of the spike (train.h): g(z) in place of dH(z)/dz, z = u - j theta. */
#include <math.h>
#include <string.h>

#include "spikeformer/train.h"

static const char *const names[SF_SURROGATE_COUNT] = {"fast_sigmoid", "atan", "sigmoid", "triangle", "straight_through"};
static const float default_slopes[SF_SURROGATE_COUNT] = {25.0f, 2.0f, 25.0f, 1.0f, 1.0f};

const char *sf_surrogate_name(sf_surrogate s) { return (unsigned)s < SF_SURROGATE_COUNT ? names[s] : "?"; }
float sf_surrogate_default_slope(sf_surrogate s) { return (unsigned)s < SF_SURROGATE_COUNT ? default_slopes[s] : 1.0f; }

int sf_surrogate_parse(const char *name, sf_surrogate *out) {
  for (int i = 0; name && i < SF_SURROGATE_COUNT; i++)
    if (!strcmp(name, names[i])) {
      *out = (sf_surrogate)i;
      return 0;
    }
  return -1;
}

float sf_surrogate_grad(sf_surrogate s, float k, float z) {
  switch (s) {
    case SF_SURROGATE_FAST_SIGMOID: {
      const float d = 1.0f + k * fabsf(z);
      return 1.0f / (d * d);
    }
    case SF_SURROGATE_ATAN: {
      const float a = 1.57079632679f * k * z; /* pi / 2 k z */
      return (k / 2.0f) / (1.0f + a * a);
    }
    case SF_SURROGATE_SIGMOID: {
      /* k e^(-kz) / (1 + e^(-kz))^2, even in z: from e = e^(-k |z|) <= 1, no overflow and no
       * cancellation in the tails */
      const float e = expf(-k * fabsf(z)), d = 1.0f + e;
      return k * e / (d * d);
    }
    case SF_SURROGATE_TRIANGLE: {
      const float g = k - k * k * fabsf(z);
      return g > 0.0f ? g : 0.0f;
    }
    case SF_SURROGATE_STRAIGHT_THROUGH: return 1.0f;
    default: return 0.0f;
  }
}

/* The surrogate g(z) as an inline function, for loops that fix its kind where they are compiled
 * (train_kernels.c, site_kernels.c): the same formulas as sf_surrogate_grad (surrogate.c). */
#ifndef SF_TRAIN_SURROGATE_INLINE_H
#define SF_TRAIN_SURROGATE_INLINE_H
#include <math.h>

#include "spikeformer/train.h"

/* g(z), the surrogate, for a kind known where it is inlined */
static inline __attribute__((always_inline)) float surrogate(int kind, float s, float z) {
  switch (kind) {
    case SF_SURROGATE_FAST_SIGMOID: {
      const float d = 1.0f + s * fabsf(z);
      return 1.0f / (d * d);
    }
    case SF_SURROGATE_ATAN: {
      const float a = 1.57079632679f * s * z;
      return (0.5f * s) / (1.0f + a * a);
    }
    case SF_SURROGATE_SIGMOID: {
      const float e = expf(-s * fabsf(z)), d = 1.0f + e; /* even in z, no cancellation */
      return s * e / (d * d);
    }
    case SF_SURROGATE_TRIANGLE: {
      const float g = s - s * s * fabsf(z);
      return g > 0.0f ? g : 0.0f;
    }
    default: return 1.0f;
  }
}

#endif

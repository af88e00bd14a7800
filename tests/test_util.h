/* Shared helpers for the C tests. */
#ifndef SF_TEST_UTIL_H
#define SF_TEST_UTIL_H
#include <math.h>
#include <stdio.h>

#include "spikeformer/spikeformer.h"

/* max |a - b| over two float32 tensors of the same shape (INFINITY if shapes differ) */
static inline double tu_max_abs_diff(const sf_tensor *a, const sf_tensor *b) {
  if (!sf_tensor_same_shape(a, b)) return INFINITY;
  double m = 0;
  for (int64_t i = 0; i < sf_tensor_numel(a); i++) {
    double d = fabs(sf_tensor_get_f(a, i) - sf_tensor_get_f(b, i));
    if (d > m || isnan(d)) m = isnan(d) ? INFINITY : d;
  }
  return m;
}

#define TU_PATH(buf, rel) snprintf(buf, sizeof buf, "%s/%s", SF_SOURCE_DIR, rel)

#endif

/* Data augmentation (augment.h). */
#include "train/augment.h"

#include <stdlib.h>
#include <string.h>

int augment_parse(const char *s) {
  if (!strcmp(s, "none")) return 0;
  if (!strcmp(s, "shift")) return AUGMENT_SHIFT;
  if (!strcmp(s, "flip")) return AUGMENT_FLIP;
  if (!strcmp(s, "shift,flip") || !strcmp(s, "flip,shift")) return AUGMENT_SHIFT | AUGMENT_FLIP;
  return -1;
}

const char *augment_name(int flags) {
  static const char *const names[4] = {"none", "shift", "flip", "shift,flip"};
  return names[flags & 3];
}

void augment_images(float *x, int64_t B, int64_t c, int64_t h, int64_t w, int flags, int pad, sf_rng *rng) {
  if (!flags) return;
  float *tmp = malloc(sizeof(float) * (size_t)(h * w));
  if (!tmp) return;
  for (int64_t b = 0; b < B; b++) {
    /* (drawn in the same order whatever is enabled, so that a flag does not change the other's draws) */
    const int dx = (int)sf_rng_below(rng, (uint64_t)(2 * pad + 1)) - pad, dy = (int)sf_rng_below(rng, (uint64_t)(2 * pad + 1)) - pad;
    const int flip = sf_rng_uniform(rng) < 0.5;
    for (int64_t ch = 0; ch < c; ch++) {
      float *img = x + (b * c + ch) * h * w;
      memcpy(tmp, img, sizeof(float) * (size_t)(h * w));
      for (int64_t i = 0; i < h; i++)
        for (int64_t j = 0; j < w; j++) {
          /* output (i, j) reads input (i + dy, j + dx) of the (flipped) image, zero outside */
          int64_t si = i, sj = j;
          if (flags & AUGMENT_SHIFT) { si += dy; sj += dx; }
          float v = 0.0f;
          if (si >= 0 && si < h && sj >= 0 && sj < w) v = tmp[si * w + ((flags & AUGMENT_FLIP) && flip ? w - 1 - sj : sj)];
          img[i * w + j] = v;
        }
    }
  }
  free(tmp);
}

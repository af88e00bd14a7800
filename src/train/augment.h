/* Data augmentation for training on images: the transforms the shipped models were trained with
 * (models/common.py): a random translation by up to `pad` pixels each way with zero padding (a
 * random crop of the padded image) and a horizontal flip with probability 1/2, drawn per image from
 * the run's random stream. x [B, c, h, w] is changed in place. */
#ifndef SF_TRAIN_AUGMENT_H
#define SF_TRAIN_AUGMENT_H
#include <stdint.h>

#include "spikeformer/rng.h"

enum { AUGMENT_SHIFT = 1, AUGMENT_FLIP = 2 };

/* "none", "shift", "flip", "shift,flip" (either order) -> flags; -1 if not one of them */
int augment_parse(const char *s);
const char *augment_name(int flags);
void augment_images(float *x, int64_t B, int64_t c, int64_t h, int64_t w, int flags, int pad, sf_rng *rng);

#endif

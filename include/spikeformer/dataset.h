/* Dataset processors: labelled image sets from IDX (MNIST / Fashion-MNIST layout, gzip or raw) or
 * NPY files, as float32 [N, C, H, W] = pixel / 255 and int32 labels, with batching.
 * A data DIR holds either
 *   IDX: train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-..., t10k-labels-...
 *   NPY: x_train.npy, y_train.npy, x_test.npy, y_test.npy (x float32 [N,C,H,W] or uint8 [N,H,W]) */
#ifndef SPIKEFORMER_DATASET_H
#define SPIKEFORMER_DATASET_H
#include "spikeformer/export.h"
#include <stdint.h>

#include "spikeformer/tensor.h"
#ifdef __cplusplus
extern "C" {
#endif

#define SF_DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist"

typedef enum { SF_SPLIT_TRAIN = 0, SF_SPLIT_TEST = 1 } sf_split;

typedef struct {
  int64_t n;              /* samples */
  int64_t c, h, w;        /* sample shape */
  float *x;               /* [n, c, h, w] */
  int32_t *labels;        /* [n] */
  int32_t n_classes;      /* max label + 1 */
  char *source;           /* files it came from */
} sf_dataset;

/* Load a split from DIR; limit > 0 keeps only the first `limit` samples. */
SF_API sf_status sf_dataset_load(const char *dir, sf_split split, int64_t limit, sf_dataset *out);
SF_API void sf_dataset_free(sf_dataset *d);
/* A view (no copy) of samples [start, start+count) as [count, c, h, w]. */
SF_API sf_tensor sf_dataset_batch(const sf_dataset *d, int64_t start, int64_t count);

/* IDX files directly */
SF_API sf_status sf_idx_read_images(const char *path, int64_t limit, float **x, int64_t *n, int64_t *h, int64_t *w);
SF_API sf_status sf_idx_read_labels(const char *path, int64_t limit, int32_t **labels, int64_t *n);

#ifdef __cplusplus
}
#endif
#endif

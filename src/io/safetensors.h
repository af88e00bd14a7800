/* Hugging Face safetensors files (single file or sharded with model.safetensors.index.json). */
#ifndef SF_IO_SAFETENSORS_H
#define SF_IO_SAFETENSORS_H
#include "spikeformer/tensor.h"

typedef struct sf_st_entry {
  char *name;
  char *file;       /* which file holds it */
  sf_tensor t;      /* converted to float32 (F16/BF16 widened), or int64 */
} sf_st_entry;

typedef struct {
  sf_st_entry *e;
  int n;
} sf_safetensors;

/* Load every tensor of a model directory (model.safetensors or the shards of its index). */
sf_status sf_safetensors_load_dir(const char *dir, sf_safetensors *out);
/* Parse one safetensors buffer (name for messages); appends to out. */
sf_status sf_safetensors_parse(const void *data, size_t size, const char *name, sf_safetensors *out);
/* Find by exact name; NULL if absent. */
sf_st_entry *sf_safetensors_find(sf_safetensors *s, const char *name);
void sf_safetensors_free(sf_safetensors *s);
/* Serialise n float32 tensors (named) as one safetensors buffer: the 8-byte header length, the
 * JSON header (padded with spaces to 8 bytes), the data in the given order. Caller frees *out. */
sf_status sf_safetensors_serialize(int n, const char *const *names, const sf_tensor *tensors, unsigned char **out, size_t *len);

#endif

/* A NIR graph in memory and its HDF5 form (NIR 1.0: root dataset "version", group "node" = the
 * top graph: "type" = "NIRGraph", "nodes/<name>/" one group per node with a "type" dataset and one
 * dataset per field, "edges" (E, 2) strings, optional "metadata/" groups; graphs nest). libhdf5
 * reads and writes it; nothing here knows what a node means (nir_export.c, nir_import.c). */
#ifndef SF_IO_NIR_H5_H
#define SF_IO_NIR_H5_H
#include <stdint.h>

#include "spikeformer/status.h"

#define NIR_MAX_DIMS 8

typedef enum { NIR_F32, NIR_F64, NIR_I64, NIR_STR } nir_dtype;

/* A dataset: numbers (read: any numeric type, as doubles in d; written from f, d or i by dtype) or strings. */
typedef struct {
  char *key;
  nir_dtype dt;
  int ndim;                    /* 0: a scalar */
  int64_t shape[NIR_MAX_DIMS];
  int64_t n;                   /* elements */
  double *d;
  float *f;
  int64_t *i;
  char **s;
} nir_field;

typedef struct nir_graph nir_graph;

typedef struct {
  char *name, *type;
  nir_field *fields;
  int n_fields;
  nir_field *meta;             /* the node's metadata group */
  int n_meta;
  nir_graph *sub;              /* type NIRGraph */
} nir_node;

struct nir_graph {
  nir_node *nodes;
  int n_nodes;
  char **edges;                /* 2 per edge: source, destination */
  int n_edges;
  nir_field *meta;
  int n_meta;
};

void nir_graph_free(nir_graph *g);
void nir_field_free(nir_field *f);

/* Building (export). Each returns the new item or NULL when out of memory. */
nir_node *nir_add_node(nir_graph *g, const char *name, const char *type);
int nir_add_edge(nir_graph *g, const char *src, const char *dst);      /* 0, or -1 out of memory */
/* fields: copies of the data */
nir_field *nir_set_f32(nir_field **fs, int *n, const char *key, int ndim, const int64_t *shape, const float *data);
nir_field *nir_set_i64(nir_field **fs, int *n, const char *key, int ndim, const int64_t *shape, const int64_t *data);
nir_field *nir_set_f64(nir_field **fs, int *n, const char *key, double v);
nir_field *nir_set_str(nir_field **fs, int *n, const char *key, const char *v);
const nir_field *nir_get(const nir_field *fs, int n, const char *key);

/* Write the graph as a NIR file (atomically: an HDF5 image in memory, then one rename). */
sf_status nir_h5_write(const char *path, const nir_graph *g, const char *version);
/* Read a NIR file; *version receives the root "version" string (NULL if absent). Errors name the
 * file, the group (node) and the dataset (field). */
sf_status nir_h5_read(const char *path, nir_graph **out, char **version);

#endif

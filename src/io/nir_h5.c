/* NIR graphs to and from HDF5 through libhdf5 (nir_h5.h). */
#include "io/nir_h5.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

/* ---------------- the in-memory graph ---------------- */

void nir_field_free(nir_field *f) {
  if (!f) return;
  free(f->key);
  free(f->d);
  free(f->f);
  free(f->i);
  if (f->s)
    for (int64_t k = 0; k < f->n; k++) free(f->s[k]);
  free(f->s);
  memset(f, 0, sizeof *f);
}

static void fields_free(nir_field *fs, int n) {
  for (int i = 0; i < n; i++) nir_field_free(&fs[i]);
  free(fs);
}

void nir_graph_free(nir_graph *g) {
  if (!g) return;
  for (int i = 0; i < g->n_nodes; i++) {
    nir_node *nd = &g->nodes[i];
    free(nd->name);
    free(nd->type);
    fields_free(nd->fields, nd->n_fields);
    fields_free(nd->meta, nd->n_meta);
    nir_graph_free(nd->sub);
  }
  free(g->nodes);
  for (int i = 0; i < 2 * g->n_edges; i++) free(g->edges[i]);
  free(g->edges);
  fields_free(g->meta, g->n_meta);
  free(g);
}

nir_node *nir_add_node(nir_graph *g, const char *name, const char *type) {
  nir_node *nn = realloc(g->nodes, sizeof *nn * (size_t)(g->n_nodes + 1));
  if (!nn) return NULL;
  g->nodes = nn;
  nir_node *nd = &g->nodes[g->n_nodes];
  memset(nd, 0, sizeof *nd);
  nd->name = sf_strdup(name);
  nd->type = sf_strdup(type);
  if (!nd->name || !nd->type) { free(nd->name); free(nd->type); return NULL; }
  g->n_nodes++;
  return nd;
}

int nir_add_edge(nir_graph *g, const char *src, const char *dst) {
  char **ne = realloc(g->edges, sizeof *ne * (size_t)(2 * g->n_edges + 2));
  if (!ne) return -1;
  g->edges = ne;
  ne[2 * g->n_edges] = sf_strdup(src);
  ne[2 * g->n_edges + 1] = sf_strdup(dst);
  if (!ne[2 * g->n_edges] || !ne[2 * g->n_edges + 1]) { free(ne[2 * g->n_edges]); free(ne[2 * g->n_edges + 1]); return -1; }
  g->n_edges++;
  return 0;
}

static nir_field *new_field(nir_field **fs, int *n, const char *key, nir_dtype dt, int ndim, const int64_t *shape) {
  nir_field *nf = realloc(*fs, sizeof *nf * (size_t)(*n + 1));
  if (!nf) return NULL;
  *fs = nf;
  nir_field *f = &nf[*n];
  memset(f, 0, sizeof *f);
  f->key = sf_strdup(key);
  if (!f->key) return NULL;
  f->dt = dt;
  f->ndim = ndim;
  f->n = 1;
  for (int d = 0; d < ndim; d++) { f->shape[d] = shape[d]; f->n *= shape[d]; }
  (*n)++;
  return f;
}

nir_field *nir_set_f32(nir_field **fs, int *n, const char *key, int ndim, const int64_t *shape, const float *data) {
  nir_field *f = new_field(fs, n, key, NIR_F32, ndim, shape);
  if (!f || !(f->f = malloc(sizeof(float) * (size_t)(f->n ? f->n : 1)))) return NULL;
  memcpy(f->f, data, sizeof(float) * (size_t)f->n);
  return f;
}

nir_field *nir_set_i64(nir_field **fs, int *n, const char *key, int ndim, const int64_t *shape, const int64_t *data) {
  nir_field *f = new_field(fs, n, key, NIR_I64, ndim, shape);
  if (!f || !(f->i = malloc(sizeof(int64_t) * (size_t)(f->n ? f->n : 1)))) return NULL;
  memcpy(f->i, data, sizeof(int64_t) * (size_t)f->n);
  return f;
}

nir_field *nir_set_f64(nir_field **fs, int *n, const char *key, double v) {
  nir_field *f = new_field(fs, n, key, NIR_F64, 0, NULL);
  if (!f || !(f->d = malloc(sizeof(double)))) return NULL;
  f->d[0] = v;
  return f;
}

nir_field *nir_set_str(nir_field **fs, int *n, const char *key, const char *v) {
  nir_field *f = new_field(fs, n, key, NIR_STR, 0, NULL);
  if (!f || !(f->s = calloc(1, sizeof(char *))) || !(f->s[0] = sf_strdup(v))) return NULL;
  return f;
}

const nir_field *nir_get(const nir_field *fs, int n, const char *key) {
  for (int i = 0; i < n; i++)
    if (!strcmp(fs[i].key, key)) return &fs[i];
  return NULL;
}

/* ---------------- writing ---------------- */

static hid_t str_type(void) {
  hid_t t = H5Tcopy(H5T_C_S1);
  if (t < 0) return t;
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

static int write_strings(hid_t grp, const char *key, int ndim, const hsize_t *dims, const char *const *v) {
  hid_t t = str_type(), sp = ndim ? H5Screate_simple(ndim, dims, NULL) : H5Screate(H5S_SCALAR);
  hid_t ds = t >= 0 && sp >= 0 ? H5Dcreate2(grp, key, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
  int bad = ds < 0 || H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0;
  if (ds >= 0) H5Dclose(ds);
  if (sp >= 0) H5Sclose(sp);
  if (t >= 0) H5Tclose(t);
  return bad ? -1 : 0;
}

static int write_field(hid_t grp, const nir_field *f) {
  hsize_t dims[NIR_MAX_DIMS];
  for (int d = 0; d < f->ndim; d++) dims[d] = (hsize_t)f->shape[d];
  if (f->dt == NIR_STR) return write_strings(grp, f->key, f->ndim, dims, (const char *const *)f->s);
  hid_t ft = f->dt == NIR_F32 ? H5T_IEEE_F32LE : f->dt == NIR_F64 ? H5T_IEEE_F64LE : H5T_STD_I64LE;
  hid_t mt = f->dt == NIR_F32 ? H5T_NATIVE_FLOAT : f->dt == NIR_F64 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64;
  const void *data = f->dt == NIR_F32 ? (const void *)f->f : f->dt == NIR_F64 ? (const void *)f->d : (const void *)f->i;
  hid_t sp = f->ndim ? H5Screate_simple(f->ndim, dims, NULL) : H5Screate(H5S_SCALAR);
  hid_t ds = sp >= 0 ? H5Dcreate2(grp, f->key, ft, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
  int bad = ds < 0 || (f->n > 0 && H5Dwrite(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0);
  if (ds >= 0) H5Dclose(ds);
  if (sp >= 0) H5Sclose(sp);
  return bad ? -1 : 0;
}

static int write_fields(hid_t grp, const nir_field *fs, int n, const char *group_name) {
  if (group_name) {
    if (!n) return 0;
    hid_t g = H5Gcreate2(grp, group_name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return -1;
    int r = write_fields(g, fs, n, NULL);
    H5Gclose(g);
    return r;
  }
  for (int i = 0; i < n; i++)
    if (write_field(grp, &fs[i])) return -1;
  return 0;
}

static int write_graph(hid_t grp, const nir_graph *g) {
  const char *type = "NIRGraph";
  if (write_strings(grp, "type", 0, NULL, &type)) return -1;
  hid_t nodes = H5Gcreate2(grp, "nodes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (nodes < 0) return -1;
  int bad = 0;
  for (int i = 0; i < g->n_nodes && !bad; i++) {
    const nir_node *nd = &g->nodes[i];
    hid_t ng = H5Gcreate2(nodes, nd->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (ng < 0) { bad = 1; break; }
    if (nd->sub) bad = write_graph(ng, nd->sub) != 0;
    else {
      const char *t = nd->type;
      bad = write_strings(ng, "type", 0, NULL, &t) || write_fields(ng, nd->fields, nd->n_fields, NULL);
    }
    if (!bad) bad = write_fields(ng, nd->meta, nd->n_meta, "metadata") != 0;
    H5Gclose(ng);
  }
  H5Gclose(nodes);
  if (bad) return -1;
  hsize_t dims[2] = {(hsize_t)g->n_edges, 2};
  const char *none = "";
  if (write_strings(grp, "edges", 2, dims, g->n_edges ? (const char *const *)g->edges : &none)) return -1;
  return write_fields(grp, g->meta, g->n_meta, "metadata");
}

sf_status nir_h5_write(const char *path, const nir_graph *g, const char *version) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  /* the whole file as an image in memory (core driver, no backing store), then written atomically */
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl < 0 || H5Pset_fapl_core(fapl, 1 << 20, 0) < 0) {
    if (fapl >= 0) H5Pclose(fapl);
    return sf_error(SF_ERR_INTERNAL, "%s: libhdf5 cannot make an in-memory file", path);
  }
  hid_t f = H5Fcreate("spikeformer-nir-image", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (f < 0) return sf_error(SF_ERR_INTERNAL, "%s: libhdf5 cannot create a file", path);
  int bad = write_strings(f, "version", 0, NULL, &version);
  hid_t node = bad ? -1 : H5Gcreate2(f, "node", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (node < 0) bad = 1;
  else {
    bad = write_graph(node, g);
    H5Gclose(node);
  }
  unsigned char *img = NULL;
  ssize_t n = -1;
  if (!bad && H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0 && (n = H5Fget_file_image(f, NULL, 0)) > 0 && (img = malloc((size_t)n)))
    n = H5Fget_file_image(f, img, (size_t)n);
  H5Fclose(f);
  if (bad || n <= 0 || !img) {
    free(img);
    return bad ? sf_error(SF_ERR_INTERNAL, "%s: libhdf5 failed to write the NIR graph", path) : sf_error(SF_ERR_NOMEM, "out of memory writing %s", path);
  }
  sf_status st = sf_write_file_atomic(path, img, (size_t)n);
  free(img);
  return st;
}

/* ---------------- reading ---------------- */

typedef struct {
  const char *path;
  char where[512];   /* the group being read, for messages ("node 'fc1'") */
  sf_status st;
} rctx;

static sf_status rfail(rctx *c, sf_status code, const char *field, const char *what) {
  if (!c->st) c->st = sf_error(code, "%s: %s: field '%s': %s", c->path, c->where, field, what);
  return c->st;
}

/* Read a dataset of strings or numbers into f. */
static sf_status read_dataset(rctx *c, hid_t grp, const char *key, nir_field *f) {
  memset(f, 0, sizeof *f);
  f->key = sf_strdup(key);
  if (!f->key) return rfail(c, SF_ERR_NOMEM, key, "out of memory");
  hid_t ds = H5Dopen2(grp, key, H5P_DEFAULT);
  if (ds < 0) return rfail(c, SF_ERR_FORMAT, key, "cannot be opened (truncated or damaged file)");
  hid_t t = H5Dget_type(ds), sp = H5Dget_space(ds);
  sf_status st = SF_OK;
  int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
  hsize_t dims[NIR_MAX_DIMS];
  if (t < 0 || nd < 0 || nd > NIR_MAX_DIMS) { st = rfail(c, SF_ERR_FORMAT, key, "unreadable shape (truncated or damaged file)"); goto done; }
  H5Sget_simple_extent_dims(sp, dims, NULL);
  f->ndim = nd;
  f->n = 1;
  for (int d = 0; d < nd; d++) {
    f->shape[d] = (int64_t)dims[d];
    if (dims[d] > ((hsize_t)1 << 31) || (f->n *= (int64_t)dims[d]) > ((int64_t)1 << 31)) { st = rfail(c, SF_ERR_FORMAT, key, "more than 2^31 elements"); goto done; }
  }
  H5T_class_t cls = H5Tget_class(t);
  if (cls == H5T_STRING) {
    f->dt = NIR_STR;
    if (!(f->s = calloc((size_t)(f->n ? f->n : 1), sizeof(char *)))) { st = rfail(c, SF_ERR_NOMEM, key, "out of memory"); goto done; }
    if (H5Tis_variable_str(t) > 0) {
      hid_t mt = H5Tcopy(H5T_C_S1);
      H5Tset_size(mt, H5T_VARIABLE);
      H5Tset_cset(mt, H5Tget_cset(t));
      char **buf = calloc((size_t)(f->n ? f->n : 1), sizeof(char *));
      if (!buf || (f->n && H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)) {
        free(buf);
        H5Tclose(mt);
        st = rfail(c, buf ? SF_ERR_FORMAT : SF_ERR_NOMEM, key, buf ? "cannot be read (truncated or damaged file)" : "out of memory");
        goto done;
      }
      for (int64_t k = 0; k < f->n; k++) f->s[k] = sf_strdup(buf[k] ? buf[k] : "");
      if (f->n) H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, buf);
      free(buf);
      H5Tclose(mt);
    } else {
      size_t w = H5Tget_size(t);
      hid_t mt = H5Tcopy(t);
      char *buf = malloc(w * (size_t)(f->n ? f->n : 1) + 1);
      if (!buf || w == 0 || (f->n && H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)) {
        free(buf);
        H5Tclose(mt);
        st = rfail(c, SF_ERR_FORMAT, key, "cannot be read (truncated or damaged file)");
        goto done;
      }
      for (int64_t k = 0; k < f->n; k++) {
        size_t len = 0;
        while (len < w && buf[k * (int64_t)w + (int64_t)len]) len++;
        f->s[k] = strndup(buf + k * (int64_t)w, len);
      }
      free(buf);
      H5Tclose(mt);
    }
    for (int64_t k = 0; k < f->n; k++)
      if (!f->s[k]) { st = rfail(c, SF_ERR_NOMEM, key, "out of memory"); goto done; }
  } else if (cls == H5T_INTEGER || cls == H5T_FLOAT) {
    f->dt = cls == H5T_INTEGER ? NIR_I64 : NIR_F64;
    if (!(f->d = malloc(sizeof(double) * (size_t)(f->n ? f->n : 1)))) { st = rfail(c, SF_ERR_NOMEM, key, "out of memory"); goto done; }
    if (f->n && H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, f->d) < 0) { st = rfail(c, SF_ERR_FORMAT, key, "cannot be read (truncated or damaged file)"); goto done; }
  } else {
    st = rfail(c, SF_ERR_FORMAT, key, "is neither numbers nor text (unsupported HDF5 type)");
  }
done:
  if (sp >= 0) H5Sclose(sp);
  if (t >= 0) H5Tclose(t);
  H5Dclose(ds);
  return st;
}

typedef struct { char **names; int n; int err; } namelist;

static herr_t collect(hid_t grp, const char *name, const H5L_info_t *info, void *user) {
  (void)grp; (void)info;
  namelist *l = user;
  char **nn = realloc(l->names, sizeof *nn * (size_t)(l->n + 1));
  if (!nn || !(nn[l->n] = sf_strdup(name))) { if (nn) l->names = nn; l->err = 1; return -1; }
  l->names = nn;
  l->n++;
  return 0;
}

static void names_free(namelist *l) {
  for (int i = 0; i < l->n; i++) free(l->names[i]);
  free(l->names);
}

/* 1 group, 0 dataset, -1 neither / error */
static int kind_of(hid_t grp, const char *name) {
  H5O_info_t oi;
  if (H5Oget_info_by_name(grp, name, &oi, H5P_DEFAULT) < 0) return -1;
  return oi.type == H5O_TYPE_GROUP ? 1 : oi.type == H5O_TYPE_DATASET ? 0 : -1;
}

static sf_status list_group(rctx *c, hid_t grp, const char *what, namelist *l) {
  memset(l, 0, sizeof *l);
  hsize_t idx = 0;
  if (H5Literate(grp, H5_INDEX_NAME, H5_ITER_INC, &idx, collect, l) < 0 || l->err) {
    names_free(l);
    memset(l, 0, sizeof *l);
    return rfail(c, SF_ERR_FORMAT, what, "its members cannot be listed (truncated or damaged file)");
  }
  return SF_OK;
}

/* The datasets of a group as fields (a "metadata" group's). */
static sf_status read_meta(rctx *c, hid_t grp, nir_field **fs, int *n) {
  namelist l;
  if (list_group(c, grp, "metadata", &l)) return c->st;
  for (int i = 0; i < l.n && !c->st; i++) {
    if (kind_of(grp, l.names[i]) != 0) continue; /* nested metadata groups: not ours to read */
    nir_field *nf = realloc(*fs, sizeof *nf * (size_t)(*n + 1));
    if (!nf) { rfail(c, SF_ERR_NOMEM, l.names[i], "out of memory"); break; }
    *fs = nf;
    (*n)++;
    read_dataset(c, grp, l.names[i], &nf[*n - 1]);
  }
  names_free(&l);
  return c->st;
}

static sf_status read_type(rctx *c, hid_t grp, char **type) {
  if (H5Lexists(grp, "type", H5P_DEFAULT) <= 0) return rfail(c, SF_ERR_FORMAT, "type", "missing");
  nir_field f;
  sf_status st = read_dataset(c, grp, "type", &f);
  if (!st && (f.dt != NIR_STR || f.n != 1)) st = rfail(c, SF_ERR_FORMAT, "type", "is not one string");
  if (!st && !(*type = sf_strdup(f.s[0]))) st = rfail(c, SF_ERR_NOMEM, "type", "out of memory");
  nir_field_free(&f);
  return st;
}

static sf_status read_graph(rctx *c, hid_t grp, nir_graph *g, const char *prefix, int depth);

static sf_status read_node(rctx *c, hid_t grp, nir_node *nd, const char *full, int depth) {
  snprintf(c->where, sizeof c->where, "node '%.400s'", full);
  if (read_type(c, grp, &nd->type)) return c->st;
  if (!strcmp(nd->type, "NIRGraph")) {
    if (depth > 16) return rfail(c, SF_ERR_FORMAT, "nodes", "graphs nested more than 16 deep");
    if (!(nd->sub = calloc(1, sizeof *nd->sub))) return rfail(c, SF_ERR_NOMEM, "nodes", "out of memory");
    char pre[512];
    snprintf(pre, sizeof pre, "%.400s.", full);
    return read_graph(c, grp, nd->sub, pre, depth + 1);
  }
  namelist l;
  if (list_group(c, grp, "(node group)", &l)) return c->st;
  for (int i = 0; i < l.n && !c->st; i++) {
    const char *k = l.names[i];
    int kind = kind_of(grp, k);
    if (!strcmp(k, "type")) continue;
    if (kind == 1 && !strcmp(k, "metadata")) {
      hid_t mg = H5Gopen2(grp, k, H5P_DEFAULT);
      if (mg < 0) { rfail(c, SF_ERR_FORMAT, k, "cannot be opened"); break; }
      read_meta(c, mg, &nd->meta, &nd->n_meta);
      H5Gclose(mg);
      snprintf(c->where, sizeof c->where, "node '%.400s'", full);
      continue;
    }
    if (kind != 0) continue;
    nir_field *nf = realloc(nd->fields, sizeof *nf * (size_t)(nd->n_fields + 1));
    if (!nf) { rfail(c, SF_ERR_NOMEM, k, "out of memory"); break; }
    nd->fields = nf;
    nd->n_fields++;
    read_dataset(c, grp, k, &nf[nd->n_fields - 1]);
  }
  names_free(&l);
  return c->st;
}

static sf_status read_graph(rctx *c, hid_t grp, nir_graph *g, const char *prefix, int depth) {
  char self[512];
  snprintf(self, sizeof self, "%s", *prefix ? prefix : "(top graph)");
  if (*prefix) self[strlen(self) - 1] = 0;
  snprintf(c->where, sizeof c->where, "graph '%.400s'", self);
  char *type = NULL;
  if (read_type(c, grp, &type)) return c->st;
  int isg = !strcmp(type, "NIRGraph");
  free(type);
  if (!isg) return rfail(c, SF_ERR_FORMAT, "type", "is not \"NIRGraph\"");
  if (H5Lexists(grp, "nodes", H5P_DEFAULT) <= 0 || kind_of(grp, "nodes") != 1) return rfail(c, SF_ERR_FORMAT, "nodes", "missing (a graph needs a 'nodes' group)");
  if (H5Lexists(grp, "edges", H5P_DEFAULT) <= 0) return rfail(c, SF_ERR_FORMAT, "edges", "missing");
  nir_field ef;
  if (read_dataset(c, grp, "edges", &ef)) { nir_field_free(&ef); return c->st; }
  if (ef.n > 0 && (ef.dt != NIR_STR || ef.ndim != 2 || ef.shape[1] != 2)) {
    nir_field_free(&ef);
    return rfail(c, SF_ERR_FORMAT, "edges", "must be an (E, 2) array of node names");
  }
  g->n_edges = (int)(ef.n / 2);
  g->edges = ef.s;
  ef.s = NULL;
  nir_field_free(&ef);
  if (H5Lexists(grp, "metadata", H5P_DEFAULT) > 0 && kind_of(grp, "metadata") == 1) {
    hid_t mg = H5Gopen2(grp, "metadata", H5P_DEFAULT);
    if (mg >= 0) { read_meta(c, mg, &g->meta, &g->n_meta); H5Gclose(mg); }
    if (c->st) return c->st;
  }
  hid_t ng = H5Gopen2(grp, "nodes", H5P_DEFAULT);
  if (ng < 0) return rfail(c, SF_ERR_FORMAT, "nodes", "cannot be opened (truncated or damaged file)");
  namelist l;
  if (list_group(c, ng, "nodes", &l)) { H5Gclose(ng); return c->st; }
  if (!(g->nodes = calloc((size_t)(l.n ? l.n : 1), sizeof *g->nodes))) rfail(c, SF_ERR_NOMEM, "nodes", "out of memory");
  for (int i = 0; i < l.n && !c->st; i++) {
    nir_node *nd = &g->nodes[g->n_nodes++];
    char full[512];
    snprintf(full, sizeof full, "%.200s%.200s", prefix, l.names[i]);
    if (!(nd->name = sf_strdup(l.names[i]))) { rfail(c, SF_ERR_NOMEM, "nodes", "out of memory"); break; }
    if (kind_of(ng, l.names[i]) != 1) {
      snprintf(c->where, sizeof c->where, "node '%.400s'", full);
      rfail(c, SF_ERR_FORMAT, "(node)", "is not a group");
      break;
    }
    hid_t one = H5Gopen2(ng, l.names[i], H5P_DEFAULT);
    if (one < 0) {
      snprintf(c->where, sizeof c->where, "node '%.400s'", full);
      rfail(c, SF_ERR_FORMAT, "(node)", "cannot be opened (truncated or damaged file)");
      break;
    }
    read_node(c, one, nd, full, depth);
    H5Gclose(one);
  }
  names_free(&l);
  H5Gclose(ng);
  return c->st;
}

sf_status nir_h5_read(const char *path, nir_graph **out, char **version) {
  *out = NULL;
  if (version) *version = NULL;
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  if (!sf_file_exists(path)) return sf_error(SF_ERR_IO, "%s: no such file", path);
  htri_t is = H5Fis_hdf5(path);
  if (is <= 0) return sf_error(SF_ERR_FORMAT, "%s: not an HDF5 file (a NIR file is HDF5): wrong signature, truncated or damaged", path);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return sf_error(SF_ERR_FORMAT, "%s: libhdf5 cannot open it: truncated or damaged HDF5 file", path);
  rctx c = {path, "(file)", SF_OK};
  nir_graph *g = calloc(1, sizeof *g);
  if (!g) { H5Fclose(f); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  if (version && H5Lexists(f, "version", H5P_DEFAULT) > 0) {
    nir_field vf;
    snprintf(c.where, sizeof c.where, "root");
    if (!read_dataset(&c, f, "version", &vf) && vf.dt == NIR_STR && vf.n == 1) *version = sf_strdup(vf.s[0]);
    nir_field_free(&vf);
  }
  if (!c.st && (H5Lexists(f, "node", H5P_DEFAULT) <= 0 || kind_of(f, "node") != 1)) {
    snprintf(c.where, sizeof c.where, "root");
    rfail(&c, SF_ERR_FORMAT, "node", "missing: not a NIR file (NIR keeps its graph in the group 'node')");
  }
  if (!c.st) {
    hid_t ng = H5Gopen2(f, "node", H5P_DEFAULT);
    if (ng < 0) { snprintf(c.where, sizeof c.where, "root"); rfail(&c, SF_ERR_FORMAT, "node", "cannot be opened (truncated or damaged file)"); }
    else {
      read_graph(&c, ng, g, "", 0);
      H5Gclose(ng);
    }
  }
  H5Fclose(f);
  if (c.st) {
    nir_graph_free(g);
    if (version) { free(*version); *version = NULL; }
    return c.st;
  }
  *out = g;
  return SF_OK;
}

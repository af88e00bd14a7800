#include "graph/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fault.h"
#include "core/util.h"
#include "spikeformer/log.h"

static uint64_t str_hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static int hash_rebuild(sf_graph *g, int cap) {
  int *h = malloc(sizeof(int) * (size_t)cap);
  if (!h) return -1;
  for (int i = 0; i < cap; i++) h[i] = -1;
  for (int v = 0; v < g->n_values; v++) {
    uint64_t k = str_hash(g->values[v].name) & (uint64_t)(cap - 1);
    while (h[k] >= 0) k = (k + 1) & (uint64_t)(cap - 1);
    h[k] = v;
  }
  free(g->hash);
  g->hash = h;
  g->hash_cap = cap;
  return 0;
}

sf_graph *sf_graph_new(void) {
  sf_graph *g = calloc(1, sizeof *g);
  if (!g) return NULL;
  if (hash_rebuild(g, 64)) { free(g); return NULL; }
  g->format = sf_strdup("");
  g->producer = sf_strdup("");
  g->architecture = sf_strdup("");
  g->source = sf_strdup("");
  return g;
}

int sf_graph_find_value(const sf_graph *g, const char *name) {
  uint64_t k = str_hash(name) & (uint64_t)(g->hash_cap - 1);
  while (g->hash[k] >= 0) {
    if (strcmp(g->values[g->hash[k]].name, name) == 0) return g->hash[k];
    k = (k + 1) & (uint64_t)(g->hash_cap - 1);
  }
  return -1;
}

int sf_graph_value(sf_graph *g, const char *name) {
  int v = sf_graph_find_value(g, name);
  if (v >= 0) return v;
  if (g->n_values == g->cap_values) {
    int cap = g->cap_values ? g->cap_values * 2 : 64;
    sf_value *nv = realloc(g->values, sizeof *nv * (size_t)cap);
    if (!nv) return -1;
    g->values = nv;
    g->cap_values = cap;
  }
  sf_value *val = &g->values[g->n_values];
  memset(val, 0, sizeof *val);
  val->name = sf_strdup(name);
  if (!val->name) return -1;
  val->t.ndim = -1;
  val->t.dtype = SF_F32;
  val->producer = -1;
  v = g->n_values++;
  if (g->n_values * 2 > g->hash_cap) {
    if (hash_rebuild(g, g->hash_cap * 2)) return -1;
  } else {
    uint64_t k = str_hash(name) & (uint64_t)(g->hash_cap - 1);
    while (g->hash[k] >= 0) k = (k + 1) & (uint64_t)(g->hash_cap - 1);
    g->hash[k] = v;
  }
  return v;
}

sf_status sf_graph_rename_value(sf_graph *g, int v, const char *name) {
  int other = sf_graph_find_value(g, name);
  if (other == v) return SF_OK;
  if (other >= 0) return sf_error(SF_ERR_INTERNAL, "value name '%s' is already used", name);
  char *n = sf_strdup(name);
  if (!n) return sf_error(SF_ERR_NOMEM, "out of memory");
  free(g->values[v].name);
  g->values[v].name = n;
  if (hash_rebuild(g, g->hash_cap)) return sf_error(SF_ERR_NOMEM, "out of memory");
  return SF_OK;
}

int sf_graph_add_const(sf_graph *g, const char *name, sf_tensor *t) {
  int v = sf_graph_value(g, name);
  if (v < 0) return -1;
  sf_tensor_free(&g->values[v].t);
  g->values[v].t = *t;
  t->data = NULL;
  t->owns_data = 0;
  return v;
}

int sf_graph_add_node(sf_graph *g, const char *name, const char *op_type, const char *domain,
                      int n_in, const int *in, int n_out, const int *out) {
  if (g->n_nodes == g->cap_nodes) {
    int cap = g->cap_nodes ? g->cap_nodes * 2 : 64;
    sf_node *nn = realloc(g->nodes, sizeof *nn * (size_t)cap);
    if (!nn) return -1;
    g->nodes = nn;
    g->cap_nodes = cap;
  }
  sf_node *n = &g->nodes[g->n_nodes];
  memset(n, 0, sizeof *n);
  n->name = sf_strdup(name ? name : "");
  n->op_type = sf_strdup(op_type);
  n->domain = sf_strdup(domain ? domain : "");
  n->n_in = n_in;
  n->n_out = n_out;
  n->in = malloc(sizeof(int) * (size_t)(n_in ? n_in : 1));
  n->out = malloc(sizeof(int) * (size_t)(n_out ? n_out : 1));
  if (!n->name || !n->op_type || !n->domain || !n->in || !n->out) return -1;
  if (n_in) memcpy(n->in, in, sizeof(int) * (size_t)n_in);
  if (n_out) memcpy(n->out, out, sizeof(int) * (size_t)n_out);
  int idx = g->n_nodes++;
  for (int i = 0; i < n_out; i++)
    if (out[i] >= 0) g->values[out[i]].producer = idx;
  return idx;
}

int sf_graph_insert_node(sf_graph *g, int pos, const char *name, const char *op_type, const char *domain,
                         int n_in, const int *in, int n_out, const int *out) {
  int idx = sf_graph_add_node(g, name, op_type, domain, n_in, in, n_out, out);
  if (idx < 0) return -1;
  if (pos < idx) {
    sf_node tmp = g->nodes[idx];
    memmove(&g->nodes[pos + 1], &g->nodes[pos], sizeof(sf_node) * (size_t)(idx - pos));
    g->nodes[pos] = tmp;
  }
  for (int v = 0; v < g->n_values; v++) g->values[v].producer = -1;
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i].n_out; k++)
      if (g->nodes[i].out[k] >= 0) g->values[g->nodes[i].out[k]].producer = i;
  return pos;
}

int sf_graph_new_value(sf_graph *g, const char *base) {
  char name[600];
  snprintf(name, sizeof name, "%s", base);
  for (int k = 1; sf_graph_find_value(g, name) >= 0; k++) snprintf(name, sizeof name, "%s_%d", base, k);
  return sf_graph_value(g, name);
}

static sf_status append_idx(int **arr, int *n, int v) {
  int *a = realloc(*arr, sizeof(int) * (size_t)(*n + 1));
  if (!a) return sf_error(SF_ERR_NOMEM, "out of memory");
  a[(*n)++] = v;
  *arr = a;
  return SF_OK;
}

sf_status sf_graph_add_input(sf_graph *g, int value) {
  g->values[value].is_input = 1;
  return append_idx(&g->inputs, &g->n_inputs, value);
}

sf_status sf_graph_add_output(sf_graph *g, int value) { return append_idx(&g->outputs, &g->n_outputs, value); }

static void attr_free(sf_attr *a) {
  free(a->name);
  free(a->ints);
  free(a->floats);
  free(a->s);
  if (a->t) { sf_tensor_free(a->t); free(a->t); }
}

static void node_free(sf_node *n) {
  free(n->name); free(n->op_type); free(n->domain); free(n->in); free(n->out); free(n->note);
  for (int i = 0; i < n->n_attr; i++) attr_free(&n->attrs[i]);
  free(n->attrs);
}

void sf_graph_free(sf_graph *g) {
  if (!g) return;
  for (int i = 0; i < g->n_nodes; i++) node_free(&g->nodes[i]);
  for (int i = 0; i < g->n_values; i++) {
    free(g->values[i].name);
    sf_tensor_free(&g->values[i].t);
  }
  free(g->nodes); free(g->values); free(g->inputs); free(g->outputs); free(g->hash);
  free(g->source); free(g->format); free(g->producer); free(g->architecture);
  free(g);
}

sf_attr *sf_node_add_attr(sf_node *n, const char *name, sf_attr_type type) {
  for (int i = 0; i < n->n_attr; i++)
    if (!strcmp(n->attrs[i].name, name)) {
      char *nm = sf_fault_alloc() ? NULL : sf_strdup(name);
      if (!nm) return NULL; /* the old value stays */
      attr_free(&n->attrs[i]);
      memset(&n->attrs[i], 0, sizeof n->attrs[i]);
      n->attrs[i].name = nm;
      n->attrs[i].type = type;
      return &n->attrs[i];
    }
  sf_attr *a = sf_fault_alloc() ? NULL : realloc(n->attrs, sizeof *a * (size_t)(n->n_attr + 1));
  if (!a) return NULL;
  n->attrs = a;
  sf_attr *r = &a[n->n_attr];
  memset(r, 0, sizeof *r);
  if (!(r->name = sf_fault_alloc() ? NULL : sf_strdup(name))) return NULL;
  r->type = type;
  n->n_attr++;
  return r;
}

const sf_attr *sf_node_attr(const sf_node *n, const char *name) {
  for (int i = 0; i < n->n_attr; i++)
    if (!strcmp(n->attrs[i].name, name)) return &n->attrs[i];
  return NULL;
}

int64_t sf_node_attr_int(const sf_node *n, const char *name, int64_t dflt) {
  const sf_attr *a = sf_node_attr(n, name);
  if (!a) return dflt;
  if (a->type == SF_ATTR_INT) return a->i;
  if (a->type == SF_ATTR_FLOAT) return (int64_t)a->f;
  return dflt;
}

float sf_node_attr_float(const sf_node *n, const char *name, float dflt) {
  const sf_attr *a = sf_node_attr(n, name);
  if (!a) return dflt;
  if (a->type == SF_ATTR_FLOAT) return a->f;
  if (a->type == SF_ATTR_INT) return (float)a->i;
  return dflt;
}

const char *sf_node_attr_string(const sf_node *n, const char *name, const char *dflt) {
  const sf_attr *a = sf_node_attr(n, name);
  return (a && a->type == SF_ATTR_STRING && a->s) ? a->s : dflt;
}

int sf_node_attr_ints(const sf_node *n, const char *name, const int64_t **out) {
  const sf_attr *a = sf_node_attr(n, name);
  if (!a || a->type != SF_ATTR_INTS) { *out = NULL; return -1; }
  *out = a->ints;
  return a->n;
}

static sf_status attr_oom(const sf_node *n, const char *name) {
  return sf_error(SF_ERR_NOMEM, "out of memory setting attribute '%s' of node '%s'", name, n->name ? n->name : "?");
}

sf_status sf_node_set_attr_int(sf_node *n, const char *name, int64_t v) {
  sf_attr *a = sf_node_add_attr(n, name, SF_ATTR_INT);
  if (!a) return attr_oom(n, name);
  a->i = v;
  return SF_OK;
}

sf_status sf_node_set_attr_float(sf_node *n, const char *name, float v) {
  sf_attr *a = sf_node_add_attr(n, name, SF_ATTR_FLOAT);
  if (!a) return attr_oom(n, name);
  a->f = v;
  return SF_OK;
}

sf_status sf_node_set_attr_string(sf_node *n, const char *name, const char *v) {
  sf_attr *a = sf_node_add_attr(n, name, SF_ATTR_STRING);
  if (!a || !(a->s = sf_fault_alloc() ? NULL : sf_strdup(v))) return attr_oom(n, name);
  return SF_OK;
}

sf_status sf_node_set_attr_ints(sf_node *n, const char *name, const int64_t *v, int count) {
  sf_attr *a = sf_node_add_attr(n, name, SF_ATTR_INTS);
  if (!a || !(a->ints = malloc(sizeof(int64_t) * (size_t)(count ? count : 1)))) return attr_oom(n, name);
  if (count) memcpy(a->ints, v, sizeof(int64_t) * (size_t)count);
  a->n = count;
  return SF_OK;
}

static int attr_copy(sf_attr *d, const sf_attr *s) {
  *d = *s;
  d->name = sf_strdup(s->name);
  d->ints = NULL; d->floats = NULL; d->s = NULL; d->t = NULL;
  if (s->ints) { d->ints = malloc(sizeof(int64_t) * (size_t)(s->n ? s->n : 1)); if (!d->ints) return -1; memcpy(d->ints, s->ints, sizeof(int64_t) * (size_t)s->n); }
  if (s->floats) { d->floats = malloc(sizeof(float) * (size_t)(s->n ? s->n : 1)); if (!d->floats) return -1; memcpy(d->floats, s->floats, sizeof(float) * (size_t)s->n); }
  if (s->s) d->s = sf_strdup(s->s);
  if (s->t) {
    d->t = calloc(1, sizeof *d->t);
    if (!d->t || sf_tensor_clone(d->t, s->t)) return -1;
  }
  return 0;
}

sf_graph *sf_graph_clone(const sf_graph *src) {
  sf_graph *g = sf_graph_new();
  if (!g) return NULL;
  free(g->source); free(g->format); free(g->producer); free(g->architecture);
  g->source = sf_strdup(src->source);
  g->format = sf_strdup(src->format);
  g->producer = sf_strdup(src->producer);
  g->architecture = sf_strdup(src->architecture);
  g->opset = src->opset;
  for (int i = 0; i < src->n_values; i++) {
    int v = sf_graph_value(g, src->values[i].name);
    if (v != i) { sf_graph_free(g); return NULL; }
    g->values[v].t = src->values[i].t;
    g->values[v].t.owns_data = 0; /* borrowed */
    g->values[v].is_input = src->values[i].is_input;
  }
  for (int i = 0; i < src->n_nodes; i++) {
    const sf_node *s = &src->nodes[i];
    int k = sf_graph_add_node(g, s->name, s->op_type, s->domain, s->n_in, s->in, s->n_out, s->out);
    if (k < 0) { sf_graph_free(g); return NULL; }
    sf_node *d = &g->nodes[k];
    d->def = s->def;
    d->mode = s->mode;
    d->note = s->note ? sf_strdup(s->note) : NULL;
    if (s->n_attr) {
      d->attrs = calloc((size_t)s->n_attr, sizeof *d->attrs);
      if (!d->attrs) { sf_graph_free(g); return NULL; }
      d->n_attr = s->n_attr;
      for (int a = 0; a < s->n_attr; a++)
        if (attr_copy(&d->attrs[a], &s->attrs[a])) { sf_graph_free(g); return NULL; }
    }
  }
  for (int i = 0; i < src->n_inputs; i++)
    if (append_idx(&g->inputs, &g->n_inputs, src->inputs[i])) { sf_graph_free(g); return NULL; }
  for (int i = 0; i < src->n_outputs; i++)
    if (append_idx(&g->outputs, &g->n_outputs, src->outputs[i])) { sf_graph_free(g); return NULL; }
  return g;
}

void sf_graph_use_counts(const sf_graph *g, int *uses) {
  memset(uses, 0, sizeof(int) * (size_t)g->n_values);
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i].n_in; k++)
      if (g->nodes[i].in[k] >= 0) uses[g->nodes[i].in[k]]++;
  for (int i = 0; i < g->n_outputs; i++) uses[g->outputs[i]]++;
}

sf_status sf_graph_toposort(sf_graph *g) {
  int n = g->n_nodes;
  if (n == 0) return SF_OK;
  int *order = malloc(sizeof(int) * (size_t)n), *state = calloc((size_t)n, sizeof(int));
  int *ready = calloc((size_t)g->n_values, sizeof(int));
  if (!order || !state || !ready) { free(order); free(state); free(ready); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  /* Values available: constants, inputs, and values with no producer. */
  int *prod = malloc(sizeof(int) * (size_t)g->n_values);
  if (!prod) { free(order); free(state); free(ready); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  for (int v = 0; v < g->n_values; v++) prod[v] = -1;
  for (int i = 0; i < n; i++)
    for (int k = 0; k < g->nodes[i].n_out; k++)
      if (g->nodes[i].out[k] >= 0) prod[g->nodes[i].out[k]] = i;
  for (int v = 0; v < g->n_values; v++) ready[v] = prod[v] < 0;
  int done = 0;
  while (done < n) {
    int progress = 0;
    for (int i = 0; i < n; i++) {
      if (state[i]) continue;
      const sf_node *nd = &g->nodes[i];
      int ok = 1;
      for (int k = 0; k < nd->n_in && ok; k++)
        if (nd->in[k] >= 0 && !ready[nd->in[k]]) ok = 0;
      if (!ok) continue;
      state[i] = 1;
      order[done++] = i;
      for (int k = 0; k < nd->n_out; k++)
        if (nd->out[k] >= 0) ready[nd->out[k]] = 1;
      progress = 1;
    }
    if (!progress) {
      int bad = -1;
      for (int i = 0; i < n && bad < 0; i++) if (!state[i]) bad = i;
      sf_status st = sf_error(SF_ERR_FORMAT, "graph has a cycle or an input that is never produced (node '%s', %s)",
                              g->nodes[bad].name, g->nodes[bad].op_type);
      free(order); free(state); free(ready); free(prod);
      return st;
    }
  }
  sf_node *sorted = malloc(sizeof *sorted * (size_t)g->cap_nodes);
  if (!sorted) { free(order); free(state); free(ready); free(prod); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  for (int i = 0; i < n; i++) sorted[i] = g->nodes[order[i]];
  free(g->nodes);
  g->nodes = sorted;
  for (int v = 0; v < g->n_values; v++) g->values[v].producer = -1;
  for (int i = 0; i < n; i++)
    for (int k = 0; k < g->nodes[i].n_out; k++)
      if (g->nodes[i].out[k] >= 0) g->values[g->nodes[i].out[k]].producer = i;
  free(order); free(state); free(ready); free(prod);
  return SF_OK;
}

sf_status sf_graph_compact(sf_graph *g) {
  /* Mark live nodes backwards from outputs. */
  int *live_v = calloc((size_t)g->n_values, sizeof(int));
  int *live_n = calloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof(int));
  if (!live_v || !live_n) { free(live_v); free(live_n); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  for (int i = 0; i < g->n_outputs; i++) live_v[g->outputs[i]] = 1;
  for (int i = g->n_nodes - 1; i >= 0; i--) {
    sf_node *nd = &g->nodes[i];
    int need = 0;
    for (int k = 0; k < nd->n_out; k++)
      if (nd->out[k] >= 0 && live_v[nd->out[k]] && g->values[nd->out[k]].producer == i) need = 1;
    if (!need) continue;
    live_n[i] = 1;
    for (int k = 0; k < nd->n_in; k++)
      if (nd->in[k] >= 0) live_v[nd->in[k]] = 1;
  }
  int w = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    if (live_n[i]) g->nodes[w++] = g->nodes[i];
    else node_free(&g->nodes[i]);
  }
  g->n_nodes = w;
  for (int v = 0; v < g->n_values; v++) g->values[v].producer = -1;
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i].n_out; k++)
      if (g->nodes[i].out[k] >= 0) g->values[g->nodes[i].out[k]].producer = i;
  /* Release the data of constants nothing uses any more. */
  for (int v = 0; v < g->n_values; v++)
    if (!live_v[v] && !g->values[v].is_input && g->values[v].t.data) sf_tensor_free(&g->values[v].t);
  free(live_v);
  free(live_n);
  return SF_OK;
}

int sf_graph_num_inputs(const sf_graph *g) { return g->n_inputs; }
int sf_graph_num_outputs(const sf_graph *g) { return g->n_outputs; }
const char *sf_graph_input_name(const sf_graph *g, int i) { return i >= 0 && i < g->n_inputs ? g->values[g->inputs[i]].name : NULL; }
const char *sf_graph_output_name(const sf_graph *g, int i) { return i >= 0 && i < g->n_outputs ? g->values[g->outputs[i]].name : NULL; }
sf_tensor sf_graph_input_desc(const sf_graph *g, int i) {
  if (i < 0 || i >= g->n_inputs) return (sf_tensor){.ndim = -1};
  sf_tensor t = g->values[g->inputs[i]].t;
  t.data = NULL;
  t.owns_data = 0;
  return t;
}
sf_tensor sf_graph_output_desc(const sf_graph *g, int i) {
  if (i < 0 || i >= g->n_outputs) return (sf_tensor){.ndim = -1};
  sf_tensor t = g->values[g->outputs[i]].t;
  t.data = NULL;
  t.owns_data = 0;
  return t;
}
int64_t sf_graph_max_positions(const sf_graph *g) { return g->max_positions; }
int sf_graph_num_nodes(const sf_graph *g) { return g->n_nodes; }
const char *sf_graph_source(const sf_graph *g) { return g->source ? g->source : ""; }
const char *sf_graph_node_name(const sf_graph *g, int i) { return i >= 0 && i < g->n_nodes ? g->nodes[i].name : NULL; }
const char *sf_graph_node_op(const sf_graph *g, int i) { return i >= 0 && i < g->n_nodes ? g->nodes[i].op_type : NULL; }

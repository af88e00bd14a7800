/* ONNX model import (protobuf-c bindings generated from Debian's onnx.proto). */
#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "graph/graph.h"
#include "io/onnx_tensor.h"
#include "onnx.pb-c.h"
#include "ops/ops.h"
#include "spikeformer/log.h"

#define SF_ONNX_MIN_OPSET 1
#define SF_ONNX_MAX_OPSET 18

/* Walk the protobuf wire format of a message and report where it breaks (protobuf-c only says
 * that it failed). Returns the byte offset of the first malformed field, or -1 if the framing is
 * sound. Descends into ModelProto.graph (field 7) so truncation inside the graph is located. */
static long wire_check(const uint8_t *p, size_t n, size_t base, int depth, char *why, size_t whyn) {
  size_t i = 0;
  while (i < n) {
    size_t start = i;
    uint64_t key = 0;
    int shift = 0;
    do {
      if (i >= n || shift > 63) { snprintf(why, whyn, "field tag runs past the end"); return (long)(base + start); }
      key |= (uint64_t)(p[i] & 0x7f) << shift;
      shift += 7;
    } while (p[i++] & 0x80);
    uint32_t wt = key & 7, field = (uint32_t)(key >> 3);
    if (field == 0) { snprintf(why, whyn, "field number 0"); return (long)(base + start); }
    if (wt == 0) {
      int k = 0;
      while (i < n && (p[i] & 0x80)) { i++; if (++k > 10) { snprintf(why, whyn, "varint too long"); return (long)(base + start); } }
      if (i >= n) { snprintf(why, whyn, "varint of field %u runs past the end", field); return (long)(base + start); }
      i++;
    } else if (wt == 1) {
      if (n - i < 8) { snprintf(why, whyn, "64-bit field %u runs past the end", field); return (long)(base + start); }
      i += 8;
    } else if (wt == 5) {
      if (n - i < 4) { snprintf(why, whyn, "32-bit field %u runs past the end", field); return (long)(base + start); }
      i += 4;
    } else if (wt == 2) {
      uint64_t len = 0;
      shift = 0;
      do {
        if (i >= n || shift > 63) { snprintf(why, whyn, "length of field %u runs past the end", field); return (long)(base + start); }
        len |= (uint64_t)(p[i] & 0x7f) << shift;
        shift += 7;
      } while (p[i++] & 0x80);
      if (len > n - i) {
        snprintf(why, whyn, "field %u declares %llu bytes but only %zu remain", field, (unsigned long long)len, n - i);
        return (long)(base + start);
      }
      if (depth == 0 && field == 7) {
        long r = wire_check(p + i, (size_t)len, base + i, 1, why, whyn);
        if (r >= 0) return r;
      }
      i += (size_t)len;
    } else {
      snprintf(why, whyn, "invalid wire type %u for field %u", wt, field);
      return (long)(base + start);
    }
  }
  return -1;
}

static sf_status convert_attr(sf_node *n, const Onnx__AttributeProto *a, const char *base_dir) {
  if (!a->name) return sf_error(SF_ERR_FORMAT, "attribute without a name");
  switch (a->type) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: { sf_attr *x = sf_node_add_attr(n, a->name, SF_ATTR_FLOAT); if (!x) goto oom; x->f = a->f; break; }
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: { sf_attr *x = sf_node_add_attr(n, a->name, SF_ATTR_INT); if (!x) goto oom; x->i = a->i; break; }
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: {
      sf_attr *x = sf_node_add_attr(n, a->name, SF_ATTR_STRING);
      if (!x) goto oom;
      x->s = malloc(a->s.len + 1);
      if (!x->s) goto oom;
      if (a->s.len) memcpy(x->s, a->s.data, a->s.len);
      x->s[a->s.len] = 0;
      break;
    }
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: {
      sf_attr *x = sf_node_add_attr(n, a->name, SF_ATTR_INTS);
      if (!x) goto oom;
      x->n = (int)a->n_ints;
      x->ints = malloc(sizeof(int64_t) * (a->n_ints ? a->n_ints : 1));
      if (!x->ints) goto oom;
      if (a->n_ints) memcpy(x->ints, a->ints, sizeof(int64_t) * a->n_ints);
      break;
    }
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: {
      sf_attr *x = sf_node_add_attr(n, a->name, SF_ATTR_FLOATS);
      if (!x) goto oom;
      x->n = (int)a->n_floats;
      x->floats = malloc(sizeof(float) * (a->n_floats ? a->n_floats : 1));
      if (!x->floats) goto oom;
      if (a->n_floats) memcpy(x->floats, a->floats, sizeof(float) * a->n_floats);
      break;
    }
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: {
      if (!a->t) return sf_error(SF_ERR_FORMAT, "attribute '%s' has no tensor", a->name);
      sf_attr *x = sf_node_add_attr(n, a->name, SF_ATTR_TENSOR);
      if (!x) goto oom;
      x->t = calloc(1, sizeof *x->t);
      if (!x->t) goto oom;
      char what[256];
      snprintf(what, sizeof what, "attribute '%s'", a->name);
      sf_status st = sf_onnx_tensor_to_sf(a->t, base_dir, what, x->t);
      if (st) return st;
      break;
    }
    default:
      /* Graph / sparse / type attributes: only control-flow ops use them, which we reject by op type. */
      SF_LOGD("node '%s': attribute '%s' of type %d ignored", n->name, a->name, (int)a->type);
      break;
  }
  return SF_OK;
oom:
  return sf_error(SF_ERR_NOMEM, "out of memory");
}

static void value_info_desc(const Onnx__ValueInfoProto *vi, sf_tensor *t) {
  t->ndim = -1;
  if (!vi->type || vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !vi->type->tensor_type) return;
  const Onnx__TypeProto__Tensor *tt = vi->type->tensor_type;
  sf_dtype dt;
  if (tt->has_elem_type && !sf_onnx_dtype(tt->elem_type, &dt)) t->dtype = dt;
  if (!tt->shape || tt->shape->n_dim > SF_MAX_DIMS) return;
  t->ndim = (int)tt->shape->n_dim;
  for (size_t i = 0; i < tt->shape->n_dim; i++) {
    const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
    t->shape[i] = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ? d->dim_value : -1;
  }
}

static sf_status import_model(const Onnx__ModelProto *m, const char *path, const char *base_dir, sf_graph **out) {
  if (!m->graph) return sf_error(SF_ERR_FORMAT, "%s: ONNX model has no graph", path);
  const Onnx__GraphProto *gp = m->graph;
  sf_graph *g = sf_graph_new();
  if (!g) return sf_error(SF_ERR_NOMEM, "out of memory");
  free(g->source); free(g->format); free(g->producer);
  g->source = sf_strdup(path);
  g->format = sf_strdup("onnx");
  g->producer = sf_strfmt("%s %s", m->producer_name ? m->producer_name : "", m->producer_version ? m->producer_version : "");
  g->opset = -1;
  for (size_t i = 0; i < m->n_opset_import; i++) {
    const char *dom = m->opset_import[i]->domain;
    if (!dom || !*dom || !strcmp(dom, "ai.onnx")) g->opset = m->opset_import[i]->version;
  }
  sf_status st = SF_OK;
  if (g->opset < 0) g->opset = 1;
  if (g->opset < SF_ONNX_MIN_OPSET || g->opset > SF_ONNX_MAX_OPSET) {
    st = sf_error(SF_ERR_UNSUPPORTED, "%s: ONNX opset %lld is outside the supported range %d..%d", path,
                  (long long)g->opset, SF_ONNX_MIN_OPSET, SF_ONNX_MAX_OPSET);
    goto fail;
  }
  /* Initializers */
  for (size_t i = 0; i < gp->n_initializer; i++) {
    const Onnx__TensorProto *tp = gp->initializer[i];
    if (!tp->name || !*tp->name) { st = sf_error(SF_ERR_FORMAT, "%s: initializer %zu has no name", path, i); goto fail; }
    char what[512];
    snprintf(what, sizeof what, "%s: initializer '%s'", path, tp->name);
    sf_tensor t;
    if ((st = sf_onnx_tensor_to_sf(tp, base_dir, what, &t))) goto fail;
    int64_t bad = sf_tensor_find_nonfinite(&t);
    if (bad >= 0 && isnan(sf_tensor_get_f(&t, bad))) {
      sf_tensor_free(&t);
      st = sf_error(SF_ERR_VALUE, "%s: element %lld is NaN", what, (long long)bad);
      goto fail;
    }
    if (sf_graph_add_const(g, tp->name, &t) < 0) { sf_tensor_free(&t); st = sf_error(SF_ERR_NOMEM, "out of memory"); goto fail; }
  }
  /* Inputs (skipping those that are initializers: IR < 4 lists them as inputs) */
  for (size_t i = 0; i < gp->n_input; i++) {
    const Onnx__ValueInfoProto *vi = gp->input[i];
    if (!vi->name) { st = sf_error(SF_ERR_FORMAT, "%s: graph input %zu has no name", path, i); goto fail; }
    int v = sf_graph_find_value(g, vi->name);
    if (v >= 0 && g->values[v].t.data) continue;
    if (v >= 0 && g->values[v].is_input) {
      st = sf_error(SF_ERR_FORMAT, "%s: graph input '%s' is declared twice", path, vi->name);
      goto fail;
    }
    if (vi->type && vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
      st = sf_error(SF_ERR_UNSUPPORTED, "%s: graph input '%s' is a sequence, map or optional; only tensors are supported", path, vi->name);
      goto fail;
    }
    v = sf_graph_value(g, vi->name);
    if (v < 0) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto fail; }
    value_info_desc(vi, &g->values[v].t);
    if ((st = sf_graph_add_input(g, v))) goto fail;
  }
  /* Nodes */
  for (size_t i = 0; i < gp->n_node; i++) {
    const Onnx__NodeProto *np = gp->node[i];
    char autoname[64];
    const char *name = np->name && *np->name ? np->name : (snprintf(autoname, sizeof autoname, "%s_%zu", np->op_type ? np->op_type : "node", i), autoname);
    if (!np->op_type) { st = sf_error(SF_ERR_FORMAT, "%s: node %zu has no op_type", path, i); goto fail; }
    const sf_op_def *def = sf_op_find(np->op_type, np->domain);
    if (!def) {
      st = sf_error(SF_ERR_UNSUPPORTED, "%s: node '%s' (#%zu): unknown op '%s%s%s'; supported ops are listed by "
                    "'spikeformer ops'", path, name, i, np->domain && *np->domain ? np->domain : "",
                    np->domain && *np->domain ? "." : "", np->op_type);
      goto fail;
    }
    int *in = malloc(sizeof(int) * (np->n_input + 1)), *outv = malloc(sizeof(int) * (np->n_output + 1));
    if (!in || !outv) { free(in); free(outv); st = sf_error(SF_ERR_NOMEM, "out of memory"); goto fail; }
    int n_out = (int)np->n_output;
    for (size_t k = 0; k < np->n_input; k++) in[k] = (np->input[k] && *np->input[k]) ? sf_graph_value(g, np->input[k]) : -1;
    for (size_t k = 0; k < np->n_output; k++) outv[k] = (np->output[k] && *np->output[k]) ? sf_graph_value(g, np->output[k]) : -1;
    /* trailing omitted optional outputs are dropped; a hole in the middle gets a scratch value */
    while (n_out > 0 && outv[n_out - 1] < 0) n_out--;
    for (int k = 0; k < n_out; k++)
      if (outv[k] < 0) {
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%s:unused_output_%d", name, k);
        outv[k] = sf_graph_value(g, tmp);
      }
    int n_in = (int)np->n_input;
    while (n_in > 0 && in[n_in - 1] < 0) n_in--;
    for (int k = 0; k < n_out; k++) {
      const sf_value *ov = &g->values[outv[k]];
      const char *clash = ov->is_input ? "a graph input" : ov->t.data ? "an initializer" : ov->producer >= 0 ? "another node's output" : NULL;
      for (int j = 0; j < k && !clash; j++) if (outv[j] == outv[k]) clash = "another output of the same node";
      if (clash) {
        st = sf_error(SF_ERR_FORMAT, "%s: node '%s' (%s) writes '%s', which is already %s", path, name, np->op_type, ov->name, clash);
        free(in);
        free(outv);
        goto fail;
      }
    }
    int idx = sf_graph_add_node(g, name, np->op_type, np->domain, n_in, in, n_out, outv);
    free(in);
    free(outv);
    if (idx < 0) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto fail; }
    sf_node *nd = &g->nodes[idx];
    nd->def = def;
    if (n_in < def->min_in || n_in > def->max_in) {
      st = sf_error(SF_ERR_FORMAT, "%s: node '%s' (%s) has %d inputs, expected %d..%d", path, name, np->op_type, n_in, def->min_in, def->max_in);
      goto fail;
    }
    for (size_t k = 0; k < np->n_attribute; k++)
      if ((st = convert_attr(nd, np->attribute[k], base_dir))) { sf_error_context(st, "%s: node '%s'", path, name); goto fail; }
    /* Pre-opset-7 semantics we do not emulate: explicit legacy broadcasting and consumed_inputs. */
    if ((sf_node_attr_int(nd, "broadcast", 0) && sf_node_attr(nd, "axis") && nd->n_in == 2) || sf_node_attr(nd, "consumed_inputs") ||
        (!strcmp(np->op_type, "BatchNormalization") && sf_node_attr(nd, "spatial") && !sf_node_attr_int(nd, "spatial", 1))) {
      st = sf_error(SF_ERR_UNSUPPORTED, "%s: node '%s' (%s) uses pre-opset-7 semantics (legacy broadcast axis / consumed_inputs / "
                    "non-spatial BatchNorm); re-export with opset >= 7", path, name, np->op_type);
      goto fail;
    }
  }
  if (gp->n_output == 0) {
    st = sf_error(SF_ERR_FORMAT, "%s: the graph declares no outputs (a model needs at least one)", path);
    goto fail;
  }
  for (size_t i = 0; i < gp->n_output; i++) {
    const Onnx__ValueInfoProto *vi = gp->output[i];
    int v = vi->name ? sf_graph_find_value(g, vi->name) : -1;
    if (v < 0) { st = sf_error(SF_ERR_FORMAT, "%s: graph output '%s' is never produced", path, vi->name ? vi->name : "?"); goto fail; }
    if ((st = sf_graph_add_output(g, v))) goto fail;
  }
  /* Every node input must exist: produced, an initializer, or a graph input. */
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i].n_in; k++) {
      int v = g->nodes[i].in[k];
      if (v < 0) continue;
      if (!g->values[v].t.data && !g->values[v].is_input && g->values[v].producer < 0) {
        st = sf_error(SF_ERR_FORMAT, "%s: node '%s' (%s) reads '%s', which nothing produces", path, g->nodes[i].name,
                      g->nodes[i].op_type, g->values[v].name);
        goto fail;
      }
    }
  if ((st = sf_graph_toposort(g))) { sf_error_context(st, "%s", path); goto fail; }
  *out = g;
  return SF_OK;
fail:
  sf_graph_free(g);
  return st;
}

sf_status sf_graph_load_onnx_buffer(const void *data, size_t size, const char *name, sf_graph **out) {
  *out = NULL;
  if (size == 0) return sf_error(SF_ERR_FORMAT, "%s: empty file (0 bytes), expected an ONNX model", name);
  char why[256] = "";
  long bad = wire_check(data, size, 0, 0, why, sizeof why);
  if (bad >= 0)
    return sf_error(SF_ERR_FORMAT, "%s: not a valid ONNX model: byte %ld of %zu: %s (truncated or corrupt file?)", name, bad, size, why);
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, size, data);
  if (!m) return sf_error(SF_ERR_FORMAT, "%s: not a valid ONNX model (protobuf parse failed; %zu bytes)", name, size);
  if (!m->graph || (!m->has_ir_version && m->n_opset_import == 0)) {
    onnx__model_proto__free_unpacked(m, NULL);
    return sf_error(SF_ERR_FORMAT, "%s: parses as protobuf but is not an ONNX model (no graph / ir_version)", name);
  }
  char *dir = sf_strdup(name);
  sf_status st = dir ? import_model(m, name, dirname(dir), out) : sf_error(SF_ERR_NOMEM, "out of memory");
  free(dir);
  onnx__model_proto__free_unpacked(m, NULL);
  return st;
}

sf_status sf_graph_load_onnx(const char *path, sf_graph **out) {
  char *buf;
  size_t n;
  *out = NULL;
  sf_status st = sf_read_file(path, &buf, &n);
  if (st) return st;
  st = sf_graph_load_onnx_buffer(buf, n, path, out);
  free(buf);
  return st;
}

sf_status sf_graph_load(const char *path, sf_graph **out) {
  *out = NULL;
  if (!path || !*path) return sf_error(SF_ERR_ARG, "no model path given");
  if (sf_is_dir(path)) return sf_graph_load_hf(path, out);
  if (!sf_file_exists(path)) return sf_error(SF_ERR_IO, "%s: no such file or directory", path);
  return sf_graph_load_onnx(path, out);
}

/* Float reference executor: specialise, plan buffers by liveness, run nodes in order. */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "graph/graph.h"
#include "graph/passes.h"
#include "ops/ops.h"
#include "spikeformer/session.h"

typedef struct {
  void *ptr;
  size_t size;
  int busy;
} block;

struct sf_session {
  const sf_graph *src;
  sf_session_options opt;
  sf_graph *plan;
  sf_tensor *vt;        /* working tensor per plan value */
  block *blocks;
  int n_blocks;
  int *value_block;     /* block index per value, -1 if none */
  sf_tensor *in_desc;   /* shapes the plan was made for */
  sf_tensor *bound;     /* non-float input values baked into the plan (shape-like inputs), or NULL */
  int planned;          /* plan given by the caller: never re-specialise */
};

void sf_session_options_default(sf_session_options *o) { o->fuse = 1; o->keep_all = 0; }

sf_status sf_session_create(const sf_graph *g, const sf_session_options *opt, sf_session **out) {
  sf_session *s = calloc(1, sizeof *s);
  if (!s) return sf_error(SF_ERR_NOMEM, "out of memory");
  s->src = g;
  if (opt) s->opt = *opt;
  else sf_session_options_default(&s->opt);
  s->in_desc = calloc((size_t)(g->n_inputs ? g->n_inputs : 1), sizeof(sf_tensor));
  if (!s->in_desc) { free(s); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  *out = s;
  return SF_OK;
}

static void release_plan(sf_session *s) {
  for (int i = 0; i < s->n_blocks; i++) free(s->blocks[i].ptr);
  free(s->blocks);
  free(s->vt);
  free(s->value_block);
  if (!s->planned) sf_graph_free(s->plan);
  s->blocks = NULL;
  s->n_blocks = 0;
  s->vt = NULL;
  s->value_block = NULL;
  s->plan = NULL;
}

static void release_bound(sf_session *s) {
  if (!s->bound) return;
  for (int i = 0; i < s->src->n_inputs; i++) sf_tensor_free(&s->bound[i]);
  free(s->bound);
  s->bound = NULL;
}

void sf_session_free(sf_session *s) {
  if (!s) return;
  release_plan(s);
  release_bound(s);
  free(s->in_desc);
  free(s);
}

const sf_graph *sf_session_plan(const sf_session *s) { return s->plan; }

static int same_desc(const sf_tensor *a, const sf_tensor *b) { return a->dtype == b->dtype && sf_tensor_same_shape(a, b); }

static sf_status plan_buffers(sf_session *s) {
  sf_graph *g = s->plan;
  int nv = g->n_values, nn = g->n_nodes;
  s->vt = calloc((size_t)(nv ? nv : 1), sizeof(sf_tensor));
  s->value_block = malloc(sizeof(int) * (size_t)(nv ? nv : 1));
  int *last = malloc(sizeof(int) * (size_t)(nv ? nv : 1));
  if (!s->vt || !s->value_block || !last) { free(last); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  for (int v = 0; v < nv; v++) {
    s->vt[v] = g->values[v].t;
    s->vt[v].owns_data = 0;
    s->value_block[v] = -1;
    last[v] = -1;
  }
  for (int i = 0; i < nn; i++)
    for (int k = 0; k < g->nodes[i].n_in; k++)
      if (g->nodes[i].in[k] >= 0) last[g->nodes[i].in[k]] = i;
  for (int i = 0; i < g->n_outputs; i++) last[g->outputs[i]] = nn; /* outputs live to the end */
  if (s->opt.keep_all)
    for (int v = 0; v < nv; v++) last[v] = nn;
  for (int i = 0; i < nn; i++) {
    const sf_node *n = &g->nodes[i];
    for (int k = 0; k < n->n_out; k++) {
      int v = n->out[k];
      size_t need;
      const sf_tensor *vt = &g->values[v].t;
      sf_status st = sf_tensor_check_size(vt->dtype, vt->ndim, vt->shape, &need);
      if (st) { free(last); return sf_error_context(st, "value '%s'", g->values[v].name); }
      if (need == 0) need = 1;
      int best = -1;
      for (int b = 0; b < s->n_blocks; b++)
        if (!s->blocks[b].busy && s->blocks[b].size >= need && (best < 0 || s->blocks[b].size < s->blocks[best].size)) best = b;
      if (best < 0) {
        /* grow the largest free block, or add one */
        for (int b = 0; b < s->n_blocks; b++)
          if (!s->blocks[b].busy && (best < 0 || s->blocks[b].size > s->blocks[best].size)) best = b;
        if (best >= 0) {
          free(s->blocks[best].ptr);
          s->blocks[best].ptr = NULL;
          s->blocks[best].size = 0;
        } else {
          block *nb = realloc(s->blocks, sizeof *nb * (size_t)(s->n_blocks + 1));
          if (!nb) { free(last); return sf_error(SF_ERR_NOMEM, "out of memory"); }
          s->blocks = nb;
          best = s->n_blocks++;
          s->blocks[best] = (block){NULL, 0, 0};
        }
        s->blocks[best].ptr = aligned_alloc(64, (need + 63) / 64 * 64);
        if (!s->blocks[best].ptr) { free(last); return sf_error(SF_ERR_NOMEM, "out of memory: %zu bytes for '%s'", need, g->values[v].name); }
        s->blocks[best].size = (need + 63) / 64 * 64;
      }
      s->blocks[best].busy = 1;
      s->value_block[v] = best;
      if (last[v] < 0) s->blocks[best].busy = 0; /* never read: free right away */
    }
    for (int k = 0; k < n->n_in; k++) {
      int v = n->in[k];
      if (v >= 0 && last[v] == i && s->value_block[v] >= 0) {
        /* the same value may appear twice among the inputs */
        s->blocks[s->value_block[v]].busy = 0;
      }
    }
  }
  for (int v = 0; v < nv; v++)
    if (s->value_block[v] >= 0) s->vt[v].data = s->blocks[s->value_block[v]].ptr;
  free(last);
  return SF_OK;
}

sf_status sf_session_create_planned(const sf_graph *plan, const sf_session_options *opt, sf_session **out) {
  sf_status st = sf_session_create(plan, opt, out);
  if (st) return st;
  sf_session *s = *out;
  s->planned = 1;
  s->plan = (sf_graph *)plan;
  if ((st = plan_buffers(s))) { sf_session_free(s); *out = NULL; return st; }
  return SF_OK;
}

const sf_tensor *sf_session_value(const sf_session *s, const char *name) {
  if (!s->plan || !s->vt) return NULL;
  int v = sf_graph_find_value(s->plan, name);
  if (v < 0) return NULL;
  return &s->vt[v];
}

sf_status sf_session_prepare(sf_session *s, const sf_tensor *inputs) {
  const sf_graph *g = s->src;
  if (s->planned) {
    for (int i = 0; i < g->n_inputs; i++)
      if (!sf_tensor_same_shape(&s->plan->values[s->plan->inputs[i]].t, &inputs[i]))
        return sf_error(SF_ERR_SHAPE, "input '%s' does not match the planned shape", s->plan->values[s->plan->inputs[i]].name);
    return SF_OK;
  }
  if (s->plan) {
    int same = 1;
    for (int i = 0; i < g->n_inputs && same; i++) same = same_desc(&s->in_desc[i], &inputs[i]);
    for (int i = 0; i < g->n_inputs && same && s->bound; i++)
      if (s->bound[i].data && (!inputs[i].data || memcmp(s->bound[i].data, inputs[i].data, sf_tensor_nbytes(&inputs[i])))) same = 0;
    if (same) return SF_OK;
  }
  release_plan(s);
  release_bound(s);
  int flags = s->opt.fuse ? SF_SPEC_FUSE : 0;
  sf_status st = sf_graph_specialize(g, inputs, flags, &s->plan);
  if (st == SF_ERR_UNSUPPORTED && strstr(sf_last_error(), "must be known before running")) {
    /* A shape depends on an input's values (e.g. Reshape fed a shape input): bake the values of
     * non-float inputs into the plan, and re-plan when they change. */
    int any = 0;
    for (int i = 0; i < g->n_inputs; i++) any |= !sf_dtype_is_float(inputs[i].dtype) && inputs[i].data;
    if (any) {
      st = sf_graph_specialize(g, inputs, flags | SF_SPEC_BIND_INPUTS, &s->plan);
      if (!st) {
        s->bound = calloc((size_t)g->n_inputs, sizeof(sf_tensor));
        if (!s->bound) st = sf_error(SF_ERR_NOMEM, "out of memory");
        for (int i = 0; i < g->n_inputs && !st; i++)
          if (!sf_dtype_is_float(inputs[i].dtype) && inputs[i].data) st = sf_tensor_clone(&s->bound[i], &inputs[i]);
      }
    }
  }
  if (st) { release_plan(s); release_bound(s); return st; }
  if ((st = plan_buffers(s))) { release_plan(s); return st; }
  for (int i = 0; i < g->n_inputs; i++) {
    s->in_desc[i] = inputs[i];
    s->in_desc[i].data = NULL;
    s->in_desc[i].owns_data = 0;
  }
  return SF_OK;
}

sf_status sf_session_run(sf_session *s, const sf_tensor *inputs, sf_tensor *outputs) {
  sf_status st = sf_session_prepare(s, inputs);
  if (st) return st;
  sf_graph *g = s->plan;
  for (int i = 0; i < g->n_inputs; i++) {
    if (!inputs[i].data) return sf_error(SF_ERR_ARG, "input '%s' has no data", g->values[g->inputs[i]].name);
    s->vt[g->inputs[i]].data = inputs[i].data;
  }
  sf_tensor *ins[SF_OP_MAX_INPUTS], *outs[SF_OP_MAX_OUTPUTS];
  for (int i = 0; i < g->n_nodes; i++) {
    sf_node *n = &g->nodes[i];
    sf_op_ctx c = {g, n, n->n_in, n->n_out, ins, outs, g->opset};
    for (int k = 0; k < n->n_in; k++) ins[k] = n->in[k] >= 0 ? &s->vt[n->in[k]] : NULL;
    int64_t produced = 0;
    for (int k = 0; k < n->n_out; k++) {
      outs[k] = &s->vt[n->out[k]];
      produced += sf_tensor_numel(outs[k]);
    }
    if (produced == 0) continue; /* empty outputs: nothing to compute */
    if ((st = n->def->exec(&c))) return st;
  }
  for (int i = 0; i < g->n_outputs; i++) {
    memset(&outputs[i], 0, sizeof outputs[i]);
    if ((st = sf_tensor_clone(&outputs[i], &s->vt[g->outputs[i]]))) {
      for (int k = 0; k < i; k++) sf_tensor_free(&outputs[k]);
      return st;
    }
  }
  return SF_OK;
}

/* The spiking session's buffer plan: which values share memory within a step.
 *   aliases  an order-keeping layout op (Reshape, Flatten, Squeeze...) on float values copies
 *            nothing: its output is its input's buffer
 *   pool     values whose lifetimes within a step do not overlap share one buffer, so a session
 *            works through a fraction of the memory and more of it stays in cache */
#include <stdlib.h>
#include <string.h>

#include "snn/snn_session.h"

int snn_plan_aliases(sf_snn_session *s) {
  const sf_graph *g = s->g;
  /* order-keeping layout ops on float values copy nothing: their output aliases the input buffer */
  if (!(s->aliased = calloc((size_t)g->n_values, 1))) return -1;
  for (int i = 0; i < g->n_nodes; i++) {
    const sf_node *nd = &g->nodes[i];
    if (!sf_node_flag(nd, SF_OPF_KEEPS_ORDER) || nd->n_out != 1 || nd->n_in < 1 || nd->in[0] < 0 || nd->out[0] < 0) continue;
    int x = nd->in[0], y = nd->out[0];
    if (is_const(g, x) || is_const(g, y) || !s->inc[x] || !s->inc[y] || numel(g, x) != numel(g, y) ||
        g->values[x].t.dtype != SF_F32 || g->values[y].t.dtype != SF_F32)
      continue;
    free(s->inc[y]);
    s->inc[y] = s->inc[x];
    s->aliased[y] = 1;
    s->ns[i].alias = 1;
  }
  return 0;
}

/* Buffer plan. Within a step a value's increment lives from its producer to its last reader (an
 * order-keeping layout op's output is its input's buffer, so the readers of both count); values
 * whose lifetimes do not overlap share one buffer, so a session works through a fraction of the
 * memory and more of it stays in cache. Values that live across steps keep their own: the input,
 * what is constant over time (computed at t = 1 only), and the graph's outputs (decoded after the
 * step). Returns 0, or -1 when out of memory. */
int snn_plan_buffers(sf_snn_session *s) {
  const sf_graph *g = s->g;
  const int nv = g->n_values;
  int *root = malloc(sizeof(int) * (size_t)nv), *last = malloc(sizeof(int) * (size_t)nv), *order = malloc(sizeof(int) * (size_t)nv);
  uint8_t *pin = calloc((size_t)nv, 1);
  int *busy_until = NULL, n_order = 0, ok = 0;
  int64_t *size = NULL;
  if (!root || !last || !order || !pin || !(s->pooled = calloc((size_t)nv, 1))) goto done;
  for (int v = 0; v < nv; v++) { root[v] = v; last[v] = -1; }
  for (int i = 0; i < g->n_nodes; i++)
    if (s->ns[i].alias) root[g->nodes[i].out[0]] = root[g->nodes[i].in[0]];
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i].n_in; k++) {
      int v = g->nodes[i].in[k];
      if (v >= 0 && s->inc[v] && last[root[v]] < i) last[root[v]] = i;
    }
  for (int v = 0; v < nv; v++)
    if (s->inc[v] && (s->static_v[v] || s->producer[v] < 0 || g->values[v].is_input)) pin[root[v]] = 1;
  for (int k = 0; k < g->n_outputs; k++) pin[root[g->outputs[k]]] = 1;
  for (int v = 0; v < nv; v++)
    if (s->inc[v] && !s->aliased[v] && !pin[v]) order[n_order++] = v;
  /* by producer position (node order), so every buffer is taken when its value is written */
  for (int a = 1; a < n_order; a++) {
    int v = order[a], b = a - 1;
    while (b >= 0 && s->producer[order[b]] > s->producer[v]) { order[b + 1] = order[b]; b--; }
    order[b + 1] = v;
  }
  if (!(s->pool = calloc((size_t)(n_order ? n_order : 1), sizeof(float *))) || !(size = calloc((size_t)(n_order ? n_order : 1), sizeof(int64_t))) ||
      !(busy_until = calloc((size_t)(n_order ? n_order : 1), sizeof(int))))
    goto done;
  for (int a = 0; a < n_order; a++) {
    int v = order[a], start = s->producer[v], end = last[v] > start ? last[v] : start, best = -1;
    int64_t need = numel(g, v) > 0 ? numel(g, v) : 1;
    for (int b = 0; b < s->n_pool; b++)
      if (busy_until[b] < start && size[b] >= need && (best < 0 || size[b] < size[best])) best = b;
    if (best < 0) {
      if (!(s->pool[s->n_pool] = sf_snn_alloc_f(need))) goto done;
      size[s->n_pool] = need;
      best = s->n_pool++;
    }
    busy_until[best] = end;
    free(s->inc[v]);
    s->inc[v] = s->pool[best];
    s->pooled[v] = 1;
  }
  for (int v = 0; v < nv; v++)
    if (s->aliased[v]) s->inc[v] = s->inc[root[v]];
  ok = 1;
done:
  free(root); free(last); free(order); free(pin); free(size); free(busy_until);
  return ok ? 0 : -1;
}


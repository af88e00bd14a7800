/* The Loihi 2 mapping of a model that is not a chain of Dense + LIF layers (a CNN with max pooling,
 * a transformer): which nodes the neurocores run, which the host runs, how many cores and chips the
 * neurocore part takes, and the traffic between host and chip per step.
 *
 * Placement of the nodes of the spiking graph (one sample):
 *   neurocores  Neuron nodes (a population of neurons each); Linear / Conv nodes whose input is
 *               spikes (a Neuron's, through reshapes) or the image (then a population of input
 *               neurons too); a Linear whose output is not a neuron's input integrates into a
 *               population of non-spiking compartments the host reads at every step
 *   routing     Reshape, Transpose, Flatten, Squeeze, Unsqueeze, Identity: no work, only addresses
 *   host        everything else: softmax, LayerNorm, GELU, max pooling (float functions), products
 *               of two spike streams (Q K^T, attention V), residual adds, concatenation
 * Cores: populations in graph order, packed greedily under the per-core limits of loihi2_map.c;
 * a Linear or Conv applied at every token / pixel shares its weights, so a core stores each
 * output feature's weights once (Loihi 2's shared synapses), plus 8 bytes of state a neuron.
 * Traffic per step, per sample, measured on the cpu backend's spikes of calibration images: spikes
 * of chip neurons that host nodes read, values of compartments the host reads, currents the host
 * sends into chip neurons, and spike messages between cores and chips.
 * The emulator runs chain models only: a hybrid is mapped and its traffic measured, not executed
 * bit-accurately. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend_impl.h"
#include "backend/loihi2_net.h"
#include "core/util.h"
#include "spikeformer/loihi2.h"

enum { HY_HOST = 0, HY_ROUTE, HY_NEURON, HY_SYN };

typedef struct {
  int node;           /* owning node (Neuron, or the Linear of an accumulator / input population) */
  int kind;           /* 0 neurons, 1 compartments the host reads, 2 input neurons */
  int64_t n, features, fan_in;
  int first_core, last_core;
  double spikes_per_step;
} hy_pop;

static int is_route(const char *op) {
  return !strcmp(op, "Reshape") || !strcmp(op, "Transpose") || !strcmp(op, "Flatten") || !strcmp(op, "Squeeze") || !strcmp(op, "Unsqueeze") ||
         !strcmp(op, "Identity");
}

/* the producing node of value v through routing nodes (-1: a graph input or a constant) */
static int root_producer(const sf_graph *g, const int *place, int v) {
  int p = g->values[v].producer;
  while (p >= 0 && place[p] == HY_ROUTE) p = g->values[g->nodes[p].in[0]].producer;
  return p;
}

static int is_graph_input(const sf_graph *g, int v) {
  for (int k = 0; k < g->n_inputs; k++)
    if (g->inputs[k] == v) return 1;
  return 0;
}

/* the root value (through routing) a node's first input comes from */
static int root_value(const sf_graph *g, const int *place, int v) {
  int p = g->values[v].producer;
  while (p >= 0 && place[p] == HY_ROUTE) {
    v = g->nodes[p].in[0];
    p = g->values[v].producer;
  }
  return v;
}

static int64_t numel1(const sf_graph *g, int v) {
  const sf_tensor *t = &g->values[v].t;
  return sf_tensor_numel(t) / (t->ndim ? t->shape[0] : 1);
}

static int step_noop(int t, const sf_tensor *d, void *u) {
  (void)t; (void)d; (void)u;
  return 0;
}

sf_status sf_loihi2_hybrid_report(const sf_snn_model *m, const sf_loihi2_options *o, const sf_dataset *calib, int T, char **json, char **text) {
  sf_graph *g = NULL;
  sf_status st = sf_snn_model_build(m, 1, &g);
  if (st) return st;
  const int n = g->n_nodes;
  int *place = calloc((size_t)n, sizeof(int)), *consumer_neuron = malloc(sizeof(int) * (size_t)n);
  hy_pop *pops = calloc((size_t)(2 * n + 2), sizeof(hy_pop));
  double *spk = calloc((size_t)n, sizeof(double)), *sops = calloc((size_t)n, sizeof(double)), *fops = calloc((size_t)n, sizeof(double));
  int *pop_of = malloc(sizeof(int) * (size_t)n);
  if (!place || !consumer_neuron || !pops || !spk || !sops || !fops || !pop_of) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto out; }
  int npop = 0;
  for (int i = 0; i < n; i++) pop_of[i] = -1, consumer_neuron[i] = -1;
  /* classify */
  for (int i = 0; i < n; i++) {
    const sf_node *nd = &g->nodes[i];
    if (is_route(nd->op_type)) place[i] = HY_ROUTE;
    else if (!strcmp(nd->op_type, "Neuron")) place[i] = HY_NEURON;
    else if ((!strcmp(nd->op_type, "Linear") || !strcmp(nd->op_type, "Conv") || !strcmp(nd->op_type, "Gemm")) && nd->n_in > 1 && g->values[nd->in[1]].t.data) {
      const int p = root_producer(g, place, nd->in[0]);
      const int from_input = p < 0 && is_graph_input(g, root_value(g, place, nd->in[0]));
      place[i] = (p >= 0 && place[p] == HY_NEURON) || from_input ? HY_SYN : HY_HOST;
    } else place[i] = HY_HOST;
  }
  for (int i = 0; i < n; i++) /* a synapse layer feeding a neuron directly */
    if (place[i] == HY_NEURON) {
      const int p = g->values[g->nodes[i].in[0]].producer;
      if (p >= 0 && place[p] == HY_SYN) consumer_neuron[p] = i;
    }
  /* populations, in graph order */
  for (int i = 0; i < n; i++) {
    const sf_node *nd = &g->nodes[i];
    if (place[i] == HY_SYN) {
      const sf_tensor *W = &g->values[nd->in[1]].t;
      const int64_t K = !strcmp(nd->op_type, "Conv") ? sf_tensor_numel(W) / W->shape[0] : W->shape[0];
      const int64_t F = !strcmp(nd->op_type, "Conv") ? W->shape[0] : W->shape[W->ndim - 1];
      const int vin = root_value(g, place, nd->in[0]);
      if (is_graph_input(g, vin)) pops[npop++] = (hy_pop){i, 2, numel1(g, vin), 1, 0, 0, 0, 0};
      if (consumer_neuron[i] >= 0) pop_of[consumer_neuron[i]] = -2 - (int)K; /* fan-in of that neuron population, set when it comes */
      else {
        pops[npop] = (hy_pop){i, 1, numel1(g, nd->out[0]), F, K, 0, 0, 0};
        pop_of[i] = npop++;
      }
      (void)F;
    } else if (place[i] == HY_NEURON) {
      const int64_t F = sf_tensor_numel(&g->values[nd->in[1]].t);
      const int64_t K = pop_of[i] <= -2 ? -(int64_t)pop_of[i] - 2 : 0;
      pops[npop] = (hy_pop){i, 0, numel1(g, nd->out[0]), F > 0 ? F : 1, K, 0, 0, 0};
      pop_of[i] = npop++;
    }
  }
  /* cores: greedy, weights shared per output feature */
  const int cpc = o->cores_per_chip > 0 ? o->cores_per_chip : 128;
  int gc = -1, cores = 0;
  int64_t core_neurons = 0, core_bytes = 0, max_bytes = 0, sum_neurons = 0;
  double util_sum = 0;
  int have = 0;
  for (int p = 0; p < npop; p++) {
    hy_pop *P = &pops[p];
    const int64_t per_feat = P->n / (P->features > 0 ? P->features : 1) > 0 ? P->n / P->features : 1;
    int64_t left = P->n, feat_on_core = 0;
    P->first_core = -1;
    while (left > 0) {
      /* how many of this population's neurons fit on the current core */
      int64_t take = 0;
      if (have) {
        const int64_t room_n = L2_NEURONS_PER_CORE - core_neurons;
        for (int64_t f = 1; take < left; f++) {
          const int64_t nn = f * per_feat < left ? f * per_feat : left;
          const int64_t bytes = core_bytes + f * P->fan_in + nn * L2_STATE_BYTES_PER_NEURON;
          if (nn > room_n || bytes > L2_MEMORY_PER_CORE) break;
          take = nn;
          feat_on_core = f;
          if (nn == left) break;
        }
      }
      if (!take) {
        if (have) { util_sum += (double)core_bytes / L2_MEMORY_PER_CORE; if (core_bytes > max_bytes) max_bytes = core_bytes; }
        do gc++;
        while (l2_core_excluded(o, gc));
        cores++;
        core_neurons = core_bytes = 0;
        have = 1;
        if (per_feat * L2_STATE_BYTES_PER_NEURON + P->fan_in > L2_MEMORY_PER_CORE) {
          st = sf_error(SF_ERR_UNSUPPORTED, "loihi2: node '%s': one output feature (%lld neurons, %lld inputs each) does not fit a neurocore's %d bytes",
                        g->nodes[P->node].name, (long long)per_feat, (long long)P->fan_in, L2_MEMORY_PER_CORE);
          goto out;
        }
        continue;
      }
      if (P->first_core < 0) P->first_core = gc;
      P->last_core = gc;
      core_neurons += take;
      core_bytes += feat_on_core * P->fan_in + take * L2_STATE_BYTES_PER_NEURON;
      sum_neurons += take;
      left -= take;
    }
  }
  if (have) { util_sum += (double)core_bytes / L2_MEMORY_PER_CORE; if (core_bytes > max_bytes) max_bytes = core_bytes; }
  const int chips = cores ? gc / cpc + 1 : 0;
  if (o->max_chips > 0 && chips > o->max_chips) {
    st = sf_error(SF_ERR_UNSUPPORTED, "loihi2: the model's neurocore part needs %d cores on %d chips (%lld neurons, %d cores per chip); max_chips allows %d", cores,
                  chips, (long long)sum_neurons, cpc, o->max_chips);
    goto out;
  }
  /* traffic, from the cpu backend's counters on calibration images */
  double samples = 0;
  if (calib && calib->n > 0) {
    const sf_backend *cpu = NULL;
    sf_compiled *c = NULL;
    sf_deployed *d = NULL;
    if (T < 1) T = sf_snn_model_options(m)->snn.timesteps;
    sf_tensor x = sf_dataset_batch(calib, 0, calib->n);
    if (!(st = sf_backend_find("cpu", &cpu)) && !(st = sf_backend_compile(cpu, m, NULL, &c)) && !(st = sf_backend_deploy(c, calib->n, &d)) &&
        !(st = sf_backend_execute(d, &x, T, step_noop, NULL))) {
      samples = (double)calib->n * T;
      for (int i = 0; i < n && i < sf_backend_profile_count(d); i++) {
        sf_snn_node_stats s;
        sf_backend_profile(d, i, &s);
        spk[i] = s.spikes / samples;
        sops[i] = s.sops / samples;
        fops[i] = s.float_ops / samples;
      }
    }
    sf_deployed_free(d);
    sf_compiled_free(c);
    if (st) goto out;
  }
  double to_host = 0, from_host = 0, in_values = 0, msg_core = 0, msg_chip = 0, chip_sops = 0, host_float = 0, chip_updates = 0;
  int host_nodes = 0, chip_nodes = 0, route_nodes = 0;
  cJSON *r = cJSON_CreateObject(), *hostops = cJSON_CreateObject();
  for (int i = 0; i < n; i++) {
    const sf_node *nd = &g->nodes[i];
    if (place[i] == HY_ROUTE) { route_nodes++; continue; }
    if (place[i] != HY_HOST) {
      chip_nodes++;
      if (place[i] == HY_SYN) {
        chip_sops += sops[i];
        /* spikes into this layer travel to the cores of the population it feeds */
        const int src = root_producer(g, place, nd->in[0]);
        const int tgt = consumer_neuron[i] >= 0 ? pop_of[consumer_neuron[i]] : pop_of[i];
        const double s = src >= 0 ? spk[src] : 0;
        if (tgt >= 0 && src >= 0 && pop_of[src] >= 0) {
          const hy_pop *S = &pops[pop_of[src]], *D = &pops[tgt];
          for (int cc = D->first_core; cc <= D->last_core; cc++) {
            if (cc / cpc != S->first_core / cpc) msg_chip += s;
            else msg_core += s;
          }
        }
        if (src < 0) in_values += (double)numel1(g, root_value(g, place, nd->in[0]));
      } else {
        chip_updates += (double)numel1(g, nd->out[0]);
        const int p = root_producer(g, place, nd->in[0]);
        if (p >= 0 && place[p] == HY_HOST) from_host += (double)numel1(g, nd->in[0]);
      }
      continue;
    }
    host_nodes++;
    host_float += fops[i];
    cJSON *cnt = cJSON_GetObjectItemCaseSensitive(hostops, nd->op_type);
    if (cnt) cJSON_SetNumberValue(cnt, cnt->valuedouble + 1);
    else cJSON_AddNumberToObject(hostops, nd->op_type, 1);
    for (int k = 0; k < nd->n_in; k++) {
      if (nd->in[k] < 0 || g->values[nd->in[k]].t.data) continue;
      const int p = root_producer(g, place, nd->in[k]);
      if (p < 0) continue;
      if (place[p] == HY_NEURON) to_host += spk[p];
      else if (place[p] == HY_SYN && pop_of[p] >= 0) to_host += (double)numel1(g, nd->in[k]);
    }
  }
  cJSON_AddStringToObject(r, "backend", "loihi2");
  cJSON_AddStringToObject(r, "deployment", "hybrid: neurocores and host");
  cJSON_AddStringToObject(r, "executed", "no: the emulator runs chains of Dense + LIF layers; this hybrid is mapped and its traffic measured on the cpu backend's spikes");
  cJSON_AddNumberToObject(r, "cores", cores);
  cJSON_AddNumberToObject(r, "chips", chips);
  cJSON_AddNumberToObject(r, "cores_per_chip", cpc);
  cJSON_AddNumberToObject(r, "neurons_on_chip", (double)sum_neurons);
  cJSON_AddNumberToObject(r, "populations", npop);
  cJSON_AddNumberToObject(r, "memory_utilisation_mean", cores ? util_sum / cores : 0);
  cJSON_AddNumberToObject(r, "memory_utilisation_max", (double)max_bytes / L2_MEMORY_PER_CORE);
  cJSON_AddNumberToObject(r, "nodes_on_chip", chip_nodes);
  cJSON_AddNumberToObject(r, "nodes_routing", route_nodes);
  cJSON_AddNumberToObject(r, "nodes_on_host", host_nodes);
  cJSON_AddItemToObject(r, "host_ops", hostops);
  if (samples > 0) {
    cJSON *t = cJSON_AddObjectToObject(r, "per_step");
    cJSON_AddNumberToObject(t, "timesteps", T);
    cJSON_AddNumberToObject(t, "samples", calib->n);
    cJSON_AddNumberToObject(t, "input_values_host_to_chip", in_values);
    cJSON_AddNumberToObject(t, "values_host_to_chip", from_host);
    cJSON_AddNumberToObject(t, "spikes_and_values_chip_to_host", to_host);
    cJSON_AddNumberToObject(t, "spike_messages_on_chip", msg_core);
    cJSON_AddNumberToObject(t, "spike_messages_between_chips", msg_chip);
    cJSON_AddNumberToObject(t, "synaptic_ops_on_chip", chip_sops);
    cJSON_AddNumberToObject(t, "neuron_updates_on_chip", chip_updates);
    cJSON_AddNumberToObject(t, "float_evaluations_on_host", host_float);
  }
  if (json) *json = cJSON_Print(r);
  if (text) {
    char ops[1024] = "";
    for (cJSON *it = hostops->child; it; it = it->next) {
      char one[96];
      snprintf(one, sizeof one, "%s%s %d", *ops ? ", " : "", it->string, (int)it->valuedouble);
      strncat(ops, one, sizeof ops - strlen(ops) - 1);
    }
    char *a = sf_strfmt("Loihi 2 mapping: a hybrid. %d nodes on neurocores (%d populations, %lld neurons), %d routing, %d on the host (%s)\n"
                        "  %d neurocores on %d chip%s (%d cores per chip); memory per core %.1f%% mean, %.1f%% max\n",
                        chip_nodes, npop, (long long)sum_neurons, route_nodes, host_nodes, ops, cores, chips, chips == 1 ? "" : "s", cpc,
                        cores ? 100.0 * util_sum / cores : 0.0, 100.0 * (double)max_bytes / L2_MEMORY_PER_CORE);
    char *b = samples > 0 ? sf_strfmt("  per step and sample (cpu backend's spikes, %lld calibration images, T=%d): host -> chip %.0f input currents + %.0f values; "
                                      "chip -> host %.1f spikes and values; %.1f spike messages on chip, %.1f between chips; %.0f synaptic ops and %.0f neuron updates "
                                      "on chip, %.0f float evaluations on the host\n",
                                      (long long)calib->n, T, in_values, from_host, to_host, msg_core, msg_chip, chip_sops, chip_updates, host_float)
                              : sf_strdup("");
    *text = a && b ? sf_strfmt("%s%s  executed: no. The loihi2 emulator runs chains of Dense + LIF layers (an MLP); this hybrid is mapped, not run.\n", a, b) : NULL;
    free(a);
    free(b);
  }
  cJSON_Delete(r);
  if ((json && !*json) || (text && !*text)) st = sf_error(SF_ERR_NOMEM, "out of memory");
out:
  free(place);
  free(consumer_neuron);
  free(pops);
  free(spk);
  free(sops);
  free(fops);
  free(pop_of);
  sf_graph_free(g);
  return st;
}

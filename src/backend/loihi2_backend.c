/* The "loihi2" backend: compile lowers the converted network to Lava's fixed-point Dense + CUBA LIF
 * models (loihi2_lower.c) and places it on neurocores (loihi2_map.c); deploy and execute run the
 * bit-accurate emulator (loihi2_emu.c); profile gives its counters, and the mapping report
 * (sf_loihi2_report_*) the cores, chips and measured traffic. The decoded output at step t follows
 * the netx file's conventions (docs/loihi2.md): the output layer's voltage v_t (readout "voltage"),
 * or its spike counts so far (readout "spikes"), so eval's accuracy is what a Lava user gets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend_impl.h"
#include "backend/loihi2_net.h"
#include "convert/convert_internal.h"
#include "core/util.h"
#include "spikeformer/loihi2.h"

void sf_loihi2_options_default(sf_loihi2_options *o) {
  memset(o, 0, sizeof *o);
  o->family = 0;
  o->sdnn_vth = 0.1f;
  o->input_exp = 8;
  o->input_rate = 0; /* auto */
  o->vth_scale = 0;  /* auto */
  o->design_timesteps = 64;
  o->weight_percentile = 99.9;
  o->cores_per_chip = 128;
  o->fault_seed = 1;
}

static void l2_target_default(void *t) { sf_loihi2_options_default(t); }

static const sf_backend_key l2_keys[] = {
    {"family", "neurons: auto (default: sdnn for delta-coded models, cuba otherwise), cuba (CUBA LIF, binary spikes) or sdnn (sigma-delta, graded spikes)"},
    {"sdnn_vth", "sdnn: a neuron sends a change once it reaches this fraction of its layer's median range (default 0.1, chosen on validation data)"},
    {"input_exp", "E: an input x enters its input neuron as round(x 2^E) at every step (default 8)"},
    {"input_rate", "an input neuron spikes once per this much accumulated input (default auto: T / 16 within [1, 2], T the model's; below 1 clips x above it)"},
    {"vth_scale", "every hidden threshold times this (default auto: T / 16 within [0.5, 2]); above 1: fewer spikes, less lost to reset to zero"},
    {"weight_percentile", "hidden layers: this percentile of |weight / threshold| maps to the largest weight, 254; the rest are clipped (default 99.9, chosen on validation data)"},
    {"design_timesteps", "steps the output layer's 24-bit voltage must hold without saturating (default 64)"},
    {"cores_per_chip", "neurocores per chip (default 128)"},
    {"max_chips", "refuse a mapping that needs more chips (default 0: no limit)"},
    {"exclude_cores", "failed cores to map around: a comma-separated list of global core numbers (chip * cores_per_chip + core), ranges as A-B"},
    {"fault_dead", "fraction of neurons that never spike (default 0)"},
    {"fault_stuck", "fraction of neurons that spike at every step (default 0)"},
    {"fault_drop", "probability that a spike message to a core is lost (default 0)"},
    {"fault_seed", "which neurons and messages fail (default 1)"},
    {"mask_stuck", "N > 0: before the first run, a self-test on the blank input and the first N inputs masks neurons that spike at every step (default 0: off)"},
    {"trace", "write per sample a hash of all its spikes and its final readout to this file (bit-exactness checks against Lava)"},
    {NULL, NULL}};

static sf_status parse_num(const char *key, const char *value, double lo, double hi, double *out) {
  char *end;
  double x = strtod(value, &end);
  if (end == value || *end || !(x >= lo && x <= hi)) return sf_error(SF_ERR_ARG, "loihi2 backend: %s takes a number from %g to %g, not '%s'", key, lo, hi, value);
  *out = x;
  return SF_OK;
}

static sf_status parse_cores(sf_loihi2_options *o, const char *value) {
  o->n_excluded = 0;
  const char *p = value;
  while (*p) {
    char *end;
    long a = strtol(p, &end, 10), b = a;
    if (end == p || a < 0) return sf_error(SF_ERR_ARG, "loihi2 backend: exclude_cores: expected core numbers like 3,7,10-12 at '%s'", p);
    p = end;
    if (*p == '-') {
      b = strtol(p + 1, &end, 10);
      if (end == p + 1 || b < a) return sf_error(SF_ERR_ARG, "loihi2 backend: exclude_cores: bad range at '%s'", p);
      p = end;
    }
    for (long c = a; c <= b; c++) {
      if (o->n_excluded == SF_LOIHI2_MAX_EXCLUDED) return sf_error(SF_ERR_ARG, "loihi2 backend: exclude_cores: at most %d cores", SF_LOIHI2_MAX_EXCLUDED);
      o->excluded[o->n_excluded++] = (int)c;
    }
    if (*p == ',') p++;
    else if (*p) return sf_error(SF_ERR_ARG, "loihi2 backend: exclude_cores: unexpected '%c' in '%s'", *p, value);
  }
  return SF_OK;
}

static sf_status l2_target_set(void *target, const char *key, const char *value) {
  sf_loihi2_options *o = target;
  double x = 0;
  sf_status st = SF_OK;
  if (!strcmp(key, "family")) {
    if (!strcmp(value, "auto")) o->family = 0;
    else if (!strcmp(value, "cuba")) o->family = 1;
    else if (!strcmp(value, "sdnn")) o->family = 2;
    else return sf_error(SF_ERR_ARG, "loihi2 backend: family takes auto, cuba or sdnn, not '%s'", value);
  } else if (!strcmp(key, "sdnn_vth")) { if (!(st = parse_num(key, value, 1.0 / 65536, 64, &x))) o->sdnn_vth = (float)x; }
  else if (!strcmp(key, "input_exp")) { if (!(st = parse_num(key, value, 0, 14, &x))) o->input_exp = (int)x; }
  else if (!strcmp(key, "input_rate")) { if (!strcmp(value, "auto")) o->input_rate = 0; else if (!(st = parse_num(key, value, 1.0 / 64, 512, &x))) o->input_rate = (float)x; }
  else if (!strcmp(key, "vth_scale")) { if (!strcmp(value, "auto")) o->vth_scale = 0; else if (!(st = parse_num(key, value, 1.0 / 64, 64, &x))) o->vth_scale = (float)x; }
  else if (!strcmp(key, "weight_percentile")) { if (!(st = parse_num(key, value, 50, 100, &x))) o->weight_percentile = x; }
  else if (!strcmp(key, "design_timesteps")) { if (!(st = parse_num(key, value, 1, 1 << 20, &x))) o->design_timesteps = (int)x; }
  else if (!strcmp(key, "cores_per_chip")) { if (!(st = parse_num(key, value, 1, 1024, &x))) o->cores_per_chip = (int)x; }
  else if (!strcmp(key, "max_chips")) { if (!(st = parse_num(key, value, 0, 1 << 20, &x))) o->max_chips = (int)x; }
  else if (!strcmp(key, "exclude_cores")) st = parse_cores(o, value);
  else if (!strcmp(key, "fault_dead")) { if (!(st = parse_num(key, value, 0, 1, &x))) o->fault_dead = x; }
  else if (!strcmp(key, "fault_stuck")) { if (!(st = parse_num(key, value, 0, 1, &x))) o->fault_stuck = x; }
  else if (!strcmp(key, "fault_drop")) { if (!(st = parse_num(key, value, 0, 1, &x))) o->fault_drop = x; }
  else if (!strcmp(key, "mask_stuck")) { if (!(st = parse_num(key, value, 0, 65536, &x))) o->mask_stuck = (int)x; }
  else if (!strcmp(key, "fault_seed")) { if (!(st = parse_num(key, value, 0, 9007199254740992.0, &x))) o->fault_seed = (uint64_t)x; }
  else if (!strcmp(key, "trace")) {
    if (strlen(value) >= sizeof o->trace) return sf_error(SF_ERR_ARG, "loihi2 backend: trace path too long");
    snprintf(o->trace, sizeof o->trace, "%s", value);
  }
  if (!st && o->fault_dead + o->fault_stuck > 1) st = sf_error(SF_ERR_ARG, "loihi2 backend: fault_dead + fault_stuck exceed 1");
  return st;
}

static char *l2_target_describe(const void *target) {
  const sf_loihi2_options *o = target;
  return sf_strfmt("family=%s sdnn_vth=%g input_exp=%d input_rate=%g (0: auto) vth_scale=%g (0: auto) design_timesteps=%d cores_per_chip=%d max_chips=%d excluded_cores=%d fault_dead=%g fault_stuck=%g fault_drop=%g",
                   o->family == 1 ? "cuba" : o->family == 2 ? "sdnn" : "auto", (double)o->sdnn_vth, o->input_exp, (double)o->input_rate, (double)o->vth_scale, o->design_timesteps, o->cores_per_chip, o->max_chips, o->n_excluded, o->fault_dead,
                   o->fault_stuck, o->fault_drop);
}

static int l2_supports_node(const sf_graph *g, int i, const char **why) {
  const char *op = g->nodes[i].op_type;
  if (!strcmp(op, "Linear") || !strcmp(op, "Conv") || !strcmp(op, "Neuron") || !strcmp(op, "Flatten") || !strcmp(op, "Reshape")) return 1;
  if (!strcmp(op, "MaxPool")) return 1; /* on spikes: their OR (loihi2_lower.c) */
  *why = "Loihi 2's neurocores run Dense and Conv synapses into LIF or sigma-delta neurons; this op is neither (it would run on the host)";
  return 0;
}

static void l2_free_compiled(void *p) {
  l2_compiled *c = p;
  if (!c) return;
  l2_net_free(&c->net);
  l2_map_free(&c->map);
  free(c);
}

/* The rates the lowering aims at follow the T the model was converted for: Lava's LIF resets to
 * zero, losing about half an input increment at every spike, so the fewer spikes a value takes the
 * less it loses, while at small T the pipeline (a step per layer) and the membranes starting at 0
 * leave few steps to spike in. Chosen on validation data (training split) of the shipped MLP:
 * docs/loihi2.md. */
static float auto_scale(const sf_snn_model *m) {
  const float s = (float)sf_snn_model_options(m)->snn.timesteps / 16.0f;
  return s < 0.5f ? 0.5f : s > 2.0f ? 2.0f : s;
}

sf_status sf_loihi2_lower_model(const sf_snn_model *m, const sf_loihi2_options *oin, l2_net *net) {
  sf_loihi2_options o1 = *oin;
  const sf_loihi2_options *o = &o1;
  /* never below 1: an input neuron spikes at most once a step, so a lower rate would clip every x above it */
  if (!(o1.input_rate > 0)) o1.input_rate = auto_scale(m) < 1.0f ? 1.0f : auto_scale(m);
  if (!(o1.vth_scale > 0)) o1.vth_scale = auto_scale(m);
  sf_graph *g = NULL;
  sf_status st = sf_snn_model_build(m, 1, &g);
  if (st) return st;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    const char *why;
    if (!l2_supports_node(g, i, &why)) st = sf_error(SF_ERR_UNSUPPORTED, "loihi2 backend: node '%s' (%s): %s", g->nodes[i].name, g->nodes[i].op_type, why);
  }
  if (!st) st = l2_lower(g, sf_snn_model_options(m), o, net);
  sf_graph_free(g);
  return st;
}

static sf_status l2_compile(const sf_backend *b, const sf_snn_model *m, const sf_backend_options *bo, void **state) {
  (void)b;
  if (bo->encoding != SF_ENCODE_DIRECT)
    return sf_error(SF_ERR_UNSUPPORTED, "loihi2 backend: the input enters the input neurons as integer currents (direct encoding), not %s", sf_encoding_name(bo->encoding));
  l2_compiled *c = calloc(1, sizeof *c);
  if (!c) return sf_error(SF_ERR_NOMEM, "out of memory");
  c->o = *(const sf_loihi2_options *)bo->target;
  sf_status st = sf_loihi2_lower_model(m, &c->o, &c->net);
  if (!st) st = l2_map_build(&c->net, &c->o, &c->map);
  if (st) { l2_free_compiled(c); return st; }
  *state = c;
  return SF_OK;
}

static void l2_free_deployed(void *p) {
  l2_deployed *d = p;
  if (!d) return;
  l2_emu_free(&d->emu);
  if (d->trace) fclose(d->trace);
  free(d);
}

static sf_status l2_deploy(void *compiled, int64_t batch, void **state) {
  const l2_compiled *c = compiled;
  l2_deployed *d = calloc(1, sizeof *d);
  if (!d) return sf_error(SF_ERR_NOMEM, "out of memory");
  d->c = c;
  d->batch = batch;
  sf_status st = l2_emu_init(&d->emu, &c->net, &c->map, &c->o);
  if (!st && c->o.trace[0] && !(d->trace = fopen(c->o.trace, "w"))) st = sf_error(SF_ERR_IO, "loihi2 backend: cannot write the trace file '%s'", c->o.trace);
  if (st) { l2_free_deployed(d); return st; }
  *state = d;
  return SF_OK;
}

static sf_status l2_execute(void *deployed, const sf_tensor *input, int T, sf_snn_step_fn cb, void *user) {
  l2_deployed *d = deployed;
  const l2_net *n = &d->c->net;
  const int64_t B = input->ndim ? input->shape[0] : 1;
  if (input->dtype != SF_F32 || sf_tensor_numel(input) != B * n->input_n)
    return sf_error(SF_ERR_SHAPE, "loihi2 backend: expected float32 input of %lld samples x %lld values", (long long)B, (long long)n->input_n);
  const int64_t bad = sf_tensor_find_nonfinite(input);
  if (bad >= 0) return sf_snn_input_nonfinite(bad / n->input_n, B, bad % n->input_n);
  const int64_t nout = n->layers[n->n_layers - 1].n;
  float *r = malloc(sizeof(float) * (size_t)(B * T * nout));
  uint64_t *h = d->trace ? malloc(sizeof(uint64_t) * (size_t)B) : NULL;
  int64_t *fin = d->trace ? malloc(sizeof(int64_t) * (size_t)(B * nout)) : NULL;
  sf_status st = !r || (d->trace && (!h || !fin)) ? sf_error(SF_ERR_NOMEM, "out of memory") : SF_OK;
  if (!st && d->c->o.mask_stuck > 0 && !d->emu.self_tested) st = l2_emu_self_test(&d->emu, input->data, B < d->c->o.mask_stuck ? B : d->c->o.mask_stuck, T);
  if (!st) st = l2_emu_run(&d->emu, input->data, B, T, r, h, fin);
  if (!st && d->trace) {
    for (int64_t b = 0; b < B; b++) {
      fprintf(d->trace, "%lld %016llx", (long long)(d->traced + b), (unsigned long long)h[b]);
      for (int64_t j = 0; j < nout; j++) fprintf(d->trace, " %lld", (long long)fin[b * nout + j]);
      fputc('\n', d->trace);
    }
    fflush(d->trace);
    d->traced += B;
  }
  if (!st && cb) {
    float *step = malloc(sizeof(float) * (size_t)(B * nout));
    if (!step) st = sf_error(SF_ERR_NOMEM, "out of memory");
    sf_tensor out = {0};
    out.dtype = SF_F32;
    out.ndim = 2;
    out.shape[0] = B;
    out.shape[1] = nout;
    out.data = step;
    for (int t = 1; !st && t <= T; t++) {
      for (int64_t b = 0; b < B; b++) memcpy(step + b * nout, r + ((size_t)b * (size_t)T + (size_t)(t - 1)) * (size_t)nout, sizeof(float) * (size_t)nout);
      if (cb(t, &out, user)) break;
    }
    free(step);
  }
  free(r);
  free(h);
  free(fin);
  return st;
}

static int l2_profile_count(const void *deployed) { return ((const l2_deployed *)deployed)->c->net.n_layers; }

static void l2_profile(const void *deployed, int i, sf_snn_node_stats *out) {
  const l2_deployed *d = deployed;
  const l2_layer *L = &d->c->net.layers[i];
  const l2_counts *k = &d->emu.layer[i];
  memset(out, 0, sizeof *out);
  out->name = L->name;
  out->op_type = L->kind == L2_INPUT ? "Input+LIF" : "Dense+LIF";
  out->mode = SF_MODE_NEURON;
  out->neurons = L->n;
  out->spikes = k->spikes;
  out->sops = k->sops;
  out->events = i > 0 ? d->emu.layer[i - 1].spikes : 0;
  out->neuron_updates = k->neuron_updates;
  out->spike_input = i > 0;
  out->int8 = 1;
}

static void l2_profile_step(const void *deployed, int t, double out[4]) {
  const l2_deployed *d = deployed;
  out[0] = out[1] = out[2] = out[3] = 0;
  if (t < 1 || t > d->emu.T_cap) return;
  out[0] = d->emu.step_sops[t - 1];
  out[3] = d->emu.step_updates[t - 1];
}

static const char *l2_kernels(const void *deployed) {
  (void)deployed;
  return "lava-bitacc";
}

const sf_backend sf_backend_loihi2 = {{"loihi2", "Intel Loihi 2: bit-accurate emulator of Lava's fixed-point Dense + CUBA LIF models, with the neurocore mapping",
                                       sizeof(sf_loihi2_options), l2_target_default, l2_target_set, l2_keys, l2_target_describe, l2_supports_node,
                                       l2_compile, l2_deploy, l2_execute, NULL, l2_profile_count, l2_profile, l2_profile_step, NULL, l2_kernels,
                                       l2_free_deployed, l2_free_compiled}};


/* The lowered Loihi 2 network (CUBA family): what the netx file holds and what the emulator runs.
 *
 *   layer 0   input neurons [n0]: a_in = round(x 2^E) at every step
 *   layer l   Dense [n_l x n_(l-1)] int weights on the binary spikes of layer l-1 (sent one step
 *             later), then CUBA LIF neurons [n_l] with one threshold vth_l and a bias mantissa each
 *   last      readout: the final voltage (an output layer that never spikes) or spike counts
 *
 * Neuron dynamics (Lava's PyLifModelBitAcc, all integers):
 *   u = sgn(u (4096 - du - 1)) (|u (4096 - du - 1)| >> 12) + (a << 6), wrapped into 24 bits
 *   v = clip(sgn(v (4096 - dv)) (|v (4096 - dv)| >> 12) + u + (bias << 6), +-(2^23 - 1))
 *   s = v > vth << 6;  v = 0 where s */
#ifndef SF_BACKEND_LOIHI2_NET_H
#define SF_BACKEND_LOIHI2_NET_H
#include <stdint.h>
#include <stdio.h>

#include "graph/graph.h"
#include "spikeformer/loihi2.h"

typedef enum { L2_INPUT = 0, L2_DENSE, L2_CONV } l2_kind;

/* a convolution's geometry (Lava's Conv: NCHW of one sample, PyTorch's cross-correlation) */
typedef struct {
  int64_t cin, hin, win, cout, hout, wout, kh, kw, sy, sx, py, px, dy, dx, groups;
} l2_conv;
typedef enum { L2_READ_NONE = 0, L2_READ_VOLTAGE, L2_READ_SPIKES, L2_READ_SIGMA } l2_readout;
/* the neuron process of a layer: CUBA LIF (binary spikes), or lava-dl's SDNN family (graded spikes):
 * Delta (the input layer), SigmaDelta (ReLU), Sigma (an output layer that sends its running sum) */
typedef enum { L2_LIF = 0, L2_DELTA, L2_SIGMA_DELTA, L2_SIGMA } l2_neuron;

/* Sigma-delta, Lava's PyDeltaModelFixed / PySigmaDeltaModelFixed / PySigmaModelFixed with netx's
 * spike_exp = state_exp = 6 (vth and bias scaled by 2^12 when the process is made):
 *   Delta:      act' = a << 12;                 delta = act' - act + residue
 *   SigmaDelta: sigma += a; act' = max(sigma + bias 2^12, 0); delta = act' - act + residue
 *   both:       s' = delta where |delta| >= vth 2^12, else 0; residue = delta - s'; act = act';
 *               the graded spike sent is s' >> 6
 *   Sigma:      sigma += a; sends sigma
 * Dense on graded spikes: a = sum_k w[k][j] s_k (int32), one step later. */
#define L2_SDNN_SHIFT 12
#define L2_SDNN_STATE_EXP 6

#define L2_UV_MAX (1 << 23)
#define L2_VTH_MAX 131071     /* 17-bit threshold mantissa */
#define L2_BIAS_MAX 4095      /* 13-bit signed bias mantissa */
#define L2_W_MAX 254          /* mixed-sign weights as netx keeps them: [-256, 254] */
#define L2_W_MIN (-256)

typedef struct {
  l2_kind kind;
  l2_neuron neuron;
  char name[160];          /* the source nodes it stands for */
  int64_t n, n_in;         /* neurons; neurons of the layer before (Dense inputs) */
  int64_t shape[4];        /* the neurons' shape (input: the sample's, C H W) */
  int ndim;
  int flatten_before;      /* a Flatten sits between the layer before and this one */
  int16_t *w;              /* Dense: [n_in][n], input-major for event-driven accumulation; Conv: [cout][cin/groups][kh][kw] */
  l2_conv conv;            /* Conv: the geometry */
  int is_pool;             /* Conv: a max pooling of binary spikes, lowered as their OR (weights 1, vth 0) */
  int64_t *row;            /* Conv: the synapses of input k are col/val[row[k] .. row[k+1]) (input-major, for events) */
  int32_t *col;
  int16_t *val;
  int32_t *bias_ch;        /* Conv: [cout] bias mantissas per channel (bias holds them per neuron) */
  int32_t *bias;           /* [n] bias mantissas (LIF: exponent 6; SigmaDelta: times 2^12), or NULL */
  int du, dv;              /* Lava's du, dv (netx iDecay = du + 1, vDecay = dv) */
  int32_t vth;             /* threshold mantissa (SDNN: vThMant, times 2^12 at run time) */
  l2_readout readout;      /* last layer only */
  double unit;             /* float value of one unit of this layer's voltage (x, or threshold / (vth + 1)) */
  int64_t clipped_w, clipped_b; /* weights and biases that did not fit (clipped) */
} l2_layer;

typedef enum { L2_FAMILY_CUBA = 1, L2_FAMILY_SDNN = 2 } l2_family;

typedef struct {
  int n_layers;
  l2_layer *layers;
  l2_family family;
  int input_exp;
  int64_t input_n;         /* input elements per sample */
  /* what the lowering changed, for the report */
  int reset_to_zero;       /* the model resets by subtraction: Loihi's LIF resets to zero */
  int was_burst;           /* burst neurons (K spikes a step) lowered to binary ones */
  int or_pool;             /* max pooling lowered as the OR of spikes */
  float leak;              /* the model's leak (1: IF) */
  float input_rate, vth_scale; /* as lowered (auto resolved) */
} l2_net;

/* Lower the spiking graph (one sample) of a converted model. Refuses, naming the node, what the
 * chain of input -> [Flatten] -> Linear -> Neuron -> ... -> Linear does not hold. */
sf_status l2_lower(const sf_graph *g, const sf_convert_options *conv, const sf_loihi2_options *o, l2_net *out);
void l2_net_free(l2_net *n);

/* ---- mapping onto neurocores (loihi2_map.c) ---- */
typedef struct {
  int layer;               /* layer whose neurons it holds (first of them when it packs several) */
  int64_t n0, n1;          /* global neuron range [n0, n1) in layer order */
  int64_t neurons, synapse_bytes, axons_in;
  int global_core;         /* chip * cores_per_chip + core */
} l2_core;

typedef struct {
  int n_cores, n_chips;
  l2_core *cores;
  int64_t *core_of;        /* [total neurons]: core index in cores[] */
  int64_t *layer_offset;   /* [n_layers + 1]: first global neuron of each layer */
  int excluded_used;       /* excluded cores skipped over */
} l2_map;

/* Per-core limits (sources in loihi2_map.c and docs/loihi2.md). */
#define L2_NEURONS_PER_CORE 8192
#define L2_MEMORY_PER_CORE (192 * 1024)
#define L2_AXONS_IN_PER_CORE 4096
#define L2_AXONS_OUT_PER_CORE 4096
#define L2_STATE_BYTES_PER_NEURON 8

sf_status l2_map_build(const l2_net *n, const sf_loihi2_options *o, l2_map *out);
/* whether global core gc is among o's excluded (failed) cores */
int l2_core_excluded(const sf_loihi2_options *o, int gc);
void l2_map_free(l2_map *m);

/* ---- the emulator (loihi2_emu.c) ---- */
typedef struct {
  double spikes, messages_core, messages_inter_core, messages_inter_chip, host_in, host_out;
  double sops, neuron_updates, saturated_v, wrapped_u;
} l2_counts;

typedef struct {
  const l2_net *net;
  const l2_map *map;
  const sf_loihi2_options *o;
  /* per layer counters over every run: [n_layers] */
  l2_counts *layer;
  double *step_sops, *step_updates; /* [T_cap] summed over layers and samples */
  int T_cap;
  double samples;
  /* per-neuron faults: 0 none, 1 dead, 2 stuck, over all neurons in layer order */
  uint8_t *fault;
  int has_faults;
  uint8_t *masked;          /* [total neurons]: found stuck by the self-test, their spikes dropped (NULL: none) */
  int64_t n_masked;
  int self_tested;
  int32_t **bias12;        /* [n_layers]: sigma-delta biases times 2^12 (Lava scales them when the process is made), or NULL */
} l2_emu;

sf_status l2_emu_init(l2_emu *e, const l2_net *n, const l2_map *m, const sf_loihi2_options *o);
void l2_emu_free(l2_emu *e);
/* Run `B` samples x [input_n] for T steps; readout[b][t][n_out] as float (decoded output at every
 * step); hash[b] (FNV-1a of every spike, see docs/loihi2.md) and final readout ints[b][n_out] if
 * not NULL. Threads over samples; counters merged. */
sf_status l2_emu_run(l2_emu *e, const float *x, int64_t B, int T, float *readout, uint64_t *hash, int64_t *final_ints);
/* The self-test a deployment runs before its first inference (mask_stuck): the blank input and the
 * first n samples of x for T steps; a neuron (output layer aside) that spiked at every step of every
 * one of them is taken for stuck and masked: its spikes are dropped from then on, as a chip maps out
 * a failed neuron. The counters are left as they were. */
sf_status l2_emu_self_test(l2_emu *e, const float *x, int64_t n, int T);

/* ---- the backend's compiled and deployed states (loihi2_backend.c, loihi2_report.c) ---- */
typedef struct {
  sf_loihi2_options o;
  l2_net net;
  l2_map map;
} l2_compiled;

typedef struct {
  const l2_compiled *c;
  l2_emu emu;
  int64_t batch, traced; /* samples traced so far */
  FILE *trace;
} l2_deployed;

/* The mapping of a model that is not a chain (loihi2_hybrid.c): nodes on neurocores and on the
 * host, cores and chips, traffic per step measured on the cpu backend with calib (may be NULL). */
sf_status sf_loihi2_hybrid_report(const sf_snn_model *m, const sf_loihi2_options *o, const sf_dataset *calib, int T, char **json, char **text);

/* Lower a converted model (its one-sample spiking graph), refusing nodes Loihi 2 cannot run. */
sf_status sf_loihi2_lower_model(const sf_snn_model *m, const sf_loihi2_options *o, l2_net *net);

#endif

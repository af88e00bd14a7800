/* Internal state of a spiking session, shared by the step-major executor (snn_exec.c) and the
 * time-major runner of int8 feed-forward chains (snn_chain.c). Not a public header. */
#ifndef SF_SNN_SESSION_H
#define SF_SNN_SESSION_H
#include <stdint.h>
#include <time.h>

#include "graph/graph.h"
#include "ops/ops.h"
#include "snn/ec_rows.h"
#include "spikeformer/rng.h"
#include "spikeformer/snn.h"

typedef enum { M_LINEAR, M_PRODUCT, M_EC, M_NEURON } mode;

/* A neuron node (mode neuron): its parameters, its membranes (float or int32 in units), and what
 * it emitted this step. Everything a neuron model needs on its own (an emulator, a trainer that
 * saves the membrane per step) is here: v / vi are the whole state across steps. */
typedef struct {
  int K, is_signed, axis;
  int code_binary;    /* a burst of k spikes travels as popcount(k) weighted spikes (K > 1) */
  int planes;         /* ... bits of K: the accumulators per target that the shifts combine */
  float leak;
  int reset_zero;     /* reset to zero (spike when u > theta) instead of by subtraction (node attribute "reset") */
  float v_init;       /* membrane at the start of a run / theta (node attribute "v_init", default 0.5) */
  int64_t inner, C;   /* channel mapping: c = (i / inner) % C */
  const float *theta;
  float *inv_theta;   /* 1 / theta, per channel */
  int64_t ntheta;
  float *v;           /* membrane (float runtime) */
  double step_spikes, step_nz;  /* spikes sent (unit spikes, or popcount(|k|) when binary-coded) and non-zero outputs of the current step */
  int pending;        /* delta coding: a burst was cut at K last step, so it may fire without input */
  /* int32 membrane (sf_snn_set_quant) */
  int fed_by;         /* the int8 linear whose accumulators are its input current, or -1 */
  int8_t *kq;         /* signed spike counts of this step [on + 4] */
  int32_t *vi;        /* membrane in units */
  int32_t *Th;        /* threshold in units, per unit channel */
  float *inv_unit;    /* 1 / unit, per unit channel (inputs that arrive as float currents) */
  int64_t qC, qinner; /* unit channel of element e = (e / qinner) % qC */
  int64_t qchunk;     /* elements per block; the tables below give each position's channel values */
  int32_t *ThE; float *iThE, *iuE, *thE;
  int32_t Th_max;     /* the largest threshold in units */
  int Th_shift;       /* s when every threshold is 2^s units, else -1 */
  int32_t *xin;       /* a constant input current in units (set at t = 1) */
  int y_skip;         /* every consumer is an int8 linear reading kq: no float output */
} snn_neuron;

/* A linear node (mode linear) with weights: which synaptic path ran, and its int8 tables when it
 * runs quantised (fed by spikes, or the analog input layer); delta coding's constant offset of a
 * generic linear op. */
typedef struct {
  int64_t steps_event, steps_dense; /* which synaptic path ran */
  int feeds;          /* int8 linear: the neuron it feeds directly (its only consumer), or -1 */
  int q_in;           /* on the constant (analog) input: int8 weights and int8 inputs quantised per sample */
  int q_shared;       /* Wq, Wp, colsum, wscale belong to a donor session (sf_snn_set_quant_shared) */
  int8_t *xq8;        /* ... its inputs [rows, qK + 4] */
  float *xscale;      /* ... their scale per sample */
  uint8_t *xu8;       /* ... 1 where a sample's inputs are all >= 0 (unsigned 8-bit codes) */
  int8_t *Wq, *Wp;    /* int8 weights [K, N] and packed for the dense path */
  int16_t *W16;       /* in a time-major chain fed by binary neurons: Wq widened in panels (spike_lists_q8.h) */
  int w16_shared;     /* ... W16 belongs to the donor session */
  int qkmax;          /* largest |spike count| its source emits */
  int8_t *xq;         /* source reached through reordering layout ops: its input's counts, rebuilt each step */
  float *inv_thx;     /* ... and 1 / theta per input position within a row [qK] */
  int32_t *colsum, *bq, *acc; /* column sums, bias in units [N], accumulators [rows, N] */
  float *wscale;      /* weight scale per column (one unit of the accumulator) */
  int64_t qK, qN;
  float *off;         /* delta coding, a linear op with constant inputs (generic path): its output on zero inputs, */
  int off_state;      /* ... subtracted at t > 1 (0 not yet computed, 1 computed, 2 all zero; allocated then) */
} snn_synapse;

/* An expectation-compensated node (mode ec) or a product of two spike streams (mode product): the
 * running sums of its inputs and its previous cumulative output, the state across steps. */
typedef struct {
  float **cum;        /* per input: running sum (non-constant inputs) */
  float *prev;        /* t * f at the previous step */
  int bilinear;       /* product of exactly two dynamic inputs, linear in each (MatMul, Mul) */
  sf_ec_rows_op rows; /* GELU, LayerNorm or softmax fused with its running sums (ec_rows.h), or kind NONE */
} snn_ec;

/* Per node: its mode, what every mode has, and the state of its mode (only that group is used). */
typedef struct {
  mode m;
  double macs_per_input; /* fan-out per input element (linear/product): its mean over the inputs, the non-zero
                            weights only (a pruned weight makes no synaptic operation) */
  float *fan;         /* linear with zero weights (Linear / Gemm / MatMul): the non-zero weights of each input
                         feature [fan_k], so that a spike costs exactly its own fan-out; NULL: all equal */
  int64_t fan_k;
  int spike_in;       /* input 0 is spike-valued */
  int is_static;      /* every dynamic input is constant over time: computed at t = 1 only */
  int alias;          /* order-keeping layout op: its output is its input's buffer, nothing to run */
  /* where input 0 (and 1, products) comes from: the neuron node reached through layout ops, or -1;
   * src_exact: only element-order-preserving layout ops in between */
  int src[2], src_exact[2];
  int q;              /* linear: runs on int8 weights; neuron: int32 membrane (sf_snn_set_quant) */
  snn_neuron nrn;     /* mode neuron */
  snn_synapse syn;    /* mode linear */
  snn_ec ec;          /* modes ec and product */
  sf_snn_node_stats st;
} node_state;

struct sf_snn_session {
  const sf_graph *g;
  sf_spiking_config cfg;
  sf_decoder decoder;
  sf_spike_path path;
  float event_max_activity;
  float **inc;        /* per value: increments of the current step (NULL for constants) */
  node_state *ns;
  int *spike_valued;  /* per value */
  int *static_v;      /* per value: the same increment every step (direct-coded input and what follows it up to a neuron) */
  float *cum_out;     /* first graph output: running sum */
  float *counts;      /* decode buffer */
  float *spk_count;   /* spike-count decoder: output neurons' counts */
  float *spk_v;       /* ... their membranes */
  float *spk_theta;   /* ... per-sample thresholds */
  sf_tensor dec;
  sf_rng rng;
  /* per-timestep totals over all layers (summed over runs): index t-1 */
  double *step_sops, *step_macs, *step_fops, *step_nupd;
  int step_cap;
  sf_quant quant;     /* float, or int8 weights with int32 membranes */
  int *producer;      /* per value: the node that writes it, or -1 */
  uint8_t *aliased;   /* per value: shares its producer's input buffer (order-keeping layout op) */
  /* spike raster of sample 0: per neuron node, the first raster_n neurons, per step */
  int raster_n, raster_T, raster_done;
  int8_t *raster;     /* [n_nodes][raster_T][raster_n] */
  /* increment buffers shared by values whose lifetimes within a step do not overlap */
  float **pool;
  int n_pool;
  uint8_t *pooled;    /* per value: its buffer belongs to the pool */
  /* ec / product scratch, shared by all nodes (used within one node's step, so it stays in cache):
   * the running means of up to n_scratch inputs, and f(means) before it becomes an increment */
  float **scratch_mean, *scratch_f;
  int n_scratch;
  /* time-major chain (sf_chain_plan): its node indices in order, or n_chain = 0 */
  int *chain, n_chain;
  float *chain_y;     /* decoded-layer currents of a block of steps [steps, rows, outputs] */
  int32_t *chain_idx; /* event positions of one row */
  int8_t *chain_S;    /* one sample's spike counts over a block of steps [steps, width] */
  int32_t *chain_acc; /* ... its currents [steps, width] */
  int16_t *chain_i16; /* ... their int16 sums on the event path [steps, width] */
  uint32_t *chain_bits; /* ... per input, the steps it fired at [width] */
  int32_t *chain_lists, *chain_counts; /* ... per step, the inputs that fired [steps, width + 16] and their number [steps] */
  int64_t chain_block; /* steps per block */
  int step_major;     /* sf_snn_set_schedule: 1 never runs the chain */
  /* delta coding (cfg.coding): what changed travels, nodes whose inputs did not change are skipped */
  int delta;
  int frames;         /* during sf_snn_run_frames: the input changes every step (no constant-input shortcuts) */
  uint8_t *silent;    /* per value, this step: 0 changed, 1 no change (buffer stale), 2 no change (buffer zeroed) */
  float *zeros;       /* zeros, as long as the longest dynamic value (also an all-zero int32 bias) */
  const sf_snn_session *donor; /* during sf_snn_set_quant_shared: whose int8 weight tables to share */
};

static inline int is_const(const sf_graph *g, int v) { return v >= 0 && g->values[v].t.data != NULL; }
static inline int64_t numel(const sf_graph *g, int v) { return sf_tensor_numel(&g->values[v].t); }

/* zeroed floats (at least one), or NULL */
float *sf_snn_alloc_f(int64_t n);
/* 1 for nodes that only move elements (Reshape, Transpose, ...) or take a max (max pooling after
 * the neuron): spikes pass through them */
int sf_snn_passes_spikes(const sf_node *nd);

static inline double sf_snn_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The neuron model on its own (snn_neuron.c): parameters and float membrane from a Neuron node
 * (the int32 state is set by sf_snn_set_quant), the membranes at theta / 2, and one float step of
 * the layer (on elements) giving the unit spikes and the non-zero outputs. */
sf_status snn_neuron_init(snn_neuron *nr, const sf_graph *g, const sf_node *nd);
void snn_neuron_reset(snn_neuron *nr, int64_t on, int int32_membrane);
void snn_neuron_step_f32(snn_neuron *nr, const float *x, float *y, int64_t on, double *spikes, double *nz);
void snn_neuron_free(snn_neuron *nr);

/* Buffer plan (snn_plan.c), after the nodes' modes and s->inc / s->producer are set: aliases of
 * order-keeping layout ops, then the pool of increment buffers shared by values whose lifetimes
 * within a step do not overlap. Each returns 0, or -1 when out of memory. */
int snn_plan_aliases(sf_snn_session *s);
int snn_plan_buffers(sf_snn_session *s);

/* sf_snn_run without the scan for non-finite inputs, for callers that checked the whole batch
 * (the CPU backend's shards). */
sf_status sf_snn_run_checked(sf_snn_session *s, const sf_tensor *input, int T, sf_snn_step_fn cb, void *user);

/* Time-major runner (snn_chain.c). sf_chain_plan: after int8 quantisation, recognise a chain
 * [neuron with a constant input current] -> (int8 linear -> int32 neuron)* -> int8 linear -> output
 * and record it in s->chain; 0 if the graph is not one, -1 out of memory. sf_chain_run: every step
 * of such a chain, one sample at a time (its state stays in L1), then the decoded outputs step by
 * step through decode_step; the constant prefix must have run at t = 1. */
typedef int (*sf_snn_decode_fn)(sf_snn_session *s, int t, const float *y, sf_snn_step_fn cb, void *user);
int sf_chain_plan(sf_snn_session *s);
sf_status sf_chain_run(sf_snn_session *s, int T, sf_snn_decode_fn decode_step, sf_snn_step_fn cb, void *user);

#endif

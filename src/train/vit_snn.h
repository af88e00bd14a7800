/* The spiking ViT as the converter builds it, trainable with BPTT and a surrogate gradient (issue 18's
 * hybrid training of a transformer).
 *
 * The converted ViT runs, at each step t, linear nodes on increments, products of spike streams in
 * their expectation form (cumulative A_t B_t / t) and expectation-compensated float nodes (cumulative
 * t f(mean_t)); snn_exec.c has the forms. Each of them makes the running mean of its output a
 * function of the running means of its inputs (linear: op(mean); product: mean_A mean_B; ec:
 * f(mean)). So at step t the whole network between neurons is the ANN evaluated on the running
 * means of the spikes, and only the neurons carry time:
 *   x_t = t m_t - (t - 1) m_(t-1)        the increment entering a neuron (m_t: the ANN's value at
 *                                        its site, on the step-t means)
 *   u_t = beta v_(t-1) + x_t; k_t = clamp(floor(u_t / theta), -K or 0, K); v_t = u_t - k_t theta;
 *   s_t = (s_(t-1) (t - 1) + k_t theta) / t   the spike mean the ANN reads at step t
 * with v_0 = theta / 2, as the runtime's neurons. The logits are the ANN's at step T (the mean of the
 * output's increments, which eval ranks).
 *
 * Sites, per layer, in the converter's order: LN1 out [B, S, E]; q | k | v [B, S, 3E] (one group:
 * thresholds [3E], the converter's three sites side by side); attention probabilities [B, H, S, S]
 * (thresholds per key, [S]); attention out [B, S, E] (heads side by side; thresholds per head
 * channel, [D]); LN2 out [B, S, E]; GELU out [B, S, F]; and the pooled CLS token [B, E] before the
 * head. A site's threshold for element e is theta[e mod C].
 *
 * Backward through time, from the last step: at step t the ANN's backward runs from the logits
 * (t = T only) and from every site, whose neuron turns dL/ds (the steps' means' gradients summed
 * into dL/dk_t theta) into dL/dm_t = t (dx_t - dx_(t+1)) with the surrogate g in place of the
 * step's derivative, taken on the dimensionless z = (u - j theta) / theta and scaled by 1 / theta:
 * with `triangle` (slope 1) the k theta staircase then passes gradients straight through inside its
 * range, as QCFS does. */
#ifndef SF_TRAIN_VIT_SNN_H
#define SF_TRAIN_VIT_SNN_H
#include <stdint.h>

#include "spikeformer/train.h"
#include "train/vit_net.h"

enum { VS_LN1, VS_QKV, VS_PROBS, VS_ATT, VS_LN2, VS_GELU, VS_PER_LAYER };
#define VS_MAX_SITES (VIT_MAX_LAYERS * VS_PER_LAYER + 1)

typedef struct {
  int64_t n;       /* values per image */
  int64_t C;       /* thresholds: element e has theta[e % C] */
  int64_t off;     /* first value of this site among a step's site values (per image) */
  float *theta, *dtheta; /* [C]: views into vit_snn.theta / dtheta */
  float fan_out;   /* synaptic operations one of its spikes causes downstream */
  float rate_weight; /* its spikes' weight in the rate penalty (fan_out over the neurons' mean fan-out) */
} vs_site;

typedef struct {
  vit_net *v;      /* the weights and their gradients (not owned) */
  int T, K, is_signed;
  int qcfs_levels;          /* > 0: qcfs mode, the ANN with QCFS quantisers of this many levels at the
                               sites (thresholds = their clip levels lambda), one pass; 0: spiking */
  float beta;      /* 1: IF; LIF's leak */
  sf_surrogate surrogate;
  float slope, rate_penalty;
  int detach_reset;
  int n_sites;
  vs_site site[VS_MAX_SITES];
  int64_t n_theta, neurons; /* thresholds; neurons per image (all sites) */
  float *theta, *dtheta;
  /* the forward's record for B images over T steps */
  int64_t B, cap;
  float *patches;           /* [B Np, Cin P P] the images' patches */
  float *x;                 /* [T, L + 1, B S E] residual stream */
  float *pre, *s, *u;       /* [T, B neurons]: site inputs m_t, spike means s_t, membranes u_t */
  int8_t *k;                /* [T, B neurons] spike counts */
  float *mean1, *rstd1, *mean2, *rstd2; /* [T, L, B S] */
  float *res1;              /* [T, L, B S E] */
  float *h;                 /* [T, L, B S F] GELU inputs */
  float *meanf, *rstdf;     /* [T, B S] */
  float *logits;            /* [B, classes] */
  /* per neuron state: forward (membrane, previous input mean, spike sum), backward (summed dL/ds,
   * the next step's dL/du), [B neurons] each */
  float *vm, *mprev, *ssum, *G, *dv;
  /* backward scratch of one step */
  float *dx, *dx0, *dres, *dln, *dqkv, *datt, *datty, *dh, *dg, *dpooled, *dsite, *dth_part;
  double spikes;            /* spikes of the last forward */
  double weighted_spikes;   /* the same, each weighted by its site's rate_weight */
} vit_snn;

/* The spiking form of v at T steps with neuron model (K spikes per step at most, signed), leak beta
 * (1: IF); thresholds start at 1 (vit_snn_set_thresholds sets them). */
sf_status vit_snn_init(vit_snn *n, vit_net *v, int T, int K, int is_signed, float beta);
void vit_snn_free(vit_snn *n);
/* Forward over T steps on img [B, Cin, H, W]: logits [B, classes] in n->logits, spikes in n->spikes. */
sf_status vit_snn_forward(vit_snn *n, const float *img, int64_t B);
/* Backward from dlogits [B, classes] (of the mean loss): adds to v->grads and n->dtheta. */
void vit_snn_backward(vit_snn *n, const float *dlogits);
/* The rate penalty's loss for the last forward: rate_penalty * weighted_spikes / (B T neurons): each
 * spike charged the synaptic operations it causes (relative to the mean), so that the penalty lowers
 * the energy where it is spent (an LN output feeds 3E products, a q spike S). */
double vit_snn_rate_loss(const vit_snn *n);
void vit_snn_zero_grad(vit_snn *n);

/* The converter's sites of the ViT (sf_site keys in the converter's order) onto n's: for each of
 * the n_keys sites, its group (index into n->site) and its first channel there; -1 where a key does
 * not fit (the message names it). */
sf_status vit_snn_map_sites(const vit_snn *n, int n_keys, const char *const *keys, const int64_t *channels, int *group, int64_t *first);

#endif

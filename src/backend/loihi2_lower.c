/* Lowering a converted spiking network to Loihi 2's fixed-point world (loihi2_net.h).
 *
 * The converted network runs, per neuron j, u_j += sum_k W[k][j] y_k + b_j with y_k the spike of
 * input k (theta_k, or the analog input x_k for the first layer) and a spike when u_j reaches
 * theta_j. Lava's LIF has one threshold per layer, so each neuron's row is divided by its own
 * threshold: with theta'_j = vth_scale theta_j and the spike of k worth val_k (theta'_k, or
 * input_rate for an input neuron),
 *   w[k][j] = round(W[k][j] val_k S / theta'_j),  bias_j = round(b_j S / theta'_j),  vth = S - 1
 * (Lava spikes when v > vth, i.e. at S units). S is the largest integer that keeps every weight
 * in [-256, 254]. The output layer (a Linear without a neuron) integrates without spiking:
 *   w[k][j] = round(W[k][j] val_k S),  bias_j = round(b_j S)
 * with S also bounded so that design_timesteps steps of every input spiking stay inside the 24-bit
 * voltage. Input: x enters input neuron i as round(x_i 2^E) per step, vth = round(input_rate 2^E) - 1.
 * Lava resets v to 0 (the converter resets by subtraction, keeping the residue) and starts v at 0
 * (the converter at theta / 2); burst neurons become binary: the cost is measured, not hidden. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/loihi2_net.h"
#include "core/util.h"

void l2_net_free(l2_net *n) {
  if (!n) return;
  for (int l = 0; l < n->n_layers; l++) {
    l2_layer *L = &n->layers[l];
    free(L->w); free(L->bias); free(L->row); free(L->col); free(L->val); free(L->bias_ch);
  }
  free(n->layers);
  memset(n, 0, sizeof *n);
}

static int32_t round_clip(double x, int32_t lo, int32_t hi, int64_t *clipped) {
  double r = x < 0 ? -floor(-x + 0.5) : floor(x + 0.5);
  if (r < lo) { (*clipped)++; return lo; }
  if (r > hi) { (*clipped)++; return hi; }
  return (int32_t)r;
}

/* the k-th smallest of a[0..n) (a is reordered) */
static double quickselect(double *a, int64_t n, int64_t k) {
  int64_t lo = 0, hi = n - 1;
  while (lo < hi) {
    const double p = a[lo + (hi - lo) / 2];
    int64_t i = lo, j = hi;
    while (i <= j) {
      while (a[i] < p) i++;
      while (a[j] > p) j--;
      if (i <= j) {
        const double t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k];
  }
  return a[k];
}

static l2_layer *add_layer(l2_net *n) {
  l2_layer *nl = realloc(n->layers, sizeof *nl * (size_t)(n->n_layers + 1));
  if (!nl) return NULL;
  n->layers = nl;
  l2_layer *L = &nl[n->n_layers++];
  memset(L, 0, sizeof *L);
  return L;
}

/* Dense layer from Linear weights W [K][N] (kn) and bias b [N] (or NULL): inputs worth val[K],
 * thresholds theta [N] (NULL: an output layer that integrates), headroom for the output layer. */
static sf_status lower_dense(l2_layer *L, const float *W, const float *b, int64_t K, int64_t N, const double *val, const double *theta,
                             const sf_loihi2_options *o) {
  L->kind = L2_DENSE;
  L->n = N;
  L->n_in = K;
  L->shape[0] = N;
  L->ndim = 1;
  L->du = 4095; /* the current is this step's input only (netx iDecay 4096) */
  double wmax = 0, bmax = 0, rowsum = 0;
  for (int64_t j = 0; j < N; j++) {
    const double inv = theta ? 1.0 / theta[j] : 1.0;
    double s = 0;
    for (int64_t k = 0; k < K; k++) {
      double w = fabs((double)W[k * N + j] * val[k] * inv);
      if (w > wmax) wmax = w;
      s += w;
    }
    double bb = b ? fabs((double)b[j] * inv) : 0;
    if (bb > bmax) bmax = bb;
    if (s + bb > rowsum) rowsum = s + bb;
  }
  /* the weight that maps to 254: the largest, or (hidden layers) a high percentile of them, the
   * few above it clipped: a neuron with a tiny threshold would otherwise leave every other row a
   * handful of weight levels */
  const double pct = theta && o->weight_percentile > 0 && o->weight_percentile < 100 ? o->weight_percentile : 100.0;
  if (pct < 100.0) {
    double *aw = malloc(sizeof(double) * (size_t)(K * N));
    if (!aw) return sf_error(SF_ERR_NOMEM, "out of memory");
    for (int64_t j = 0; j < N; j++)
      for (int64_t k = 0; k < K; k++) aw[j * K + k] = fabs((double)W[k * N + j] * val[k] / theta[j]);
    const int64_t at = (int64_t)floor(pct / 100.0 * (double)(K * N - 1));
    wmax = quickselect(aw, K * N, at);
    free(aw);
  }
  double S = wmax > 0 ? L2_W_MAX / wmax : 1.0;
  if (S > L2_VTH_MAX + 1.0) S = L2_VTH_MAX + 1.0;
  if (!theta) {
    const int Td = o->design_timesteps > 0 ? o->design_timesteps : 64;
    const double lim = (double)(L2_UV_MAX - 1) / 64.0 / ((double)Td * (rowsum > 0 ? rowsum : 1.0));
    if (S > lim) S = lim;
    if (bmax > 0 && S > L2_BIAS_MAX / bmax) S = L2_BIAS_MAX / bmax;
  }
  double Si = floor(S);
  if (Si < 1) Si = 1;
  L->vth = theta ? (int32_t)Si - 1 : L2_VTH_MAX;
  L->readout = theta ? L2_READ_NONE : L2_READ_VOLTAGE;
  L->unit = 1.0 / Si;
  if (!(L->w = malloc(sizeof(int16_t) * (size_t)(K * N))) || (b && !(L->bias = malloc(sizeof(int32_t) * (size_t)N))))
    return sf_error(SF_ERR_NOMEM, "out of memory");
  for (int64_t j = 0; j < N; j++) {
    const double inv = theta ? Si / theta[j] : Si;
    for (int64_t k = 0; k < K; k++) L->w[k * N + j] = (int16_t)round_clip((double)W[k * N + j] * val[k] * inv, L2_W_MIN, L2_W_MAX, &L->clipped_w);
    if (b) L->bias[j] = round_clip((double)b[j] * inv, -L2_BIAS_MAX - 1, L2_BIAS_MAX, &L->clipped_b);
  }
  return SF_OK;
}

/* ---- the sigma-delta family (loihi2_net.h) ----
 * Values travel as graded spikes: a layer's act holds its ReLU output in units U (act = y U), a
 * spike s' >> 6 carries V = U / 64 per unit of value. A Dense layer on spikes worth V_in multiplies
 * by w = round(W S), so its sigma is in units U = S V_in; S is the largest that keeps the weights in
 * [-256, 254] and U at most 2^22 (headroom for int32 sums of a few tens of units of value). The
 * bias enters as round(b U / 2^12) (Lava scales it by 2^12), and a neuron sends a change once it
 * reaches vth 2^12 = sdnn_vth x (the layer's median range) x U. Lava's Sigma output layer takes no
 * bias: the layer before it gets one more neuron, of constant value 1 (no inputs, bias 1), whose
 * weights into the output are the output's bias. */
#define L2_SDNN_UNITS 4194304.0

static sf_status lower_dense_sdnn(l2_layer *L, const float *W, const float *b, int64_t K, int64_t N, double vin, const double *range, int bias_neuron,
                                  double prev_bn, const sf_loihi2_options *o, double *vout, double *bn_out) {
  const int out = range == NULL;
  const int64_t Ki = K + (prev_bn > 0 ? 1 : 0), No = N + (bias_neuron ? 1 : 0);
  L->kind = L2_DENSE;
  L->neuron = out ? L2_SIGMA : L2_SIGMA_DELTA;
  L->n = No;
  L->n_in = Ki;
  L->shape[0] = No;
  L->ndim = 1;
  double wmax = 0;
  for (int64_t i = 0; i < K * N; i++) wmax = fabs((double)W[i]) > wmax ? fabs((double)W[i]) : wmax;
  if (!out && o->weight_percentile > 0 && o->weight_percentile < 100) {
    double *aw = malloc(sizeof(double) * (size_t)(K * N));
    if (!aw) return sf_error(SF_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < K * N; i++) aw[i] = fabs((double)W[i]);
    wmax = quickselect(aw, K * N, (int64_t)floor(o->weight_percentile / 100.0 * (double)(K * N - 1)));
    free(aw);
  }
  if (out && b && prev_bn > 0)
    for (int64_t j = 0; j < N; j++) wmax = fabs((double)b[j]) / prev_bn > wmax ? fabs((double)b[j]) / prev_bn : wmax;
  double S = wmax > 0 ? L2_W_MAX / wmax : 1.0;
  if (S * vin > L2_SDNN_UNITS) S = L2_SDNN_UNITS / vin;
  const double U = S * vin;
  if (!(L->w = calloc((size_t)(Ki * No), sizeof(int16_t)))) return sf_error(SF_ERR_NOMEM, "out of memory");
  for (int64_t k = 0; k < K; k++)
    for (int64_t j = 0; j < N; j++) L->w[k * No + j] = (int16_t)round_clip((double)W[k * N + j] * S, L2_W_MIN, L2_W_MAX, &L->clipped_w);
  if (out) {
    if (b && prev_bn > 0)
      for (int64_t j = 0; j < N; j++) L->w[K * No + j] = (int16_t)round_clip((double)b[j] * S / prev_bn, L2_W_MIN, L2_W_MAX, &L->clipped_w);
    L->readout = L2_READ_SIGMA;
    L->unit = 1.0 / U;
    return SF_OK;
  }
  /* the layer's median range sets the size of a change worth sending */
  double *r = malloc(sizeof(double) * (size_t)N);
  if (!r) return sf_error(SF_ERR_NOMEM, "out of memory");
  memcpy(r, range, sizeof(double) * (size_t)N);
  const double med = quickselect(r, N, N / 2);
  free(r);
  const double vth = floor(o->sdnn_vth * med * U / 4096.0 + 0.5);
  L->vth = vth < 1 ? 1 : vth > (double)(1 << 18) ? (1 << 18) : (int32_t)vth;
  if (b || bias_neuron) {
    if (!(L->bias = calloc((size_t)No, sizeof(int32_t)))) return sf_error(SF_ERR_NOMEM, "out of memory");
    for (int64_t j = 0; b && j < N; j++) L->bias[j] = round_clip((double)b[j] * U / 4096.0, -32768, 32767, &L->clipped_b);
    if (bias_neuron) {
      L->bias[N] = round_clip(U / 4096.0, 1, 32767, &L->clipped_b);
      *bn_out = 64.0 * L->bias[N] / (U / 64.0); /* its one spike, (bias 2^12) >> 6, in units of value */
    }
  }
  L->unit = 1.0 / U;
  *vout = U / 64.0;
  return SF_OK;
}

/* ---- convolutions (CUBA) ----
 * A Conv + Neuron pair becomes a Lava Conv on the spikes of the layer before and CUBA LIF neurons
 * [cout, hout, wout]: the weights of output channel co divided by its threshold as for Dense, one
 * S per layer. Lava's Conv uses the weights as they are (no re-optimisation) and wraps its sums to
 * 24 bits. The emulator accumulates events through an input-major list of every synapse (row /
 * col / val), built here from the geometry. */
static sf_status conv_rows(l2_layer *L) {
  const l2_conv *c = &L->conv;
  const int64_t K = c->cin * c->hin * c->win, cig = c->cin / c->groups, cog = c->cout / c->groups;
  if (!(L->row = calloc((size_t)K + 1, sizeof(int64_t)))) return sf_error(SF_ERR_NOMEM, "out of memory");
  for (int pass = 0; pass < 2; pass++) {
    int64_t e = 0;
    for (int64_t ci = 0; ci < c->cin; ci++)
      for (int64_t y = 0; y < c->hin; y++)
        for (int64_t x = 0; x < c->win; x++) {
          const int64_t k = (ci * c->hin + y) * c->win + x, grp = ci / cig;
          if (pass == 0) L->row[k] = e;
          for (int64_t co = grp * cog; co < (grp + 1) * cog; co++)
            for (int64_t ky = 0; ky < c->kh; ky++) {
              const int64_t ty = y + c->py - ky * c->dy;
              if (ty < 0 || ty % c->sy || ty / c->sy >= c->hout) continue;
              for (int64_t kx = 0; kx < c->kw; kx++) {
                const int64_t tx = x + c->px - kx * c->dx;
                if (tx < 0 || tx % c->sx || tx / c->sx >= c->wout) continue;
                const int16_t w = L->w[((co * cig + (ci - grp * cig)) * c->kh + ky) * c->kw + kx];
                if (pass == 1 && w) {
                  L->col[e] = (int32_t)((co * c->hout + ty / c->sy) * c->wout + tx / c->sx);
                  L->val[e] = w;
                }
                e += w != 0;
              }
            }
        }
    if (pass == 0) {
      L->row[K] = e;
      if (!(L->col = malloc(sizeof(int32_t) * (size_t)(e ? e : 1))) || !(L->val = malloc(sizeof(int16_t) * (size_t)(e ? e : 1))))
        return sf_error(SF_ERR_NOMEM, "out of memory");
    }
  }
  return SF_OK;
}

/* geometry from a Conv / MaxPool node and its input and output shapes */
static sf_status conv_geometry(const sf_graph *g, const sf_node *nd, l2_conv *c) {
  const sf_tensor *x = &g->values[nd->in[0]].t, *y = &g->values[nd->out[0]].t;
  if (x->ndim != 4 || y->ndim != 4) return sf_error(SF_ERR_UNSUPPORTED, "loihi2: node '%s' (%s): only 2-D convolutions and pooling are lowered", nd->name, nd->op_type);
  const int64_t *ks = NULL, *st = NULL, *pd = NULL, *dl = NULL;
  const int nk = sf_node_attr_ints(nd, "kernel_shape", &ks), ns = sf_node_attr_ints(nd, "strides", &st), np = sf_node_attr_ints(nd, "pads", &pd),
            ndl = sf_node_attr_ints(nd, "dilations", &dl);
  memset(c, 0, sizeof *c);
  c->cin = x->shape[1]; c->hin = x->shape[2]; c->win = x->shape[3];
  c->cout = y->shape[1]; c->hout = y->shape[2]; c->wout = y->shape[3];
  const sf_tensor *W = !strcmp(nd->op_type, "Conv") ? &g->values[nd->in[1]].t : NULL;
  c->kh = nk == 2 ? ks[0] : W ? W->shape[2] : 1;
  c->kw = nk == 2 ? ks[1] : W ? W->shape[3] : 1;
  c->sy = ns == 2 ? st[0] : 1; c->sx = ns == 2 ? st[1] : 1;
  c->dy = ndl == 2 ? dl[0] : 1; c->dx = ndl == 2 ? dl[1] : 1;
  if (np == 4 && (pd[0] != pd[2] || pd[1] != pd[3]))
    return sf_error(SF_ERR_UNSUPPORTED, "loihi2: node '%s': asymmetric padding has no Lava Conv form", nd->name);
  c->py = np == 4 ? pd[0] : 0; c->px = np == 4 ? pd[1] : 0;
  c->groups = W ? sf_node_attr_int(nd, "group", 1) : c->cin;
  if (sf_node_attr_int(nd, "ceil_mode", 0)) return sf_error(SF_ERR_UNSUPPORTED, "loihi2: node '%s': ceil_mode pooling is not lowered", nd->name);
  return SF_OK;
}

static sf_status lower_conv(l2_layer *L, const sf_graph *g, const sf_node *nd, const double *val, const double *theta, const sf_loihi2_options *o) {
  sf_status st = conv_geometry(g, nd, &L->conv);
  if (st) return st;
  const l2_conv *c = &L->conv;
  const sf_tensor *Wt = &g->values[nd->in[1]].t;
  const sf_tensor *Bt = nd->n_in > 2 && nd->in[2] >= 0 ? &g->values[nd->in[2]].t : NULL;
  const float *W = Wt->data, *b = Bt && Bt->data ? Bt->data : NULL;
  const int64_t cig = c->cin / c->groups, cog = c->cout / c->groups, ksz = cig * c->kh * c->kw, HW = c->hin * c->win;
  L->kind = L2_CONV;
  L->n = c->cout * c->hout * c->wout;
  L->n_in = c->cin * HW;
  L->shape[0] = c->cout; L->shape[1] = c->hout; L->shape[2] = c->wout;
  L->ndim = 3;
  L->du = 4095;
  /* |weight / threshold| in the layer's units: the percentile maps to 254 */
  const int64_t nw = c->cout * ksz;
  double *aw = malloc(sizeof(double) * (size_t)nw);
  if (!aw) return sf_error(SF_ERR_NOMEM, "out of memory");
  for (int64_t co = 0; co < c->cout; co++)
    for (int64_t q = 0; q < ksz; q++) {
      const int64_t ci = (co / cog) * cig + q / (c->kh * c->kw);
      aw[co * ksz + q] = fabs((double)W[co * ksz + q] * val[ci * HW] / theta[co]);
    }
  const double pct = o->weight_percentile > 0 && o->weight_percentile < 100 ? o->weight_percentile : 100.0;
  const double wmax = quickselect(aw, nw, (int64_t)floor(pct / 100.0 * (double)(nw - 1)));
  free(aw);
  double S = wmax > 0 ? L2_W_MAX / wmax : 1.0;
  if (S > L2_VTH_MAX + 1.0) S = L2_VTH_MAX + 1.0;
  const double Si = floor(S) < 1 ? 1 : floor(S);
  L->vth = (int32_t)Si - 1;
  L->unit = 1.0 / Si;
  if (!(L->w = malloc(sizeof(int16_t) * (size_t)nw)) || (b && (!(L->bias = malloc(sizeof(int32_t) * (size_t)L->n)) || !(L->bias_ch = malloc(sizeof(int32_t) * (size_t)c->cout)))))
    return sf_error(SF_ERR_NOMEM, "out of memory");
  for (int64_t co = 0; co < c->cout; co++) {
    for (int64_t q = 0; q < ksz; q++) {
      const int64_t ci = (co / cog) * cig + q / (c->kh * c->kw);
      L->w[co * ksz + q] = (int16_t)round_clip((double)W[co * ksz + q] * val[ci * HW] * Si / theta[co], L2_W_MIN, L2_W_MAX, &L->clipped_w);
    }
    if (b) {
      L->bias_ch[co] = round_clip((double)b[co] * Si / theta[co], -L2_BIAS_MAX - 1, L2_BIAS_MAX, &L->clipped_b);
      for (int64_t p = 0; p < c->hout * c->wout; p++) L->bias[co * c->hout * c->wout + p] = L->bias_ch[co];
    }
  }
  return conv_rows(L);
}

/* max pooling of binary spikes as their OR: a depthwise Conv of ones into neurons that spike when
 * any input did (vth 0: v > 0), each carrying its channel's value */
static sf_status lower_or_pool(l2_layer *L, const sf_graph *g, const sf_node *nd) {
  sf_status st = conv_geometry(g, nd, &L->conv);
  if (st) return st;
  const l2_conv *c = &L->conv;
  L->kind = L2_CONV;
  L->is_pool = 1;
  L->n = c->cout * c->hout * c->wout;
  L->n_in = c->cin * c->hin * c->win;
  L->shape[0] = c->cout; L->shape[1] = c->hout; L->shape[2] = c->wout;
  L->ndim = 3;
  L->du = 4095;
  L->vth = 0;
  L->unit = 1.0;
  if (!(L->w = malloc(sizeof(int16_t) * (size_t)(c->cout * c->kh * c->kw)))) return sf_error(SF_ERR_NOMEM, "out of memory");
  for (int64_t q = 0; q < c->cout * c->kh * c->kw; q++) L->w[q] = 1;
  return conv_rows(L);
}

sf_status l2_lower(const sf_graph *g, const sf_convert_options *conv, const sf_loihi2_options *o, l2_net *out) {
  memset(out, 0, sizeof *out);
  out->input_exp = o->input_exp;
  out->leak = conv->snn.neuron_model == SF_NEURON_LIF ? conv->snn.leak : 1.0f;
  out->family = o->family == 2 || (o->family == 0 && conv->snn.coding == SF_CODING_DELTA) ? L2_FAMILY_SDNN : L2_FAMILY_CUBA;
  const int sdnn = out->family == L2_FAMILY_SDNN;
  out->reset_to_zero = !sdnn;
  out->input_rate = o->input_rate;
  out->vth_scale = o->vth_scale;
  if (g->n_inputs != 1) return sf_error(SF_ERR_UNSUPPORTED, "loihi2: the model has %d inputs; a chain from one input is lowered", g->n_inputs);
  if (o->input_exp < 0 || o->input_exp > 14) return sf_error(SF_ERR_ARG, "loihi2: input_exp %d out of range 0..14", o->input_exp);
  const sf_tensor *xin = &g->values[g->inputs[0]].t;
  l2_layer *L = add_layer(out);
  if (!L) return sf_error(SF_ERR_NOMEM, "out of memory");
  L->kind = L2_INPUT;
  snprintf(L->name, sizeof L->name, "input %s", g->values[g->inputs[0]].name);
  L->n = sf_tensor_numel(xin) / (xin->ndim ? xin->shape[0] : 1);
  L->ndim = xin->ndim - 1 < 4 ? xin->ndim - 1 : 4;
  for (int d = 0; d < L->ndim; d++) L->shape[d] = xin->shape[d + 1];
  L->du = 4095;
  L->dv = 0;
  const double vin = floor(o->input_rate * ldexp(1.0, o->input_exp) + 0.5);
  if (vin < 1 || vin - 1 > L2_VTH_MAX) return sf_error(SF_ERR_ARG, "loihi2: input_rate %g x 2^%d gives an input threshold outside 1..%d", (double)o->input_rate, o->input_exp, L2_VTH_MAX + 1);
  L->vth = (int32_t)vin - 1;
  L->unit = ldexp(1.0, -o->input_exp);
  /* sdnn: a Delta input layer sends round(x 2^E) << 12 >> 6 once x changes by 2^-E */
  double vunit = ldexp(1.0, o->input_exp + 6), bn = 0;
  if (sdnn) {
    L->neuron = L2_DELTA;
    L->vth = 1;
  }
  out->input_n = L->n;
  /* the value one spike of each neuron of the last layer carries */
  double *val = malloc(sizeof(double) * (size_t)L->n);
  if (!val) return sf_error(SF_ERR_NOMEM, "out of memory");
  for (int64_t k = 0; k < L->n; k++) val[k] = vin * L->unit;
  int64_t cur = L->n;
  int flatten = 0;
  sf_status st = SF_OK;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    const sf_node *nd = &g->nodes[i];
    if (!strcmp(nd->op_type, "Flatten") || !strcmp(nd->op_type, "Reshape")) {
      flatten = 1;
      continue;
    }
    if (!strcmp(nd->op_type, "Conv") || !strcmp(nd->op_type, "MaxPool")) {
      const int pool = !strcmp(nd->op_type, "MaxPool");
      const sf_node *nr = !pool && i + 1 < g->n_nodes && !strcmp(g->nodes[i + 1].op_type, "Neuron") && g->nodes[i + 1].in[0] == nd->out[0] ? &g->nodes[i + 1] : NULL;
      if (sdnn) {
        st = sf_error(SF_ERR_UNSUPPORTED, "loihi2: node '%s' (%s): the sigma-delta lowering takes Dense layers only (family=cuba lowers convolutions)", nd->name, nd->op_type);
        break;
      }
      if (!pool && (!nr || sf_node_attr_int(nr, "signed", 1))) {
        st = sf_error(SF_ERR_UNSUPPORTED, "loihi2: node '%s' (Conv): a convolution is lowered with the unsigned neuron after it; this one has %s", nd->name,
                      nr ? "a signed neuron" : "none");
        break;
      }
      if (pool && out->n_layers < 2) {
        st = sf_error(SF_ERR_UNSUPPORTED, "loihi2: node '%s' (MaxPool): max pooling is lowered on spikes (as their OR); this one pools the input", nd->name);
        break;
      }
      if (!(L = add_layer(out))) { st = sf_error(SF_ERR_NOMEM, "out of memory"); break; }
      L->flatten_before = flatten;
      flatten = 0;
      if (pool) {
        st = lower_or_pool(L, g, nd);
        snprintf(L->name, sizeof L->name, "%s (as OR)", nd->name);
        out->or_pool = 1;
        /* each output carries its channel's value, as the input did */
        const l2_conv *c = &L->conv;
        double *nv = st ? NULL : malloc(sizeof(double) * (size_t)L->n);
        if (!st && !nv) st = sf_error(SF_ERR_NOMEM, "out of memory");
        for (int64_t q = 0; !st && q < L->n; q++) nv[q] = val[(q / (c->hout * c->wout)) * c->hin * c->win];
        if (!st) { free(val); val = nv; }
      } else {
        const sf_tensor *th = &g->values[nr->in[1]].t;
        const int64_t nt = sf_tensor_numel(th), cout = g->values[nd->out[0]].t.shape[1];
        const double levels = (double)sf_node_attr_int(nr, "levels", 1);
        if (levels > 1) out->was_burst = 1;
        double *theta = malloc(sizeof(double) * (size_t)cout);
        if (!theta) { st = sf_error(SF_ERR_NOMEM, "out of memory"); break; }
        for (int64_t co = 0; co < cout; co++) theta[co] = (double)((const float *)th->data)[nt == 1 ? 0 : co % nt] * (double)o->vth_scale * levels;
        st = lower_conv(L, g, nd, val, theta, o);
        snprintf(L->name, sizeof L->name, "%s + %s", nd->name, nr->name);
        L->dv = out->leak < 1.0f ? (int)lround((1.0 - out->leak) * 4096.0) : 0;
        if (L->dv > 4095) L->dv = 4095;
        double *nv = st ? NULL : malloc(sizeof(double) * (size_t)L->n);
        if (!st && !nv) st = sf_error(SF_ERR_NOMEM, "out of memory");
        for (int64_t q = 0; !st && q < L->n; q++) nv[q] = theta[q / (L->conv.hout * L->conv.wout)];
        if (!st) { free(val); val = nv; }
        free(theta);
        i++; /* the neuron is part of this layer */
      }
      cur = L->n;
      continue;
    }
    if (strcmp(nd->op_type, "Linear")) {
      st = sf_error(SF_ERR_UNSUPPORTED, "loihi2: node '%s' (%s): Loihi 2's neurocores run Dense and Conv layers of CUBA LIF neurons; this lowering takes chains of "
                    "Flatten, Linear, Conv, MaxPool and Neuron nodes, and this node is none of them", nd->name, nd->op_type);
      break;
    }
    const sf_tensor *W = &g->values[nd->in[1]].t;
    const sf_tensor *B = nd->n_in > 2 && nd->in[2] >= 0 ? &g->values[nd->in[2]].t : NULL;
    if (W->ndim != 2 || !W->data || W->shape[0] != cur - (bn > 0 ? 1 : 0)) {
      st = sf_error(SF_ERR_SHAPE, "loihi2: node '%s': weight [%lld, %lld] does not take the %lld neurons before it", nd->name, (long long)W->shape[0],
                    W->ndim > 1 ? (long long)W->shape[1] : 0LL, (long long)cur);
      break;
    }
    const int64_t K = W->shape[0], N = W->shape[1];
    /* the neuron after it, if any */
    const sf_node *nr = i + 1 < g->n_nodes && !strcmp(g->nodes[i + 1].op_type, "Neuron") && g->nodes[i + 1].in[0] == nd->out[0] ? &g->nodes[i + 1] : NULL;
    double *theta = NULL;
    if (nr) {
      const sf_tensor *th = &g->values[nr->in[1]].t;
      if (sf_node_attr_int(nr, "signed", 1)) {
        st = sf_error(SF_ERR_UNSUPPORTED, "loihi2: node '%s': a signed neuron (it spikes negative) has no CUBA LIF or ReLU sigma-delta form; convert with unsigned ReLU neurons", nr->name);
        break;
      }
      if (sf_node_attr_int(nr, "levels", 1) > 1) out->was_burst = 1;
      if (!(theta = malloc(sizeof(double) * (size_t)N))) { st = sf_error(SF_ERR_NOMEM, "out of memory"); break; }
      const int64_t nt = sf_tensor_numel(th);
      /* sdnn: the value range each site resolves (theta, times T under delta coding) */
      /* cuba: a burst neuron (K spikes of theta a step) covers K theta per step; a binary one needs
       * that threshold to cover the same range at one spike a step */
      const double levels = (double)sf_node_attr_int(nr, "levels", 1);
      const double f = sdnn ? (conv->snn.coding == SF_CODING_DELTA ? (double)conv->snn.timesteps : levels) : (double)o->vth_scale * levels;
      for (int64_t j = 0; j < N; j++) theta[j] = (double)((const float *)th->data)[nt == 1 ? 0 : j % nt] * f;
    }
    if (!(L = add_layer(out))) { free(theta); st = sf_error(SF_ERR_NOMEM, "out of memory"); break; }
    L->flatten_before = flatten;
    flatten = 0;
    if (sdnn) {
      /* the layer before the output gets the bias neuron */
      const int before_out = nr && i + 2 == g->n_nodes - 1 && !strcmp(g->nodes[i + 2].op_type, "Linear");
      const double prev_bn = bn;
      bn = 0;
      st = lower_dense_sdnn(L, W->data, B && B->data ? B->data : NULL, K, N, vunit, theta, before_out, prev_bn, o, &vunit, &bn);
      if (!st && !nr && B && B->data && !(prev_bn > 0))
        for (int64_t j = 0; j < N && !st; j++)
          if (((const float *)B->data)[j] != 0.0f) st = sf_error(SF_ERR_UNSUPPORTED, "loihi2: node '%s': the output layer's bias has no neuron to come from", nd->name);
    } else {
      st = lower_dense(L, W->data, B && B->data ? B->data : NULL, K, N, val, theta, o);
    }
    if (nr) {
      snprintf(L->name, sizeof L->name, "%s + %s", nd->name, nr->name);
      L->dv = !sdnn && out->leak < 1.0f ? (int)lround((1.0 - out->leak) * 4096.0) : 0;
      if (L->dv > 4095) L->dv = 4095;
      double *nv = realloc(val, sizeof(double) * (size_t)N);
      if (!nv) { free(theta); st = sf_error(SF_ERR_NOMEM, "out of memory"); break; }
      val = nv;
      for (int64_t j = 0; j < N; j++) val[j] = theta[j];
      i++; /* the neuron is part of this layer */
    } else {
      snprintf(L->name, sizeof L->name, "%s", nd->name);
      if (i + 1 < g->n_nodes) st = sf_error(SF_ERR_UNSUPPORTED, "loihi2: node '%s' (%s) follows the output layer '%s' without a neuron between them", g->nodes[i + 1].name, g->nodes[i + 1].op_type, nd->name);
    }
    free(theta);
    cur = L->n;
  }
  free(val);
  if (!st && out->n_layers < 2) st = sf_error(SF_ERR_UNSUPPORTED, "loihi2: the model has no Linear layer to lower");
  if (!st && out->layers[out->n_layers - 1].readout == L2_READ_NONE) out->layers[out->n_layers - 1].readout = L2_READ_SPIKES;
  if (st) l2_net_free(out);
  return st;
}

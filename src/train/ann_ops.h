/* The transformer's ops as forward / backward pairs (llm.c's layout), the first step towards training
 * the ViT (issue 18): each _forward computes its output and whatever its _backward needs; each
 * _backward ADDS to the gradients of its inputs and parameters (so that a value used twice, as a
 * residual stream is, sums its gradients). Row-major float32; shapes atop each pair. Checked against
 * PyTorch autograd in tests/test_ann_ops.c (fixtures from models/make_ann_op_fixtures.py). */
#ifndef SF_TRAIN_ANN_OPS_H
#define SF_TRAIN_ANN_OPS_H
#include <stdint.h>

/* Linear: out [N, OC] = inp [N, C] W [C, OC] + b [OC] (b may be NULL)
 * backward: dinp [N, C] += dout W^T (dinp may be NULL), dW [C, OC] += inp^T dout, db [OC] += sum_n dout */
void ann_linear_forward(float *out, const float *inp, const float *W, const float *b, int64_t N, int64_t C, int64_t OC);
void ann_linear_backward(float *dinp, float *dW, float *db, const float *dout, const float *inp, const float *W, int64_t N, int64_t C, int64_t OC);

/* LayerNorm over the last axis: out [N, C] = (inp - mean) rstd w + b, mean [N], rstd [N] = 1 / sqrt(var + eps)
 * (biased variance, as PyTorch); backward: dinp [N, C], dw [C], db [C] */
void ann_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b, int64_t N, int64_t C, float eps);
void ann_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w, const float *mean, const float *rstd,
                            int64_t N, int64_t C);

/* GELU [n]: exact, x Phi(x) = x (1 + erf(x / sqrt 2)) / 2; and the tanh approximation,
 * x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) / 2. backward: dinp [n] += dout gelu'(inp) */
void ann_gelu_forward(float *out, const float *inp, int64_t n);
void ann_gelu_backward(float *dinp, const float *dout, const float *inp, int64_t n);
void ann_gelu_tanh_forward(float *out, const float *inp, int64_t n);
void ann_gelu_tanh_backward(float *dinp, const float *dout, const float *inp, int64_t n);

/* Softmax over the last axis: p [N, C] = softmax(inp) (max-subtracted); backward from p:
 * dinp [N, C] += p (dout - sum_c dout p) */
void ann_softmax_forward(float *p, const float *inp, int64_t N, int64_t C);
void ann_softmax_backward(float *dinp, const float *dout, const float *p, int64_t N, int64_t C);

/* The attention core, H heads of size D over S tokens (no mask, as the ViT):
 *   qkv [B, S, 3 H D] (q | k | v, head h at h D), att [B, H, S, S] = softmax(q k^T / sqrt D),
 *   out [B, S, H D] = att v (heads side by side)
 * as two pairs, so that a spiking network can put neurons between them (the probabilities are
 * spikes before they weigh v):
 *   probs: att = softmax(q k^T / sqrt D); backward: datt [B, H, S, S] (overwritten: used as the
 *          scores' gradient) -> dq, dk in dqkv (+=)
 *   mix:   out = att v; backward: datt += dout v^T, dv in dqkv += att^T dout
 * and the whole core; its backward takes datt [B, H, S, S] as scratch. */
void ann_attention_probs_forward(float *att, const float *qkv, int64_t B, int64_t S, int64_t H, int64_t D);
void ann_attention_probs_backward(float *dqkv, float *datt, const float *qkv, const float *att, int64_t B, int64_t S, int64_t H, int64_t D);
void ann_attention_mix_forward(float *out, const float *att, const float *qkv, int64_t B, int64_t S, int64_t H, int64_t D);
void ann_attention_mix_backward(float *datt, float *dqkv, const float *dout, const float *att, const float *qkv, int64_t B, int64_t S, int64_t H, int64_t D);
void ann_attention_forward(float *out, float *att, const float *qkv, int64_t B, int64_t S, int64_t H, int64_t D);
void ann_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att, int64_t B, int64_t S, int64_t H, int64_t D, float *datt);

/* Residual add: out [n] = a + b; backward: da += dout, db += dout */
void ann_residual_forward(float *out, const float *a, const float *b, int64_t n);
void ann_residual_backward(float *da, float *db, const float *dout, int64_t n);

/* Patch embedding (a Conv with stride = kernel = P, no padding) with the CLS token and the
 * position embedding: img [B, Cin, Hh, Ww] -> out [B, 1 + Np, E], Np = (Hh / P) (Ww / P):
 *   out[b, 0] = cls [E] + pos[0]; out[b, 1 + p] = W [E, Cin P P] . patch_p + bias [E] + pos[1 + p]
 * (W in PyTorch's Conv layout [E, Cin, P, P]); patches [B Np, Cin P P] keeps the im2col for the
 * backward. backward: dW, dbias, dcls [E], dpos [1 + Np, E] (the image needs no gradient) */
void ann_patch_embed_forward(float *out, float *patches, const float *img, const float *W, const float *bias, const float *cls, const float *pos, int64_t B,
                             int64_t Cin, int64_t Hh, int64_t Ww, int64_t P, int64_t E);
void ann_patch_embed_backward(float *dW, float *dbias, float *dcls, float *dpos, const float *dout, const float *patches, int64_t B, int64_t Np, int64_t K,
                              int64_t E);

/* Token pooling: the CLS token out [B, E] = inp[b, 0], or the mean over the S tokens; backward:
 * dinp [B, S, E] += the matching spread of dout */
void ann_pool_forward(float *out, const float *inp, int64_t B, int64_t S, int64_t E, int mean);
void ann_pool_backward(float *dinp, const float *dout, int64_t B, int64_t S, int64_t E, int mean);

/* QCFS activation (Bu et al., ICLR 2022), per channel c = index % C, L levels, clip level lambda [C]:
 *   q = clip(floor(z L / lambda + 1/2), lo, L) / L, lo = -L (signed) or 0;  out = lambda q
 * the floor's gradient passed straight through (the paper's autograd): where lo <= L q <= L,
 * dinp += dout and dlambda += dout (q - z / lambda); above, dlambda += dout; below, dlambda -= dout
 * when signed (out = -lambda there), nothing when not (out = 0). inp, out [N, C]; dlambda may be NULL. */
void ann_qcfs_forward(float *out, const float *inp, const float *lambda, int64_t N, int64_t C, int L, int is_signed);
void ann_qcfs_backward(float *dinp, float *dlambda, const float *dout, const float *inp, const float *lambda, int64_t N, int64_t C, int L, int is_signed);

#endif

/* The ViT (Hugging Face ViTForImageClassification) as a trainable ANN, assembled from the op pairs of
 * ann_ops.h: forward over a batch, backward into the gradients of every parameter. The float
 * groundwork of hybrid and qcfs training of the ViT (issue 18); its logits equal the model's
 * (checked against PyTorch on the shipped model, tests/test_ann_ops.c).
 *   img [B, Cin, H, W] -> patch embedding + CLS + position [B, S, E], S = 1 + (H / P)(W / P)
 *   per layer: x = x + proj(attention(LN1(x) Wqkv)); x = x + fc2(GELU(fc1(LN2(x))))
 *   logits [B, classes] = head(LN_final(x)[:, 0])
 * Weights are [in, out] (HF's [out, in] transposed on load; q, k, v side by side in Wqkv [E, 3E]). */
#ifndef SF_TRAIN_VIT_NET_H
#define SF_TRAIN_VIT_NET_H
#include <stddef.h>
#include <stdint.h>

#include "spikeformer/status.h"

#define VIT_MAX_LAYERS 32

typedef struct {
  float *pw, *pb, *cls, *pos; /* [E, Cin P P], [E], [E], [S, E] */
  struct {
    float *ln1w, *ln1b, *qkvw, *qkvb, *projw, *projb, *ln2w, *ln2b, *fc1w, *fc1b, *fc2w, *fc2b;
  } l[VIT_MAX_LAYERS];
  float *lnfw, *lnfb, *headw, *headb; /* [E], [E], [E, classes], [classes] */
} vit_params;

typedef struct {
  int L, E, H, F, P, Cin, Hh, Ww, S, Np, classes, gelu_tanh;
  float eps;
  int64_t n_params;
  char *config;               /* config.json's text (the exported model keeps it) */
  float *params, *grads;      /* flat, in the order of vit_params */
  vit_params p, g;            /* views of params and grads */
  /* the forward's record for a batch of B (grown as needed) */
  int64_t B, cap;
  float *patches, *x[VIT_MAX_LAYERS + 1], *ln1, *mean1, *rstd1, *qkv, *att, *atty, *res1, *ln2, *mean2, *rstd2, *h, *gelu;
  float *lnf, *meanf, *rstdf, *pooled, *logits;
  float *dx, *dx2, *dln, *dqkv, *datty, *dh, *dg, *dpooled, *scratch;
} vit_net;

/* From a Hugging Face ViT directory (config.json + model.safetensors). */
sf_status vit_net_load_hf(vit_net *v, const char *dir);
/* The same from config.json's text and the safetensors bytes in memory (a converted model's source);
 * name names them in messages. */
sf_status vit_net_load_hf_memory(vit_net *v, const char *config_text, const void *safetensors, size_t len, const char *name);
/* The weights as Hugging Face names them, serialised as safetensors (malloc'd): with v->config, a
 * ViTForImageClassification directory's two files. */
sf_status vit_net_save_safetensors(const vit_net *v, unsigned char **blob, size_t *len);
void vit_net_free(vit_net *v);
/* Forward on img [B, Cin, H, W]: logits [B, classes] in v->logits. */
sf_status vit_net_forward(vit_net *v, const float *img, int64_t B);
/* Backward from dlogits [B, classes]: adds to v->grads. */
void vit_net_backward(vit_net *v, const float *dlogits);
void vit_net_zero_grad(vit_net *v);

#endif

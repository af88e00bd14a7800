/* The trainable chain inside a model (chain.h). */
#include "train/chain.h"

#include <string.h>

#include "ops/ops.h"

/* why a node ends the chain, for the message */
static sf_status refuse(const sf_graph *ann, const sf_node *n, const char *why) {
  return sf_error(SF_ERR_UNSUPPORTED,
                  "%s: node '%s' (%s) cannot be trained: %s. The trainer takes a chain of Linear layers with ReLU between them "
                  "(an MLP), or a Hugging Face ViT (ViTForImageClassification: config.json + model.safetensors; an ONNX export of "
                  "one is not read back into the trainer's ViT yet: give its Hugging Face directory)",
                  ann->source, n->name, n->op_type, why);
}

static sf_status extract(const sf_graph *ann, const sf_convert_options *opt_in, train_chain *c) {
  sf_convert_options opt = *opt_in;
  opt.relu_ec = 0;
  opt.per_channel = 1;
  sf_status st = sf_build_spiking_graph(ann, 1, &opt, NULL, 0, &c->spiking, &c->sites, &c->n_sites);
  if (st) return st;
  const sf_graph *g = c->spiking;
  int cur = g->inputs[0]; /* the value flowing down the chain */
  int expect_linear = 1, L = 0;
  c->n[0] = -1;
  for (int i = 0; i < g->n_nodes; i++) {
    const sf_node *n = &g->nodes[i];
    if (!n->n_out) continue;
    if (n->in[0] != cur) return refuse(ann, n, "it branches off the chain (not fed by the previous layer)");
    const sf_tensor *x = &g->values[n->in[0]].t, *y = &g->values[n->out[0]].t;
    if (sf_node_flag(n, SF_OPF_KEEPS_ORDER) && L == 0 && expect_linear) {
      cur = n->out[0];
      continue;
    }
    if (expect_linear) {
      if (sf_node_op(n) != SF_OP_LINEAR) return refuse(ann, n, "a weighted Linear layer is expected here");
      const sf_tensor *w = &g->values[n->in[1]].t;
      if (!w->data || w->dtype != SF_F32 || w->ndim != 2) return refuse(ann, n, "its weight is not a constant float matrix");
      if (x->ndim != 2) return refuse(ann, n, "its input is not [batch, features]");
      if (L >= SNN_NET_MAX_LAYERS) return refuse(ann, n, "the chain is longer than the trainer's limit");
      if (L == 0) c->n[0] = w->shape[0];
      if (w->shape[0] != c->n[L]) return refuse(ann, n, "its weight does not match the layer before");
      c->W[L] = w->data;
      c->b[L] = n->n_in > 2 && n->in[2] >= 0 ? g->values[n->in[2]].t.data : NULL;
      if (n->n_in > 2 && n->in[2] >= 0 && (!c->b[L] || sf_tensor_numel(&g->values[n->in[2]].t) != w->shape[1]))
        return refuse(ann, n, "its bias is not a constant vector of its outputs");
      c->linear[L] = n->name;
      c->n[++L] = w->shape[1];
      expect_linear = 0;
    } else {
      if (sf_node_op(n) != SF_OP_NEURON) return refuse(ann, n, "a ReLU (a spiking neuron) is expected between two Linear layers");
      if (sf_node_attr_int(n, "signed", 1)) return refuse(ann, n, "its neuron is signed (no ReLU before it)");
      if (y->ndim != 2 || y->shape[1] != c->n[L]) return refuse(ann, n, "its shape is not [batch, features]");
      /* its site: the node is named "<site>/neuron" */
      const size_t len = strlen(n->name);
      for (int s = 0; s < c->n_sites && !c->site[L]; s++)
        if (len == strlen(c->sites[s].key) + 7 && !strncmp(n->name, c->sites[s].key, len - 7) && !strcmp(n->name + len - 7, "/neuron"))
          c->site[L] = c->sites[s].key;
      if (!c->site[L]) return refuse(ann, n, "its neuron site is not in the conversion's list");
      expect_linear = 1;
    }
    cur = n->out[0];
  }
  if (g->n_outputs != 1 || g->outputs[0] != cur || expect_linear || L < 2)
    return sf_error(SF_ERR_UNSUPPORTED, "%s: the trainer takes a chain of at least two Linear layers with ReLU between them, ending in the one output "
                    "(an MLP); this model is not one", ann->source);
  c->L = L;
  return SF_OK;
}

sf_status train_chain_extract(const sf_graph *ann, const sf_convert_options *opt, train_chain *c) {
  memset(c, 0, sizeof *c);
  sf_status st = extract(ann, opt, c);
  if (st) train_chain_free(c);
  return st;
}

void train_chain_free(train_chain *c) {
  sf_graph_free(c->spiking);
  sf_sites_free(c->sites, c->n_sites);
  memset(c, 0, sizeof *c);
}

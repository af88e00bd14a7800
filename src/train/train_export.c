/* The trained chain as an ordinary model (train_export.h). */
#include "train/train_export.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "io/safetensors.h"

/* config.json of the SpikeformerMLP the chain is */
static char *mlp_config(const snn_net *net, const sf_dataset *d, const char *name) {
  cJSON *c = cJSON_CreateObject(), *arch = cJSON_AddArrayToObject(c, "architectures"), *hs = cJSON_AddArrayToObject(c, "hidden_sizes");
  cJSON *ish = cJSON_AddArrayToObject(c, "input_shape");
  cJSON_AddItemToArray(arch, cJSON_CreateString("SpikeformerMLP"));
  cJSON_AddStringToObject(c, "model_type", "spikeformer_mlp");
  cJSON_AddNumberToObject(c, "input_size", (double)net->n[0]);
  cJSON_AddItemToArray(ish, cJSON_CreateNumber((double)d->c));
  cJSON_AddItemToArray(ish, cJSON_CreateNumber((double)d->h));
  cJSON_AddItemToArray(ish, cJSON_CreateNumber((double)d->w));
  for (int l = 1; l < net->L; l++) cJSON_AddItemToArray(hs, cJSON_CreateNumber((double)net->n[l]));
  cJSON_AddStringToObject(c, "hidden_act", "relu");
  cJSON_AddNumberToObject(c, "num_labels", (double)net->n[net->L]);
  cJSON_AddStringToObject(c, "trained_from", name);
  cJSON_AddStringToObject(c, "transformers_version", "spikeformer-train");
  char *s = cJSON_Print(c);
  cJSON_Delete(c);
  return s;
}

sf_status train_export(const snn_net *net, const train_chain *ch, const sf_dataset *data, const char *name, const sf_convert_options *opt, sf_snn_model **out) {
  *out = NULL;
  (void)ch;
  const int L = net->L;
  char *config = mlp_config(net, data, name);
  char *names[2 * SNN_NET_MAX_LAYERS] = {0};
  sf_tensor t[2 * SNN_NET_MAX_LAYERS];
  memset(t, 0, sizeof t);
  sf_status st = config ? SF_OK : sf_error(SF_ERR_NOMEM, "out of memory");
  for (int l = 0; l < L && !st; l++) {
    /* safetensors hold nn.Linear's [out, in]; the net keeps [in, out] */
    const int64_t in = net->n[l], o = net->n[l + 1];
    names[2 * l] = sf_strfmt("fc%d.weight", l + 1);
    names[2 * l + 1] = sf_strfmt("fc%d.bias", l + 1);
    if ((st = sf_tensor_alloc(&t[2 * l], SF_F32, 2, (int64_t[]){o, in})) || (st = sf_tensor_alloc(&t[2 * l + 1], SF_F32, 1, (int64_t[]){o}))) break;
    float *w = t[2 * l].data;
    for (int64_t i = 0; i < in; i++)
      for (int64_t j = 0; j < o; j++) w[j * in + i] = net->W[l][i * o + j];
    memcpy(t[2 * l + 1].data, net->b[l], sizeof(float) * (size_t)o);
  }
  unsigned char *blob = NULL;
  size_t len = 0;
  if (!st) st = sf_safetensors_serialize(2 * L, (const char *const *)names, t, &blob, &len);
  for (int i = 0; i < 2 * L; i++) {
    free(names[i]);
    sf_tensor_free(&t[i]);
  }
  /* the new source's sites, in its own names, with the trained thresholds */
  sf_graph *src = NULL;
  train_chain nc;
  memset(&nc, 0, sizeof nc);
  char *src_name = sf_strfmt("%s (trained)", name);
  if (!st) st = sf_graph_load_hf_memory(src_name, config, blob, len, &src);
  if (!st) st = train_chain_extract(src, opt, &nc);
  if (!st && nc.L != L) st = sf_error(SF_ERR_INTERNAL, "train: the exported model has %d layers, the trained one %d", nc.L, L);
  for (int l = 1; l < L && !st; l++) {
    sf_site *s = NULL;
    for (int i = 0; i < nc.n_sites; i++)
      if (!strcmp(nc.sites[i].key, nc.site[l])) s = &nc.sites[i];
    if (!s || s->channels != net->n[l]) { st = sf_error(SF_ERR_INTERNAL, "train: the exported model's site for layer %d does not fit", l); break; }
    memcpy(s->theta, net->theta[l], sizeof(float) * (size_t)net->n[l]);
  }
  if (!st) {
    sf_site *sites = nc.sites;
    const int n_sites = nc.n_sites;
    nc.sites = NULL;
    nc.n_sites = 0;
    sf_convert_options mopt = *opt;
    mopt.relu_ec = 0;
    mopt.per_channel = 1;
    st = sf_snn_model_from_hf_memory(src_name, config, blob, len, &mopt, sites, n_sites, out);
  }
  train_chain_free(&nc);
  sf_graph_free(src);
  free(src_name);
  free(config);
  free(blob);
  return st;
}

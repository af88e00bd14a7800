/* Lava-DL netx export: the lowered Loihi 2 network (src/backend/loihi2_net.h) as the HDF5 layout
 * that lava.lib.dl.netx.hdf5.Network reads:
 *   layer/<i>/type     "input" | "flatten" | "dense" | "conv" (fixed-length ASCII, as NetDict decodes it)
 *   conv layers:       shape C, H, W; weight [cout, cin/groups, kh, kw] (PyTorch's layout, which netx
 *                      flips and transposes into Lava's); stride, padding, dilation [y, x]; groups;
 *                      bias [cout]. A max pooling of spikes lowered as their OR is such a conv
 *                      (groups = C, weights 1, vThMant 0)
 *   layer/<i>/shape    input: the sample's shape C, H, W (netx reverses it to W, H, C); dense: [N]
 *   layer/<i>/weight   dense: [N, K] integers in [-256, 254] (netx re-optimises them; the sums
 *                      are unchanged, see docs/loihi2.md)
 *   layer/<i>/bias     dense: [N] bias mantissas (netx: bias_exp 6)
 *   layer/<i>/neuron/  type "CUBA", iDecay (= du + 1), vDecay (= dv), vThMant, refDelay, gradedSpike;
 *                      or type "SDNN", vThMant (Delta input, SigmaDelta), or sigma_output (Sigma)
 * and SpikeFormer's conventions as extra datasets netx does not read:
 *   layer/0/input_scale_exp  E: a sample x enters the input neurons' a_in as round(x 2^E)
 *   layer/0/input_steps      "every" (at every step; the SDNN input neuron sends only changes)
 *   layer/<last>/readout     "voltage" (argmax of the final voltage), "spikes" (of the counts) or
 *                            "sigma" (of the Sigma layer's outputs summed over the steps)
 *   spikeformer/source_sha256, spikeformer/version
 * Written to a temporary file and renamed: no half-written output. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/loihi2_net.h"
#include "core/util.h"
#include "spikeformer/loihi2.h"
#include "spikeformer/spikeformer.h"

static int put_string(hid_t g, const char *name, const char *value) {
  hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
  int ok = t >= 0 && sp >= 0 && H5Tset_size(t, strlen(value) > 0 ? strlen(value) : 1) >= 0;
  hid_t d = ok ? H5Dcreate2(g, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
  ok = d >= 0 && H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, value) >= 0;
  if (d >= 0) H5Dclose(d);
  if (sp >= 0) H5Sclose(sp);
  if (t >= 0) H5Tclose(t);
  return ok ? 0 : -1;
}

static int put_i64(hid_t g, const char *name, int rank, const hsize_t *dims, const int64_t *v) {
  hid_t sp = rank ? H5Screate_simple(rank, dims, NULL) : H5Screate(H5S_SCALAR);
  hid_t d = sp >= 0 ? H5Dcreate2(g, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
  int ok = d >= 0 && H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0;
  if (d >= 0) H5Dclose(d);
  if (sp >= 0) H5Sclose(sp);
  return ok ? 0 : -1;
}

static int put_scalar(hid_t g, const char *name, int64_t v) { return put_i64(g, name, 0, NULL, &v); }

static int put_neuron(hid_t lg, const l2_layer *L) {
  hid_t ng = H5Gcreate2(lg, "neuron", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  int bad = ng < 0;
  if (!bad && L->neuron == L2_LIF)
    bad = put_string(ng, "type", "CUBA") || put_scalar(ng, "iDecay", L->du + 1) || put_scalar(ng, "vDecay", L->dv) || put_scalar(ng, "vThMant", L->vth) ||
          put_scalar(ng, "refDelay", 1) || put_scalar(ng, "gradedSpike", 0);
  else if (!bad && L->neuron == L2_SIGMA)
    bad = put_string(ng, "type", "SDNN") || put_scalar(ng, "sigma_output", 1) || put_scalar(ng, "gradedSpike", 1);
  else if (!bad)
    bad = put_string(ng, "type", "SDNN") || put_scalar(ng, "vThMant", L->vth) || put_scalar(ng, "gradedSpike", 1);
  if (ng >= 0) H5Gclose(ng);
  return bad ? -1 : 0;
}

static int write_net(hid_t f, const l2_net *n, const char *sha) {
  hid_t root = H5Gcreate2(f, "layer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (root < 0) return -1;
  int idx = 0, bad = 0;
  for (int l = 0; l < n->n_layers && !bad; l++) {
    const l2_layer *L = &n->layers[l];
    char name[32];
    if (L->flatten_before) {
      snprintf(name, sizeof name, "%d", idx++);
      hid_t g = H5Gcreate2(root, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      bad = g < 0 || put_string(g, "type", "flatten");
      if (g >= 0) H5Gclose(g);
      if (bad) break;
    }
    snprintf(name, sizeof name, "%d", idx++);
    hid_t g = H5Gcreate2(root, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) { bad = 1; break; }
    int64_t shape[4];
    hsize_t sd = (hsize_t)L->ndim;
    for (int d = 0; d < L->ndim; d++) shape[d] = L->shape[d];
    bad = put_string(g, "type", L->kind == L2_INPUT ? "input" : L->kind == L2_CONV ? "conv" : "dense") || put_i64(g, "shape", 1, &sd, shape) || put_neuron(g, L);
    if (!bad && L->kind == L2_CONV) {
      const l2_conv *c = &L->conv;
      const int64_t stride[2] = {c->sy, c->sx}, pad[2] = {c->py, c->px}, dil[2] = {c->dy, c->dx}, ksz = (c->cin / c->groups) * c->kh * c->kw;
      hsize_t two = 2, wd[4] = {(hsize_t)c->cout, (hsize_t)(c->cin / c->groups), (hsize_t)c->kh, (hsize_t)c->kw}, bd = (hsize_t)c->cout;
      int64_t *w = malloc(sizeof(int64_t) * (size_t)(c->cout * ksz)), *b = L->bias_ch ? malloc(sizeof(int64_t) * (size_t)c->cout) : NULL;
      if (!w || (L->bias_ch && !b)) bad = 1;
      for (int64_t q = 0; !bad && q < c->cout * ksz; q++) w[q] = L->w[q];
      for (int64_t q = 0; !bad && b && q < c->cout; q++) b[q] = L->bias_ch[q];
      if (!bad)
        bad = put_i64(g, "weight", 4, wd, w) || put_i64(g, "stride", 1, &two, stride) || put_i64(g, "padding", 1, &two, pad) ||
              put_i64(g, "dilation", 1, &two, dil) || put_scalar(g, "groups", c->groups) || (b && put_i64(g, "bias", 1, &bd, b));
      free(w);
      free(b);
    }
    if (!bad && L->kind == L2_INPUT) bad = put_scalar(g, "input_scale_exp", n->input_exp) || put_string(g, "input_steps", "every");
    if (!bad && L->kind == L2_DENSE) {
      int64_t *w = malloc(sizeof(int64_t) * (size_t)(L->n * L->n_in));
      if (!w) bad = 1;
      for (int64_t j = 0; !bad && j < L->n; j++)
        for (int64_t k = 0; k < L->n_in; k++) w[j * L->n_in + k] = L->w[k * L->n + j];
      hsize_t wd[2] = {(hsize_t)L->n, (hsize_t)L->n_in};
      if (!bad) bad = put_i64(g, "weight", 2, wd, w);
      free(w);
      if (!bad && L->bias) {
        int64_t *b = malloc(sizeof(int64_t) * (size_t)L->n);
        if (!b) bad = 1;
        for (int64_t j = 0; !bad && j < L->n; j++) b[j] = L->bias[j];
        hsize_t bd = (hsize_t)L->n;
        if (!bad) bad = put_i64(g, "bias", 1, &bd, b);
        free(b);
      }
    }
    if (!bad && l == n->n_layers - 1)
      bad = put_string(g, "readout", L->readout == L2_READ_VOLTAGE ? "voltage" : L->readout == L2_READ_SIGMA ? "sigma" : "spikes");
    H5Gclose(g);
  }
  H5Gclose(root);
  if (bad) return -1;
  hid_t sg = H5Gcreate2(f, "spikeformer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  bad = sg < 0 || put_string(sg, "version", sf_version()) || put_string(sg, "source_sha256", sha ? sha : "") ||
        put_string(sg, "conventions", "docs/loihi2.md: input round(x 2^E) into layer 0's a_in at every step; prediction argmax of the last layer's readout");
  if (sg >= 0) H5Gclose(sg);
  return bad ? -1 : 0;
}

sf_status sf_export_netx(const sf_snn_model *m, const sf_loihi2_options *o, const char *path) {
  sf_loihi2_options def;
  if (!o) {
    sf_loihi2_options_default(&def);
    o = &def;
  }
  l2_net net;
  sf_status st = sf_loihi2_lower_model(m, o, &net);
  if (st) return sf_error_context(st, "netx export");
  char *tmp = sf_strfmt("%s.tmp%ld", path, (long)getpid());
  if (!tmp) { l2_net_free(&net); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) st = sf_error(SF_ERR_IO, "netx export: cannot create '%s'", path);
  else {
    int bad = write_net(f, &net, sf_snn_model_source_sha256(m));
    if (H5Fclose(f) < 0) bad = 1;
    if (bad) st = sf_error(SF_ERR_IO, "netx export: writing '%s' failed (HDF5)", path);
    else if (rename(tmp, path)) st = sf_error(SF_ERR_IO, "netx export: cannot move the file into place at '%s'", path);
  }
  if (st) unlink(tmp);
  free(tmp);
  l2_net_free(&net);
  return st;
}

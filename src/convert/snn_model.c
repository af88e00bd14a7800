/* SNN Generator: the converted model (source ANN + thresholds + options), its spiking graph for
 * any batch size, and the .sfm file format.
 *
 * .sfm layout (little-endian):
 *   "SFM1" u32 version=1
 *   sections: u32 tag, u64 length, bytes    tags: CONF (JSON: options, config, metadata),
 *             SRCO (ONNX bytes) | SRCH (config.json) + SRCW (safetensors), THRS (JSON thresholds),
 *             IRGR (JSON spiking graph at batch 1), WGTS (its constants, raw)
 *   "HASH" u64 64: SHA-256 of every byte before this section, SHA-256 of the source model bytes */
#include <cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "convert/convert_internal.h"
#include "core/util.h"
#include "spikeformer/log.h"

#define SFM_VERSION 1
#define TAG(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

void sf_convert_options_default(sf_convert_options *o) {
  memset(o, 0, sizeof *o);
  o->policy = SF_POLICY_MSE;
  o->percentile = 99.9;
  o->per_channel = 1;
  o->calib_samples = 512;
  o->calib_batch = 128;
  sf_config_default(&o->snn);
  o->snn.timesteps = 16;
  o->snn.neuron_model = SF_NEURON_BURST;
  o->snn.burst_levels = 4;
  o->snn.spike_encoding = SF_ENCODE_DIRECT;
  o->relu_ec = 0;
}

const char *sf_policy_name(sf_threshold_policy p) {
  static const char *n[] = {"max", "percentile", "mse"};
  return n[p];
}

int sf_policy_parse(const char *s, sf_threshold_policy *p) {
  if (!strcmp(s, "max")) *p = SF_POLICY_MAX;
  else if (!strcmp(s, "percentile")) *p = SF_POLICY_PERCENTILE;
  else if (!strcmp(s, "mse")) *p = SF_POLICY_MSE;
  else return -1;
  return 0;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void hex(const unsigned char *h, char *out) {
  for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", h[i]);
  out[64] = 0;
}

/* read the source model's bytes for the .sfm (ONNX file, or HF dir's config + safetensors) */
static sf_status load_source_bytes(sf_snn_model *m) {
  if (m->src_blob) return SF_OK;
  const sf_graph *g = m->src;
  sf_status st;
  size_t n;
  if (!strcmp(g->format, "onnx")) {
    char *buf;
    if ((st = sf_read_file(g->source, &buf, &n))) return st;
    m->src_kind = sf_strdup("onnx");
    m->src_blob = (unsigned char *)buf;
    m->src_len = n;
  } else {
    char *cp = sf_strfmt("%s/config.json", g->source), *wp = sf_strfmt("%s/model.safetensors", g->source), *buf;
    st = sf_read_file(cp, &m->hf_config, &n);
    if (!st && !sf_file_exists(wp)) st = sf_error(SF_ERR_UNSUPPORTED, "%s: sharded checkpoints cannot be embedded in a .sfm yet", g->source);
    if (!st) st = sf_read_file(wp, &buf, &m->src_len);
    if (!st) { m->src_blob = (unsigned char *)buf; m->src_kind = sf_strdup("hf"); }
    free(cp);
    free(wp);
    if (st) return st;
  }
  unsigned char h[32];
  crypto_hash_sha256_state hs;
  crypto_hash_sha256_init(&hs);
  if (m->hf_config) crypto_hash_sha256_update(&hs, (const unsigned char *)m->hf_config, strlen(m->hf_config));
  crypto_hash_sha256_update(&hs, m->src_blob, m->src_len);
  crypto_hash_sha256_final(&hs, h);
  hex(h, m->src_sha256);
  return SF_OK;
}

sf_status sf_convert(const sf_graph *ann, const sf_dataset *calib, const sf_convert_options *opt, sf_snn_model **out) {
  *out = NULL;
  if (sodium_init() < 0) return sf_error(SF_ERR_INTERNAL, "libsodium failed to initialise");
  if (!(opt->percentile > 0 && opt->percentile <= 100)) return sf_error(SF_ERR_ARG, "conversion: percentile %g is not in (0, 100]", opt->percentile);
  if (opt->calib_samples < 1 || opt->calib_batch < 1)
    return sf_error(SF_ERR_ARG, "conversion: calib_samples (%d) and calib_batch (%d) must be at least 1", opt->calib_samples, opt->calib_batch);
  if (calib->n < 1) return sf_error(SF_ERR_ARG, "conversion: the calibration set holds no samples");
  if (opt->snn.coding == SF_CODING_DELTA && opt->snn.neuron_model == SF_NEURON_LIF && opt->snn.leak != 1.0f)
    return sf_error(SF_ERR_ARG, "conversion: a leaky neuron (LIF, leak %g) cannot be delta-coded: a sigma-delta neuron keeps what it has not sent (use if or burst)",
                    (double)opt->snn.leak);
  if (opt->snn.coding == SF_CODING_DELTA && opt->snn.reset == SF_RESET_ZERO)
    return sf_error(SF_ERR_ARG, "conversion: a neuron that resets to zero cannot be delta-coded: a sigma-delta neuron keeps what it has not sent (use reset=subtract)");
  if (!(opt->snn.v_init >= 0.0f && opt->snn.v_init < 1.0f))
    return sf_error(SF_ERR_ARG, "conversion: v_init %g is not a fraction of the threshold in [0, 1)", (double)opt->snn.v_init);
  sf_snn_model *m = calloc(1, sizeof *m);
  if (!m) return sf_error(SF_ERR_NOMEM, "out of memory");
  m->src = ann;
  m->opt = *opt;
  double t0 = now_s();
  sf_graph *g = NULL;
  int64_t B = opt->calib_batch < calib->n ? opt->calib_batch : calib->n;
  if (opt->calib_samples < B) B = opt->calib_samples;
  if (B < 1) { free(m); return sf_error(SF_ERR_ARG, "no calibration samples"); }
  sf_status st = sf_build_spiking_graph(ann, B, opt, NULL, 0, &g, &m->sites, &m->n_sites);
  sf_graph_free(g);
  if (!st) st = sf_calibrate(ann, calib, opt, m->sites, m->n_sites);
  m->calib_seconds = now_s() - t0;
  if (st) { sf_snn_model_free(m); return st; }
  *out = m;
  return SF_OK;
}

sf_status sf_snn_model_from_hf_memory(const char *name, const char *config_text, const void *safetensors, size_t len, const sf_convert_options *opt,
                                      sf_site *sites, int n_sites, sf_snn_model **out) {
  *out = NULL;
  if (sodium_init() < 0) { sf_sites_free(sites, n_sites); return sf_error(SF_ERR_INTERNAL, "libsodium failed to initialise"); }
  sf_snn_model *m = calloc(1, sizeof *m);
  if (!m) { sf_sites_free(sites, n_sites); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  m->sites = sites;
  m->n_sites = n_sites;
  m->opt = *opt;
  m->src_kind = sf_strdup("hf");
  m->hf_config = sf_strdup(config_text);
  m->src_blob = malloc(len ? len : 1);
  if (!m->src_kind || !m->hf_config || !m->src_blob) { sf_snn_model_free(m); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  memcpy(m->src_blob, safetensors, len);
  m->src_len = len;
  sf_status st = sf_graph_load_hf_memory(name, m->hf_config, m->src_blob, m->src_len, &m->owned_src);
  if (st) { sf_snn_model_free(m); return st; }
  m->src = m->owned_src;
  unsigned char h[32];
  crypto_hash_sha256_state hs;
  crypto_hash_sha256_init(&hs);
  crypto_hash_sha256_update(&hs, (const unsigned char *)m->hf_config, strlen(m->hf_config));
  crypto_hash_sha256_update(&hs, m->src_blob, m->src_len);
  crypto_hash_sha256_final(&hs, h);
  hex(h, m->src_sha256);
  /* the thresholds must fit the source's sites */
  sf_graph *g = NULL;
  st = sf_snn_model_build(m, 1, &g);
  sf_graph_free(g);
  if (st) { sf_snn_model_free(m); return st; }
  *out = m;
  return SF_OK;
}

void sf_snn_model_free(sf_snn_model *m) {
  if (!m) return;
  sf_sites_free(m->sites, m->n_sites);
  sf_graph_free(m->owned_src);
  free(m->src_kind);
  free(m->src_blob);
  free(m->hf_config);
  free(m);
}

int sf_snn_model_num_sites(const sf_snn_model *m) { return m->n_sites; }
int sf_convert_theta_levels(const sf_convert_options *o) {
  const int K = o->snn.neuron_model == SF_NEURON_BURST ? o->snn.burst_levels : 1;
  return o->snn.coding == SF_CODING_DELTA ? K * o->snn.timesteps : K;
}

int sf_convert_step_levels(const sf_convert_options *o) {
  if (o->snn.neuron_model != SF_NEURON_BURST) return 1;
  return o->snn.coding == SF_CODING_DELTA ? 127 : o->snn.burst_levels;
}

void sf_snn_model_set_timesteps(sf_snn_model *m, int T) { if (T > 0) m->opt.snn.timesteps = T; }
const sf_convert_options *sf_snn_model_options(const sf_snn_model *m) { return &m->opt; }
const sf_graph *sf_snn_model_source(const sf_snn_model *m) { return m->src; }
double sf_snn_model_calib_seconds(const sf_snn_model *m) { return m->calib_seconds; }
const char *sf_snn_model_source_sha256(const sf_snn_model *m) { return m->src_sha256; }

void sf_snn_model_site(const sf_snn_model *m, int i, const char **name, int *channels, float *tmin, float *tmean, float *tmax, int *is_signed) {
  const sf_site *s = &m->sites[i];
  *name = s->key;
  *channels = (int)s->channels;
  *is_signed = s->is_signed;
  float lo = s->theta[0], hi = s->theta[0];
  double sum = 0;
  for (int64_t c = 0; c < s->channels; c++) {
    lo = s->theta[c] < lo ? s->theta[c] : lo;
    hi = s->theta[c] > hi ? s->theta[c] : hi;
    sum += s->theta[c];
  }
  *tmin = lo;
  *tmax = hi;
  *tmean = (float)(sum / (double)s->channels);
}

sf_status sf_snn_model_build(const sf_snn_model *m, int64_t batch, sf_graph **out) {
  return sf_build_spiking_graph(m->src, batch, &m->opt, m->sites, m->n_sites, out, NULL, NULL);
}

/* ---------------- .sfm ---------------- */

typedef struct { unsigned char *p; size_t n, cap; int oom; } wbuf;

static void wb_put(wbuf *b, const void *d, size_t n) {
  if (b->oom) return;
  if (b->n + n > b->cap) {
    size_t cap = (b->cap ? b->cap * 2 : 1 << 16);
    while (cap < b->n + n) cap *= 2;
    unsigned char *np = realloc(b->p, cap);
    if (!np) { b->oom = 1; return; }
    b->p = np;
    b->cap = cap;
  }
  memcpy(b->p + b->n, d, n);
  b->n += n;
}
static void wb_u32(wbuf *b, uint32_t v) { unsigned char x[4] = {v, v >> 8, v >> 16, v >> 24}; wb_put(b, x, 4); }
static void wb_u64(wbuf *b, uint64_t v) { wb_u32(b, (uint32_t)v); wb_u32(b, (uint32_t)(v >> 32)); }
static void wb_section(wbuf *b, uint32_t tag, const void *d, size_t n) { wb_u32(b, tag); wb_u64(b, n); wb_put(b, d, n); }

static cJSON *options_json(const sf_convert_options *o) {
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "policy", sf_policy_name(o->policy));
  cJSON_AddNumberToObject(r, "percentile", o->percentile);
  cJSON_AddBoolToObject(r, "per_channel", o->per_channel);
  cJSON_AddNumberToObject(r, "calib_samples", o->calib_samples);
  cJSON_AddNumberToObject(r, "calib_batch", o->calib_batch);
  cJSON_AddBoolToObject(r, "relu_ec", o->relu_ec);
  cJSON_AddBoolToObject(r, "native_gelu", o->native_gelu);
  char *c = sf_config_to_json(&o->snn);
  cJSON_AddItemToObject(r, "spiking_config", cJSON_Parse(c));
  free(c);
  return r;
}

/* A whole number in [lo, hi] (a crafted file may hold 1e300 or 2.5 where an int belongs). */
static int json_int_in(const cJSON *x, int lo, int hi, int *out) {
  if (!cJSON_IsNumber(x) || !sf_whole_in(x->valuedouble, lo, hi)) return -1;
  *out = (int)x->valuedouble;
  return 0;
}

static sf_status options_from_json(const cJSON *r, sf_convert_options *o, const char *path) {
  sf_convert_options_default(o);
  if (!cJSON_IsObject(r)) return sf_error(SF_ERR_FORMAT, "%s: CONF has no \"options\" object", path);
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(r, "policy");
  if (!cJSON_IsString(p) || sf_policy_parse(p->valuestring, &o->policy)) return sf_error(SF_ERR_FORMAT, "%s: bad policy in CONF", path);
  const cJSON *x;
  if ((x = cJSON_GetObjectItemCaseSensitive(r, "percentile"))) {
    if (!cJSON_IsNumber(x) || !(x->valuedouble > 0 && x->valuedouble <= 100))
      return sf_error(SF_ERR_FORMAT, "%s: CONF option percentile must be a number in (0, 100]", path);
    o->percentile = x->valuedouble;
  }
  o->per_channel = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "per_channel"));
  o->relu_ec = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "relu_ec"));
  o->native_gelu = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "native_gelu"));
  if ((x = cJSON_GetObjectItemCaseSensitive(r, "calib_samples")) && json_int_in(x, 1, 1 << 30, &o->calib_samples))
    return sf_error(SF_ERR_FORMAT, "%s: CONF option calib_samples must be a whole number in [1, 2^30]", path);
  if ((x = cJSON_GetObjectItemCaseSensitive(r, "calib_batch")) && json_int_in(x, 1, 1 << 30, &o->calib_batch))
    return sf_error(SF_ERR_FORMAT, "%s: CONF option calib_batch must be a whole number in [1, 2^30]", path);
  x = cJSON_GetObjectItemCaseSensitive(r, "spiking_config");
  if (!cJSON_IsObject(x)) return sf_error(SF_ERR_FORMAT, "%s: CONF lacks spiking_config", path);
  char *txt = cJSON_PrintUnformatted(x);
  sf_config_default(&o->snn);
  sf_status st = sf_config_parse_json(&o->snn, txt, path);
  free(txt);
  return st;
}

static char *graph_ir_json(const sf_graph *g, wbuf *weights) {
  cJSON *r = cJSON_CreateObject(), *vals = cJSON_CreateArray(), *nodes = cJSON_CreateArray();
  cJSON_AddNumberToObject(r, "batch", 1);
  for (int v = 0; v < g->n_values; v++) {
    const sf_value *val = &g->values[v];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", val->name);
    cJSON_AddStringToObject(o, "dtype", sf_dtype_name(val->t.dtype));
    cJSON *sh = cJSON_CreateArray();
    for (int d = 0; d < val->t.ndim; d++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)val->t.shape[d]));
    cJSON_AddItemToObject(o, "shape", sh);
    if (val->t.data) {
      cJSON_AddNumberToObject(o, "offset", (double)weights->n);
      cJSON_AddNumberToObject(o, "bytes", (double)sf_tensor_nbytes(&val->t));
      wb_put(weights, val->t.data, sf_tensor_nbytes(&val->t));
    }
    cJSON_AddItemToArray(vals, o);
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const sf_node *n = &g->nodes[i];
    cJSON *o = cJSON_CreateObject(), *in = cJSON_CreateArray(), *outv = cJSON_CreateArray(), *at = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", n->name);
    cJSON_AddStringToObject(o, "op", n->op_type);
    cJSON_AddStringToObject(o, "domain", n->domain);
    for (int k = 0; k < n->n_in; k++) cJSON_AddItemToArray(in, cJSON_CreateNumber(n->in[k]));
    for (int k = 0; k < n->n_out; k++) cJSON_AddItemToArray(outv, cJSON_CreateNumber(n->out[k]));
    for (int a = 0; a < n->n_attr; a++) {
      const sf_attr *x = &n->attrs[a];
      if (x->type == SF_ATTR_INT) cJSON_AddNumberToObject(at, x->name, (double)x->i);
      else if (x->type == SF_ATTR_FLOAT) cJSON_AddNumberToObject(at, x->name, x->f);
      else if (x->type == SF_ATTR_STRING) cJSON_AddStringToObject(at, x->name, x->s ? x->s : "");
      else if (x->type == SF_ATTR_INTS) {
        cJSON *arr = cJSON_CreateArray();
        for (int k = 0; k < x->n; k++) cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)x->ints[k]));
        cJSON_AddItemToObject(at, x->name, arr);
      }
    }
    cJSON_AddItemToObject(o, "inputs", in);
    cJSON_AddItemToObject(o, "outputs", outv);
    cJSON_AddStringToObject(at, "snn_mode", sf_spiking_mode_name(n->mode)); /* readers of the IR see how each node runs */
    cJSON_AddItemToObject(o, "attrs", at);
    cJSON_AddItemToArray(nodes, o);
  }
  cJSON *gi = cJSON_CreateArray(), *go = cJSON_CreateArray();
  for (int i = 0; i < g->n_inputs; i++) cJSON_AddItemToArray(gi, cJSON_CreateNumber(g->inputs[i]));
  for (int i = 0; i < g->n_outputs; i++) cJSON_AddItemToArray(go, cJSON_CreateNumber(g->outputs[i]));
  cJSON_AddItemToObject(r, "inputs", gi);
  cJSON_AddItemToObject(r, "outputs", go);
  cJSON_AddItemToObject(r, "values", vals);
  cJSON_AddItemToObject(r, "nodes", nodes);
  char *s = cJSON_PrintUnformatted(r);
  cJSON_Delete(r);
  return s;
}

sf_status sf_snn_model_save(const sf_snn_model *cm, const char *path) {
  sf_snn_model *m = (sf_snn_model *)cm;
  if (sodium_init() < 0) return sf_error(SF_ERR_INTERNAL, "libsodium failed to initialise");
  sf_status st = load_source_bytes(m);
  if (st) return st;
  sf_graph *g1;
  if ((st = sf_snn_model_build(m, 1, &g1))) return st;
  wbuf b = {0}, w = {0};
  wb_put(&b, "SFM1", 4);
  wb_u32(&b, SFM_VERSION);
  /* CONF */
  cJSON *conf = cJSON_CreateObject();
  cJSON_AddItemToObject(conf, "options", options_json(&m->opt));
  cJSON_AddStringToObject(conf, "source_path", m->src->source);
  cJSON_AddStringToObject(conf, "source_kind", m->src_kind);
  cJSON_AddStringToObject(conf, "source_sha256", m->src_sha256);
  cJSON_AddStringToObject(conf, "architecture", m->src->architecture);
  cJSON_AddStringToObject(conf, "spikeformer_version", SF_VERSION);
  cJSON_AddNumberToObject(conf, "calibration_seconds", m->calib_seconds);
  char *ctext = cJSON_PrintUnformatted(conf);
  cJSON_Delete(conf);
  wb_section(&b, TAG('C', 'O', 'N', 'F'), ctext, strlen(ctext));
  free(ctext);
  if (!strcmp(m->src_kind, "onnx")) wb_section(&b, TAG('S', 'R', 'C', 'O'), m->src_blob, m->src_len);
  else {
    wb_section(&b, TAG('S', 'R', 'C', 'H'), m->hf_config, strlen(m->hf_config));
    wb_section(&b, TAG('S', 'R', 'C', 'W'), m->src_blob, m->src_len);
  }
  /* THRS */
  cJSON *th = cJSON_CreateArray();
  for (int i = 0; i < m->n_sites; i++) {
    cJSON *o = cJSON_CreateObject(), *v = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "site", m->sites[i].key);
    cJSON_AddBoolToObject(o, "signed", m->sites[i].is_signed);
    cJSON_AddNumberToObject(o, "axis", m->sites[i].axis);
    for (int64_t c = 0; c < m->sites[i].channels; c++) cJSON_AddItemToArray(v, cJSON_CreateNumber(m->sites[i].theta[c]));
    cJSON_AddItemToObject(o, "theta", v);
    cJSON_AddItemToArray(th, o);
  }
  char *ttext = cJSON_PrintUnformatted(th);
  cJSON_Delete(th);
  wb_section(&b, TAG('T', 'H', 'R', 'S'), ttext, strlen(ttext));
  free(ttext);
  char *ir = graph_ir_json(g1, &w);
  sf_graph_free(g1);
  wb_section(&b, TAG('I', 'R', 'G', 'R'), ir, strlen(ir));
  free(ir);
  wb_section(&b, TAG('W', 'G', 'T', 'S'), w.p, w.n);
  free(w.p);
  if (b.oom || w.oom) { free(b.p); return sf_error(SF_ERR_NOMEM, "out of memory writing %s", path); }
  unsigned char hash[64];
  crypto_hash_sha256(hash, b.p, b.n);
  unsigned char srch[32];
  for (int i = 0; i < 32; i++) sscanf(m->src_sha256 + 2 * i, "%2hhx", &srch[i]);
  memcpy(hash + 32, srch, 32);
  wb_section(&b, TAG('H', 'A', 'S', 'H'), hash, 64);
  st = b.oom ? sf_error(SF_ERR_NOMEM, "out of memory") : sf_write_file_atomic(path, b.p, b.n);
  free(b.p);
  return st;
}

static uint32_t rd32(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd64(const unsigned char *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

sf_status sf_snn_model_load(const char *path, sf_snn_model **out) {
  *out = NULL;
  if (sodium_init() < 0) return sf_error(SF_ERR_INTERNAL, "libsodium failed to initialise");
  char *buf;
  size_t n;
  sf_status st = sf_read_file(path, &buf, &n);
  if (st) return st;
  const unsigned char *p = (const unsigned char *)buf;
  if (n < 8 || memcmp(p, "SFM1", 4)) { free(buf); return sf_error(SF_ERR_FORMAT, "%s: not a SpikeFormer model (.sfm): bad magic at byte 0", path); }
  if (rd32(p + 4) != SFM_VERSION) { uint32_t v = rd32(p + 4); free(buf); return sf_error(SF_ERR_UNSUPPORTED, "%s: .sfm version %u (this build reads %d)", path, v, SFM_VERSION); }
  /* find sections */
  const unsigned char *conf = NULL, *srco = NULL, *srch = NULL, *srcw = NULL, *thrs = NULL, *hash = NULL;
  size_t conf_n = 0, srco_n = 0, srch_n = 0, srcw_n = 0, thrs_n = 0, hash_at = 0;
  size_t off = 8;
  while (off < n) {
    if (n - off < 12) { free(buf); return sf_error(SF_ERR_FORMAT, "%s: truncated section header at byte %zu", path, off); }
    uint32_t tag = rd32(p + off);
    uint64_t len = rd64(p + off + 4);
    if (len > n - off - 12) { free(buf); return sf_error(SF_ERR_FORMAT, "%s: section at byte %zu declares %llu bytes, file has %zu left: truncated", path, off, (unsigned long long)len, n - off - 12); }
    const unsigned char *d = p + off + 12;
    if (tag == TAG('C', 'O', 'N', 'F')) { conf = d; conf_n = len; }
    else if (tag == TAG('S', 'R', 'C', 'O')) { srco = d; srco_n = len; }
    else if (tag == TAG('S', 'R', 'C', 'H')) { srch = d; srch_n = len; }
    else if (tag == TAG('S', 'R', 'C', 'W')) { srcw = d; srcw_n = len; }
    else if (tag == TAG('T', 'H', 'R', 'S')) { thrs = d; thrs_n = len; }
    else if (tag == TAG('H', 'A', 'S', 'H')) { if (len != 64) { free(buf); return sf_error(SF_ERR_FORMAT, "%s: bad HASH section", path); } hash = d; hash_at = off; }
    off += 12 + (size_t)len;
  }
  if (!hash) { free(buf); return sf_error(SF_ERR_FORMAT, "%s: no HASH section: truncated or not written by SpikeFormer", path); }
  unsigned char h[32];
  crypto_hash_sha256(h, p, hash_at);
  if (sodium_memcmp(h, hash, 32) != 0) {
    char a[65], b2[65];
    hex(h, a);
    hex(hash, b2);
    free(buf);
    return sf_error(SF_ERR_FORMAT, "%s: checksum mismatch: the file was corrupted or modified (SHA-256 of bytes 0..%zu is %s, stored %s)", path, hash_at, a, b2);
  }
  if (!conf || !thrs || (!srco && !(srch && srcw))) { free(buf); return sf_error(SF_ERR_FORMAT, "%s: missing sections (CONF, THRS, source)", path); }
  sf_snn_model *m = calloc(1, sizeof *m);
  if (!m) { free(buf); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  char *ctext = strndup((const char *)conf, conf_n), *ttext = strndup((const char *)thrs, thrs_n);
  cJSON *cj = ctext ? cJSON_Parse(ctext) : NULL, *tj = ttext ? cJSON_Parse(ttext) : NULL;
  free(ctext);
  free(ttext);
  if (!cj || !tj) { st = sf_error(SF_ERR_FORMAT, "%s: CONF/THRS are not valid JSON", path); goto fail; }
  if ((st = options_from_json(cJSON_GetObjectItemCaseSensitive(cj, "options"), &m->opt, path))) goto fail;
  /* source model */
  unsigned char sh[32];
  crypto_hash_sha256_state hs;
  crypto_hash_sha256_init(&hs);
  if (srco) {
    m->src_kind = sf_strdup("onnx");
    m->src_blob = malloc(srco_n ? srco_n : 1);
    if (!m->src_blob) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto fail; }
    memcpy(m->src_blob, srco, srco_n);
    m->src_len = srco_n;
  } else {
    m->src_kind = sf_strdup("hf");
    m->hf_config = strndup((const char *)srch, srch_n);
    m->src_blob = malloc(srcw_n ? srcw_n : 1);
    if (!m->src_blob || !m->hf_config) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto fail; }
    memcpy(m->src_blob, srcw, srcw_n);
    m->src_len = srcw_n;
    crypto_hash_sha256_update(&hs, (const unsigned char *)m->hf_config, strlen(m->hf_config));
  }
  crypto_hash_sha256_update(&hs, m->src_blob, m->src_len);
  crypto_hash_sha256_final(&hs, sh);
  if (sodium_memcmp(sh, hash + 32, 32) != 0) { st = sf_error(SF_ERR_FORMAT, "%s: the embedded source model does not match its recorded SHA-256", path); goto fail; }
  hex(sh, m->src_sha256);
  char name[1024];
  snprintf(name, sizeof name, "%s[source]", path);
  st = srco ? sf_graph_load_onnx_buffer(m->src_blob, m->src_len, name, &m->owned_src)
            : sf_graph_load_hf_memory(name, m->hf_config, m->src_blob, m->src_len, &m->owned_src);
  if (st) goto fail;
  m->src = m->owned_src;
  /* thresholds */
  m->n_sites = cJSON_GetArraySize(tj);
  m->sites = calloc((size_t)(m->n_sites ? m->n_sites : 1), sizeof(sf_site));
  if (!m->sites) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto fail; }
  for (int i = 0; i < m->n_sites; i++) {
    cJSON *o = cJSON_GetArrayItem(tj, i), *k = cJSON_GetObjectItemCaseSensitive(o, "site"), *v = cJSON_GetObjectItemCaseSensitive(o, "theta");
    cJSON *ax = cJSON_GetObjectItemCaseSensitive(o, "axis");
    if (!cJSON_IsString(k) || !cJSON_IsArray(v) || !cJSON_IsNumber(ax)) { st = sf_error(SF_ERR_FORMAT, "%s: bad threshold entry %d", path, i); goto fail; }
    sf_site *s = &m->sites[i];
    for (int j = 0; j < i; j++)
      if (!strcmp(m->sites[j].key, k->valuestring)) { st = sf_error(SF_ERR_FORMAT, "%s: threshold entry %d repeats site '%s'", path, i, k->valuestring); goto fail; }
    if (json_int_in(ax, 0, SF_MAX_DIMS - 1, &s->axis)) {
      st = sf_error(SF_ERR_FORMAT, "%s: site '%s': channel axis %g is not a whole number in [0, %d]", path, k->valuestring, ax->valuedouble, SF_MAX_DIMS - 1);
      goto fail;
    }
    s->key = sf_strdup(k->valuestring);
    s->is_signed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "signed"));
    s->channels = cJSON_GetArraySize(v);
    s->theta = calloc((size_t)(s->channels ? s->channels : 1), sizeof(float));
    if (!s->key || !s->theta) { st = sf_error(SF_ERR_NOMEM, "out of memory"); goto fail; }
    for (int64_t c = 0; c < s->channels; c++) {
      const cJSON *tc = cJSON_GetArrayItem(v, (int)c);
      if (!cJSON_IsNumber(tc)) { st = sf_error(SF_ERR_FORMAT, "%s: site '%s' threshold %lld is not a number", path, s->key, (long long)c); goto fail; }
      double x = tc->valuedouble;
      if (!(x > 0) || x > FLT_MAX) { st = sf_error(SF_ERR_VALUE, "%s: site '%s' threshold %lld is %g (must be finite and positive)", path, s->key, (long long)c, x); goto fail; }
      s->theta[c] = (float)x;
    }
  }
  cJSON *cs = cJSON_GetObjectItemCaseSensitive(cj, "calibration_seconds");
  if (cJSON_IsNumber(cs)) m->calib_seconds = cs->valuedouble;
  cJSON_Delete(cj);
  cJSON_Delete(tj);
  free(buf);
  *out = m;
  return SF_OK;
fail:
  cJSON_Delete(cj);
  cJSON_Delete(tj);
  free(buf);
  sf_snn_model_free(m);
  return st;
}

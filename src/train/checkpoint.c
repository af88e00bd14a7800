/* Training checkpoints (checkpoint.h). */
#include "train/checkpoint.h"

#include <cJSON.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

#define CK_VERSION 1u

typedef struct {
  unsigned char *p;
  size_t n, cap;
  int oom;
} buf;

static void put(buf *b, const void *d, size_t n) {
  if (b->oom) return;
  if (b->n + n > b->cap) {
    size_t c = b->cap ? b->cap : 4096;
    while (c < b->n + n) c *= 2;
    unsigned char *q = realloc(b->p, c);
    if (!q) { b->oom = 1; return; }
    b->p = q;
    b->cap = c;
  }
  memcpy(b->p + b->n, d, n);
  b->n += n;
}
static void put_u64(buf *b, uint64_t v) {
  unsigned char x[8];
  for (int i = 0; i < 8; i++) x[i] = (unsigned char)(v >> (8 * i));
  put(b, x, 8);
}
static uint64_t get_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

/* the float arrays in file order: visit(ptr, count) for each (without a chain: the optimizer's
 * parameter groups, which then hold everything trained) */
typedef void (*visit_fn)(float *p, int64_t n, void *user);
static void each_array(const snn_net *net, const optim *opt, visit_fn f, void *user) {
  if (net) {
    for (int l = 0; l < net->L; l++) {
      f(net->W[l], net->n[l] * net->n[l + 1], user);
      f(net->b[l], net->n[l + 1], user);
    }
    for (int l = 1; l < net->L; l++) f(net->theta[l], net->n[l], user);
  } else {
    for (int i = 0; i < opt->n_groups; i++) f(opt->group[i].p, opt->group[i].n, user);
  }
  for (int i = 0; i < opt->n_groups; i++) {
    f(opt->m[i], opt->group[i].n, user);
    if (opt->v[i]) f(opt->v[i], opt->group[i].n, user);
  }
}
static void count_fn(float *p, int64_t n, void *user) {
  (void)p;
  *(int64_t *)user += n;
}
static void write_fn(float *p, int64_t n, void *user) { put(user, p, sizeof(float) * (size_t)n); }
typedef struct {
  const unsigned char *at;
} reader;
static void read_fn(float *p, int64_t n, void *user) {
  reader *r = user;
  memcpy(p, r->at, sizeof(float) * (size_t)n);
  r->at += sizeof(float) * (size_t)n;
}

/* a double that reads back to the same bits (cJSON prints 15 digits when they compare "equal" within
 * its epsilon, which can lose the last bit: 17 significant digits always round-trip) */
static void add_exact(cJSON *o, const char *k, double v) {
  char t[40];
  snprintf(t, sizeof t, "%.17g", v);
  cJSON_AddRawToObject(o, k, t);
}

static cJSON *epoch_json(const sf_train_epoch *e) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "epoch", e->epoch);
  const double v[6] = {e->train_loss, e->train_accuracy, e->val_accuracy, e->seconds, e->images_per_second, e->spikes_per_neuron_per_step};
  static const char *const k[6] = {"train_loss", "train_accuracy", "val_accuracy", "seconds", "images_per_second", "spikes_per_neuron_per_step"};
  for (int i = 0; i < 6; i++) {
    if (isfinite(v[i])) add_exact(o, k[i], v[i]);
    else cJSON_AddNullToObject(o, k[i]);
  }
  return o;
}

sf_status checkpoint_write(const char *path, const char *fingerprint, const snn_net *net, const optim *opt, const train_progress *p,
                           const sf_train_epoch *done, int n_done) {
  if (sodium_init() < 0) return sf_error(SF_ERR_INTERNAL, "libsodium failed to initialise");
  cJSON *pj = cJSON_CreateObject(), *eps = cJSON_AddArrayToObject(pj, "epochs");
  cJSON_AddNumberToObject(pj, "epoch", p->epoch);
  cJSON_AddNumberToObject(pj, "step_in_epoch", (double)p->step_in_epoch);
  cJSON_AddNumberToObject(pj, "global_step", (double)p->global_step);
  add_exact(pj, "loss_sum", p->loss_sum);
  add_exact(pj, "spikes", p->spikes);
  add_exact(pj, "seconds", p->seconds);
  cJSON_AddNumberToObject(pj, "right", (double)p->right);
  cJSON_AddNumberToObject(pj, "seen", (double)p->seen);
  for (int e = 0; e < n_done; e++) cJSON_AddItemToArray(eps, epoch_json(&done[e]));
  char *ptext = cJSON_PrintUnformatted(pj);
  cJSON_Delete(pj);
  if (!ptext) return sf_error(SF_ERR_NOMEM, "out of memory");
  buf b = {0};
  put(&b, "SFCK", 4);
  const uint32_t ver = CK_VERSION;
  const unsigned char vb[4] = {(unsigned char)ver, (unsigned char)(ver >> 8), (unsigned char)(ver >> 16), (unsigned char)(ver >> 24)};
  put(&b, vb, 4);
  put_u64(&b, strlen(fingerprint));
  put(&b, fingerprint, strlen(fingerprint));
  put_u64(&b, strlen(ptext));
  put(&b, ptext, strlen(ptext));
  free(ptext);
  int64_t nf = 0;
  each_array(net, opt, count_fn, &nf);
  put_u64(&b, (uint64_t)nf);
  each_array(net, opt, write_fn, &b);
  put_u64(&b, (uint64_t)opt->step);
  unsigned char h[32];
  if (!b.oom) crypto_hash_sha256(h, b.p, b.n);
  put(&b, h, 32);
  sf_status st = b.oom ? sf_error(SF_ERR_NOMEM, "out of memory writing the checkpoint %s", path) : sf_write_file_atomic(path, b.p, b.n);
  free(b.p);
  return st;
}

/* the first key whose value differs between two fingerprints, or NULL */
static const char *first_difference(const cJSON *want, const cJSON *got, char *why, size_t len) {
  for (const cJSON *k = want->child; k; k = k->next) {
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(got, k->string);
    if (!g || !cJSON_Compare(k, g, 1)) {
      char *a = cJSON_PrintUnformatted(k), *c = g ? cJSON_PrintUnformatted(g) : NULL;
      snprintf(why, len, "it was written with %s = %s, this run has %s", k->string, c ? c : "(none)", a ? a : "?");
      free(a);
      free(c);
      return k->string;
    }
  }
  for (const cJSON *g = got->child; g; g = g->next)
    if (!cJSON_GetObjectItemCaseSensitive(want, g->string)) {
      snprintf(why, len, "it has a setting this run does not know: %s", g->string);
      return g->string;
    }
  return NULL;
}

static double num(const cJSON *o, const char *k) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

sf_status checkpoint_read(const char *path, const char *fingerprint, snn_net *net, optim *opt, train_progress *p, sf_train_epoch *done, int max_epochs,
                          int *n_done) {
  if (sodium_init() < 0) return sf_error(SF_ERR_INTERNAL, "libsodium failed to initialise");
  char *data;
  size_t n;
  sf_status st = sf_read_file(path, &data, &n);
  if (st) return st;
  const unsigned char *d = (const unsigned char *)data;
  cJSON *fj = NULL, *want = NULL, *pj = NULL;
  if (n < 8 + 8 + 32 || memcmp(d, "SFCK", 4)) { st = sf_error(SF_ERR_FORMAT, "%s: not a SpikeFormer training checkpoint (bad magic at byte 0)", path); goto done; }
  if (d[4] != CK_VERSION || d[5] || d[6] || d[7]) { st = sf_error(SF_ERR_UNSUPPORTED, "%s: checkpoint version %u (this build reads %u)", path, (unsigned)d[4], CK_VERSION); goto done; }
  unsigned char h[32];
  crypto_hash_sha256(h, d, n - 32);
  if (sodium_memcmp(h, d + n - 32, 32)) {
    st = sf_error(SF_ERR_FORMAT, "%s: checksum mismatch: the checkpoint is corrupt or truncated (SHA-256 of bytes 0..%zu does not match)", path, n - 32);
    goto done;
  }
  size_t at = 8;
  uint64_t fl = get_u64(d + at);
  at += 8;
  if (fl > n - at - 32) { st = sf_error(SF_ERR_FORMAT, "%s: fingerprint of %llu bytes past the end", path, (unsigned long long)fl); goto done; }
  char *ftext = strndup((const char *)d + at, fl);
  fj = ftext ? cJSON_Parse(ftext) : NULL;
  free(ftext);
  at += fl;
  want = cJSON_Parse(fingerprint);
  if (!fj || !want) { st = sf_error(SF_ERR_FORMAT, "%s: the fingerprint is not JSON", path); goto done; }
  char why[512];
  if (first_difference(want, fj, why, sizeof why)) {
    st = sf_error(SF_ERR_ARG, "%s: the checkpoint belongs to another run: %s (resume with the same model, data and settings)", path, why);
    goto done;
  }
  if (n - at - 32 < 8) { st = sf_error(SF_ERR_FORMAT, "%s: truncated", path); goto done; }
  uint64_t pl = get_u64(d + at);
  at += 8;
  if (pl > n - at - 32) { st = sf_error(SF_ERR_FORMAT, "%s: progress of %llu bytes past the end", path, (unsigned long long)pl); goto done; }
  char *ptext = strndup((const char *)d + at, pl);
  pj = ptext ? cJSON_Parse(ptext) : NULL;
  free(ptext);
  at += pl;
  if (!pj) { st = sf_error(SF_ERR_FORMAT, "%s: the progress record is not JSON", path); goto done; }
  p->epoch = (int)num(pj, "epoch");
  p->step_in_epoch = (int64_t)num(pj, "step_in_epoch");
  p->global_step = (int64_t)num(pj, "global_step");
  p->loss_sum = num(pj, "loss_sum");
  p->spikes = num(pj, "spikes");
  p->seconds = num(pj, "seconds");
  p->right = (int64_t)num(pj, "right");
  p->seen = (int64_t)num(pj, "seen");
  const cJSON *eps = cJSON_GetObjectItemCaseSensitive(pj, "epochs");
  *n_done = cJSON_GetArraySize(eps);
  if (p->epoch < 0 || p->epoch > max_epochs || *n_done > max_epochs || p->step_in_epoch < 0 || p->global_step < 0) {
    st = sf_error(SF_ERR_FORMAT, "%s: the progress record is out of range (epoch %d of %d)", path, p->epoch, max_epochs);
    goto done;
  }
  int e = 0;
  for (const cJSON *x = eps ? eps->child : NULL; x; x = x->next, e++) {
    sf_train_epoch *ep = &done[e];
    ep->epoch = (int)num(x, "epoch");
    ep->train_loss = num(x, "train_loss");
    ep->train_accuracy = num(x, "train_accuracy");
    ep->val_accuracy = num(x, "val_accuracy");
    ep->seconds = num(x, "seconds");
    ep->images_per_second = num(x, "images_per_second");
    ep->spikes_per_neuron_per_step = num(x, "spikes_per_neuron_per_step");
  }
  int64_t nf = 0;
  each_array(net, opt, count_fn, &nf);
  if (n - at - 32 < 8 || get_u64(d + at) != (uint64_t)nf || n - at - 32 - 8 != (size_t)nf * sizeof(float) + 8) {
    st = sf_error(SF_ERR_FORMAT, "%s: holds %llu parameters and optimizer values, this network has %lld", path,
                  (unsigned long long)(n - at - 32 >= 8 ? get_u64(d + at) : 0), (long long)nf);
    goto done;
  }
  at += 8;
  reader rd = {d + at};
  each_array(net, opt, read_fn, &rd);
  at += (size_t)nf * sizeof(float);
  opt->step = (int64_t)get_u64(d + at);
done:
  cJSON_Delete(fj);
  cJSON_Delete(want);
  cJSON_Delete(pj);
  free(data);
  return st;
}

#include "io/safetensors.h"

#include <cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

static float bf16_to_f32(uint16_t b) {
  uint32_t u = (uint32_t)b << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static float f16_to_f32(uint16_t h) {
  uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 0x1f, m = h & 0x3ff, bits;
  if (e == 0) {
    float f = ldexpf((float)m, -24);
    return s ? -f : f;
  }
  if (e == 31) bits = s | 0x7f800000u | (m << 13);
  else bits = s | ((e + 112) << 23) | (m << 13);
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

static sf_status add_entry(sf_safetensors *s, const char *name, const char *file, sf_tensor *t) {
  sf_st_entry *e = realloc(s->e, sizeof *e * (size_t)(s->n + 1));
  if (!e) return sf_error(SF_ERR_NOMEM, "out of memory");
  s->e = e;
  e[s->n].name = sf_strdup(name);
  e[s->n].file = sf_strdup(file);
  e[s->n].t = *t;
  s->n++;
  return SF_OK;
}

sf_status sf_safetensors_parse(const void *data, size_t size, const char *name, sf_safetensors *out) {
  const unsigned char *p = data;
  if (size < 8) return sf_error(SF_ERR_FORMAT, "%s: %zu bytes: too short for a safetensors header (8-byte length)", name, size);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | p[i];
  if (hlen > size - 8 || hlen > 100000000)
    return sf_error(SF_ERR_FORMAT, "%s: header length %llu at byte 0 exceeds the file (%zu bytes): truncated or not safetensors", name,
                    (unsigned long long)hlen, size);
  char *json = malloc((size_t)hlen + 1);
  if (!json) return sf_error(SF_ERR_NOMEM, "out of memory");
  memcpy(json, p + 8, (size_t)hlen);
  json[hlen] = 0;
  cJSON *root = cJSON_Parse(json);
  sf_status st = SF_OK;
  if (!root || !cJSON_IsObject(root)) {
    const char *at = cJSON_GetErrorPtr();
    long off = (root == NULL && at && at >= json && at <= json + hlen) ? (long)(at - json) + 8 : 8;
    st = sf_error(SF_ERR_FORMAT, "%s: header is not valid JSON (near byte %ld)", name, off);
    goto done;
  }
  size_t data_start = 8 + (size_t)hlen, data_len = size - data_start;
  for (cJSON *it = root->child; it; it = it->next) {
    if (!strcmp(it->string, "__metadata__")) continue;
    cJSON *dt = cJSON_GetObjectItemCaseSensitive(it, "dtype"), *sh = cJSON_GetObjectItemCaseSensitive(it, "shape"),
          *off = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2) {
      st = sf_error(SF_ERR_FORMAT, "%s: tensor '%s': header entry lacks dtype/shape/data_offsets", name, it->string);
      goto done;
    }
    int nd = cJSON_GetArraySize(sh);
    if (nd > SF_MAX_DIMS) { st = sf_error(SF_ERR_UNSUPPORTED, "%s: tensor '%s': rank %d", name, it->string, nd); goto done; }
    int64_t shape[SF_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
      cJSON *d = cJSON_GetArrayItem(sh, i);
      if (!cJSON_IsNumber(d) || !sf_whole_in(d->valuedouble, 0, 9.0e15)) {
        st = sf_error(SF_ERR_FORMAT, "%s: tensor '%s': bad shape", name, it->string);
        goto done;
      }
      shape[i] = (int64_t)d->valuedouble;
    }
    if (!cJSON_IsNumber(cJSON_GetArrayItem(off, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(off, 1))) {
      st = sf_error(SF_ERR_FORMAT, "%s: tensor '%s': data_offsets must be two numbers", name, it->string);
      goto done;
    }
    double b0 = cJSON_GetArrayItem(off, 0)->valuedouble, b1 = cJSON_GetArrayItem(off, 1)->valuedouble;
    if (b0 < 0 || b1 < b0 || b1 > (double)data_len) {
      st = sf_error(SF_ERR_FORMAT, "%s: tensor '%s': data bytes [%.0f, %.0f) fall outside the data section (%zu bytes from byte %zu): truncated file?",
                    name, it->string, b0, b1, data_len, data_start);
      goto done;
    }
    const char *ds = dt->valuestring;
    size_t esz;
    sf_dtype to;
    if (!strcmp(ds, "F32")) { esz = 4; to = SF_F32; }
    else if (!strcmp(ds, "F16") || !strcmp(ds, "BF16")) { esz = 2; to = SF_F32; }
    else if (!strcmp(ds, "F64")) { esz = 8; to = SF_F32; }
    else if (!strcmp(ds, "I64")) { esz = 8; to = SF_I64; }
    else if (!strcmp(ds, "I32")) { esz = 4; to = SF_I32; }
    else if (!strcmp(ds, "BOOL") || !strcmp(ds, "U8")) { esz = 1; to = SF_U8; }
    else { st = sf_error(SF_ERR_UNSUPPORTED, "%s: tensor '%s': dtype %s not supported", name, it->string, ds); goto done; }
    /* counted in double first: the shape's product may not fit an int64 (the span always does) */
    double need = (double)esz;
    for (int i = 0; i < nd; i++) need *= (double)shape[i];
    if (need != b1 - b0) {
      st = sf_error(SF_ERR_FORMAT, "%s: tensor '%s': shape needs %.0f bytes but data_offsets span %.0f", name, it->string, need, b1 - b0);
      goto done;
    }
    int64_t n = sf_shape_numel(nd, shape);
    sf_tensor t;
    if ((st = sf_tensor_alloc(&t, to, nd, shape))) goto done;
    const unsigned char *src = p + data_start + (size_t)b0;
    int kind = !strcmp(ds, "F16") ? 1 : !strcmp(ds, "BF16") ? 2 : !strcmp(ds, "F64") ? 3 : 0;
    if (kind == 0 && n) memcpy(t.data, src, (size_t)n * esz);
    for (int64_t i = 0; kind && i < n; i++) {
      uint16_t h;
      double v;
      if (kind == 1) { memcpy(&h, src + 2 * i, 2); ((float *)t.data)[i] = f16_to_f32(h); }
      else if (kind == 2) { memcpy(&h, src + 2 * i, 2); ((float *)t.data)[i] = bf16_to_f32(h); }
      else { memcpy(&v, src + 8 * i, 8); ((float *)t.data)[i] = (float)v; }
    }
    int64_t bad = sf_tensor_find_nonfinite(&t);
    if (bad >= 0 && isnan(sf_tensor_get_f(&t, bad))) {
      sf_tensor_free(&t);
      st = sf_error(SF_ERR_VALUE, "%s: tensor '%s': element %lld is NaN", name, it->string, (long long)bad);
      goto done;
    }
    if ((st = add_entry(out, it->string, name, &t))) { sf_tensor_free(&t); goto done; }
  }
done:
  cJSON_Delete(root);
  free(json);
  return st;
}

static sf_status load_file(const char *path, sf_safetensors *out) {
  char *buf;
  size_t n;
  sf_status st = sf_read_file(path, &buf, &n);
  if (st) return st;
  st = sf_safetensors_parse(buf, n, path, out);
  free(buf);
  return st;
}

sf_status sf_safetensors_load_dir(const char *dir, sf_safetensors *out) {
  memset(out, 0, sizeof *out);
  char *single = sf_strfmt("%s/model.safetensors", dir);
  char *index = sf_strfmt("%s/model.safetensors.index.json", dir);
  sf_status st = SF_OK;
  if (sf_file_exists(single)) {
    st = load_file(single, out);
  } else if (sf_file_exists(index)) {
    char *text;
    size_t n;
    if ((st = sf_read_file(index, &text, &n))) goto done;
    cJSON *root = cJSON_Parse(text);
    free(text);
    cJSON *wm = root ? cJSON_GetObjectItemCaseSensitive(root, "weight_map") : NULL;
    if (!cJSON_IsObject(wm)) { cJSON_Delete(root); st = sf_error(SF_ERR_FORMAT, "%s: no weight_map object", index); goto done; }
    /* load each distinct shard once */
    for (cJSON *it = wm->child; it && !st; it = it->next) {
      if (!cJSON_IsString(it)) continue;
      int seen = 0;
      for (cJSON *jt = wm->child; jt != it; jt = jt->next)
        if (cJSON_IsString(jt) && !strcmp(jt->valuestring, it->valuestring)) seen = 1;
      if (seen) continue;
      if (strchr(it->valuestring, '/')) { st = sf_error(SF_ERR_FORMAT, "%s: shard name '%s' leaves the directory", index, it->valuestring); break; }
      char *shard = sf_strfmt("%s/%s", dir, it->valuestring);
      st = load_file(shard, out);
      free(shard);
    }
    cJSON_Delete(root);
  } else {
    st = sf_error(SF_ERR_IO, "%s: no model.safetensors (or model.safetensors.index.json) in this directory", dir);
  }
done:
  free(single);
  free(index);
  if (st) sf_safetensors_free(out);
  return st;
}

sf_st_entry *sf_safetensors_find(sf_safetensors *s, const char *name) {
  for (int i = 0; i < s->n; i++)
    if (!strcmp(s->e[i].name, name)) return &s->e[i];
  return NULL;
}

void sf_safetensors_free(sf_safetensors *s) {
  for (int i = 0; i < s->n; i++) {
    free(s->e[i].name);
    free(s->e[i].file);
    sf_tensor_free(&s->e[i].t);
  }
  free(s->e);
  s->e = NULL;
  s->n = 0;
}

sf_status sf_safetensors_serialize(int n, const char *const *names, const sf_tensor *tensors, unsigned char **out, size_t *len) {
  *out = NULL;
  *len = 0;
  cJSON *h = cJSON_CreateObject();
  size_t off = 0;
  for (int i = 0; i < n && h; i++) {
    const sf_tensor *t = &tensors[i];
    if (t->dtype != SF_F32 || !t->data) {
      cJSON_Delete(h);
      return sf_error(SF_ERR_ARG, "safetensors: tensor '%s' is not float32 data", names[i]);
    }
    cJSON *e = cJSON_AddObjectToObject(h, names[i]), *shape = e ? cJSON_AddArrayToObject(e, "shape") : NULL, *offs = NULL;
    if (e) cJSON_AddStringToObject(e, "dtype", "F32");
    for (int d = 0; shape && d < t->ndim; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
    const size_t nb = sf_tensor_nbytes(t);
    if (e) offs = cJSON_AddArrayToObject(e, "data_offsets");
    if (offs) {
      cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
      cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + nb)));
    }
    off += nb;
  }
  char *text = h ? cJSON_PrintUnformatted(h) : NULL;
  cJSON_Delete(h);
  if (!text) return sf_error(SF_ERR_NOMEM, "out of memory");
  size_t hl = strlen(text);
  const size_t padded = (hl + 7) / 8 * 8;
  unsigned char *buf = malloc(8 + padded + off);
  if (!buf) { free(text); return sf_error(SF_ERR_NOMEM, "out of memory"); }
  for (int b = 0; b < 8; b++) buf[b] = (unsigned char)((uint64_t)padded >> (8 * b));
  memcpy(buf + 8, text, hl);
  memset(buf + 8 + hl, ' ', padded - hl);
  free(text);
  size_t p = 8 + padded;
  for (int i = 0; i < n; i++) {
    const size_t nb = sf_tensor_nbytes(&tensors[i]);
    memcpy(buf + p, tensors[i].data, nb);
    p += nb;
  }
  *out = buf;
  *len = p;
  return SF_OK;
}

#include <cJSON.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "spikeformer/energy.h"

#ifndef SF_ENERGY_SRC_DIR
#define SF_ENERGY_SRC_DIR "data/energy"
#endif
#ifndef SF_ENERGY_INSTALL_DIR
#define SF_ENERGY_INSTALL_DIR "/usr/local/share/spikeformer/energy"
#endif

const char *sf_energy_default_dir(void) {
  const char *env = getenv("SPIKEFORMER_ENERGY_DIR");
  if (env && *env) return env;
  if (sf_is_dir(SF_ENERGY_SRC_DIR)) return SF_ENERGY_SRC_DIR; /* a build tree */
  return SF_ENERGY_INSTALL_DIR;
}

static int cmp_name(const void *a, const void *b) { return strcmp(((const sf_energy_model *)a)->name, ((const sf_energy_model *)b)->name); }

sf_status sf_energy_models_load(const char *dir, sf_energy_model **out, int *n) {
  *out = NULL;
  *n = 0;
  if (!dir) dir = sf_energy_default_dir();
  DIR *d = opendir(dir);
  if (!d) return sf_error(SF_ERR_IO, "%s: energy model folder not found", dir);
  struct dirent *e;
  sf_status st = SF_OK;
  while ((e = readdir(d)) && !st) {
    if (!sf_str_ends_with(e->d_name, ".json")) continue;
    char *path = sf_strfmt("%s/%s", dir, e->d_name), *text = NULL;
    size_t len;
    if ((st = sf_read_file(path, &text, &len))) { free(path); break; }
    cJSON *r = cJSON_Parse(text);
    free(text);
    cJSON *name = r ? cJSON_GetObjectItemCaseSensitive(r, "name") : NULL, *pj = r ? cJSON_GetObjectItemCaseSensitive(r, "pj") : NULL;
    cJSON *src = r ? cJSON_GetObjectItemCaseSensitive(r, "sources") : NULL;
    if (!cJSON_IsString(name) || !cJSON_IsObject(pj) || !cJSON_IsArray(src) || cJSON_GetArraySize(src) == 0) {
      st = sf_error(SF_ERR_FORMAT, "%s: an energy model needs \"name\", \"pj\" {mac, ac, ...} and a non-empty \"sources\" list", path);
      cJSON_Delete(r);
      free(path);
      break;
    }
    sf_energy_model *nm = realloc(*out, sizeof **out * (size_t)(*n + 1));
    if (!nm) { cJSON_Delete(r); free(path); st = sf_error(SF_ERR_NOMEM, "out of memory"); break; }
    *out = nm;
    sf_energy_model *m = &nm[(*n)++];
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", name->valuestring);
    cJSON *desc = cJSON_GetObjectItemCaseSensitive(r, "description");
    m->description = sf_strdup(cJSON_IsString(desc) ? desc->valuestring : "");
    size_t cap = 1;
    for (cJSON *s = src->child; s; s = s->next) if (cJSON_IsString(s)) cap += strlen(s->valuestring) + 2;
    m->sources = calloc(cap, 1);
    for (cJSON *s = src->child; s && m->sources; s = s->next)
      if (cJSON_IsString(s)) { if (*m->sources) strcat(m->sources, "; "); strcat(m->sources, s->valuestring); }
    const char *keys[6] = {"mac", "ac", "float_op", "neuron_update", "weight_read", "activation_write"};
    double *vals[6] = {&m->mac, &m->ac, &m->float_op, &m->neuron_update, &m->weight_read, &m->activation_write};
    for (int k = 0; k < 6; k++) {
      cJSON *v = cJSON_GetObjectItemCaseSensitive(pj, keys[k]);
      /* picojoules per operation: 1e6 (a microjoule) is far above any real operation, and an
       * infinite or NaN cost would turn every total into NaN */
      if (v && (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 1e6))) {
        st = sf_error(SF_ERR_FORMAT, "%s: pj.%s must be a number from 0 to 1e6 picojoules", path, keys[k]);
        break;
      }
      *vals[k] = v ? v->valuedouble : 0;
    }
    cJSON_Delete(r);
    free(path);
  }
  closedir(d);
  if (!st && *n == 0) st = sf_error(SF_ERR_IO, "%s: no energy models (*.json)", dir);
  if (st) { sf_energy_models_free(*out, *n); *out = NULL; *n = 0; return st; }
  qsort(*out, (size_t)*n, sizeof **out, cmp_name);
  return SF_OK;
}

void sf_energy_models_free(sf_energy_model *m, int n) {
  for (int i = 0; i < n; i++) { free(m[i].description); free(m[i].sources); }
  free(m);
}

double sf_energy_pj(const sf_energy_model *m, const sf_op_counts *c) {
  return c->macs * (m->mac + m->weight_read) + c->sops * (m->ac + m->weight_read) + c->float_ops * m->float_op +
         c->neuron_updates * m->neuron_update + c->activations * m->activation_write;
}

/* NIR options and dialects (nir.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "spikeformer/nir.h"

static const char *const dialect_names[SF_NIR_DIALECT_COUNT] = {"generic", "snntorch", "norse", "spikingjelly", "lava", "spinnaker2"};
/* dt each reader discretises NIR's continuous time with (docs/nir.md) */
static const double dialect_dt[SF_NIR_DIALECT_COUNT] = {1e-4, 1e-4, 1e-3, 1e-4, 1e-4, 1e-3};

const char *sf_nir_dialect_name(sf_nir_dialect d) { return (unsigned)d < SF_NIR_DIALECT_COUNT ? dialect_names[d] : "?"; }
double sf_nir_dialect_dt(sf_nir_dialect d) { return (unsigned)d < SF_NIR_DIALECT_COUNT ? dialect_dt[d] : 1e-4; }

int sf_nir_dialect_parse(const char *name, sf_nir_dialect *out) {
  for (int i = 0; name && i < SF_NIR_DIALECT_COUNT; i++)
    if (!strcasecmp_ascii(name, dialect_names[i])) { *out = (sf_nir_dialect)i; return 0; }
  return -1;
}

void sf_nir_options_default(sf_nir_options *o) {
  memset(o, 0, sizeof *o);
  o->dialect = SF_NIR_GENERIC;
}

sf_status sf_nir_options_set(sf_nir_options *o, const char *key, const char *v) {
  if (!key || !v) return sf_error(SF_ERR_ARG, "NIR option: key and value are required");
  if (!strcmp(key, "dialect")) {
    if (sf_nir_dialect_parse(v, &o->dialect))
      return sf_error(SF_ERR_ARG, "NIR option 'dialect': unknown dialect '%s' (generic, snntorch, norse, spikingjelly, lava, spinnaker2)", v);
    return SF_OK;
  }
  if (!strcmp(key, "dt")) {
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || !isfinite(x) || x < 0 || x > 1) return sf_error(SF_ERR_ARG, "NIR option 'dt': expected seconds in [0, 1] (0: the dialect's), got '%s'", v);
    o->dt = x;
    return SF_OK;
  }
  if (!strcmp(key, "partial")) {
    if (!strcmp(v, "1") || !strcasecmp_ascii(v, "true")) o->partial = 1;
    else if (!strcmp(v, "0") || !strcasecmp_ascii(v, "false")) o->partial = 0;
    else return sf_error(SF_ERR_ARG, "NIR option 'partial': expected true or false, got '%s'", v);
    return SF_OK;
  }
  if (!strcmp(key, "until")) {
    o->until = *v ? v : NULL;
    return SF_OK;
  }
  if (!strcmp(key, "timesteps")) {
    char *end;
    errno = 0;
    long t = strtol(v, &end, 10);
    if (errno || end == v || *end || t < 0 || t > (1 << 20)) return sf_error(SF_ERR_ARG, "NIR option 'timesteps': expected a whole number in [0, 2^20], got '%s'", v);
    o->timesteps = (int)t;
    return SF_OK;
  }
  return sf_error(SF_ERR_ARG, "unknown NIR option '%s' (dialect, dt, partial, until, timesteps)", key);
}

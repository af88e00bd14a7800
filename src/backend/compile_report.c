/* compile + an optional calibration run + the backend's mapping report: what `spikeformer compile`
 * and the Python package's SNNModel.compile print. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend_impl.h"
#include "backend/loihi2_net.h"
#include "core/util.h"
#include "spikeformer/loihi2.h"

static int step_noop(int t, const sf_tensor *decoded, void *user) {
  (void)t; (void)decoded; (void)user;
  return 0;
}

sf_status sf_backend_compile_report(const sf_backend *b, const sf_snn_model *m, const sf_backend_options *o, const sf_dataset *calib, int T, char **json,
                                    char **text) {
  if (json) *json = NULL;
  if (text) *text = NULL;
  sf_compiled *c = NULL;
  sf_deployed *d = NULL;
  sf_status st = sf_backend_compile(b, m, o, &c);
  sf_loihi2_options def;
  sf_loihi2_options_default(&def);
  l2_net probe;
  if (st == SF_ERR_UNSUPPORTED && !strcmp(sf_backend_name(b), "loihi2")) {
    /* a chain that lowers but does not fit (max_chips): that error stands */
    char why[512];
    snprintf(why, sizeof why, "%s", sf_last_error());
    if (!sf_loihi2_lower_model(m, o && o->target ? o->target : &def, &probe)) {
      l2_net_free(&probe);
      return sf_error(st, "%s", why);
    }
    /* not a chain the emulator runs: the hybrid mapping (neurocores and host), with the reason */
    st = sf_loihi2_hybrid_report(m, o && o->target ? o->target : &def, calib, T, json, text);
    if (!st && text && *text) {
      char *t2 = sf_strfmt("%s  why not a chain: %s\n", *text, why);
      free(*text);
      *text = t2;
    }
    return st;
  }
  if (!st && calib && calib->n > 0) {
    if (T < 1) T = sf_snn_model_options(m)->snn.timesteps;
    sf_tensor x = sf_dataset_batch(calib, 0, calib->n);
    if (!(st = sf_backend_deploy(c, calib->n, &d))) st = sf_backend_execute(d, &x, T, step_noop, NULL);
  }
  if (!st) {
    const int l2 = !strcmp(sf_backend_name(b), "loihi2");
    if (json) *json = l2 ? sf_loihi2_report_json(c, d) : sf_strfmt("{\n\t\"backend\":\t\"%s\",\n\t\"description\":\t\"%s\"\n}", sf_backend_name(b), sf_backend_description(b));
    if (text) *text = l2 ? sf_loihi2_report_text(c, d) : sf_strfmt("compiled for backend %s (%s); it has no mapping report\n", sf_backend_name(b), sf_backend_description(b));
    if ((json && !*json) || (text && !*text)) st = sf_error(SF_ERR_NOMEM, "out of memory");
  }
  sf_deployed_free(d);
  sf_compiled_free(c);
  return st;
}

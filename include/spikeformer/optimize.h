/* OptimizationEngine: the conversion with the least energy within an accuracy drop, in three
 * stages, all deterministic and all run through the backend interface:
 *   1. search neuron type (burst K=4, K=2, IF, binary-coded bursts of K=8, 12, 16), threshold
 *      policy (mse, percentile 99.9, max) and the T the thresholds are tuned for; every candidate
 *      runs T = 1..tmax in one pass on validation images (the first val_limit images of the test
 *      split; Fashion-MNIST has no validation split, and training images flatter the search) and
 *      keeps the least energy whose drop against the ANN, plus z standard errors of the paired
 *      difference, is at most max_drop points;
 *   2. per-layer thresholds: raise each neuron site's thresholds (x2, else x1.5) where that lowers
 *      the energy and keeps the drop within max_drop on the validation images;
 *   3. measure the result on the held-out rest of the test set beside the hand-picked
 *      conversions (burst4-mse tuned for T=16, binary-coded burst12b-mse tuned for T=1). */
#ifndef SPIKEFORMER_OPTIMIZE_H
#define SPIKEFORMER_OPTIMIZE_H
#include <stdint.h>

#include "spikeformer/export.h"
#include "spikeformer/eval.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  double max_drop;            /* accuracy drop allowed, in points (required, >= 0) */
  int64_t val_limit;          /* validation images: the first N of the test split (default 5000) */
  int64_t test_limit;         /* held-out images at most (0: all the rest) */
  int tmax;                   /* T = 1..tmax for every candidate (default 16) */
  double z;                   /* standard errors of the paired difference added to the drop (default 2) */
  const char *energy_model;   /* the energy model minimised (default "45nm") */
  const char *energy_dir;     /* NULL: sf_energy_default_dir() */
  const char *backend;        /* NULL: "cpu" */
  sf_backend_options backend_options;
  sf_progress_fn progress;
  void *progress_user;
} sf_optimize_options;

typedef struct {
  const char *config;         /* candidate name, e.g. "burst4-mse" */
  int tuned_t, t;
  double accuracy, drop_points, drop_upper_points, pj_per_sample, energy_ratio;
  int pareto, chosen;
} sf_optimize_point;

typedef struct {
  char *site;                 /* neuron site whose thresholds were raised */
  double scale, accuracy, energy_ratio;
} sf_optimize_raise;

typedef struct {
  const char *config;
  int tuned_t, t;             /* t = 0: no T up to tmax was within the drop on the validation images */
  double accuracy, energy_ratio;
} sf_optimize_hand;

typedef struct {
  char *model, *energy_model;
  double max_drop, z;
  int tmax, n_candidates, n_tunings;
  int64_t val_samples, test_samples;
  double ann_accuracy, ann_pj;             /* on the validation images; pJ per sample */
  int n_points;
  sf_optimize_point *points;               /* every candidate x tuning x T */
  int chosen;                              /* index into points */
  int n_sites, n_raised;
  sf_optimize_raise *raised;               /* [n_raised] */
  double val_accuracy_after, val_energy_ratio_after; /* validation, after stage 2 */
  /* held-out test images */
  double test_ann_accuracy, global_accuracy, global_energy_ratio, test_accuracy, test_energy_ratio;
  int test_t;
  sf_optimize_hand hand[2];
  sf_snn_model *result;                    /* the optimised model, converted for test_t (owned: save it) */
} sf_optimize_result;

SF_API void sf_optimize_options_default(sf_optimize_options *o);
/* One option from text: max_drop, val_limit, test_limit, tmax, z, energy_model, energy_dir, backend
 * (string values must outlive the options). */
SF_API sf_status sf_optimize_options_set(sf_optimize_options *o, const char *key, const char *value);
/* calib: calibration images (the first 512 are used); test_split: the whole test split (validation
 * and held-out images are taken from it). name: how the model is called in the result. */
SF_API sf_status sf_optimize(const sf_graph *ann, const char *name, const sf_dataset *calib, const sf_dataset *test_split, const sf_optimize_options *o,
                             sf_optimize_result **out);
/* `optimize --json`; caller frees. */
SF_API char *sf_optimize_json(const sf_optimize_result *r);
SF_API sf_status sf_optimize_log_mlflow(const sf_optimize_result *r, const char *store_dir);
SF_API void sf_optimize_result_free(sf_optimize_result *r);
/* Hand the optimised model (r->result) over to the caller, who frees it with sf_snn_model_free;
 * the result no longer holds it (sf_optimize_result_free leaves it alone). NULL if already taken. */
SF_API sf_snn_model *sf_optimize_result_take_model(sf_optimize_result *r);

#ifdef __cplusplus
}
#endif
#endif

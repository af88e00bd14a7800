/* Evaluation (the original spec's EvaluationRunner, EnergyAnalyzer and ComparisonFramework):
 * run a model over a labelled dataset and report what every front end shows.
 *   sf_eval_ann  an ANN (ONNX / Hugging Face): accuracy, predictions, time
 *   sf_eval_snn  a converted model through a backend (sf_backend): accuracy after every timestep
 *                1..T in one pass, beside the ANN on the same batches; per-layer spikes, firing
 *                rates, synaptic operations, MACs and float evaluations merged over shards and
 *                batches; where the time went; with `profile`, the energy per layer, per model and
 *                at every T under each energy model (data/energy), and what RAPL / NVML measured.
 * Results are plain structs the caller prints; sf_eval_*_json gives the document that
 * `spikeformer eval|profile --json` writes and the Python package returns as a dict. */
#ifndef SPIKEFORMER_EVAL_H
#define SPIKEFORMER_EVAL_H
#include <stdint.h>

#include "spikeformer/export.h"
#include "spikeformer/backend.h"
#include "spikeformer/dataset.h"
#include "spikeformer/energy.h"
#include "spikeformer/graph.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Progress of long work: `done` of `total` units of `what` (images, candidates). May be NULL. */
typedef void (*sf_progress_fn)(const char *what, int64_t done, int64_t total, void *user);

/* ---- ANN ---- */
typedef struct {
  int64_t batch;            /* samples per inference (default 256) */
  int keep_predictions;     /* 1: fill sf_ann_eval_result.predictions */
  sf_progress_fn progress;
  void *progress_user;
} sf_ann_eval_options;

typedef struct {
  char *model, *data;       /* names as given / the files the data came from */
  int64_t samples, correct, classes;
  double accuracy, seconds;
  int threads;
  int64_t *predictions;     /* [samples] argmax of the first output, when asked for */
} sf_ann_eval_result;

SF_API void sf_ann_eval_options_default(sf_ann_eval_options *o);
/* name: how the model is called in the result (NULL: its source path). The model needs one input
 * that takes the dataset's samples (flattened where the input is 2-D) and a first output of
 * [batch, classes] logits covering every label. */
SF_API sf_status sf_eval_ann(const sf_graph *model, const char *name, const sf_dataset *data, const sf_ann_eval_options *o,
                             sf_ann_eval_result **out);
/* {"accuracy", "samples", "correct", "model", "data", "seconds", "threads"} (caller frees) */
SF_API char *sf_ann_eval_json(const sf_ann_eval_result *r);
SF_API void sf_ann_eval_result_free(sf_ann_eval_result *r);

/* ---- SNN ---- */
typedef struct {
  int timesteps;             /* 0: the T the model was converted for */
  int64_t batch;             /* 0: about 256 samples (128 per thread where that is more), the data split into equal
                                batches so that one deployment serves them all */
  int ann;                   /* 1 (default): the source ANN on the same batches (accuracy, time) */
  int profile;               /* 1: energy under every model in energy_dir (EnergyAnalyzer) */
  const char *energy_dir;    /* NULL: sf_energy_default_dir() */
  const char *backend;       /* NULL: "cpu" */
  sf_backend_options backend_options;
  sf_progress_fn progress;
  void *progress_user;
} sf_eval_options;

/* Kinds of work a spiking layer does, for the breakdown of the runtime's time. */
typedef enum {
  SF_WORK_NEURONS = 0, SF_WORK_SYNAPSES, SF_WORK_ANALOG_INPUT, SF_WORK_EC_FUNCTIONS, SF_WORK_PRODUCTS, SF_WORK_OTHER, SF_WORK_KINDS
} sf_work_kind;
SF_API const char *sf_work_kind_name(sf_work_kind k);  /* "neurons", "synapses (spike-fed layers)", ... */
SF_API const char *sf_work_kind_key(sf_work_kind k);   /* "neurons", "synapses", ... (JSON keys) */

typedef struct {
  sf_snn_node_stats stats;   /* merged over every shard and batch; name and op_type belong to the result */
  sf_work_kind kind;
  double firing_rate;        /* neuron layers: spikes per neuron per step */
  double *energy_pj;         /* profile: per sample under each energy model [n_energy] */
} sf_eval_layer;

typedef struct {
  /* what ran */
  char *model, *data, *backend, *kernels, *target_options;
  char *source, *source_sha256;      /* the source ANN's path and the SHA-256 of its bytes */
  int64_t samples;
  int timesteps, threads;
  sf_convert_options convert;        /* how the model was converted */
  sf_backend_options backend_options;/* target: NULL (see target_options) */
  /* accuracy */
  int ann_evaluated;
  double ann_accuracy;               /* NAN when not evaluated */
  double *snn_accuracy_by_t;         /* [timesteps] */
  /* layers and totals (per dataset; divide by samples for per-sample figures) */
  int n_layers;
  sf_eval_layer *layers;
  double sops, macs, float_ops, spikes, neurons_per_sample, spike_purity, firing_rate;
  int spike_fed_layers, int8_layers, int8_analog_layers, chained_layers;
  /* work per sample at each step t (synaptic ops + MACs + float evaluations + neuron updates), and
   * its parts [timesteps][4] = {sops, macs, float_ops, neuron_updates} per sample */
  double *work_by_t, *ops_by_t;
  /* time: the whole run, the spiking runs alone, the ANN beside them; thread-seconds by kind */
  double seconds, snn_seconds, ann_seconds, seconds_by_kind[SF_WORK_KINDS];
  double peak_rss_kib;
  /* spike raster of sample 0 (backend_options.raster_neurons > 0): per layer [raster_T][raster_neurons]
   * signed counts, NULL for layers that are not neurons */
  int raster_T, raster_neurons;
  int8_t **rasters;
  /* profile */
  int n_energy;
  sf_energy_model *energy;           /* [n_energy] */
  double *snn_pj, *ann_pj;           /* per sample under each model */
  sf_op_counts ann_counts;           /* the ANN's counts per sample */
  int rapl_available, gpu_available;
  char *rapl_reason, *gpu_reason, *gpu_name;
  double rapl_joules, ann_rapl_joules, snn_rapl_joules, gpu_joules; /* -1 where not measured */
  /* the backend's own report of the run, or NULL: loihi2 gives its mapping, the spike messages inside
   * and between cores and chips, and energy and time per inference under Loihi's published figures
   * (JSON, and the same as text) */
  char *backend_report, *backend_report_text;
} sf_eval_result;

SF_API void sf_eval_options_default(sf_eval_options *o);
/* One option from text (front ends): timesteps, batch, ann, profile, energy_dir, backend. The
 * backend's options are set on backend_options (sf_backend_options_new / _set). energy_dir and
 * backend keep the value pointer: it must outlive the options. */
SF_API sf_status sf_eval_options_set(sf_eval_options *o, const char *key, const char *value);
/* Evaluate a converted model on `data` through the backend. name: how the model is called in the
 * result (NULL: the source model's path). */
SF_API sf_status sf_eval_snn(const sf_snn_model *m, const char *name, const sf_dataset *data, const sf_eval_options *o,
                             sf_eval_result **out);
/* The energy ratio SNN / ANN at every T under model k ([timesteps], caller frees), from the exact
 * per-step counts. */
SF_API double *sf_eval_energy_ratio_by_t(const sf_eval_result *r, int k);
/* Index of the energy model called name, or -1. */
SF_API int sf_eval_energy_index(const sf_eval_result *r, const char *name);
/* The JSON document of `eval --json` (and, with profile, `profile --json`); caller frees. */
SF_API char *sf_eval_json(const sf_eval_result *r);
/* Log the run to an MLflow file store (mlflow.h): parameters, accuracy per step, purity, energy
 * ratios. run_name: "eval" or "profile". */
SF_API sf_status sf_eval_log_mlflow(const sf_eval_result *r, const char *store_dir, const char *run_name);
SF_API void sf_eval_result_free(sf_eval_result *r);

/* Classes the first output of a converted model scores (its last dimension), or 0 if unknown. */
SF_API int64_t sf_snn_model_classes(const sf_snn_model *m);
/* SF_OK when every label of `data` is a class the model's first output scores (classes), else an
 * error naming both (a label past the last class would count as wrong without a word). */
SF_API sf_status sf_eval_labels_fit(const sf_dataset *data, int64_t classes, const char *model_name);
/* The default batch of sf_eval_snn for n samples on this many threads. */
SF_API int64_t sf_eval_default_batch(int64_t n);

/* Does the file start with the .sfm magic (a converted model)? */
SF_API int sf_file_is_sfm(const char *path);
/* Free memory the library allocated and handed over (a tensor's data taken from it, JSON text). */
SF_API void sf_free(void *p);
/* sizeof a public struct by its type name ("sf_tensor", "sf_eval_options", ...; every struct a front end
 * allocates or mirrors), or 0 for a name it does not know: bindings that reach the library through a
 * foreign-function interface (Python's ctypes) check their copies of the layouts against the library
 * they loaded, and size the structs they only pass along. */
SF_API size_t sf_struct_size(const char *name);
/* Write text to a file atomically (a temporary file renamed into place): for front ends that write
 * what these functions return. */
SF_API sf_status sf_write_text_file(const char *path, const char *text);
/* SF_OK when each of the n output paths (NULL: not asked for) can be written: not a directory, in a
 * writable folder. For checking before long work, so that it does not end in "cannot write". */
SF_API sf_status sf_check_writable(const char *const *paths, int n);

#ifdef __cplusplus
}
#endif
#endif

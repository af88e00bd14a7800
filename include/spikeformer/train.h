/* Training spiking networks (the original spec's SurrogateGradient, Direct SNN Trainer and Hybrid
 * Trainer): backpropagation through time with a surrogate gradient for the spike.
 *
 * The network is the spiking network SpikeFormer's runtime runs (so a trained model evaluates the
 * same): a chain of weighted layers with neurons between them, the first fed the analog input (the
 * same current at every step), the last read out as the mean of its current over the T steps
 * (logits); or a Hugging Face ViT, trained through its converted spiking form (src/train/vit_snn.h has
 * the forward and backward through time; surrogates there act on (u - j theta) / theta). A neuron layer: u_t = beta v_(t-1) + i_t (v_0 = theta / 2; beta = 1: IF), k_t =
 * sum_(j=1..K) H(u_t - j theta) (K = 1 for IF / LIF; a burst of up to K), v_t = u_t - theta k_t
 * (reset by subtraction, optionally detached from the gradient as snnTorch and SpikingJelly do),
 * s_t = theta k_t. dH(z)/dz is replaced by a surrogate g(z), z = u - j theta.
 *
 * Surrogates (g(z); `slope` is k or a):
 *   FAST_SIGMOID     1 / (1 + k |z|)^2           default, k = 25. snnTorch's fast_sigmoid(slope=k) is
 *                                                this exactly; SpikingJelly has no such name
 *   ATAN             (a / 2) / (1 + (pi/2 a z)^2)  snnTorch atan(alpha=a) and SpikingJelly ATan(alpha=a),
 *                                                both default a = 2
 *   SIGMOID          k e^(-kz) / (1 + e^(-kz))^2 snnTorch sigmoid(slope=k, default 25); SpikingJelly
 *                                                Sigmoid(alpha=k, default 4)
 *   TRIANGLE         max(0, a - a^2 |z|)         SpikingJelly PiecewiseQuadratic(alpha=a, default 1).
 *                                                snnTorch's triangular() is not this: its gradient is
 *                                                +threshold below the threshold and -threshold above
 *                                                it (a step, negative where the neuron fires)
 *   STRAIGHT_THROUGH 1                           snnTorch straight_through_estimator()
 * (SpikingJelly spikes when z >= 0, snnTorch when z > 0; SpikeFormer when z >= 0, as its runtime.) */
#ifndef SPIKEFORMER_TRAIN_H
#define SPIKEFORMER_TRAIN_H
#include <signal.h>
#include <stdint.h>

#include "spikeformer/export.h"
#include "spikeformer/convert.h"
#include "spikeformer/dataset.h"
#include "spikeformer/eval.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  SF_SURROGATE_BY_MODEL = -1, /* options only: fast_sigmoid for an MLP, triangle (slope 1 on u / theta) for a ViT */
  SF_SURROGATE_FAST_SIGMOID = 0, SF_SURROGATE_ATAN, SF_SURROGATE_SIGMOID, SF_SURROGATE_TRIANGLE, SF_SURROGATE_STRAIGHT_THROUGH, SF_SURROGATE_COUNT
} sf_surrogate;
SF_API const char *sf_surrogate_name(sf_surrogate s);
SF_API int sf_surrogate_parse(const char *name, sf_surrogate *out);
/* The default slope of each surrogate (the snnTorch / SpikingJelly defaults above). */
SF_API float sf_surrogate_default_slope(sf_surrogate s);
/* g(z) */
SF_API float sf_surrogate_grad(sf_surrogate s, float slope, float z);

typedef enum {
  SF_TRAIN_DIRECT = 0, /* the spiking network with the model's architecture, from its weights or random ones (init) */
  SF_TRAIN_HYBRID,     /* convert the model (calibrated thresholds), then fine-tune weights and thresholds at T */
  SF_TRAIN_QCFS        /* fine-tune the model's ANN with QCFS activations of T levels (Bu et al., ICLR 2022; their
                          clip levels start at the calibrated thresholds), then convert with them as thresholds */
} sf_train_mode;
/* "direct", "hybrid", "qcfs" */
SF_API const char *sf_train_mode_name(sf_train_mode m);
typedef enum { SF_OPTIM_ADAMW = 0, SF_OPTIM_SGD } sf_optimizer;
typedef enum { SF_SCHEDULE_COSINE = 0, SF_SCHEDULE_CONSTANT } sf_lr_schedule;

/* The ViT's defaults (hybrid training at T=4 on this 2-core machine in under 15 minutes; chosen on
 * validation images, docs/RESULTS.md) */
#define SF_TRAIN_VIT_EPOCHS 4
#define SF_TRAIN_VIT_RATE_PENALTY 3.0
#define SF_TRAIN_VIT_AUGMENT 0

struct sf_train_epoch;
typedef struct {
  sf_train_mode mode;
  sf_convert_options convert;  /* neuron model (default IF), K, leak (beta), T (convert.snn.timesteps, default 8),
                                  calibration (hybrid) */
  int init_random;             /* direct: random weights (He-uniform) instead of the model's */
  sf_surrogate surrogate;      /* default SF_SURROGATE_BY_MODEL */
  float slope;                 /* <= 0: the surrogate's default */
  int detach_reset;            /* 1 (default): the reset carries no gradient */
  int train_thresholds;        /* 1: thresholds are trained too; -1 (default): hybrid yes, direct no */
  double rate_penalty;         /* lambda: the loss adds lambda x spikes per neuron per step (default -1: by
                                  model, 0 for an MLP, SF_TRAIN_VIT_RATE_PENALTY for a ViT, whose spikes are
                                  weighted by the synaptic operations they cause: see vit_snn.h) */
  int epochs, batch;           /* default 0 (by model: 10 for an MLP, SF_TRAIN_VIT_EPOCHS for a ViT), 128 */
  double lr, weight_decay;     /* peak learning rate (default -1: 3e-4 in hybrid mode, 1e-3 in direct), 0.01 */
  double momentum;             /* SGD (default 0.9) */
  sf_optimizer optimizer;
  sf_lr_schedule schedule;
  int warmup_steps;            /* linear warm-up (default 100, at most a tenth of the steps) */
  double clip_norm;            /* gradient clipping by global norm (0: off, default 0) */
  uint64_t seed;
  int64_t limit;               /* training images (0: all) */
  int64_t val_images;          /* validation: the last N training images, held out (default 5000; 0: none) */
  sf_progress_fn progress;     /* images done of all epochs'; `what` names the epoch, loss and accuracy so far */
  void *progress_user;
  void (*on_epoch)(const struct sf_train_epoch *e, void *user); /* after each epoch (front ends print it) */
  void *on_epoch_user;
  const char *checkpoint;      /* written atomically after every epoch and when stopped (NULL: none); the
                                  string must outlive the call */
  const char *resume;          /* continue the run saved in this checkpoint: the same result, bit for bit, as
                                  the run that was not stopped (same seed and threads); a checkpoint of
                                  another model, data or settings is refused, naming the difference */
  volatile sig_atomic_t *stop; /* when set non-zero (a signal handler may), the run stops after the step
                                  in progress, writes the checkpoint and returns SF_ERR_INTERRUPTED */
  /* knowledge distillation (Hinton et al. 2015): the loss adds kd_alpha tau^2 KL(softmax(teacher / tau)
   * || softmax(student / tau)), tau = kd_temperature, the teacher's logits computed once per training
   * image before the first epoch */
  const sf_graph *teacher;     /* any model with the student's classes (NULL: the model being trained,
                                  i.e. its ANN, when kd_alpha > 0) */
  double kd_alpha;             /* weight of the distillation term (default -1: 1 in hybrid mode or with a
                                  teacher, else 0) */
  double kd_temperature;       /* tau (default 4) */
  double prune;                /* magnitude pruning with fine-tuning to this sparsity of every weighted layer
                                  (0: none; at most 0.99): gradually over the first two thirds of the steps,
                                  then fine-tuned; the zeros cost no synaptic operations in the runtime */
  int prune_per_layer;         /* 1: each layer pruned to `prune`; 0 (default): one magnitude cut over all layers */
  int recompute;               /* K > 0: gradient checkpointing over time, the membranes kept every K steps and
                                  the steps between recomputed in the backward (memory flat in T; 0: off) */
  int qat;                     /* 8: quantisation-aware training for the int8 runtime (weights, biases,
                                  thresholds and inputs as --quant int8 runs them); 0: float (default) */
  int augment;                 /* training images transformed per step: 1 a random shift by up to 2 pixels
                                  (zero padding), 2 a horizontal flip (p = 1/2), 3 both (for a model trained
                                  with them: the shipped ViT was not, and loses 48 points on images shifted
                                  by 2 pixels, 20 on flipped ones); -1 (default): by model, none for both
                                  (the MLP's trainer does not augment yet). With augmentation the teacher
                                  sees each transformed batch. */
} sf_train_options;

typedef struct sf_train_epoch {
  int epoch;
  double train_loss, train_accuracy, val_accuracy, seconds, images_per_second;
  double spikes_per_neuron_per_step; /* on the validation images after the epoch (the training batches' mean without them) */
} sf_train_epoch;

typedef struct {
  char *model;                 /* the source's name */
  sf_train_mode mode;
  int n_epochs;
  sf_train_epoch *epochs;
  int64_t train_images, val_images, parameters;
  int layers;                  /* weighted layers of the chain */
  double seconds;
  double test_accuracy;        /* filled by the caller's evaluation (float runtime), NAN until then */
  sf_snn_model *result;        /* the trained network as an ordinary converted model (owned; save it) */
  sf_train_options options;    /* what it ran with (without the callbacks) */
  int world_size;              /* ranks that trained it (mpirun -np N; 1 without MPI) */
  double kd_alpha;             /* the distillation weight used (0: none) */
  char *teacher;               /* the teacher's name (NULL: none) */
  double sparsity;             /* the share of zero weights in the trained layers */
  int64_t state_bytes;         /* the training state's largest size (per-step record and checkpoints) */
  double test_accuracy_int8;   /* sf_train_evaluate with the int8 runtime (quant=int8 in the options' target);
                                  NAN until then */
} sf_train_result;

SF_API void sf_train_options_default(sf_train_options *o);
/* One option from text (front ends): mode, init (random|model), surrogate, slope, detach_reset,
 * train_thresholds, rate_penalty, epochs, batch, lr, weight_decay, momentum, optimizer (adamw|sgd), schedule
 * (cosine|constant), warmup, clip_norm, seed, limit, val_images, kd_alpha, kd_temperature, prune, prune_per_layer,
 * recompute, qat (int8|none), augment (none|shift|flip|shift,flip),
 * checkpoint and resume (the value
 * string is kept: it must outlive the options), and every convert option
 * (sf_convert_options_set: timesteps, neuron, burst_levels, leak (beta), ...). */
SF_API sf_status sf_train_options_set(sf_train_options *o, const char *key, const char *value);
/* Hybrid training that starts from a converted model (an .sfm) instead of converting the ANN: its
 * source ANN's weights, its thresholds, and its neurons and coding (o->convert is replaced by the
 * model's options, except timesteps, taken from o). Other modes are refused (give the ANN). */
SF_API sf_status sf_train_snn(const sf_snn_model *m, const char *name, const sf_dataset *train, const sf_train_options *o, sf_train_result **out);
/* Train on `train` (its last val_images samples held out for validation). The model is an ANN whose
 * spiking network is a chain (a multi-layer perceptron: weighted layers with activations between
 * them); hybrid mode calibrates on the training images first. */
SF_API sf_status sf_train(const sf_graph *model, const char *name, const sf_dataset *train, const sf_train_options *o, sf_train_result **out);
/* The trained model on `test` through the runtime (sf_eval_snn; o NULL: the defaults without the ANN
 * beside it): sets r->test_accuracy (at the trained T) and, when wanted, *firing_rate (spikes per
 * neuron per step; NULL: not wanted). */
SF_API sf_status sf_train_evaluate(sf_train_result *r, const sf_dataset *test, const sf_eval_options *o, double *firing_rate);
/* `train --json`: {"epochs": [{"epoch", "train_loss", "train_accuracy", "val_accuracy", "seconds",
 * "images_per_second", "spikes_per_neuron_per_step"}, ...], "test_accuracy", ...}. Caller frees. */
SF_API char *sf_train_json(const sf_train_result *r);
/* Log the run to an MLflow file store (mlflow.h): the settings as parameters, every epoch's figures
 * as metrics by epoch, the test accuracy when known. */
SF_API sf_status sf_train_log_mlflow(const sf_train_result *r, const char *store_dir);
/* Hand the trained model over (the result no longer frees it). */
SF_API sf_snn_model *sf_train_result_take_model(sf_train_result *r);
SF_API void sf_train_result_free(sf_train_result *r);

#ifdef __cplusplus
}
#endif
#endif

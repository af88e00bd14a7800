/* spikeformer train MODEL --data DIR -o OUT.sfm [options]: parse, sf_train, evaluate the trained
 * model on the test split through the runtime, save it, print and write the figures. */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct {
  cli_head h;
  const char *data, *out, *json, *mlflow, *checkpoint, *resume, *teacher, *mode, *init, *surrogate, *optimizer, *schedule, *train_thresholds, *policy, *augment;
  double slope, lr, weight_decay, momentum, clip_norm, rate_penalty, beta, percentile, kd_alpha, kd_temperature, prune;
  int64_t epochs, batch, warmup, seed, limit, val, calib_samples, test_limit, recompute;
  int attach_reset, no_test, prune_per_layer;
  const char *qat;
  sf_spiking_config snn;
} train_args;

static const char *const modes[] = {"hybrid", "direct", "qcfs", NULL};
static const char *const inits[] = {"model", "random", NULL};
static const char *const surrogates[] = {"fast_sigmoid", "atan", "sigmoid", "triangle", "straight_through", NULL};
static const char *const optimizers[] = {"adamw", "sgd", NULL};
static const char *const lr_schedules[] = {"cosine", "constant", NULL};
static const char *const yes_no[] = {"yes", "no", NULL};
static const char *const policies[] = {"max", "percentile", "mse", NULL};
static const char *const qats[] = {"int8", "none", NULL};
static const char *const augments[] = {"none", "shift", "flip", "shift,flip", NULL};
#define A(f) offsetof(train_args, f)
static const cli_option options[] = {
    {.name = "--data", .kind = CLI_STR, .arg = "DIR", .offset = A(data), .help = "labelled data: its train split trains (the last --val images validate), its test split tests (default " SF_DEFAULT_DATA_DIR ")"},
    {.name = "--output", .alias = "-o", .kind = CLI_STR, .arg = "OUT.sfm", .offset = A(out), .help = "the trained spiking network (an ordinary .sfm: eval, run, profile, report take it)"},
    {.name = "--mode", .kind = CLI_CHOICE, .arg = "M", .offset = A(mode), .help = "hybrid (default): convert MODEL (calibrated thresholds), then fine-tune weights and thresholds "
                                                    "at T; direct: the spiking network with MODEL's architecture, from its weights or --init random, thresholds 1; "
                                                    "qcfs: fine-tune MODEL's ANN with QCFS activations of T levels (Bu et al. 2022), then convert with their "
                                                    "clip levels as thresholds", .choices = modes},
    {.name = "--init", .kind = CLI_CHOICE, .arg = "I", .offset = A(init), .help = "direct: model (default) or random weights (PyTorch nn.Linear's uniform +-1/sqrt(fan_in))", .choices = inits},
    {.name = "--timesteps", .kind = CLI_CONFIG, .arg = "T", .offset = A(snn), .help = "steps the network is trained and run for (default 8)", .key = "timesteps"},
    {.name = "--neuron", .kind = CLI_CONFIG, .arg = "M", .offset = A(snn), .help = "if (default: binary, one spike per step at most) | lif | burst", .key = "neuron_model"},
    {.name = "--beta", .kind = CLI_NUM, .arg = "B", .offset = A(beta), .help = "LIF leak: v <- beta v + i (implies --neuron lif)", .lo = 0, .hi = 1, .range_text = "a number in [0, 1]"},
    {.name = "--burst-levels", .kind = CLI_CONFIG, .arg = "K", .offset = A(snn), .help = "spikes per step of a burst neuron (default 4)", .key = "burst_levels"},
    {.name = "--surrogate", .kind = CLI_CHOICE, .arg = "NAME", .offset = A(surrogate), .help = "the spike's surrogate gradient: fast_sigmoid (default for an MLP), atan, sigmoid, triangle (default for a ViT), "
                                                            "straight_through (see train.h for the formulas and how they map to snnTorch's and SpikingJelly's)", .choices = surrogates},
    {.name = "--surrogate-slope", .kind = CLI_NUM, .arg = "S", .offset = A(slope), .help = "its slope (defaults for an MLP, on u: fast_sigmoid 25, atan 2, sigmoid 25, triangle 1; for a ViT, on u / theta: 2, 2, 4, 1)", .lo = 1e-6, .hi = 1e6},
    {.name = "--attach-reset", .kind = CLI_FLAG, .offset = A(attach_reset), .help = "let the gradient flow through the reset (default: detached, as snnTorch and SpikingJelly)"},
    {.name = "--train-thresholds", .kind = CLI_CHOICE, .arg = "yes|no", .offset = A(train_thresholds), .help = "train the thresholds too (default: yes in hybrid, no in direct)", .choices = yes_no},
    {.name = "--rate-penalty", .kind = CLI_NUM, .arg = "R", .offset = A(rate_penalty), .help = "add R x (spikes per neuron per step) to the loss, so the network fires less (default 0 for an MLP; 3 for a ViT in hybrid mode, each spike weighted by the synaptic operations it causes)", .lo = 0, .hi = 1e6},
    {.name = "--teacher", .kind = CLI_STR, .arg = "MODEL", .offset = A(teacher), .help = "distil from this model (ONNX file or Hugging Face directory) with the "
                                                                "student's classes (default in hybrid mode: MODEL itself, the ANN)"},
    {.name = "--kd-alpha", .kind = CLI_NUM, .arg = "A", .offset = A(kd_alpha), .help = "weight of the distillation term A tau^2 KL(teacher/tau || student/tau) "
                                                            "(default 1 in hybrid mode or with --teacher, else 0: none)", .lo = 0, .hi = 1000},
    {.name = "--kd-temperature", .kind = CLI_NUM, .arg = "K", .offset = A(kd_temperature), .help = "distillation temperature tau (default 4)", .lo = 1e-3, .hi = 1000},
    {.name = "--prune", .kind = CLI_NUM, .arg = "S", .offset = A(prune), .help = "magnitude pruning with fine-tuning to sparsity S of every weighted layer "
                                                     "(gradually over two thirds of the steps; zero weights cost no synaptic operations)", .lo = 0, .hi = 0.99},
    {.name = "--prune-per-layer", .kind = CLI_FLAG, .offset = A(prune_per_layer), .help = "prune each layer to S (default: one magnitude cut over all layers)"},
    {.name = "--recompute", .kind = CLI_INT, .arg = "K", .offset = A(recompute), .help = "gradient checkpointing over time: keep the membranes every K steps, "
                                                       "recompute the steps between in the backward (memory stops growing with T; default 0: off)", .hi = 4096},
    {.name = "--augment", .kind = CLI_CHOICE, .arg = "A", .offset = A(augment), .help = "transform each training batch: shift (by up to 2 pixels), flip "
                                                   "(horizontal), shift,flip, or none (default; a ViT only, for one trained with them: its teacher "
                                                   "then sees each transformed batch)", .choices = augments},
    {.name = "--qat", .kind = CLI_CHOICE, .arg = "int8", .offset = A(qat), .help = "quantisation-aware training: the forward on the weights, thresholds and "
                                                   "inputs as '--quant int8' runs them (the test then runs float and int8)", .choices = qats},
    {.name = "--epochs", .kind = CLI_INT, .arg = "E", .offset = A(epochs), .help = "passes over the training images (default 10 for an MLP, 4 for a ViT)", .lo = 1, .hi = 100000},
    {.name = "--batch", .kind = CLI_INT, .arg = "B", .offset = A(batch), .help = "images per step (default 128)", .lo = 1, .hi = 1 << 20},
    {.name = "--lr", .kind = CLI_NUM, .arg = "LR", .offset = A(lr), .help = "peak learning rate (default 3e-4 in hybrid mode, 1e-3 in direct)", .lo = 1e-12, .hi = 100},
    {.name = "--optimizer", .kind = CLI_CHOICE, .arg = "O", .offset = A(optimizer), .help = "adamw (default) | sgd (with momentum)", .choices = optimizers},
    {.name = "--weight-decay", .kind = CLI_NUM, .arg = "W", .offset = A(weight_decay), .help = "decoupled (AdamW) or L2 (SGD) weight decay on weights and biases (default 0.01)", .lo = 0, .hi = 100},
    {.name = "--momentum", .kind = CLI_NUM, .arg = "M", .offset = A(momentum), .help = "SGD momentum (default 0.9)", .lo = 0, .hi = 0.999999},
    {.name = "--schedule", .kind = CLI_CHOICE, .arg = "S", .offset = A(schedule), .help = "cosine (default) | constant, after a linear warm-up", .choices = lr_schedules},
    {.name = "--warmup", .kind = CLI_INT, .arg = "N", .offset = A(warmup), .help = "warm-up steps (default 100, at most a tenth of all steps)", .hi = 1 << 30},
    {.name = "--clip-norm", .kind = CLI_NUM, .arg = "C", .offset = A(clip_norm), .help = "clip the gradient to this global L2 norm (default 0: off)", .lo = 0, .hi = 1e9},
    {.name = "--seed", .kind = CLI_INT, .arg = "S", .offset = A(seed), .help = "seed of the shuffling and the random initialisation (default 1)", .hi = 9.2e18},
    {.name = "--limit", .kind = CLI_INT, .arg = "N", .offset = A(limit), .help = "train on the first N training images only", .lo = 1, .hi = 9.2e18},
    {.name = "--val", .kind = CLI_INT, .arg = "N", .offset = A(val), .help = "hold out the last N training images for validation (default 5000; 0: none)", .hi = 9.2e18},
    {.name = "--test-limit", .kind = CLI_INT, .arg = "N", .offset = A(test_limit), .help = "test on the first N test images (default: all)", .lo = 1, .hi = 9.2e18},
    {.name = "--no-test", .kind = CLI_FLAG, .offset = A(no_test), .help = "do not evaluate the trained model on the test split"},
    {.name = "--policy", .kind = CLI_CHOICE, .arg = "P", .offset = A(policy), .help = "hybrid: the conversion's threshold policy, max | percentile | mse (default mse)", .choices = policies},
    {.name = "--percentile", .kind = CLI_NUM, .arg = "P", .offset = A(percentile), .help = "hybrid: for --policy percentile", .lo = 1e-9, .hi = 100},
    {.name = "--calib-samples", .kind = CLI_INT, .arg = "N", .offset = A(calib_samples), .help = "hybrid: calibration images (default 512)", .lo = 1, .hi = 1 << 20},
    {.name = "--config", .kind = CLI_CONFIG, .arg = "FILE", .offset = A(snn), .help = "SpikingConfig keys from a JSON file (see 'spikeformer config --help')", .key = "@"},
    {.name = "--set", .kind = CLI_CONFIG, .arg = "KEY=VALUE", .offset = A(snn), .help = "one SpikingConfig key", .key = "="},
    {.name = "--checkpoint", .kind = CLI_STR, .arg = "FILE", .offset = A(checkpoint), .help = "write the training state to FILE (atomically) after every epoch, and when "
                                                                  "SIGINT or SIGTERM stops the run"},
    {.name = "--resume", .kind = CLI_STR, .arg = "FILE", .offset = A(resume), .help = "continue the run saved in FILE, to the same result bit for bit as if it had not "
                                                              "stopped (same model, data, options and --threads; another run's checkpoint is refused)"},
    {.name = "--json", .kind = CLI_STR, .arg = "FILE", .offset = A(json), .help = "write the per-epoch figures and the test accuracy as JSON"},
    {.name = "--mlflow", .kind = CLI_STR, .arg = "DIR", .offset = A(mlflow), .help = "log the run to an MLflow file store"},
    {.name = NULL}};

static void defaults(void *p) {
  train_args *a = p;
  sf_train_options o;
  sf_train_options_default(&o);
  a->data = SF_DEFAULT_DATA_DIR;
  a->snn = o.convert.snn;
  a->val = o.val_images;
  a->seed = (int64_t)o.seed;
}

static void print_epoch(const sf_train_epoch *e, void *user) {
  (void)user;
  char val[32] = "         -";
  if (!isnan(e->val_accuracy)) snprintf(val, sizeof val, "%9.2f%%", 100 * e->val_accuracy);
  printf("%5d %10.4f %9.2f%% %s %10.3f %9.1f %9.0f\n", e->epoch, e->train_loss, 100 * e->train_accuracy, val, e->spikes_per_neuron_per_step, e->seconds,
         e->images_per_second);
  fflush(stdout);
}

/* SIGINT / SIGTERM: the trainer finishes its step, writes the checkpoint and returns */
static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

/* a train option from the command line, by its library key */
#define SET(key, ...)                                                            \
  do {                                                                           \
    char v_[64];                                                                 \
    snprintf(v_, sizeof v_, __VA_ARGS__);                                        \
    if ((st = sf_train_options_set(&o, key, v_))) return cli_fail(st);           \
  } while (0)

static int run(void *p) {
  train_args *a = p;
  const char *model = a->h.pos[0];
  if (!a->out) return cli_usage_error("train", "missing -o OUT.sfm");
  sf_status st = sf_check_writable((const char *[]){a->out, a->json, a->checkpoint}, 3);
  if (st) return cli_fail(st);
  sf_train_options o;
  sf_train_options_default(&o);
  o.convert.snn = a->snn;
  if (a->mode) SET("mode", "%s", a->mode);
  if (a->init) SET("init", "%s", a->init);
  if (a->surrogate) SET("surrogate", "%s", a->surrogate);
  if (cli_given(a, "--surrogate-slope")) o.slope = (float)a->slope;
  if (cli_given(a, "--beta")) {
    o.convert.snn.neuron_model = SF_NEURON_LIF;
    o.convert.snn.leak = (float)a->beta;
  }
  o.detach_reset = !a->attach_reset;
  if (a->train_thresholds) o.train_thresholds = !strcmp(a->train_thresholds, "yes");
  if (cli_given(a, "--rate-penalty")) o.rate_penalty = a->rate_penalty;
  if (cli_given(a, "--kd-alpha")) o.kd_alpha = a->kd_alpha;
  if (cli_given(a, "--prune")) o.prune = a->prune;
  o.prune_per_layer = a->prune_per_layer;
  o.recompute = (int)a->recompute;
  if (a->qat) SET("qat", "%s", a->qat);
  if (a->augment) SET("augment", "%s", a->augment);
  if (cli_given(a, "--kd-temperature")) o.kd_temperature = a->kd_temperature;
  if (a->epochs) o.epochs = (int)a->epochs;
  if (a->batch) o.batch = (int)a->batch;
  if (cli_given(a, "--lr")) o.lr = a->lr;
  if (a->optimizer) SET("optimizer", "%s", a->optimizer);
  if (cli_given(a, "--weight-decay")) o.weight_decay = a->weight_decay;
  if (cli_given(a, "--momentum")) o.momentum = a->momentum;
  if (a->schedule) SET("schedule", "%s", a->schedule);
  if (cli_given(a, "--warmup")) o.warmup_steps = (int)a->warmup;
  if (cli_given(a, "--clip-norm")) o.clip_norm = a->clip_norm;
  o.seed = (uint64_t)a->seed;
  o.limit = a->limit;
  o.val_images = a->val;
  if (a->policy) SET("policy", "%s", a->policy);
  if (cli_given(a, "--percentile")) SET("percentile", "%.17g", a->percentile);
  if (a->calib_samples) o.convert.calib_samples = (int)a->calib_samples;
  o.checkpoint = a->checkpoint;
  o.resume = a->resume;
  stop_requested = 0;
  o.stop = &stop_requested;
  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  cli_progress pb = {0};
  const int rank0 = sf_dist_rank() == 0; /* under mpirun, rank 0 alone shows progress, tests and writes */
  o.progress = rank0 ? cli_progress_fn : NULL;
  o.progress_user = &pb;
  o.on_epoch = print_epoch;
  sf_graph *g = NULL, *teacher = NULL;
  sf_dataset train = {0}, test = {0};
  sf_train_result *r = NULL;
  int ret = 0;
  /* MODEL: an ANN, or a converted model (.sfm) that hybrid training starts from */
  sf_snn_model *start = NULL;
  if (cli_is_sfm(model)) {
    if ((st = sf_snn_model_load(model, &start))) return cli_fail(st);
    if (!cli_given(a, "--timesteps")) o.convert.snn.timesteps = sf_snn_model_options(start)->snn.timesteps;
  } else if ((st = sf_graph_load(model, &g))) {
    return cli_fail(st);
  }
  if (a->teacher && (st = sf_graph_load(a->teacher, &teacher))) goto done;
  o.teacher = teacher;
  /* the limit counts training images: read them and the validation images behind the whole split */
  if ((st = sf_dataset_load(a->data, SF_SPLIT_TRAIN, 0, &train))) goto done;
  printf("training %s (%s%s) on %s: %lld images, T=%d, %s neurons", model, sf_train_mode_name(o.mode), start ? ", from its thresholds" : "", train.source,
         (long long)train.n, o.convert.snn.timesteps, sf_neuron_model_name(start ? sf_snn_model_options(start)->snn.neuron_model : o.convert.snn.neuron_model));
  if (sf_dist_size() > 1) printf(", %d ranks x %d threads (each a share of every batch)", sf_dist_size(), sf_threads_get());
  printf("\n");
  printf("%5s %10s %10s %10s %10s %9s %9s\n", "epoch", "loss", "train", "val", "spikes/n/t", "seconds", "images/s");
  st = start ? sf_train_snn(start, model, &train, &o, &r) : sf_train(g, model, &train, &o, &r);
  cli_progress_end(&pb);
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  if (st == SF_ERR_INTERRUPTED && a->checkpoint) {
    fprintf(stderr, "spikeformer train: %s\n  continue with the same command and --resume %s\n", sf_last_error(), a->checkpoint);
    st = SF_OK;
    ret = 130; /* stopped by a signal, cleanly */
    goto done;
  }
  if (st) goto done;
  if (!a->no_test) { /* (every rank: each evaluates its share of the test images) */
    if ((st = sf_dataset_load(a->data, SF_SPLIT_TEST, a->test_limit, &test))) goto done;
    sf_eval_options eo;
    sf_eval_options_default(&eo);
    eo.ann = 0;
    eo.progress = cli_progress_fn;
    eo.progress_user = &pb;
    double rate = NAN;
    st = sf_train_evaluate(r, &test, &eo, &rate);
    cli_progress_end(&pb);
    if (st) goto done;
    printf("test: %.2f%% of %lld images at T=%d (the trained model in the runtime), %.3f spikes per neuron per step\n", 100 * r->test_accuracy,
           (long long)test.n, o.convert.snn.timesteps, rate);
    if (o.qat) { /* and in the int8 runtime it was trained for */
      const sf_backend *be;
      void *target = NULL;
      if ((st = sf_backend_find("cpu", &be)) || (st = sf_backend_target_new(be, &target)) || (st = sf_backend_target_set(be, target, "quant", "int8"))) {
        free(target);
        goto done;
      }
      eo.backend_options.target = target;
      st = sf_train_evaluate(r, &test, &eo, &rate);
      cli_progress_end(&pb);
      free(target);
      if (st) goto done;
      printf("test, int8 runtime (--quant int8): %.2f%% (%+.2f points from float)\n", 100 * r->test_accuracy_int8, 100 * (r->test_accuracy_int8 - r->test_accuracy));
    }
  }
  if (!rank0) goto done;
  if ((st = sf_snn_model_save(r->result, a->out))) goto done;
  printf("wrote %s (%lld parameters, %.1f s of training, training state %.1f MB)\n", a->out, (long long)r->parameters, r->seconds, (double)r->state_bytes / 1e6);
  if (o.prune > 0) printf("sparsity: %.2f%% of the weights are zero\n", 100 * r->sparsity);
  if (a->json && (st = cli_write_text(a->json, sf_train_json(r)))) goto done;
  if (a->mlflow) {
    if ((st = sf_train_log_mlflow(r, a->mlflow))) goto done;
    printf("logged run to %s (MLflow file store)\n", a->mlflow);
  }
done:
  sf_train_result_free(r);
  sf_dataset_free(&test);
  sf_dataset_free(&train);
  sf_graph_free(g);
  sf_graph_free(teacher);
  sf_snn_model_free(start);
  return st ? cli_fail(st) : ret;
}

const cli_command cmd_train = {
    "train", "MODEL|IN.sfm -o OUT.sfm [--data DIR] [options]", "train a spiking network: hybrid fine-tuning of a converted model, or direct training",
    "Trains the spiking network of MODEL (an ONNX file or Hugging Face directory, or a converted .sfm, whose\n"
    "thresholds and neurons hybrid training then starts from) with backpropagation through\n"
    "time and a surrogate gradient for the spike. hybrid (default) converts MODEL with calibrated thresholds and\n"
    "fine-tunes weights and thresholds at T steps; direct trains the spiking network with MODEL's architecture\n"
    "from its weights or from random ones. The network is the one the runtime runs (membranes start at theta/2,\n"
    "reset by subtraction, the output is the mean of the last layer's current over T), so the saved .sfm\n"
    "evaluates to the accuracy the trainer reports. The trainer takes chains of Linear layers with ReLU between\n"
    "them (MLPs: every mode) and Hugging Face ViTs (ViTForImageClassification, a directory or its .sfm: hybrid\n"
    "mode, BPTT through the converted ViT's neurons, expectation-compensated LayerNorm, GELU and softmax and\n"
    "its products of spike streams; an ONNX ViT is refused: give its Hugging Face directory). Other models\n"
    "are refused with the first node the trainer cannot take.\n"
    "With --checkpoint FILE the state is written after every epoch; SIGINT or SIGTERM stops the run after the\n"
    "step in progress, writes FILE and exits with status 130; --resume FILE continues it.",
    options, sizeof(train_args), defaults, run, 1, 1, "MODEL"};

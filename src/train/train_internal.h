/* What the trainers share (trainer.c for the MLP chain, vit_train.c for the ViT). */
#ifndef SF_TRAIN_INTERNAL_H
#define SF_TRAIN_INTERNAL_H
#include "spikeformer/dataset.h"
#include "spikeformer/graph.h"
#include "spikeformer/train.h"

/* thresholds stay above this (a neuron with theta -> 0 would fire without bound) */
#define THETA_MIN 1e-3f
/* validation batches */
#define EVAL_BATCH 500

double train_now_s(void);
/* the samples must be n0 values each, with labels in [0, classes), all finite */
sf_status train_check_data(const sf_dataset *d, int64_t n0, int64_t classes);
/* The teacher's logits for samples [0, n) of d, [n, C]: one pass of the teacher (an ANN, run by the
 * float executor) before training. */
sf_status train_teacher_logits(const sf_graph *teacher, const sf_dataset *d, int64_t n, int64_t C, float **out);
/* A result for a run of o's epochs on model `name`: the options kept without callbacks (NULL: out of
 * memory) */
sf_train_result *train_result_new(const sf_train_options *o, const char *name);
/* The ViT's hybrid training (vit_train.c): model a Hugging Face ViTForImageClassification; start its
 * converted form or NULL (convert and calibrate first); o resolved (lr and kd_alpha set). */
int train_is_vit(const sf_graph *model);
sf_status train_vit(const sf_graph *model, const sf_snn_model *start, const char *name, const sf_dataset *train, const sf_train_options *o,
                    sf_train_result **out);

#endif

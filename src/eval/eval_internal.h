/* Pieces shared by the evaluation, optimisation and report modules (not a public header). */
#ifndef SF_EVAL_INTERNAL_H
#define SF_EVAL_INTERNAL_H
#include <stdint.h>

#include "spikeformer/eval.h"
#include "spikeformer/session.h"

/* Samples [start, start + count) of ds as the model's input: a view, flattened to [count, c*h*w]
 * where the model's input is 2-D. */
sf_tensor sf_eval_batch(const sf_dataset *ds, const sf_graph *model, int64_t start, int64_t count);

/* Argmax of each row of logits [n, classes] against labels: the number right; with ok, also
 * ok[i] = 1 where row i is right. */
int64_t sf_eval_mark_correct(const sf_tensor *logits, const int32_t *labels, int64_t n, uint8_t *ok);

/* One ANN batch: runs x, counts the rows right (into *right; per-row flags into ok when given, and
 * the predicted classes into preds when given). *seconds (if given) receives the time of the run
 * alone. The first output must be [n, classes] float logits. */
sf_status sf_eval_ann_batch(sf_session *s, const sf_graph *g, const sf_tensor *x, const int32_t *labels, int64_t n, int64_t *right, uint8_t *ok,
                            int64_t *preds, double *seconds);

/* sf_snn_step_fn that adds the number of correct predictions after step t to correct[t - 1]; with
 * ok set, also ok[(t - 1) * ok_stride + ok_offset + i] = 1 if sample i is right after step t. */
typedef struct {
  const int32_t *labels;
  int64_t n;
  int64_t *correct;
  uint8_t *ok;
  int64_t ok_offset, ok_stride;
} sf_acc_ctx;
int sf_acc_step(int t, const sf_tensor *decoded, void *user);

/* Profile: energy per layer, per model and the ANN's, into r (energy models already loaded). */
sf_status sf_eval_energy(sf_eval_result *r, const sf_graph *ann);

#endif

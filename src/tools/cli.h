/* Shared pieces of the spikeformer command-line tool. */
#ifndef SF_TOOLS_CLI_H
#define SF_TOOLS_CLI_H
#include <stdint.h>
#include <stdio.h>

#include "spikeformer/spikeformer.h"

int cmd_analyze(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_ops(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_eval_snn(const char *model, int argc, char **argv);
int cmd_eval_snn_mode(const char *model, int argc, char **argv, int profile);
int cmd_profile(int argc, char **argv);
int cmd_optimize(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_run_snn(const char *model, int argc, char **argv);
int cmd_validate(int argc, char **argv);
/* Does the file start with the .sfm magic? */
int cli_is_sfm(const char *path);
/* SpikingConfig flags (--config FILE, --timesteps, --neuron, --set KEY=VALUE ...). */
int cli_config_flag(int argc, char **argv, int *i, sf_spiking_config *cfg, sf_status *st);

/* Print "spikeformer: error: <last error>" and return 1. */
int cli_fail(sf_status st);
/* Usage error: message + hint, returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "--flag VALUE" parsing helpers: return 1 and set *val if argv[*i] matches, advancing *i. */
int cli_opt(int argc, char **argv, int *i, const char *name, const char **val);
int cli_flag(char **argv, int i, const char *name);
int cli_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out);
/* A finite number in [lo, hi] (not NaN): 0, or -1 */
int cli_parse_f64(const char *s, double lo, double hi, double *out);
/* SF_OK when each of the n output paths (NULL: not asked for) can be written: not a directory, in
 * a writable folder. Checked before long work, so that it does not end in "cannot write". */
sf_status cli_outputs_writable(const char *const *paths, int n);

/* Progress bar on stderr (only when stderr is a terminal, or SF_PROGRESS=1). */
typedef struct {
  const char *label;
  int64_t total, done;
  double t0, last;
  int enabled;
} cli_progress;
void cli_progress_start(cli_progress *p, const char *label, int64_t total);
void cli_progress_update(cli_progress *p, int64_t done);
void cli_progress_end(cli_progress *p);
double cli_now(void);

/* Accuracy of class predictions: argmax of each row of [n, classes] logits against labels. */
/* SF_OK when the dataset's labels are classes the model's first output scores, else an error
 * naming both (a label past the last class would count as wrong without a word) */
sf_status cli_labels_fit(const sf_dataset *ds, int64_t ncls, const char *model_name);
/* Classes the first output of a converted model scores (its last dimension), or 0 if unknown */
int64_t cli_snn_classes(const sf_snn_model *m);
int64_t cli_count_correct(const sf_tensor *logits, const int32_t *labels, int64_t n);
/* sf_snn_step_fn that adds the number of correct predictions after step t to correct[t - 1]. */
/* correct[t-1] += images right after step t; with ok set, also ok[(t-1) * ok_stride + ok_offset + i]
 * = 1 if image i is right after step t */
typedef struct { const int32_t *labels; int64_t n; int64_t *correct; uint8_t *ok; int64_t ok_offset, ok_stride; } cli_acc_ctx;
/* Per-image correctness flags (1 right, 0 wrong) of logits [n, classes]; returns the count right. */
int64_t cli_mark_correct(const sf_tensor *logits, const int32_t *labels, int64_t n, uint8_t *ok);
int cli_acc_step(int t, const sf_tensor *decoded, void *user);

/* Write a JSON document atomically (temp file + rename) and free it. */
struct cJSON;
sf_status cli_write_json(const char *path, struct cJSON *root);

/* Common: --threads N, --log LEVEL */
int cli_common(int argc, char **argv, int *i);

#endif

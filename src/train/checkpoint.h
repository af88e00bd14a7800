/* Training checkpoints: everything a run needs to continue, bit for bit, as if it had not stopped.
 *
 * File layout (little-endian):
 *   "SFCK", u32 version
 *   u64 n, n bytes: the run's fingerprint (JSON: the network's sizes and every setting that changes
 *                   the trajectory; a resumed run must have the same, or it is refused naming the key)
 *   u64 n, n bytes: the progress (JSON: epoch, step in it, global step, the epoch's running sums,
 *                   the finished epochs' figures)
 *   u64 n, n floats: per layer W [n_l, n_(l+1)] and b, then every theta (a chain; without one, net
 *                    NULL: the optimizer's parameter groups in order, which hold all that is trained),
 *                    then the optimizer's moments group by group (AdamW m and v, SGD its momentum buffer)
 *   u64 the optimizer's step count
 *   32 bytes: SHA-256 of everything before (a corrupt or truncated file is refused)
 * Written atomically (a temporary file renamed over the old one). */
#ifndef SF_TRAIN_CHECKPOINT_H
#define SF_TRAIN_CHECKPOINT_H
#include "train/optimizer.h"
#include "train/snn_net.h"

typedef struct {
  int epoch;                 /* the epoch in progress (0-based) */
  int64_t step_in_epoch;     /* steps of it done */
  int64_t global_step;       /* steps done in all */
  double loss_sum, spikes, seconds; /* the epoch's running sums (seconds: its time so far) */
  int64_t right, seen;
} train_progress;

sf_status checkpoint_write(const char *path, const char *fingerprint, const snn_net *net, const optim *opt, const train_progress *p,
                           const sf_train_epoch *done, int n_done);
/* Read into net and opt (already shaped as the file must be); done [max_epochs]. */
sf_status checkpoint_read(const char *path, const char *fingerprint, snn_net *net, optim *opt, train_progress *p, sf_train_epoch *done, int max_epochs,
                          int *n_done);

#endif

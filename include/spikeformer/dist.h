/* Data-parallel runs over MPI (Debian's Open MPI): `mpirun -np N spikeformer train ...` runs N
 * processes (ranks) that share the work and average what they compute; the same binary started
 * without mpirun is a world of one and never touches MPI.
 *
 * sf_dist_init starts MPI only when a launcher started this process (Open MPI's, PMIx's or PMI's
 * environment: OMPI_COMM_WORLD_SIZE, PMIX_RANK, PMI_RANK), and then gives each rank an equal share of
 * the machine's cores as its default thread count (cores / ranks on this node; --threads overrides).
 * Every rank runs the same calls in the same order; the library's collective steps (the trainer's
 * gradient average, the evaluators' merged counters) match up across ranks by that order. */
#ifndef SPIKEFORMER_DIST_H
#define SPIKEFORMER_DIST_H
#include <stdint.h>

#include "spikeformer/export.h"
#include "spikeformer/status.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Start MPI when launched by mpirun (idempotent). Without a launcher: a world of one, SF_OK. */
SF_API sf_status sf_dist_init(void);
/* This process's rank (0-based) and the number of ranks (1 without MPI). */
SF_API int sf_dist_rank(void);
SF_API int sf_dist_size(void);
/* Sum x [n] over the ranks, in place, the same result on every rank (a no-op in a world of one). */
SF_API sf_status sf_dist_sum_f32(float *x, int64_t n);
SF_API sf_status sf_dist_sum_f64(double *x, int64_t n);
/* Copy rank 0's x [n] to every rank. */
SF_API sf_status sf_dist_broadcast_f32(float *x, int64_t n);
/* The share [begin, end) of n items that this rank takes: contiguous, sizes differ by one at most. */
SF_API void sf_dist_share(int64_t n, int64_t *begin, int64_t *end);
/* End every rank with this exit status after an error on one of them (a no-op world of one). */
SF_API void sf_dist_abort(int status);
/* Shut MPI down (at exit; idempotent). */
SF_API void sf_dist_finalize(void);
/* Whether this build has MPI (1) or runs as one process only (0). */
SF_API int sf_dist_available(void);

#ifdef __cplusplus
}
#endif
#endif

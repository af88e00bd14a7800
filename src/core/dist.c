/* Data-parallel runs over MPI (dist.h). Built with Open MPI when CMake finds it (SF_HAVE_MPI);
 * without it, every call is the world of one. */
#include "spikeformer/dist.h"

#include <stdlib.h>
#include <unistd.h>

#include "spikeformer/log.h"
#include "spikeformer/threads.h"

#ifdef SF_HAVE_MPI
#include <mpi.h>

static int started, world_rank, world_size = 1;

/* started by mpirun (Open MPI), or another PMIx / PMI launcher */
static int launched(void) {
  return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

sf_status sf_dist_init(void) {
  if (started || !launched()) return SF_OK;
  int done = 0;
  MPI_Initialized(&done);
  if (!done) {
    int provided;
    /* only the thread that called init talks to MPI (OpenMP works between the calls) */
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) return sf_error(SF_ERR_INTERNAL, "MPI_Init_thread failed");
  }
  started = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world_size);
  /* an equal share of this node's cores per rank */
  MPI_Comm node;
  int local = 1;
  if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world_rank, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
    MPI_Comm_size(node, &local);
    MPI_Comm_free(&node);
  }
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  const int share = cores / local > 1 ? (int)(cores / local) : 1;
  sf_threads_set(share);
  sf_log(SF_LOG_DEBUG, "dist: rank %d of %d, %d on this node, %d threads each", world_rank, world_size, local, share);
  return SF_OK;
}

int sf_dist_rank(void) { return world_rank; }
int sf_dist_size(void) { return world_size; }
int sf_dist_available(void) { return 1; }

sf_status sf_dist_sum_f32(float *x, int64_t n) {
  for (int64_t at = 0; started && world_size > 1 && at < n;) { /* MPI counts are int: chunks of 2^30 */
    const int c = n - at > (1 << 30) ? 1 << 30 : (int)(n - at);
    if (MPI_Allreduce(MPI_IN_PLACE, x + at, c, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS) return sf_error(SF_ERR_INTERNAL, "MPI_Allreduce failed");
    at += c;
  }
  return SF_OK;
}

sf_status sf_dist_sum_f64(double *x, int64_t n) {
  for (int64_t at = 0; started && world_size > 1 && at < n;) {
    const int c = n - at > (1 << 30) ? 1 << 30 : (int)(n - at);
    if (MPI_Allreduce(MPI_IN_PLACE, x + at, c, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS) return sf_error(SF_ERR_INTERNAL, "MPI_Allreduce failed");
    at += c;
  }
  return SF_OK;
}

sf_status sf_dist_broadcast_f32(float *x, int64_t n) {
  for (int64_t at = 0; started && world_size > 1 && at < n;) {
    const int c = n - at > (1 << 30) ? 1 << 30 : (int)(n - at);
    if (MPI_Bcast(x + at, c, MPI_FLOAT, 0, MPI_COMM_WORLD) != MPI_SUCCESS) return sf_error(SF_ERR_INTERNAL, "MPI_Bcast failed");
    at += c;
  }
  return SF_OK;
}

void sf_dist_abort(int status) {
  if (started && world_size > 1) MPI_Abort(MPI_COMM_WORLD, status);
}

void sf_dist_finalize(void) {
  if (!started) return;
  int done = 0;
  MPI_Finalized(&done);
  if (!done) MPI_Finalize();
  started = 0;
  world_rank = 0;
  world_size = 1;
}

#else /* a build without MPI: the world of one */

sf_status sf_dist_init(void) {
  if (getenv("OMPI_COMM_WORLD_SIZE") && atoi(getenv("OMPI_COMM_WORLD_SIZE")) > 1)
    return sf_error(SF_ERR_UNSUPPORTED, "started by mpirun with %s ranks, but this build of SpikeFormer has no MPI (install libopenmpi-dev and rebuild)",
                    getenv("OMPI_COMM_WORLD_SIZE"));
  return SF_OK;
}
int sf_dist_rank(void) { return 0; }
int sf_dist_size(void) { return 1; }
int sf_dist_available(void) { return 0; }
sf_status sf_dist_sum_f32(float *x, int64_t n) {
  (void)x;
  (void)n;
  return SF_OK;
}
sf_status sf_dist_sum_f64(double *x, int64_t n) {
  (void)x;
  (void)n;
  return SF_OK;
}
sf_status sf_dist_broadcast_f32(float *x, int64_t n) {
  (void)x;
  (void)n;
  return SF_OK;
}
void sf_dist_abort(int status) { (void)status; }
void sf_dist_finalize(void) {}
#endif

void sf_dist_share(int64_t n, int64_t *begin, int64_t *end) {
  const int64_t r = sf_dist_rank(), N = sf_dist_size();
  *begin = n * r / N;
  *end = n * (r + 1) / N;
}

#include "spikeformer/threads.h"

#include <omp.h>

void openblas_set_num_threads(int num_threads); /* from OpenBLAS */

static int g_threads = 0;

void sf_threads_set(int n) {
  if (n <= 0) n = omp_get_num_procs();
  g_threads = n;
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

int sf_threads_get(void) { return g_threads > 0 ? g_threads : omp_get_max_threads(); }

/* Loops that open an OpenMP parallel region only when it pays. OpenMP sets up a thread team even
 * for a region whose if() clause is false: about 0.3 us at top level and 0.7 us inside another
 * region (where each shard of a spiking batch runs), measured on the development machine; a
 * spiking step runs hundreds of small loops per shard, so those set-ups cost more than the loops.
 *   SF_PAR_IF(cond, "omp parallel for <clauses>", for (...) body;)
 * runs the statement under that pragma when cond holds and no parallel region is active, else
 * runs it as it is on the calling thread (the same iterations, the same results). */
#ifndef SF_CORE_PAR_H
#define SF_CORE_PAR_H
#include <omp.h>

#define SF_PAR_IF(COND, PRAGMA, ...)          \
  do {                                        \
    if ((COND) && !omp_in_parallel()) {       \
      _Pragma(PRAGMA) __VA_ARGS__             \
    } else {                                  \
      __VA_ARGS__                             \
    }                                         \
  } while (0)

#endif

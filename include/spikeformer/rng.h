/* Deterministic seeded random numbers (xoshiro256**, seeded with splitmix64).
 * The same seed gives the same stream on every machine and thread count. */
#ifndef SPIKEFORMER_RNG_H
#define SPIKEFORMER_RNG_H
#include "spikeformer/export.h"
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

typedef struct { uint64_t s[4]; } sf_rng;

SF_API void sf_rng_seed(sf_rng *r, uint64_t seed);
/* Independent stream `index` of a seed (for per-sample / per-thread use). */
SF_API void sf_rng_seed_stream(sf_rng *r, uint64_t seed, uint64_t index);
SF_API uint64_t sf_rng_u64(sf_rng *r);
SF_API float sf_rng_uniform(sf_rng *r);   /* [0, 1) */
SF_API float sf_rng_normal(sf_rng *r);    /* N(0, 1) */
SF_API int sf_rng_bernoulli(sf_rng *r, float p);
SF_API uint64_t sf_rng_below(sf_rng *r, uint64_t n); /* uniform in [0, n) */

#ifdef __cplusplus
}
#endif
#endif

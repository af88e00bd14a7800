/* Thread count for SpikeFormer's own kernels (OpenMP) and for OpenBLAS. */
#ifndef SPIKEFORMER_THREADS_H
#define SPIKEFORMER_THREADS_H
#ifdef __cplusplus
extern "C" {
#endif

/* n <= 0 selects the number of available cores. */
void sf_threads_set(int n);
int sf_threads_get(void);

#ifdef __cplusplus
}
#endif
#endif

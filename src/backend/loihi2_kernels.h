/* The Loihi 2 emulator's hot loops (loihi2_kernels.c): dispatched on sf_cpu_isa(), and their
 * plain-C references (_ref) for tests. Shapes in loihi2_kernels.c. */
#ifndef SF_BACKEND_LOIHI2_KERNELS_H
#define SF_BACKEND_LOIHI2_KERNELS_H
#include <stdint.h>

int64_t l2_lif_step(int64_t n, const int32_t *a, const int32_t *bias, int du, int dv, int64_t vth, int32_t *u, int32_t *v, uint8_t *s, int64_t *wrapped,
                    int64_t *saturated);
int64_t l2_delta_step(int64_t n, const int32_t *a, int32_t vth, int32_t *act, int32_t *res, int32_t *s);
int64_t l2_sigma_delta_step(int64_t n, const int32_t *a, const int32_t *bias, int32_t vth, int32_t *sigma, int32_t *act, int32_t *res, int32_t *s);
int64_t l2_sigma_step(int64_t n, const int32_t *a, int32_t *sigma, int32_t *s);
void l2_dense_graded(const int16_t *W, int64_t N, const int64_t *list, const int32_t *vals, int64_t nk, int32_t *buf);
int64_t l2_spike_list(const uint8_t *s, int64_t n, int64_t *list);
void l2_dense_accumulate(const int16_t *W, int64_t N, const int64_t *list, int64_t nk, int32_t *buf);
int64_t l2_lif_step_fast(int64_t n, const int32_t *a, const int32_t *bias, int32_t vth, int32_t *u, int32_t *v, uint8_t *s, int64_t *saturated);
void l2_dense_accumulate_ref(const int16_t *W, int64_t N, const int64_t *list, int64_t nk, int32_t *buf);
int64_t l2_lif_step_ref(int64_t n, const int32_t *a, const int32_t *bias, int32_t vth, int32_t *u, int32_t *v, uint8_t *s, int64_t *saturated);

#endif

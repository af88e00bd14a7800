/* Integer synaptic kernels: int8 weights, int8 spike counts, int32 accumulators.
 *   X   [rows, K] int8 signed spike counts (k = -K..K per neuron and step; rows padded by 4 bytes)
 *   Wq  [K, N] int8 weights, row k = the synapses of input k (event path)
 *   Wp  [ceil(K/4), Np, 4] the same weights packed for 4-way dot products (dense path),
 *       Np = N rounded up to 16, zero padded
 *   colsum [N] sum over k of Wq[k, n] (the dense path works on x + 128 and subtracts 128 colsum)
 *   ACC [rows, N] int32, already holding the bias in accumulator units; the kernels add X Wq.
 * Integer sums are exact, so every path and thread count gives the same accumulators. */
#ifndef SF_SNN_SPIKE_KERNELS_Q8_H
#define SF_SNN_SPIKE_KERNELS_Q8_H
#include <stdint.h>

/* Bytes for the packed layout of a [K, N] weight. */
int64_t sf_q8_packed_size(int64_t K, int64_t N);
void sf_q8_pack(const int8_t *Wq, int64_t K, int64_t N, int8_t *Wp, int32_t *colsum);
/* Event path: for each non-zero X[r, k]: ACC[r, :] += X[r, k] * Wq[k, :]. Returns the events. */
int64_t sf_q8_linear_events(const int8_t *X, int64_t rows, int64_t K, const int8_t *Wq, int64_t N, int32_t *ACC);
/* Event path with int16 partial sums: each event's weights widened to int16 on load, the sums
 * kept in int16 registers and flushed to ACC before they could overflow (|k| <= kmax). Same
 * results as the above; with a bias row [N], ACC = bias + X Wq instead. */
int64_t sf_q8_linear_events16(const int8_t *X, int64_t rows, int64_t K, const int8_t *Wq, int64_t N, int kmax, const int32_t *bias,
                              int32_t *ACC);
/* The same for one row x[0:K] into acc[0:N], with the caller's scratch idx[K + 64] (no allocation:
 * for runners that step one sample at a time). */
int64_t sf_q8_events16_row(const int8_t *x, int64_t K, const int8_t *W, int64_t N, int kmax, const int32_t *bias, int32_t *acc,
                           int32_t *idx);
/* Event path over a block of nb <= 32 steps of one sample: S [nb, K] counts, bits[k] the steps at
 * which input k is non-zero (bit t, sf_q8_step_bits), I [nb, N] int16 rows ldi apart:
 * I[t, :] += S[t, k] Wq[k, :].
 * Each weight row is read once for all the steps it fires at. The caller keeps every step's
 * sum |S[t, :]| * 127 below 2^15 (no overflow). */
void sf_q8_events_steps(const int8_t *S, int nb, int64_t K, const uint32_t *bits, const int8_t *Wq, int64_t N, int16_t *I, int64_t ldi);
void sf_q8_step_bits(const int8_t *S, int nb, int64_t K, uint32_t *bits);
/* Dense path: ACC += X Wq over every input (VNNI dot products where the CPU has them); with a bias
 * row [N], ACC = bias + X Wq instead (no separate pass to fill ACC). */
void sf_q8_linear_dense(const int8_t *X, int64_t rows, int64_t K, const int8_t *Wq, const int8_t *Wp, const int32_t *colsum,
                        int64_t N, const int32_t *bias, int32_t *ACC);
/* The same for one row x[0:K] into acc[0:N] (no threads: for runners that step one sample at a time). */
void sf_q8_dense_row(const int8_t *x, int64_t K, const int8_t *Wq, const int8_t *Wp, const int32_t *colsum, int64_t N, const int32_t *bias,
                     int32_t *acc);
/* The same for `rows` rows, on the calling thread (narrow layers share each weight load among 8 rows). */
void sf_q8_dense_rows(const int8_t *X, int64_t rows, int64_t K, const int8_t *Wq, const int8_t *Wp, const int32_t *colsum, int64_t N,
                      const int32_t *bias, int32_t *ACC);
/* Non-zero entries of an int8 array. */
int64_t sf_q8_count_nonzero(const int8_t *x, int64_t n);
/* "vnni512", "avx2" or "c": the code the int8 kernels run at the current level (sf_cpu_isa():
 * avx512-vnni runs vnni512; avx512 and avx2 run avx2; c runs c). */
const char *sf_q8_isa(void);

#endif

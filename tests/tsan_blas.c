/* Linked into the library by the SF_TSAN build only (CMakeLists.txt: -Wl,--wrap=cblas_sgemm
 * -Wl,--wrap=openblas_set_num_threads), for tests/tsan_snn.sh.
 *
 * cblas_sgemm: the pthread OpenBLAS takes a pthread mutex around its buffer pool at every call
 * (blas_memory_alloc). TSan sees that mutex (only memory accesses are ignored in uninstrumented
 * libraries, not their locks), so two of our threads that both call BLAS are ordered by it, and a
 * race between them is hidden: a deliberate race between two OpenMP threads that each call
 * cblas_sgemm goes unreported. OpenBLAS's own synchronisation is nothing our code may rely on, so
 * the wrapper tells TSan to ignore the synchronisation inside the call (its memory accesses are not
 * instrumented anyway). The TSan suppression "called_from_lib" would do the same but, in LLVM 14,
 * dies on a library with two executable segments, as OpenBLAS has.
 *
 * openblas_set_num_threads: a no-op, so that OPENBLAS_NUM_THREADS=1 holds (sf_threads_set would
 * start OpenBLAS worker threads): the threads are libomp's and ours. */
#include <cblas.h>

void AnnotateIgnoreSyncBegin(const char *file, int line); /* from the TSan runtime */
void AnnotateIgnoreSyncEnd(const char *file, int line);

void __real_cblas_sgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta, const enum CBLAS_TRANSPOSE tb, const blasint M,
                        const blasint N, const blasint K, const float alpha, const float *A, const blasint lda, const float *B,
                        const blasint ldb, const float beta, float *C, const blasint ldc);
void __wrap_cblas_sgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta, const enum CBLAS_TRANSPOSE tb, const blasint M,
                        const blasint N, const blasint K, const float alpha, const float *A, const blasint lda, const float *B,
                        const blasint ldb, const float beta, float *C, const blasint ldc);
void __wrap_openblas_set_num_threads(int n);

void __wrap_cblas_sgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta, const enum CBLAS_TRANSPOSE tb, const blasint M,
                        const blasint N, const blasint K, const float alpha, const float *A, const blasint lda, const float *B,
                        const blasint ldb, const float beta, float *C, const blasint ldc) {
  AnnotateIgnoreSyncBegin(__FILE__, __LINE__);
  __real_cblas_sgemm(order, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  AnnotateIgnoreSyncEnd(__FILE__, __LINE__);
}

void __wrap_openblas_set_num_threads(int n) { (void)n; }

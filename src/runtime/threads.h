/* threads.h — the number of worker threads torchless uses (OpenMP regions and BLAS). */
#ifndef TL_RUNTIME_THREADS_H
#define TL_RUNTIME_THREADS_H

/* Resolves a requested count: n > 0 as given; 0 means $TORCHLESS_NUM_THREADS when set
 * to a positive integer, else the number of online cores. Never returns < 1. */
int tl_threads_resolve(int n);

/* Sets the count used by our kernels and by the BLAS library (process-wide). */
void tl_threads_set(int n);

/* Returns the count set by tl_threads_set (default: tl_threads_resolve(0)). */
int tl_threads_get(void);

#endif

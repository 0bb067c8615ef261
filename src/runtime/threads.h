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

/* Keeps the calling thread's OpenMP team (nt threads) off the CPU the caller runs on:
 * when that CPU changed since this thread's last call, one parallel region sets each team
 * thread's affinity to the caller's allowed CPUs minus that one. Returns the CPU kept
 * free, or -1 when nothing applies (nt < 2, fewer than 2 allowed CPUs, inside a parallel
 * region, or the user placed OpenMP threads with OMP_PROC_BIND, OMP_PLACES or
 * GOMP_CPU_AFFINITY). Why: a Linux guest wakes a sleeping thread on its waker's CPU when the idle
 * CPU looks preempted, as a halted virtual CPU does, so after a pause the team thread
 * woke beside the caller and the two took turns on one CPU while the other idled
 * (all-MiniLM-L6-v2, 16 tokens, 100 ms between calls: 15.9 ms forwards, 3.7 ms steered). */
int tl_threads_steer_omp(int nt);

#endif

/* threads.h — the number of worker threads torchless uses (OpenMP regions and BLAS): a
 * per-thread value, set from the context at the start of each forward, so contexts with
 * different counts run side by side. */
#ifndef TL_RUNTIME_THREADS_H
#define TL_RUNTIME_THREADS_H
#include "torchless.h"

/* Resolves a requested count: n > 0 as given; 0 means $TORCHLESS_NUM_THREADS when set
 * to a positive integer, else the number of CPUs the process may run on (its affinity
 * mask; the online cores when that is unknown). Never returns < 1. */
int tl_threads_resolve(int n);

/* TL_OK when $TORCHLESS_NUM_THREADS is unset, empty or an integer in [1, 4096]; else
 * TL_ERR_INVALID_ARG naming the value (tl_threads_resolve then ignores it). */
tl_status tl_threads_check_env(void);

/* Sets the count our kernels use on the calling thread (tl_threads_resolve(n)). */
void tl_threads_set(int n);

/* Returns the calling thread's count (default: tl_threads_resolve(0)). */
int tl_threads_get(void);

/* What tl_threads_enter replaced on this thread. */
typedef struct tl_threads_saved { int count, omp; } tl_threads_saved;

/* Sets the calling thread's count to tl_threads_resolve(n) for one forward, and OpenMP's
 * (omp_set_num_threads: this thread's regions and OpenBLAS calls) to match; returns the
 * previous values for tl_threads_leave. */
tl_threads_saved tl_threads_enter(int n);

/* Restores the calling thread's counts saved by tl_threads_enter. */
void tl_threads_leave(tl_threads_saved prev);

/* Keeps the calling thread's OpenMP team (nt threads) off the CPU the caller runs on;
 * returns that CPU, or -1 when it leaves the team alone.
 *
 * Each team thread's affinity becomes the caller's allowed CPUs minus the caller's current
 * one, set in one parallel region when the CPU, the caller's mask or a larger nt differs
 * from this thread's last call, and it stays set after the forward. Left alone: nt < 2,
 * nt above the caller's allowed CPUs, the user placed the threads (omp_get_proc_bind() is
 * not false: OMP_PROC_BIND, OMP_PLACES, GOMP_CPU_AFFINITY), a call inside a parallel
 * region, or a failed sched_setaffinity. Why: a Linux guest wakes a sleeping thread on its
 * waker's CPU when the idle CPU looks preempted, as a halted virtual CPU does, so after a
 * pause the team thread woke beside the caller and the two took turns on one CPU
 * (all-MiniLM-L6-v2, 16 tokens, 100 ms between calls: 15.9 ms forwards, 3.7 ms steered).
 * Not seen: team threads libgomp recreates (omp_pause_resource) before the next change. */
int tl_threads_steer_omp(int nt);

#endif

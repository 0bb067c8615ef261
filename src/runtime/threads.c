/* threads.c — thread-count resolution shared by our OpenMP loops and OpenBLAS. */
#include "runtime/threads.h"

#include <omp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

void openblas_set_num_threads(int num_threads);

static int tl_nthreads;

int tl_threads_resolve(int n) {
    if (n > 0) return n;
    const char *env = getenv("TORCHLESS_NUM_THREADS");
    if (env) {
        long v = strtol(env, NULL, 10);
        if (v > 0 && v <= 4096) return (int)v;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores > 0 ? (int)cores : 1;
}

void tl_threads_set(int n) {
    tl_nthreads = tl_threads_resolve(n);
    openblas_set_num_threads(tl_nthreads);
}

int tl_threads_get(void) {
    if (tl_nthreads <= 0) tl_threads_set(0);
    return tl_nthreads;
}

/* the CPU the calling thread's OpenMP team was last kept off, -1 none (per caller: each
 * thread that opens regions has its own team in libgomp) */
static _Thread_local int tl_omp_steered = -1;

/* Returns 1 when the user placed OpenMP threads (OMP_PROC_BIND, OMP_PLACES or
 * GOMP_CPU_AFFINITY set): their placement is then left alone. */
static int user_placed_threads(void) {
    return getenv("OMP_PROC_BIND") || getenv("OMP_PLACES") || getenv("GOMP_CPU_AFFINITY");
}

int tl_threads_steer_omp(int nt) {
    int cpu = sched_getcpu();
    if (nt < 2 || cpu < 0 || omp_in_parallel() || user_placed_threads()) return -1;
    if (cpu == tl_omp_steered) return cpu;
    cpu_set_t mine;
    if (sched_getaffinity(0, sizeof mine, &mine) != 0 || !CPU_ISSET(cpu, &mine) || CPU_COUNT(&mine) < 2)
        return -1;
    cpu_set_t others = mine;
    CPU_CLR(cpu, &others);
#pragma omp parallel num_threads(nt)
    if (omp_get_thread_num() != 0) sched_setaffinity(0, sizeof others, &others);
    tl_omp_steered = cpu;
    return cpu;
}

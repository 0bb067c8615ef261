/* threads.c — thread-count resolution shared by our OpenMP loops and OpenBLAS, and the
 * placement of the OpenMP team relative to the thread that calls a forward. */
#include "runtime/threads.h"
#include "core/error.h"

#include <omp.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

/* The count of the forward running on this thread (0: none set yet). */
static _Thread_local int tl_nthreads;

/* $TORCHLESS_NUM_THREADS as a count in [1, 4096]; 0 when unset or empty, -1 when bad. */
static long env_threads(void) {
    const char *env = getenv("TORCHLESS_NUM_THREADS");
    if (!env || !*env) return 0;
    char *end;
    long v = strtol(env, &end, 10);
    return *end == '\0' && v > 0 && v <= 4096 ? v : -1;
}

tl_status tl_threads_check_env(void) {
    if (env_threads() >= 0) return TL_OK;
    return tl_set_error(TL_ERR_INVALID_ARG, "TORCHLESS_NUM_THREADS='%s': expected a positive integer "
                        "up to 4096 (unset it for the CPUs this process may use)",
                        getenv("TORCHLESS_NUM_THREADS"));
}

int tl_threads_resolve(int n) {
    if (n > 0) return n;
    long v = env_threads();
    if (v > 0) return (int)v;
    /* the CPUs this process may run on (taskset, cgroup cpusets), not all online ones */
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) == 0 && CPU_COUNT(&allowed) > 0)
        return CPU_COUNT(&allowed);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores > 0 ? (int)cores : 1;
}

void tl_threads_set(int n) { tl_nthreads = tl_threads_resolve(n); }

int tl_threads_get(void) {
    if (tl_nthreads <= 0) tl_threads_set(0);
    return tl_nthreads;
}

tl_threads_saved tl_threads_enter(int n) {
    tl_threads_saved prev = {tl_nthreads, omp_get_max_threads()};
    tl_nthreads = tl_threads_resolve(n);
    /* OpenBLAS built on OpenMP sizes each call by omp_get_max_threads() of its caller */
    if (prev.omp != tl_nthreads) omp_set_num_threads(tl_nthreads);
    return prev;
}

void tl_threads_leave(tl_threads_saved prev) {
    if (omp_get_max_threads() != prev.omp) omp_set_num_threads(prev.omp);
    tl_nthreads = prev.count;
}

/* What this thread's team was last steered for: the caller's CPU, the team size and the
 * caller's allowed CPUs (each thread that opens regions has its own team in libgomp). */
static _Thread_local struct {
    int cpu, nt;
    cpu_set_t mask;
} tl_steered = {.cpu = -1};

int tl_threads_steer_omp(int nt) {
    int cpu = sched_getcpu();
    /* OMP_PROC_BIND / OMP_PLACES / GOMP_CPU_AFFINITY: the user placed the threads */
    if (nt < 2 || cpu < 0 || omp_in_parallel() || omp_get_proc_bind() != omp_proc_bind_false)
        return -1;
    cpu_set_t mine;
    if (sched_getaffinity(0, sizeof mine, &mine) != 0 || !CPU_ISSET(cpu, &mine))
        return -1;
    /* more workers than the other allowed CPUs: pinning them there would crowd them */
    if (nt > CPU_COUNT(&mine)) return -1;
    if (cpu == tl_steered.cpu && nt <= tl_steered.nt && CPU_EQUAL(&mine, &tl_steered.mask))
        return cpu;
    cpu_set_t others = mine;
    CPU_CLR(cpu, &others);
    int failed = 0;
#pragma omp parallel num_threads(nt) reduction(+ : failed)
    if (omp_get_thread_num() != 0) failed += sched_setaffinity(0, sizeof others, &others) != 0;
    if (failed) {
        tl_steered.cpu = -1;
        return -1;
    }
    tl_steered.cpu = cpu;
    tl_steered.nt = nt;
    tl_steered.mask = mine;
    return cpu;
}

/* threads.c — thread-count resolution shared by our OpenMP loops and OpenBLAS. */
#include "runtime/threads.h"

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

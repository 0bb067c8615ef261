/* test_threads.c — the OpenMP team is kept off the caller's CPU (tl_threads_steer_omp). */
#include "runtime/threads.h"
#include "tl_test.h"

#include <omp.h>
#include <sched.h>

/* Returns the number of CPUs the calling thread may run on. */
static int allowed_cpus(void) {
    cpu_set_t s;
    return sched_getaffinity(0, sizeof s, &s) == 0 ? CPU_COUNT(&s) : 0;
}

TL_TEST(steer_keeps_team_off_caller_cpu) {
    int cpu = tl_threads_steer_omp(2);
    if (allowed_cpus() < 2) {
        CHECK(cpu == -1); /* one CPU: nothing to steer */
        return;
    }
    CHECK(cpu >= 0);
    int on_caller_cpu = 0, workers = 0;
#pragma omp parallel num_threads(2) reduction(+ : on_caller_cpu, workers)
    if (omp_get_thread_num() != 0) {
        cpu_set_t s;
        workers++;
        if (sched_getaffinity(0, sizeof s, &s) != 0 || CPU_ISSET(cpu, &s)) on_caller_cpu++;
    }
    CHECK(workers == 1);
    CHECK(on_caller_cpu == 0);
    /* a second call from the same CPU does no work and reports the same CPU */
    if (sched_getcpu() == cpu) CHECK(tl_threads_steer_omp(2) == cpu);
}

TL_TEST(steer_does_nothing_for_one_thread_or_inside_a_region) {
    CHECK(tl_threads_steer_omp(1) == -1);
    /* the user placed the threads: left alone */
    setenv("OMP_PLACES", "cores", 1);
    CHECK(tl_threads_steer_omp(2) == -1);
    unsetenv("OMP_PLACES");
    int inside = 0;
#pragma omp parallel num_threads(2)
#pragma omp single
    inside = tl_threads_steer_omp(2);
    CHECK(inside == -1 || omp_get_max_threads() < 2);
}

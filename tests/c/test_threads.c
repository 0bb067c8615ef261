/* test_threads.c — the OpenMP team is kept off the caller's CPU (tl_threads_steer_omp), and
 * left alone where that would not help. */
#include "runtime/threads.h"
#include "tl_test.h"

#include <omp.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

/* Returns the number of CPUs the calling thread may run on. */
static int allowed_cpus(void) {
    cpu_set_t s;
    return sched_getaffinity(0, sizeof s, &s) == 0 ? CPU_COUNT(&s) : 0;
}

/* Returns how many of the nt-thread team's workers may run on cpu (-1: the team had fewer
 * than nt - 1 workers). */
static int workers_allowed_on(int nt, int cpu) {
    int on_cpu = 0, workers = 0;
#pragma omp parallel num_threads(nt) reduction(+ : on_cpu, workers)
    if (omp_get_thread_num() != 0) {
        cpu_set_t s;
        workers++;
        if (sched_getaffinity(0, sizeof s, &s) != 0 || CPU_ISSET(cpu, &s)) on_cpu++;
    }
    return workers == nt - 1 ? on_cpu : -1;
}

TL_TEST(steer_keeps_team_off_caller_cpu) {
    int cpu = tl_threads_steer_omp(2);
    if (allowed_cpus() < 2 || omp_get_proc_bind() != omp_proc_bind_false) {
        CHECK(cpu == -1); /* one CPU, or the user placed the threads: nothing to do */
        return;
    }
    CHECK(cpu >= 0);
    CHECK(workers_allowed_on(2, cpu) == 0);
    /* a second call from the same CPU does no work and reports the same CPU */
    if (sched_getcpu() == cpu) CHECK(tl_threads_steer_omp(2) == cpu);
    /* a larger team (when the CPUs allow one) is steered too, not taken as done */
    if (allowed_cpus() >= 3 && sched_getcpu() == cpu) {
        CHECK(tl_threads_steer_omp(3) == cpu);
        CHECK(workers_allowed_on(3, cpu) == 0);
    }
}

TL_TEST(steer_leaves_alone_one_thread_oversized_teams_and_nested_calls) {
    CHECK(tl_threads_steer_omp(1) == -1);
    /* more threads than allowed CPUs: pinning the workers to the others would crowd them */
    CHECK(tl_threads_steer_omp(allowed_cpus() + 1) == -1);
    int inside = 0;
#pragma omp parallel num_threads(2)
#pragma omp single
    inside = tl_threads_steer_omp(2);
    CHECK(inside == -1 || omp_get_max_threads() < 2);
}

TL_TEST(steer_respects_user_placement) {
    if (omp_get_proc_bind() != omp_proc_bind_false) {
        CHECK(tl_threads_steer_omp(2) == -1);
        return;
    }
    /* libgomp reads OMP_PROC_BIND at start-up: run this test again in a child that has it */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("OMP_PROC_BIND", "true", 1);
        execl("/proc/self/exe", "test_threads", "steer_respects_user_placement", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

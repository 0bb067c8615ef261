/* profile.c — per-kernel timing totals behind TORCHLESS_PROFILE=1. */
#include "runtime/profile.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double tl_prof_total[TL_PROF_N];
static const char *const tl_prof_names[TL_PROF_N] = {
    "embeddings+ln", "qkv gemm", "attention", "attn-out gemm", "add+layernorm",
    "ffn-in gemm", "ffn-out gemm"};

int tl_prof_enabled(void) {
    /* read lazily by every forward, on any thread: atomic (racing first calls agree) */
    static atomic_int enabled = -1;
    int v = atomic_load_explicit(&enabled, memory_order_relaxed);
    if (v < 0) {
        const char *e = getenv("TORCHLESS_PROFILE");
        v = e && strcmp(e, "0") != 0 && *e;
        atomic_store_explicit(&enabled, v, memory_order_relaxed);
    }
    return v;
}

double tl_prof_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

void tl_prof_add(int kernel, double seconds) { tl_prof_total[kernel] += seconds; }

void tl_prof_report(const char *what) {
    if (!tl_prof_enabled()) return;
    double sum = 0;
    for (int i = 0; i < TL_PROF_N; i++) sum += tl_prof_total[i];
    fprintf(stderr, "torchless profile: %s: %.2f ms\n", what, sum * 1e3);
    for (int i = 0; i < TL_PROF_N; i++)
        fprintf(stderr, "  %-14s %9.2f ms %5.1f%%\n", tl_prof_names[i], tl_prof_total[i] * 1e3,
                sum > 0 ? 100.0 * tl_prof_total[i] / sum : 0.0);
    memset(tl_prof_total, 0, sizeof tl_prof_total);
}

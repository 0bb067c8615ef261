/* machine_peak.c — what this machine can do at most, for the benchmark's analysis:
 *   fp32 FMA peak: every thread runs independent chains of fused multiply-adds in
 *                  registers (AVX-512 when the CPU has it, else AVX2+FMA), no memory;
 *   read bandwidth: every thread sums its part of a buffer much larger than the caches.
 * Threads: OMP_NUM_THREADS. Prints one JSON object:
 *   {"isa": .., "threads": .., "fma_peak_gflops": .., "read_gbs": ..}
 * Built by bench/micro/Makefile; not part of the library or of `make test`. */
#define _GNU_SOURCE
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHAINS_ITERS 20000000L
#define READ_BYTES ((size_t)512 << 20)

/* Monotonic time in seconds. */
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#define FMA12(f, a, b, c)                                                                  \
    a##0 = f(a##0, b, c), a##1 = f(a##1, b, c), a##2 = f(a##2, b, c), a##3 = f(a##3, b, c), \
    a##4 = f(a##4, b, c), a##5 = f(a##5, b, c), a##6 = f(a##6, b, c), a##7 = f(a##7, b, c), \
    a##8 = f(a##8, b, c), a##9 = f(a##9, b, c), a##10 = f(a##10, b, c), a##11 = f(a##11, b, c)

/* Runs 12 independent zmm FMA chains for iters steps; returns a value the compiler must keep. */
__attribute__((target("avx512f"))) static float chains512(long iters) {
    __m512 b = _mm512_set1_ps(1.0000001f), c = _mm512_set1_ps(1e-7f);
    __m512 a0 = _mm512_set1_ps(0), a1 = _mm512_set1_ps(1), a2 = _mm512_set1_ps(2), a3 = _mm512_set1_ps(3),
           a4 = _mm512_set1_ps(4), a5 = _mm512_set1_ps(5), a6 = _mm512_set1_ps(6), a7 = _mm512_set1_ps(7),
           a8 = _mm512_set1_ps(8), a9 = _mm512_set1_ps(9), a10 = _mm512_set1_ps(10), a11 = _mm512_set1_ps(11);
    for (long k = 0; k < iters; k++) FMA12(_mm512_fmadd_ps, a, b, c);
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    return _mm512_reduce_add_ps(s);
}

/* Same with 12 ymm chains (AVX2 + FMA). */
__attribute__((target("avx2,fma"))) static float chains256(long iters) {
    __m256 b = _mm256_set1_ps(1.0000001f), c = _mm256_set1_ps(1e-7f);
    __m256 a0 = _mm256_set1_ps(0), a1 = _mm256_set1_ps(1), a2 = _mm256_set1_ps(2), a3 = _mm256_set1_ps(3),
           a4 = _mm256_set1_ps(4), a5 = _mm256_set1_ps(5), a6 = _mm256_set1_ps(6), a7 = _mm256_set1_ps(7),
           a8 = _mm256_set1_ps(8), a9 = _mm256_set1_ps(9), a10 = _mm256_set1_ps(10), a11 = _mm256_set1_ps(11);
    for (long k = 0; k < iters; k++) FMA12(_mm256_fmadd_ps, a, b, c);
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0] + out[7];
}

/* Best of 5 runs of every thread's FMA chains, in GFLOP/s (0 without AVX2+FMA). */
static double fma_peak(int wide, int nt) {
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        volatile float sink = 0;
        double t0 = now();
#pragma omp parallel num_threads(nt)
        {
            float v = wide == 16 ? chains512(CHAINS_ITERS) : chains256(CHAINS_ITERS);
#pragma omp atomic
            sink += v;
        }
        double dt = now() - t0;
        double rate = (double)CHAINS_ITERS * 12 * wide * 2 * nt / dt / 1e9;
        if (rate > best) best = rate;
    }
    return best;
}

static volatile float sink_total;

typedef float v16f __attribute__((vector_size(64)));

/* Best of 5 parallel sums over a READ_BYTES buffer, in GB/s; 0 without memory. Each thread
 * streams 1 MiB chunks with four independent 64-byte accumulators, so the loop waits on
 * memory, not on the latency of one chain of adds. */
static double read_bandwidth(int nt) {
    size_t n = READ_BYTES / sizeof(v16f);
    v16f *a = aligned_alloc(64, READ_BYTES);
    if (!a) return 0;
    const v16f one = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
#pragma omp parallel for num_threads(nt) schedule(static)
    for (size_t i = 0; i < n; i++) a[i] = one; /* each thread touches the pages it reads */
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        float total = 0;
        double t0 = now();
#pragma omp parallel num_threads(nt) reduction(+ : total)
        {
            v16f s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
#pragma omp for schedule(dynamic, 4096) /* 1 MiB chunks: a descheduled thread holds none back */
            for (size_t i = 0; i < n; i += 4) {
                s0 += a[i], s1 += a[i + 1], s2 += a[i + 2], s3 += a[i + 3];
            }
            v16f s = s0 + s1 + s2 + s3;
            for (int j = 0; j < 16; j++) total += s[j];
        }
        double dt = now() - t0;
        sink_total = total; /* keeps the sum */
        if (READ_BYTES / dt / 1e9 > best) best = READ_BYTES / dt / 1e9;
    }
    free(a);
    return best;
}

int main(void) {
    int nt = omp_get_max_threads();
    __builtin_cpu_init();
    int wide = __builtin_cpu_supports("avx512f") ? 16 : (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? 8 : 0;
    const char *skip = getenv("MACHINE_PEAK_SKIP_FMA"); /* "1": bandwidth only */
    double peak = wide && !(skip && skip[0] == '1') ? fma_peak(wide, nt) : 0;
    double bw = read_bandwidth(nt);
    printf("{\"isa\": \"%s\", \"threads\": %d, \"fma_peak_gflops\": %.1f, \"read_gbs\": %.1f}\n",
           wide == 16 ? "avx512" : wide == 8 ? "avx2" : "none", nt, peak, bw);
    return 0;
}

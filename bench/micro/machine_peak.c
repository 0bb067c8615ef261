/* machine_peak.c — what this machine can do at most, for the benchmark's analysis:
 *   fp32 FMA peak: every thread runs independent chains of fused multiply-adds in
 *                  registers (AVX-512 when the CPU has it, else AVX2+FMA), no memory;
 *   reduced-precision peaks (each only where CPUID and, for AMX, the OS allow it):
 *                  bf16 vdpbf16ps chains (AVX512-BF16), int8 vpdpbusd chains (AVX512-VNNI,
 *                  and the VEX form of AVX-VNNI), AMX tile products tdpbf16ps and
 *                  tdpbusd / tdpbssd on 4 accumulator tiles (after ARCH_REQ_XCOMP_PERM);
 *                  all register/tile-only, at 1 thread and at OMP_NUM_THREADS;
 *   clock: a chain of dependent 1-cycle adds, so rates can be read per cycle;
 *   read bandwidth: every thread sums its part of a buffer much larger than the caches.
 * Prints one JSON object:
 *   {"isa", "threads", "fma_peak_gflops", "read_gbs", "clock_ghz",
 *    "peaks": {"<kind>": {"precision", "unit", "ops_per_instr", "t1", "tN"}, ...}}
 * (t1 / tN: GFLOP/s or GOP/s at 1 and OMP_NUM_THREADS threads; kinds this CPU lacks are
 * left out, with the reason in "skipped"). --no-bandwidth skips the 512 MB read; --quick runs
 * each kind 2 times a quarter as long (a smoke test), not 5 times.
 * Built by bench/micro/Makefile; not part of the library or of `make test`. */
#define _GNU_SOURCE
#include <cpuid.h>
#include <immintrin.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

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

/* 16 independent chains of one accumulate instruction f(acc, b, c): the reduced-precision
 * dot-product instructions have 4-6 cycle latency at up to 2 per cycle, so 16 chains keep
 * every port busy. */
#define CH16(f, a, b, c)                                                                   \
    a##0 = f(a##0, b, c), a##1 = f(a##1, b, c), a##2 = f(a##2, b, c), a##3 = f(a##3, b, c), \
    a##4 = f(a##4, b, c), a##5 = f(a##5, b, c), a##6 = f(a##6, b, c), a##7 = f(a##7, b, c), \
    a##8 = f(a##8, b, c), a##9 = f(a##9, b, c), a##10 = f(a##10, b, c),                     \
    a##11 = f(a##11, b, c), a##12 = f(a##12, b, c), a##13 = f(a##13, b, c),                 \
    a##14 = f(a##14, b, c), a##15 = f(a##15, b, c)
#define DECL16(T, a, init)                                                                        \
    T a##0 = init(0), a##1 = init(1), a##2 = init(2), a##3 = init(3), a##4 = init(4), a##5 = init(5), \
      a##6 = init(6), a##7 = init(7), a##8 = init(8), a##9 = init(9), a##10 = init(10),               \
      a##11 = init(11), a##12 = init(12), a##13 = init(13), a##14 = init(14), a##15 = init(15)
#define SUM16(add, a)                                                                       \
    add(add(add(add(a##0, a##1), add(a##2, a##3)), add(add(a##4, a##5), add(a##6, a##7))), \
        add(add(add(a##8, a##9), add(a##10, a##11)), add(add(a##12, a##13), add(a##14, a##15))))

#define PS512(i) _mm512_set1_ps((float)(i))
#define EPI512(i) _mm512_set1_epi32(i)
#define EPI256(i) _mm256_set1_epi32(i)

/* 16 zmm chains of vdpbf16ps (16 lanes x 2 bf16 products x 2 = 64 FLOP each). */
__attribute__((target("avx512f,avx512bf16"))) static float chains_bf16dot(long iters) {
    __m512bh b = (__m512bh)_mm512_set1_epi16(0x3f80), c = (__m512bh)_mm512_set1_epi16(0x3380);
    DECL16(__m512, a, PS512);
    for (long k = 0; k < iters; k++) CH16(_mm512_dpbf16_ps, a, b, c);
    return _mm512_reduce_add_ps(SUM16(_mm512_add_ps, a));
}

/* 16 zmm chains of vpdpbusd (16 lanes x 4 u8*s8 products x 2 = 128 OP each). */
__attribute__((target("avx512f,avx512vnni"))) static float chains_vnni512(long iters) {
    __m512i b = _mm512_set1_epi8(3), c = _mm512_set1_epi8(-2);
    DECL16(__m512i, a, EPI512);
    for (long k = 0; k < iters; k++) CH16(_mm512_dpbusd_epi32, a, b, c);
    return (float)_mm512_reduce_add_epi32(SUM16(_mm512_add_epi32, a));
}

/* 16 ymm chains of the VEX vpdpbusd of AVX-VNNI (8 lanes x 4 x 2 = 64 OP each). */
__attribute__((target("avx2,avxvnni"))) static float chains_avxvnni(long iters) {
    __m256i b = _mm256_set1_epi8(3), c = _mm256_set1_epi8(-2);
    DECL16(__m256i, a, EPI256);
    for (long k = 0; k < iters; k++) CH16(_mm256_dpbusd_avx_epi32, a, b, c);
    __m256i s = SUM16(_mm256_add_epi32, a);
    int out[8];
    _mm256_storeu_si256((__m256i *)out, s);
    return (float)(out[0] + out[7]);
}

/* The 64-byte AMX tile configuration: palette 1, eight 16-row x 64-byte tiles. */
struct tilecfg {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
};

#define AMX_KIND_BF16 0
#define AMX_KIND_BUSD 1
#define AMX_KIND_BSSD 2

/* AMX: 4 accumulator tiles (tmm0-3) fed by 2 A tiles (tmm4-5) and 2 B tiles (tmm6-7), the
 * 2x2 blocking of a GEMM micro-kernel, for iters steps of 4 tile products, register-only
 * (operands loaded once). A tdpbf16ps is 16x16x32 x 2 = 16384 FLOP, a tdpbusd / tdpbssd
 * 16x16x64 x 2 = 32768 OP. Returns a value of the accumulators the compiler must keep. */
__attribute__((target("amx-tile,amx-bf16,amx-int8"))) static float chains_amx(int kind, long iters) {
    struct tilecfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) cfg.colsb[t] = 64, cfg.rows[t] = 16;
    _tile_loadconfig(&cfg);
    static __thread uint8_t src[16 * 64] __attribute__((aligned(64)));
    for (int i = 0; i < 16 * 64; i++) src[i] = (uint8_t)(kind == AMX_KIND_BF16 ? (i & 1 ? 0x3c : 0x00) : 1 + i % 3);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    _tile_loadd(4, src, 64);
    _tile_loadd(5, src, 64);
    _tile_loadd(6, src, 64);
    _tile_loadd(7, src, 64);
    if (kind == AMX_KIND_BF16) {
        for (long k = 0; k < iters; k++) {
            _tile_dpbf16ps(0, 4, 6);
            _tile_dpbf16ps(1, 4, 7);
            _tile_dpbf16ps(2, 5, 6);
            _tile_dpbf16ps(3, 5, 7);
        }
    } else if (kind == AMX_KIND_BUSD) {
        for (long k = 0; k < iters; k++) {
            _tile_dpbusd(0, 4, 6);
            _tile_dpbusd(1, 4, 7);
            _tile_dpbusd(2, 5, 6);
            _tile_dpbusd(3, 5, 7);
        }
    } else {
        for (long k = 0; k < iters; k++) {
            _tile_dpbssd(0, 4, 6);
            _tile_dpbssd(1, 4, 7);
            _tile_dpbssd(2, 5, 6);
            _tile_dpbssd(3, 5, 7);
        }
    }
    static __thread float dst[4][16 * 16] __attribute__((aligned(64)));
    _tile_stored(0, dst[0], 64);
    _tile_stored(1, dst[1], 64);
    _tile_stored(2, dst[2], 64);
    _tile_stored(3, dst[3], 64);
    _tile_release();
    return dst[0][0] + dst[1][17] + dst[2][100] + dst[3][255];
}

/* Features of this CPU and OS that the peaks need (CPUID, XGETBV, arch_prctl). */
struct features {
    int avx2_fma, avx512, avx512_bf16, avx512_vnni, avx_vnni, amx_cpu, amx_bf16, amx_int8, amx_os;
    char amx_note[96];
};

/* XCR0 (0 when the OS has not enabled XSAVE). */
static uint64_t xcr0(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0; /* OSXSAVE */
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

#define ARCH_GET_XCOMP_PERM 0x1022
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

/* Reads CPUID leaves 1 and 7 (subleaves 0 and 1) and XCR0; for AMX asks the kernel for
 * permission to use tile data, as a process must before its first tile instruction. */
static struct features detect(void) {
    struct features f;
    memset(&f, 0, sizeof f);
    unsigned a, b, c, d, a1 = 0, b1, c1, d1;
    unsigned c0f = 0;
    uint64_t x = xcr0();
    int ymm_os = (x & 6) == 6, zmm_os = (x & 0xe6) == 0xe6;
    if (__get_cpuid(1, &a, &b, &c0f, &d) == 0) return f;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0) return f;
    __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1);
    f.avx2_fma = ymm_os && (b & (1u << 5)) && (c0f & (1u << 12));
    f.avx512 = zmm_os && (b & (1u << 16)) && (b & (1u << 30)) && (b & (1u << 31)); /* F BW VL */
    f.avx512_vnni = f.avx512 && (c & (1u << 11));
    f.avx512_bf16 = f.avx512 && (a1 & (1u << 5));
    f.avx_vnni = f.avx2_fma && (a1 & (1u << 4));
    f.amx_cpu = (d & (1u << 24)) != 0;
    f.amx_bf16 = f.amx_cpu && (d & (1u << 22));
    f.amx_int8 = f.amx_cpu && (d & (1u << 25));
    if (!f.amx_cpu) {
        snprintf(f.amx_note, sizeof f.amx_note, "no AMX-TILE in CPUID");
    } else if ((x & (3ull << 17)) != (3ull << 17)) {
        snprintf(f.amx_note, sizeof f.amx_note, "the OS has not enabled tile state in XCR0");
    } else if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) {
        snprintf(f.amx_note, sizeof f.amx_note, "arch_prctl(ARCH_REQ_XCOMP_PERM) refused");
    } else {
        f.amx_os = 1;
    }
    return f;
}

/* Seconds of CPU time this thread has run (preemption by other processes not counted). */
static double thread_cpu(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Frequency of this core in GHz while it runs: a chain of 10 dependent 1-cycle register adds
 * per loop step (add reg, reg: an add of an immediate can be folded away at rename on recent
 * cores), the loop's own dec/jnz beside it, over this thread's CPU time; best of 5. */
static double clock_ghz(void) {
    const long iters = 20000000L;
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        long n = iters, v = 0, one = 1;
        double t0 = thread_cpu();
        __asm__ volatile("1:\n\t"
                         "add %2, %0\n\tadd %2, %0\n\tadd %2, %0\n\tadd %2, %0\n\tadd %2, %0\n\t"
                         "add %2, %0\n\tadd %2, %0\n\tadd %2, %0\n\tadd %2, %0\n\tadd %2, %0\n\t"
                         "dec %1\n\tjnz 1b"
                         : "+r"(v), "+r"(n)
                         : "r"(one));
        double ghz = (double)iters * 10 / (thread_cpu() - t0) / 1e9;
        if (ghz > best) best = ghz;
    }
    return best;
}

enum kind { K_FP32_512, K_FP32_256, K_BF16DOT, K_VNNI512, K_AVXVNNI, K_AMX_BF16, K_AMX_BUSD, K_AMX_BSSD, K_COUNT };

/* Name, precision, unit, operations per instruction and instructions per loop step of each kind. */
static const struct {
    const char *name, *precision, *unit;
    double ops_per_instr;
    int instr_per_step;
    long iters;
} KINDS[K_COUNT] = {
    [K_FP32_512] = {"fp32_fma_avx512", "fp32", "GFLOP/s", 32, 12, 20000000L},
    [K_FP32_256] = {"fp32_fma_avx2", "fp32", "GFLOP/s", 16, 12, 20000000L},
    [K_BF16DOT] = {"bf16_vdpbf16ps_avx512", "bf16", "GFLOP/s", 64, 16, 10000000L},
    [K_VNNI512] = {"int8_vpdpbusd_avx512", "int8", "GOP/s", 128, 16, 10000000L},
    [K_AVXVNNI] = {"int8_vpdpbusd_avxvnni", "int8", "GOP/s", 64, 16, 10000000L},
    [K_AMX_BF16] = {"bf16_amx_tdpbf16ps", "bf16", "GFLOP/s", 16384, 4, 1000000L},
    [K_AMX_BUSD] = {"int8_amx_tdpbusd", "int8", "GOP/s", 32768, 4, 1000000L},
    [K_AMX_BSSD] = {"int8_amx_tdpbssd", "int8", "GOP/s", 32768, 4, 1000000L},
};

/* One thread's chains of kind k for iters steps. */
static float run_kind(int k, long iters) {
    switch (k) {
    case K_FP32_512: return chains512(iters);
    case K_FP32_256: return chains256(iters);
    case K_BF16DOT: return chains_bf16dot(iters);
    case K_VNNI512: return chains_vnni512(iters);
    case K_AVXVNNI: return chains_avxvnni(iters);
    case K_AMX_BF16: return chains_amx(AMX_KIND_BF16, iters);
    case K_AMX_BUSD: return chains_amx(AMX_KIND_BUSD, iters);
    default: return chains_amx(AMX_KIND_BSSD, iters);
    }
}

static int g_reps = 5, g_div = 1; /* --quick: 2 runs, a quarter of the steps */

/* Best of g_reps runs of kind k on nt threads at once, in G(FL)OP/s summed over the threads, each
 * thread's rate over its own CPU time: on a machine shared with other jobs a thread that is
 * preempted is not counted as slow (the peak is what a core does while it runs). */
static double kind_peak(int k, int nt) {
    double best = 0;
    long iters = KINDS[k].iters / g_div;
    double ops = (double)iters * KINDS[k].instr_per_step * KINDS[k].ops_per_instr;
    for (int rep = 0; rep < g_reps; rep++) {
        volatile float sink = 0;
        double rate = 0;
#pragma omp parallel num_threads(nt) reduction(+ : rate)
        {
            double t0 = thread_cpu();
            float v = run_kind(k, iters);
            rate += ops / (thread_cpu() - t0) / 1e9;
#pragma omp atomic
            sink += v;
        }
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

/* Whether this CPU and OS run kind k (and why not, into why). */
static int kind_ok(int k, const struct features *f, const char **why) {
    switch (k) {
    case K_FP32_512: *why = "no AVX-512 (F, BW, VL) with OS zmm state"; return f->avx512;
    case K_FP32_256: *why = "no AVX2+FMA"; return f->avx2_fma;
    case K_BF16DOT: *why = "no AVX512-BF16"; return f->avx512_bf16;
    case K_VNNI512: *why = "no AVX512-VNNI"; return f->avx512_vnni;
    case K_AVXVNNI: *why = "no AVX-VNNI"; return f->avx_vnni;
    case K_AMX_BF16: *why = f->amx_cpu ? f->amx_note : "no AMX-BF16"; return f->amx_bf16 && f->amx_os;
    default: *why = f->amx_cpu ? f->amx_note : "no AMX-INT8"; return f->amx_int8 && f->amx_os;
    }
}

int main(int argc, char **argv) {
    int nt = omp_get_max_threads(), bandwidth = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--no-bandwidth") == 0) {
            bandwidth = 0;
        } else if (strcmp(argv[i], "--quick") == 0) {
            g_reps = 2, g_div = 4;
        } else {
            fprintf(stderr, "machine_peak: unknown option '%s' (known: --no-bandwidth, --quick)\n", argv[i]);
            return 2;
        }
    }
    const char *skip = getenv("MACHINE_PEAK_SKIP_FMA"); /* "1": bandwidth only (bench/decode.py) */
    int peaks = !(skip && skip[0] == '1');
    struct features f = detect();
    int wide = f.avx512 ? 16 : f.avx2_fma ? 8 : 0;
    double ghz = clock_ghz();
    double peak = 0;
    printf("{\"isa\": \"%s\", \"threads\": %d, \"clock_ghz\": %.3f, \"peaks\": {", wide == 16 ? "avx512" : wide == 8 ? "avx2" : "none", nt, ghz);
    int first = 1;
    char skipped[1024] = "";
    for (int k = 0; peaks && k < K_COUNT; k++) {
        const char *why = "";
        if (!kind_ok(k, &f, &why)) {
            size_t n = strlen(skipped);
            snprintf(skipped + n, sizeof skipped - n, "%s\"%s\": \"%s\"", n ? ", " : "", KINDS[k].name, why);
            continue;
        }
        if (k == K_FP32_256 && wide == 16) continue; /* the zmm chains are the fp32 peak */
        double t1 = kind_peak(k, 1), tn = nt > 1 ? kind_peak(k, nt) : t1;
        if (k == K_FP32_512 || k == K_FP32_256) peak = tn;
        printf("%s\"%s\": {\"precision\": \"%s\", \"unit\": \"%s\", \"ops_per_instr\": %.0f, \"t1\": %.1f, \"tN\": %.1f, "
               "\"per_cycle_t1\": %.1f}",
               first ? "" : ", ", KINDS[k].name, KINDS[k].precision, KINDS[k].unit, KINDS[k].ops_per_instr, t1, tn,
               ghz > 0 ? t1 / ghz : 0);
        first = 0;
    }
    double bw = bandwidth ? read_bandwidth(nt) : 0;
    printf("}, \"skipped\": {%s}, \"fma_peak_gflops\": %.1f, \"read_gbs\": %.1f}\n", skipped, peak, bw);
    return 0;
}

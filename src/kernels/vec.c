/* vec.c — CPU feature detection and the choice of the generic, AVX2 or AVX-512 kernel
 * table, once per process. */
#include "kernels/vec.h"
#include "core/error.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <asm/prctl.h>
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if defined(__x86_64__)
/* XCR0 (the register state the OS saves on context switches), 0 without OSXSAVE. */
static uint64_t xcr0(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE)) return 0;
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}
#endif

#define XCR0_YMM 0x6u        /* SSE + AVX state */
#define XCR0_ZMM 0xe6u       /* + opmask, ZMM_Hi256, Hi16_ZMM */
#define XCR0_TILE 0x60000u   /* XTILECFG + XTILEDATA */
#define XFEATURE_XTILEDATA 18

/* 1 when CPUID leaf / subleaf sets bit in register reg (0 eax, 1 ebx, 2 ecx, 3 edx). For
 * the features clang 14's __builtin_cpu_supports does not name (AVX-VNNI, AMX). */
static int cpuid_bit(unsigned leaf, unsigned sub, int reg, int bit) {
    unsigned r[4];
    if (!__get_cpuid_count(leaf, sub, &r[0], &r[1], &r[2], &r[3])) return 0;
    return (r[reg] >> bit) & 1u;
}

static unsigned g_features;

/* Fills g_features from CPUID (libgcc's __builtin_cpu_supports, cpuid_bit) and XGETBV. */
static void detect(void) {
    unsigned f = 0;
#if defined(__x86_64__)
    __builtin_cpu_init();
    const uint64_t x = xcr0();
    const int ymm = (x & XCR0_YMM) == XCR0_YMM, zmm = (x & XCR0_ZMM) == XCR0_ZMM;
    if (ymm && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) f |= TL_CPU_AVX2;
    if (zmm && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        f |= TL_CPU_AVX512;
    if ((f & TL_CPU_AVX512) && __builtin_cpu_supports("avx512bf16")) f |= TL_CPU_AVX512_BF16;
    if ((f & TL_CPU_AVX512) && __builtin_cpu_supports("avx512vnni")) f |= TL_CPU_AVX512_VNNI;
    if ((f & TL_CPU_AVX2) && cpuid_bit(7, 1, 0, 4)) f |= TL_CPU_AVX_VNNI;
    if (cpuid_bit(7, 0, 3, 24)) f |= TL_CPU_AMX_TILE;
    if (cpuid_bit(7, 0, 3, 22)) f |= TL_CPU_AMX_BF16;
    if (cpuid_bit(7, 0, 3, 25)) f |= TL_CPU_AMX_INT8;
    if ((f & TL_CPU_AMX_TILE) && (x & XCR0_TILE) == XCR0_TILE) {
        /* Linux gates tile data per process (XFD): request it once (oneDNN would too; a
         * kernel that refuses leaves AMX off), then check what we have */
        unsigned long perm = 0;
        if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &perm) != 0 || !(perm & (1ul << XFEATURE_XTILEDATA))) {
            (void)syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, (unsigned long)XFEATURE_XTILEDATA);
            perm = 0;
            if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &perm) != 0) perm = 0;
        }
        if (perm & (1ul << XFEATURE_XTILEDATA)) f |= TL_CPU_AMX_OS;
    }
#endif
    g_features = f;
}

unsigned tl_cpu_features(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, detect);
    return g_features;
}

tl_isa tl_isa_best(unsigned f) {
    return (f & TL_CPU_AVX512) ? TL_ISA_AVX512 : (f & TL_CPU_AVX2) ? TL_ISA_AVX2 : TL_ISA_GENERIC;
}

static const char *const k_isa_names[TL_ISA_COUNT] = {"generic", "avx2", "avx512"};

#define AVX512_ALL (TL_CPU_AVX2 | TL_CPU_AVX512)
/* Each class: its name, the features it needs, the features it allows. */
static const struct { const char *name; unsigned needs, allows; } k_caps[TL_CAP_COUNT] = {
    {"generic", 0, 0},
    {"avx2", TL_CPU_AVX2, TL_CPU_AVX2},
    {"avx2-vnni", TL_CPU_AVX2 | TL_CPU_AVX_VNNI, TL_CPU_AVX2 | TL_CPU_AVX_VNNI},
    {"avx512", AVX512_ALL, AVX512_ALL},
    {"avx512-vnni", AVX512_ALL | TL_CPU_AVX512_VNNI, AVX512_ALL | TL_CPU_AVX512_VNNI},
    {"avx512-bf16", AVX512_ALL | TL_CPU_AVX512_BF16,
     AVX512_ALL | TL_CPU_AVX512_VNNI | TL_CPU_AVX512_BF16},
    {"amx", TL_CPU_AMX_TILE | TL_CPU_AMX_OS, ~0u},
};

const char *tl_isa_cap_name(tl_isa_cap cap) {
    return (unsigned)cap < TL_CAP_COUNT ? k_caps[cap].name : "?";
}

int tl_isa_cap_parse(const char *name, tl_isa_cap *cap) {
    for (int i = 0; name && i < TL_CAP_COUNT; i++)
        if (!strcmp(name, k_caps[i].name)) {
            *cap = (tl_isa_cap)i;
            return 1;
        }
    return 0;
}

unsigned tl_isa_cap_needs(tl_isa_cap cap) {
    return (unsigned)cap < TL_CAP_COUNT ? k_caps[cap].needs : ~0u;
}

unsigned tl_cpu_usable_for(unsigned features, const char *want) {
    tl_isa_cap c;
    if (!want || !*want || !tl_isa_cap_parse(want, &c) || (features & k_caps[c].needs) != k_caps[c].needs)
        return features;
    return features & k_caps[c].allows;
}

static unsigned g_usable;

static void usable_once(void) { g_usable = tl_cpu_usable_for(tl_cpu_features(), getenv("TORCHLESS_ISA")); }

unsigned tl_cpu_usable(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, usable_once);
    return g_usable;
}

const char *tl_isa_name(tl_isa isa) {
    return (unsigned)isa < TL_ISA_COUNT ? k_isa_names[isa] : "?";
}

int tl_isa_parse(const char *name, tl_isa *isa) {
    for (int i = 0; name && i < TL_ISA_COUNT; i++)
        if (!strcmp(name, k_isa_names[i])) {
            *isa = (tl_isa)i;
            return 1;
        }
    return 0;
}

tl_isa tl_isa_choose(unsigned features, const char *want) {
    return tl_isa_best(tl_cpu_usable_for(features, want));
}

char *tl_cpu_describe(unsigned f, char *buf, size_t cap) {
    static const struct { unsigned bit; const char *name; } k[] = {
        {TL_CPU_AVX2, "avx2"}, {TL_CPU_AVX512, "avx512"}, {TL_CPU_AVX512_BF16, "avx512-bf16"},
        {TL_CPU_AVX512_VNNI, "avx512-vnni"}, {TL_CPU_AVX_VNNI, "avx-vnni"},
    };
    size_t len = 0;
    buf[0] = '\0';
#define PUT(...) do { if (len < cap) { int n_ = snprintf(buf + len, cap - len, __VA_ARGS__); \
                      if (n_ > 0) len += (size_t)n_; } } while (0)
    int any = 0, missing = 0;
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (f & k[i].bit) { PUT("%s%s", any ? " " : "", k[i].name); any = 1; }
    if (!any) PUT("baseline x86-64 only");
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (!(f & k[i].bit)) { PUT("%s%s", missing ? " " : " (no ", k[i].name); missing = 1; }
    if (missing) PUT(")");
    PUT("; amx: cpu %s", (f & TL_CPU_AMX_TILE) ? "yes" : "no");
    if (f & TL_CPU_AMX_TILE) PUT(" (%s%s)", (f & TL_CPU_AMX_BF16) ? "bf16" : "",
                                 (f & TL_CPU_AMX_INT8) ? ((f & TL_CPU_AMX_BF16) ? " int8" : "int8") : "");
    PUT(", os permission %s", (f & TL_CPU_AMX_OS) ? "yes" : "no");
#undef PUT
    return buf;
}

static const tl_vec_kernels *const tl_vec_tables[TL_ISA_COUNT] = {&tl_vec_generic, &tl_vec_avx2,
                                                                  &tl_vec_avx512};

static const tl_vec_kernels *g_chosen;

static void choose(void) {
    g_chosen = tl_vec_tables[tl_isa_best(tl_cpu_usable())];
}

const tl_vec_kernels *tl_vec(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, choose);
    return g_chosen;
}

tl_status tl_vec_check(void) {
    const char *e = getenv("TORCHLESS_ISA");
    const unsigned f = tl_cpu_features();
    tl_isa_cap want;
    if (!e || !*e) return TL_OK;
    if (!tl_isa_cap_parse(e, &want))
        return tl_set_error(TL_ERR_INVALID_ARG, "TORCHLESS_ISA='%s': expected generic, avx2, avx2-vnni, "
                            "avx512, avx512-vnni, avx512-bf16 or amx", e);
    if ((f & k_caps[want].needs) != k_caps[want].needs) {
        char have[256];
        return tl_set_error(TL_ERR_INVALID_ARG, "TORCHLESS_ISA='%s': this CPU (or OS) lacks what it needs "
                            "(it has: %s)", e, tl_cpu_describe(f, have, sizeof have));
    }
    return TL_OK;
}

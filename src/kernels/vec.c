/* vec.c — picks the generic, AVX2 or AVX-512 kernel table once per process. */
#include "kernels/vec.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>

/* 2: AVX-512 (F, BW, DQ, VL) usable; 1: AVX2 + FMA; 0: neither. libgcc's cpu detection
 * also checks that the OS saves the YMM / ZMM state (XGETBV). */
static int best_level(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
#endif
    return 0;
}

/* The level $TORCHLESS_ISA asks for: -1 when unset, -2 when not a known name. */
static int wanted_level(void) {
    const char *e = getenv("TORCHLESS_ISA");
    if (!e || !*e) return -1;
    if (!strcmp(e, "generic")) return 0;
    if (!strcmp(e, "avx2")) return 1;
    if (!strcmp(e, "avx512")) return 2;
    return -2;
}

static const tl_vec_kernels *const tl_vec_tables[3] = {&tl_vec_generic, &tl_vec_avx2, &tl_vec_avx512};

const tl_vec_kernels *tl_vec(void) {
    static const tl_vec_kernels *chosen;
    if (!chosen) {
        int best = best_level(), want = wanted_level();
        chosen = tl_vec_tables[want >= 0 && want < best ? want : best];
    }
    return chosen;
}

tl_status tl_vec_check(void) {
    int best = best_level(), want = wanted_level();
    if (want == -2)
        return tl_set_error(TL_ERR_INVALID_ARG, "TORCHLESS_ISA='%s': expected generic, avx2 or avx512",
                            getenv("TORCHLESS_ISA"));
    if (want > best)
        return tl_set_error(TL_ERR_INVALID_ARG, "TORCHLESS_ISA='%s': this CPU (or OS) supports at most %s",
                            getenv("TORCHLESS_ISA"), tl_vec_tables[best]->isa);
    return TL_OK;
}

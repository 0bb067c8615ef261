/* vec.h — CPU features, ISA levels, and the run-time dispatch of the kernels whose speed
 * depends on the vector ISA. Each is built three times from src/kernels/vec_body.h
 * (src/kernels/isa/{generic,avx2,avx512}.c, each with its own -march); one table is chosen
 * once per process from CPUID and the OS's saved register state (XGETBV), capped by
 * $TORCHLESS_ISA so tests can run every path on one machine. $TORCHLESS_ISA names a CPU
 * class (generic, avx2, avx2-vnni, avx512, avx512-vnni, avx512-bf16, amx): every kernel,
 * ours and oneDNN's (gemm_dnnl.c maps the cap onto dnnl_set_max_cpu_isa), then uses only
 * the features such a CPU has (tl_cpu_usable). */
#ifndef TL_KERNELS_VEC_H
#define TL_KERNELS_VEC_H
#include <stddef.h>
#include "kernels/kernels.h"

/* The vector-kernel levels, each a superset of the one before. */
typedef enum tl_isa {
    TL_ISA_GENERIC = 0, /* baseline x86-64 (SSE2) */
    TL_ISA_AVX2,        /* AVX2 + FMA, YMM state saved by the OS */
    TL_ISA_AVX512,      /* AVX-512 F, BW, DQ, VL, ZMM and opmask state saved by the OS */
    TL_ISA_COUNT
} tl_isa;

/* CPU features beyond the levels (tl_cpu_features bits), each only set when the OS also
 * saves the registers it uses. bf16 and int8 (model/precision.c) are gated on these. */
enum {
    TL_CPU_AVX2 = 1u << 0,        /* the TL_ISA_AVX2 level */
    TL_CPU_AVX512 = 1u << 1,      /* the TL_ISA_AVX512 level */
    TL_CPU_AVX512_BF16 = 1u << 2, /* VDPBF16PS, VCVTNE2PS2BF16 */
    TL_CPU_AVX512_VNNI = 1u << 3, /* VPDPBUSD on ZMM */
    TL_CPU_AVX_VNNI = 1u << 4,    /* VPDPBUSD, VEX-encoded (YMM) */
    TL_CPU_AMX_TILE = 1u << 5,    /* CPUID: tile registers (AMX-TILE) */
    TL_CPU_AMX_BF16 = 1u << 6,    /* CPUID: TDPBF16PS */
    TL_CPU_AMX_INT8 = 1u << 7,    /* CPUID: TDPBSSD and friends */
    TL_CPU_AMX_OS = 1u << 8,      /* XCR0 enables tile state and this process has the
                                   * kernel's permission for tile data (requested once with
                                   * ARCH_REQ_XCOMP_PERM, checked with ARCH_GET_XCOMP_PERM) */
};

/* The CPU classes $TORCHLESS_ISA may name, lowest first (only partly ordered: avx2-vnni
 * is not below avx512). */
typedef enum tl_isa_cap {
    TL_CAP_GENERIC = 0, TL_CAP_AVX2, TL_CAP_AVX2_VNNI, TL_CAP_AVX512, TL_CAP_AVX512_VNNI,
    TL_CAP_AVX512_BF16, TL_CAP_AMX, TL_CAP_COUNT
} tl_isa_cap;

/* Static name of a cap ("avx512-vnni"; "?" when invalid). */
const char *tl_isa_cap_name(tl_isa_cap cap);

/* Parses a $TORCHLESS_ISA value; returns 0 when it names no cap. */
int tl_isa_cap_parse(const char *name, tl_isa_cap *cap);

/* The TL_CPU_* bits a CPU of class cap must have (the cap is refused without them). */
unsigned tl_isa_cap_needs(tl_isa_cap cap);

/* The features a process with these features may use when $TORCHLESS_ISA is want (NULL
 * or "" for unset; unknown or beyond this CPU: no cap): features & the cap's class. */
unsigned tl_cpu_usable_for(unsigned features, const char *want);

/* tl_cpu_usable_for(tl_cpu_features(), $TORCHLESS_ISA), read once. */
unsigned tl_cpu_usable(void);

/* This CPU's TL_CPU_* bits, detected once (thread-safe; never fails). */
unsigned tl_cpu_features(void);

/* The highest level the features allow. */
tl_isa tl_isa_best(unsigned features);

/* Static name of a level: "generic", "avx2", "avx512" ("?" when invalid). */
const char *tl_isa_name(tl_isa isa);

/* Parses a level's name (generic, avx2, avx512) into *isa; returns 0 when it names none. */
int tl_isa_parse(const char *name, tl_isa *isa);

/* The level a process with these features runs when $TORCHLESS_ISA is want (NULL or ""
 * for unset): the best level of tl_cpu_usable_for(features, want). */
tl_isa tl_isa_choose(unsigned features, const char *want);

/* Writes the features as one line into buf (cap > 0; truncated to fit), e.g.
 * "avx2 avx512 avx512-bf16 avx512-vnni (no avx-vnni); amx: cpu no, os permission no";
 * returns buf. */
char *tl_cpu_describe(unsigned features, char *buf, size_t cap);

typedef struct tl_vec_kernels {
    const char *isa; /* tl_isa_name(level) */
    tl_isa level;
    /* Softmax of one score row in place after scaling, adding rel (may be NULL) and the
     * mask bias; keys outside [lo, hi) are excluded; any_key = 0 gives equal weights. */
    void (*softmax_row)(float *restrict s, const float *restrict bias, const float *restrict rel,
                        size_t len, float scale, int any_key, size_t lo, size_t hi);
    /* x[0..n) <- act(x), torch's definitions. */
    void (*activation_chunk)(float *x, size_t n, tl_activation act);
    /* row (H) <- LayerNorm(row + res) * g + b in place; res and b may be NULL. */
    void (*add_layernorm_row)(float *restrict row, const float *restrict res,
                              const float *restrict g, const float *restrict b, size_t H,
                              float eps);
    /* out (T, OC) = x (T, C) @ W^T + b from pk (layout TL_PACK_PANEL64, F32), b may be
     * NULL, 1 <= T <= TL_SMALL_M_MAX; NULL where this ISA has none (generic, avx2). */
    void (*linear_panel64)(const float *x, const tl_packed *pk, const float *b, float *out,
                           size_t T);
    /* One query row of cached decoder attention, as tl_attend_cached_row_ref. */
    void (*attend_cached_row)(const float *restrict qr, float *restrict o, size_t p,
                              float *const *pg, const tl_kv_layout *lay, size_t kh, size_t d,
                              size_t window, float scale, float *restrict sc);
} tl_vec_kernels;

/* The AVX-512 linear_panel64 (gemm_small.c). */
void tl_linear_panel64_avx512(const float *x, const tl_packed *pk, const float *b, float *out,
                              size_t T);

extern const tl_vec_kernels tl_vec_generic, tl_vec_avx2, tl_vec_avx512;

/* The table in use: chosen on first call (never NULL; a bad $TORCHLESS_ISA falls back to
 * the best supported ISA, and tl_vec_check reports it). */
const tl_vec_kernels *tl_vec(void);

/* Checks $TORCHLESS_ISA: TL_OK, or TL_ERR_INVALID_ARG naming the bad value (and the
 * choices) or a class whose features this CPU (or OS) lacks. */
tl_status tl_vec_check(void);

#endif

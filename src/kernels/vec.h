/* vec.h — run-time dispatch of the kernels whose speed depends on the vector ISA. Each is
 * built three times from src/kernels/vec_body.h (src/kernels/isa/{generic,avx2,avx512}.c,
 * each with its own -march); one table is chosen once per process from CPUID and the
 * OS's saved register state, capped by $TORCHLESS_ISA (generic, avx2, avx512) so tests
 * can run every path on one machine. */
#ifndef TL_KERNELS_VEC_H
#define TL_KERNELS_VEC_H
#include <stddef.h>
#include "kernels/kernels.h"

typedef struct tl_vec_kernels {
    const char *isa; /* "generic", "avx2" or "avx512" */
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
} tl_vec_kernels;

extern const tl_vec_kernels tl_vec_generic, tl_vec_avx2, tl_vec_avx512;

/* The table in use: chosen on first call (never NULL; a bad $TORCHLESS_ISA falls back to
 * the best supported ISA, and tl_vec_check reports it). */
const tl_vec_kernels *tl_vec(void);

/* Checks $TORCHLESS_ISA: TL_OK, or TL_ERR_INVALID_ARG naming the bad value or an ISA this
 * CPU lacks. */
tl_status tl_vec_check(void);

#endif

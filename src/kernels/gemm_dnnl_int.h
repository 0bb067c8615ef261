/* gemm_dnnl_int.h — what gemm_dnnl.c shares with gemm_small.c (not public). */
#ifndef TL_KERNELS_GEMM_DNNL_INT_H
#define TL_KERNELS_GEMM_DNNL_INT_H

#include <dnnl.h>
#include <stddef.h>

/* Weights of one linear layer in oneDNN's preferred layout for the matmul (C, OC). */
struct tl_packed {
    dnnl_memory_desc_t md;
    void *data;
    size_t C, OC;
};

/* Largest token count tl_small_linear serves (at 64 its gain over oneDNN was 3% on one
 * shape and within noise, or a loss, in whole forwards). */
#define TL_SMALL_M_MAX 32

/* out (T, OC) = x (T, C) @ W^T + b from pk's packed panels with this project's AVX-512
 * kernel, for T <= TL_SMALL_M_MAX (gemm_small.c says why); b may be NULL. Returns 0, doing
 * nothing, when the CPU path is not AVX-512, T is too large, or pk's layout is not made of
 * [C][64] column panels. */
int tl_small_linear(const float *x, const struct tl_packed *pk, const float *b, float *out,
                    size_t T);

#endif

/* gemm_dnnl_int.h — what gemm_dnnl.c shares with its tests (not public). A tl_packed made
 * by the dnnl backend has desc pointing to its dnnl_memory_desc_t. */
#ifndef TL_KERNELS_GEMM_DNNL_INT_H
#define TL_KERNELS_GEMM_DNNL_INT_H

#include <dnnl.h>
#include <stddef.h>

#include "kernels/linear.h"

/* out (T, OC) = x (T, C) @ W^T + b from pk's packed layout (made by the dnnl backend):
 * unpacked once into a temporary plain copy and run on BLAS; without memory for it, a
 * scalar loop reads the packed layout. Never fails (the fallback when oneDNN refuses a
 * shape after plain w was freed). */
void tl_packed_linear_ref(const float *x, const tl_packed *pk, const float *b, float *out,
                          size_t T);

#endif

/* avx2.c — the avx2 variants of the vector kernels (flags set in the Makefile). */
#define TL_FN(name) name##_avx2
#include "kernels/vec_body.h"

const tl_vec_kernels tl_vec_avx2 = {"avx2", TL_ISA_AVX2, softmax_row_avx2, activation_chunk_avx2,
                                        add_layernorm_row_avx2, NULL,
                                        attend_cached_row_avx2};

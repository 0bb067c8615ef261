/* avx512.c — the avx512 variants of the vector kernels (flags set in the Makefile). */
#define TL_FN(name) name##_avx512
#include "kernels/vec_body.h"

const tl_vec_kernels tl_vec_avx512 = {"avx512", TL_ISA_AVX512, softmax_row_avx512, activation_chunk_avx512,
                                        add_layernorm_row_avx512, tl_linear_panel64_avx512,
                                        attend_cached_row_avx512};

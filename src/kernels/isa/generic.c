/* generic.c — the generic variants of the vector kernels (flags set in the Makefile). */
#define TL_FN(name) name##_generic
#include "kernels/vec_body.h"

const tl_vec_kernels tl_vec_generic = {"generic", TL_ISA_GENERIC, softmax_row_generic, activation_chunk_generic,
                                        add_layernorm_row_generic, NULL,
                                        attend_cached_row_generic};

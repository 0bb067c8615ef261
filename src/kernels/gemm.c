/* gemm.c — the GEMM interface: backend table and selection. */
#include "kernels/kernels.h"

#include <stdlib.h>
#include <string.h>

static const tl_gemm_backend tl_gemm_backends[] = {
    {"blas", tl_linear_blas},
    {"ref", tl_linear_ref},
};

const tl_gemm_backend *tl_gemm_select(void) {
    const char *want = getenv("TORCHLESS_GEMM");
    if (want)
        for (size_t i = 0; i < sizeof tl_gemm_backends / sizeof tl_gemm_backends[0]; i++)
            if (strcmp(tl_gemm_backends[i].name, want) == 0) return &tl_gemm_backends[i];
    return &tl_gemm_backends[0];
}

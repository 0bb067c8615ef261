/* gemm.c — the GEMM interface: backend table and selection. */
#include "kernels/kernels.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>

static const tl_gemm_backend tl_gemm_backends[] = {
    {"blas", tl_linear_blas},
    {"ref", tl_linear_ref},
};

const tl_gemm_backend *tl_gemm_select(void) {
    const char *want = getenv("TORCHLESS_GEMM");
    if (!want || !*want) return &tl_gemm_backends[0];
    for (size_t i = 0; i < sizeof tl_gemm_backends / sizeof tl_gemm_backends[0]; i++)
        if (strcmp(tl_gemm_backends[i].name, want) == 0) return &tl_gemm_backends[i];
    tl_set_error(TL_ERR_INVALID_ARG, "TORCHLESS_GEMM='%s': expected blas or ref", want);
    return NULL;
}

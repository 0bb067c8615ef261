/* gemm.c — the GEMM interface: backend table and selection. */
#include "kernels/kernels.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>

/* The first entry is the default. dnnl (oneDNN matmul, bias fused) beat blas (OpenBLAS
 * sgemm + bias pass) on every workload measured (see docs/BENCHMARKS.md, section "Figures behind code choices",
 * "GEMM backend").
 *
 * dnnl also packs: tl_model_load reorders each linear weight once into the blocked layout
 * oneDNN's matmul prefers (gemm_dnnl.c says why one layout serves every M), and the FFN
 * activation runs as a matmul post-op (no separate pass over the (T, I) activations).
 * Packed weights ran faster than the plain layout on the GEMM shapes and on a whole
 * forward (same section, "Packed weights"). blas and ref never pack (pack == NULL): they
 * run the plain weights. */
static const tl_gemm_backend tl_gemm_backends[] = {
    {"dnnl", tl_linear_dnnl, tl_dnnl_pack, tl_linear_dnnl_ex},
    {"blas", tl_linear_blas, NULL, NULL},
    {"ref", tl_linear_ref, NULL, NULL},
};

/* Returns the backend named by $TORCHLESS_GEMM (the first entry when unset), or NULL with
 * an error naming the bad value. */
const tl_gemm_backend *tl_gemm_select(void) {
    const char *want = getenv("TORCHLESS_GEMM");
    if (!want || !*want) return &tl_gemm_backends[0];
    for (size_t i = 0; i < sizeof tl_gemm_backends / sizeof tl_gemm_backends[0]; i++)
        if (strcmp(tl_gemm_backends[i].name, want) == 0) return &tl_gemm_backends[i];
    tl_set_error(TL_ERR_INVALID_ARG, "TORCHLESS_GEMM='%s': expected blas, dnnl or ref", want);
    return NULL;
}

void tl_linear_run(const tl_gemm_backend *g, const float *x, const float *w, const tl_packed *pk,
                   const float *b, float *out, size_t T, size_t C, size_t OC, int act) {
    if (T == 0 || OC == 0) return;
    int done = g->linear_ex ? g->linear_ex(x, w, pk, b, out, T, C, OC, act) : TL_LINEAR_NOT_DONE;
    if (done == TL_LINEAR_DONE) return;
    if (done == TL_LINEAR_NOT_DONE) {
        if (w) g->linear(x, w, b, out, T, C, OC);
        else tl_packed_linear_ref(x, pk, b, out, T);
    }
    if (act != TL_LINEAR_NO_ACT) tl_activation_apply(out, T * OC, (tl_activation)act);
}

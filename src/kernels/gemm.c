/* gemm.c — the GEMM backends: table, selection, per-caller states, attention's matmul. */
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
static const tl_gemm_backend *const tl_gemm_backends[] = {&tl_gemm_dnnl, &tl_gemm_blas, &tl_gemm_ref};

/* Returns the backend named by $TORCHLESS_GEMM (the first entry when unset), or NULL with
 * an error naming the bad value. */
const tl_gemm_backend *tl_gemm_select(void) {
    const char *want = getenv("TORCHLESS_GEMM");
    if (!want || !*want) return tl_gemm_backends[0];
    for (size_t i = 0; i < sizeof tl_gemm_backends / sizeof tl_gemm_backends[0]; i++)
        if (strcmp(tl_gemm_backends[i]->name, want) == 0) return tl_gemm_backends[i];
    tl_set_error(TL_ERR_INVALID_ARG, "TORCHLESS_GEMM='%s': expected blas, dnnl or ref", want);
    return NULL;
}

/* The state of backends that keep none (never written). */
static tl_gemm_state tl_gemm_no_state = {NULL};

tl_gemm_state *tl_gemm_state_new(const tl_gemm_backend *be) {
    return be && be->state_new ? be->state_new() : &tl_gemm_no_state;
}

void tl_gemm_state_free(tl_gemm_state *st) {
    if (st && st != &tl_gemm_no_state && st->be && st->be->state_free) st->be->state_free(st);
}

void tl_gemm_matmul_ex(const tl_gemm *g, int flags, size_t M, size_t N, size_t K, const float *A,
                       size_t lda, const float *B, size_t ldb, float *C, size_t ldc) {
    if (M == 0 || N == 0) return;
    g->be->matmul(g->st, flags, M, N, K, A, lda, B, ldb, C, ldc);
}

void tl_gemm_matmul(const tl_gemm *g, int trans_b, size_t M, size_t N, size_t K, const float *A,
                    size_t lda, const float *B, size_t ldb, float *C, size_t ldc) {
    tl_gemm_matmul_ex(g, trans_b ? TL_MATMUL_TRANS_B : 0, M, N, K, A, lda, B, ldb, C, ldc);
}

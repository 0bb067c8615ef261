/* gemm_ref.c — scalar reference linear layer and matmul: the fallback and the test oracle
 * (TORCHLESS_GEMM=ref runs every GEMM of a forward, attention's too, here). */
#include "kernels/kernels.h"
#include "kernels/quant.h"

void tl_linear_ref(const float *x, const float *w, const float *b, float *out, size_t T,
                   size_t C, size_t OC) {
    for (size_t t = 0; t < T; t++) {
        const float *xr = x + t * C;
        for (size_t o = 0; o < OC; o++) {
            const float *wr = w + o * C;
            double acc = b ? b[o] : 0.0;
            for (size_t c = 0; c < C; c++) acc += (double)xr[c] * wr[c];
            out[t * OC + o] = (float)acc;
        }
    }
}

void tl_matmul_ref(int flags, size_t M, size_t N, size_t K, const float *A, size_t lda,
                   const float *B, size_t ldb, float *C, size_t ldc) {
    const int tb = flags & TL_MATMUL_TRANS_B;
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            double acc = 0.0;
            for (size_t k = 0; k < K; k++)
                acc += (double)A[i * lda + k] * (tb ? B[j * ldb + k] : B[k * ldb + j]);
            C[i * ldc + j] = (float)acc;
        }
}

static int ref_backend_linear(tl_gemm_state *st, const tl_linear *L, const float *x, float *y,
                              size_t T, int act) {
    (void)st;
    (void)act;
    if (L->wtype == TL_DTYPE_BF16) tl_linear_bf16_ref(x, L->w, L->b, y, T, L->in, L->out);
    else if (L->wtype == TL_DTYPE_I8) tl_linear_s8_ref(x, L, y, T);
    else tl_linear_ref(x, L->w, L->b, y, T, L->in, L->out);
    return 0;
}

static void ref_backend_matmul(tl_gemm_state *st, int flags, size_t M, size_t N, size_t K,
                               const float *A, size_t lda, const float *B, size_t ldb, float *C,
                               size_t ldc) {
    (void)st;
    tl_matmul_ref(flags, M, N, K, A, lda, B, ldb, C, ldc);
}

const tl_gemm_backend tl_gemm_ref = {
    .name = "ref",
    .dtypes = TL_DTYPE_BIT(TL_DTYPE_F32) | TL_DTYPE_BIT(TL_DTYPE_BF16) | TL_DTYPE_BIT(TL_DTYPE_I8),
    .linear = ref_backend_linear,
    .matmul = ref_backend_matmul,
};

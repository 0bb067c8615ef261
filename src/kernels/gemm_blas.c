/* gemm_blas.c — linear layer on OpenBLAS sgemm, bias added in one pass after; attention's
 * products on cblas_sgemm on the calling thread. OpenBLAS-openmp sizes each call by the
 * calling thread's omp_get_max_threads(), so the thread count is set per call there, never
 * process-wide. */
#include "kernels/kernels.h"
#include "runtime/threads.h"

#include <cblas.h>
#include <omp.h>

void tl_linear_blas(const float *x, const float *w, const float *b, float *out, size_t T,
                    size_t C, size_t OC) {
    if (T == 0 || OC == 0) return;
    int nt = tl_threads_get();
    /* small products run on the calling thread: waking BLAS's team costs more than it saves */
    const int small = (double)T * (double)C * (double)OC < 4e6;
    const int want = small ? 1 : nt, prev = omp_get_max_threads();
    if (prev != want) omp_set_num_threads(want);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)OC, (int)C, 1.0f, x,
                (int)C, w, (int)C, 0.0f, out, (int)OC);
    if (prev != want) omp_set_num_threads(prev);
    if (!b) return;
#pragma omp parallel for num_threads(nt) schedule(static) if (T * OC > 65536)
    for (size_t t = 0; t < T; t++) {
        float *row = out + t * OC;
        for (size_t o = 0; o < OC; o++) row[o] += b[o];
    }
}

void tl_matmul_blas(int flags, size_t M, size_t N, size_t K, const float *A, size_t lda,
                    const float *B, size_t ldb, float *C, size_t ldc) {
    const int prev = omp_get_max_threads();
    if (prev != 1) omp_set_num_threads(1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, (flags & TL_MATMUL_TRANS_B) ? CblasTrans : CblasNoTrans,
                (int)M, (int)N, (int)K, 1.0f, A, (int)lda, B, (int)ldb, 0.0f, C, (int)ldc);
    if (prev != 1) omp_set_num_threads(prev);
}

/* The backend's linear: plain F32 weights on sgemm (it never packs); 0: act not applied. */
static int blas_backend_linear(tl_gemm_state *st, const tl_linear *L, const float *x, float *y,
                               size_t T, int act) {
    (void)st;
    (void)act;
    tl_linear_blas(x, L->w, L->b, y, T, L->in, L->out);
    return 0;
}

static void blas_backend_matmul(tl_gemm_state *st, int flags, size_t M, size_t N, size_t K,
                                const float *A, size_t lda, const float *B, size_t ldb, float *C,
                                size_t ldc) {
    (void)st;
    tl_matmul_blas(flags, M, N, K, A, lda, B, ldb, C, ldc);
}

const tl_gemm_backend tl_gemm_blas = {
    .name = "blas",
    .dtypes = TL_DTYPE_BIT(TL_DTYPE_F32),
    .linear = blas_backend_linear,
    .matmul = blas_backend_matmul,
};

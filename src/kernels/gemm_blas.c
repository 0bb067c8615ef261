/* gemm_blas.c — linear layer on OpenBLAS sgemm, bias added in one pass after. */
#include "kernels/kernels.h"
#include "runtime/threads.h"

#include <cblas.h>

void openblas_set_num_threads(int num_threads);

void tl_linear_blas(const float *x, const float *w, const float *b, float *out, size_t T,
                    size_t C, size_t OC) {
    if (T == 0 || OC == 0) return;
    int nt = tl_threads_get();
    /* small products run on the calling thread: waking BLAS's team costs more than it saves */
    const int small = (double)T * (double)C * (double)OC < 4e6;
    if (small && nt > 1) openblas_set_num_threads(1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)OC, (int)C, 1.0f, x,
                (int)C, w, (int)C, 0.0f, out, (int)OC);
    if (small && nt > 1) openblas_set_num_threads(nt);
    if (!b) return;
#pragma omp parallel for num_threads(nt) schedule(static) if (T * OC > 65536)
    for (size_t t = 0; t < T; t++) {
        float *row = out + t * OC;
        for (size_t o = 0; o < OC; o++) row[o] += b[o];
    }
}

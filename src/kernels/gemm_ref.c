/* gemm_ref.c — scalar reference linear layer: the fallback and the test oracle. */
#include "kernels/kernels.h"

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

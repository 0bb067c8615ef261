/* activation.c — elementwise activations, matching torch's definitions to float
 * precision; gelu (erf form) uses the vectorizable tl_erf. */
#include "kernels/fastmath.h"
#include "kernels/vec.h"
#include "kernels/kernels.h"
#include "runtime/threads.h"

#include <math.h>
#include <string.h>

void tl_activation_apply(float *x, size_t n, tl_activation act) {
    const size_t chunk = 16384;
    const long n_chunks = (long)((n + chunk - 1) / chunk);
    int nt = tl_threads_get();
#pragma omp parallel for num_threads(nt) schedule(static) if (n_chunks > 1)
    for (long c = 0; c < n_chunks; c++) {
        size_t start = (size_t)c * chunk, len = n - start < chunk ? n - start : chunk;
        tl_vec()->activation_chunk(x + start, len, act);
    }
}

void tl_gated_activation(const float *x, float *out, size_t T, size_t I, tl_activation act) {
    int nt = tl_threads_get();
#pragma omp parallel for num_threads(nt) schedule(static) if (T * I > 65536)
    for (size_t t = 0; t < T; t++) {
        float *o = out + t * I;
        memcpy(o, x + t * 2 * I, I * sizeof(float));
        tl_vec()->activation_chunk(o, I, act);
        const float *gate = x + t * 2 * I + I;
        for (size_t i = 0; i < I; i++) o[i] *= gate[i];
    }
}

/* activation.c — elementwise activations, matching torch's definitions to float
 * precision; gelu (erf form) uses the vectorizable tl_erf. */
#include "kernels/fastmath.h"
#include "kernels/isa.h"
#include "kernels/kernels.h"
#include "runtime/threads.h"

#include <math.h>
#include <string.h>

/* Applies act to x[0..n) in place; compiled for several ISAs, picked at load time. */
TL_ISA_CLONES
static void activation_chunk(float *x, size_t n, tl_activation act) {
    switch (act) {
    case TL_ACT_GELU: {
        size_t i = 0;
        for (; i + 16 <= n; i += 16) {
            tl_v16f v = tl_v16_load(x + i);
            tl_v16_store(x + i, 0.5f * v * (1.0f + tl_erf_v16(v * 0.70710678118654752f)));
        }
        for (; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + tl_erf(x[i] * 0.70710678118654752f));
        break;
    }
    case TL_ACT_GELU_TANH:
        for (size_t i = 0; i < n; i++) {
            float v = x[i], u = 0.7978845608028654f * (v + 0.044715f * v * v * v);
            x[i] = 0.5f * v * (1.0f + tanhf(u));
        }
        break;
    case TL_ACT_RELU:
        for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case TL_ACT_SILU:
        for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
        break;
    }
}

void tl_activation_apply(float *x, size_t n, tl_activation act) {
    const size_t chunk = 16384;
    const long n_chunks = (long)((n + chunk - 1) / chunk);
    int nt = tl_threads_get();
#pragma omp parallel for num_threads(nt) schedule(static) if (n_chunks > 1)
    for (long c = 0; c < n_chunks; c++) {
        size_t start = (size_t)c * chunk, len = n - start < chunk ? n - start : chunk;
        activation_chunk(x + start, len, act);
    }
}

void tl_gated_activation(const float *x, float *out, size_t T, size_t I, tl_activation act) {
    int nt = tl_threads_get();
#pragma omp parallel for num_threads(nt) schedule(static) if (T * I > 65536)
    for (size_t t = 0; t < T; t++) {
        float *o = out + t * I;
        memcpy(o, x + t * 2 * I, I * sizeof(float));
        activation_chunk(o, I, act);
        const float *gate = x + t * 2 * I + I;
        for (size_t i = 0; i < I; i++) o[i] *= gate[i];
    }
}

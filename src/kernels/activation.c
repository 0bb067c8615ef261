/* activation.c — elementwise activations, matching torch's definitions. */
#include "kernels/kernels.h"
#include "runtime/threads.h"

#include <math.h>

/* Applies one activation to a float. */
static inline float act1(float v, tl_activation act) {
    switch (act) {
    case TL_ACT_GELU: return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    case TL_ACT_GELU_TANH: {
        float u = 0.7978845608028654f * (v + 0.044715f * v * v * v);
        return 0.5f * v * (1.0f + tanhf(u));
    }
    case TL_ACT_RELU: return v > 0.0f ? v : 0.0f;
    case TL_ACT_SILU: return v / (1.0f + expf(-v));
    }
    return v;
}

void tl_activation_apply(float *x, size_t n, tl_activation act) {
    int nt = tl_threads_get();
#pragma omp parallel for num_threads(nt) schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) x[i] = act1(x[i], act);
}

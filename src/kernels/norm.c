/* norm.c — LayerNorm, alone or fused with a residual add (vectorized rows,
 * src/kernels/vec_body.h). */
#include "kernels/kernels.h"
#include "kernels/vec.h"
#include "runtime/threads.h"

#include <string.h>

void tl_add_layernorm(float *x, const float *residual, const float *g, const float *b,
                      size_t T, size_t H, float eps) {
    const tl_vec_kernels *vk = tl_vec();
    int nt = tl_threads_get();
#pragma omp parallel for num_threads(nt) schedule(static) if (T * H >= TL_LN_PARALLEL_MIN)
    for (size_t t = 0; t < T; t++)
        vk->add_layernorm_row(x + t * H, residual ? residual + t * H : NULL, g, b, H, eps);
}

void tl_layernorm(const float *x, float *y, const float *g, const float *b, size_t T, size_t H,
                  float eps) {
    const tl_vec_kernels *vk = tl_vec();
    int nt = tl_threads_get();
#pragma omp parallel for num_threads(nt) schedule(static) if (T * H >= TL_LN_PARALLEL_MIN)
    for (size_t t = 0; t < T; t++) {
        /* the row is normalized in y while it is still in cache */
        if (y != x) memcpy(y + t * H, x + t * H, H * sizeof(float));
        vk->add_layernorm_row(y + t * H, NULL, g, b, H, eps);
    }
}

/* decoder_ops.c — the row kernels Llama-style decoders add: RMSNorm and rotary embeddings
 * on strided rows with explicit positions (Q and K of grouped-query attention). */
#include "kernels/kernels.h"

#include <math.h>

void tl_rmsnorm(const float *x, float *y, const float *g, size_t T, size_t H, float eps) {
    for (size_t t = 0; t < T; t++) {
        const float *xr = x + t * H;
        float *yr = y + t * H;
        float ss = 0.0f;
        for (size_t i = 0; i < H; i++) ss += xr[i] * xr[i];
        const float r = 1.0f / sqrtf(ss / (float)H + eps);
        for (size_t i = 0; i < H; i++) yr[i] = g[i] * (xr[i] * r);
    }
}

void tl_rope_rows(float *x, size_t ld, size_t T, const int32_t *pos, size_t n_heads, size_t d,
                  double theta) {
    const size_t half = d / 2;
    float inv[TL_ATTN_MAX_HEAD_DIM / 2];
    /* as torch: 1 / (base ** (arange(0, d, 2).float() / d)) in float32 */
    for (size_t c = 0; c < half && c < TL_ATTN_MAX_HEAD_DIM / 2; c++)
        inv[c] = 1.0f / powf((float)theta, (float)(2 * c) / (float)d);
    for (size_t t = 0; t < T; t++)
        for (size_t h = 0; h < n_heads; h++) {
            float *v = x + t * ld + h * d;
            for (size_t c = 0; c < half; c++) {
                float ang = (float)pos[t] * inv[c], cs = cosf(ang), sn = sinf(ang);
                float a = v[c], b = v[c + half];
                v[c] = a * cs - b * sn;
                v[c + half] = b * cs + a * sn;
            }
        }
}

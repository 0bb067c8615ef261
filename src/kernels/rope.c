/* rope.c — rotary position embeddings (rotate-half form, as transformers applies them):
 * for pair (c, c + d/2) of a head, angle = pos * theta^(-2c/d), computed in float32. */
#include "kernels/kernels.h"
#include "runtime/threads.h"

#include <math.h>
#include <stdlib.h>

/* Rotates one head vector v (d floats) for position pos with inverse frequencies inv. */
static void rotate(float *v, size_t d, float pos, const float *inv) {
    const size_t half = d / 2;
    for (size_t c = 0; c < half; c++) {
        float ang = pos * inv[c], cs = cosf(ang), sn = sinf(ang);
        float a = v[c], b = v[c + half];
        v[c] = a * cs - b * sn;
        v[c + half] = b * cs + a * sn;
    }
}

void tl_rope_apply(float *qkv, const size_t *cu, size_t n_seqs, const int32_t *pos_ids,
                   size_t n_heads, size_t d, double theta) {
    const size_t H = n_heads * d, half = d / 2;
    float inv[512];
    /* as torch: 1 / (base ** (arange(0, d, 2).float() / d)) in float32 */
    for (size_t c = 0; c < half && c < 512; c++)
        inv[c] = 1.0f / powf((float)theta, (float)(2 * c) / (float)d);
    const size_t T = cu[n_seqs];
    int nt = tl_threads_get();
#pragma omp parallel for num_threads(nt) schedule(static) if (T > 64)
    for (size_t t = 0; t < T; t++) {
        /* the sequence of token t: binary search in cu */
        size_t lo = 0, hi = n_seqs;
        while (hi - lo > 1) {
            size_t mid = (lo + hi) / 2;
            if (cu[mid] <= t) lo = mid; else hi = mid;
        }
        float pos = pos_ids ? (float)pos_ids[t] : (float)(t - cu[lo]);
        float *row = qkv + t * 3 * H;
        for (size_t h = 0; h < n_heads; h++) {
            rotate(row + h * d, d, pos, inv);     /* Q */
            rotate(row + H + h * d, d, pos, inv); /* K */
        }
    }
}

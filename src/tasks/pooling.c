/* pooling.c — cls / max / mean / mean_sqrt_len / weightedmean / lasttoken pooling. */
#include "tasks/pooling.h"

#include <math.h>
#include <string.h>

/* Returns 1 when token i counts (mask absent or non-zero). */
static inline int on(const int32_t *mask, size_t i) { return !mask || mask[i] != 0; }

void tl_pool(const tl_st_config *cfg, const float *h, const int32_t *mask, size_t len,
             size_t H, float *out) {
    float *o = out;
    if (cfg->pooling & TL_POOL_CLS) {
        if (len) memcpy(o, h, H * sizeof(float)); else memset(o, 0, H * sizeof(float));
        o += H;
    }
    if (cfg->pooling & TL_POOL_MAX) {
        for (size_t c = 0; c < H; c++) {
            float mx = -1e9f; /* sentence-transformers fills masked positions with -1e9 */
            for (size_t i = 0; i < len; i++) {
                float v = on(mask, i) ? h[i * H + c] : -1e9f;
                if (v > mx) mx = v;
            }
            o[c] = mx;
        }
        o += H;
    }
    if (cfg->pooling & (TL_POOL_MEAN | TL_POOL_MEAN_SQRT_LEN)) {
        double count = 0;
        for (size_t i = 0; i < len; i++) count += on(mask, i);
        double denom = count < 1e-9 ? 1e-9 : count;
        for (size_t c = 0; c < H; c++) {
            double sum = 0;
            for (size_t i = 0; i < len; i++) if (on(mask, i)) sum += h[i * H + c];
            if (cfg->pooling & TL_POOL_MEAN) o[c] = (float)(sum / denom);
            if (cfg->pooling & TL_POOL_MEAN_SQRT_LEN)
                o[c + ((cfg->pooling & TL_POOL_MEAN) ? H : 0)] = (float)(sum / sqrt(denom));
        }
        o += H * (((cfg->pooling & TL_POOL_MEAN) != 0) + ((cfg->pooling & TL_POOL_MEAN_SQRT_LEN) != 0));
    }
    if (cfg->pooling & TL_POOL_WEIGHTED_MEAN) {
        double wsum = 0;
        for (size_t i = 0; i < len; i++) wsum += on(mask, i) ? (double)(i + 1) : 0.0;
        if (wsum < 1e-9) wsum = 1e-9;
        for (size_t c = 0; c < H; c++) {
            double sum = 0;
            for (size_t i = 0; i < len; i++) if (on(mask, i)) sum += (double)(i + 1) * h[i * H + c];
            o[c] = (float)(sum / wsum);
        }
        o += H;
    }
    if (cfg->pooling & TL_POOL_LAST_TOKEN) {
        size_t last = len;
        for (size_t i = len; i-- > 0;) if (on(mask, i)) { last = i; break; }
        if (last < len) memcpy(o, h + last * H, H * sizeof(float)); else memset(o, 0, H * sizeof(float));
    }
}

void tl_l2_normalize(float *x, size_t n) {
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
    double norm = sqrt(ss);
    float inv = (float)(1.0 / (norm > 1e-12 ? norm : 1e-12));
    for (size_t i = 0; i < n; i++) x[i] *= inv;
}

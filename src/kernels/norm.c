/* norm.c — residual add fused with LayerNorm, one pass over each row. */
#include "kernels/kernels.h"
#include "runtime/threads.h"

#include <math.h>

void tl_add_layernorm(float *x, const float *residual, const float *g, const float *b,
                      size_t T, size_t H, float eps) {
    int nt = tl_threads_get();
#pragma omp parallel for num_threads(nt) schedule(static) if (T * H > 32768)
    for (size_t t = 0; t < T; t++) {
        float *row = x + t * H;
        const float *res = residual ? residual + t * H : NULL;
        double sum = 0.0;
        for (size_t i = 0; i < H; i++) {
            if (res) row[i] += res[i];
            sum += row[i];
        }
        double mean = sum / (double)H, var = 0.0;
        for (size_t i = 0; i < H; i++) {
            double d = row[i] - mean;
            var += d * d;
        }
        float inv = (float)(1.0 / sqrt(var / (double)H + eps));
        float m = (float)mean;
        if (b)
            for (size_t i = 0; i < H; i++) row[i] = (row[i] - m) * inv * g[i] + b[i];
        else
            for (size_t i = 0; i < H; i++) row[i] = (row[i] - m) * inv * g[i];
    }
}

void tl_layernorm(const float *x, float *y, const float *g, const float *b, size_t T, size_t H,
                  float eps) {
    int nt = tl_threads_get();
#pragma omp parallel for num_threads(nt) schedule(static) if (T * H > 32768)
    for (size_t t = 0; t < T; t++) {
        const float *row = x + t * H;
        double sum = 0.0, var = 0.0;
        for (size_t i = 0; i < H; i++) sum += row[i];
        double mean = sum / (double)H;
        for (size_t i = 0; i < H; i++) {
            double d = row[i] - mean;
            var += d * d;
        }
        float inv = (float)(1.0 / sqrt(var / (double)H + eps)), m = (float)mean;
        float *out = y + t * H;
        for (size_t i = 0; i < H; i++) out[i] = (row[i] - m) * inv * g[i] + (b ? b[i] : 0.0f);
    }
}

/* attention.c — multi-head self-attention over a packed batch: per sequence and head,
 * scores of one query row at a time (no (T, T) matrix), softmax fused, then P @ V. */
#include "kernels/kernels.h"

#include <math.h>
#include <omp.h>
#include <string.h>

size_t tl_attention_scratch_floats(size_t max_len) { return max_len + 16; }

/* Dot product of two length-n vectors with several accumulators (vectorizes). */
static inline float dot(const float *a, const float *b, size_t n) {
    float acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += a[i + k] * b[i + k];
    float s = 0.0f;
    for (; i < n; i++) s += a[i] * b[i];
    for (int k = 0; k < 8; k++) s += acc[k];
    return s;
}

/* Attention of one head of one sequence of len tokens starting at packed row r0. */
static void attend_head(const float *qkv, float *out, size_t r0, size_t len, size_t h,
                        size_t n_heads, size_t d, const int32_t *key_mask, float *scores) {
    const size_t H = n_heads * d, stride = 3 * H;
    const float scale = 1.0f / sqrtf((float)d);
    int any_key = 0;
    for (size_t j = 0; j < len && !any_key; j++) any_key = !key_mask || key_mask[r0 + j];
    for (size_t i = 0; i < len; i++) {
        const float *q = qkv + (r0 + i) * stride + h * d;
        float mx = -INFINITY;
        for (size_t j = 0; j < len; j++) {
            if (any_key && key_mask && !key_mask[r0 + j]) { scores[j] = -INFINITY; continue; }
            const float *k = qkv + (r0 + j) * stride + H + h * d;
            scores[j] = dot(q, k, d) * scale;
            if (scores[j] > mx) mx = scores[j];
        }
        float sum = 0.0f;
        for (size_t j = 0; j < len; j++) {
            // With every key masked, torch's additive mask gives equal weights: match it.
            float p = any_key ? expf(scores[j] - mx) : 1.0f;
            scores[j] = p;
            sum += p;
        }
        float inv = 1.0f / sum;
        float *o = out + (r0 + i) * H + h * d;
        memset(o, 0, d * sizeof(float));
        for (size_t j = 0; j < len; j++) {
            float p = scores[j] * inv;
            if (p == 0.0f) continue;
            const float *v = qkv + (r0 + j) * stride + 2 * H + h * d;
            for (size_t c = 0; c < d; c++) o[c] += p * v[c];
        }
    }
}

void tl_attention(const float *qkv, float *out, const size_t *cu_seqlens, size_t n_seqs,
                  const int32_t *key_mask, size_t n_heads, size_t head_dim, float *scratch,
                  int n_threads) {
    size_t max_len = 0;
    for (size_t s = 0; s < n_seqs; s++)
        if (cu_seqlens[s + 1] - cu_seqlens[s] > max_len) max_len = cu_seqlens[s + 1] - cu_seqlens[s];
    const size_t per_thread = tl_attention_scratch_floats(max_len);
    const long n_tasks = (long)(n_seqs * n_heads);
#pragma omp parallel for num_threads(n_threads) schedule(dynamic, 1)
    for (long task = 0; task < n_tasks; task++) {
        size_t s = (size_t)task / n_heads, h = (size_t)task % n_heads;
        float *scores = scratch + (size_t)omp_get_thread_num() * per_thread;
        attend_head(qkv, out, cu_seqlens[s], cu_seqlens[s + 1] - cu_seqlens[s], h, n_heads,
                    head_dim, key_mask, scores);
    }
}

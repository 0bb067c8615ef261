/* attn_cached.c — decoder attention: new queries against the keys and values in the KV
 * cache's pages (prefill: all of a prompt's queries; decode: one query per sequence), with
 * the causal mask, an optional sliding window and grouped-query heads. Scores in float,
 * the softmax with max subtraction, as torch's eager attention computes it. The rows run
 * on the ISA table's attend_cached_row (vec_body.h); tl_attend_cached_row_ref here is its
 * scalar oracle. */
#include "kernels/kernels.h"
#include "kernels/vec.h"

#include <math.h>
#include <omp.h>

size_t tl_attention_cached_scratch(size_t max_keys) { return max_keys + 16; }

void tl_attend_cached_row_ref(const float *qr, float *o, size_t p, float *const *pg, const tl_kv_layout *lay,
                       size_t kh, size_t d, size_t window, float scale, float *sc) {
    const size_t lo = window && p + 1 > window ? p + 1 - window : 0;
    float mx = -INFINITY;
    for (size_t j = lo; j <= p; j++) {
        const float *k = tl_kv_k_row(lay, pg, j) + kh * d;
        float dot = 0.0f;
        for (size_t c = 0; c < d; c++) dot += qr[c] * k[c];
        sc[j - lo] = dot * scale;
        if (sc[j - lo] > mx) mx = sc[j - lo];
    }
    float sum = 0.0f;
    for (size_t j = lo; j <= p; j++) {
        sc[j - lo] = expf(sc[j - lo] - mx);
        sum += sc[j - lo];
    }
    for (size_t c = 0; c < d; c++) o[c] = 0.0f;
    const float inv = 1.0f / sum;
    for (size_t j = lo; j <= p; j++) {
        const float *v = tl_kv_v_row(lay, pg, j) + kh * d;
        const float w = sc[j - lo] * inv;
        for (size_t c = 0; c < d; c++) o[c] += w * v[c];
    }
}

void tl_attention_cached(const float *q, size_t q_ld, float *out, size_t out_ld, const size_t *cu,
                         size_t n_seqs, float *const *const *pages, const size_t *past,
                         const tl_kv_layout *lay, size_t n_heads, size_t n_kv_heads, size_t d,
                         size_t window, float scale, float *scratch, int n_threads) {
    const size_t group = n_heads / n_kv_heads;
    size_t max_keys = 0;
    double work = 0;
    for (size_t s = 0; s < n_seqs; s++) {
        size_t keys = past[s] + cu[s + 1] - cu[s];
        if (keys > max_keys) max_keys = keys;
        work += (double)(cu[s + 1] - cu[s]) * (double)keys * (double)(n_heads * d);
    }
    const size_t per_thread = tl_attention_cached_scratch(max_keys);
    const float sc = scale > 0 ? scale : 1.0f / sqrtf((float)d);
    const long n_tasks = (long)(n_seqs * n_heads);
    const int parallel = n_threads > 1 && n_tasks > 1 && work > 2e5;
    void (*const row)(const float *restrict, float *restrict, size_t, float *const *, const tl_kv_layout *,
                      size_t, size_t, size_t, float, float *restrict) = tl_vec()->attend_cached_row;
#pragma omp parallel for num_threads(n_threads) schedule(dynamic, 1) if (parallel)
    for (long task = 0; task < n_tasks; task++) {
        const size_t s = (size_t)task / n_heads, h = (size_t)task % n_heads;
        float *buf = scratch + (size_t)omp_get_thread_num() * per_thread;
        for (size_t t = cu[s]; t < cu[s + 1]; t++)
            row(q + t * q_ld + h * d, out + t * out_ld + h * d, past[s] + (t - cu[s]), pages[s],
                       lay, h / group, d, window, sc, buf);
    }
}

/* sampling.c — next-token choice: repetition penalty, then greedy or temperature / top-k /
 * top-p sampling as transformers' processors and warpers apply them, from a seeded
 * splitmix64 stream (reproducible, not torch's random numbers). */
#include "tasks/sampling.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>

tl_rng tl_rng_for(uint64_t seed, size_t i) {
    return (tl_rng){seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(i + 1))};
}

double tl_rng_uniform(tl_rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

tl_status tl_sampling_check(const tl_generate_params *p) {
    if (!(p->temperature >= 0) || isinf(p->temperature))
        return tl_set_error(TL_ERR_INVALID_ARG, "generate: temperature %g must be a finite number >= 0",
                            (double)p->temperature);
    if (!(p->top_p > 0 && p->top_p <= 1))
        return tl_set_error(TL_ERR_INVALID_ARG, "generate: top_p %g must be in (0, 1]", (double)p->top_p);
    if (p->top_k < 0)
        return tl_set_error(TL_ERR_INVALID_ARG, "generate: top_k %d must be >= 0 (0: off)", p->top_k);
    if (!(p->repetition_penalty > 0) || isinf(p->repetition_penalty))
        return tl_set_error(TL_ERR_INVALID_ARG, "generate: repetition_penalty %g must be a finite number > 0",
                            (double)p->repetition_penalty);
    if (p->n_eos && !p->eos_ids)
        return tl_set_error(TL_ERR_INVALID_ARG, "generate: n_eos is %zu but eos_ids is NULL", p->n_eos);
    return TL_OK;
}

void tl_repetition_penalty(float *logits, size_t V, const int32_t *seen, size_t n, float penalty,
                           unsigned char *mark) {
    if (penalty == 1.0f) return;
    /* transformers gathers the scores of the seen ids, then scatters the penalized ones:
     * an id seen twice is penalized once */
    for (size_t i = 0; i < n; i++) {
        int32_t id = seen[i];
        if (id < 0 || (size_t)id >= V || mark[id]) continue;
        mark[id] = 1;
        logits[id] = logits[id] < 0 ? logits[id] * penalty : logits[id] / penalty;
    }
    for (size_t i = 0; i < n; i++)
        if (seen[i] >= 0 && (size_t)seen[i] < V) mark[seen[i]] = 0;
}

int32_t tl_argmax(const float *logits, size_t V) {
    size_t best = 0;
    for (size_t i = 1; i < V; i++)
        if (logits[i] > logits[best]) best = i;
    return (int32_t)best;
}

/* qsort order: larger logit first, then smaller index (a stable descending order). */
static _Thread_local const float *g_sort_logits; /* qsort has no context argument */
static int by_logit_desc(const void *a, const void *b) {
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    float x = g_sort_logits[i], y = g_sort_logits[j];
    if (x != y) return x > y ? -1 : 1;
    return i < j ? -1 : (i > j);
}

int32_t tl_sample_next(float *logits, size_t V, const tl_generate_params *p, tl_rng *r,
                       int32_t *idx, float *prob) {
    if (!p->do_sample || p->temperature == 0.0f) return tl_argmax(logits, V);
    if (p->temperature != 1.0f)
        for (size_t i = 0; i < V; i++) logits[i] /= p->temperature;
    for (size_t i = 0; i < V; i++) idx[i] = (int32_t)i;
    /* sorted descending: top-k keeps the first k and those tied with the k-th, top-p the
     * shortest prefix whose probability reaches top_p */
    g_sort_logits = logits;
    qsort(idx, V, sizeof *idx, by_logit_desc);
    size_t keep = V;
    if (p->top_k > 0 && (size_t)p->top_k < V) {
        keep = (size_t)p->top_k;
        while (keep < V && logits[idx[keep]] == logits[idx[keep - 1]]) keep++;
    }
    const float mx = logits[idx[0]];
    double sum = 0;
    for (size_t i = 0; i < keep; i++) sum += (prob[i] = expf(logits[idx[i]] - mx));
    if (p->top_p < 1.0f) {
        double prefix = 0;
        size_t k = 0;
        while (k < keep && prefix < (double)p->top_p * sum) prefix += prob[k++];
        keep = k ? k : 1;
        sum = 0;
        for (size_t i = 0; i < keep; i++) sum += prob[i];
    }
    double u = tl_rng_uniform(r) * sum, acc = 0;
    for (size_t i = 0; i < keep; i++) {
        acc += prob[i];
        if (u < acc) return idx[i];
    }
    return idx[keep - 1];
}

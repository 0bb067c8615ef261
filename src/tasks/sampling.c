/* sampling.c — next-token choice as transformers' generate() makes it: the logits
 * processors (repetition penalty, no-repeat n-grams, banned ids), then greedy or
 * temperature / top-k / top-p / min-p sampling from a seeded splitmix64 stream
 * (reproducible, not torch's random numbers), with the chosen token's log-probability. */
#include "tasks/sampling.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    if (!(p->min_p >= 0 && p->min_p <= 1))
        return tl_set_error(TL_ERR_INVALID_ARG, "generate: min_p %g must be in [0, 1] (0: off)", (double)p->min_p);
    if (!(p->repetition_penalty > 0) || isinf(p->repetition_penalty))
        return tl_set_error(TL_ERR_INVALID_ARG, "generate: repetition_penalty %g must be a finite number > 0",
                            (double)p->repetition_penalty);
    if (p->n_eos && !p->eos_ids)
        return tl_set_error(TL_ERR_INVALID_ARG, "generate: n_eos is %zu but eos_ids is NULL", p->n_eos);
    if (p->n_stop_strings && !p->stop_strings)
        return tl_set_error(TL_ERR_INVALID_ARG, "generate: n_stop_strings is %zu but stop_strings is NULL",
                            p->n_stop_strings);
    for (size_t i = 0; i < p->n_stop_strings; i++)
        if (!p->stop_strings[i] || !p->stop_strings[i][0])
            return tl_set_error(TL_ERR_INVALID_ARG, "generate: stop string %zu is empty", i);
    if (p->n_stop_strings && !p->tokenizer)
        return tl_set_error(TL_ERR_INVALID_ARG, "generate: stop_strings need a tokenizer to decode with");
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

void tl_no_repeat_ngram(float *logits, size_t V, const int32_t *toks, size_t n, size_t size) {
    if (size == 0 || n + 1 < size) return;
    /* the last size - 1 tokens; every earlier occurrence of them bans what followed it */
    const int32_t *tail = toks + n - (size - 1);
    for (size_t i = 0; i + size <= n; i++) {
        if (size > 1 && memcmp(toks + i, tail, (size - 1) * sizeof *toks)) continue;
        int32_t next = toks[i + size - 1];
        if (next >= 0 && (size_t)next < V) logits[next] = -INFINITY;
    }
}

void tl_ban_ids(float *logits, size_t V, const int32_t *ids, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= 0 && (size_t)ids[i] < V) logits[ids[i]] = -INFINITY;
}

int32_t tl_argmax(const float *logits, size_t V) {
    size_t best = 0;
    for (size_t i = 1; i < V; i++)
        if (logits[i] > logits[best]) best = i;
    return (int32_t)best;
}

/* log(sum(exp(logits))) over V entries (-inf when all are -inf). */
static double log_sum_exp(const float *logits, size_t V) {
    float mx = logits[tl_argmax(logits, V)];
    if (isinf(mx) && mx < 0) return -INFINITY;
    double sum = 0;
    for (size_t i = 0; i < V; i++) sum += exp((double)logits[i] - mx);
    return mx + log(sum);
}

/* qsort order: larger logit first, then smaller index (a stable descending order). */
static _Thread_local const float *g_sort_logits; /* qsort has no context argument */
static int by_logit_desc(const void *a, const void *b) {
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    float x = g_sort_logits[i], y = g_sort_logits[j];
    if (x != y) return x > y ? -1 : 1;
    return i < j ? -1 : (i > j);
}

/* Sampling: how many of the sorted candidates idx (V) top-k, top-p and min-p keep; prob
 * gets exp(logit - max) of each kept one and *sum their total. */
static size_t keep_candidates(const float *logits, size_t V, const tl_generate_params *p, const int32_t *idx,
                              float *prob, double *sum) {
    size_t keep = V;
    if (p->top_k > 0 && (size_t)p->top_k < V) {
        keep = (size_t)p->top_k;
        while (keep < V && logits[idx[keep]] == logits[idx[keep - 1]]) keep++;
    }
    const float mx = logits[idx[0]];
    double s = 0;
    for (size_t i = 0; i < keep; i++) s += (prob[i] = expf(logits[idx[i]] - mx));
    if (p->top_p < 1.0f) {
        double prefix = 0;
        size_t k = 0;
        while (k < keep && prefix < (double)p->top_p * s) prefix += prob[k++];
        keep = k ? k : 1;
    }
    if (p->min_p > 0) {
        /* probs < min_p * top prob are removed; the ratio is the same before and after
         * renormalizing, and prob[0] (the top) is 1 */
        size_t k = 1;
        while (k < keep && prob[k] >= p->min_p) k++;
        keep = k;
    }
    s = 0;
    for (size_t i = 0; i < keep; i++) s += prob[i];
    *sum = s;
    return keep;
}

int32_t tl_sample_next(float *logits, size_t V, const tl_generate_params *p, tl_rng *r,
                       int32_t *idx, float *prob, float *logprob) {
    if (!p->do_sample || p->temperature == 0.0f) {
        int32_t t = tl_argmax(logits, V);
        if (logprob) *logprob = (float)((double)logits[t] - log_sum_exp(logits, V));
        return t;
    }
    if (p->temperature != 1.0f)
        for (size_t i = 0; i < V; i++) logits[i] /= p->temperature;
    for (size_t i = 0; i < V; i++) idx[i] = (int32_t)i;
    /* sorted descending: top-k keeps the first k and those tied with the k-th, top-p the
     * shortest prefix whose probability reaches top_p, min-p those near enough the top */
    g_sort_logits = logits;
    qsort(idx, V, sizeof *idx, by_logit_desc);
    if (isinf(logits[idx[0]]) && logits[idx[0]] < 0) { /* everything banned */
        if (logprob) *logprob = -INFINITY;
        return idx[0];
    }
    double sum;
    size_t keep = keep_candidates(logits, V, p, idx, prob, &sum);
    double u = tl_rng_uniform(r) * sum, acc = 0;
    size_t pick = keep - 1;
    for (size_t i = 0; i < keep; i++) {
        acc += prob[i];
        if (u < acc) { pick = i; break; }
    }
    if (logprob) *logprob = (float)log((double)prob[pick] / sum);
    return idx[pick];
}

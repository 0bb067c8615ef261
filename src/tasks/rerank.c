/* rerank.c — cross-encoder tasks on a sequence-classification head, as
 * sentence-transformers' CrossEncoder computes them:
 *   text-pair-scoring  CrossEncoder.predict: one score per (text, text_pair) pair, after the
 *                      model's activation (Sigmoid for one label, else Identity, unless
 *                      config.json sentence_transformers.activation_fn says otherwise);
 *   text-ranking       CrossEncoder.rank ("rerank"): {query, documents} -> the documents'
 *                      {corpus_id, score[, text]} sorted by score, best first, top_k of them.
 * Pairs are truncated (longest first) to the tokenizer's / model's maximum, as CrossEncoder. */
#include "core/error.h"
#include "tasks/pipeline.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { ACT_IDENTITY, ACT_SIGMOID, ACT_TANH };

/* Maps an activation name ("sigmoid", "identity"/"none", "tanh", or a torch class path such
 * as "torch.nn.modules.activation.Sigmoid") to ACT_*; 0 when unknown. */
static int act_from_name(const char *name, int *act) {
    const char *base = strrchr(name, '.');
    base = base ? base + 1 : name;
    char low[32] = {0};
    for (size_t i = 0; i < sizeof low - 1 && base[i]; i++) low[i] = (char)tolower((unsigned char)base[i]);
    if (!strcmp(low, "sigmoid")) *act = ACT_SIGMOID;
    else if (!strcmp(low, "identity") || !strcmp(low, "none")) *act = ACT_IDENTITY;
    else if (!strcmp(low, "tanh")) *act = ACT_TANH;
    else return 0;
    return 1;
}

/* The activation to apply: the "activation_fn" parameter, else the model's configured one
 * (a torch.* path only, as CrossEncoder trusts), else Sigmoid for one label, else Identity. */
static tl_status resolve_act(const tl_pipeline *p, const cJSON *params, int *act) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, "activation_fn");
    if (v && !cJSON_IsNull(v)) {
        if (cJSON_IsString(v) && act_from_name(v->valuestring, act)) return TL_OK;
        return tl_set_error(TL_ERR_INVALID_ARG, "activation_fn must be \"sigmoid\", \"identity\" or \"tanh\"");
    }
    const char *cfg = p->ce_activation;
    if (*cfg && !strncmp(cfg, "torch.", 6)) {
        if (act_from_name(cfg, act)) return TL_OK;
        return tl_set_error(TL_ERR_UNSUPPORTED, "config.json sentence_transformers activation_fn '%s' is not "
                            "supported (Sigmoid, Identity, Tanh); pass activation_fn to override it", cfg);
    }
    *act = p->n_labels == 1 ? ACT_SIGMOID : ACT_IDENTITY;
    return TL_OK;
}

/* x (n) <- act(x) in float32, as torch on float32 logits. */
static void apply_act(float *x, size_t n, int act) {
    for (size_t i = 0; i < n; i++) {
        if (act == ACT_SIGMOID) x[i] = 1.0f / (1.0f + expf(-x[i]));
        else if (act == ACT_TANH) x[i] = tanhf(x[i]);
    }
}

/* Reads one pair: [text, text_pair] or {"text": ..., "text_pair": ...}. */
static tl_status pair_item(const cJSON *it, size_t i, const char **a, const char **b) {
    if (cJSON_IsArray(it) && cJSON_GetArraySize(it) == 2 && cJSON_IsString(cJSON_GetArrayItem(it, 0)) &&
        cJSON_IsString(cJSON_GetArrayItem(it, 1))) {
        *a = cJSON_GetArrayItem(it, 0)->valuestring;
        *b = cJSON_GetArrayItem(it, 1)->valuestring;
        return TL_OK;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "text"), *tp = cJSON_GetObjectItemCaseSensitive(it, "text_pair");
    if (cJSON_IsObject(it) && cJSON_IsString(t) && cJSON_IsString(tp)) {
        *a = t->valuestring;
        *b = tp->valuestring;
        return TL_OK;
    }
    return tl_set_error(TL_ERR_INVALID_ARG, "input %zu: expected a pair [text, text_pair] or {\"text\": ..., "
                        "\"text_pair\": ...}", i);
}

/* Scores n pairs: writes (n, n_labels) activated logits. */
static tl_status score_pairs(tl_pipeline *p, const cJSON *params, const char *const *a, const char *const *b,
                             size_t n, float *scores) {
    size_t max_len;
    int act;
    tl_status s = tl_pl_truncation(p, params, 1, &max_len);
    if (s == TL_OK) s = resolve_act(p, params, &act);
    if (s == TL_OK) s = tl_pl_seq_logits(p, a, b, n, max_len, scores);
    if (s == TL_OK) apply_act(scores, n * p->n_labels, act);
    return s;
}

/* Validates the options shared by both tasks. */
static tl_status ce_check(tl_pipeline *p, const cJSON *params) {
    size_t ml;
    int act, b;
    long k;
    tl_status s = tl_pl_truncation(p, params, 1, &ml);
    if (s == TL_OK) s = resolve_act(p, params, &act);
    if (s == TL_OK) s = tl_pl_bool(params, "apply_softmax", 0, &b);
    if (s == TL_OK) s = tl_pl_bool(params, "return_documents", 0, &b);
    if (s == TL_OK) s = tl_pl_int(params, "top_k", 0, 0, &k);
    return s;
}

/* One pair's result: a number for one label, else the list of (softmaxed if asked) scores. */
static cJSON *pair_result(const tl_pipeline *p, float *sc, int softmax) {
    if (p->n_labels == 1) return cJSON_CreateNumber(sc[0]);
    if (softmax) tl_pl_softmax(sc, p->n_labels);
    cJSON *l = cJSON_CreateArray();
    for (size_t j = 0; l && j < p->n_labels; j++) cJSON_AddItemToArray(l, cJSON_CreateNumber(sc[j]));
    return l;
}

/* Runs text-pair-scoring on one pair or a list of pairs. */
static tl_status pair_run(tl_pipeline *p, const cJSON *inputs, const cJSON *params, const cJSON *call, cJSON **out) {
    (void)call;
    int softmax;
    tl_status s = tl_pl_bool(params, "apply_softmax", 0, &softmax);
    if (s != TL_OK) return s;
    /* a list whose first element is a string is one pair, as CrossEncoder.predict reads it */
    const cJSON *first = cJSON_IsArray(inputs) ? cJSON_GetArrayItem(inputs, 0) : NULL;
    int single = !cJSON_IsArray(inputs) || cJSON_IsString(first);
    size_t n = single ? 1 : (size_t)cJSON_GetArraySize(inputs);
    const char **a = calloc(n ? n : 1, sizeof *a), **b = calloc(n ? n : 1, sizeof *b);
    float *sc = malloc((n ? n : 1) * p->n_labels * sizeof *sc);
    cJSON *res = NULL;
    if (!a || !b || !sc) s = tl_set_error(TL_ERR_OOM, "out of memory");
    for (size_t i = 0; s == TL_OK && i < n; i++)
        s = pair_item(single ? inputs : cJSON_GetArrayItem(inputs, (int)i), i, &a[i], &b[i]);
    if (s == TL_OK) s = score_pairs(p, params, a, b, n, sc);
    if (s == TL_OK && !single && !(res = cJSON_CreateArray())) s = tl_set_error(TL_ERR_OOM, "out of memory");
    for (size_t i = 0; s == TL_OK && i < n; i++) {
        cJSON *r = pair_result(p, sc + i * p->n_labels, softmax);
        if (!r) s = tl_set_error(TL_ERR_OOM, "out of memory");
        else if (single) res = r;
        else cJSON_AddItemToArray(res, r);
    }
    free(a);
    free(b);
    free(sc);
    if (s != TL_OK) { cJSON_Delete(res); res = NULL; }
    *out = res;
    return s;
}

/* Ranks one {"query", "documents"} input (ctx: the parameters); *out is the sorted list. */
static tl_status rank_one(tl_pipeline *p, const cJSON *item, size_t index, const void *ctx, cJSON **out) {
    const cJSON *params = ctx;
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(item, "query");
    const cJSON *docs = cJSON_GetObjectItemCaseSensitive(item, "documents");
    *out = NULL;
    if (!cJSON_IsString(q) || !cJSON_IsArray(docs))
        return tl_set_error(TL_ERR_INVALID_ARG, "input %zu: expected {\"query\": \"...\", \"documents\": "
                            "[\"...\", ...]}", index);
    long top_k;
    int ret_docs;
    tl_status s = tl_pl_int(params, "top_k", -1, 0, &top_k);
    if (s == TL_OK) s = tl_pl_bool(params, "return_documents", 0, &ret_docs);
    if (s != TL_OK) return s;
    size_t n = (size_t)cJSON_GetArraySize(docs);
    const char **a = malloc((n ? n : 1) * sizeof *a), **b = malloc((n ? n : 1) * sizeof *b);
    float *sc = malloc((n ? n : 1) * sizeof *sc);
    size_t *ord = malloc((n ? n : 1) * sizeof *ord);
    cJSON *res = NULL;
    if (!a || !b || !sc || !ord) s = tl_set_error(TL_ERR_OOM, "out of memory");
    for (size_t i = 0; s == TL_OK && i < n; i++) {
        const cJSON *d = cJSON_GetArrayItem(docs, (int)i);
        if (!cJSON_IsString(d)) s = tl_set_error(TL_ERR_INVALID_ARG, "input %zu: document %zu is not a string", index, i);
        else { a[i] = q->valuestring; b[i] = d->valuestring; ord[i] = i; }
    }
    if (s == TL_OK) s = score_pairs(p, params, a, b, n, sc);
    for (size_t i = 1; s == TL_OK && i < n; i++) /* stable, descending: Python's sorted(reverse=True) */
        for (size_t j = i; j > 0 && sc[ord[j]] > sc[ord[j - 1]]; j--) { size_t t = ord[j]; ord[j] = ord[j - 1]; ord[j - 1] = t; }
    size_t k = top_k < 0 || (size_t)top_k > n ? n : (size_t)top_k;
    if (s == TL_OK && !(res = cJSON_CreateArray())) s = tl_set_error(TL_ERR_OOM, "out of memory");
    for (size_t i = 0; s == TL_OK && i < k; i++) {
        cJSON *d = cJSON_CreateObject();
        if (!d) { s = tl_set_error(TL_ERR_OOM, "out of memory"); break; }
        cJSON_AddNumberToObject(d, "corpus_id", (double)ord[i]);
        cJSON_AddNumberToObject(d, "score", sc[ord[i]]);
        if (ret_docs) cJSON_AddStringToObject(d, "text", b[ord[i]]);
        cJSON_AddItemToArray(res, d);
    }
    free(a);
    free(b);
    free(sc);
    free(ord);
    if (s != TL_OK) { cJSON_Delete(res); res = NULL; }
    *out = res;
    return s;
}

/* Runs text-ranking on one {"query", "documents"} object or a list of them. */
static tl_status rank_run(tl_pipeline *p, const cJSON *inputs, const cJSON *params, const cJSON *call, cJSON **out) {
    (void)call;
    *out = NULL;
    if (p->n_labels != 1)
        return tl_set_error(TL_ERR_INVALID_ARG, "ranking needs a model with one label (num_labels=1), this one "
                            "has %zu: use the text-pair-scoring task instead", p->n_labels);
    return tl_pl_map(p, inputs, rank_one, params, out);
}

const tl_task tl_task_text_pair_scoring = {"text-pair-scoring", TL_HEAD_SEQ_CLS, pair_run, ce_check, TL_MERGE_NONE, 0, NULL};
const tl_task tl_task_text_ranking = {"text-ranking", TL_HEAD_SEQ_CLS, rank_run, ce_check, TL_MERGE_NONE, 0, NULL};

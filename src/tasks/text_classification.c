/* text_classification.c — the text-classification pipeline (TextClassificationPipeline):
 * [CLS] logits of a sequence-classification head, softmax / sigmoid / none as problem_type
 * and function_to_apply say, top_k with transformers' legacy single-result form, text pairs
 * as {"text": ..., "text_pair": ...}. */
#include "core/error.h"
#include "tasks/pipeline.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { FN_DEFAULT, FN_SIGMOID, FN_SOFTMAX, FN_NONE };

tl_status tl_pl_seq_logits(tl_pipeline *p, const char *const *texts, const char *const *pairs, size_t n,
                           size_t max_length, float *logits) {
    tl_encoding **encs = calloc(n ? n : 1, sizeof *encs);
    tl_pl_out o = {0};
    tl_status s = TL_OK;
    if (!encs) { s = tl_set_error(TL_ERR_OOM, "out of memory"); goto done; }
    for (size_t i = 0; i < n && s == TL_OK; i++)
        s = tl_pl_encode(p, texts[i], pairs ? pairs[i] : NULL, max_length, i, &encs[i]);
    if (s == TL_OK) s = tl_pl_forward(p, encs, n, &o);
    if (s != TL_OK) goto done;
    s = tl_head_apply_seqs(&p->head, p->m, o.hidden, o.cu, NULL, n, logits);
done:
    for (size_t i = 0; encs && i < n; i++) tl_encoding_free(encs[i]);
    free(encs);
    tl_pl_out_free(&o);
    return s;
}

/* Parses function_to_apply (absent/null: default). */
static tl_status parse_fn(const cJSON *params, int *fn) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, "function_to_apply");
    *fn = FN_DEFAULT;
    if (!v || cJSON_IsNull(v)) return TL_OK;
    if (cJSON_IsString(v)) {
        char low[16] = {0};
        for (size_t i = 0; i < sizeof low - 1 && v->valuestring[i]; i++) low[i] = (char)tolower((unsigned char)v->valuestring[i]);
        if (!strcmp(low, "sigmoid")) { *fn = FN_SIGMOID; return TL_OK; }
        if (!strcmp(low, "softmax")) { *fn = FN_SOFTMAX; return TL_OK; }
        if (!strcmp(low, "none")) { *fn = FN_NONE; return TL_OK; }
    }
    return tl_set_error(TL_ERR_INVALID_ARG, "function_to_apply must be \"sigmoid\", \"softmax\" or \"none\"");
}

/* Parses top_k: *set = 0 when absent; *k = -1 for null (all labels). */
static tl_status parse_top_k(const cJSON *params, int *set, long *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, "top_k");
    *set = v != NULL;
    *k = 1;
    if (!v) return TL_OK;
    if (cJSON_IsNull(v)) { *k = -1; return TL_OK; }
    return tl_pl_int(params, "top_k", 1, 0, k);
}

/* Validates the options of a text-classification pipeline. */
static tl_status tc_check(tl_pipeline *p, const cJSON *params) {
    (void)p;
    int fn, set;
    long k;
    size_t ml;
    tl_status s = parse_fn(params, &fn);
    if (s == TL_OK) s = parse_top_k(params, &set, &k);
    if (s == TL_OK) s = tl_pl_truncation(p, params, 0, &ml);
    return s;
}

/* The function transformers applies by default (problem_type, then label count). */
static int default_fn(const tl_pipeline *p) {
    if (!strcmp(p->problem_type, "regression")) return FN_NONE;
    if (!strcmp(p->problem_type, "multi_label_classification") || p->n_labels == 1) return FN_SIGMOID;
    return FN_SOFTMAX;
}

/* scores (n) <- fn(logits) in float32, as numpy on float32 logits. */
static void apply_fn(float *x, size_t n, int fn) {
    if (fn == FN_SOFTMAX) tl_pl_softmax(x, n);
    else if (fn == FN_SIGMOID)
        for (size_t i = 0; i < n; i++) x[i] = 1.0f / (1.0f + expf(-x[i]));
}

/* Builds one input's result: a {label, score} dict (legacy) or a sorted list. */
static cJSON *tc_result(const tl_pipeline *p, const float *scores, int legacy, long top_k) {
    size_t L = p->n_labels;
    if (legacy) {
        size_t best = 0;
        for (size_t i = 1; i < L; i++) if (scores[i] > scores[best]) best = i;
        cJSON *d = cJSON_CreateObject();
        if (d) { cJSON_AddStringToObject(d, "label", p->id2label[best]); tl_pl_add_num(d, "score", scores[best]); }
        return d;
    }
    size_t *ord = malloc(L * sizeof *ord);
    cJSON *list = cJSON_CreateArray();
    if (!ord || !list) { free(ord); cJSON_Delete(list); return NULL; }
    for (size_t i = 0; i < L; i++) ord[i] = i;
    for (size_t i = 1; i < L; i++) /* stable insertion sort, descending (Python's sort) */
        for (size_t j = i; j > 0 && scores[ord[j]] > scores[ord[j - 1]]; j--) {
            size_t t = ord[j]; ord[j] = ord[j - 1]; ord[j - 1] = t;
        }
    size_t k = top_k < 0 || (size_t)top_k > L ? L : (size_t)top_k;
    for (size_t i = 0; i < k; i++) {
        cJSON *d = cJSON_CreateObject();
        if (!d) break;
        cJSON_AddStringToObject(d, "label", p->id2label[ord[i]]);
        tl_pl_add_num(d, "score", scores[ord[i]]);
        cJSON_AddItemToArray(list, d);
    }
    free(ord);
    return list;
}

/* Reads one input: a string, or {"text": ..., "text_pair": ...}. */
static tl_status tc_item(const cJSON *it, size_t i, const char **text, const char **pair) {
    *pair = NULL;
    if (cJSON_IsString(it)) { *text = it->valuestring; return TL_OK; }
    if (cJSON_IsObject(it)) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "text"), *tp = cJSON_GetObjectItemCaseSensitive(it, "text_pair");
        if (cJSON_IsString(t) && (!tp || cJSON_IsNull(tp) || cJSON_IsString(tp))) {
            *text = t->valuestring;
            /* transformers' tokenizer(text, text_pair="") encodes the text alone */
            *pair = cJSON_IsString(tp) && tp->valuestring[0] ? tp->valuestring : NULL;
            return TL_OK;
        }
    }
    return tl_set_error(TL_ERR_INVALID_ARG, "input %zu: expected a string or {\"text\": ..., \"text_pair\": ...} "
                        "(send a text pair as a dictionary)", i);
}

/* Runs text-classification on a string, a dict, or a list of them. */
static tl_status tc_run(tl_pipeline *p, const cJSON *inputs, const cJSON *params, const cJSON *call, cJSON **out) {
    int fn, top_set;
    long top_k;
    size_t max_len, n;
    const cJSON **items = NULL;
    int single;
    tl_status s = tc_check(p, params);
    if (s == TL_OK) s = parse_fn(params, &fn);
    if (s == TL_OK) s = parse_top_k(params, &top_set, &top_k);
    if (s == TL_OK) s = tl_pl_truncation(p, params, 0, &max_len);
    if (s == TL_OK) s = tl_pl_items(inputs, &items, &n, &single);
    if (s != TL_OK) return s;
    const char **texts = calloc(n ? n : 1, sizeof *texts), **pairs = calloc(n ? n : 1, sizeof *pairs);
    float *logits = malloc((n ? n : 1) * p->n_labels * sizeof *logits);
    cJSON *res = NULL;
    if (!texts || !pairs || !logits) { s = tl_set_error(TL_ERR_OOM, "out of memory"); goto done; }
    for (size_t i = 0; i < n && s == TL_OK; i++) s = tc_item(items[i], i, &texts[i], &pairs[i]);
    if (s == TL_OK) s = tl_pl_seq_logits(p, texts, pairs, n, max_len, logits);
    if (s != TL_OK) goto done;
    if (fn == FN_DEFAULT) fn = default_fn(p);
    int legacy = !top_set;
    res = single ? NULL : cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        float *sc = logits + i * p->n_labels;
        apply_fn(sc, p->n_labels, fn);
        cJSON *r = tc_result(p, sc, legacy, top_k);
        if (!r) { s = tl_set_error(TL_ERR_OOM, "out of memory"); goto done; }
        if (single) res = r;
        else cJSON_AddItemToArray(res, r);
    }
    /* transformers wraps a single string's result in a list unless the call passed top_k. */
    if (single && cJSON_IsString(inputs) && !cJSON_HasObjectItem(call, "top_k")) {
        cJSON *wrap = cJSON_CreateArray();
        if (!wrap) { s = tl_set_error(TL_ERR_OOM, "out of memory"); goto done; }
        cJSON_AddItemToArray(wrap, res);
        res = wrap;
    }
done:
    free(items);
    free(texts);
    free(pairs);
    free(logits);
    if (s != TL_OK) { cJSON_Delete(res); res = NULL; }
    *out = res;
    return s;
}

const tl_task tl_task_text_classification = {"text-classification", TL_HEAD_SEQ_CLS, tc_run, tc_check,
                                              TL_MERGE_STRINGS, 0, "top_k"};

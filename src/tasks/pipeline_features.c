/* pipeline_features.c — the feature-extraction pipeline (FeatureExtractionPipeline: each
 * input's [1, tokens, hidden] last hidden state as nested lists) and the sentence-embedding
 * task (tl_embed: one vector per input) behind tl_pipeline_run. */
#include "core/error.h"
#include "tasks/pipeline.h"

#include <stdlib.h>

/* Collects the input strings (a string or a list of strings) into a borrowed array. */
static tl_status string_items(const cJSON *inputs, const char ***texts, size_t *n, int *single) {
    const cJSON **items;
    tl_status s = tl_pl_items(inputs, &items, n, single);
    if (s != TL_OK) return s;
    *texts = malloc((*n ? *n : 1) * sizeof **texts);
    if (!*texts) { free(items); return tl_set_error(TL_ERR_OOM, "out of memory"); }
    for (size_t i = 0; i < *n; i++) {
        if (!cJSON_IsString(items[i])) {
            free(items);
            free(*texts);
            *texts = NULL;
            return tl_set_error(TL_ERR_INVALID_ARG, "input %zu: expected a string", i);
        }
        (*texts)[i] = items[i]->valuestring;
    }
    free(items);
    return TL_OK;
}

/* A JSON array of n floats. */
static cJSON *float_list(const float *x, size_t n) {
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(x[i]));
    return a;
}

/* Runs feature-extraction: truncation only when tokenize_kwargs / truncation ask for it. */
static tl_status fe_run(tl_pipeline *p, const cJSON *inputs, const cJSON *params, const cJSON *call, cJSON **out) {
    (void)call;
    const char **texts = NULL;
    size_t n, max_len;
    int single;
    const cJSON *tk = cJSON_GetObjectItemCaseSensitive(params, "tokenize_kwargs");
    tl_status s = tl_pl_truncation(p, cJSON_IsObject(tk) ? tk : params, 0, &max_len);
    if (s == TL_OK) s = string_items(inputs, &texts, &n, &single);
    if (s != TL_OK) return s;
    tl_features *f = NULL;
    cJSON *res = NULL;
    if (!max_len) max_len = tl_model_max_positions(p->m);
    s = tl_extract_features(p->m, texts, n, max_len, &f);
    if (s == TL_OK) res = cJSON_CreateArray();
    for (size_t i = 0; s == TL_OK && i < n; i++) {
        size_t nt, h;
        const float *x = tl_features_get(f, i, &nt, &h);
        cJSON *seq = cJSON_CreateArray(), *wrap = cJSON_CreateArray();
        for (size_t t = 0; seq && t < nt; t++) cJSON_AddItemToArray(seq, float_list(x + t * h, h));
        cJSON_AddItemToArray(wrap, seq);
        cJSON_AddItemToArray(res, wrap);
    }
    tl_features_free(f);
    free(texts);
    if (s == TL_OK && single) {
        cJSON *one = cJSON_DetachItemFromArray(res, 0);
        cJSON_Delete(res);
        res = one;
    }
    *out = res;
    return s;
}

/* Runs sentence-embedding: one pooled (and normalized as configured) vector per input. */
static tl_status se_run(tl_pipeline *p, const cJSON *inputs, const cJSON *params, const cJSON *call, cJSON **out) {
    (void)call;
    const char **texts = NULL;
    size_t n;
    int single, norm = -1;
    long ml = 0;
    const cJSON *nv = cJSON_GetObjectItemCaseSensitive(params, "normalize");
    tl_status s = tl_pl_int(params, "max_length", 0, 1, &ml);
    if (s == TL_OK && nv && !cJSON_IsNull(nv)) s = tl_pl_bool(params, "normalize", 0, &norm);
    if (s == TL_OK) s = string_items(inputs, &texts, &n, &single);
    if (s != TL_OK) return s;
    size_t d = tl_model_embedding_dim(p->m);
    float *emb = malloc((n ? n : 1) * d * sizeof *emb);
    cJSON *res = NULL;
    tl_embed_params ep = tl_embed_default_params();
    ep.normalize = norm;
    ep.max_length = (size_t)ml;
    if (!emb) s = tl_set_error(TL_ERR_OOM, "out of memory");
    else s = tl_embed(p->m, texts, n, &ep, emb, n * d);
    if (s == TL_OK) {
        res = single ? float_list(emb, d) : cJSON_CreateArray();
        for (size_t i = 0; !single && i < n; i++) cJSON_AddItemToArray(res, float_list(emb + i * d, d));
    }
    free(emb);
    free(texts);
    *out = res;
    return s;
}

const tl_task tl_task_feature_extraction = {"feature-extraction", -1, fe_run, NULL, TL_MERGE_STRINGS, 0, NULL};
const tl_task tl_task_sentence_embedding = {"sentence-embedding", -1, se_run, NULL, TL_MERGE_STRINGS, 0, NULL};

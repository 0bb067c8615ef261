/* fill_mask.c — the fill-mask pipeline (FillMaskPipeline): masked-LM head on the mask
 * positions only, softmax over the vocabulary (or the targets), top_k, and token_str /
 * sequence decoded as tokenizer.decode does; several masks give a list per mask. */
#include "core/error.h"
#include "tasks/pipeline.h"

#include <stdlib.h>
#include <string.h>

/* Target ids from "targets" (a string or list): vocabulary entries, else the first token
 * of the target's tokenization; duplicates removed, ascending. *n = 0 when absent. */
static tl_status parse_targets(const tl_pipeline *p, const cJSON *params, int32_t **ids, size_t *n) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(params, "targets");
    *ids = NULL;
    *n = 0;
    if (!t || cJSON_IsNull(t)) return TL_OK;
    size_t cnt = cJSON_IsArray(t) ? (size_t)cJSON_GetArraySize(t) : 1;
    if (!cJSON_IsString(t) && !cJSON_IsArray(t))
        return tl_set_error(TL_ERR_INVALID_ARG, "targets must be a string or a list of strings");
    int32_t *v = malloc((cnt ? cnt : 1) * sizeof *v);
    if (!v) return tl_set_error(TL_ERR_OOM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < cnt; i++) {
        const cJSON *e = cJSON_IsArray(t) ? cJSON_GetArrayItem(t, (int)i) : t;
        if (!cJSON_IsString(e)) { free(v); return tl_set_error(TL_ERR_INVALID_ARG, "targets must be strings"); }
        int32_t id = tl_tokenizer_token_to_id(p->m->tok, e->valuestring);
        if (id < 0) {
            tl_encode_params ep = tl_encode_default_params();
            ep.add_special_tokens = 0;
            tl_encoding *enc = NULL;
            tl_status s = tl_tokenizer_encode(p->m->tok, e->valuestring, strlen(e->valuestring), NULL, 0, &ep, &enc);
            if (s != TL_OK) { free(v); return s; }
            if (tl_encoding_length(enc)) id = tl_encoding_ids(enc)[0];
            tl_encoding_free(enc);
            if (id < 0) continue; /* transformers ignores a target that tokenizes to nothing */
        }
        int dup = 0;
        for (size_t j = 0; j < k; j++) dup |= v[j] == id;
        if (!dup) v[k++] = id;
    }
    for (size_t i = 1; i < k; i++)
        for (size_t j = i; j > 0 && v[j] < v[j - 1]; j--) { int32_t x = v[j]; v[j] = v[j - 1]; v[j - 1] = x; }
    if (!k) { free(v); return tl_set_error(TL_ERR_INVALID_ARG, "At least one target must be provided when passed."); }
    *ids = v;
    *n = k;
    return TL_OK;
}

/* Validates top_k and targets. */
static tl_status fm_check(tl_pipeline *p, const cJSON *params) {
    long k;
    int32_t *ids;
    size_t n;
    if (p->mask_id < 0)
        return tl_set_error(TL_ERR_INVALID_ARG, "the tokenizer does not define a mask token (looked for '%s')", p->mask_token);
    tl_status s = tl_pl_int(params, "top_k", 5, 1, &k);
    if (s == TL_OK && (s = parse_targets(p, params, &ids, &n)) == TL_OK) free(ids);
    return s;
}

/* One {score, token, token_str, sequence} proposition: ids with position pos set to tok. */
static cJSON *proposition(const tl_pipeline *p, const int32_t *ids, size_t len, size_t pos, int32_t tok,
                          float score, int single_mask) {
    int32_t *t = malloc((len ? len : 1) * sizeof *t);
    if (!t) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        int32_t id = i == pos ? tok : ids[i];
        if (id != p->pad_id) t[k++] = id;
    }
    char *seq = tl_pl_decode(p, t, k, single_mask), *ts = tl_pl_decode(p, &tok, 1, 0);
    cJSON *d = seq && ts ? cJSON_CreateObject() : NULL;
    if (d) {
        tl_pl_add_num(d, "score", score);
        cJSON_AddNumberToObject(d, "token", tok);
        cJSON_AddStringToObject(d, "token_str", ts);
        cJSON_AddStringToObject(d, "sequence", seq);
    }
    free(t);
    free(seq);
    free(ts);
    return d;
}

/* The top_k candidates of one mask row of probabilities (over the vocabulary or targets). */
static cJSON *mask_row(const tl_pipeline *p, const tl_encoding *enc, size_t pos, const float *probs,
                       const int32_t *targets, size_t n_targets, size_t top_k, int single_mask) {
    size_t V = p->head.n_out, nc = n_targets ? n_targets : V;
    size_t k = top_k < nc ? top_k : nc;
    size_t *best = malloc(k * sizeof *best);
    cJSON *row = cJSON_CreateArray();
    if (!best || !row) { free(best); cJSON_Delete(row); return NULL; }
    size_t nb = 0;
    for (size_t c = 0; c < nc; c++) { /* keep the k best, earlier index first on ties */
        float v = probs[n_targets ? (size_t)targets[c] : c];
        if (nb == k && !(v > probs[n_targets ? (size_t)targets[best[k - 1]] : best[k - 1]])) continue;
        size_t j = nb < k ? nb++ : k - 1;
        while (j > 0 && v > probs[n_targets ? (size_t)targets[best[j - 1]] : best[j - 1]]) { best[j] = best[j - 1]; j--; }
        best[j] = c;
    }
    for (size_t i = 0; i < nb; i++) {
        int32_t tok = n_targets ? targets[best[i]] : (int32_t)best[i];
        cJSON *d = proposition(p, tl_encoding_ids(enc), tl_encoding_length(enc), pos, tok, probs[tok], single_mask);
        if (!d) { cJSON_Delete(row); row = NULL; break; }
        cJSON_AddItemToArray(row, d);
    }
    free(best);
    return row;
}

/* Runs fill-mask on a string or a list of strings. */
static tl_status fm_run(tl_pipeline *p, const cJSON *inputs, const cJSON *params, const cJSON *call, cJSON **out) {
    (void)call;
    long top_k;
    size_t max_len = 0, n = 0, n_targets = 0, n_rows = 0;
    int single;
    int32_t *targets = NULL;
    const cJSON **items = NULL;
    tl_encoding **encs = NULL;
    size_t *rows = NULL;
    float *probs = NULL;
    tl_pl_out o = {0};
    cJSON *res = NULL;
    const cJSON *tk = cJSON_GetObjectItemCaseSensitive(params, "tokenizer_kwargs");
    tl_status s = fm_check(p, params);
    if (s == TL_OK) s = tl_pl_int(params, "top_k", 5, 1, &top_k);
    if (s == TL_OK) s = parse_targets(p, params, &targets, &n_targets);
    if (s == TL_OK && cJSON_IsObject(tk)) s = tl_pl_truncation(p, tk, 0, &max_len);
    if (s == TL_OK) s = tl_pl_items(inputs, &items, &n, &single);
    if (s == TL_OK && !(encs = calloc(n ? n : 1, sizeof *encs))) s = tl_set_error(TL_ERR_OOM, "out of memory");
    for (size_t i = 0; s == TL_OK && i < n; i++) {
        if (!cJSON_IsString(items[i])) { s = tl_set_error(TL_ERR_INVALID_ARG, "input %zu: expected a string", i); break; }
        s = tl_pl_encode(p, items[i]->valuestring, NULL, max_len, i, &encs[i]);
        size_t nm = 0;
        for (size_t t = 0; s == TL_OK && t < tl_encoding_length(encs[i]); t++) nm += tl_encoding_ids(encs[i])[t] == p->mask_id;
        if (s == TL_OK && !nm)
            s = tl_set_error(TL_ERR_INVALID_ARG, "input %zu: No mask_token (%s) found on the input: put %s where "
                             "the word to predict goes", i, p->mask_token, p->mask_token);
        n_rows += nm;
    }
    if (s == TL_OK) s = tl_pl_forward(p, encs, n, &o);
    size_t V = p->head.n_out;
    if (s == TL_OK && (!(rows = malloc((n_rows ? n_rows : 1) * sizeof *rows)) ||
                       !(probs = malloc((n_rows ? n_rows : 1) * V * sizeof *probs))))
        s = tl_set_error(TL_ERR_OOM, "out of memory for %zu x %zu logits", n_rows, V);
    if (s == TL_OK) {
        size_t r = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t t = 0; t < tl_encoding_length(encs[i]); t++)
                if (tl_encoding_ids(encs[i])[t] == p->mask_id) rows[r++] = o.cu[i] + t;
        s = tl_head_apply(&p->head, p->m, o.hidden, rows, n_rows, probs);
    }
    for (size_t r = 0; s == TL_OK && r < n_rows; r++) tl_pl_softmax(probs + r * V, V);
    if (s == TL_OK && !(res = cJSON_CreateArray())) s = tl_set_error(TL_ERR_OOM, "out of memory");
    for (size_t i = 0, r = 0; s == TL_OK && i < n; i++) {
        size_t nm = 0, len = tl_encoding_length(encs[i]);
        for (size_t t = 0; t < len; t++) nm += tl_encoding_ids(encs[i])[t] == p->mask_id;
        cJSON *per = nm == 1 ? NULL : cJSON_CreateArray();
        for (size_t t = 0; t < len && s == TL_OK; t++) {
            if (tl_encoding_ids(encs[i])[t] != p->mask_id) continue;
            cJSON *row = mask_row(p, encs[i], t, probs + r++ * V, targets, n_targets, (size_t)top_k, nm == 1);
            if (!row) s = tl_set_error(TL_ERR_OOM, "out of memory");
            else if (nm == 1) per = row;
            else cJSON_AddItemToArray(per, row);
        }
        cJSON_AddItemToArray(res, per);
    }
    /* A string, or a list of one string, gives that input's result alone. */
    if (s == TL_OK && n == 1 && (single || cJSON_GetArraySize(inputs) == 1)) {
        cJSON *one = cJSON_DetachItemFromArray(res, 0);
        cJSON_Delete(res);
        res = one;
    }
    for (size_t i = 0; encs && i < n; i++) tl_encoding_free(encs[i]);
    free(encs);
    free(items);
    free(targets);
    free(rows);
    free(probs);
    tl_pl_out_free(&o);
    if (s != TL_OK) { cJSON_Delete(res); res = NULL; }
    *out = res;
    return s;
}

const tl_task tl_task_fill_mask = {"fill-mask", TL_HEAD_MLM, fm_run, fm_check, TL_MERGE_STRINGS, 1, NULL};

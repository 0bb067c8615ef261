/* zero_shot.c — zero-shot-classification on an NLI sequence classifier
 * (ZeroShotClassificationPipeline): each (sequence, hypothesis_template.format(label)) pair
 * is classified; the entailment logit (label2id entry starting with "entail") ranks the
 * candidate labels, softmaxed across labels, or against contradiction per label when
 * multi_label (or a single label). */
#include "core/error.h"
#include "tasks/pipeline.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Candidate labels: a list of strings or a comma-separated string (stripped, empties
 * dropped). Fills an array of malloc'd strings. */
static tl_status parse_labels(const cJSON *v, char ***labels, size_t *n) {
    *labels = NULL;
    *n = 0;
    size_t cap = cJSON_IsArray(v) ? (size_t)cJSON_GetArraySize(v) : (cJSON_IsString(v) ? strlen(v->valuestring) + 1 : 0);
    if (!v || (!cJSON_IsArray(v) && !cJSON_IsString(v)))
        return tl_set_error(TL_ERR_INVALID_ARG, "give candidate_labels: a list of labels or a comma-separated string");
    char **l = calloc(cap ? cap : 1, sizeof *l);
    if (!l) return tl_set_error(TL_ERR_OOM, "out of memory");
    *labels = l;
    if (cJSON_IsArray(v)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, v) {
            if (!cJSON_IsString(e)) return tl_set_error(TL_ERR_INVALID_ARG, "candidate_labels must be strings");
            if (!(l[(*n)++] = strdup(e->valuestring))) return tl_set_error(TL_ERR_OOM, "out of memory");
        }
        return TL_OK;
    }
    const char *s = v->valuestring;
    while (*s) {
        const char *e = strchr(s, ',');
        if (!e) e = s + strlen(s);
        const char *a = s, *b = e;
        while (a < b && isspace((unsigned char)*a)) a++;
        while (b > a && isspace((unsigned char)b[-1])) b--;
        if (b > a && !(l[(*n)++] = strndup(a, (size_t)(b - a)))) return tl_set_error(TL_ERR_OOM, "out of memory");
        s = *e ? e + 1 : e;
    }
    return TL_OK;
}

/* hypothesis_template.format(label): replaces "{}" (once) or every "{0}". malloc'd. */
static tl_status format_hypothesis(const char *tpl, const char *label, char **out) {
    const char *a = strstr(tpl, "{}"), *z = strstr(tpl, "{0}");
    const char *tok = a ? "{}" : "{0}";
    if ((!a && !z) || (a && z) || (a && strstr(a + 2, "{}")))
        return tl_set_error(TL_ERR_INVALID_ARG, "the hypothesis_template \"%s\" must contain one {} where the "
                            "label goes, e.g. \"This example is {}.\"", tpl);
    size_t tl = strlen(tok), ll = strlen(label), n = strlen(tpl) + 1, cnt = 0;
    for (const char *q = strstr(tpl, tok); q; q = strstr(q + tl, tok)) cnt++;
    char *r = malloc(n + cnt * ll), *w = r;
    if (!r) return tl_set_error(TL_ERR_OOM, "out of memory");
    for (const char *q = tpl; *q;) {
        if (!strncmp(q, tok, tl)) { memcpy(w, label, ll); w += ll; q += tl; }
        else *w++ = *q++;
    }
    *w = '\0';
    *out = r;
    return TL_OK;
}

/* One sequence's result from its (n_cand, L) logits. */
static cJSON *zs_result(const tl_pipeline *p, const char *seq, char **labels, size_t nc,
                        const float *lg, int multi) {
    size_t L = p->n_labels;
    size_t ent = p->entailment_id >= 0 ? (size_t)p->entailment_id : L - 1;
    size_t con = p->entailment_id == 0 ? L - 1 : 0;
    float *sc = malloc(nc * sizeof *sc);
    size_t *ord = malloc(nc * sizeof *ord);
    cJSON *d = cJSON_CreateObject(), *ls = cJSON_CreateArray(), *ss = cJSON_CreateArray();
    if (!sc || !ord || !d || !ls || !ss) { free(sc); free(ord); cJSON_Delete(d); cJSON_Delete(ls); cJSON_Delete(ss); return NULL; }
    if (multi || nc == 1) {
        for (size_t i = 0; i < nc; i++) {
            float e = expf(lg[i * L + ent]), c = expf(lg[i * L + con]);
            sc[i] = e / (c + e);
        }
    } else {
        float sum = 0.0f;
        for (size_t i = 0; i < nc; i++) { sc[i] = expf(lg[i * L + ent]); sum += sc[i]; }
        for (size_t i = 0; i < nc; i++) sc[i] /= sum;
    }
    for (size_t i = 0; i < nc; i++) ord[i] = i;
    for (size_t i = 1; i < nc; i++) /* stable ascending (numpy argsort on short arrays), then reversed */
        for (size_t j = i; j > 0 && sc[ord[j]] < sc[ord[j - 1]]; j--) { size_t t = ord[j]; ord[j] = ord[j - 1]; ord[j - 1] = t; }
    for (size_t i = nc; i-- > 0;) {
        cJSON_AddItemToArray(ls, cJSON_CreateString(labels[ord[i]]));
        cJSON_AddItemToArray(ss, cJSON_CreateNumber(sc[ord[i]]));
    }
    cJSON_AddStringToObject(d, "sequence", seq);
    cJSON_AddItemToObject(d, "labels", ls);
    cJSON_AddItemToObject(d, "scores", ss);
    free(sc);
    free(ord);
    return d;
}

/* Runs zero-shot-classification on a string, a list of strings, or {"sequences": ...,
 * "candidate_labels": ...}. */
static tl_status zs_run(tl_pipeline *p, const cJSON *inputs, const cJSON *params, const cJSON *call, cJSON **out) {
    (void)call;
    const cJSON *seqs = inputs, *labels_v = cJSON_GetObjectItemCaseSensitive(params, "candidate_labels");
    if (cJSON_IsObject(inputs)) {
        seqs = cJSON_GetObjectItemCaseSensitive(inputs, "sequences");
        if (cJSON_HasObjectItem(inputs, "candidate_labels")) labels_v = cJSON_GetObjectItemCaseSensitive(inputs, "candidate_labels");
    }
    const char *tpl = "This example is {}.";
    const cJSON *tv = cJSON_GetObjectItemCaseSensitive(params, "hypothesis_template");
    if (cJSON_IsString(tv)) tpl = tv->valuestring;
    int multi = 0;
    size_t max_len, n, nc = 0;
    int single;
    const cJSON **items = NULL;
    char **labels = NULL, **texts = NULL, **hyps = NULL;
    float *logits = NULL;
    cJSON *res = NULL;
    tl_status s = tl_pl_bool(params, "multi_label", 0, &multi);
    if (s == TL_OK) s = tl_pl_truncation(p, params, 1, &max_len);
    if (s == TL_OK) s = parse_labels(labels_v, &labels, &nc);
    if (s == TL_OK && nc == 0) s = tl_set_error(TL_ERR_INVALID_ARG, "You must include at least one label and at least one sequence.");
    if (s == TL_OK) s = tl_pl_items(seqs, &items, &n, &single);
    if (s == TL_OK && (!n || !seqs)) s = tl_set_error(TL_ERR_INVALID_ARG, "You must include at least one label and at least one sequence.");
    for (size_t i = 0; s == TL_OK && i < n; i++)
        if (!cJSON_IsString(items[i])) s = tl_set_error(TL_ERR_INVALID_ARG, "sequence %zu is not a string", i);
        else if (!items[i]->valuestring[0])
            s = tl_set_error(TL_ERR_INVALID_ARG, "You must include at least one label and at least one sequence (sequence %zu is empty).", i);
    size_t np = n * nc;
    if (s == TL_OK && (!(texts = calloc(np, sizeof *texts)) || !(hyps = calloc(nc, sizeof *hyps)) ||
                       !(logits = malloc(np * p->n_labels * sizeof *logits))))
        s = tl_set_error(TL_ERR_OOM, "out of memory");
    for (size_t j = 0; s == TL_OK && j < nc; j++) s = format_hypothesis(tpl, labels[j], &hyps[j]);
    for (size_t i = 0; s == TL_OK && i < n; i++)
        for (size_t j = 0; j < nc; j++) texts[i * nc + j] = items[i]->valuestring;
    const char **pairs = NULL;
    if (s == TL_OK && !(pairs = malloc(np * sizeof *pairs))) s = tl_set_error(TL_ERR_OOM, "out of memory");
    for (size_t k = 0; s == TL_OK && k < np; k++) pairs[k] = hyps[k % nc];
    if (s == TL_OK) s = tl_pl_seq_logits(p, (const char *const *)texts, pairs, np, max_len, logits);
    if (s == TL_OK && !single && !(res = cJSON_CreateArray())) s = tl_set_error(TL_ERR_OOM, "out of memory");
    for (size_t i = 0; s == TL_OK && i < n; i++) {
        cJSON *r = zs_result(p, items[i]->valuestring, labels, nc, logits + i * nc * p->n_labels, multi);
        if (!r) s = tl_set_error(TL_ERR_OOM, "out of memory");
        else if (single) res = r;
        else cJSON_AddItemToArray(res, r);
    }
    for (size_t j = 0; labels && j < nc; j++) free(labels[j]);
    for (size_t j = 0; hyps && j < nc; j++) free(hyps[j]);
    free(labels);
    free(hyps);
    free(texts);
    free(pairs);
    free(logits);
    free(items);
    if (s != TL_OK) { cJSON_Delete(res); res = NULL; }
    *out = res;
    return s;
}

const tl_task tl_task_zero_shot = {"zero-shot-classification", TL_HEAD_SEQ_CLS, zs_run, NULL,
                                   TL_MERGE_STRINGS, 0, NULL};

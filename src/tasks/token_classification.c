/* token_classification.c — the token-classification pipeline (TokenClassificationPipeline):
 * per-token softmax over the labels, then aggregation_strategy none / simple / first /
 * average / max, B-/I- grouping into entity groups, ignore_labels, with word / start / end
 * from the tokenizer's offsets exactly as transformers computes them. */
#include "core/error.h"
#include "tasks/pipeline.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

enum { AGG_NONE, AGG_SIMPLE, AGG_FIRST, AGG_AVERAGE, AGG_MAX };

/* A token before aggregation (transformers' pre_entity), or an aggregated word. */
typedef struct ent {
    char *word;           /* owned */
    const float *scores;  /* the token's label distribution (pre-entities) */
    size_t label;         /* argmax label (entities) */
    float score;
    long start, end, index;
    int is_subword;
} ent;

/* Parses aggregation_strategy (absent/null: none). */
static tl_status parse_agg(const cJSON *params, int *agg) {
    static const char *names[] = {"none", "simple", "first", "average", "max"};
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, "aggregation_strategy");
    *agg = AGG_NONE;
    if (!v || cJSON_IsNull(v)) return TL_OK;
    if (cJSON_IsString(v)) {
        char low[16] = {0};
        for (size_t i = 0; i < sizeof low - 1 && v->valuestring[i]; i++) low[i] = (char)tolower((unsigned char)v->valuestring[i]);
        for (int i = 0; i < 5; i++) if (!strcmp(low, names[i])) { *agg = i; return TL_OK; }
    }
    return tl_set_error(TL_ERR_INVALID_ARG, "aggregation_strategy must be \"none\", \"simple\", \"first\", \"average\" or \"max\"");
}

/* Returns 1 when label is listed in ignore_labels (default ["O"]). */
static int ignored(const cJSON *ign, const char *label) {
    if (!ign || cJSON_IsNull(ign)) return !strcmp(label, "O");
    const cJSON *e;
    cJSON_ArrayForEach(e, ign) if (cJSON_IsString(e) && !strcmp(e->valuestring, label)) return 1;
    return 0;
}

/* Validates the options. */
static tl_status tk_check(tl_pipeline *p, const cJSON *params) {
    (void)p;
    int agg;
    const cJSON *ign = cJSON_GetObjectItemCaseSensitive(params, "ignore_labels");
    if (ign && !cJSON_IsNull(ign) && !cJSON_IsArray(ign))
        return tl_set_error(TL_ERR_INVALID_ARG, "ignore_labels must be a list of label names");
    return parse_agg(params, &agg);
}

/* Index of the largest of n floats (the first on ties, as numpy argmax). */
static size_t argmax(const float *x, size_t n) {
    size_t b = 0;
    for (size_t i = 1; i < n; i++) if (x[i] > x[b]) b = i;
    return b;
}

/* Joins the words of e[0..n) as convert_tokens_to_string does; malloc'd. */
static char *join_words(const tl_pipeline *p, const ent *e, size_t n) {
    const char **w = malloc((n ? n : 1) * sizeof *w);
    if (!w) return NULL;
    for (size_t i = 0; i < n; i++) w[i] = e[i].word;
    char *s = tl_pl_tokens_to_string(p, w, n);
    free(w);
    return s;
}

/* transformers' aggregate_word: one word from its tokens e[0..n). */
static tl_status aggregate_word(const tl_pipeline *p, const ent *e, size_t n, int agg, ent *out) {
    size_t L = p->n_labels;
    memset(out, 0, sizeof *out);
    if (!(out->word = join_words(p, e, n))) return tl_set_error(TL_ERR_OOM, "out of memory");
    if (agg == AGG_FIRST) {
        out->label = argmax(e[0].scores, L);
        out->score = e[0].scores[out->label];
    } else if (agg == AGG_MAX) {
        size_t best = 0;
        for (size_t i = 1; i < n; i++)
            if (e[i].scores[argmax(e[i].scores, L)] > e[best].scores[argmax(e[best].scores, L)]) best = i;
        out->label = argmax(e[best].scores, L);
        out->score = e[best].scores[out->label];
    } else {
        float *avg = calloc(L, sizeof *avg);
        if (!avg) return tl_set_error(TL_ERR_OOM, "out of memory");
        for (size_t c = 0; c < L; c++) {
            double s = 0;
            for (size_t i = 0; i < n; i++) s += e[i].scores[c];
            avg[c] = (float)(s / (double)n);
        }
        out->label = argmax(avg, L);
        out->score = avg[out->label];
        free(avg);
    }
    out->start = e[0].start;
    out->end = e[n - 1].end;
    return TL_OK;
}

/* transformers' get_tag: ("B"|"I", tag) of a label name. */
static const char *get_tag(const char *label, int *is_b) {
    *is_b = !strncmp(label, "B-", 2);
    if (*is_b || !strncmp(label, "I-", 2)) return label + 2;
    return label;
}

/* Appends one entity_group made of entities e[0..n) to arr. */
static tl_status add_group(const tl_pipeline *p, const ent *e, size_t n, const cJSON *ign, cJSON *arr) {
    const char *lab = p->id2label[e[0].label], *dash = strchr(lab, '-');
    const char *group = dash ? dash + 1 : lab;
    if (ignored(ign, group)) return TL_OK;
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += e[i].score;
    char *word = join_words(p, e, n);
    cJSON *d = word ? cJSON_CreateObject() : NULL;
    if (!d) { free(word); return tl_set_error(TL_ERR_OOM, "out of memory"); }
    cJSON_AddStringToObject(d, "entity_group", group);
    tl_pl_add_num(d, "score", (float)(sum / (double)n));
    cJSON_AddStringToObject(d, "word", word);
    cJSON_AddNumberToObject(d, "start", (double)e[0].start);
    cJSON_AddNumberToObject(d, "end", (double)e[n - 1].end);
    cJSON_AddItemToArray(arr, d);
    free(word);
    return TL_OK;
}

/* transformers' group_entities over the (word- or token-level) entities. */
static tl_status group_entities(const tl_pipeline *p, const ent *e, size_t n, const cJSON *ign, cJSON *arr) {
    size_t start = 0;
    tl_status s = TL_OK;
    for (size_t i = 1; i <= n && s == TL_OK; i++) {
        int b, lb;
        if (i < n) {
            const char *tag = get_tag(p->id2label[e[i].label], &b), *last = get_tag(p->id2label[e[i - 1].label], &lb);
            if (!strcmp(tag, last) && !b) continue;
        }
        if (n) s = add_group(p, e + start, i - start, ign, arr);
        start = i;
    }
    return s;
}

/* Gathers the pre-entities of one encoded sentence; logits (len, L) become scores. */
static tl_status gather(const tl_pipeline *p, const char *text, const tl_encoding *enc, float *logits,
                        ent *pre, size_t *n_pre) {
    size_t n_cp, len = tl_encoding_length(enc), L = p->n_labels, k = 0;
    size_t *cp = tl_pl_cp_offsets(text, &n_cp);
    if (!cp) return tl_set_error(TL_ERR_OOM, "out of memory");
    const int32_t *ids = tl_encoding_ids(enc), *sp = tl_encoding_special_tokens_mask(enc), *off = tl_encoding_offsets(enc);
    tl_status s = TL_OK;
    for (size_t t = 0; t < len; t++) {
        if (sp[t]) continue;
        float *sc = logits + t * L;
        tl_pl_softmax(sc, L);
        ent *e = &pre[k++];
        memset(e, 0, sizeof *e);
        long a = off[2 * t], b = off[2 * t + 1];
        if (a < 0) a = 0;
        if (b > (long)n_cp) b = (long)n_cp;
        if (b < a) b = a;
        const char *tok = tl_encoding_token(enc, t);
        size_t tok_cp = 0;
        for (const char *q = tok; *q; q++) tok_cp += ((unsigned char)*q & 0xC0) != 0x80;
        if (p->word_aware) /* word-aware tokenizer: a piece shorter than its text is inside a word */
            e->is_subword = tok_cp != (size_t)(b - a);
        else /* transformers' fallback: no space just before or at the token's start */
            e->is_subword = a > 0 && !memchr(text + cp[a - 1], ' ', cp[a < (long)n_cp ? a + 1 : a] - cp[a - 1]);
        if (ids[t] == p->unk_id) {
            e->word = strndup(text + cp[a], cp[b] - cp[a]);
            e->is_subword = 0;
        } else {
            e->word = strdup(tok);
        }
        if (!e->word) { s = tl_set_error(TL_ERR_OOM, "out of memory"); break; }
        e->scores = sc;
        e->label = argmax(sc, L);
        e->score = sc[e->label];
        e->start = a;
        e->end = b;
        e->index = (long)t;
    }
    free(cp);
    *n_pre = k;
    return s;
}

/* The entities of one sentence, as a JSON list. */
static tl_status sentence_result(const tl_pipeline *p, const char *text, const tl_encoding *enc, float *logits,
                                 int agg, const cJSON *ign, cJSON **out) {
    size_t len = tl_encoding_length(enc), n_pre = 0, n_w = 0;
    ent *pre = calloc(len ? len : 1, sizeof *pre), *words = calloc(len ? len : 1, sizeof *words);
    cJSON *arr = cJSON_CreateArray();
    tl_status s = pre && words && arr ? TL_OK : tl_set_error(TL_ERR_OOM, "out of memory");
    if (s == TL_OK) s = gather(p, text, enc, logits, pre, &n_pre);
    if (s == TL_OK && agg == AGG_NONE) {
        for (size_t i = 0; i < n_pre; i++) {
            const ent *e = &pre[i];
            if (ignored(ign, p->id2label[e->label])) continue;
            cJSON *d = cJSON_CreateObject();
            if (!d) { s = tl_set_error(TL_ERR_OOM, "out of memory"); break; }
            cJSON_AddStringToObject(d, "entity", p->id2label[e->label]);
            tl_pl_add_num(d, "score", e->score);
            cJSON_AddNumberToObject(d, "index", (double)e->index);
            cJSON_AddStringToObject(d, "word", e->word);
            cJSON_AddNumberToObject(d, "start", (double)e->start);
            cJSON_AddNumberToObject(d, "end", (double)e->end);
            cJSON_AddItemToArray(arr, d);
        }
    } else if (s == TL_OK && agg == AGG_SIMPLE) {
        s = group_entities(p, pre, n_pre, ign, arr);
    } else if (s == TL_OK) {
        for (size_t i = 0; i < n_pre && s == TL_OK;) {
            size_t j = i + 1;
            while (j < n_pre && pre[j].is_subword) j++;
            s = aggregate_word(p, pre + i, j - i, agg, &words[n_w++]);
            i = j;
        }
        if (s == TL_OK) s = group_entities(p, words, n_w, ign, arr);
    }
    for (size_t i = 0; pre && i < n_pre; i++) free(pre[i].word);
    for (size_t i = 0; words && i < n_w; i++) free(words[i].word);
    free(pre);
    free(words);
    if (s != TL_OK) { cJSON_Delete(arr); arr = NULL; }
    *out = arr;
    return s;
}

/* Runs token-classification on a string or a list of strings. */
static tl_status tk_run(tl_pipeline *p, const cJSON *inputs, const cJSON *params, const cJSON *call, cJSON **out) {
    (void)call;
    int agg, single;
    size_t max_len, n = 0;
    const cJSON **items = NULL;
    const cJSON *ign = cJSON_GetObjectItemCaseSensitive(params, "ignore_labels");
    tl_encoding **encs = NULL;
    float *logits = NULL;
    tl_pl_out o = {0};
    cJSON *res = NULL;
    tl_status s = tk_check(p, params);
    if (s == TL_OK) s = parse_agg(params, &agg);
    if (s == TL_OK) s = tl_pl_truncation(p, params, 1, &max_len);
    if (s == TL_OK) s = tl_pl_items(inputs, &items, &n, &single);
    if (s == TL_OK && !single && n == 0) s = tl_set_error(TL_ERR_INVALID_ARG, "At least one input is required.");
    if (s == TL_OK && !(encs = calloc(n, sizeof *encs))) s = tl_set_error(TL_ERR_OOM, "out of memory");
    for (size_t i = 0; s == TL_OK && i < n; i++) {
        if (!cJSON_IsString(items[i])) s = tl_set_error(TL_ERR_INVALID_ARG, "input %zu: expected a string", i);
        else s = tl_pl_encode(p, items[i]->valuestring, NULL, max_len, i, &encs[i]);
    }
    if (s == TL_OK) s = tl_pl_forward(p, encs, n, &o);
    if (s == TL_OK && !(logits = malloc((o.total ? o.total : 1) * p->n_labels * sizeof *logits)))
        s = tl_set_error(TL_ERR_OOM, "out of memory");
    if (s == TL_OK) s = tl_head_apply(&p->head, p->m, o.hidden, NULL, o.total, logits);
    if (s == TL_OK && !single && !(res = cJSON_CreateArray())) s = tl_set_error(TL_ERR_OOM, "out of memory");
    for (size_t i = 0; s == TL_OK && i < n; i++) {
        cJSON *r = NULL;
        s = sentence_result(p, items[i]->valuestring, encs[i], logits + o.cu[i] * p->n_labels, agg, ign, &r);
        if (s == TL_OK && single) res = r;
        else if (s == TL_OK) cJSON_AddItemToArray(res, r);
    }
    for (size_t i = 0; encs && i < n; i++) tl_encoding_free(encs[i]);
    free(encs);
    free(items);
    free(logits);
    tl_pl_out_free(&o);
    if (s != TL_OK) { cJSON_Delete(res); res = NULL; }
    *out = res;
    return s;
}

const tl_task tl_task_token_classification = {"token-classification", TL_HEAD_TOKEN_CLS, tk_run, tk_check,
                                               TL_MERGE_STRINGS, 0, NULL};

/* question_answering.c — extractive question answering as transformers' (v4)
 * QuestionAnsweringPipeline with a fast tokenizer: the context is split into windows of
 * max_seq_len tokens overlapping by doc_stride (the tokenizer's only_second truncation with
 * stride and overflowing encodings, as transformers asks tokenizers), start/end logits are
 * masked to the context (and [CLS]), softmaxed, spans scored start*end up to
 * max_answer_len, aligned to words, cut from the context by character offsets, merged by
 * text, and the best top_k returned (plus the null answer with handle_impossible_answer). */
#include "core/error.h"
#include "tasks/pipeline.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* One window: an encoding of (question, part of the context). */
typedef struct qa_win {
    const tl_encoding *enc; /* the input's encoding or one of its overflowing ones (borrowed) */
    size_t item;            /* the input it belongs to */
} qa_win;

/* A candidate answer. */
typedef struct qa_ans {
    double score;
    long start, end;
    char *text;    /* owned */
} qa_ans;

typedef struct qa_params {
    long top_k, doc_stride, max_answer_len, max_seq_len;
    int impossible, align;
} qa_params;

/* Reads the QA parameters with transformers' defaults. */
static tl_status qa_read_params(const tl_pipeline *p, const cJSON *params, qa_params *q) {
    size_t cap = tl_model_max_positions(p->m);
    long def_seq = (long)(p->model_max_length && p->model_max_length < 384 ? p->model_max_length : 384);
    tl_status s;
    if ((s = tl_pl_int(params, "top_k", 1, 1, &q->top_k)) || (s = tl_pl_int(params, "max_answer_len", 15, 1, &q->max_answer_len)) ||
        (s = tl_pl_int(params, "max_seq_len", def_seq, 1, &q->max_seq_len)) ||
        (s = tl_pl_bool(params, "handle_impossible_answer", 0, &q->impossible)) ||
        (s = tl_pl_bool(params, "align_to_words", 1, &q->align)))
        return s;
    if ((size_t)q->max_seq_len > cap) q->max_seq_len = (long)cap;
    if ((s = tl_pl_int(params, "doc_stride", q->max_seq_len / 2 < 128 ? q->max_seq_len / 2 : 128, 0, &q->doc_stride))) return s;
    if (q->doc_stride > q->max_seq_len)
        return tl_set_error(TL_ERR_INVALID_ARG, "`doc_stride` (%ld) is larger than `max_seq_len` (%ld)", q->doc_stride, q->max_seq_len);
    return TL_OK;
}

/* Reads input i: {"question": ..., "context": ...} with both non-empty strings. */
static tl_status qa_item(const cJSON *it, size_t i, const char **q, const char **c) {
    if (!cJSON_IsObject(it))
        return tl_set_error(TL_ERR_INVALID_ARG, "input %zu: question-answering takes {\"question\": ..., \"context\": ...}", i);
    const cJSON *qv = cJSON_GetObjectItemCaseSensitive(it, "question"), *cv = cJSON_GetObjectItemCaseSensitive(it, "context");
    if (!cv || cJSON_IsNull(cv))
        return tl_set_error(TL_ERR_INVALID_ARG, "input %zu: a question needs a context: pass {\"question\": ..., \"context\": "
                            "\"the text holding the answer\"}", i);
    if (!qv || cJSON_IsNull(qv))
        return tl_set_error(TL_ERR_INVALID_ARG, "input %zu: missing \"question\"", i);
    if (!cJSON_IsString(qv) || !cJSON_IsString(cv))
        return tl_set_error(TL_ERR_INVALID_ARG, "input %zu: \"question\" and \"context\" must be strings", i);
    if (!qv->valuestring[0] || !cv->valuestring[0])
        return tl_set_error(TL_ERR_INVALID_ARG, "input %zu: `%s` cannot be empty", i, qv->valuestring[0] ? "context" : "question");
    *q = qv->valuestring;
    *c = cv->valuestring;
    return TL_OK;
}

/* Encodes input item as windows of max_seq_len tokens, the context cut with doc_stride
 * tokens of overlap (only_second truncation); appends them to wins. *enc owns them all. */
static tl_status make_windows(const tl_pipeline *p, const char *question, const char *context, const qa_params *q,
                              size_t item, tl_encoding **enc, qa_win **wins, size_t *n_wins, size_t *cap_wins) {
    tl_encode_params ep = tl_encode_default_params();
    ep.max_length = (size_t)q->max_seq_len;
    ep.truncation = TL_TRUNCATE_ONLY_SECOND;
    ep.stride = (size_t)q->doc_stride;
    tl_status s = tl_tokenizer_encode(p->m->tok, question, strlen(question), context, strlen(context), &ep, enc);
    if (s == TL_ERR_INVALID_ARG) /* the truncation cannot make room for the windows */
        return tl_error_prefix(s, "input %zu: the context does not fit windows of max_seq_len=%ld tokens with "
                               "doc_stride=%ld (lower doc_stride, raise max_seq_len or shorten the question)",
                               item, q->max_seq_len, q->doc_stride);
    if (s != TL_OK) return tl_error_prefix(s, "input %zu", item);
    size_t n_over = tl_encoding_n_overflowing(*enc);
    for (size_t j = 0; j <= n_over; j++) {
        if (*n_wins == *cap_wins) {
            size_t cap = *cap_wins ? *cap_wins * 2 : 8;
            qa_win *w = realloc(*wins, cap * sizeof *w);
            if (!w) return tl_set_error(TL_ERR_OOM, "out of memory");
            *wins = w;
            *cap_wins = cap;
        }
        (*wins)[(*n_wins)++] = (qa_win){j ? tl_encoding_overflowing(*enc, j - 1) : *enc, item};
    }
    return TL_OK;
}

/* Lower-cases UTF-8 s code point by code point (utf8proc); malloc'd, NULL on OOM. */
static char *lower(const char *s) {
    size_t len = strlen(s);
    utf8proc_uint8_t *out = malloc(4 * len + 1), *w = out;
    const utf8proc_uint8_t *r = (const utf8proc_uint8_t *)s;
    if (!out) return NULL;
    while (*r) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(r, -1, &c);
        if (k <= 0) break;
        r += k;
        w += utf8proc_encode_char(utf8proc_tolower(c), w);
    }
    *w = 0;
    return (char *)out;
}

/* Adds (score, span, text) to the answers, merging with an answer of the same text
 * (case-insensitive) as transformers' get_answer does. Takes ownership of text. */
static tl_status add_answer(qa_ans **v, size_t *n, size_t *cap, double score, long s, long e, char *text) {
    char *lt = lower(text);
    if (!lt) { free(text); return tl_set_error(TL_ERR_OOM, "out of memory"); }
    for (size_t i = 0; i < *n; i++) {
        char *li = lower((*v)[i].text);
        int same = li && !strcmp(li, lt);
        free(li);
        if (same) { (*v)[i].score += score; free(lt); free(text); return TL_OK; }
    }
    free(lt);
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 8;
        qa_ans *nv = realloc(*v, c * sizeof *nv);
        if (!nv) { free(text); return tl_set_error(TL_ERR_OOM, "out of memory"); }
        *v = nv;
        *cap = c;
    }
    (*v)[(*n)++] = (qa_ans){score, s, e, text};
    return TL_OK;
}

/* transformers' get_indices: the character span in the context of window tokens s..e. */
static void span_chars(const tl_encoding *w, size_t s, size_t e, int align, long *cs, long *ce) {
    const int32_t *off = tl_encoding_offsets(w), *wid = tl_encoding_word_ids(w), *seq = tl_encoding_sequence_ids(w);
    *cs = off[2 * s];
    *ce = off[2 * e + 1];
    if (!align || wid[s] < 0 || wid[e] < 0) return;
    long a = -1, b = -1;
    for (size_t t = 0; t < tl_encoding_length(w); t++) { /* word_to_chars over the context tokens */
        if (seq[t] != 1) continue;
        if (wid[t] == wid[s] && a < 0) a = off[2 * t];
        if (wid[t] == wid[e]) b = off[2 * t + 1];
    }
    if (a >= 0 && b >= 0) { *cs = a; *ce = b; }
}

/* Scores the spans of one window and adds its best candidates to the answers. */
static tl_status window_answers(const tl_pipeline *p, const tl_encoding *w, const float *logits, const char *context,
                                const size_t *cp, size_t n_cp, const qa_params *q, double *min_null, qa_ans **ans, size_t *n_ans, size_t *cap_ans) {
    size_t n = tl_encoding_length(w), k = (size_t)(q->align ? q->top_k * 2 + 10 : q->top_k);
    float *st = malloc(2 * n * sizeof *st);
    size_t *bs = malloc(k * sizeof *bs), *be = malloc(k * sizeof *be);
    float *bv = malloc(k * sizeof *bv);
    unsigned char *ok = malloc(n);
    tl_status s = st && bs && be && bv && ok ? TL_OK : tl_set_error(TL_ERR_OOM, "out of memory");
    if (s != TL_OK) goto done;
    float *en = st + n;
    const int32_t *ids = tl_encoding_ids(w), *seq = tl_encoding_sequence_ids(w);
    int32_t cls = tl_tokenizer_token_to_id(p->m->tok, "[CLS]");
    if (cls < 0) cls = tl_tokenizer_token_to_id(p->m->tok, "<s>");
    for (size_t i = 0; i < n; i++) {
        ok[i] = seq[i] == 1 || (cls >= 0 && ids[i] == cls);
        st[i] = ok[i] ? logits[2 * i] : -10000.0f;
        en[i] = ok[i] ? logits[2 * i + 1] : -10000.0f;
    }
    tl_pl_softmax(st, n);
    tl_pl_softmax(en, n);
    if (q->impossible && (double)(st[0] * en[0]) < *min_null) *min_null = (double)(st[0] * en[0]);
    st[0] = en[0] = 0.0f;
    /* The k best cells of the (start, end) score matrix, upper band of width max_answer_len
     * (other cells score 0), ties by position; then keep spans inside the allowed tokens. */
    size_t nb = 0;
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b < n; b++) {
            float v = b >= a && b - a < (size_t)q->max_answer_len ? st[a] * en[b] : 0.0f;
            if (nb == k && !(v > bv[k - 1])) continue;
            size_t j = nb < k ? nb++ : k - 1;
            while (j > 0 && v > bv[j - 1]) { bv[j] = bv[j - 1]; bs[j] = bs[j - 1]; be[j] = be[j - 1]; j--; }
            bv[j] = v; bs[j] = a; be[j] = b;
        }
    for (size_t i = 0; i < nb && s == TL_OK; i++) {
        if (!ok[bs[i]] || !ok[be[i]]) continue;
        long cs, ce;
        span_chars(w, bs[i], be[i], q->align, &cs, &ce);
        if (cs < 0) cs = 0;
        if (ce > (long)n_cp) ce = (long)n_cp;
        char *text = ce > cs ? strndup(context + cp[cs], cp[ce] - cp[cs]) : strdup("");
        if (!text) { s = tl_set_error(TL_ERR_OOM, "out of memory"); break; }
        s = add_answer(ans, n_ans, cap_ans, (double)bv[i], cs, ce, text);
    }
done:
    free(st); free(bs); free(be); free(bv); free(ok);
    return s;
}

/* The result of one input: the best top_k answers (a dict when one). */
static cJSON *qa_result(qa_ans *a, size_t n, const qa_params *q, double min_null) {
    if (q->impossible) {
        qa_ans *g = realloc(a, (n + 1) * sizeof *a);
        if (!g) { for (size_t i = 0; i < n; i++) free(a[i].text); free(a); return NULL; }
        a = g;
        a[n++] = (qa_ans){min_null, 0, 0, NULL};
    }
    for (size_t i = 1; i < n; i++) /* stable, descending */
        for (size_t j = i; j > 0 && a[j].score > a[j - 1].score; j--) { qa_ans t = a[j]; a[j] = a[j - 1]; a[j - 1] = t; }
    size_t k = (size_t)q->top_k < n ? (size_t)q->top_k : n;
    cJSON *list = cJSON_CreateArray();
    for (size_t i = 0; list && i < k; i++) {
        cJSON *d = cJSON_CreateObject();
        tl_pl_add_num(d, "score", a[i].score);
        cJSON_AddNumberToObject(d, "start", (double)a[i].start);
        cJSON_AddNumberToObject(d, "end", (double)a[i].end);
        cJSON_AddStringToObject(d, "answer", a[i].text ? a[i].text : "");
        cJSON_AddItemToArray(list, d);
    }
    for (size_t i = 0; a && i < n; i++) free(a[i].text);
    free(a);
    if (list && k == 1) {
        cJSON *one = cJSON_DetachItemFromArray(list, 0);
        cJSON_Delete(list);
        return one;
    }
    return list;
}

/* Runs question-answering on {"question", "context"} or a list of them. */
static tl_status qa_run(tl_pipeline *p, const cJSON *inputs, const cJSON *params, const cJSON *call, cJSON **out) {
    (void)call;
    qa_params q;
    size_t n = 0, n_wins = 0, cap_wins = 0;
    int single;
    const cJSON **items = NULL;
    const char **qs = NULL, **cs = NULL;
    tl_encoding **encs = NULL, **wenc = NULL;
    qa_win *wins = NULL;
    tl_pl_out o = {0};
    float *logits = NULL;
    cJSON *res = NULL;
    tl_status s = qa_read_params(p, params, &q);
    if (s == TL_OK) s = tl_pl_items(inputs, &items, &n, &single);
    if (s == TL_OK && (!(qs = calloc(n + 1, sizeof *qs)) || !(cs = calloc(n + 1, sizeof *cs)) ||
                       !(encs = calloc(n + 1, sizeof *encs))))
        s = tl_set_error(TL_ERR_OOM, "out of memory");
    for (size_t i = 0; s == TL_OK && i < n; i++) {
        if ((s = qa_item(items[i], i, &qs[i], &cs[i]))) break;
        s = make_windows(p, qs[i], cs[i], &q, i, &encs[i], &wins, &n_wins, &cap_wins);
    }
    /* Every window of every input in one packed batch (the encodings are only read). */
    if (s == TL_OK && !(wenc = malloc((n_wins + 1) * sizeof *wenc))) s = tl_set_error(TL_ERR_OOM, "out of memory");
    for (size_t w = 0; s == TL_OK && w < n_wins; w++) wenc[w] = (tl_encoding *)wins[w].enc;
    if (s == TL_OK) s = tl_pl_forward(p, wenc, n_wins, &o);
    if (s == TL_OK && !(logits = malloc((o.total + 1) * 2 * sizeof *logits))) s = tl_set_error(TL_ERR_OOM, "out of memory");
    if (s == TL_OK) s = tl_head_apply(&p->head, p->m, o.hidden, NULL, o.total, logits); // (total, 2)
    if (s == TL_OK && !single && !(res = cJSON_CreateArray())) s = tl_set_error(TL_ERR_OOM, "out of memory");
    for (size_t i = 0, w = 0; s == TL_OK && i < n; i++) {
        qa_ans *ans = NULL;
        size_t n_ans = 0, cap_ans = 0, n_cp;
        double min_null = 1000000.0;
        size_t *cp = tl_pl_cp_offsets(cs[i], &n_cp);
        if (!cp) s = tl_set_error(TL_ERR_OOM, "out of memory");
        for (; s == TL_OK && w < n_wins && wins[w].item == i; w++)
            s = window_answers(p, wins[w].enc, logits + 2 * o.cu[w], cs[i], cp, n_cp, &q, &min_null, &ans, &n_ans,
                               &cap_ans);
        free(cp);
        if (s != TL_OK) {
            for (size_t j = 0; j < n_ans; j++) free(ans[j].text);
            free(ans);
            break;
        }
        cJSON *r = qa_result(ans, n_ans, &q, min_null);
        if (!r) s = tl_set_error(TL_ERR_OOM, "out of memory");
        else if (single) res = r;
        else cJSON_AddItemToArray(res, r);
    }
    for (size_t i = 0; encs && i < n; i++) tl_encoding_free(encs[i]);
    free(encs); free(wenc); free(wins); free(qs); free(cs); free(items); free(logits);
    tl_pl_out_free(&o);
    if (s != TL_OK) { cJSON_Delete(res); res = NULL; }
    *out = res;
    return s;
}

const tl_task tl_task_question_answering = {"question-answering", TL_HEAD_QA, qa_run, NULL, TL_MERGE_QA, 0, NULL};

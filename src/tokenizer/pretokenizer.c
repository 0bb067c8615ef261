/* pretokenizer.c — pre-tokenizers: BertPreTokenizer, Whitespace, WhitespaceSplit and
 * Sequence. They cut a normalized string into words; the spans index that string. */
#include "tokenizer/tok_internal.h"
#include "tokenizer/unicode.h"
#include "core/error.h"
#include "io/json.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 16

static tl_status oom(void) { return tl_set_error(TL_ERR_OOM, "pre-tokenizer: out of memory"); }

/* Splits [from, to) on whitespace (removed) and isolates each punctuation char. */
static tl_status split_bert(const tl_nstr *s, size_t from, size_t to, int punct, tl_spans *out) {
    size_t start = from;
    for (size_t i = from; i < to; i++) {
        uint32_t c = s->cp[i];
        if (tl_uc_is_whitespace(c)) {
            if (i > start && tl_spans_push(out, start, i)) return oom();
            start = i + 1;
        } else if (punct && tl_uc_is_bert_punct(c)) {
            if (i > start && tl_spans_push(out, start, i)) return oom();
            if (tl_spans_push(out, i, i + 1)) return oom();
            start = i + 1;
        }
    }
    if (to > start && tl_spans_push(out, start, to)) return oom();
    return TL_OK;
}

/* Whitespace: the regex \w+|[^\w\s]+ — runs of word chars and runs of other non-space chars. */
static tl_status split_whitespace_regex(const tl_nstr *s, size_t from, size_t to, tl_spans *out) {
    size_t i = from;
    while (i < to) {
        uint32_t c = s->cp[i];
        if (tl_uc_is_whitespace(c)) { i++; continue; }
        int w = tl_uc_is_word(c);
        size_t j = i + 1;
        while (j < to && !tl_uc_is_whitespace(s->cp[j]) && tl_uc_is_word(s->cp[j]) == w) j++;
        if (tl_spans_push(out, i, j)) return oom();
        i = j;
    }
    return TL_OK;
}

tl_status tl_pretok_split(const tl_pretok *p, const tl_nstr *s, size_t from, size_t to, tl_spans *out) {
    switch (p->kind) {
    case TL_PRE_NONE:
        if (to > from && tl_spans_push(out, from, to)) return oom();
        return TL_OK;
    case TL_PRE_BERT: return split_bert(s, from, to, 1, out);
    case TL_PRE_WHITESPACE_SPLIT: return split_bert(s, from, to, 0, out);
    case TL_PRE_WHITESPACE: return split_whitespace_regex(s, from, to, out);
    case TL_PRE_SEQUENCE: {
        tl_spans cur = {0}, next = {0};
        tl_status st = TL_OK;
        if (to > from && tl_spans_push(&cur, from, to)) return oom();
        for (size_t k = 0; k < p->n_children && st == TL_OK; k++) {
            next.len = 0;
            for (size_t i = 0; i < cur.len && st == TL_OK; i++)
                st = tl_pretok_split(&p->children[k], s, cur.v[i].s, cur.v[i].e, &next);
            tl_spans tmp = cur; cur = next; next = tmp;
        }
        for (size_t i = 0; i < cur.len && st == TL_OK; i++)
            if (tl_spans_push(out, cur.v[i].s, cur.v[i].e)) st = oom();
        free(cur.v);
        free(next.v);
        return st;
    }
    }
    return TL_OK;
}

tl_status tl_pretok_parse(const cJSON *j, const char *path, int depth, tl_pretok *out) {
    memset(out, 0, sizeof *out);
    if (!j || cJSON_IsNull(j)) return TL_OK;
    if (depth > MAX_DEPTH) return tl_set_error(TL_ERR_FORMAT, "%s: pre_tokenizer: nesting too deep", path);
    const char *type = tl_json_str(j, "type");
    if (!type) return tl_set_error(TL_ERR_FORMAT, "%s: pre_tokenizer: missing \"type\"", path);
    if (!strcmp(type, "BertPreTokenizer")) out->kind = TL_PRE_BERT;
    else if (!strcmp(type, "Whitespace")) out->kind = TL_PRE_WHITESPACE;
    else if (!strcmp(type, "WhitespaceSplit")) out->kind = TL_PRE_WHITESPACE_SPLIT;
    else if (!strcmp(type, "Sequence")) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "pretokenizers");
        if (!cJSON_IsArray(arr)) return tl_set_error(TL_ERR_FORMAT, "%s: pre_tokenizer Sequence: \"pretokenizers\" is not an array", path);
        int n = cJSON_GetArraySize(arr);
        out->kind = TL_PRE_SEQUENCE;
        out->children = calloc(n > 0 ? (size_t)n : 1, sizeof *out->children);
        if (!out->children) return oom();
        const cJSON *it;
        cJSON_ArrayForEach(it, arr) {
            tl_status s = tl_pretok_parse(it, path, depth + 1, &out->children[out->n_children]);
            out->n_children++;
            if (s != TL_OK) { tl_pretok_free(out); return s; }
        }
    } else {
        return tl_set_error(TL_ERR_UNSUPPORTED, "%s: pre_tokenizer type \"%s\" is not supported", path, type);
    }
    return TL_OK;
}

void tl_pretok_free(tl_pretok *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n_children; i++) tl_pretok_free(&p->children[i]);
    free(p->children);
    memset(p, 0, sizeof *p);
}

/* added.c — added tokens (tokenizer.json "added_tokens"): split out of the text before
 * (normalized = false) or after (normalized = true) normalization, leftmost-longest,
 * with single_word / lstrip / rstrip as tokenizers' AddedVocabulary does. */
#include "tokenizer/tok_added.h"
#include "tokenizer/tok_normalizer.h"
#include "tokenizer/tok_text.h"
#include "tokenizer/unicode.h"
#include "core/error.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

tl_status tl_added_push(tl_added *a, const char *content, int32_t id, int special, int lstrip,
                        int rstrip, int single_word, int normalized, const tl_normalizer *norm) {
    if (a->len == a->cap) {
        size_t c = a->cap ? a->cap * 2 : 8;
        if (c < a->cap || c > SIZE_MAX / sizeof *a->v) return tl_set_error(TL_ERR_OOM, "added tokens: too many");
        tl_added_token *v = realloc(a->v, c * sizeof *v);
        if (!v) return tl_set_error(TL_ERR_OOM, "added tokens: out of memory");
        a->v = v;
        a->cap = c;
    }
    tl_added_token *t = &a->v[a->len];
    memset(t, 0, sizeof *t);
    t->id = id; t->special = special; t->lstrip = lstrip; t->rstrip = rstrip;
    t->single_word = single_word; t->normalized = normalized;
    t->content = tl_strdup(content);
    if (!t->content) return tl_set_error(TL_ERR_OOM, "added tokens: out of memory");
    tl_status s = tl_utf8_decode(content, strlen(content), "added token", &t->cps, &t->n_cps);
    if (s != TL_OK) { free(t->content); return s; }
    if (normalized && norm) {
        tl_nstr ns = {0};
        if (tl_nstr_reserve(&ns, t->n_cps + 1)) { free(t->content); free(t->cps); return tl_set_error(TL_ERR_OOM, "added tokens: out of memory"); }
        for (size_t i = 0; i < t->n_cps; i++) tl_nstr_push(&ns, t->cps[i], (int32_t)i, (int32_t)i + 1);
        ns.limit = TL_DEFAULT_NORMALIZE_GROWTH * t->n_cps + 4096; /* as encoding's default */
        s = tl_normalizer_apply(norm, &ns);
        if (s != TL_OK) { tl_nstr_free(&ns); free(t->content); free(t->cps); return s; }
        t->ncps = ns.cp; /* take ownership of the code points */
        t->n_ncps = ns.len;
        free(ns.os);
        free(ns.oe);
    }
    a->len++;
    return TL_OK;
}

void tl_added_free(tl_added *a) {
    for (size_t i = 0; i < a->len; i++) {
        free(a->v[i].content);
        free(a->v[i].cps);
        free(a->v[i].ncps);
    }
    free(a->v);
    memset(a, 0, sizeof *a);
}

int32_t tl_added_find(const tl_added *a, const char *content) {
    for (size_t i = 0; i < a->len; i++)
        if (!strcmp(a->v[i].content, content)) return a->v[i].id;
    return -1;
}

/* Appends a piece; 0 or -1. */
static int piece_push(tl_pieces *p, size_t s, size_t e, int32_t tok) {
    if (p->len == p->cap) {
        size_t c = p->cap ? p->cap * 2 : 16;
        if (c < p->cap || c > SIZE_MAX / sizeof *p->v) return -1;
        tl_piece *v = realloc(p->v, c * sizeof *v);
        if (!v) return -1;
        p->v = v;
        p->cap = c;
    }
    p->v[p->len].s = s; p->v[p->len].e = e; p->v[p->len].tok = tok;
    p->len++;
    return 0;
}

/* The pattern of token t for this pass (NULL when it does not take part). */
static const uint32_t *pattern(const tl_added_token *t, int normalized_pass, size_t *n) {
    if (!!t->normalized != !!normalized_pass) return NULL;
    if (normalized_pass && t->ncps) { *n = t->n_ncps; return t->ncps; }
    *n = t->n_cps;
    return t->cps;
}

tl_status tl_added_split(const tl_added *a, int normalized_pass, const uint32_t *cps, size_t n,
                         tl_pieces *out) {
    out->len = 0;
    size_t start_offset = 0, pos = 0;
    while (pos < n && a->len) {
        /* leftmost-longest match at or after pos */
        long best = -1;
        size_t best_len = 0, at = pos;
        for (; at < n && best < 0; at++) {
            for (size_t k = 0; k < a->len; k++) {
                size_t m;
                const uint32_t *p = pattern(&a->v[k], normalized_pass, &m);
                if (!p || m == 0 || m > n - at || m <= best_len) continue;
                if (!memcmp(p, cps + at, m * sizeof *p)) { best = (long)k; best_len = m; }
            }
            if (best >= 0) break;
        }
        if (best < 0) break;
        size_t start = at, stop = at + best_len;
        pos = stop;
        const tl_added_token *t = &a->v[best];
        if (t->single_word) {
            int start_space = start == 0 || !tl_uc_is_word(cps[start - 1]);
            int stop_space = stop == n || !tl_uc_is_word(cps[stop]);
            if (!start_space || !stop_space) continue;
        }
        if (t->lstrip) {
            size_t ns = start;
            while (ns > 0 && tl_uc_is_whitespace(cps[ns - 1])) ns--;
            start = ns > start_offset ? ns : start_offset;
        }
        if (t->rstrip)
            while (stop < n && tl_uc_is_whitespace(cps[stop])) stop++;
        if (start < start_offset) start = start_offset; /* never overlap the previous piece */
        if (start_offset < start && piece_push(out, start_offset, start, -1)) goto oom;
        if (piece_push(out, start, stop, (int32_t)best)) goto oom;
        start_offset = stop;
        if (pos < stop) pos = stop;
    }
    if (start_offset < n && piece_push(out, start_offset, n, -1)) goto oom;
    return TL_OK;
oom:
    return tl_set_error(TL_ERR_OOM, "added tokens: out of memory");
}

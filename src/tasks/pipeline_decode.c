/* pipeline_decode.c — ids / tokens back to text as Hugging Face tokenizers' WordPiece
 * decoder does (prefix stripping, per-token cleanup), plus transformers'
 * clean_up_tokenization_spaces. Used by fill-mask and token-classification outputs. */
#include "tasks/pipeline.h"
#include "tokenizer/tok_internal.h"

#include <stdlib.h>
#include <string.h>

/* A growable string. */
typedef struct { char *s; size_t len, cap; int oom; } sbuf;

/* Appends n bytes of t. */
static void sb_put(sbuf *b, const char *t, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *s = realloc(b->s, cap);
        if (!s) { b->oom = 1; return; }
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->len, t, n);
    b->len += n;
    b->s[b->len] = '\0';
}

/* Replaces every occurrence of from by to in s (in place; to is never longer). */
static void replace_all(char *s, const char *from, const char *to) {
    size_t fl = strlen(from), tl = strlen(to);
    char *r = s, *w = s;
    while (*r) {
        if (!strncmp(r, from, fl)) { memmove(w, to, tl); w += tl; r += fl; }
        else *w++ = *r++;
    }
    *w = '\0';
}

/* tokenizers' WordPiece decoder cleanup, applied to one token (with its leading space). */
static void wordpiece_cleanup(char *s) {
    static const char *pairs[][2] = {
        {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
        {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        if (strlen(pairs[i][1]) <= strlen(pairs[i][0])) replace_all(s, pairs[i][0], pairs[i][1]);
}

/* transformers' clean_up_tokenization on the whole decoded string. */
static void clean_up_tokenization(char *s) {
    static const char *pairs[][2] = {
        {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
        {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) replace_all(s, pairs[i][0], pairs[i][1]);
}

char *tl_pl_tokens_to_string(const tl_pipeline *p, const char *const *toks, size_t n) {
    sbuf b = {0};
    sb_put(&b, "", 0);
    size_t pl = strlen(p->subword_prefix);
    char *one = NULL;
    for (size_t i = 0; i < n && !b.oom; i++) {
        const char *t = toks[i];
        size_t tlen = strlen(t);
        free(one);
        one = malloc(tlen + 2);
        if (!one) { b.oom = 1; break; }
        if (i != 0 && pl && !strncmp(t, p->subword_prefix, pl)) memcpy(one, t + pl, tlen - pl + 1);
        else if (i != 0) { one[0] = ' '; memcpy(one + 1, t, tlen + 1); }
        else memcpy(one, t, tlen + 1);
        if (p->decoder_cleanup) wordpiece_cleanup(one);
        sb_put(&b, one, strlen(one));
    }
    free(one);
    if (b.oom) { free(b.s); return NULL; }
    return b.s;
}

/* Returns 1 when id is an added token marked special. */
static int is_special(const tl_tokenizer *tok, int32_t id) {
    for (size_t i = 0; i < tok->added.len; i++)
        if (tok->added.v[i].id == id) return tok->added.v[i].special;
    return 0;
}

char *tl_pl_decode(const tl_pipeline *p, const int32_t *ids, size_t n, int skip_special) {
    const tl_tokenizer *tok = p->m->tok;
    const char **toks = malloc((n ? n : 1) * sizeof *toks);
    if (!toks) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *t = tl_tokenizer_id_to_token(tok, ids[i]);
        if (!t || (skip_special && is_special(tok, ids[i]))) continue;
        toks[k++] = t;
    }
    char *s = tl_pl_tokens_to_string(p, toks, k);
    free(toks);
    if (s && p->clean_up_spaces) clean_up_tokenization(s);
    return s;
}

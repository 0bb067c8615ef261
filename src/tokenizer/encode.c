/* encode.c — tl_tokenizer_encode: added tokens -> normalizer -> pre-tokenizer -> model
 * (WordPiece, BPE) per sequence, then truncation and the post-processor. */
#include "tokenizer/tok_internal.h"
#include "core/error.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

tl_encode_params tl_encode_default_params(void) {
    tl_encode_params p = {1, 0};
    return p;
}

/* Scratch buffers reused across the words of one sequence. */
typedef struct {
    tl_nstr ns;
    tl_pieces pieces, npieces;
    tl_ptbuf pt;
    tl_mtoks mt;
    tl_mscratch ms;
    char *buf;
    size_t buf_cap;
} scratch;

static void scratch_free(scratch *w) {
    tl_nstr_free(&w->ns);
    tl_ptbuf_free(&w->pt);
    tl_mscratch_free(&w->ms);
    free(w->pieces.v); free(w->npieces.v); free(w->mt.v); free(w->buf);
}

/* Appends an added-token piece: its token string is the matched text itself, including
 * any whitespace taken by lstrip/rstrip, as tokenizers reports it. */
static tl_status push_added(scratch *w, const tl_added_token *at, const uint32_t *cps, size_t n,
                            int32_t type_id, int32_t os, int32_t oe, int32_t word, tl_encoding *enc) {
    size_t need;
    if (tl_mul_overflow(n, 4, &need) || tl_add_overflow(need, 1, &need))
        return tl_set_error(TL_ERR_OOM, "encode: out of memory");
    if (need > w->buf_cap) {
        char *b = realloc(w->buf, need);
        if (!b) return tl_set_error(TL_ERR_OOM, "encode: out of memory");
        w->buf = b;
        w->buf_cap = need;
    }
    size_t len = 0;
    for (size_t i = 0; i < n; i++) len += tl_utf8_put(cps[i], w->buf + len);
    return tl_enc_push(enc, at->id, w->buf, len, type_id, 0, os, oe, word);
}

/* Appends the model tokens of word pt.buf[s, e) (word index word) to enc. */
static tl_status encode_word(const tl_tokenizer *t, scratch *w, size_t s, size_t e, int32_t word,
                             int32_t type_id, tl_encoding *enc) {
    const uint32_t *cps = w->pt.buf.cp + s;
    tl_status st;
    switch (t->model) {
    case TL_MODEL_BPE: st = tl_bpe_tokenize(&t->bpe, cps, e - s, &w->ms, &w->mt); break;
    case TL_MODEL_UNIGRAM: st = tl_unigram_tokenize(&t->uni, cps, e - s, &w->ms, &w->mt); break;
    default: st = tl_wordpiece_tokenize(&t->wp, cps, e - s, &w->mt); break;
    }
    const tl_vocab *v = tl_tok_vocab(t);
    const int32_t *os = w->pt.buf.os + s, *oe = w->pt.buf.oe + s;
    for (size_t k = 0; k < w->mt.len && st == TL_OK; k++) {
        const tl_mtok *m = &w->mt.v[k];
        int32_t a = os[m->s], b = m->e > m->s ? oe[m->e - 1] : a;
        if (m->raw) { /* the piece's own text */
            const char *u8 = w->ms.buf + w->ms.boff[m->s];
            st = tl_enc_push(enc, m->id, u8, w->ms.boff[m->e] - w->ms.boff[m->s], type_id, 0, a, b, word);
            continue;
        }
        const char *tok = (size_t)m->id < v->n_ids && v->id_to_tok[m->id] ? v->id_to_tok[m->id] : "";
        st = tl_enc_push(enc, m->id, tok, strlen(tok), type_id, 0, a, b, word);
    }
    return st;
}

/* Normalizes the plain text cps[a, b), splits it on normalized added tokens, then
 * pre-tokenizes and tokenizes each part. *word counts splits as tokenizers does. */
static tl_status encode_plain(const tl_tokenizer *t, scratch *w, const uint32_t *cps, size_t a,
                              size_t b, int32_t *word, int32_t type_id, tl_encoding *enc) {
    w->ns.len = 0;
    if (tl_nstr_reserve(&w->ns, b - a + 1)) return tl_set_error(TL_ERR_OOM, "encode: out of memory");
    for (size_t i = a; i < b; i++) tl_nstr_push(&w->ns, cps[i], (int32_t)i, (int32_t)i + 1);
    tl_status st = tl_normalizer_apply(&t->norm, &w->ns);
    if (st == TL_OK) st = tl_added_split(&t->added, 1, w->ns.cp, w->ns.len, &w->npieces);
    for (size_t p = 0; p < w->npieces.len && st == TL_OK; p++) {
        const tl_piece *pc = &w->npieces.v[p];
        if (pc->tok >= 0) {
            const tl_added_token *at = &t->added.v[pc->tok];
            st = push_added(w, at, w->ns.cp + pc->s, pc->e - pc->s, type_id, w->ns.os[pc->s],
                            w->ns.oe[pc->e - 1], (*word)++, enc);
            continue;
        }
        st = tl_pretok_run(&t->pre, &w->ns, pc->s, pc->e, &w->pt);
        for (size_t k = 0; k < w->pt.words.len && st == TL_OK; k++)
            st = encode_word(t, w, w->pt.words.v[k].s, w->pt.words.v[k].e, (*word)++, type_id, enc);
    }
    return st;
}

/* Encodes one sequence (no specials) into enc. */
static tl_status encode_seq(const tl_tokenizer *t, const char *text, size_t len, const char *what,
                            int32_t type_id, tl_encoding *enc) {
    if (!text && len) return tl_set_error(TL_ERR_INVALID_ARG, "%s: NULL with length %zu", what, len);
    uint32_t *cps = NULL;
    size_t n = 0;
    tl_status st = tl_utf8_decode(text ? text : "", len, what, &cps, &n);
    if (st != TL_OK) return st;
    scratch w = {0};
    int32_t word = 0;
    st = tl_added_split(&t->added, 0, cps, n, &w.pieces);
    for (size_t p = 0; p < w.pieces.len && st == TL_OK; p++) {
        const tl_piece *pc = &w.pieces.v[p];
        if (pc->tok >= 0) {
            const tl_added_token *at = &t->added.v[pc->tok];
            st = push_added(&w, at, cps + pc->s, pc->e - pc->s, type_id, (int32_t)pc->s,
                            (int32_t)pc->e, word++, enc);
        } else {
            st = encode_plain(t, &w, cps, pc->s, pc->e, &word, type_id, enc);
        }
    }
    scratch_free(&w);
    free(cps);
    return st;
}

tl_status tl_tokenizer_encode(const tl_tokenizer *tok, const char *text, size_t text_len,
                              const char *pair, size_t pair_len,
                              const tl_encode_params *params, tl_encoding **out) {
    if (!out) return tl_set_error(TL_ERR_INVALID_ARG, "tl_tokenizer_encode: out is NULL");
    *out = NULL;
    if (!tok) return tl_set_error(TL_ERR_INVALID_ARG, "tl_tokenizer_encode: tokenizer is NULL");
    tl_encode_params p = params ? *params : tl_encode_default_params();
    tl_encoding a, b, *res = calloc(1, sizeof *res);
    if (!res) return tl_set_error(TL_ERR_OOM, "encode: out of memory");
    tl_status st = tl_enc_init(&a);
    if (st == TL_OK) st = tl_enc_init(&b);
    if (st == TL_OK) st = tl_enc_init(res);
    if (st == TL_OK) st = encode_seq(tok, text, text_len, "text", 0, &a);
    if (st == TL_OK && pair) st = encode_seq(tok, pair, pair_len, "pair", 1, &b);
    if (st == TL_OK && p.max_length > 0) {
        /* tokenizers subtracts the specials in unsigned arithmetic: when max_length is
         * below their count the result wraps and nothing is truncated; we do the same */
        size_t added = p.add_special_tokens ? tl_postproc_added(&tok->post, pair != NULL) : 0;
        if (p.max_length >= added)
            tl_truncate_longest_first(&a, pair ? &b : NULL, p.max_length - added);
    }
    if (st == TL_OK && tok->post.trim_before) {
        tl_trim_offsets(&a, 0, a.len, tok->post.aps_before);
        if (pair) tl_trim_offsets(&b, 0, b.len, tok->post.aps_before);
    }
    if (st == TL_OK) st = tl_postproc_apply(&tok->post, &a, pair ? &b : NULL, p.add_special_tokens, res);
    if (st == TL_OK && tok->post.trim_after) tl_trim_offsets(res, 0, res->len, tok->post.aps_after);
    tl_enc_clear(&a);
    tl_enc_clear(&b);
    if (st != TL_OK) { tl_encoding_free(res); return st; }
    *out = res;
    return TL_OK;
}

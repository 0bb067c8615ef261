/* encode.c — tl_tokenizer_encode(_batch): added tokens -> normalizer -> pre-tokenizer ->
 * model (WordPiece, BPE, Unigram) per sequence (stopping early when truncation drops the
 * rest), then truncation (overflowing windows, unless dropped),
 * the post-processor (overflow.c combines the windows) and padding. */
#include "tokenizer/tok_tokenizer.h"
#include "core/error.h"
#include "core/util.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tl_encode_params tl_encode_default_params(void) {
    tl_encode_params p = {.add_special_tokens = 1};
    return p;
}

/* Scratch buffers reused across the words of one sequence. */
typedef struct {
    tl_nstr ns;
    tl_pieces pieces, npieces;
    tl_ptbuf pt;
    tl_mtoks mt;
    tl_mscratch ms;
    char *buf;             /* UTF-8 of an added token or a raw model token */
    size_t buf_cap;
    char key[4 * TL_WCACHE_MAX_KEY]; /* the word being tokenized as UTF-8 (cache key) */
    uint32_t *cps;         /* the sequence's code points */
    size_t cps_cap;
    tl_wcache *cache;      /* this thread's word cache (NULL: none) */
    tl_encoding a, b;      /* the text's and the pair's tokens before post-processing */
    size_t stop_at;        /* a sequence stops tokenizing once it has more tokens than this */
    size_t norm_growth;    /* tl_encode_params.max_normalize_growth */
    size_t regex_ms;       /* tl_encode_params.max_regex_ms */
    int stopped_mid;       /* encode_plain stopped at stop_at with words of its text left */
} scratch;

/* Frees w's buffers (not its cache, which belongs to the tokenizer's pool). */
static void scratch_free(scratch *w) {
    tl_nstr_free(&w->ns);
    tl_ptbuf_free(&w->pt);
    tl_mscratch_free(&w->ms);
    free(w->pieces.v); free(w->npieces.v); free(w->mt.v); free(w->buf);
    free(w->cps);
    tl_enc_clear(&w->a);
    tl_enc_clear(&w->b);
}

/* Appends the token id whose string is cps[0, n) as UTF-8 (an added token's matched text,
 * with any whitespace lstrip/rstrip took, or a raw model token's text) to enc. */
static tl_status push_text(scratch *w, int32_t id, const uint32_t *cps, size_t n, int32_t type_id,
                           int32_t os, int32_t oe, int32_t word, tl_encoding *enc) {
    size_t need;
    if (tl_mul_overflow(n, 4, &need) || tl_add_overflow(need, 1, &need) ||
        tl_grow((void **)&w->buf, &w->buf_cap, need, 1))
        return tl_set_error(TL_ERR_OOM, "encode: out of memory");
    size_t len = 0;
    for (size_t i = 0; i < n; i++) len += tl_utf8_put(cps[i], w->buf + len);
    return tl_enc_push(enc, id, w->buf, len, type_id, 0, os, oe, word);
}

/* Runs the BPE / Unigram model on the word cps[0, n) into w->mt, through the word cache
 * when the word fits a cache key (TL_WCACHE_MAX_KEY bytes); longer words, or no cache,
 * go straight to the model with no key built. */
static tl_status model_cached(const tl_tokenizer *t, scratch *w, const uint32_t *cps, size_t n) {
    size_t b = 0;
    if (w->cache && n <= TL_WCACHE_MAX_KEY)
        for (size_t i = 0; i < n; i++) b += tl_utf8_put(cps[i], w->key + b);
    int cached = w->cache && n <= TL_WCACHE_MAX_KEY && b <= TL_WCACHE_MAX_KEY;
    uint64_t h = cached ? tl_wcache_hash(w->cache, w->key, b) : 0;
    if (cached && tl_wcache_get(w->cache, w->key, b, h, &w->mt)) return TL_OK;
    tl_status st = t->model == TL_MODEL_BPE ? tl_bpe_tokenize(&t->bpe, cps, n, &w->ms, &w->mt)
                                            : tl_unigram_tokenize(&t->uni, cps, n, &w->ms, &w->mt);
    if (st == TL_OK && cached) tl_wcache_put(w->cache, w->key, b, h, &w->mt);
    return st;
}

/* Appends the model tokens of word pt.buf[s, e) (word index word) to enc. */
static tl_status encode_word(const tl_tokenizer *t, scratch *w, size_t s, size_t e, int32_t word,
                             int32_t type_id, tl_encoding *enc) {
    const uint32_t *cps = w->pt.buf.cp + s;
    tl_status st = t->model == TL_MODEL_WORDPIECE ? tl_wordpiece_tokenize(&t->wp, cps, e - s, &w->mt)
                                                  : model_cached(t, w, cps, e - s);
    const tl_vocab *v = tl_tok_vocab(t);
    const int32_t *os = w->pt.buf.os + s, *oe = w->pt.buf.oe + s;
    for (size_t k = 0; k < w->mt.len && st == TL_OK; k++) {
        const tl_mtok *m = &w->mt.v[k];
        int32_t a = os[m->s], b = m->e > m->s ? oe[m->e - 1] : a;
        if (m->raw) { /* the piece's own text (Unigram's unknown pieces) */
            st = push_text(w, m->id, cps + m->s, m->e - m->s, type_id, a, b, word, enc);
            continue;
        }
        int known = (size_t)m->id < v->n_ids && v->id_to_tok[m->id];
        st = tl_enc_push(enc, m->id, known ? v->id_to_tok[m->id] : "", known ? v->id_len[m->id] : 0, type_id, 0, a,
                         b, word);
    }
    return st;
}

/* The most characters the normalizer may make of n under growth (0: the default); 0 for
 * no limit (SIZE_MAX, or when the product overflows). */
static size_t norm_limit(size_t growth, size_t n) {
    size_t g = growth ? growth : TL_DEFAULT_NORMALIZE_GROWTH, l;
    if (g == SIZE_MAX || tl_mul_overflow(n, g, &l) || tl_add_overflow(l, 4096, &l)) return 0;
    return l;
}

/* Normalizes the plain text cps[a, b), splits it on normalized added tokens, then
 * pre-tokenizes and tokenizes each part. *word counts splits as tokenizers does. */
static tl_status encode_plain(const tl_tokenizer *t, scratch *w, const uint32_t *cps, size_t a,
                              size_t b, size_t whole, int32_t *word, int32_t type_id, tl_encoding *enc) {
    w->ns.len = 0;
    w->ns.limit = 0;
    if (tl_nstr_reserve(&w->ns, b - a + 1)) return tl_set_error(TL_ERR_OOM, "encode: out of memory");
    for (size_t i = a; i < b; i++) tl_nstr_push(&w->ns, cps[i], (int32_t)i, (int32_t)i + 1);
    w->ns.limit = norm_limit(w->norm_growth, whole); /* the whole part's limit, also for a prefix */
    w->ns.regex_ms = w->pt.rx.budget_ms = w->regex_ms;
    tl_status st = tl_normalizer_apply(&t->norm, &w->ns);
    if (st == TL_OK) st = tl_added_split(&t->added, 1, w->ns.cp, w->ns.len, &w->npieces);
    for (size_t p = 0; p < w->npieces.len && st == TL_OK && enc->len <= w->stop_at; p++) {
        const tl_piece *pc = &w->npieces.v[p];
        if (pc->tok >= 0) {
            const tl_added_token *at = &t->added.v[pc->tok];
            st = push_text(w, at->id, w->ns.cp + pc->s, pc->e - pc->s, type_id, w->ns.os[pc->s],
                           w->ns.oe[pc->e - 1], (*word)++, enc);
            if (enc->len > w->stop_at && p + 1 < w->npieces.len) w->stopped_mid = 1;
            continue;
        }
        st = tl_pretok_run(&t->pre, &w->ns, pc->s, pc->e, &w->pt);
        size_t k = 0;
        for (; k < w->pt.words.len && st == TL_OK && enc->len <= w->stop_at; k++)
            st = encode_word(t, w, w->pt.words.v[k].s, w->pt.words.v[k].e, (*word)++, type_id, enc);
        if (enc->len > w->stop_at && (k < w->pt.words.len || p + 1 < w->npieces.len)) w->stopped_mid = 1;
    }
    /* a normalizer growing the text past its limit, a regex past its budget: the
     * tokenizer's doing, so its file is named */
    if (st == TL_ERR_INVALID_ARG && t->source) return tl_error_prefix(st, "%s", t->source);
    return st;
}

/* The shortest prefix tried by encode_prefix, in chars. */
#define PREFIX_MIN_CHARS ((size_t)65536)

/* encode_plain of cps[a, b) when the text is cut at w->stop_at tokens: tokenizes prefixes
 * of it (cut by tl_prefix_cut, 65,536 chars or 16 per kept token at first, then 4 times
 * longer) until one stops with words of it left, whose tokens (all before the prefix's
 * last word) are then those of the whole text; else the whole text. Linear in the text. */
static tl_status encode_prefix(const tl_tokenizer *t, scratch *w, const uint32_t *cps, size_t a, size_t b,
                               int32_t *word, int32_t type_id, tl_encoding *enc) {
    size_t len0 = enc->len, k = PREFIX_MIN_CHARS;
    int32_t word0 = *word;
    if (w->stop_at < SIZE_MAX / 32 && 16 * (w->stop_at + 1) > k) k = 16 * (w->stop_at + 1);
    for (;;) {
        size_t c = b - a > k ? tl_prefix_cut(cps, a + k, b) : b;
        w->stopped_mid = 0;
        tl_status st = encode_plain(t, w, cps, a, c, b - a, word, type_id, enc);
        if (st != TL_OK || c == b || w->stopped_mid) return st;
        tl_enc_truncate(enc, len0); /* the prefix's last word may be cut: try a longer one */
        *word = word0;
        k = k > SIZE_MAX / 4 ? SIZE_MAX : 4 * k;
    }
}

/* Encodes one sequence (no specials) into enc, with w's buffers; it stops after the word
 * (or added token) that brings enc past w->stop_at tokens (past, so that truncation, and
 * its errors, happen exactly when they would for the whole text). */
static tl_status encode_seq(const tl_tokenizer *t, scratch *w, const char *text, size_t len, const char *what,
                            int32_t type_id, tl_encoding *enc) {
    if (!text && len) return tl_set_error(TL_ERR_INVALID_ARG, "%s: NULL with length %zu", what, len);
    size_t n = 0;
    tl_status st = tl_utf8_decode_into(text ? text : "", len, what, &w->cps, &w->cps_cap, &n);
    if (st != TL_OK) return st;
    const uint32_t *cps = w->cps;
    int32_t word = 0;
    st = tl_added_split(&t->added, 0, cps, n, &w->pieces);
    for (size_t p = 0; p < w->pieces.len && st == TL_OK && enc->len <= w->stop_at; p++) {
        const tl_piece *pc = &w->pieces.v[p];
        if (pc->tok >= 0) {
            const tl_added_token *at = &t->added.v[pc->tok];
            st = push_text(w, at->id, cps + pc->s, pc->e - pc->s, type_id, (int32_t)pc->s,
                           (int32_t)pc->e, word++, enc);
        } else if (w->stop_at != SIZE_MAX && t->prefix_safe && pc->e - pc->s > PREFIX_MIN_CHARS) {
            st = encode_prefix(t, w, cps, pc->s, pc->e, &word, type_id, enc);
        } else {
            st = encode_plain(t, w, cps, pc->s, pc->e, pc->e - pc->s, &word, type_id, enc);
        }
    }
    return st;
}

/* Trims offsets of a and its overflowing windows (ByteLevel / RobertaProcessing before
 * the template: each window counts its own first token). */
static void trim_all(const tl_postproc *pp, tl_encoding *e) {
    tl_trim_offsets(e, 0, e->len, pp->aps_before);
    for (size_t i = 0; i < e->n_ovf; i++) tl_trim_offsets(&e->ovf[i], 0, e->ovf[i].len, pp->aps_before);
}

/* The limit on padded lengths under p (max_padded_length, 0 = the default). */
static size_t pad_limit(const tl_encode_params *p) {
    return p->max_padded_length ? p->max_padded_length : TL_DEFAULT_MAX_PADDED_LENGTH;
}

/* Sets *out to the padded length of encodings of longest length len under p; an error
 * naming fn when it overflows or exceeds max_padded_length (nothing is allocated then). */
static tl_status pad_target(const tl_encode_params *p, size_t len, const char *fn, size_t *out) {
    size_t t = p->padding == TL_PAD_FIXED ? p->pad_length : len, m = p->pad_to_multiple_of;
    if (m > 0 && t % m && tl_add_overflow(t, m - t % m, &t))
        return tl_set_error(TL_ERR_INVALID_ARG, "%s: padding length %zu rounded up to a multiple of "
                            "pad_to_multiple_of %zu overflows", fn, len, m);
    if (t > pad_limit(p))
        return tl_set_error(TL_ERR_INVALID_ARG, "%s: padded length %zu exceeds max_padded_length %zu "
                            "(tl_encode_params.max_padded_length; SIZE_MAX for no limit)", fn, t, pad_limit(p));
    *out = t;
    return TL_OK;
}

/* The number of tokens after which the text's tokenization may stop under p: a single
 * text cut on the right without overflowing encodings keeps only its first max_length
 * tokens (minus the specials), whatever follows them. SIZE_MAX: tokenize everything. */
static size_t stop_at(const tl_tokenizer *tok, const tl_encode_params *p, int pair) {
    if (pair || !p->drop_overflowing || !p->max_length || p->truncation_left ||
        p->truncation == TL_TRUNCATE_ONLY_SECOND) /* only_second fails past the limit */
        return SIZE_MAX;
    size_t added = p->add_special_tokens ? tl_postproc_added(&tok->post, 0) : 0;
    return p->max_length >= added ? p->max_length - added : SIZE_MAX;
}

/* Encodes one input without padding (params already validated), with w's buffers. */
static tl_status encode_one(const tl_tokenizer *tok, scratch *w, const char *text, size_t text_len, const char *pair,
                            size_t pair_len, const tl_encode_params *p, tl_encoding **out) {
    tl_encoding *res = calloc(1, sizeof *res), *a = &w->a, *b = &w->b;
    if (!res) return tl_set_error(TL_ERR_OOM, "encode: out of memory");
    tl_status st = TL_OK;
    if (!a->ids) st = tl_enc_init(a); /* first use of this scratch */
    if (st == TL_OK && !b->ids) st = tl_enc_init(b);
    tl_enc_reset(a);
    tl_enc_reset(b); /* res (zeroed) gets its arrays from tl_enc_assemble's reservation */
    w->stop_at = stop_at(tok, p, pair != NULL);
    w->norm_growth = p->max_normalize_growth;
    w->regex_ms = p->max_regex_ms;
    if (st == TL_OK) st = encode_seq(tok, w, text, text_len, "text", 0, a);
    w->stop_at = SIZE_MAX;
    if (st == TL_OK && pair) st = encode_seq(tok, w, pair, pair_len, "pair", 1, b);
    if (st == TL_OK && p->max_length > 0) {
        /* tokenizers subtracts the specials in unsigned arithmetic: when max_length is
         * below their count the result wraps and nothing is truncated; we do the same */
        size_t added = p->add_special_tokens ? tl_postproc_added(&tok->post, pair != NULL) : 0;
        if (p->max_length >= added)
            st = tl_truncate(a, pair ? b : NULL, p->max_length - added, p->truncation, p->stride,
                             p->truncation_left, p->drop_overflowing);
    }
    if (st == TL_OK && tok->post.trim_before) {
        trim_all(&tok->post, a);
        if (pair) trim_all(&tok->post, b);
    }
    if (st == TL_OK) st = tl_enc_assemble(&tok->post, a, pair ? b : NULL, p->add_special_tokens,
                                   p->max_overflow_tokens ? p->max_overflow_tokens : TL_DEFAULT_MAX_OVERFLOW_TOKENS, res);
    if (st != TL_OK) {
        tl_encoding_free(res);
        /* an error the tokenizer's own content caused (e.g. its unk_token is not in its
         * vocabulary) names the file it came from */
        return st == TL_ERR_FORMAT && tok->source ? tl_error_prefix(st, "%s", tok->source) : st;
    }
    *out = res;
    return TL_OK;
}

/* Checks the enum fields of p. */
static tl_status check_params(const tl_encode_params *p, const char *fn) {
    if (p->truncation < TL_TRUNCATE_LONGEST_FIRST || p->truncation > TL_TRUNCATE_ONLY_SECOND)
        return tl_set_error(TL_ERR_INVALID_ARG, "%s: unknown truncation strategy %d", fn, p->truncation);
    if (p->padding < TL_PAD_NONE || p->padding > TL_PAD_FIXED)
        return tl_set_error(TL_ERR_INVALID_ARG, "%s: unknown padding strategy %d", fn, p->padding);
    size_t t;
    if (p->padding == TL_PAD_FIXED) return pad_target(p, 0, fn, &t); /* refused before any work */
    return TL_OK;
}

tl_status tl_tokenizer_encode(const tl_tokenizer *tok, const char *text, size_t text_len,
                              const char *pair, size_t pair_len,
                              const tl_encode_params *params, tl_encoding **out) {
    if (!out) return tl_set_error(TL_ERR_INVALID_ARG, "tl_tokenizer_encode: out is NULL");
    *out = NULL;
    if (!tok) return tl_set_error(TL_ERR_INVALID_ARG, "tl_tokenizer_encode: tokenizer is NULL");
    tl_encode_params p = params ? *params : tl_encode_default_params();
    tl_status st = check_params(&p, "tl_tokenizer_encode");
    if (st == TL_OK) {
        scratch w = {0};
        w.cache = tl_wcache_acquire(tok->wcache);
        st = encode_one(tok, &w, text, text_len, pair, pair_len, &p, out);
        tl_wcache_release(tok->wcache, w.cache);
        scratch_free(&w);
    }
    size_t target = 0;
    if (st == TL_OK && p.padding != TL_PAD_NONE &&
        (st = pad_target(&p, (*out)->len, "tl_tokenizer_encode", &target)) == TL_OK)
        st = tl_enc_pad(*out, target, p.pad_id, p.pad_type_id, p.pad_token, p.padding_left);
    if (st != TL_OK && *out) { tl_encoding_free(*out); *out = NULL; }
    if (st == TL_OK) tl_enc_finish_seq(*out);
    return st;
}

tl_status tl_tokenizer_encode_batch(const tl_tokenizer *tok, const char *const *texts,
                                    const size_t *text_lens, const char *const *pairs,
                                    const size_t *pair_lens, size_t n,
                                    const tl_encode_params *params, tl_encoding **out) {
    if (!out && n) return tl_set_error(TL_ERR_INVALID_ARG, "tl_tokenizer_encode_batch: out is NULL");
    for (size_t i = 0; i < n; i++) out[i] = NULL;
    if (!tok) return tl_set_error(TL_ERR_INVALID_ARG, "tl_tokenizer_encode_batch: tokenizer is NULL");
    if (!texts && n) return tl_set_error(TL_ERR_INVALID_ARG, "tl_tokenizer_encode_batch: texts is NULL");
    tl_encode_params p = params ? *params : tl_encode_default_params();
    tl_status st = check_params(&p, "tl_tokenizer_encode_batch");
    if (st != TL_OK) return st;
    if (p.num_threads < 0) return tl_set_error(TL_ERR_INVALID_ARG, "tl_tokenizer_encode_batch: num_threads < 0");
    int nt = p.num_threads > 0 ? p.num_threads : omp_get_max_threads();
    if ((size_t)nt > n) nt = n > 0 ? (int)n : 1;
    /* the first failing index (lowest) wins; its message is copied out of the worker */
    size_t bad = SIZE_MAX;
    tl_status bad_st = TL_OK;
    char msg[512] = "";
#pragma omp parallel num_threads(nt)
    {
        scratch w = {0}; /* one scratch and one word cache per thread for the whole batch */
        w.cache = tl_wcache_acquire(tok->wcache);
#pragma omp for schedule(dynamic, 16)
        for (size_t i = 0; i < n; i++) {
            const char *pr = pairs ? pairs[i] : NULL;
            size_t tl = texts[i] ? (text_lens ? text_lens[i] : strlen(texts[i])) : 0;
            size_t pl = pr ? (pair_lens ? pair_lens[i] : strlen(pr)) : 0;
            tl_status s = texts[i] ? encode_one(tok, &w, texts[i], tl, pr, pl, &p, &out[i])
                                   : tl_set_error(TL_ERR_INVALID_ARG, "text is NULL");
            if (s != TL_OK) {
                /* unnamed: a named critical section is a global symbol libtorchless.so would export */
#pragma omp critical
                if (i < bad) { bad = i; bad_st = s; snprintf(msg, sizeof msg, "%s", tl_last_error()); }
            }
        }
        tl_wcache_release(tok->wcache, w.cache);
        scratch_free(&w);
    }
    if (bad_st == TL_OK && p.padding != TL_PAD_NONE) {
        size_t longest = 0;
        for (size_t i = 0; i < n; i++) if (out[i]->len > longest) longest = out[i]->len;
        size_t target = 0;
        if (pad_target(&p, longest, "tl_tokenizer_encode_batch", &target) != TL_OK) {
            for (size_t i = 0; i < n; i++) { tl_encoding_free(out[i]); out[i] = NULL; }
            return TL_ERR_INVALID_ARG; /* pad_target set the message */
        }
#pragma omp parallel for schedule(dynamic, 16) num_threads(nt)
        for (size_t i = 0; i < n; i++) {
            tl_status s = tl_enc_pad(out[i], target, p.pad_id, p.pad_type_id, p.pad_token, p.padding_left);
            if (s != TL_OK) {
#pragma omp critical
                if (i < bad) { bad = i; bad_st = s; snprintf(msg, sizeof msg, "%s", tl_last_error()); }
            }
        }
    }
    if (bad_st == TL_OK) {
        for (size_t i = 0; i < n; i++) tl_enc_finish_seq(out[i]);
        return TL_OK;
    }
    for (size_t i = 0; i < n; i++) { tl_encoding_free(out[i]); out[i] = NULL; }
    return tl_set_error(bad_st, "batch input %zu: %s", bad, msg);
}

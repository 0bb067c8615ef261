/* encoding.c — the tl_encoding result: growable parallel arrays plus a string arena
 * for token strings, and the public accessors. */
#include "tokenizer/tok_encoding.h"
#include "core/error.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

/* Reallocates every array of e to hold exactly c tokens; 0 or -1 on OOM/overflow. */
static int enc_alloc(tl_encoding *e, size_t c) {
    size_t b4, b8, b2;
    if (tl_mul_overflow(c, sizeof(int32_t), &b4) || tl_mul_overflow(c, sizeof(size_t), &b8) ||
        tl_mul_overflow(b4, 2, &b2))
        return -1;
    int32_t **arrs[] = {&e->ids, &e->type_ids, &e->special, &e->attn, &e->word_ids, &e->seq_ids};
    for (size_t i = 0; i < sizeof arrs / sizeof *arrs; i++) {
        int32_t *p = realloc(*arrs[i], b4);
        if (!p) return -1;
        *arrs[i] = p;
    }
    int32_t *o = realloc(e->offsets, b2);
    if (!o) return -1;
    e->offsets = o;
    size_t *t = realloc(e->tok_off, b8);
    if (!t) return -1;
    e->tok_off = t;
    e->cap = c;
    return 0;
}

/* Grows every array of e to hold n tokens (doubling from 16); 0 or -1 on OOM/overflow. */
static int enc_reserve(tl_encoding *e, size_t n) {
    if (n <= e->cap) return 0;
    size_t c = e->cap ? e->cap : 16;
    while (c < n) { if (c > SIZE_MAX / 4) return -1; c *= 2; }
    return enc_alloc(e, c);
}

tl_status tl_enc_reserve(tl_encoding *e, size_t n, size_t str_bytes) {
    if (enc_reserve(e, n)) return tl_set_error(TL_ERR_OOM, "encoding: out of memory");
    if (str_bytes > e->str_cap) {
        char *s = realloc(e->str, str_bytes);
        if (!s) return tl_set_error(TL_ERR_OOM, "encoding: out of memory");
        e->str = s;
        e->str_cap = str_bytes;
    }
    return TL_OK;
}

void tl_enc_reset(tl_encoding *e) {
    for (size_t i = 0; i < e->n_ovf; i++) tl_enc_clear(&e->ovf[i]);
    free(e->ovf);
    e->ovf = NULL;
    e->n_ovf = 0;
    e->len = 0;
    e->str_len = 0;
    e->n_rng = 0;
}

tl_status tl_enc_push(tl_encoding *e, int32_t id, const char *tok, size_t toklen, int32_t type_id,
                      int32_t special, int32_t os, int32_t oe, int32_t word) {
    size_t need;
    if (e->len == e->cap && enc_reserve(e, e->len + 1)) goto oom;
    if (tl_add_overflow(e->str_len, toklen + 1, &need)) goto oom;
    if (need > e->str_cap) {
        size_t c = e->str_cap ? e->str_cap : 256;
        while (c < need) { if (c > SIZE_MAX / 2) goto oom; c *= 2; }
        char *s = realloc(e->str, c);
        if (!s) goto oom;
        e->str = s;
        e->str_cap = c;
    }
    memcpy(e->str + e->str_len, tok, toklen);
    e->str[e->str_len + toklen] = 0;
    size_t i = e->len;
    e->tok_off[i] = e->str_len;
    e->str_len = need;
    e->ids[i] = id;
    e->type_ids[i] = type_id;
    e->special[i] = special;
    e->attn[i] = 1;
    e->offsets[2 * i] = os;
    e->offsets[2 * i + 1] = oe;
    e->word_ids[i] = word;
    e->seq_ids[i] = -1;
    e->len++;
    return TL_OK;
oom:
    return tl_set_error(TL_ERR_OOM, "encoding: out of memory");
}

/* Appends tokens [s, end) of src; type ids replaced by type_id when >= 0. */
static tl_status append_range(tl_encoding *e, const tl_encoding *src, size_t s, size_t end, int32_t type_id) {
    for (size_t i = s; i < end; i++) {
        const char *t = src->str + src->tok_off[i];
        tl_status st = tl_enc_push(e, src->ids[i], t, tl_encoding_token_length(src, i),
                                   type_id >= 0 ? type_id : src->type_ids[i], src->special[i],
                                   src->offsets[2 * i], src->offsets[2 * i + 1], src->word_ids[i]);
        if (st != TL_OK) return st;
        e->attn[e->len - 1] = src->attn[i];
    }
    return TL_OK;
}

tl_status tl_enc_append(tl_encoding *e, const tl_encoding *src, int32_t type_id) {
    size_t base = e->len;
    tl_status st = append_range(e, src, 0, src->len, type_id);
    for (size_t k = 0; k < src->n_rng && st == TL_OK; k++)
        tl_enc_set_range(e, src->rng[k].seq, src->rng[k].s + base, src->rng[k].e + base);
    return st;
}

tl_status tl_enc_slice(tl_encoding *dst, const tl_encoding *src, size_t s, size_t e) {
    return append_range(dst, src, s, e, -1);
}

void tl_enc_set_range(tl_encoding *e, int32_t seq, size_t s, size_t end) {
    size_t k = 0;
    while (k < e->n_rng && e->rng[k].seq != seq) k++;
    if (k == TL_ENC_MAX_RANGES) return;
    if (k == e->n_rng) e->n_rng++;
    e->rng[k].seq = seq;
    e->rng[k].s = s;
    e->rng[k].e = end;
}

void tl_enc_finish_seq(tl_encoding *e) {
    for (size_t i = 0; i < e->len; i++) e->seq_ids[i] = -1;
    size_t n = e->n_rng ? e->n_rng : 1; /* no ranges: one sequence spanning everything */
    for (size_t sid = 0; sid < n; sid++) {
        size_t s = 0, end = e->len;
        for (size_t k = 0; k < e->n_rng; k++)
            if (e->rng[k].seq == (int32_t)sid) { s = e->rng[k].s; end = e->rng[k].e; }
        for (size_t i = s; i < end && i < e->len; i++) e->seq_ids[i] = (int32_t)sid;
    }
    for (size_t i = 0; i < e->n_ovf; i++) tl_enc_finish_seq(&e->ovf[i]);
}

void tl_enc_truncate(tl_encoding *e, size_t n) {
    if (n < e->len) {
        e->str_len = e->tok_off[n];
        e->len = n;
    }
}

void tl_enc_clear(tl_encoding *e) {
    for (size_t i = 0; i < e->n_ovf; i++) tl_enc_clear(&e->ovf[i]);
    free(e->ovf);
    free(e->ids); free(e->type_ids); free(e->special); free(e->attn); free(e->seq_ids);
    free(e->offsets); free(e->word_ids); free(e->tok_off); free(e->str);
    memset(e, 0, sizeof *e);
}

/* Frees an encoding from tl_tokenizer_encode (NULL is a no-op). */
void tl_encoding_free(tl_encoding *enc) {
    if (!enc) return;
    tl_enc_clear(enc);
    free(enc);
}

/* Accessors: NULL-safe; arrays have tl_encoding_length() entries (offsets twice that). */
size_t tl_encoding_length(const tl_encoding *enc) { return enc ? enc->len : 0; }
const int32_t *tl_encoding_ids(const tl_encoding *enc) { return enc ? enc->ids : NULL; }
const int32_t *tl_encoding_type_ids(const tl_encoding *enc) { return enc ? enc->type_ids : NULL; }
const int32_t *tl_encoding_special_tokens_mask(const tl_encoding *enc) { return enc ? enc->special : NULL; }
const int32_t *tl_encoding_attention_mask(const tl_encoding *enc) { return enc ? enc->attn : NULL; }
const int32_t *tl_encoding_offsets(const tl_encoding *enc) { return enc ? enc->offsets : NULL; }
const int32_t *tl_encoding_word_ids(const tl_encoding *enc) { return enc ? enc->word_ids : NULL; }
const int32_t *tl_encoding_sequence_ids(const tl_encoding *enc) { return enc ? enc->seq_ids : NULL; }

/* Number of overflowing windows (0 for NULL). */
size_t tl_encoding_n_overflowing(const tl_encoding *enc) { return enc ? enc->n_ovf : 0; }

/* Overflowing window i, owned by enc; NULL when i is out of range. */
const tl_encoding *tl_encoding_overflowing(const tl_encoding *enc, size_t i) {
    return enc && i < enc->n_ovf ? &enc->ovf[i] : NULL;
}

/* Token string i, owned by enc; NULL when i is out of range. */
const char *tl_encoding_token(const tl_encoding *enc, size_t i) {
    if (!enc || i >= enc->len) return NULL;
    return enc->str + enc->tok_off[i];
}

/* Byte length of token i (0 when out of range): the arena holds "tok\0" per token. */
size_t tl_encoding_token_length(const tl_encoding *enc, size_t i) {
    if (!enc || i >= enc->len) return 0;
    size_t end = i + 1 < enc->len ? enc->tok_off[i + 1] : enc->str_len;
    return end - enc->tok_off[i] - 1;
}

tl_status tl_enc_init(tl_encoding *e) {
    memset(e, 0, sizeof *e);
    if (enc_reserve(e, 4)) { tl_enc_clear(e); return tl_set_error(TL_ERR_OOM, "encoding: out of memory"); }
    return TL_OK;
}

tl_status tl_enc_init_sized(tl_encoding *e, size_t n, size_t str_bytes) {
    memset(e, 0, sizeof *e);
    if (enc_alloc(e, n ? n : 1) || !(e->str = malloc(str_bytes ? str_bytes : 1))) {
        tl_enc_clear(e);
        return tl_set_error(TL_ERR_OOM, "encoding: out of memory");
    }
    e->str_cap = str_bytes ? str_bytes : 1;
    return TL_OK;
}

/* truncate.c — tokenizers' truncation and padding of encodings: Encoding::truncate
 * (windows of max_len tokens overlapping by stride, the rest as overflowing encodings),
 * truncate_encodings' strategies (longest_first, only_first, only_second), the same
 * cut without overflowing encodings (drop), and Encoding::pad. */
#include "tokenizer/tok_encoding.h"
#include "core/error.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

/* Adds window [s, stop) of src as a new encoding at (*v)[*n]; grows the array. */
static tl_status push_window(tl_encoding **v, size_t *n, size_t *cap, const tl_encoding *src, size_t s,
                             size_t stop) {
    if (*n == *cap && tl_grow((void **)v, cap, *n + 1, sizeof **v))
        return tl_set_error(TL_ERR_OOM, "truncation: out of memory");
    tl_encoding *w = &(*v)[*n];
    tl_status st = tl_enc_init(w);
    if (st != TL_OK) return st;
    (*n)++;
    return tl_enc_slice(w, src, s, stop);
}

/* Keeps only the window of max_len tokens that tl_enc_split keeps in e (no overflowing
 * encodings are made): the first max_len tokens, or the last ones when left != 0. */
static tl_status keep_window(tl_encoding *e, size_t max_len, int left) {
    for (size_t i = 0; i < e->n_ovf; i++) tl_enc_clear(&e->ovf[i]);
    free(e->ovf);
    e->ovf = NULL;
    e->n_ovf = 0;
    e->n_rng = 0; /* as tl_enc_split's windows: no sequence ranges */
    if (!left || max_len == 0) {
        tl_enc_truncate(e, max_len);
        return TL_OK;
    }
    tl_encoding w;
    tl_status st = tl_enc_init_sized(&w, max_len, e->str_len - e->tok_off[e->len - max_len] + 1);
    if (st == TL_OK) st = tl_enc_slice(&w, e, e->len - max_len, e->len);
    if (st != TL_OK) { tl_enc_clear(&w); return st; }
    tl_enc_clear(e);
    *e = w;
    return TL_OK;
}

tl_status tl_enc_split(tl_encoding *e, size_t max_len, size_t stride, int left, int drop) {
    size_t len = e->len;
    if (max_len >= len) return TL_OK;
    if (max_len > 0 && stride >= max_len)
        return tl_set_error(TL_ERR_INVALID_ARG,
                            "truncation: stride %zu must be less than the %zu tokens left for this sequence "
                            "(max_length minus the special tokens)", stride, max_len);
    if (drop) return keep_window(e, max_len, left);
    tl_encoding *w = NULL;
    size_t n = 0, cap = 0;
    tl_status st = TL_OK;
    if (max_len == 0) { /* everything overflows; e becomes empty */
        st = push_window(&w, &n, &cap, e, 0, len);
    } else {
        size_t step = max_len - stride;
        if (!left) {
            for (size_t start = 0; st == TL_OK; start += step) {
                size_t stop = start + max_len < len ? start + max_len : len;
                st = push_window(&w, &n, &cap, e, start, stop);
                if (stop == len) break;
            }
        } else {
            for (size_t stop = len; st == TL_OK; stop -= step) {
                size_t start = stop > max_len ? stop - max_len : 0;
                st = push_window(&w, &n, &cap, e, start, stop);
                if (start == 0 || stop <= step) break;
            }
        }
    }
    if (st != TL_OK) {
        for (size_t i = 0; i < n; i++) tl_enc_clear(&w[i]);
        free(w);
        return st;
    }
    for (size_t i = 0; i < e->n_ovf; i++) tl_enc_clear(&e->ovf[i]);
    free(e->ovf);
    e->ovf = NULL;
    e->n_ovf = 0;
    if (max_len == 0) { /* e keeps its buffers, emptied; the window keeps e's ranges */
        memcpy(w[0].rng, e->rng, sizeof e->rng);
        w[0].n_rng = e->n_rng;
        e->n_rng = 0;
        tl_enc_truncate(e, 0);
        e->ovf = w;
        e->n_ovf = n;
        return TL_OK;
    }
    /* window 0 replaces e; the others are its overflowing encodings */
    tl_encoding first = w[0];
    tl_enc_clear(e);
    *e = first;
    if (n > 1) {
        memmove(w, w + 1, (n - 1) * sizeof *w);
        e->ovf = w;
        e->n_ovf = n - 1;
    } else {
        free(w);
    }
    return TL_OK;
}

tl_status tl_truncate(tl_encoding *a, tl_encoding *b, size_t max_len, int strategy, size_t stride, int left,
                      int drop) {
    tl_status st;
    if (max_len == 0) {
        st = tl_enc_split(a, 0, stride, left, drop);
        return st == TL_OK && b ? tl_enc_split(b, 0, stride, left, drop) : st;
    }
    size_t total = a->len + (b ? b->len : 0);
    if (total <= max_len) return TL_OK;
    size_t to_remove = total - max_len;
    if (strategy == TL_TRUNCATE_ONLY_FIRST || strategy == TL_TRUNCATE_ONLY_SECOND) {
        tl_encoding *t = strategy == TL_TRUNCATE_ONLY_FIRST ? a : b;
        if (!t) return tl_set_error(TL_ERR_INVALID_ARG, "truncation: only_second needs a second sequence");
        if (t->len <= to_remove)
            return tl_set_error(TL_ERR_INVALID_ARG,
                                "truncation: the %s sequence (%zu tokens) is too short to remove %zu tokens",
                                t == a ? "first" : "second", t->len, to_remove);
        return tl_enc_split(t, t->len - to_remove, stride, left, drop);
    }
    if (strategy != TL_TRUNCATE_LONGEST_FIRST)
        return tl_set_error(TL_ERR_INVALID_ARG, "truncation: unknown strategy %d", strategy);
    if (!b) return tl_enc_split(a, max_len, stride, left, drop);
    size_t n1 = a->len, n2 = b->len;
    int swap = n1 > n2;
    if (swap) { size_t t = n1; n1 = n2; n2 = t; }
    /* n1 is the shorter: keep it whole when the longer can absorb the cut */
    if (n1 > max_len) n2 = n1;
    else n2 = n1 > max_len - n1 ? n1 : max_len - n1;
    if (n1 + n2 > max_len) {
        n1 = max_len / 2;
        n2 = n1 + max_len % 2;
    }
    if (swap) { size_t t = n1; n1 = n2; n2 = t; }
    st = tl_enc_split(a, n1, stride, left, drop);
    return st == TL_OK ? tl_enc_split(b, n2, stride, left, drop) : st;
}

tl_status tl_enc_pad(tl_encoding *e, size_t target, int32_t pad_id, int32_t pad_type_id,
                     const char *pad_token, int left) {
    for (size_t i = 0; i < e->n_ovf; i++) {
        tl_status st = tl_enc_pad(&e->ovf[i], target, pad_id, pad_type_id, pad_token, left);
        if (st != TL_OK) return st;
    }
    if (e->len >= target) return TL_OK;
    const char *tok = pad_token ? pad_token : "[PAD]";
    size_t tlen = strlen(tok), n = target - e->len;
    tl_encoding tmp, *dst = e;
    if (left) { /* build pads + e in a new encoding */
        tl_status st = tl_enc_init(&tmp);
        if (st != TL_OK) return st;
        dst = &tmp;
    }
    tl_status st = TL_OK;
    for (size_t i = 0; i < n && st == TL_OK; i++) {
        st = tl_enc_push(dst, pad_id, tok, tlen, pad_type_id, 1, 0, 0, -1);
        if (st == TL_OK) dst->attn[dst->len - 1] = 0;
    }
    if (left) {
        if (st == TL_OK) st = tl_enc_slice(&tmp, e, 0, e->len);
        if (st != TL_OK) { tl_enc_clear(&tmp); return st; }
        tmp.ovf = e->ovf;
        tmp.n_ovf = e->n_ovf;
        tmp.n_rng = e->n_rng;
        for (size_t k = 0; k < e->n_rng; k++) {
            tmp.rng[k] = e->rng[k];
            tmp.rng[k].s += n;
            tmp.rng[k].e += n;
        }
        e->ovf = NULL;
        e->n_ovf = 0;
        tl_enc_clear(e);
        *e = tmp;
    }
    return st;
}

/* wordpiece.c — the WordPiece model (greedy longest-match-first with a
 * continuing-subword prefix; matches never tried past the vocabulary's longest token). */
#include "tokenizer/tok_model.h"
#include "tokenizer/tok_text.h"
#include "tokenizer/tok_vocab.h"
#include "core/error.h"
#include "core/util.h"
#include "io/json.h"

#include <stdlib.h>
#include <string.h>

tl_status tl_wordpiece_parse(const cJSON *j, const char *path, tl_wordpiece *out) {
    memset(out, 0, sizeof *out);
    const char *unk = tl_json_str(j, "unk_token");
    const char *prefix = tl_json_str(j, "continuing_subword_prefix");
    long maxc;
    if (!tl_tok_json_index(j, "max_input_chars_per_word", 100, 1L << 30, &maxc)) return tl_set_error(TL_ERR_FORMAT, "%s: model.max_input_chars_per_word is not a non-negative integer", path);
    out->max_chars = (size_t)maxc;
    out->unk_token = tl_strdup(unk ? unk : "[UNK]");
    out->prefix = tl_strdup(prefix ? prefix : "##");
    if (!out->unk_token || !out->prefix) { tl_wordpiece_free(out); return tl_set_error(TL_ERR_OOM, "%s: out of memory", path); }
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(j, "vocab");
    if (!cJSON_IsObject(vocab)) { tl_wordpiece_free(out); return tl_set_error(TL_ERR_FORMAT, "%s: model.vocab is missing or not an object", path); }
    size_t n = (size_t)cJSON_GetArraySize(vocab);
    const cJSON *it;
    cJSON_ArrayForEach(it, vocab) {
        double d = cJSON_IsNumber(it) ? it->valuedouble : -1;
        if (d < 0 || d > (double)INT32_MAX - 1 || d != (double)(int64_t)d || (size_t)d > 4 * n + 65536) {
            tl_wordpiece_free(out);
            return tl_set_error(TL_ERR_FORMAT, "%s: model.vocab[\"%s\"] is not a valid id", path, it->string ? it->string : "");
        }
        int r = tl_vocab_add(&out->vocab, it->string, strlen(it->string), (int32_t)d);
        if (r) {
            tl_wordpiece_free(out);
            return r == -1 ? tl_set_error(TL_ERR_OOM, "%s: out of memory", path)
                           : tl_set_error(TL_ERR_FORMAT, "%s: model.vocab has a bad entry", path);
        }
    }
    return TL_OK;
}

void tl_wordpiece_free(tl_wordpiece *wp) {
    tl_vocab_free(&wp->vocab);
    free(wp->unk_token);
    free(wp->prefix);
    memset(wp, 0, sizeof *wp);
}

/* Appends a model token; 0 or -1. */
static int mt_push(tl_mtoks *o, int32_t id, size_t s, size_t e) {
    if (o->len == o->cap) {
        size_t c = o->cap ? o->cap * 2 : 16;
        if (c < o->cap || c > SIZE_MAX / sizeof *o->v) return -1;
        tl_mtok *v = realloc(o->v, c * sizeof *v);
        if (!v) return -1;
        o->v = v;
        o->cap = c;
    }
    o->v[o->len].id = id; o->v[o->len].s = s; o->v[o->len].e = e; o->v[o->len].raw = 0;
    o->len++;
    return 0;
}

/* The word becomes one unk token. */
static tl_status emit_unk(const tl_wordpiece *wp, size_t n, tl_mtoks *out) {
    out->len = 0;
    int32_t unk = tl_vocab_get(&wp->vocab, wp->unk_token, strlen(wp->unk_token));
    if (unk < 0) return tl_set_error(TL_ERR_FORMAT, "WordPiece: unk token \"%s\" is not in the vocabulary", wp->unk_token);
    if (mt_push(out, unk, 0, n)) return tl_set_error(TL_ERR_OOM, "WordPiece: out of memory");
    return TL_OK;
}

tl_status tl_wordpiece_tokenize(const tl_wordpiece *wp, const uint32_t *cps, size_t n, tl_mtoks *out) {
    out->len = 0;
    if (n > wp->max_chars) return emit_unk(wp, n, out);
    /* UTF-8 of "prefix + word"; boff[i] = byte offset of char i after the prefix */
    size_t plen = strlen(wp->prefix), cap;
    if (tl_mul_overflow(n, 4, &cap) || tl_add_overflow(cap, plen + 1, &cap))
        return tl_set_error(TL_ERR_OOM, "WordPiece: word too long");
    char *buf = malloc(cap);
    size_t *boff = malloc((n + 1) * sizeof *boff);
    if (!buf || !boff) { free(buf); free(boff); return tl_set_error(TL_ERR_OOM, "WordPiece: out of memory"); }
    memcpy(buf, wp->prefix, plen);
    size_t b = plen;
    for (size_t i = 0; i < n; i++) { boff[i] = b; b += tl_utf8_put(cps[i], buf + b); }
    boff[n] = b;
    tl_status st = TL_OK;
    size_t start = 0;
    const size_t maxb = wp->vocab.max_len;
    while (start < n) {
        int32_t id = -1;
        /* bytes before char start are consumed: write the prefix over them */
        size_t from = boff[start];
        if (start > 0) {
            from -= plen;
            memcpy(buf + from, wp->prefix, plen);
        }
        /* no token is longer than maxb bytes (so than maxb chars): the longest match
         * is tried from there, so a word of n chars costs O(n * maxb), not O(n^2) */
        size_t end = n - start > maxb ? start + maxb : n;
        while (end > start && boff[end] - from > maxb) end--;
        while (start < end) {
            id = tl_vocab_get(&wp->vocab, buf + from, boff[end] - from);
            if (id >= 0) break;
            end--;
        }
        if (id < 0) { st = emit_unk(wp, n, out); goto done; }
        if (mt_push(out, id, start, end)) { st = tl_set_error(TL_ERR_OOM, "WordPiece: out of memory"); goto done; }
        start = end;
    }
done:
    free(buf);
    free(boff);
    return st;
}

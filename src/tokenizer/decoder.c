/* decoder.c — tokenizers' decoders (WordPiece, ByteLevel, Metaspace, BPEDecoder,
 * ByteFallback, Fuse, Strip, Replace, Sequence): parsing, and token strings ->
 * decode_chain -> joined text, then transformers' clean_up_tokenization on request.
 * Ids -> tokens is decode.c's. */
#include "tokenizer/tok_decoder.h"
#include "tokenizer/tok_pretok.h"
#include "tokenizer/tok_regex.h"
#include "tokenizer/tok_text.h"
#include "core/error.h"
#include "core/util.h"
#include "io/json.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- token lists */

/* A list of owned byte strings (tokens being decoded). */
typedef struct { char **s; size_t *len; size_t n, cap; } toks;

static void toks_free(toks *t) {
    for (size_t i = 0; i < t->n; i++) free(t->s[i]);
    free(t->s);
    free(t->len);
    memset(t, 0, sizeof *t);
}

/* Appends a copy of s[0, len); 0 or -1 on OOM. */
static int toks_push(toks *t, const char *s, size_t len) {
    if (t->n == t->cap) {
        size_t c = t->cap ? t->cap * 2 : 16;
        char **a = realloc(t->s, c * sizeof *a);
        if (!a) return -1;
        t->s = a;
        size_t *l = realloc(t->len, c * sizeof *l);
        if (!l) return -1;
        t->len = l;
        t->cap = c;
    }
    char *p = malloc(len + 1);
    if (!p) return -1;
    memcpy(p, s, len);
    p[len] = 0;
    t->s[t->n] = p;
    t->len[t->n++] = len;
    return 0;
}

/* A growable byte buffer. */
typedef struct { char *s; size_t len, cap; int oom; } buf;

/* Appends n bytes. */
static void put(buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t c = (b->len + n + 1) * 2;
        char *p = realloc(b->s, c);
        if (!p) { b->oom = 1; return; }
        b->s = p;
        b->cap = c;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

/* Appends one code point as UTF-8. */
static void put_cp(buf *b, uint32_t c) {
    char u[4];
    put(b, u, tl_utf8_put(c, u));
}

/* Length of the valid UTF-8 sequence at s[0, n) (> 0, with *cp), or minus the length of
 * the maximal invalid prefix (Rust's from_utf8_lossy replaces it by one U+FFFD). */
static long utf8_step(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned c = s[0];
    if (c < 0x80) { *cp = c; return 1; }
    size_t need;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c >= 0xE0 && c <= 0xEF) { need = 2; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { need = 3; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else return -1;
    uint32_t v = c & (need == 1 ? 0x1F : need == 2 ? 0x0F : 0x07);
    for (size_t j = 1; j <= need; j++) {
        if (j >= n) return -(long)j;
        unsigned d = s[j];
        if (d < (j == 1 ? lo : 0x80) || d > (j == 1 ? hi : 0xBF)) return -(long)j;
        v = (v << 6) | (d & 0x3F);
    }
    *cp = v;
    return (long)need + 1;
}

/* Appends s[0, n) to b with invalid UTF-8 replaced as from_utf8_lossy does. */
static void put_lossy(buf *b, const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        long k = utf8_step(u + i, n - i, &cp);
        if (k > 0) { put(b, s + i, (size_t)k); i += (size_t)k; }
        else { put_cp(b, 0xFFFD); i += (size_t)(-k); }
    }
}

/* 1 when s[0, n) is valid UTF-8. */
static int utf8_valid(const char *s, size_t n) {
    size_t i = 0;
    uint32_t cp;
    while (i < n) {
        long k = utf8_step((const unsigned char *)s + i, n - i, &cp);
        if (k < 0) return 0;
        i += (size_t)k;
    }
    return 1;
}

/* ---------------------------------------------------------------- parsing */

void tl_decoder_free(tl_decoder *d) {
    for (size_t i = 0; i < d->n_children; i++) tl_decoder_free(&d->children[i]);
    free(d->children);
    free(d->text);
    free(d->content);
    tl_regex_free(d->re);
    memset(d, 0, sizeof *d);
}

/* Reads a one-char string field as a code point (Metaspace replacement, Strip content). */
static int one_char(const cJSON *j, const char *key, uint32_t *out) {
    const char *s = tl_json_str(j, key);
    uint32_t *cps;
    size_t n;
    if (!s || tl_utf8_decode(s, strlen(s), key, &cps, &n) != TL_OK) return 0;
    int ok = n == 1;
    if (ok) *out = cps[0];
    free(cps);
    return ok;
}

tl_status tl_decoder_parse(const cJSON *j, const char *path, int depth, tl_decoder *out) {
    memset(out, 0, sizeof *out);
    if (!j || cJSON_IsNull(j)) return TL_OK;
    const char *type = tl_json_str(j, "type");
    if (!type) return tl_set_error(TL_ERR_FORMAT, "%s: decoder: missing \"type\"", path);
    if (depth > 16) return tl_set_error(TL_ERR_FORMAT, "%s: decoder: nesting too deep", path);
    int ok = 1;
    tl_status s = TL_OK;
    if (!strcmp(type, "WordPiece")) {
        out->kind = TL_DEC_WORDPIECE;
        const char *pre = tl_json_str(j, "prefix");
        out->text = tl_strdup(pre ? pre : "##");
        out->cleanup = tl_json_bool(j, "cleanup", 1, &ok);
        if (!out->text) s = tl_set_error(TL_ERR_OOM, "%s: out of memory", path);
    } else if (!strcmp(type, "ByteLevel")) {
        out->kind = TL_DEC_BYTELEVEL;
    } else if (!strcmp(type, "Metaspace")) {
        out->kind = TL_DEC_METASPACE;
        const char *sch = tl_json_str(j, "prepend_scheme");
        if (!one_char(j, "replacement", &out->ch))
            s = tl_set_error(TL_ERR_FORMAT, "%s: decoder Metaspace: \"replacement\" must be one character", path);
        if (sch) out->never = !strcmp(sch, "never");
        else out->never = !tl_json_bool(j, "add_prefix_space", 1, &ok); /* older files */
    } else if (!strcmp(type, "BPEDecoder")) {
        out->kind = TL_DEC_BPE;
        const char *suf = tl_json_str(j, "suffix");
        out->text = tl_strdup(suf ? suf : "</w>");
        if (!out->text) s = tl_set_error(TL_ERR_OOM, "%s: out of memory", path);
    } else if (!strcmp(type, "ByteFallback")) {
        out->kind = TL_DEC_BYTEFALLBACK;
    } else if (!strcmp(type, "Fuse")) {
        out->kind = TL_DEC_FUSE;
    } else if (!strcmp(type, "Strip")) {
        out->kind = TL_DEC_STRIP;
        long a, b;
        if (!one_char(j, "content", &out->ch) || !tl_tok_json_index(j, "start", 0, INT32_MAX, &a) ||
            !tl_tok_json_index(j, "stop", 0, INT32_MAX, &b))
            s = tl_set_error(TL_ERR_FORMAT, "%s: decoder Strip: bad content/start/stop", path);
        else { out->start = (size_t)a; out->stop = (size_t)b; }
    } else if (!strcmp(type, "Replace")) {
        out->kind = TL_DEC_REPLACE;
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(j, "pattern");
        const char *rx = tl_json_str(pat, "Regex"), *str = tl_json_str(pat, "String"), *c = tl_json_str(j, "content");
        if ((!rx && !str) || !c) return tl_set_error(TL_ERR_FORMAT, "%s: decoder Replace: needs a pattern and a content", path);
        out->content = tl_strdup(c);
        if (!out->content) return tl_set_error(TL_ERR_OOM, "%s: out of memory", path);
        s = tl_regex_compile(rx ? rx : str, rx == NULL, "decoder Replace pattern", &out->re);
        if (s != TL_OK) s = tl_error_prefix(s, "%s", path);
    } else if (!strcmp(type, "Sequence")) {
        out->kind = TL_DEC_SEQUENCE;
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "decoders"), *it;
        if (!cJSON_IsArray(arr)) return tl_set_error(TL_ERR_FORMAT, "%s: decoder Sequence: \"decoders\" is not an array", path);
        size_t n = (size_t)cJSON_GetArraySize(arr);
        out->children = calloc(n ? n : 1, sizeof *out->children);
        if (!out->children) return tl_set_error(TL_ERR_OOM, "%s: out of memory", path);
        cJSON_ArrayForEach(it, arr) {
            s = tl_decoder_parse(it, path, depth + 1, &out->children[out->n_children]);
            out->n_children++;
            if (s != TL_OK) break;
        }
    } else {
        return tl_set_error(TL_ERR_UNSUPPORTED, "%s: decoder type \"%s\" is not supported", path, type);
    }
    if (s == TL_OK && !ok) s = tl_set_error(TL_ERR_FORMAT, "%s: decoder %s: a flag is not a boolean", path, type);
    return s;
}

/* ---------------------------------------------------------------- decode_chain */

/* Replaces every occurrence of `from` in b's string (from b->s[start]) by `to`. */
static void replace_in(buf *b, size_t start, const char *from, const char *to) {
    size_t fl = strlen(from), tl = strlen(to);
    if (b->oom || fl == 0) return;
    buf o = {0};
    put(&o, b->s, start);
    size_t i = start;
    while (i < b->len) {
        if (i + fl <= b->len && !memcmp(b->s + i, from, fl)) { put(&o, to, tl); i += fl; }
        else put(&o, b->s + i++, 1);
    }
    if (o.oom) { b->oom = 1; free(o.s); return; }
    free(b->s);
    *b = o;
    if (!b->s) put(b, "", 0);
}

/* tokenizers' WordPiece decoder cleanup of one token. */
static void wordpiece_cleanup(buf *b) {
    static const char *pairs[][2] = {
        {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
        {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) replace_in(b, 0, pairs[i][0], pairs[i][1]);
}

/* Applies one decoder to in, producing out (cleared by the caller). 0 or -1 on OOM. */
static int chain_one(const tl_decoder *d, const toks *in, toks *out, tl_rx_scratch *rx);

/* Flushes pending byte-fallback bytes: the string when valid UTF-8, else one U+FFFD per byte. */
static int flush_bytes(toks *out, buf *bytes) {
    int r = 0;
    if (!bytes->len) return 0;
    if (utf8_valid(bytes->s, bytes->len)) r = toks_push(out, bytes->s, bytes->len);
    else for (size_t i = 0; i < bytes->len && !r; i++) r = toks_push(out, "\xEF\xBF\xBD", 3);
    bytes->len = 0;
    return r;
}

/* The byte of a "<0xXX>" token, or -1. */
static int byte_token(const char *s, size_t n) {
    if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        int h = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Applies a per-token transform (decoders other than ByteLevel/ByteFallback/Fuse/Sequence). */
static int map_token(const tl_decoder *d, const char *s, size_t n, size_t i, size_t count, buf *b,
                     tl_rx_scratch *rx) {
    uint32_t *cps = NULL;
    size_t nc = 0;
    if (d->kind == TL_DEC_WORDPIECE) {
        size_t pl = strlen(d->text);
        if (i != 0 && n >= pl && !memcmp(s, d->text, pl)) put(b, s + pl, n - pl);
        else { if (i != 0) put(b, " ", 1); put(b, s, n); }
        if (d->cleanup) wordpiece_cleanup(b);
        return b->oom ? -1 : 0;
    }
    if (d->kind == TL_DEC_BPE) {
        put(b, s, n);
        replace_in(b, 0, d->text, i + 1 == count ? "" : " ");
        return b->oom ? -1 : 0;
    }
    if (tl_utf8_decode(s, n, "token", &cps, &nc) != TL_OK) { put(b, s, n); return b->oom ? -1 : 0; }
    if (d->kind == TL_DEC_METASPACE) {
        for (size_t k = 0; k < nc; k++) {
            if (cps[k] != d->ch) put_cp(b, cps[k]);
            else if (i != 0 || d->never) put(b, " ", 1);
        }
    } else if (d->kind == TL_DEC_STRIP) {
        size_t a = 0, e = nc;
        for (size_t k = 0; k < d->start && k < nc && cps[k] == d->ch; k++) a = k + 1;
        for (size_t k = 0; k < d->stop && k < nc - a && cps[nc - 1 - k] == d->ch; k++) e = nc - 1 - k;
        for (size_t k = a; k < e; k++) put_cp(b, cps[k]);
    } else if (d->kind == TL_DEC_REPLACE) {
        tl_matches m = {0};
        if (tl_regex_find(d->re, cps, nc, rx, &m) != TL_OK) { free(m.v); free(cps); return -1; }
        for (size_t k = 0; k < m.len; k++) {
            if (m.v[k].match) put(b, d->content, strlen(d->content));
            else for (size_t c = m.v[k].s; c < m.v[k].e; c++) put_cp(b, cps[c]);
        }
        free(m.v);
    } else {
        put(b, s, n);
    }
    free(cps);
    return b->oom ? -1 : 0;
}

static int chain_one(const tl_decoder *d, const toks *in, toks *out, tl_rx_scratch *rx) {
    int r = 0;
    buf b = {0};
    switch (d->kind) {
    case TL_DEC_NONE:
        for (size_t i = 0; i < in->n && !r; i++) r = toks_push(out, in->s[i], in->len[i]);
        break;
    case TL_DEC_FUSE:
        put(&b, "", 0);
        for (size_t i = 0; i < in->n; i++) put(&b, in->s[i], in->len[i]);
        r = b.oom ? -1 : toks_push(out, b.s, b.len);
        break;
    case TL_DEC_BYTELEVEL: /* each token's chars mapped back to bytes (tokens with a char
                              outside the byte alphabet stay as they are), then lossy UTF-8 */
        put(&b, "", 0);
        for (size_t i = 0; i < in->n && !b.oom; i++) {
            uint32_t *cps;
            size_t nc, k = 0;
            if (tl_utf8_decode(in->s[i], in->len[i], "token", &cps, &nc) != TL_OK) { put(&b, in->s[i], in->len[i]); continue; }
            while (k < nc && tl_bytelevel_byte(cps[k]) >= 0) k++;
            if (k < nc) put(&b, in->s[i], in->len[i]);
            else for (k = 0; k < nc; k++) { char c = (char)tl_bytelevel_byte(cps[k]); put(&b, &c, 1); }
            free(cps);
        }
        if (!b.oom) {
            buf o = {0};
            put(&o, "", 0);
            put_lossy(&o, b.s, b.len);
            r = o.oom ? -1 : toks_push(out, o.s, o.len);
            free(o.s);
        }
        break;
    case TL_DEC_BYTEFALLBACK:
        for (size_t i = 0; i < in->n && !r && !b.oom; i++) {
            int v = byte_token(in->s[i], in->len[i]);
            if (v >= 0) { char c = (char)v; put(&b, &c, 1); continue; }
            r = flush_bytes(out, &b);
            if (!r) r = toks_push(out, in->s[i], in->len[i]);
        }
        if (!r && !b.oom) r = flush_bytes(out, &b);
        break;
    case TL_DEC_SEQUENCE: {
        toks cur = {0};
        for (size_t i = 0; i < in->n && !r; i++) r = toks_push(&cur, in->s[i], in->len[i]);
        for (size_t c = 0; c < d->n_children && !r; c++) {
            toks next = {0};
            r = chain_one(&d->children[c], &cur, &next, rx);
            toks_free(&cur);
            cur = next;
        }
        if (!r) { *out = cur; memset(&cur, 0, sizeof cur); }
        toks_free(&cur);
        break;
    }
    default:
        for (size_t i = 0; i < in->n && !r; i++) {
            b.len = 0;
            put(&b, "", 0);
            r = map_token(d, in->s[i], in->len[i], i, in->n, &b, rx);
            if (!r) r = toks_push(out, b.s, b.len);
        }
    }
    if (b.oom) r = -1;
    free(b.s);
    return r;
}

/* ---------------------------------------------------------------- joining */

/* transformers' clean_up_tokenization on the decoded text. */
static void clean_up(buf *b) {
    static const char *pairs[][2] = {
        {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
        {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) replace_in(b, 0, pairs[i][0], pairs[i][1]);
}

/* Decodes and joins token strings with d (tok_decoder.h); TL_ERR_OOM on failure. */
tl_status tl_decoder_join(const tl_decoder *d, const char *const *tokens, size_t n, int clean_up_spaces,
                          char **out, size_t *out_len) {
    *out = NULL;
    if (out_len) *out_len = 0;
    toks in = {0}, res = {0};
    int r = 0;
    for (size_t i = 0; i < n && !r; i++) r = toks_push(&in, tokens[i], strlen(tokens[i]));
    tl_rx_scratch rx = {0};
    if (!r) r = chain_one(d, &in, &res, &rx);
    tl_rx_scratch_free(&rx);
    buf b = {0};
    put(&b, "", 0);
    for (size_t i = 0; i < res.n && !r; i++) {
        if (i && d->kind == TL_DEC_NONE) put(&b, " ", 1); /* no decoder: joined by spaces */
        put(&b, res.s[i], res.len[i]);
    }
    if (clean_up_spaces) clean_up(&b);
    toks_free(&in);
    toks_free(&res);
    if (r || b.oom) { free(b.s); return tl_set_error(TL_ERR_OOM, "decode: out of memory"); }
    *out = b.s;
    if (out_len) *out_len = b.len;
    return TL_OK;
}

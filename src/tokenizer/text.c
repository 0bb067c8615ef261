/* text.c — UTF-8 decoding and the aligned normalized-string buffer. */
#include "tokenizer/tok_text.h"
#include "core/error.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

/* Grows *p (elem bytes each) from *cap to at least n entries; 0 or -1. */
static int grow(void **p, size_t elem, size_t n) {
    size_t bytes;
    if (tl_mul_overflow(n, elem, &bytes)) return -1;
    void *q = realloc(*p, bytes ? bytes : 1);
    if (!q) return -1;
    *p = q;
    return 0;
}

int tl_nstr_reserve(tl_nstr *s, size_t n) {
    if (s->limit && n > s->limit) return -2;
    if (n <= s->cap) return 0;
    size_t c = s->cap ? s->cap : 16;
    while (c < n) {
        if (c > SIZE_MAX / 2) return -1;
        c *= 2;
    }
    if (grow((void **)&s->cp, sizeof *s->cp, c) || grow((void **)&s->os, sizeof *s->os, c) ||
        grow((void **)&s->oe, sizeof *s->oe, c))
        return -1;
    s->cap = c;
    return 0;
}

int tl_nstr_push(tl_nstr *s, uint32_t cp, int32_t os, int32_t oe) {
    if (s->limit && s->len >= s->limit) return -2;
    int r = s->len == s->cap ? tl_nstr_reserve(s, s->len + 1) : 0;
    if (r) return r;
    s->cp[s->len] = cp;
    s->os[s->len] = os;
    s->oe[s->len] = oe;
    s->len++;
    return 0;
}

tl_status tl_nstr_error(int r, const tl_nstr *s) {
    if (r == -2)
        return tl_set_error(TL_ERR_INVALID_ARG,
                            "normalizer: normalizing this text would make more than %zu characters (the limit "
                            "is tl_encode_params.max_normalize_growth, default 8, times the text's characters "
                            "+ 4096; Python Tokenizer.max_normalize_growth; SIZE_MAX: no limit)", s->limit);
    return tl_set_error(TL_ERR_OOM, "normalizer: out of memory");
}

void tl_nstr_free(tl_nstr *s) {
    free(s->cp);
    free(s->os);
    free(s->oe);
    memset(s, 0, sizeof *s);
}

int tl_spans_push(tl_spans *sp, size_t s, size_t e) {
    if (sp->len == sp->cap) {
        size_t c = sp->cap ? sp->cap * 2 : 16;
        if (c < sp->cap || grow((void **)&sp->v, sizeof *sp->v, c)) return -1;
        sp->cap = c;
    }
    sp->v[sp->len].s = s;
    sp->v[sp->len].e = e;
    sp->len++;
    return 0;
}

tl_status tl_utf8_decode(const char *str, size_t len, const char *what, uint32_t **out, size_t *n) {
    size_t cap = 0;
    *out = NULL;
    tl_status st = tl_utf8_decode_into(str, len, what, out, &cap, n);
    if (st != TL_OK) { free(*out); *out = NULL; }
    return st;
}

tl_status tl_utf8_decode_into(const char *str, size_t len, const char *what, uint32_t **buf, size_t *cap,
                              size_t *n) {
    *n = 0;
    if (len > (size_t)INT32_MAX - 1)
        return tl_set_error(TL_ERR_INVALID_ARG, "%s: input of %zu bytes is too long", what, len);
    if (tl_grow((void **)buf, cap, len ? len : 1, sizeof **buf))
        return tl_set_error(TL_ERR_OOM, "%s: cannot allocate %zu code points", what, len);
    uint32_t *cps = *buf;
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, k = 0;
    while (i < len) {
        if (len - i >= 8) { /* ASCII run: 8 bytes at a time */
            uint64_t v;
            memcpy(&v, s + i, 8);
            if (!(v & 0x8080808080808080ULL)) {
                for (int j = 0; j < 8; j++) cps[k + j] = s[i + j];
                k += 8;
                i += 8;
                continue;
            }
        }
        unsigned c = s[i];
        uint32_t cp;
        size_t need;
        if (c < 0x80) { cps[k++] = c; i++; continue; }
        else if (c >= 0xC2 && c <= 0xDF) { need = 1; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { need = 2; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { need = 3; cp = c & 0x07; }
        else goto bad;
        if (len - i <= need) goto bad;
        for (size_t j = 1; j <= need; j++) {
            unsigned d = s[i + j];
            if ((d & 0xC0) != 0x80) goto bad;
            /* second-byte limits rule out overlongs, surrogates and > U+10FFFF */
            if (j == 1) {
                if (c == 0xE0 && d < 0xA0) goto bad;
                if (c == 0xED && d > 0x9F) goto bad;
                if (c == 0xF0 && d < 0x90) goto bad;
                if (c == 0xF4 && d > 0x8F) goto bad;
            }
            cp = (cp << 6) | (d & 0x3F);
        }
        cps[k++] = cp;
        i += need + 1;
        continue;
    bad:
        return tl_set_error(TL_ERR_INVALID_ARG, "%s: invalid UTF-8 at byte offset %zu", what, i);
    }
    *n = k;
    return TL_OK;
}

size_t tl_utf8_put(uint32_t c, char *b) {
    if (c < 0x80) { b[0] = (char)c; return 1; }
    if (c < 0x800) { b[0] = (char)(0xC0 | (c >> 6)); b[1] = (char)(0x80 | (c & 0x3F)); return 2; }
    if (c < 0x10000) {
        b[0] = (char)(0xE0 | (c >> 12)); b[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        b[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    b[0] = (char)(0xF0 | (c >> 18)); b[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    b[2] = (char)(0x80 | ((c >> 6) & 0x3F)); b[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

int tl_tok_json_index(const cJSON *obj, const char *key, long def, long max, long *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = def;
    if (!v || cJSON_IsNull(v)) return 1;
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= (double)max) || d != (double)(long)d) return 0;
    *out = (long)d;
    return 1;
}

/* Replaces s by NormalizedString::transform of (cp, ch) pairs (tok_text.h); TL_ERR_OOM. */
tl_status tl_norm_transform(tl_nstr *s, const uint32_t *cp, const int32_t *ch, size_t n) {
    tl_nstr out = {.limit = s->limit, .regex_ms = s->regex_ms};
    int r = tl_nstr_reserve(&out, n ? n : 1);
    if (r) return tl_nstr_error(r, &out);
    size_t idx = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t os = 0, oe = 0;
        if (ch[i] > 0) {
            if (idx >= 1 && idx - 1 < s->len) { os = s->os[idx - 1]; oe = s->oe[idx - 1]; }
        } else {
            if (idx < s->len) { os = s->os[idx]; oe = s->oe[idx]; }
            else if (s->len) { os = s->os[s->len - 1]; oe = s->oe[s->len - 1]; }
            idx += 1 + (size_t)(-(int64_t)ch[i]);
        }
        tl_nstr_push(&out, cp[i], os, oe); /* capacity reserved above */
    }
    tl_nstr_free(s);
    *s = out;
    return TL_OK;
}

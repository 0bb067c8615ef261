/* norm_extra.c — normalizers Precompiled (SentencePiece's precompiled_charsmap: a darts
 * double-array trie over UTF-8 plus a pool of NUL-terminated replacements, applied per
 * grapheme the way tokenizers' spm_precompiled does), Replace, Strip and Prepend. */
#include "tokenizer/tok_normalizer.h"
#include "tokenizer/tok_regex.h"
#include "tokenizer/tok_text.h"
#include "tokenizer/unicode.h"
#include "core/error.h"
#include "core/util.h"
#include "io/json.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* Decodes standard base64 (padding optional, no whitespace); returns malloc'd bytes or NULL. */
static unsigned char *b64_decode(const char *s, size_t *out_len) {
    size_t n = strlen(s);
    unsigned char *out = malloc(n / 4 * 3 + 4);
    if (!out) return NULL;
    uint32_t acc = 0;
    int bits = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int v = c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26 :
                c >= '0' && c <= '9' ? c - '0' + 52 : c == '+' ? 62 : c == '/' ? 63 : c == '=' ? -2 : -1;
        if (v == -2) break;
        if (v < 0) { free(out); return NULL; }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) { bits -= 8; out[k++] = (unsigned char)(acc >> bits); }
    }
    *out_len = k;
    return out;
}

/* Darts unit fields. */
static uint32_t u_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }
static uint32_t u_label(uint32_t u) { return u & ((1u << 31) | 0xFF); }
static int u_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static uint32_t u_value(uint32_t u) { return u & ((1u << 31) - 1); }

/* tokenizers' transform(): the replacement of the SHORTEST trie key that prefixes
 * key[0, n) (stopping at a NUL byte), as pool offset; -1 when none. */
static long trie_first(const tl_normalizer *nm, const unsigned char *key, size_t n) {
    if (!nm->n_trie) return -1;
    size_t pos = u_offset(nm->trie[0]);
    for (size_t i = 0; i < n; i++) {
        if (key[i] == 0) break;
        pos ^= key[i];
        if (pos >= nm->n_trie) return -1;
        uint32_t u = nm->trie[pos];
        if (u_label(u) != key[i]) return -1;
        pos ^= u_offset(u);
        if (u_has_leaf(u)) return pos < nm->n_trie ? (long)u_value(nm->trie[pos]) : -1;
    }
    return -1;
}

/* Appends the chars of pool entry off (NUL-terminated) replacing old_count chars, with the
 * change values tokenizers produces: chars pair up with the old ones (the first consumes
 * the surplus when shrinking), extra new chars are insertions; an empty replacement makes the previous
 * output char consume the removed ones. 0 or -1 on OOM. */
static int push_replacement(const tl_normalizer *nm, long off, size_t old_count, uint32_t **cp, int32_t **ch,
                            size_t *len, size_t *cap) {
    size_t end = (size_t)off;
    while (end < nm->n_pool && nm->pool[end]) end++;
    utf8proc_int32_t c;
    size_t cnt = 0;
    for (size_t i = (size_t)off; i < end;) {
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)nm->pool + i, (utf8proc_ssize_t)(end - i), &c);
        if (k <= 0) break;
        i += (size_t)k;
        cnt++;
    }
    if (cnt == 0) {
        /* removed: the previous output char also consumes these (none at the start) */
        if (*len > 0) (*ch)[*len - 1] -= (int32_t)old_count;
        return 0;
    }
    size_t j = 0;
    for (size_t i = (size_t)off; i < end; j++) {
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)nm->pool + i, (utf8proc_ssize_t)(end - i), &c);
        if (k <= 0) break;
        i += (size_t)k;
        if (*len == *cap) {
            if (tl_grow((void **)cp, cap, *len + 1, sizeof **cp)) return -1;
            size_t c2 = *len;
            if (tl_grow((void **)ch, &c2, *cap, sizeof **ch)) return -1;
        }
        (*cp)[*len] = (uint32_t)c;
        (*ch)[*len] = j == 0 ? ((int32_t)cnt < (int32_t)old_count ? (int32_t)cnt - (int32_t)old_count : 0)
                             : (j < old_count ? 0 : 1);
        (*len)++;
    }
    return 0;
}

/* Precompiled: graphemes (< 6 UTF-8 bytes) are looked up whole, else char by char. */
static tl_status precompiled(const tl_normalizer *nm, tl_nstr *s) {
    if (!nm->n_trie || s->len == 0) return TL_OK;
    uint32_t *cp = NULL;
    int32_t *ch = NULL;
    size_t len = 0, cap = 0;
    unsigned char key[64];
    size_t g = 0;
    tl_status st = TL_OK;
    while (g < s->len && st == TL_OK) {
        /* grapheme [g, e) */
        size_t e = g + 1;
        utf8proc_int32_t state = 0;
        while (e < s->len && !utf8proc_grapheme_break_stateful((utf8proc_int32_t)s->cp[e - 1], (utf8proc_int32_t)s->cp[e], &state)) e++;
        size_t nb = 0;
        int fits = 1;
        for (size_t i = g; i < e && fits; i++) {
            if (nb + 4 > sizeof key) { fits = 0; break; }
            nb += tl_utf8_put(s->cp[i], (char *)key + nb);
        }
        size_t old_count = e - g;
        long off = fits && nb < 6 ? trie_first(nm, key, nb) : -1;
        if (off >= 0) {
            if (push_replacement(nm, off, old_count, &cp, &ch, &len, &cap)) st = tl_set_error(TL_ERR_OOM, "normalizer: out of memory");
        } else {
            for (size_t i = g; i < e && st == TL_OK; i++) {
                unsigned char k1[4];
                size_t kn = tl_utf8_put(s->cp[i], (char *)k1);
                long o = trie_first(nm, k1, kn);
                if (o >= 0) {
                    if (push_replacement(nm, o, 1, &cp, &ch, &len, &cap)) st = tl_set_error(TL_ERR_OOM, "normalizer: out of memory");
                } else {
                    if (len == cap) {
                        size_t c2 = cap;
                        if (tl_grow((void **)&cp, &cap, len + 1, sizeof *cp) || tl_grow((void **)&ch, &c2, cap, sizeof *ch)) {
                            st = tl_set_error(TL_ERR_OOM, "normalizer: out of memory");
                            break;
                        }
                    }
                    cp[len] = s->cp[i];
                    ch[len] = 0;
                    len++;
                }
            }
        }
        g = e;
        /* a charsmap entry can be long: bound the text it makes as it grows */
        if (st == TL_OK && s->limit && len > s->limit) st = tl_nstr_error(-2, s);
    }
    if (st == TL_OK) st = tl_norm_transform(s, cp, ch, len);
    free(cp);
    free(ch);
    return st;
}

/* Replace: every match becomes the content, each new char taking the span of the
 * match's last char (an empty match: of the char before it). */
static tl_status replace(const tl_normalizer *nm, tl_nstr *s) {
    if (!nm->re) return TL_OK;
    tl_rx_scratch rx = {.budget_ms = s->regex_ms};
    tl_matches m = {0};
    tl_status st = tl_regex_find(nm->re, s->cp, s->len, &rx, &m);
    tl_nstr out = {.limit = s->limit, .regex_ms = s->regex_ms};
    int r = st == TL_OK ? tl_nstr_reserve(&out, s->len + 1) : 0;
    for (size_t i = 0; i < m.len && st == TL_OK && !r; i++) {
        const tl_match *p = &m.v[i];
        if (!p->match) {
            for (size_t k = p->s; k < p->e && !r; k++) r = tl_nstr_push(&out, s->cp[k], s->os[k], s->oe[k]);
            continue;
        }
        int32_t os = 0, oe = 0;
        if (p->e >= 1 && p->e - 1 < s->len) { os = s->os[p->e - 1]; oe = s->oe[p->e - 1]; }
        /* a replacement longer than what it replaces grows the text: out.limit bounds it */
        for (size_t k = 0; k < nm->n_text && !r; k++) r = tl_nstr_push(&out, nm->text[k], os, oe);
    }
    if (st == TL_OK && r) st = tl_nstr_error(r, &out);
    tl_rx_scratch_free(&rx);
    free(m.v);
    if (st != TL_OK) { tl_nstr_free(&out); return st; }
    tl_nstr_free(s);
    *s = out;
    return TL_OK;
}

tl_status tl_normalizer_apply_extra(const tl_normalizer *n, tl_nstr *s) {
    switch (n->kind) {
    case TL_NORM_PRECOMPILED: return precompiled(n, s);
    case TL_NORM_REPLACE: return replace(n, s);
    case TL_NORM_STRIP: {
        size_t a = 0, b = s->len;
        if (n->strip_left) while (a < b && tl_uc_is_whitespace(s->cp[a])) a++;
        if (n->strip_right) while (b > a && tl_uc_is_whitespace(s->cp[b - 1])) b--;
        if (a > 0) {
            memmove(s->cp, s->cp + a, (b - a) * sizeof *s->cp);
            memmove(s->os, s->os + a, (b - a) * sizeof *s->os);
            memmove(s->oe, s->oe + a, (b - a) * sizeof *s->oe);
        }
        s->len = b - a;
        return TL_OK;
    }
    case TL_NORM_PREPEND: {
        if (s->len == 0 || n->n_text == 0) return TL_OK;
        tl_nstr out = {.limit = s->limit, .regex_ms = s->regex_ms};
        int r = tl_nstr_reserve(&out, s->len + n->n_text);
        if (r) return tl_nstr_error(r, &out);
        for (size_t k = 0; k < n->n_text; k++) tl_nstr_push(&out, n->text[k], s->os[0], s->oe[0]);
        for (size_t k = 0; k < s->len; k++) tl_nstr_push(&out, s->cp[k], s->os[k], s->oe[k]);
        tl_nstr_free(s);
        *s = out;
        return TL_OK;
    }
    default: return TL_OK;
    }
}

/* Decodes a JSON string field into code points (*out malloc'd). */
static tl_status text_field(const cJSON *j, const char *key, const char *path, uint32_t **out, size_t *n) {
    const char *v = tl_json_str(j, key);
    if (!v) return tl_set_error(TL_ERR_FORMAT, "%s: normalizer: \"%s\" is missing or not a string", path, key);
    return tl_utf8_decode(v, strlen(v), path, out, n);
}

/* Loads a base64 precompiled_charsmap (null or "" = identity). */
static tl_status parse_precompiled(const cJSON *j, const char *path, tl_normalizer *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "precompiled_charsmap");
    if (!v || cJSON_IsNull(v) || (cJSON_IsString(v) && !v->valuestring[0])) return TL_OK;
    if (!cJSON_IsString(v)) return tl_set_error(TL_ERR_FORMAT, "%s: Precompiled: precompiled_charsmap is not a string", path);
    size_t n;
    unsigned char *b = b64_decode(v->valuestring, &n);
    if (!b) return tl_set_error(TL_ERR_FORMAT, "%s: Precompiled: precompiled_charsmap is not base64", path);
    uint32_t trie_bytes = n >= 4 ? (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24 : 0;
    if (n < 4 || trie_bytes % 4 || trie_bytes > n - 4 || trie_bytes == 0) {
        free(b);
        return tl_set_error(TL_ERR_FORMAT, "%s: Precompiled: malformed precompiled_charsmap", path);
    }
    out->n_trie = trie_bytes / 4;
    out->trie = malloc(trie_bytes);
    out->n_pool = n - 4 - trie_bytes;
    out->pool = malloc(out->n_pool + 1);
    if (!out->trie || !out->pool) { free(b); return tl_set_error(TL_ERR_OOM, "%s: out of memory", path); }
    for (size_t i = 0; i < out->n_trie; i++) {
        const unsigned char *p = b + 4 + 4 * i;
        out->trie[i] = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    }
    memcpy(out->pool, b + 4 + trie_bytes, out->n_pool);
    out->pool[out->n_pool] = 0;
    free(b);
    return TL_OK;
}

tl_status tl_normalizer_parse_extra(const cJSON *j, const char *type, const char *path, tl_normalizer *out) {
    int ok = 1;
    if (!strcmp(type, "Precompiled")) {
        out->kind = TL_NORM_PRECOMPILED;
        return parse_precompiled(j, path, out);
    }
    if (!strcmp(type, "Strip")) {
        out->kind = TL_NORM_STRIP;
        out->strip_left = tl_json_bool(j, "strip_left", 1, &ok);
        out->strip_right = tl_json_bool(j, "strip_right", 1, &ok);
        return ok ? TL_OK : tl_set_error(TL_ERR_FORMAT, "%s: Strip: a flag is not a boolean", path);
    }
    if (!strcmp(type, "Prepend")) {
        out->kind = TL_NORM_PREPEND;
        return text_field(j, "prepend", path, &out->text, &out->n_text);
    }
    if (!strcmp(type, "Replace")) {
        out->kind = TL_NORM_REPLACE;
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(j, "pattern");
        const char *rx = tl_json_str(pat, "Regex"), *str = tl_json_str(pat, "String");
        if (!rx && !str) return tl_set_error(TL_ERR_FORMAT, "%s: Replace: \"pattern\" needs a Regex or String", path);
        tl_status s = text_field(j, "content", path, &out->text, &out->n_text);
        if (s == TL_OK && (rx || *str)) s = tl_regex_compile(rx ? rx : str, rx == NULL, path, &out->re);
        return s;
    }
    return tl_set_error(TL_ERR_UNSUPPORTED, "%s: normalizer type \"%s\" is not supported", path, type);
}

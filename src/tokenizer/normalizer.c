/* normalizer.c — normalizers (BertNormalizer, Lowercase, StripAccents, NFD/NFKD/NFC/NFKC,
 * Sequence) over an aligned string: every output char keeps the original span of the
 * input char it replaces; inserted chars share the span of the char before them, as
 * tokenizers' NormalizedString::transform does. */
#include "tokenizer/tok_normalizer.h"
#include "tokenizer/tok_regex.h"
#include "tokenizer/tok_text.h"
#include "tokenizer/unicode.h"
#include "core/error.h"
#include "io/json.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define MAX_DEPTH 16

/* A (char, change) list as tokenizers' transform takes it: change 0 replaces the next
 * input char, > 0 inserts a char, < 0 replaces the next char and drops -change more. */
typedef struct { uint32_t *cp; int32_t *ch; size_t len, cap; } tlist;

/* Appends (c, change); 0 or -1 on OOM. */
static int tl_push(tlist *t, uint32_t c, int32_t change) {
    if (t->len == t->cap) {
        size_t n = t->cap ? t->cap * 2 : 64;
        if (n < t->cap || n > SIZE_MAX / sizeof(uint32_t)) return -1;
        uint32_t *a = realloc(t->cp, n * sizeof *a);
        if (!a) return -1;
        t->cp = a;
        int32_t *b = realloc(t->ch, n * sizeof *b);
        if (!b) return -1;
        t->ch = b;
        t->cap = n;
    }
    t->cp[t->len] = c;
    t->ch[t->len] = change;
    t->len++;
    return 0;
}

static void tl_free_list(tlist *t) { free(t->cp); free(t->ch); }

/* Replaces s by the transform t, and frees t. */
static tl_status apply(tl_nstr *s, tlist *t) {
    tl_status st = tl_norm_transform(s, t->cp, t->ch, t->len);
    tl_free_list(t);
    return st;
}

#define OOM_IF(x) do { if (x) { tl_free_list(&t); return tl_set_error(TL_ERR_OOM, "normalizer: out of memory"); } } while (0)

/* Drops chars for which keep() is 0; kept chars keep their spans. */
static tl_status filter(tl_nstr *s, int (*drop)(uint32_t)) {
    size_t k = 0;
    for (size_t i = 0; i < s->len; i++) {
        if (drop(s->cp[i])) continue;
        s->cp[k] = s->cp[i]; s->os[k] = s->os[i]; s->oe[k] = s->oe[i];
        k++;
    }
    s->len = k;
    return TL_OK;
}

/* BertNormalizer clean_text: drop control chars, map whitespace to ' '. */
static tl_status clean_text(tl_nstr *s) {
    filter(s, tl_uc_is_bert_control);
    for (size_t i = 0; i < s->len; i++)
        if (tl_uc_is_whitespace(s->cp[i])) s->cp[i] = ' ';
    return TL_OK;
}

/* BertNormalizer handle_chinese_chars: c -> " c " for CJK ideographs. */
static tl_status chinese(tl_nstr *s) {
    tlist t = {0};
    for (size_t i = 0; i < s->len; i++) {
        uint32_t c = s->cp[i];
        if (tl_uc_is_chinese(c)) OOM_IF(tl_push(&t, ' ', 0) || tl_push(&t, c, 1) || tl_push(&t, ' ', 1));
        else OOM_IF(tl_push(&t, c, 0));
    }
    return apply(s, &t);
}

/* Full lowercase, char by char, as Rust's char::to_lowercase. */
static tl_status lowercase(tl_nstr *s) {
    tlist t = {0};
    for (size_t i = 0; i < s->len; i++) {
        uint32_t lo[3];
        int n = tl_uc_lower(s->cp[i], lo);
        for (int k = 0; k < n; k++) OOM_IF(tl_push(&t, lo[k], k > 0));
    }
    return apply(s, &t);
}

/* Stable-sorts t's entries [a, b), a run of non-starters, by canonical combining class (the
 * change flags move with their chars): insertion sort for the short runs text has, a
 * counting sort over the 255 classes for long ones, so that a hostile run of thousands of
 * marks costs linear time, not quadratic. Returns 0, or -1 on OOM. */
static int sort_marks(tlist *t, size_t a, size_t b) {
    size_t n = b - a;
    if (n <= 32) {
        for (size_t i = a + 1; i < b; i++) {
            int ci = tl_uc_ccc(t->cp[i]);
            for (size_t j = i; j > a && tl_uc_ccc(t->cp[j - 1]) > ci; j--) {
                uint32_t c = t->cp[j]; t->cp[j] = t->cp[j - 1]; t->cp[j - 1] = c;
                int32_t h = t->ch[j]; t->ch[j] = t->ch[j - 1]; t->ch[j - 1] = h;
            }
        }
        return 0;
    }
    uint32_t *cp = malloc(n * sizeof *cp);
    int32_t *ch = malloc(n * sizeof *ch);
    unsigned char *cc = malloc(n);
    if (!cp || !ch || !cc) { free(cp); free(ch); free(cc); return -1; }
    size_t start[257] = {0};
    for (size_t i = 0; i < n; i++) {
        cc[i] = (unsigned char)tl_uc_ccc(t->cp[a + i]);
        start[cc[i] + 1]++;
    }
    for (int k = 1; k < 257; k++) start[k] += start[k - 1];
    for (size_t i = 0; i < n; i++) {
        size_t at = start[cc[i]]++;
        cp[at] = t->cp[a + i];
        ch[at] = t->ch[a + i];
    }
    memcpy(t->cp + a, cp, n * sizeof *cp);
    memcpy(t->ch + a, ch, n * sizeof *ch);
    free(cp); free(ch); free(cc);
    return 0;
}

/* Canonical (compat 0) or compatibility (compat 1) decomposition + canonical ordering. */
static tl_status decompose(tl_nstr *s, int compat) {
    tlist t = {0};
    for (size_t i = 0; i < s->len; i++) {
        uint32_t d[32];
        int n = tl_uc_decompose(s->cp[i], compat, d, 32);
        if (n < 1) { d[0] = s->cp[i]; n = 1; }
        for (int k = 0; k < n; k++) OOM_IF(tl_push(&t, d[k], k > 0));
    }
    /* canonical ordering: each run of non-starters stably sorted by ccc */
    for (size_t i = 0; i < t.len;) {
        if (tl_uc_ccc(t.cp[i]) == 0) { i++; continue; }
        size_t j = i + 1;
        while (j < t.len && tl_uc_ccc(t.cp[j]) != 0) j++;
        OOM_IF(sort_marks(&t, i, j));
        i = j;
    }
    return apply(s, &t);
}

/* Returns the primary composite of a + b, or 0 when they do not compose. */
static uint32_t compose_pair(uint32_t a, uint32_t b) {
    utf8proc_int32_t buf[2] = {(utf8proc_int32_t)a, (utf8proc_int32_t)b};
    utf8proc_ssize_t n = utf8proc_normalize_utf32(buf, 2, UTF8PROC_COMPOSE);
    return n == 1 ? (uint32_t)buf[0] : 0;
}

/* Canonical composition of a decomposed string. Spans follow tokenizers' positional
 * rule: output char k takes the span of the next unconsumed input char, and a composite
 * also consumes the chars it absorbed. */
static tl_status compose(tl_nstr *s) {
    uint32_t *absorbed = calloc(s->len ? s->len : 1, sizeof *absorbed);
    if (!absorbed) return tl_set_error(TL_ERR_OOM, "normalizer: out of memory");
    size_t k = 0;
    long starter = -1;
    int last_ccc = -1;
    for (size_t i = 0; i < s->len; i++) {
        uint32_t c = s->cp[i];
        int ccc = tl_uc_ccc(c);
        if (starter >= 0) {
            int blocked = (size_t)starter + 1 != k && (last_ccc == 0 || last_ccc >= ccc);
            uint32_t comp = blocked ? 0 : compose_pair(s->cp[starter], c);
            if (comp) { s->cp[starter] = comp; absorbed[starter]++; continue; }
        }
        s->cp[k] = c;
        if (ccc == 0) starter = (long)k;
        last_ccc = ccc;
        k++;
    }
    /* positional spans: k <= slot always, so in-place is safe */
    size_t slot = 0;
    for (size_t j = 0; j < k; j++) {
        s->os[j] = s->os[slot];
        s->oe[j] = s->oe[slot];
        slot += 1 + absorbed[j];
    }
    free(absorbed);
    s->len = k;
    return TL_OK;
}

tl_status tl_normalizer_apply(const tl_normalizer *n, tl_nstr *s) {
    tl_status st = TL_OK;
    switch (n->kind) {
    case TL_NORM_NONE: return TL_OK;
    case TL_NORM_BERT:
        if (n->clean_text) st = clean_text(s);
        if (st == TL_OK && n->handle_chinese) st = chinese(s);
        if (st == TL_OK && n->strip_accents) {
            st = decompose(s, 0);
            if (st == TL_OK) st = filter(s, tl_uc_is_mn);
        }
        if (st == TL_OK && n->lowercase) st = lowercase(s);
        return st;
    case TL_NORM_LOWERCASE: return lowercase(s);
    case TL_NORM_STRIP_ACCENTS: return filter(s, tl_uc_is_mark);
    case TL_NORM_NFD: return decompose(s, 0);
    case TL_NORM_NFKD: return decompose(s, 1);
    case TL_NORM_NFC:
        st = decompose(s, 0);
        return st == TL_OK ? compose(s) : st;
    case TL_NORM_NFKC:
        st = decompose(s, 1);
        return st == TL_OK ? compose(s) : st;
    case TL_NORM_SEQUENCE:
        for (size_t i = 0; i < n->n_children && st == TL_OK; i++) st = tl_normalizer_apply(&n->children[i], s);
        return st;
    default:
        return tl_normalizer_apply_extra(n, s);
    }
    return TL_OK;
}

tl_status tl_normalizer_parse(const cJSON *j, const char *path, int depth, tl_normalizer *out) {
    memset(out, 0, sizeof *out);
    if (!j || cJSON_IsNull(j)) return TL_OK;
    if (depth > MAX_DEPTH) return tl_set_error(TL_ERR_FORMAT, "%s: normalizer: nesting too deep", path);
    const char *type = tl_json_str(j, "type");
    if (!type) return tl_set_error(TL_ERR_FORMAT, "%s: normalizer: missing \"type\"", path);
    int ok = 1;
    if (!strcmp(type, "BertNormalizer")) {
        out->kind = TL_NORM_BERT;
        out->clean_text = tl_json_bool(j, "clean_text", 1, &ok);
        out->handle_chinese = tl_json_bool(j, "handle_chinese_chars", 1, &ok);
        out->lowercase = tl_json_bool(j, "lowercase", 1, &ok);
        out->strip_accents = tl_json_bool(j, "strip_accents", out->lowercase, &ok);
        if (!ok) return tl_set_error(TL_ERR_FORMAT, "%s: normalizer BertNormalizer: a flag is not a boolean", path);
    } else if (!strcmp(type, "Lowercase")) out->kind = TL_NORM_LOWERCASE;
    else if (!strcmp(type, "StripAccents")) out->kind = TL_NORM_STRIP_ACCENTS;
    else if (!strcmp(type, "NFD")) out->kind = TL_NORM_NFD;
    else if (!strcmp(type, "NFKD")) out->kind = TL_NORM_NFKD;
    else if (!strcmp(type, "NFC")) out->kind = TL_NORM_NFC;
    else if (!strcmp(type, "NFKC")) out->kind = TL_NORM_NFKC;
    else if (!strcmp(type, "Sequence")) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "normalizers");
        if (!cJSON_IsArray(arr)) return tl_set_error(TL_ERR_FORMAT, "%s: normalizer Sequence: \"normalizers\" is not an array", path);
        int n = cJSON_GetArraySize(arr);
        out->kind = TL_NORM_SEQUENCE;
        out->children = calloc(n > 0 ? (size_t)n : 1, sizeof *out->children);
        if (!out->children) return tl_set_error(TL_ERR_OOM, "%s: out of memory", path);
        const cJSON *it;
        cJSON_ArrayForEach(it, arr) {
            tl_status s = tl_normalizer_parse(it, path, depth + 1, &out->children[out->n_children]);
            out->n_children++;
            if (s != TL_OK) { tl_normalizer_free(out); return s; }
        }
    } else {
        return tl_normalizer_parse_extra(j, type, path, out);
    }
    return TL_OK;
}

void tl_normalizer_free(tl_normalizer *n) {
    if (!n) return;
    for (size_t i = 0; i < n->n_children; i++) tl_normalizer_free(&n->children[i]);
    free(n->children);
    tl_regex_free(n->re);
    free(n->text);
    free(n->trie);
    free(n->pool);
    memset(n, 0, sizeof *n);
}

/* regex.c — PCRE2 (UTF + UCP) behind tokenizers' Pattern semantics: find_matches over a
 * code-point string returning alternating (gap, match) pieces that cover it, with the
 * empty-match stepping of the onig crate's find_iter, bounded in steps and time (a
 * hostile tokenizer.json's pattern may backtrack catastrophically); and the
 * SplitDelimiterBehavior rules that turn those pieces into word spans. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/tok_regex.h"
#include "tokenizer/tok_text.h"
#include "core/error.h"
#include "core/util.h"
#include "tokenizer/regex_tables.h"

#include <limits.h>
#include <pcre2.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

struct tl_regex {
    pcre2_code *code;
    int jit;
    char *pattern; /* as the file gives it, for errors */
};

/* A growable output string for the pattern rewriter. */
typedef struct { char *p; size_t len, cap; int oom; } sbuf;

/* Appends n bytes of s. */
static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (tl_grow((void **)&b->p, &b->cap, b->len + n + 1, 1)) { b->oom = 1; return; }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

/* Appends the ranges of class c as class items (no brackets). */
static void sb_ranges(sbuf *b, const tl_rx_class *c) {
    char tmp[48];
    for (size_t i = 0; i < c->n; i++) {
        int k = c->ranges[i][0] == c->ranges[i][1]
                    ? snprintf(tmp, sizeof tmp, "\\x{%X}", c->ranges[i][0])
                    : snprintf(tmp, sizeof tmp, "\\x{%X}-\\x{%X}", c->ranges[i][0], c->ranges[i][1]);
        sb_put(b, tmp, (size_t)k);
    }
}

/* Returns the measured class for \\p{name} / \\s, or NULL. */
static const tl_rx_class *find_class(const char *name, size_t n) {
    for (size_t i = 0; i < tl_rx_classes_n; i++)
        if (strlen(tl_rx_classes[i].name) == n && !memcmp(tl_rx_classes[i].name, name, n)) return &tl_rx_classes[i];
    return NULL;
}

/* The length of the group opener at pat (outside a class) after which a callout may go
 * without changing what the pattern means: "(" of a capturing group, "(?:", "(?>",
 * "(?=", "(?!", "(?<=", "(?<!" and option groups such as "(?i:"; 0 for anything else
 * ("(?#", "(?(", "(?<name>", "(*VERB)", "(?i)"...). */
static size_t group_opener(const char *pat) {
    if (pat[0] != '(') return 0;
    if (pat[1] != '?') return pat[1] == '*' ? 0 : 1;
    if (pat[2] == ':' || pat[2] == '>' || pat[2] == '=' || pat[2] == '!') return 3;
    if (pat[2] == '<' && (pat[3] == '=' || pat[3] == '!')) return 4;
    size_t k = 2;
    while ((pat[k] >= 'a' && pat[k] <= 'z') || (pat[k] >= 'A' && pat[k] <= 'Z') || pat[k] == '-' || pat[k] == '^') k++;
    return k > 2 && pat[k] == ':' ? k + 1 : 0;
}

/* Rewrites \\p{X}, \\P{X}, \\s and \\S (X one of the measured classes) into explicit
 * code point classes, so PCRE2 matches exactly what tokenizers' Oniguruma does, and puts
 * a callout (?C1) at the start (after any leading (*VERB)s) and at the start of every
 * group and lookaround, where tl_regex_find checks its time budget. Returns a malloc'd
 * pattern, or NULL on OOM. */
static char *rewrite_pattern(const char *pat) {
    sbuf b = {0};
    int in_class = 0;
    size_t n = strlen(pat);
    sb_put(&b, "", 0);
    size_t i0 = 0;
    while (pat[i0] == '(' && pat[i0 + 1] == '*') { /* leading verbs must stay first */
        const char *e = strchr(pat + i0, ')');
        if (!e) break;
        i0 = (size_t)(e - pat) + 1;
    }
    sb_put(&b, pat, i0);
    sb_put(&b, "(?C1)", 5);
    for (size_t i = i0; i < n; i++) {
        char c = pat[i];
        size_t go = in_class ? 0 : group_opener(pat + i);
        if (go) {
            sb_put(&b, pat + i, go);
            sb_put(&b, "(?C1)", 5);
            i += go - 1;
            continue;
        }
        if (c == '\\' && i + 1 < n) {
            char d = pat[i + 1];
            const tl_rx_class *cls = NULL;
            size_t skip = 2;
            int neg = 0;
            if ((d == 'p' || d == 'P') && i + 2 < n) {
                neg = d == 'P';
                if (pat[i + 2] == '{') {
                    const char *end = strchr(pat + i + 3, '}');
                    if (end) {
                        const char *nm = pat + i + 3;
                        size_t nl = (size_t)(end - nm);
                        if (nl > 0 && nm[0] == '^') { neg = !neg; nm++; nl--; }
                        cls = find_class(nm, nl);
                        skip = (size_t)(end - (pat + i)) + 1;
                    }
                } else {
                    cls = find_class(pat + i + 2, 1);
                    skip = 3;
                }
            } else if (d == 's' || d == 'S') {
                cls = find_class("s", 1);
                neg = d == 'S';
            }
            if (cls && !(in_class && neg)) {
                if (!in_class) sb_put(&b, neg ? "[^" : "[", neg ? 2 : 1);
                sb_ranges(&b, cls);
                if (!in_class) sb_put(&b, "]", 1);
                i += skip - 1;
                continue;
            }
            if (d == 'Q') { /* \\Q...\\E quotes verbatim */
                const char *e = strstr(pat + i + 2, "\\E");
                size_t stop = e ? (size_t)(e - pat) + 2 : n;
                sb_put(&b, pat + i, stop - i);
                i = stop - 1;
                continue;
            }
            sb_put(&b, pat + i, 2);
            i++;
            continue;
        }
        if (!in_class && c == '[') {
            in_class = 1;
            size_t j = i + 1;
            if (j < n && pat[j] == '^') j++;
            if (j < n && pat[j] == ']') j++; /* a leading ] is literal */
            sb_put(&b, pat + i, j - i);
            i = j - 1;
            continue;
        }
        if (in_class && c == '[' && i + 1 < n && pat[i + 1] == ':') {
            const char *e = strstr(pat + i + 2, ":]");
            size_t stop = e ? (size_t)(e - pat) + 2 : i + 1;
            sb_put(&b, pat + i, stop - i);
            i = stop - 1;
            continue;
        }
        if (in_class && c == ']') in_class = 0;
        sb_put(&b, &c, 1);
    }
    if (b.oom) { free(b.p); return NULL; }
    return b.p;
}

/* Compiles pattern; literal = 1 matches it as a plain string. TL_ERR_FORMAT names what. */
tl_status tl_regex_compile(const char *pattern, int literal, const char *what, tl_regex **out) {
    *out = NULL;
    int err;
    PCRE2_SIZE eoff;
    uint32_t opts = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
    char *rw = literal ? NULL : rewrite_pattern(pattern);
    if (!literal && !rw) return tl_set_error(TL_ERR_OOM, "%s: out of memory", what);
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)(rw ? rw : pattern), PCRE2_ZERO_TERMINATED, opts, &err, &eoff, NULL);
    free(rw);
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return tl_set_error(TL_ERR_FORMAT, "%s: regex \"%s\" does not compile at offset %zu: %s", what,
                            pattern, (size_t)eoff, (const char *)msg);
    }
    tl_regex *re = calloc(1, sizeof *re);
    if (!re || !(re->pattern = tl_strdup(pattern))) {
        free(re);
        pcre2_code_free(code);
        return tl_set_error(TL_ERR_OOM, "%s: out of memory", what);
    }
    re->code = code;
    re->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    *out = re;
    return TL_OK;
}

/* Frees re (NULL is a no-op). */
void tl_regex_free(tl_regex *re) {
    if (!re) return;
    pcre2_code_free(re->code);
    free(re->pattern);
    free(re);
}

/* Frees the scratch buffers of a matcher. */
void tl_rx_scratch_free(tl_rx_scratch *sc) {
    free(sc->u8);
    free(sc->b2c);
    if (sc->md) pcre2_match_data_free(sc->md);
    if (sc->mctx) pcre2_match_context_free(sc->mctx);
    if (sc->jstack) pcre2_jit_stack_free(sc->jstack);
    memset(sc, 0, sizeof *sc);
}

/* Appends a piece; 0 or -1 on OOM. */
static int match_push(tl_matches *m, size_t s, size_t e, int is_match) {
    if (m->len == m->cap) {
        size_t c = m->cap ? m->cap * 2 : 32;
        if (c > SIZE_MAX / sizeof *m->v) return -1;
        tl_match *v = realloc(m->v, c * sizeof *v);
        if (!v) return -1;
        m->v = v;
        m->cap = c;
    }
    m->v[m->len].s = s; m->v[m->len].e = e; m->v[m->len].match = is_match;
    m->len++;
    return 0;
}

/* Encodes cps[0,n) as UTF-8 into sc->u8 with sc->b2c[byte] = char index (b2c[len] = n). */
static int to_utf8(tl_rx_scratch *sc, const uint32_t *cps, size_t n, size_t *blen) {
    size_t need;
    if (tl_mul_overflow(n, 4, &need) || tl_add_overflow(need, 1, &need)) return -1;
    if (need > sc->cap) {
        char *u = realloc(sc->u8, need);
        if (!u) return -1;
        sc->u8 = u;
        size_t *b = realloc(sc->b2c, need * sizeof *b);
        if (!b) return -1;
        sc->b2c = b;
        sc->cap = need;
    }
    size_t b = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = tl_utf8_put(cps[i], sc->u8 + b);
        for (size_t j = 0; j < k; j++) sc->b2c[b + j] = i;
        b += k;
    }
    sc->b2c[b] = n;
    *blen = b;
    return 0;
}

/* CLOCK_MONOTONIC in nanoseconds (a vDSO call: the callouts check it often; the thread's
 * CPU time, which load would not inflate, is a system call and made matching slower). */
static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* The callout at each start and group of a rewritten pattern: fails the match (the
 * negative value ends pcre2_match) once the find's deadline has passed. */
static int budget_callout(pcre2_callout_block *cb, void *arg) {
    (void)cb;
    tl_rx_scratch *sc = arg;
    if (now_ns() <= sc->deadline_ns) return 0;
    sc->timed_out = 1;
    return PCRE2_ERROR_CALLOUT;
}

/* Creates sc's match data, match context (match limit, callout) and JIT stack once. */
static int scratch_ready(tl_rx_scratch *sc) {
    if (!sc->md && !(sc->md = pcre2_match_data_create(1, NULL))) return -1;
    if (!sc->mctx) {
        if (!(sc->mctx = pcre2_match_context_create(NULL))) return -1;
        pcre2_set_match_limit(sc->mctx, TL_REGEX_MATCH_LIMIT);
        pcre2_set_depth_limit(sc->mctx, TL_REGEX_MATCH_LIMIT);
        pcre2_set_heap_limit(sc->mctx, 64 * 1024); /* KiB: the interpreter's backtracking frames */
    }
    /* the JIT's default 32 KiB stack ends long group repeats early; 8 MiB at most */
    if (!sc->jstack && (sc->jstack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, NULL)))
        pcre2_jit_stack_assign(sc->mctx, NULL, sc->jstack);
    pcre2_set_callout(sc->mctx, budget_callout, sc); /* sc may have moved since */
    return 0;
}

/* The error for PCRE2 result rc of re at char pos of an n-char text. */
static tl_status match_error(const tl_regex *re, const tl_rx_scratch *sc, int rc, size_t pos, size_t n,
                             size_t budget_ms) {
    const char *pat = re->pattern;
    int pl = strlen(pat) > 200 ? 200 : (int)strlen(pat);
    const char *more = strlen(pat) > 200 ? "..." : "";
    if (sc->timed_out)
        return tl_set_error(TL_ERR_INVALID_ARG,
                            "regex \"%.*s%s\" ran longer than its budget of %zu ms on a text of %zu characters "
                            "(it backtracks catastrophically; tl_encode_params.max_regex_ms, default %d, "
                            "+ 1 ms per 1,000 characters; Python Tokenizer.max_regex_ms)",
                            pl, pat, more, budget_ms, n, (int)TL_DEFAULT_REGEX_MS);
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT ||
        rc == PCRE2_ERROR_JIT_STACKLIMIT)
        return tl_set_error(TL_ERR_INVALID_ARG,
                            "regex \"%.*s%s\" reached PCRE2's backtracking limit (%u steps) at character %zu "
                            "of %zu: it backtracks catastrophically (nested quantifiers such as (a+)+)",
                            pl, pat, more, TL_REGEX_MATCH_LIMIT, pos, n);
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(rc, msg, sizeof msg);
    return tl_set_error(TL_ERR_INTERNAL, "regex \"%.*s%s\": match failed (PCRE2 error %d: %s)", pl, pat, more, rc,
                        (const char *)msg);
}

tl_status tl_regex_find(const tl_regex *re, const uint32_t *cps, size_t n, tl_rx_scratch *sc,
                        tl_matches *out) {
    out->len = 0;
    if (n == 0) return match_push(out, 0, 0, 0) ? tl_set_error(TL_ERR_OOM, "regex: out of memory") : TL_OK;
    size_t blen;
    if (to_utf8(sc, cps, n, &blen)) return tl_set_error(TL_ERR_OOM, "regex: out of memory");
    if (scratch_ready(sc)) return tl_set_error(TL_ERR_OOM, "regex: out of memory");
    size_t base = sc->budget_ms ? sc->budget_ms : TL_DEFAULT_REGEX_MS, budget = base;
    if (base != SIZE_MAX && (budget = base + n / 1000) < base) budget = SIZE_MAX;
    sc->timed_out = 0;
    sc->deadline_ns = budget >= (size_t)(LLONG_MAX / 2000000) ? LLONG_MAX : now_ns() + (long long)budget * 1000000LL;
    size_t prev = 0, last_end = 0;
    int have_last = 0;
    size_t last_match_end = 0;
    while (last_end <= blen) {
        int rc = re->jit ? pcre2_jit_match(re->code, (PCRE2_SPTR)sc->u8, blen, last_end, 0, sc->md, sc->mctx)
                         : pcre2_match(re->code, (PCRE2_SPTR)sc->u8, blen, last_end, PCRE2_NO_UTF_CHECK, sc->md,
                                       sc->mctx);
        if (rc < 0) {
            if (rc == PCRE2_ERROR_NOMATCH) break;
            return match_error(re, sc, rc, sc->b2c[last_end], n, budget);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(sc->md);
        size_t s = ov[0], e = ov[1];
        if (e == s && have_last && last_match_end == e) {
            /* no empty match right after the previous one: step one char */
            if (last_end >= blen) break;
            char tmp[4];
            last_end += tl_utf8_put(cps[sc->b2c[last_end]], tmp);
            continue;
        }
        last_end = e;
        last_match_end = e;
        have_last = 1;
        size_t cs = sc->b2c[s], ce = sc->b2c[e];
        if (prev != cs && match_push(out, prev, cs, 0)) goto oom;
        if (match_push(out, cs, ce, 1)) goto oom;
        prev = ce;
    }
    if (prev != n && match_push(out, prev, n, 0)) goto oom;
    return TL_OK;
oom:
    return tl_set_error(TL_ERR_OOM, "regex: out of memory");
}

tl_status tl_char_find(int (*pred)(uint32_t, uint32_t), uint32_t arg, const uint32_t *cps, size_t n,
                       tl_matches *out) {
    out->len = 0;
    if (n == 0) return match_push(out, 0, 0, 0) ? tl_set_error(TL_ERR_OOM, "split: out of memory") : TL_OK;
    size_t last = 0;
    for (size_t i = 0; i < n; i++) {
        if (!pred(cps[i], arg)) continue;
        if (last < i && match_push(out, last, i, 0)) goto oom;
        if (match_push(out, i, i + 1, 1)) goto oom;
        last = i + 1;
    }
    if (n > last && match_push(out, last, n, 0)) goto oom;
    return TL_OK;
oom:
    return tl_set_error(TL_ERR_OOM, "split: out of memory");
}

tl_status tl_split_apply(tl_matches *m, tl_split_behavior beh, int invert, size_t base, tl_spans *out) {
    if (invert)
        for (size_t i = 0; i < m->len; i++) m->v[i].match = !m->v[i].match;
    size_t k = 0; /* pieces are rewritten in place: m->v[0..k) holds (span, remove) */
    int prev = 0;
    switch (beh) {
    case TL_SPLIT_ISOLATED:
        for (size_t i = 0; i < m->len; i++) m->v[i].match = 0;
        k = m->len;
        break;
    case TL_SPLIT_REMOVED:
        k = m->len;
        break;
    case TL_SPLIT_CONTIGUOUS:
    case TL_SPLIT_MERGED_PREV:
        for (size_t i = 0; i < m->len; i++) {
            int is = m->v[i].match;
            int join = beh == TL_SPLIT_CONTIGUOUS ? is == prev : (is && !prev);
            if (join && k > 0) m->v[k - 1].e = m->v[i].e;
            else { m->v[k] = m->v[i]; m->v[k].match = 0; k++; }
            prev = is;
        }
        break;
    case TL_SPLIT_MERGED_NEXT: {
        /* walk backwards, writing from the end, then shift down */
        size_t w = m->len;
        for (size_t i = m->len; i-- > 0;) {
            int is = m->v[i].match;
            if (is && !prev && w < m->len) m->v[w].s = m->v[i].s;
            else { w--; m->v[w] = m->v[i]; m->v[w].match = 0; }
            prev = is;
        }
        k = m->len - w;
        memmove(m->v, m->v + w, k * sizeof *m->v);
        break;
    }
    }
    for (size_t i = 0; i < k; i++) {
        if (m->v[i].match || m->v[i].e <= m->v[i].s) continue;
        if (tl_spans_push(out, base + m->v[i].s, base + m->v[i].e)) return tl_set_error(TL_ERR_OOM, "split: out of memory");
    }
    return TL_OK;
}

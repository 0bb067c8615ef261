/* pretokenizer.c — pre-tokenizers: BertPreTokenizer, Whitespace, WhitespaceSplit, ByteLevel,
 * Metaspace, Split, Punctuation, Digits and Sequence. They work on a tl_ptbuf: a copy of
 * the normalized text (ByteLevel and Metaspace rewrite it, keeping every char's original
 * span as tokenizers' NormalizedString does) and the list of word spans into it. */
#include "tokenizer/tok_pretok.h"
#include "tokenizer/tok_regex.h"
#include "tokenizer/tok_text.h"
#include "tokenizer/unicode.h"
#include "core/error.h"
#include "io/json.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static tl_status oom(void) { return tl_set_error(TL_ERR_OOM, "pre-tokenizer: out of memory"); }

const char tl_gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/* The GPT-2 byte <-> unicode table: printable bytes map to themselves, the rest to 256+. */
static uint32_t byte_char[256];
static int16_t char_byte[324];
static void init_bytes_once(void) {
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int keep = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        byte_char[b] = keep ? (uint32_t)b : (uint32_t)(256 + n++);
    }
    for (int i = 0; i < 324; i++) char_byte[i] = -1;
    for (int b = 0; b < 256; b++) char_byte[byte_char[b]] = (int16_t)b;
}
static pthread_once_t bytes_once = PTHREAD_ONCE_INIT;
static void init_bytes(void) { pthread_once(&bytes_once, init_bytes_once); }

uint32_t tl_bytelevel_char(uint8_t b) { init_bytes(); return byte_char[b]; }
int tl_bytelevel_byte(uint32_t c) { init_bytes(); return c < 324 ? char_byte[c] : -1; }

/* Splits [from, to) on whitespace (removed) and isolates each punctuation char. */
static tl_status split_bert(const tl_nstr *s, size_t from, size_t to, int punct, tl_spans *out) {
    size_t start = from;
    for (size_t i = from; i < to; i++) {
        uint32_t c = s->cp[i];
        if (tl_uc_is_whitespace(c)) {
            if (i > start && tl_spans_push(out, start, i)) return oom();
            start = i + 1;
        } else if (punct && tl_uc_is_bert_punct(c)) {
            if (i > start && tl_spans_push(out, start, i)) return oom();
            if (tl_spans_push(out, i, i + 1)) return oom();
            start = i + 1;
        }
    }
    if (to > start && tl_spans_push(out, start, to)) return oom();
    return TL_OK;
}

/* Whitespace: the regex \w+|[^\w\s]+ — runs of word chars and runs of other non-space chars. */
static tl_status split_whitespace_regex(const tl_nstr *s, size_t from, size_t to, tl_spans *out) {
    size_t i = from;
    while (i < to) {
        uint32_t c = s->cp[i];
        if (tl_uc_is_whitespace(c)) { i++; continue; }
        int w = tl_uc_is_word(c);
        size_t j = i + 1;
        while (j < to && !tl_uc_is_whitespace(s->cp[j]) && tl_uc_is_word(s->cp[j]) == w) j++;
        if (tl_spans_push(out, i, j)) return oom();
        i = j;
    }
    return TL_OK;
}

static int pred_punct(uint32_t c, uint32_t arg) { (void)arg; return tl_uc_is_bert_punct(c); }
static int pred_numeric(uint32_t c, uint32_t arg) { (void)arg; return tl_uc_is_numeric(c); }
static int pred_eq(uint32_t c, uint32_t arg) { return c == arg; }

/* Splits one word [s, e) of b->buf by p (a splitting kind), appending to b->tmpw. */
static tl_status split_word(const tl_pretok *p, tl_ptbuf *b, size_t s, size_t e) {
    const uint32_t *cps = b->buf.cp + s;
    tl_status st;
    switch (p->kind) {
    case TL_PRE_BERT: return split_bert(&b->buf, s, e, 1, &b->tmpw);
    case TL_PRE_WHITESPACE_SPLIT: return split_bert(&b->buf, s, e, 0, &b->tmpw);
    case TL_PRE_WHITESPACE: return split_whitespace_regex(&b->buf, s, e, &b->tmpw);
    case TL_PRE_PUNCTUATION:
        st = tl_char_find(pred_punct, 0, cps, e - s, &b->m);
        return st == TL_OK ? tl_split_apply(&b->m, p->behavior, 0, s, &b->tmpw) : st;
    case TL_PRE_DIGITS:
        st = tl_char_find(pred_numeric, 0, cps, e - s, &b->m);
        return st == TL_OK ? tl_split_apply(&b->m, p->individual_digits ? TL_SPLIT_ISOLATED : TL_SPLIT_CONTIGUOUS,
                                            0, s, &b->tmpw) : st;
    case TL_PRE_METASPACE:
        st = tl_char_find(pred_eq, p->replacement, cps, e - s, &b->m);
        return st == TL_OK ? tl_split_apply(&b->m, TL_SPLIT_MERGED_NEXT, 0, s, &b->tmpw) : st;
    case TL_PRE_SPLIT:
    case TL_PRE_BYTE_LEVEL:
        st = tl_regex_find(p->re, cps, e - s, &b->rx, &b->m);
        if (st != TL_OK) return st;
        return tl_split_apply(&b->m, p->kind == TL_PRE_SPLIT ? p->behavior : TL_SPLIT_ISOLATED,
                              p->kind == TL_PRE_SPLIT ? p->invert : 0, s, &b->tmpw);
    default:
        return tl_spans_push(&b->tmpw, s, e) ? oom() : TL_OK;
    }
}

/* Re-splits every word of b with p. */
static tl_status split_all(const tl_pretok *p, tl_ptbuf *b) {
    b->tmpw.len = 0;
    for (size_t i = 0; i < b->words.len; i++) {
        tl_status st = split_word(p, b, b->words.v[i].s, b->words.v[i].e);
        if (st != TL_OK) return st;
    }
    tl_spans t = b->words; b->words = b->tmpw; b->tmpw = t;
    return TL_OK;
}

/* Rewrites every word: prepends `pre` (when pre != 0 and want(word) says so) and, with
 * bytes = 1, replaces each char by the byte-level chars of its UTF-8 bytes. New chars take
 * the original span of the char they come from (a prepended one, that of the first char). */
static tl_status rewrite(tl_ptbuf *b, uint32_t pre, const tl_pretok *p, int bytes) {
    b->tmp.len = 0;
    b->tmpw.len = 0;
    size_t need = b->buf.len * (bytes ? 4 : 1) + b->words.len * (bytes ? 4 : 1) + 1;
    if (tl_nstr_reserve(&b->tmp, need)) return oom();
    for (size_t w = 0; w < b->words.len; w++) {
        size_t s = b->words.v[w].s, e = b->words.v[w].e, start = b->tmp.len;
        const tl_nstr *src = &b->buf;
        int add = 0;
        if (pre) {
            if (p->kind == TL_PRE_BYTE_LEVEL) add = src->cp[s] != ' ';
            else if (p->prepend_scheme == TL_PREPEND_ALWAYS) add = src->cp[s] != p->replacement;
            else if (p->prepend_scheme == TL_PREPEND_FIRST) add = src->cp[s] != p->replacement && src->os[s] == 0;
        }
        if (add) tl_nstr_push(&b->tmp, pre, src->os[s], src->oe[s]);
        for (size_t i = s; i < e; i++) {
            if (!bytes) { tl_nstr_push(&b->tmp, src->cp[i], src->os[i], src->oe[i]); continue; }
            char u[4];
            size_t k = tl_utf8_put(src->cp[i], u);
            for (size_t j = 0; j < k; j++) tl_nstr_push(&b->tmp, byte_char[(unsigned char)u[j]], src->os[i], src->oe[i]);
        }
        if (tl_spans_push(&b->tmpw, start, b->tmp.len)) return oom();
    }
    tl_nstr t = b->buf; b->buf = b->tmp; b->tmp = t;
    tl_spans ts = b->words; b->words = b->tmpw; b->tmpw = ts;
    return TL_OK;
}

/* Runs pre-tokenizer p on the current words of b. */
static tl_status run(const tl_pretok *p, tl_ptbuf *b) {
    tl_status st = TL_OK;
    switch (p->kind) {
    case TL_PRE_NONE: return TL_OK;
    case TL_PRE_SEQUENCE:
        for (size_t k = 0; k < p->n_children && st == TL_OK; k++) st = run(&p->children[k], b);
        return st;
    case TL_PRE_BYTE_LEVEL:
        init_bytes();
        if (p->add_prefix_space) st = rewrite(b, ' ', p, 0);
        if (st == TL_OK && p->use_regex) st = split_all(p, b);
        return st == TL_OK ? rewrite(b, 0, p, 1) : st;
    case TL_PRE_METASPACE:
        for (size_t i = 0; i < b->buf.len; i++)
            if (b->buf.cp[i] == ' ') b->buf.cp[i] = p->replacement;
        if (p->prepend_scheme != TL_PREPEND_NEVER) st = rewrite(b, p->replacement, p, 0);
        return st == TL_OK && p->split ? split_all(p, b) : st;
    default:
        return split_all(p, b);
    }
}

tl_status tl_pretok_run(const tl_pretok *p, const tl_nstr *src, size_t from, size_t to, tl_ptbuf *b) {
    b->buf.len = 0;
    b->words.len = 0;
    if (to <= from) return TL_OK;
    if (tl_nstr_reserve(&b->buf, to - from)) return oom();
    memcpy(b->buf.cp, src->cp + from, (to - from) * sizeof *src->cp);
    memcpy(b->buf.os, src->os + from, (to - from) * sizeof *src->os);
    memcpy(b->buf.oe, src->oe + from, (to - from) * sizeof *src->oe);
    b->buf.len = to - from;
    if (tl_spans_push(&b->words, 0, to - from)) return oom();
    return run(p, b);
}

void tl_ptbuf_free(tl_ptbuf *b) {
    tl_nstr_free(&b->buf);
    tl_nstr_free(&b->tmp);
    free(b->words.v);
    free(b->tmpw.v);
    free(b->m.v);
    tl_rx_scratch_free(&b->rx);
    memset(b, 0, sizeof *b);
}

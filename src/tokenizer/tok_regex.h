/* tok_regex.h — PCRE2 patterns and tokenizers' find_matches / split behaviors (regex.c).
 * Private to src/tokenizer. */
#ifndef TL_TOKENIZER_TOK_REGEX_H
#define TL_TOKENIZER_TOK_REGEX_H
#include "tokenizer/tok_text.h"

typedef struct tl_regex tl_regex; /* also forward-declared above */
/* PCRE2 backtracking steps one match attempt may take (PCRE2's own default). */
#define TL_REGEX_MATCH_LIMIT 10000000u
/* Matcher scratch: the subject as UTF-8, byte -> char index map, PCRE2 match data, match
 * context (limits, callout) and JIT stack; budget_ms bounds one tl_regex_find (0: the
 * default, TL_DEFAULT_REGEX_MS). Zero-initialise; free with tl_rx_scratch_free. */
typedef struct {
    char *u8;
    size_t *b2c;
    size_t cap;
    void *md, *mctx, *jstack;
    size_t budget_ms;
    long long deadline_ns; /* of the find under way (CLOCK_MONOTONIC) */
    int timed_out;
} tl_rx_scratch;
/* One piece of tokenizers' find_matches: chars [s, e), match or gap. */
typedef struct { size_t s, e; int match; } tl_match;
typedef struct { tl_match *v; size_t len, cap; } tl_matches;
typedef enum {
    TL_SPLIT_REMOVED, TL_SPLIT_ISOLATED, TL_SPLIT_MERGED_PREV, TL_SPLIT_MERGED_NEXT, TL_SPLIT_CONTIGUOUS
} tl_split_behavior;

/* Compiles a pattern in PCRE2 UTF + UCP mode (literal = 1: a plain string). TL_ERR_FORMAT
 * names what and the offset on a bad pattern. Caller frees with tl_regex_free. */
tl_status tl_regex_compile(const char *pattern, int literal, const char *what, tl_regex **out);
void tl_regex_free(tl_regex *re);
void tl_rx_scratch_free(tl_rx_scratch *sc);
/* find_matches of re over cps[0, n) (onig find_iter stepping); out is cleared first.
 * Bounded: PCRE2's match limit (TL_REGEX_MATCH_LIMIT steps from one start) and a time
 * budget of sc->budget_ms + 1 ms per 1,000 chars (checked at every start and group the
 * pattern enters) end a catastrophically backtracking pattern with TL_ERR_INVALID_ARG
 * naming it. */
tl_status tl_regex_find(const tl_regex *re, const uint32_t *cps, size_t n, tl_rx_scratch *sc, tl_matches *out);
/* find_matches of a char predicate: every char with pred(c, arg) is its own match. */
tl_status tl_char_find(int (*pred)(uint32_t, uint32_t), uint32_t arg, const uint32_t *cps, size_t n,
                       tl_matches *out);
/* Applies a split behavior (and invert) to m (rewritten), appending the non-empty kept
 * pieces, shifted by base, to out. */
tl_status tl_split_apply(tl_matches *m, tl_split_behavior beh, int invert, size_t base, tl_spans *out);

#endif

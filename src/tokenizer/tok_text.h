/* tok_text.h — the tokenizer's strings: normalized strings with original spans, strict
 * UTF-8, spans, JSON index fields (text.c). Private to src/tokenizer. */
#ifndef TL_TOKENIZER_TOK_TEXT_H
#define TL_TOKENIZER_TOK_TEXT_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include "torchless.h"

/* A normalized string: code point cp[i] came from the input's code points
 * [os[i], oe[i]) (absolute indices into the sequence being encoded). */
typedef struct tl_nstr {
    uint32_t *cp;
    int32_t *os, *oe;
    size_t len, cap;
    size_t limit;           /* most chars it may hold (0: no limit); normalizers keep it */
    size_t regex_ms;        /* a Replace normalizer's regex budget (tl_rx_scratch.budget_ms) */
} tl_nstr;

/* Grows s to hold at least n entries; returns 0, -1 on OOM/overflow, or -2 when n is
 * over s->limit (nothing allocated then). */
int tl_nstr_reserve(tl_nstr *s, size_t n);
/* Appends one code point with its original span; returns 0, -1 on OOM, -2 when s already
 * holds s->limit chars. */
int tl_nstr_push(tl_nstr *s, uint32_t cp, int32_t os, int32_t oe);
/* Sets and returns the error of a failed tl_nstr_reserve / push on s (r -2: the limit,
 * TL_ERR_INVALID_ARG naming it; else TL_ERR_OOM). */
tl_status tl_nstr_error(int r, const tl_nstr *s);
/* Frees s's arrays and zeroes it. */
void tl_nstr_free(tl_nstr *s);

/* Decodes strict UTF-8 (no overlongs, surrogates or > U+10FFFF) into a malloc'd code
 * point array. On invalid input returns TL_ERR_INVALID_ARG naming `what` and the byte
 * offset of the first invalid byte. Caller frees *out. */
tl_status tl_utf8_decode(const char *s, size_t len, const char *what, uint32_t **out, size_t *n);
/* tl_utf8_decode into the reusable buffer *buf (capacity *cap, grown as needed; the
 * caller frees it), *n code points. Same errors. */
tl_status tl_utf8_decode_into(const char *s, size_t len, const char *what, uint32_t **buf, size_t *cap, size_t *n);
/* Encodes one code point as UTF-8 into buf (4 bytes room); returns the byte count. */
size_t tl_utf8_put(uint32_t c, char *buf);

/* A span [s, e) of indices. */
typedef struct { size_t s, e; } tl_span;
typedef struct { tl_span *v; size_t len, cap; } tl_spans;
/* Appends a span; returns 0, or -1 on OOM. */
int tl_spans_push(tl_spans *sp, size_t s, size_t e);

/* Reads obj[key] as an integer in [0, max]: returns 1 and sets *out (def when absent or
 * null), or 0 when the value is not such an integer (no undefined float casts). */
int tl_tok_json_index(const cJSON *obj, const char *key, long def, long max, long *out);

/* Replaces s by tokenizers' NormalizedString::transform of (cp[i], ch[i]) pairs: ch 0
 * replaces the next char, > 0 inserts (span of the previous char), < 0 replaces and drops
 * -ch more chars. TL_ERR_OOM on failure. */
tl_status tl_norm_transform(tl_nstr *s, const uint32_t *cp, const int32_t *ch, size_t n);

#endif

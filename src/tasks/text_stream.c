/* text_stream.c — incremental detokenization: decode a short window of the last tokens
 * twice (before and with the new ones) and give out what the new ones add, unless the
 * text ends in an incomplete character (decoded as U+FFFD; for at most 4 tokens). */
#include "tasks/text_stream.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>

tl_text_stream tl_text_stream_start(const tl_tokenizer *tok, int skip_special) {
    return (tl_text_stream){.tok = tok, .skip_special = skip_special, .prefix_off = 0, .read_off = 0};
}

/* tl_text_stream_next and _flush: final gives out an incomplete character too. */
static tl_status next(tl_text_stream *s, const int32_t *toks, size_t n, int final, char **piece, size_t *len) {
    *piece = NULL;
    *len = 0;
    if (n <= s->read_off) return TL_OK;
    /* a character spans at most 4 byte tokens: U+FFFD after more is an invalid byte, not
     * the start of a character still coming */
    if (n - s->read_off >= 4) final = 1;
    char *before = NULL, *now = NULL;
    size_t nb = 0, nn = 0;
    tl_status st = tl_tokenizer_decode_len(s->tok, toks + s->prefix_off, s->read_off - s->prefix_off,
                                           s->skip_special, 0, &before, &nb);
    if (st == TL_OK)
        st = tl_tokenizer_decode_len(s->tok, toks + s->prefix_off, n - s->prefix_off, s->skip_special, 0, &now, &nn);
    if (st == TL_OK && nn > nb && (final || !(nn >= 3 && !memcmp(now + nn - 3, "\xEF\xBF\xBD", 3)))) {
        if (!(*piece = malloc(nn - nb + 1))) {
            st = tl_set_error(TL_ERR_OOM, "out of memory");
        } else {
            memcpy(*piece, now + nb, nn - nb);
            (*piece)[nn - nb] = '\0';
            *len = nn - nb;
            s->prefix_off = s->read_off;
            s->read_off = n;
        }
    }
    tl_free(before);
    tl_free(now);
    return st;
}

tl_status tl_text_stream_next(tl_text_stream *s, const int32_t *toks, size_t n, char **piece, size_t *len) {
    return next(s, toks, n, 0, piece, len);
}

tl_status tl_text_stream_flush(tl_text_stream *s, const int32_t *toks, size_t n, char **piece, size_t *len) {
    return next(s, toks, n, 1, piece, len);
}

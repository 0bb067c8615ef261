/* text_stream.h — incremental detokenization for streaming: the text a growing list of
 * generated tokens adds at each token, held back while it ends inside a UTF-8 character
 * (decoded as U+FFFD; at most 4 tokens, the longest a character can take) as
 * text-generation-inference's prefix / read offsets do. */
#ifndef TL_TASKS_TEXT_STREAM_H
#define TL_TASKS_TEXT_STREAM_H
#include <stddef.h>
#include <stdint.h>
#include "torchless.h"

typedef struct tl_text_stream {
    const tl_tokenizer *tok;
    int skip_special;
    size_t prefix_off, read_off; /* token offsets: text before read_off has been given out */
} tl_text_stream;

/* A stream over tok (skip_special: drop special tokens as decode() does). */
tl_text_stream tl_text_stream_start(const tl_tokenizer *tok, int skip_special);

/* Given the generated tokens toks (n, the previous call's plus new ones), sets *piece to
 * the new text (malloc'd, *len bytes; NULL and 0 when there is none yet). Errors: decoding,
 * out of memory. */
tl_status tl_text_stream_next(tl_text_stream *s, const int32_t *toks, size_t n, char **piece, size_t *len);

/* The text of toks (n, all of them) not given out yet, even when it ends in an incomplete
 * character (the end of generation). As tl_text_stream_next otherwise. */
tl_status tl_text_stream_flush(tl_text_stream *s, const int32_t *toks, size_t n, char **piece, size_t *len);

#endif

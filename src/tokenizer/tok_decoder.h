/* tok_decoder.h — decoders (decoder.c). Private to src/tokenizer. */
#ifndef TL_TOKENIZER_TOK_DECODER_H
#define TL_TOKENIZER_TOK_DECODER_H
#include <cjson/cJSON.h>
#include "tokenizer/tok_regex.h"

typedef enum {
    TL_DEC_NONE, TL_DEC_WORDPIECE, TL_DEC_BYTELEVEL, TL_DEC_METASPACE, TL_DEC_BPE,
    TL_DEC_BYTEFALLBACK, TL_DEC_FUSE, TL_DEC_STRIP, TL_DEC_REPLACE, TL_DEC_SEQUENCE
} tl_dec_kind;

typedef struct tl_decoder {
    tl_dec_kind kind;
    struct tl_decoder *children;  /* Sequence */
    size_t n_children;
    char *text;                   /* WordPiece prefix, BPEDecoder suffix */
    int cleanup;                  /* WordPiece */
    uint32_t ch;                  /* Metaspace replacement, Strip content */
    int never;                    /* Metaspace prepend_scheme "never" */
    size_t start, stop;           /* Strip */
    tl_regex *re;                 /* Replace pattern */
    char *content;                /* Replace content */
} tl_decoder;

/* Parses a "decoder" JSON value (NULL/null: none, tokens joined by spaces). Caller frees
 * with tl_decoder_free. TL_ERR_FORMAT / TL_ERR_UNSUPPORTED name path. */
tl_status tl_decoder_parse(const cJSON *j, const char *path, int depth, tl_decoder *out);
void tl_decoder_free(tl_decoder *d);
/* Runs d over tokens[0, n) (tokenizers' decode_chain; d none: tokens joined by spaces)
 * into a malloc'd *out (*out_len bytes when out_len is not NULL); clean_up_spaces applies
 * transformers' clean_up_tokenization. TL_ERR_OOM on failure (*out NULL). */
tl_status tl_decoder_join(const tl_decoder *d, const char *const *tokens, size_t n, int clean_up_spaces,
                          char **out, size_t *out_len);

#endif

/* tok_pretok.h — pre-tokenizers (pretokenizer.c, pretok_parse.c). Private to src/tokenizer. */
#ifndef TL_TOKENIZER_TOK_PRETOK_H
#define TL_TOKENIZER_TOK_PRETOK_H
#include "tokenizer/tok_regex.h"

typedef enum {
    TL_PRE_NONE, TL_PRE_BERT, TL_PRE_WHITESPACE, TL_PRE_WHITESPACE_SPLIT, TL_PRE_SEQUENCE,
    TL_PRE_BYTE_LEVEL, TL_PRE_METASPACE, TL_PRE_SPLIT, TL_PRE_PUNCTUATION, TL_PRE_DIGITS
} tl_pre_kind;

enum { TL_PREPEND_ALWAYS, TL_PREPEND_FIRST, TL_PREPEND_NEVER };

typedef struct tl_pretok {
    tl_pre_kind kind;
    struct tl_pretok *children;
    size_t n_children;
    int add_prefix_space, use_regex;                 /* ByteLevel */
    uint32_t replacement;                            /* Metaspace */
    int prepend_scheme, split;                       /* Metaspace */
    tl_regex *re;                                    /* Split; ByteLevel's GPT-2 regex */
    tl_split_behavior behavior;                      /* Split, Punctuation */
    int invert;                                      /* Split */
    int individual_digits;                           /* Digits */
} tl_pretok;

/* Pre-tokenizer working state: the (possibly transformed) string and its words. */
typedef struct tl_ptbuf {
    tl_nstr buf, tmp;
    tl_spans words, tmpw;
    tl_matches m;
    tl_rx_scratch rx;
} tl_ptbuf;

/* Parses a "pre_tokenizer" JSON value (NULL/null: none). Caller frees with tl_pretok_free. */
tl_status tl_pretok_parse(const cJSON *j, const char *path, int depth, tl_pretok *out);
void tl_pretok_free(tl_pretok *p);
/* Pre-tokenizes src[from, to): b->buf receives the words' chars (with original spans)
 * and b->words their non-empty spans into b->buf, in order. */
tl_status tl_pretok_run(const tl_pretok *p, const tl_nstr *src, size_t from, size_t to, tl_ptbuf *b);
void tl_ptbuf_free(tl_ptbuf *b);
/* Byte-level alphabet: the char standing for byte b, and back (-1 if c is not one). */
uint32_t tl_bytelevel_char(uint8_t b);
int tl_bytelevel_byte(uint32_t c);
/* ByteLevel's GPT-2 split pattern. */
extern const char tl_gpt2_pattern[];

#endif

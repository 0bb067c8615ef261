/* tok_added.h — added tokens and splitting on them (added.c). Private to src/tokenizer. */
#ifndef TL_TOKENIZER_TOK_ADDED_H
#define TL_TOKENIZER_TOK_ADDED_H
#include "tokenizer/tok_normalizer.h"

typedef struct tl_added_token {
    char *content;
    uint32_t *cps;   size_t n_cps;     /* content as code points */
    uint32_t *ncps;  size_t n_ncps;    /* content after normalization (normalized tokens) */
    int32_t id;
    int special, lstrip, rstrip, single_word, normalized;
} tl_added_token;

typedef struct tl_added {
    tl_added_token *v;
    size_t len, cap;
} tl_added;

/* One piece of a sequence after splitting out added tokens: [s, e) and the matched
 * added token index, or -1 for plain text. */
typedef struct { size_t s, e; int32_t tok; } tl_piece;
typedef struct { tl_piece *v; size_t len, cap; } tl_pieces;

/* Appends an added token (copies content). normalizer normalizes the match form of
 * normalized tokens. 0, or non-OK on OOM. */
tl_status tl_added_push(tl_added *a, const char *content, int32_t id, int special, int lstrip,
                        int rstrip, int single_word, int normalized, const tl_normalizer *norm);
void tl_added_free(tl_added *a);
/* Splits cps[0, n) on the added tokens whose `normalized` flag equals normalized_pass,
 * leftmost-longest, honouring single_word / lstrip / rstrip as tokenizers does.
 * Appends pieces (covering [0, n) in order, empty ones skipped) to out (cleared first). */
tl_status tl_added_split(const tl_added *a, int normalized_pass, const uint32_t *cps, size_t n,
                         tl_pieces *out);
/* Returns the id of an added token with this content, or -1. */
int32_t tl_added_find(const tl_added *a, const char *content);

#endif

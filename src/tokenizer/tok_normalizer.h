/* tok_normalizer.h — normalizers (normalizer.c, norm_extra.c). Private to src/tokenizer. */
#ifndef TL_TOKENIZER_TOK_NORMALIZER_H
#define TL_TOKENIZER_TOK_NORMALIZER_H
#include "tokenizer/tok_text.h"

typedef enum {
    TL_NORM_NONE, TL_NORM_BERT, TL_NORM_LOWERCASE, TL_NORM_STRIP_ACCENTS,
    TL_NORM_NFD, TL_NORM_NFKD, TL_NORM_NFC, TL_NORM_NFKC, TL_NORM_SEQUENCE,
    TL_NORM_PRECOMPILED, TL_NORM_REPLACE, TL_NORM_STRIP, TL_NORM_PREPEND
} tl_norm_kind;

struct tl_regex;
typedef struct tl_normalizer {
    tl_norm_kind kind;
    int clean_text, handle_chinese, strip_accents, lowercase; /* BertNormalizer */
    struct tl_normalizer *children;                          /* Sequence */
    size_t n_children;
    int strip_left, strip_right;                             /* Strip */
    struct tl_regex *re;                                     /* Replace pattern */
    uint32_t *text; size_t n_text;                           /* Replace content / Prepend */
    uint32_t *trie; size_t n_trie;                           /* Precompiled double array */
    char *pool; size_t n_pool;                               /* Precompiled replacements */
} tl_normalizer;

/* Parses Precompiled / Replace / Strip / Prepend (norm_extra.c); TL_ERR_UNSUPPORTED otherwise. */
tl_status tl_normalizer_parse_extra(const cJSON *j, const char *type, const char *path, tl_normalizer *out);
/* Applies those kinds. */
tl_status tl_normalizer_apply_extra(const tl_normalizer *n, tl_nstr *s);

/* Parses a "normalizer" JSON value (NULL or JSON null: none). Nesting is limited.
 * TL_ERR_FORMAT / TL_ERR_UNSUPPORTED name path. Caller frees with tl_normalizer_free. */
tl_status tl_normalizer_parse(const cJSON *j, const char *path, int depth, tl_normalizer *out);
void tl_normalizer_free(tl_normalizer *n);
/* Normalizes s in place, keeping every char's original span. TL_ERR_OOM on failure. */
tl_status tl_normalizer_apply(const tl_normalizer *n, tl_nstr *s);

#endif

/* tok_postproc.h — post-processors (postprocess.c) and assembling overflowing windows
 * (overflow.c). Private to src/tokenizer. */
#ifndef TL_TOKENIZER_TOK_POSTPROC_H
#define TL_TOKENIZER_TOK_POSTPROC_H
#include <cjson/cJSON.h>
#include "tokenizer/tok_encoding.h"

typedef struct { int special; int seq; int32_t type_id; char *name; } tl_tpl_piece;
typedef struct { char *name; int32_t *ids; char **tokens; size_t n; } tl_tpl_special;

typedef struct tl_postproc {
    int kind;                           /* 0 none, 1 template (Bert/Roberta mapped to it) */
    int present;                        /* the tokenizer has a post-processor at all */
    int renumber_after;                 /* a ByteLevel stage follows the template: it numbers
                                           the template's pieces as sequences */
    tl_tpl_piece *single, *pair;
    size_t n_single, n_pair;
    tl_tpl_special *specials;
    size_t n_specials;
    int zero_types;                     /* RobertaProcessing: every type id is 0 */
    int trim_before, aps_before;        /* trim_offsets (add_prefix_space) before the template */
    int trim_after, aps_after;          /* ... and after it (a ByteLevel later in a Sequence) */
} tl_postproc;

/* Parses "post_processor" (NULL/null: none). Caller frees with tl_postproc_free. */
tl_status tl_postproc_parse(const cJSON *j, const char *path, tl_postproc *out);
/* Builds the BERT template [CLS] $A [SEP] / [CLS] $A [SEP] $B:1 [SEP]:1. */
tl_status tl_postproc_bert(tl_postproc *out, const char *cls, int32_t cls_id, const char *sep,
                           int32_t sep_id);
void tl_postproc_free(tl_postproc *p);
/* Number of special tokens the processor adds for a single (is_pair 0) or pair input. */
size_t tl_postproc_added(const tl_postproc *p, int is_pair);
/* ByteLevel's process_offsets on tokens [from, to) of e: drops leading/trailing spaces
 * ('Ġ' or whitespace chars of the token string) from their offsets. */
void tl_trim_offsets(tl_encoding *e, size_t from, size_t to, int add_prefix_space);
/* Merges a (and b, may be NULL) into out as the template says, sets sequence ids and
 * trims offsets of a ByteLevel stage after the template. keep_types bit 0 (a) / bit 1 (b):
 * that input is an overflowing window, which keeps the model's type ids (0 / 1) as in
 * tokenizers, instead of the template's. */
tl_status tl_postproc_apply(const tl_postproc *p, const tl_encoding *a, const tl_encoding *b,
                            int add_special, unsigned keep_types, tl_encoding *out);
/* Post-processes a (and b) into res (zeroed) and builds its overflowing windows in
 * tokenizers' order, nested ones included (overflow.c); TL_ERR_INVALID_ARG when they
 * would hold more than max_ovf tokens in all. */
tl_status tl_enc_assemble(const tl_postproc *pp, const tl_encoding *a, const tl_encoding *b, int add_special,
                          size_t max_ovf, tl_encoding *res);

#endif

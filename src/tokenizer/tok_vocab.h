/* tok_vocab.h — the model vocabulary hash map (vocab.c). Private to src/tokenizer. */
#ifndef TL_TOKENIZER_TOK_VOCAB_H
#define TL_TOKENIZER_TOK_VOCAB_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include "torchless.h"

/* token string -> id hash map, and id -> token array. */
typedef struct tl_vocab {
    char **id_to_tok;      /* [n_ids], NULL where an id is unused; owned */
    size_t *id_len;        /* [n_ids], strlen of id_to_tok[i] (0 where unused) */
    size_t n_ids;          /* max id + 1 */
    size_t n_tokens;       /* number of entries */
    int32_t *slots;        /* open addressing, id or -1; [mask + 1] */
    size_t mask;
} tl_vocab;

/* Adds token -> id (first insertion of a string wins). 0, -1 on OOM, -2 on a bad id. */
int tl_vocab_add(tl_vocab *v, const char *tok, size_t len, int32_t id);
/* Returns the id of tok (len bytes), or -1. */
int32_t tl_vocab_get(const tl_vocab *v, const char *tok, size_t len);
void tl_vocab_free(tl_vocab *v);
/* Parses a JSON {token: id} object into v (ids range-checked). */
tl_status tl_vocab_parse_json(const cJSON *vocab, const char *path, tl_vocab *v);

#endif

/* tok_vocab.h — the model vocabulary hash map (vocab.c). Private to src/tokenizer. */
#ifndef TL_TOKENIZER_TOK_VOCAB_H
#define TL_TOKENIZER_TOK_VOCAB_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include "torchless.h"

/* token string -> id hash map, and id -> token array. A token whose id another token
 * already has (tokenizers accepts {"a": 5, "b": 5}) is an alias: it maps to the id, the id
 * maps back to the first token. */
typedef struct tl_vocab {
    char **id_to_tok;      /* [n_ids], NULL where an id is unused; owned */
    size_t *id_len;        /* [n_ids], strlen of id_to_tok[i] (0 where unused) */
    size_t n_ids;          /* max id + 1 */
    size_t n_tokens;       /* number of entries (token strings), aliases included */
    int32_t *slots;        /* open addressing: id, -1 empty, or -2 - alias index; [mask + 1] */
    size_t mask;
    char **alias_tok;      /* [n_alias] owned alias strings, alias_len / alias_id alongside */
    size_t *alias_len;
    int32_t *alias_id;
    size_t n_alias, alias_cap;
    size_t max_len;        /* the longest token string (bytes), aliases included */
} tl_vocab;

/* Adds token -> id (first insertion of a string wins; a token for an id already taken is
 * an alias). 0, -1 on OOM, -2 on a bad id. */
int tl_vocab_add(tl_vocab *v, const char *tok, size_t len, int32_t id);
/* Returns the id of tok (len bytes), or -1. */
int32_t tl_vocab_get(const tl_vocab *v, const char *tok, size_t len);
void tl_vocab_free(tl_vocab *v);
/* Parses a JSON {token: id} object into v (ids range-checked). */
tl_status tl_vocab_parse_json(const cJSON *vocab, const char *path, tl_vocab *v);

#endif

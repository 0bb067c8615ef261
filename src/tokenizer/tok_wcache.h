/* tok_wcache.h — per-thread word caches of model tokens (word_cache.c). Private to src/tokenizer. */
#ifndef TL_TOKENIZER_TOK_WCACHE_H
#define TL_TOKENIZER_TOK_WCACHE_H
#include "tokenizer/tok_model.h"

/* Per-thread caches of model tokens per pre-tokenized word (word_cache.c). A tokenizer
 * owns a pool; a thread takes one cache per call and uses it without locks. */
#define TL_WCACHE_MAX_KEY 1023 /* longest cached word in UTF-8 bytes */
typedef struct tl_wcache tl_wcache;
typedef struct tl_wcache_pool tl_wcache_pool;
/* Allocates an empty pool; NULL on OOM (then nothing is cached). */
tl_wcache_pool *tl_wcache_pool_new(void);
/* Frees p and its caches (NULL is fine); no thread may hold one. */
void tl_wcache_pool_free(tl_wcache_pool *p);
/* A cache for the caller's exclusive use until released; NULL: run uncached. */
tl_wcache *tl_wcache_acquire(tl_wcache_pool *p);
/* Gives back a cache from tl_wcache_acquire (NULL is fine). */
void tl_wcache_release(tl_wcache_pool *p, tl_wcache *c);
/* Cache c's seeded hash of the word's UTF-8 bytes key[0, len); never 0 (0 when c is NULL). */
uint64_t tl_wcache_hash(const tl_wcache *c, const char *key, size_t len);
/* 1 and out (cleared first) filled with the cached tokens on a hit, else 0. c may be NULL. */
int tl_wcache_get(tl_wcache *c, const char *key, size_t klen, uint64_t h, tl_mtoks *out);
/* Caches toks for a word not cached yet (bounded: a full cache is emptied first). */
void tl_wcache_put(tl_wcache *c, const char *key, size_t klen, uint64_t h, const tl_mtoks *toks);

#endif

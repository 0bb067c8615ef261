/* kv_cache.h — a context's KV cache: a pool of fixed-size pages allocated once, bounded by
 * the context's kv_cache_tokens, handed to sequences as they grow. A page holds
 * TL_KV_PAGE_TOKENS tokens of every layer's K and V (layer l: K block then V block, each
 * page_tokens x kv_dim floats; model/block.h's tl_kv_step_layout gives the offsets). A sequence owns its pages until freed; reserving more
 * than the free pages fails with an error and changes nothing, so no sequence ever
 * overwrites another's. One caller at a time (the context's). */
#ifndef TL_RUNTIME_KV_CACHE_H
#define TL_RUNTIME_KV_CACHE_H
#include <stddef.h>
#include "torchless.h"

#define TL_KV_PAGE_TOKENS 16
/* Largest number of live sequences in one cache. */
#define TL_KV_MAX_SEQS 65536

typedef struct tl_kv_seq {
    int used;
    size_t len;      /* tokens whose K / V are stored */
    size_t n_pages;  /* pages held */
    float **pages;   /* n_pages page pointers (capacity cap_pages) */
    size_t cap_pages;
} tl_kv_seq;

typedef struct tl_kv_cache {
    size_t n_layers, kv_dim, page_floats, n_pages, n_free;
    float *pool;       /* n_pages * page_floats floats */
    size_t *free_list; /* indices of free pages (n_free of them) */
    tl_kv_seq *seqs;
    size_t n_seqs;     /* slots allocated */
} tl_kv_cache;

/* Makes a cache of at least tokens tokens (rounded up to pages) for n_layers layers of
 * kv_dim floats of K and of V. Errors: sizes that overflow, out of memory (naming the
 * bytes and kv_cache_tokens). */
tl_status tl_kv_init(tl_kv_cache *kv, size_t n_layers, size_t kv_dim, size_t tokens);
/* Frees what kv holds; safe on a zeroed struct. */
void tl_kv_release(tl_kv_cache *kv);

/* A new empty sequence in *id; error when TL_KV_MAX_SEQS are live or out of memory. */
tl_status tl_kv_seq_new(tl_kv_cache *kv, int32_t *id);
/* Returns the pages of sequence id to the pool; error when id is not live. */
tl_status tl_kv_seq_free(tl_kv_cache *kv, int32_t id);
/* The live sequence id, or NULL. */
tl_kv_seq *tl_kv_seq_get(tl_kv_cache *kv, int32_t id);

/* Makes room for add[i] more tokens in sequence ids[i] (n of them, distinct, live): all or
 * nothing. Error (TL_ERR_INVALID_ARG) naming the tokens asked for, the free ones and
 * kv_cache_tokens when the pool is short; lengths are not changed (the caller adds them
 * once the tokens' K / V are written). */
tl_status tl_kv_reserve(tl_kv_cache *kv, const int32_t *ids, const size_t *add, size_t n);

/* Tokens the pool holds in all. */
static inline size_t tl_kv_capacity(const tl_kv_cache *kv) { return kv->n_pages * TL_KV_PAGE_TOKENS; }

#endif

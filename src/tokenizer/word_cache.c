/* word_cache.c — bounded caches of model results per pre-tokenized word (BPE, Unigram),
 * as tokenizers keeps one per model (10,000 words; it caches words under 256 bytes, we
 * also cache longer ones up to 1 KiB: long repeated runs are the costliest to merge).
 *
 * Threads never share a cache: a tokenizer owns a pool of TL_WCACHE_POOL caches, and
 * each encoding thread takes one for the duration of its call (tl_wcache_acquire: one
 * atomic test-and-set per slot tried, once per call, not per word) and gives it back at
 * the end; the hot path (get / put) is then plain single-threaded code with no lock and
 * no atomics. When every cache is taken the caller simply runs uncached.
 *
 * One cache is an open-addressing table of TL_WCACHE_TABLE slots (hash, arena offset)
 * with linear probing over a byte arena of entries (key length, token count, key bytes, tokens). It holds at
 * most TL_WCACHE_WORDS words and TL_WCACHE_ARENA bytes; when either would overflow, the
 * cache is emptied and refills from the words that follow. A result depends only on the
 * word, so a hit is always exact. Crafted words cannot build long probe chains: each
 * cache's hash is seeded (the pool's address, the time and a process-wide counter), and
 * probing stops after TL_WCACHE_PROBES slots (get: a miss; put: the word is not stored). */
#include "tokenizer/tok_model.h"
#include "tokenizer/tok_wcache.h"
#include "core/util.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TL_WCACHE_WORDS 10000
#define TL_WCACHE_TABLE 16384u           /* power of two, > TL_WCACHE_WORDS / 0.7 */
#define TL_WCACHE_ARENA (1u << 20)       /* bytes of entries per cache */
#define TL_WCACHE_POOL 64
#define TL_WCACHE_PROBES 32              /* most slots one lookup or insert visits */

/* A cached token: id, char span [s, e) in the word; bit 15 of e is the raw flag (tl_mtok). */
typedef struct { int32_t id; uint16_t s, e; } ctok;
#define RAW_BIT 0x8000u
/* Entry header in the arena, followed by the key bytes, padding to 4, then ctok[ntok]. */
typedef struct { uint16_t klen, ntok; } ehdr;
typedef struct { uint64_t hash; uint32_t off; uint32_t used; } tslot;

struct tl_wcache {
    tslot *table;          /* [TL_WCACHE_TABLE] */
    unsigned char *arena;  /* [TL_WCACHE_ARENA] */
    size_t arena_len, words;
    size_t slot;           /* its index in the pool */
    uint64_t seed;         /* of its hash */
};

struct tl_wcache_pool {
    uint64_t seed;         /* its caches' seeds derive from it */
    atomic_flag busy[TL_WCACHE_POOL];
    tl_wcache *cache[TL_WCACHE_POOL]; /* cache[i] is touched only by busy[i]'s holder */
};

/* splitmix64's finalizer: a bijective 64-bit mix. */
static uint64_t mix64(uint64_t x) {
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Allocates an empty pool (caches are created when first taken) with a fresh hash seed;
 * NULL on OOM. */
tl_wcache_pool *tl_wcache_pool_new(void) {
    static atomic_uint_fast64_t counter;
    tl_wcache_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    struct timespec ts = {0};
    timespec_get(&ts, TIME_UTC);
    p->seed = mix64((uint64_t)(uintptr_t)p ^ mix64((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^
                    mix64(atomic_fetch_add(&counter, 1) + 1));
    for (size_t i = 0; i < TL_WCACHE_POOL; i++) atomic_flag_clear(&p->busy[i]);
    return p;
}

/* Frees one cache (NULL is fine). */
static void cache_free(tl_wcache *c) {
    if (!c) return;
    free(c->table);
    free(c->arena);
    free(c);
}

/* Frees p and its caches (NULL is fine); no thread may hold one of them. */
void tl_wcache_pool_free(tl_wcache_pool *p) {
    if (!p) return;
    for (size_t i = 0; i < TL_WCACHE_POOL; i++) cache_free(p->cache[i]);
    free(p);
}

/* Allocates an empty cache with hash seed `seed`; NULL on OOM. */
static tl_wcache *cache_new(uint64_t seed) {
    tl_wcache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->seed = seed;
    c->table = calloc(TL_WCACHE_TABLE, sizeof *c->table);
    c->arena = malloc(TL_WCACHE_ARENA);
    if (!c->table || !c->arena) { cache_free(c); return NULL; }
    return c;
}

/* Takes a cache for the calling thread's exclusive use until tl_wcache_release; NULL
 * when p is NULL, every cache is taken, or allocation fails (the caller runs uncached). */
tl_wcache *tl_wcache_acquire(tl_wcache_pool *p) {
    if (!p) return NULL;
    for (size_t i = 0; i < TL_WCACHE_POOL; i++) {
        if (atomic_flag_test_and_set_explicit(&p->busy[i], memory_order_acquire)) continue;
        if (!p->cache[i] && (p->cache[i] = cache_new(mix64(p->seed + i)))) p->cache[i]->slot = i;
        if (p->cache[i]) return p->cache[i];
        atomic_flag_clear_explicit(&p->busy[i], memory_order_release);
        return NULL;
    }
    return NULL;
}

/* Gives back a cache taken from p (c NULL: nothing to do). */
void tl_wcache_release(tl_wcache_pool *p, tl_wcache *c) {
    if (!p || !c) return; /* c->slot is c's own: no other thread's entry is read */
    atomic_flag_clear_explicit(&p->busy[c->slot], memory_order_release);
}

/* c's 64-bit seeded hash of key[0, len) (never 0: 0 marks an empty table slot); 0 when c
 * is NULL. */
uint64_t tl_wcache_hash(const tl_wcache *c, const char *key, size_t len) {
    if (!c) return 0;
    uint64_t h = (0x9e3779b97f4a7c15ULL ^ len) + c->seed;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, key + i, 8);
        h = (h ^ v) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    uint64_t v = 0;
    memcpy(&v, key + i, len - i);
    h = mix64((h ^ v) ^ c->seed);
    return h ? h : 1;
}

/* Bytes of the entry for a key of klen bytes and ntok tokens (ctok-aligned). */
static size_t entry_size(size_t klen, size_t ntok) {
    return (sizeof(ehdr) + klen + 3) / 4 * 4 + ntok * sizeof(ctok);
}

/* Looks up the word key[0, klen) with hash h; on a hit fills out (cleared first) and
 * returns 1, else 0. c may be NULL (miss). */
int tl_wcache_get(tl_wcache *c, const char *key, size_t klen, uint64_t h, tl_mtoks *out) {
    if (!c || klen > TL_WCACHE_MAX_KEY) return 0;
    size_t i = (size_t)h & (TL_WCACHE_TABLE - 1);
    for (size_t probe = 0; probe < TL_WCACHE_PROBES; probe++, i = (i + 1) & (TL_WCACHE_TABLE - 1)) {
        const tslot *s = &c->table[i];
        if (!s->used) return 0;
        if (s->hash != h) continue;
        const unsigned char *p = c->arena + s->off;
        ehdr hd;
        memcpy(&hd, p, sizeof hd);
        if (hd.klen != klen || memcmp(p + sizeof hd, key, klen)) continue;
        if (out->cap < hd.ntok && tl_grow((void **)&out->v, &out->cap, hd.ntok, sizeof *out->v)) return 0;
        const ctok *t = (const ctok *)(p + (sizeof hd + klen + 3) / 4 * 4);
        for (size_t k = 0; k < hd.ntok; k++) {
            out->v[k].id = t[k].id;
            out->v[k].s = t[k].s;
            out->v[k].e = t[k].e & ~RAW_BIT;
            out->v[k].raw = (t[k].e & RAW_BIT) != 0;
        }
        out->len = hd.ntok;
        return 1;
    }
    return 0; /* a chain this long is treated as a miss */
}

/* Caches toks for the word key[0, klen) (hash h, not cached yet); words over
 * TL_WCACHE_MAX_KEY bytes are skipped. Empties a full cache first. c may be NULL. */
void tl_wcache_put(tl_wcache *c, const char *key, size_t klen, uint64_t h, const tl_mtoks *toks) {
    if (!c || klen == 0 || klen > TL_WCACHE_MAX_KEY || toks->len > UINT16_MAX) return;
    for (size_t k = 0; k < toks->len; k++)
        if (toks->v[k].s > TL_WCACHE_MAX_KEY || toks->v[k].e > TL_WCACHE_MAX_KEY) return;
    size_t need = entry_size(klen, toks->len);
    if (need > TL_WCACHE_ARENA) return;
    if (c->words >= TL_WCACHE_WORDS || c->arena_len + need > TL_WCACHE_ARENA) {
        memset(c->table, 0, TL_WCACHE_TABLE * sizeof *c->table);
        c->arena_len = c->words = 0;
    }
    size_t i = (size_t)h & (TL_WCACHE_TABLE - 1), probe = 0;
    while (c->table[i].used && ++probe < TL_WCACHE_PROBES) i = (i + 1) & (TL_WCACHE_TABLE - 1);
    if (c->table[i].used) return; /* a long chain: not stored (get would not find it) */
    unsigned char *p = c->arena + c->arena_len;
    ehdr hd = {(uint16_t)klen, (uint16_t)toks->len};
    memcpy(p, &hd, sizeof hd);
    memcpy(p + sizeof hd, key, klen);
    ctok *t = (ctok *)(p + (sizeof hd + klen + 3) / 4 * 4);
    for (size_t k = 0; k < toks->len; k++) {
        t[k].id = toks->v[k].id;
        t[k].s = (uint16_t)toks->v[k].s;
        t[k].e = (uint16_t)(toks->v[k].e | (toks->v[k].raw ? RAW_BIT : 0));
    }
    c->table[i].hash = h;
    c->table[i].off = (uint32_t)c->arena_len;
    c->table[i].used = 1;
    c->arena_len += need;
    c->words++;
}

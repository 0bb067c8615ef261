/* kv_cache.c — the paged KV cache of a context: one allocation of pages, a free list, and
 * per-sequence page tables. */
#include "runtime/kv_cache.h"
#include "core/error.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

tl_status tl_kv_init(tl_kv_cache *kv, size_t n_layers, size_t kv_dim, size_t tokens) {
    memset(kv, 0, sizeof *kv);
    size_t pf, n_pages = (tokens + TL_KV_PAGE_TOKENS - 1) / TL_KV_PAGE_TOKENS, total, bytes;
    if (n_pages == 0) n_pages = 1;
    if (tl_mul_overflow(n_layers * 2, (size_t)TL_KV_PAGE_TOKENS * kv_dim, &pf) ||
        tl_mul_overflow(pf, n_pages, &total) || tl_mul_overflow(total, sizeof(float), &bytes))
        return tl_set_error(TL_ERR_INVALID_ARG, "kv_cache_tokens %zu: the cache size overflows", tokens);
    kv->pool = calloc(total, sizeof(float));
    kv->free_list = malloc(n_pages * sizeof *kv->free_list);
    if (!kv->pool || !kv->free_list) {
        tl_kv_release(kv);
        return tl_set_error(TL_ERR_OOM, "out of memory for a KV cache of %zu tokens (%zu bytes): "
                            "lower kv_cache_tokens", tokens, bytes);
    }
    kv->n_layers = n_layers;
    kv->kv_dim = kv_dim;
    kv->page_floats = pf;
    kv->n_pages = kv->n_free = n_pages;
    for (size_t i = 0; i < n_pages; i++) kv->free_list[i] = n_pages - 1 - i;
    return TL_OK;
}

void tl_kv_release(tl_kv_cache *kv) {
    for (size_t i = 0; i < kv->n_seqs; i++) free(kv->seqs[i].pages);
    free(kv->seqs);
    free(kv->pool);
    free(kv->free_list);
    memset(kv, 0, sizeof *kv);
}

tl_status tl_kv_seq_new(tl_kv_cache *kv, int32_t *id) {
    size_t i = 0;
    while (i < kv->n_seqs && kv->seqs[i].used) i++;
    if (i == kv->n_seqs) {
        if (kv->n_seqs >= TL_KV_MAX_SEQS)
            return tl_set_error(TL_ERR_INVALID_ARG, "KV cache: %d sequences are live, the most a "
                                "context holds; free some first", TL_KV_MAX_SEQS);
        size_t cap = kv->n_seqs ? kv->n_seqs * 2 : 8;
        if (cap > TL_KV_MAX_SEQS) cap = TL_KV_MAX_SEQS;
        tl_kv_seq *n = realloc(kv->seqs, cap * sizeof *n);
        if (!n) return tl_set_error(TL_ERR_OOM, "out of memory for KV cache sequences");
        memset(n + kv->n_seqs, 0, (cap - kv->n_seqs) * sizeof *n);
        kv->seqs = n;
        kv->n_seqs = cap;
    }
    tl_kv_seq *s = &kv->seqs[i];
    s->used = 1;
    s->len = 0;
    s->n_pages = 0;
    *id = (int32_t)i;
    return TL_OK;
}

tl_kv_seq *tl_kv_seq_get(tl_kv_cache *kv, int32_t id) {
    if (id < 0 || (size_t)id >= kv->n_seqs || !kv->seqs[id].used) return NULL;
    return &kv->seqs[id];
}

tl_status tl_kv_seq_free(tl_kv_cache *kv, int32_t id) {
    tl_kv_seq *s = tl_kv_seq_get(kv, id);
    if (!s) return tl_set_error(TL_ERR_INVALID_ARG, "KV cache: sequence %d is not live", (int)id);
    for (size_t p = 0; p < s->n_pages; p++)
        kv->free_list[kv->n_free++] = (size_t)(s->pages[p] - kv->pool) / kv->page_floats;
    s->used = 0;
    s->len = s->n_pages = 0;
    return TL_OK;
}

/* Pages sequence s needs to hold add more tokens. */
static size_t pages_short(const tl_kv_seq *s, size_t add) {
    size_t need = (s->len + add + TL_KV_PAGE_TOKENS - 1) / TL_KV_PAGE_TOKENS;
    return need > s->n_pages ? need - s->n_pages : 0;
}

tl_status tl_kv_reserve(tl_kv_cache *kv, const int32_t *ids, const size_t *add, size_t n) {
    size_t want = 0, tokens = 0;
    for (size_t i = 0; i < n; i++) {
        tl_kv_seq *s = tl_kv_seq_get(kv, ids[i]);
        if (!s) return tl_set_error(TL_ERR_INVALID_ARG, "KV cache: sequence %d is not live", (int)ids[i]);
        if (add[i] > tl_kv_capacity(kv))
            return tl_set_error(TL_ERR_INVALID_ARG, "KV cache full: sequence %d needs %zu more tokens, "
                                "the cache holds %zu (kv_cache_tokens)", (int)ids[i], add[i], tl_kv_capacity(kv));
        want += pages_short(s, add[i]);
        tokens += add[i];
    }
    if (want > kv->n_free)
        return tl_set_error(TL_ERR_INVALID_ARG, "KV cache full: %zu new tokens need %zu more pages of %d "
                            "tokens, %zu of %zu are free; raise kv_cache_tokens (%zu) or free sequences",
                            tokens, want, TL_KV_PAGE_TOKENS, kv->n_free, kv->n_pages, tl_kv_capacity(kv));
    for (size_t i = 0; i < n; i++) {
        tl_kv_seq *s = &kv->seqs[ids[i]];
        size_t more = pages_short(s, add[i]);
        if (s->n_pages + more > s->cap_pages) {
            size_t cap = s->cap_pages ? s->cap_pages : 4;
            while (cap < s->n_pages + more) cap *= 2;
            float **np = realloc(s->pages, cap * sizeof *np);
            if (!np) return tl_set_error(TL_ERR_OOM, "out of memory for a KV page table");
            s->pages = np;
            s->cap_pages = cap;
        }
        for (size_t k = 0; k < more; k++)
            s->pages[s->n_pages++] = kv->pool + kv->free_list[--kv->n_free] * kv->page_floats;
    }
    return TL_OK;
}

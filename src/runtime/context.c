/* context.c — a context's activation arena (kept between forwards) and its lifetime. */
#include "runtime/context.h"
#include "runtime/kv_cache.h"

#include <stdlib.h>
#include <string.h>

void tl_ctx_init(tl_context *c, const tl_model *model, int n_threads) {
    memset(c, 0, sizeof *c);
    c->model = model;
    c->n_threads = n_threads < 1 ? 1 : n_threads;
}

/* Why keep it: glibc serves blocks over 32 MB with fresh mmaps, so a new 113 MB arena cost
 * BERT-base 8 x 512 ~28,000 page faults and ~55 ms of system time per forward. */
void *tl_ctx_arena(tl_context *c, size_t bytes) {
    if (bytes > TL_ARENA_KEEP_MAX) return malloc(bytes);
    if (c->arena && c->arena_bytes >= bytes) return c->arena;
    free(c->arena);
    c->arena = malloc(bytes);
    c->arena_bytes = c->arena ? bytes : 0;
    return c->arena;
}

void tl_ctx_arena_done(tl_context *c, void *p) {
    if (p != c->arena) free(p);
}

void tl_ctx_release(tl_context *c) {
    if (c->kv) tl_kv_release(c->kv);
    free(c->kv);
    c->kv = NULL;
    free(c->arena);
    c->arena = NULL;
    c->arena_bytes = 0;
}

/* context.h — the per-caller state of forwards on one model (the inside of the opaque
 * tl_context handle): the thread count, the activation arena kept between forwards and,
 * later, the GEMM library's per-caller state and KV-cache pages. A context runs one
 * forward at a time; any number of contexts run forwards on one model at once. */
#ifndef TL_RUNTIME_CONTEXT_H
#define TL_RUNTIME_CONTEXT_H
#include <stddef.h>
#include "torchless.h"

struct tl_gemm_state; /* the GEMM backend's per-caller state (kernels/linear.h) */
struct tl_kv_cache;   /* runtime/kv_cache.h */

struct tl_context {
    const tl_model *model; /* borrowed; outlives the context */
    int n_threads;         /* OpenMP / BLAS threads of this context's forwards (>= 1) */
    void *arena;           /* the last forward's activation arena, kept for reuse */
    size_t arena_bytes;
    struct tl_gemm_state *gemm_state; /* made and freed by the model layer (model/context.c) */
    struct tl_kv_cache *kv; /* decoders: the KV cache, made at the first decode, or NULL */
    size_t kv_tokens;       /* its size in tokens (tl_context_params.kv_cache_tokens, resolved) */
};

/* Largest activation arena a context keeps between forwards (BERT-base 8 x 512: 113 MB). */
#define TL_ARENA_KEEP_MAX ((size_t)256 << 20)

/* Returns a buffer of at least bytes for one forward's activations (contents undefined):
 * the context's kept arena, grown when too small and kept when at most TL_ARENA_KEEP_MAX
 * bytes, else a private buffer. Release it with tl_ctx_arena_done. NULL when out of
 * memory. Not thread-safe: one forward per context at a time. */
void *tl_ctx_arena(tl_context *c, size_t bytes);

/* Frees p unless it is the context's kept arena. */
void tl_ctx_arena_done(tl_context *c, void *p);

/* Initializes c for model with n_threads threads (resolved: >= 1); never fails. */
void tl_ctx_init(tl_context *c, const tl_model *model, int n_threads);

/* Frees what c holds (not c itself); safe on a zeroed struct. */
void tl_ctx_release(tl_context *c);

#endif

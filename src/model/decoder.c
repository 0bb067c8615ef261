/* decoder.c — decoder steps on a context's KV cache: sequences (new / free / length), a
 * step over a packed batch of new tokens per sequence (prefill and decode alike), the
 * output projection, and the stateless logits of whole sequences. */
#include "core/error.h"
#include "core/util.h"
#include "model/block.h"
#include "model/model.h"
#include "runtime/kv_cache.h"
#include "runtime/threads.h"

#include <stdlib.h>
#include <string.h>

/* Largest KV cache a context gets by default, in tokens (kv_cache_tokens 0). */
#define TL_KV_DEFAULT_MAX 8192

/* TL_OK when c's model is a decoder; else an error naming its model_type. */
static tl_status require_decoder(const tl_context *c, const char *fn) {
    const tl_arch *a = &c->model->arch;
    if (a->family->block->decode) return TL_OK;
    return tl_set_error(TL_ERR_UNSUPPORTED, "%s: model_type '%s' is an encoder, not a decoder", fn,
                        a->model_type);
}

/* The tokens c's KV cache holds: kv_tokens, or min(max positions, 8192) when 0. */
static size_t kv_tokens(const tl_context *c) {
    const size_t max = c->model->arch.max_seq_len;
    return c->kv_tokens ? c->kv_tokens : (max < TL_KV_DEFAULT_MAX ? max : TL_KV_DEFAULT_MAX);
}

/* Makes c's KV cache on first use (kv_tokens(c) tokens). */
static tl_status ensure_kv(tl_context *c) {
    if (c->kv) return TL_OK;
    const tl_arch *a = &c->model->arch;
    size_t tokens = kv_tokens(c);
    tl_kv_cache *kv = calloc(1, sizeof *kv);
    if (!kv) return tl_set_error(TL_ERR_OOM, "out of memory for a KV cache");
    tl_status s = tl_kv_init(kv, a->n_layers, a->kv_dim, tokens);
    if (s) { free(kv); return s; }
    c->kv = kv;
    return TL_OK;
}

size_t tl_model_vocab_size(const tl_model *m) { return m ? m->arch.vocab_size : 0; }
int tl_model_is_decoder(const tl_model *m) { return m && m->arch.family->block->decode != NULL; }
int32_t tl_model_eos_token_id(const tl_model *m) { return m ? m->arch.eos_token_id : -1; }

tl_status tl_context_seq_new(tl_context *ctx, int32_t *seq_id) {
    if (!ctx || !seq_id) return tl_set_error(TL_ERR_INVALID_ARG, "tl_context_seq_new: NULL argument");
    tl_status s = require_decoder(ctx, "tl_context_seq_new");
    if (s == TL_OK) s = ensure_kv(ctx);
    return s == TL_OK ? tl_kv_seq_new(ctx->kv, seq_id) : s;
}

tl_status tl_context_seq_free(tl_context *ctx, int32_t seq_id) {
    if (!ctx) return tl_set_error(TL_ERR_INVALID_ARG, "tl_context_seq_free: NULL context");
    if (!ctx->kv) return tl_set_error(TL_ERR_INVALID_ARG, "KV cache: sequence %d is not live", (int)seq_id);
    return tl_kv_seq_free(ctx->kv, seq_id);
}

size_t tl_context_seq_length(const tl_context *ctx, int32_t seq_id) {
    const tl_kv_seq *s = ctx && ctx->kv ? tl_kv_seq_get(ctx->kv, seq_id) : NULL;
    return s ? s->len : 0;
}

size_t tl_context_kv_capacity(const tl_context *ctx) {
    if (!ctx) return 0;
    if (ctx->kv) return tl_kv_capacity(ctx->kv);
    size_t t = kv_tokens(ctx);
    return t / TL_KV_PAGE_TOKENS * TL_KV_PAGE_TOKENS + (t % TL_KV_PAGE_TOKENS ? TL_KV_PAGE_TOKENS : 0);
}

/* Checks a step's arguments: live distinct sequences, non-empty new tokens with ids in the
 * vocabulary, positions within the model's; sets *T and *max_keys. */
static tl_status check_step(tl_context *c, const int32_t *ids, const tl_batch *b, size_t *T,
                            size_t *max_keys) {
    const tl_arch *a = &c->model->arch;
    if (b->n_seqs == 0) return tl_set_error(TL_ERR_INVALID_ARG, "decode: the batch has no sequences");
    if (!b->seq_lens || !b->input_ids)
        return tl_set_error(TL_ERR_INVALID_ARG, "decode: NULL seq_lens or input_ids");
    if (b->token_type_ids || b->position_ids || b->attention_mask)
        return tl_set_error(TL_ERR_INVALID_ARG, "decode: decoders take no token_type_ids, position_ids "
                            "or attention_mask (positions follow each sequence's cache)");
    unsigned char *seen = calloc(c->kv->n_seqs ? c->kv->n_seqs : 1, 1);
    if (!seen) return tl_set_error(TL_ERR_OOM, "out of memory");
    tl_status s = TL_OK;
    size_t total = 0, mk = 0;
    for (size_t i = 0; i < b->n_seqs && s == TL_OK; i++) {
        const tl_kv_seq *q = tl_kv_seq_get(c->kv, ids[i]);
        size_t len = b->seq_lens[i];
        if (!q) s = tl_set_error(TL_ERR_INVALID_ARG, "decode: batch sequence %zu: KV sequence %d is not live", i, (int)ids[i]);
        else if (seen[ids[i]]++) s = tl_set_error(TL_ERR_INVALID_ARG, "decode: KV sequence %d appears twice in the batch", (int)ids[i]);
        else if (len == 0) s = tl_set_error(TL_ERR_INVALID_ARG, "decode: batch sequence %zu has no tokens", i);
        else if (len > a->max_seq_len || q->len > a->max_seq_len - len)
            s = tl_set_error(TL_ERR_INVALID_ARG, "decode: sequence %zu would reach %zu tokens (%zu cached + %zu new), "
                             "the model allows at most %zu (max positions)", i, q->len + len, q->len, len, a->max_seq_len);
        else {
            total += len;
            if (q->len + len > mk) mk = q->len + len;
        }
    }
    free(seen);
    for (size_t t = 0; s == TL_OK && t < total; t++)
        if (b->input_ids[t] < 0 || (size_t)b->input_ids[t] >= a->vocab_size)
            s = tl_set_error(TL_ERR_INVALID_ARG, "decode: token %zu: input id %d outside [0, %zu)", t,
                             b->input_ids[t], a->vocab_size);
    *T = total;
    *max_keys = mk;
    return s;
}

/* The step proper on checked arguments with room reserved; see tl_context_decode. */
static tl_status run_step(tl_context *c, const int32_t *ids, const tl_batch *b, size_t T, size_t mk,
                          int all_tokens, float *logits) {
    const tl_model *m = c->model;
    const tl_arch *a = &m->arch;
    const tl_block_ops *ops = a->family->block;
    const size_t n = b->n_seqs, H = a->hidden;
    tl_arena_plan p = {0};
    ops->plan_decode(a, b, T, mk, c->n_threads, &p);
    const int px = tl_arena_add(&p, T, H * sizeof(float));
    const int plast = tl_arena_add(&p, n, H * sizeof(float));
    const int ppages = tl_arena_add(&p, n, sizeof(float **));
    const int ppast = tl_arena_add(&p, n, sizeof(size_t));
    const int ppos = tl_arena_add(&p, T, sizeof(int32_t));
    if (!tl_arena_layout(&p) || p.overflow) return tl_set_error(TL_ERR_OOM, "decode: a step of %zu tokens is too large", T);
    void *arena = tl_ctx_arena(c, p.total);
    if (!arena) return tl_set_error(TL_ERR_OOM, "cannot allocate %zu bytes for a decode step", p.total);
    float *x = tl_arena_at(arena, &p, px), *last = tl_arena_at(arena, &p, plast);
    float **const *pages = tl_arena_at(arena, &p, ppages);
    float ***pg = (float ***)pages;
    size_t *past = tl_arena_at(arena, &p, ppast);
    int32_t *pos = tl_arena_at(arena, &p, ppos);
    for (size_t i = 0, t = 0; i < n; i++) {
        tl_kv_seq *q = tl_kv_seq_get(c->kv, ids[i]);
        pg[i] = q->pages;
        past[i] = q->len;
        for (size_t j = 0; j < b->seq_lens[i]; j++) pos[t++] = (int32_t)(q->len + j);
    }
    tl_kv_step kv = {.pages = (float *const *const *)pg, .past = past, .pos = pos, .max_keys = mk,
                     .kv_dim = a->kv_dim};
    tl_threads_saved prev = tl_threads_enter(c->n_threads);
    tl_threads_steer_omp(c->n_threads);
    ops->decode(c, b, T, &kv, x, &p, arena);
    const tl_gemm g = tl_ctx_gemm(c, m->gemm);
    if (all_tokens) {
        tl_linear_forward(&g, &m->w.lm_head, x, logits, T, TL_LINEAR_NO_ACT);
    } else {
        for (size_t i = 0, end = 0; i < n; i++) {
            end += b->seq_lens[i];
            memcpy(last + i * H, x + (end - 1) * H, H * sizeof(float));
        }
        tl_linear_forward(&g, &m->w.lm_head, last, logits, n, TL_LINEAR_NO_ACT);
    }
    tl_threads_leave(prev);
    for (size_t i = 0; i < n; i++) tl_kv_seq_get(c->kv, ids[i])->len += b->seq_lens[i];
    tl_ctx_arena_done(c, arena);
    return TL_OK;
}

tl_status tl_context_decode(tl_context *ctx, const int32_t *seq_ids, const tl_batch *batch,
                            int all_tokens, float *logits, size_t logits_len) {
    if (!ctx || !seq_ids || !batch || !logits)
        return tl_set_error(TL_ERR_INVALID_ARG, "tl_context_decode: NULL argument");
    tl_status s = require_decoder(ctx, "tl_context_decode");
    if (s == TL_OK) s = ensure_kv(ctx);
    size_t T = 0, mk = 0, rows, need;
    if (s == TL_OK) s = check_step(ctx, seq_ids, batch, &T, &mk);
    if (s) return s;
    rows = all_tokens ? T : batch->n_seqs;
    if (tl_mul_overflow(rows, ctx->model->arch.vocab_size, &need) || need > logits_len)
        return tl_set_error(TL_ERR_INVALID_ARG, "decode: logits holds %zu floats, %zu rows x vocabulary %zu "
                            "need more", logits_len, rows, ctx->model->arch.vocab_size);
    size_t *add = malloc(batch->n_seqs * sizeof *add);
    if (!add) return tl_set_error(TL_ERR_OOM, "out of memory");
    memcpy(add, batch->seq_lens, batch->n_seqs * sizeof *add);
    s = tl_kv_reserve(ctx->kv, seq_ids, add, batch->n_seqs);
    free(add);
    return s == TL_OK ? run_step(ctx, seq_ids, batch, T, mk, all_tokens, logits) : s;
}

tl_status tl_context_logits(tl_context *ctx, const tl_batch *batch, float *logits, size_t logits_len) {
    if (!ctx || !batch || !logits) return tl_set_error(TL_ERR_INVALID_ARG, "tl_context_logits: NULL argument");
    tl_status s = require_decoder(ctx, "tl_context_logits");
    if (s == TL_OK) s = ensure_kv(ctx);
    if (s) return s;
    int32_t *ids = malloc((batch->n_seqs ? batch->n_seqs : 1) * sizeof *ids);
    if (!ids) return tl_set_error(TL_ERR_OOM, "out of memory");
    size_t made = 0;
    for (; made < batch->n_seqs && s == TL_OK; made++)
        if ((s = tl_kv_seq_new(ctx->kv, &ids[made]))) break;
    if (s == TL_OK) s = tl_context_decode(ctx, ids, batch, 1, logits, logits_len);
    for (size_t i = 0; i < made; i++) tl_kv_seq_free(ctx->kv, ids[i]);
    free(ids);
    return s;
}

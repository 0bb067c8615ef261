/* context.c — tl_context handles on a model (create, free, forward) and the model's spare
 * context, which the calls that take no context borrow. */
#include "core/error.h"
#include "core/util.h"
#include "model/model.h"
#include "runtime/threads.h"

#include <stdlib.h>

tl_context_params tl_context_default_params(void) {
    tl_context_params p = {.num_threads = 0, .kv_cache_tokens = 0};
    return p;
}

tl_status tl_context_new(const tl_model *model, const tl_context_params *params, tl_context **out) {
    if (!out) return tl_set_error(TL_ERR_INVALID_ARG, "tl_context_new: out is NULL");
    *out = NULL;
    if (!model) return tl_set_error(TL_ERR_INVALID_ARG, "tl_context_new: model is NULL");
    tl_context_params p = params ? *params : tl_context_default_params();
    if (p.num_threads < 0)
        return tl_set_error(TL_ERR_INVALID_ARG, "tl_context_new: num_threads %d is negative "
                            "(0 means the model's %d)", p.num_threads, model->n_threads);
    tl_context *c = malloc(sizeof *c);
    if (!c) return tl_set_error(TL_ERR_OOM, "out of memory for a context");
    tl_ctx_init(c, model, p.num_threads ? p.num_threads : model->n_threads);
    c->kv_tokens = p.kv_cache_tokens;
    if (!(c->gemm_state = tl_gemm_state_new(model->gemm))) {
        free(c);
        return tl_set_error(TL_ERR_OOM, "out of memory for a context's %s GEMM state", model->gemm->name);
    }
    *out = c;
    return TL_OK;
}

void tl_context_free(tl_context *ctx) {
    if (!ctx) return;
    tl_gemm_state_free(ctx->gemm_state);
    tl_ctx_release(ctx);
    free(ctx);
}

int tl_context_num_threads(const tl_context *ctx) { return ctx ? ctx->n_threads : 0; }

tl_context *tl_model_ctx_get(const tl_model *m) {
    /* the slot is the model's one mutable member (model.h); exchanged, never shared */
    tl_context *c = atomic_exchange(&((tl_model *)m)->spare, NULL);
    if (c) return c;
    return tl_context_new(m, NULL, &c) == TL_OK ? c : NULL;
}

void tl_model_ctx_put(const tl_model *m, tl_context *c) {
    tl_context *empty = NULL;
    if (c && !atomic_compare_exchange_strong(&((tl_model *)m)->spare, &empty, c)) tl_context_free(c);
}

tl_status tl_context_forward(tl_context *ctx, const tl_batch *b, float *out, size_t out_len) {
    if (!ctx || !b || !out) return tl_set_error(TL_ERR_INVALID_ARG, "tl_context_forward: NULL argument");
    const tl_model *m = ctx->model;
    size_t total, need;
    tl_status s = tl_batch_validate(m, b, &total);
    if (s != TL_OK) return s;
    if (tl_mul_overflow(total, m->arch.hidden, &need) || need > out_len)
        return tl_set_error(TL_ERR_INVALID_ARG,
                            "forward: out holds %zu floats, %zu tokens x hidden %zu need more",
                            out_len, total, m->arch.hidden);
    tl_threads_saved prev = tl_threads_enter(ctx->n_threads);
    s = tl_encoder_forward(ctx, b, total, out);
    tl_threads_leave(prev);
    return s;
}

tl_status tl_model_forward(tl_model *m, const tl_batch *b, float *out, size_t out_len) {
    if (!m || !b || !out) return tl_set_error(TL_ERR_INVALID_ARG, "tl_model_forward: NULL argument");
    tl_context *c = tl_model_ctx_get(m);
    if (!c) return TL_ERR_OOM;
    tl_status s = tl_context_forward(c, b, out, out_len);
    tl_model_ctx_put(m, c);
    return s;
}

/* gen_request.c — generate requests of the batching engine: submission (settings checked
 * and copied, the pages the sequence may take counted against a worker's KV cache), the
 * token hand-off from the worker to the caller, why a request ended, and engine counters. */
#include "engine/engine_int.h"
#include "core/error.h"
#include "core/util.h"
#include "runtime/kv_cache.h"
#include "tasks/sampling.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Checks p against the model and the engine's cache for a prompt of len tokens (after the
 * bos substitution); sets *need to the cache tokens (whole pages) it may take. */
static tl_status check(const tl_engine *e, const tl_generate_params *p, size_t len, size_t *need) {
    tl_status s = tl_sampling_check(p);
    if (s) return s;
    const size_t max_pos = tl_model_max_positions(e->m);
    if (p->max_new_tokens == 0 || p->max_new_tokens >= max_pos)
        return tl_set_error(TL_ERR_INVALID_ARG, "generate: max_new_tokens %zu must be in [1, %zu) "
                            "(the model's max positions)", p->max_new_tokens, max_pos);
    if (len > max_pos - p->max_new_tokens)
        return tl_set_error(TL_ERR_INVALID_ARG, "generate: the prompt has %zu tokens; with max_new_tokens "
                            "%zu it passes the model's %zu positions", len, p->max_new_tokens, max_pos);
    *need = (len + p->max_new_tokens - 1 + TL_KV_PAGE_TOKENS - 1) / TL_KV_PAGE_TOKENS * TL_KV_PAGE_TOKENS;
    if (*need > e->kv_capacity)
        return tl_set_error(TL_ERR_INVALID_ARG, "generate: the prompt (%zu tokens) plus max_new_tokens %zu "
                            "needs %zu KV-cache tokens (in pages of %d), a worker's cache holds %zu "
                            "(kv_cache_tokens): it can never run", len, p->max_new_tokens, *need,
                            TL_KV_PAGE_TOKENS, e->kv_capacity);
    return TL_OK;
}

/* Copies p's eos ids and stop strings into r (r->gp points at the copies). */
static tl_status copy_settings(tl_request *r, const tl_generate_params *p) {
    r->gp = *p;
    r->gp.out_logprobs = NULL;
    r->gp.eos_ids = NULL;
    r->gp.stop_strings = NULL;
    r->gp.n_stop_strings = 0;
    if (p->n_eos) {
        if (!p->eos_ids) return tl_set_error(TL_ERR_INVALID_ARG, "generate: n_eos %zu with NULL eos_ids", p->n_eos);
        if (!(r->gen_eos = malloc(p->n_eos * sizeof *r->gen_eos))) return tl_set_error(TL_ERR_OOM, "out of memory");
        memcpy(r->gen_eos, p->eos_ids, p->n_eos * sizeof *r->gen_eos);
        r->gp.eos_ids = r->gen_eos;
    }
    if (p->n_stop_strings) {
        if (!p->stop_strings)
            return tl_set_error(TL_ERR_INVALID_ARG, "generate: n_stop_strings %zu with NULL stop_strings",
                                p->n_stop_strings);
        if (!(r->gen_stops = calloc(p->n_stop_strings, sizeof *r->gen_stops)))
            return tl_set_error(TL_ERR_OOM, "out of memory");
        for (size_t i = 0; i < p->n_stop_strings; i++) {
            if (!p->stop_strings[i] || !p->stop_strings[i][0])
                return tl_set_error(TL_ERR_INVALID_ARG, "generate: stop string %zu is NULL or empty", i);
            if (!(r->gen_stops[i] = tl_strdup(p->stop_strings[i]))) return tl_set_error(TL_ERR_OOM, "out of memory");
            r->gp.n_stop_strings = i + 1;
        }
        r->gp.stop_strings = (const char *const *)r->gen_stops;
        if (!r->gp.tokenizer) r->gp.tokenizer = tl_model_tokenizer(r->e->m);
        if (!r->gp.tokenizer)
            return tl_set_error(TL_ERR_INVALID_ARG, "generate: stop strings need a tokenizer and the model has none");
    }
    return TL_OK;
}

tl_status tl_engine_submit_generate(tl_engine *e, const int32_t *prompt, size_t len,
                                    const tl_generate_params *params, tl_request **out) {
    if (!out) return tl_set_error(TL_ERR_INVALID_ARG, "tl_engine_submit_generate: out is NULL");
    *out = NULL;
    if (!e || (len && !prompt)) return tl_set_error(TL_ERR_INVALID_ARG, "tl_engine_submit_generate: NULL argument");
    if (!tl_model_is_decoder(e->m))
        return tl_set_error(TL_ERR_UNSUPPORTED, "generate: model_type '%s' is an encoder, not a decoder",
                            tl_model_type(e->m));
    tl_generate_params p = params ? *params : tl_model_generate_params(e->m);
    const size_t V = tl_model_vocab_size(e->m);
    if (len == 0 && p.bos_token_id < 0)
        return tl_set_error(TL_ERR_INVALID_ARG, "generate: the prompt is empty and there is no bos_token_id to "
                            "start from");
    if (len == 0 && (size_t)p.bos_token_id >= V)
        return tl_set_error(TL_ERR_INVALID_ARG, "generate: the prompt is empty and bos_token_id %d is outside "
                            "the vocabulary (%zu)", (int)p.bos_token_id, V);
    for (size_t k = 0; k < len; k++)
        if (prompt[k] < 0 || (size_t)prompt[k] >= V)
            return tl_set_error(TL_ERR_INVALID_ARG, "generate: token id %d at position %zu is outside the "
                                "vocabulary (0..%zu)", (int)prompt[k], k, V - 1);
    const size_t n_tok = len ? len : 1;
    size_t need = 0;
    tl_status s = check(e, &p, n_tok, &need);
    if (s) return s;
    tl_request *r = tl_request_alloc(e, TL_REQUEST_GENERATE, 1);
    if (!r) return tl_set_error(TL_ERR_OOM, "out of memory");
    r->kv_need = need;
    r->total = n_tok;
    const size_t M = p.max_new_tokens;
    r->lens = malloc(sizeof *r->lens);
    r->ids = malloc((n_tok + M) * sizeof *r->ids); /* the prompt, then room for the new tokens */
    r->gen_out = malloc(M * sizeof *r->gen_out);
    r->gen_lp = malloc(M * sizeof *r->gen_lp);
    if (!r->lens || !r->ids || !r->gen_out || !r->gen_lp) s = tl_set_error(TL_ERR_OOM, "out of memory");
    if (s == TL_OK) {
        r->lens[0] = n_tok;
        if (len) memcpy(r->ids, prompt, len * sizeof *r->ids);
        else r->ids[0] = p.bos_token_id;
        s = copy_settings(r, &p);
    }
    if (s == TL_OK) s = tl_engine_enqueue(e, r);
    if (s != TL_OK) { tl_request_destroy(r); return s; }
    *out = r;
    return TL_OK;
}

size_t tl_request_wait_tokens(tl_request *r, size_t seen, int timeout_ms) {
    if (!r || r->kind != TL_REQUEST_GENERATE) return 0;
    pthread_mutex_lock(&r->mu);
    if (timeout_ms < 0) {
        while (r->gen_n <= seen && r->state != TL_RQ_DONE) pthread_cond_wait(&r->cv, &r->mu);
    } else if (timeout_ms > 0) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += timeout_ms / 1000;
        dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (dl.tv_nsec >= 1000000000L) { dl.tv_sec++; dl.tv_nsec -= 1000000000L; }
        while (r->gen_n <= seen && r->state != TL_RQ_DONE)
            if (pthread_cond_timedwait(&r->cv, &r->mu, &dl) == ETIMEDOUT) break;
    }
    size_t n = r->gen_n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

const int32_t *tl_request_generated(const tl_request *r, size_t *n, const float **logprobs) {
    size_t k = 0;
    if (r && r->kind == TL_REQUEST_GENERATE) {
        pthread_mutex_lock((pthread_mutex_t *)&r->mu);
        k = r->gen_n;
        pthread_mutex_unlock((pthread_mutex_t *)&r->mu);
    }
    if (n) *n = k;
    if (logprobs) *logprobs = r && r->kind == TL_REQUEST_GENERATE ? r->gen_lp : NULL;
    return r && r->kind == TL_REQUEST_GENERATE ? r->gen_out : NULL;
}

tl_finish_reason tl_request_finish_reason(const tl_request *r) {
    if (!r || r->kind != TL_REQUEST_GENERATE) return TL_FINISH_NONE;
    pthread_mutex_lock((pthread_mutex_t *)&r->mu);
    int f = r->state == TL_RQ_DONE ? r->finish : TL_FINISH_NONE;
    pthread_mutex_unlock((pthread_mutex_t *)&r->mu);
    return (tl_finish_reason)f;
}

void tl_engine_get_stats(const tl_engine *e, tl_engine_stats *st) {
    if (!st) return;
    memset(st, 0, sizeof *st);
    if (!e) return;
    pthread_mutex_lock((pthread_mutex_t *)&e->mu);
    *st = e->stats;
    pthread_mutex_unlock((pthread_mutex_t *)&e->mu);
}

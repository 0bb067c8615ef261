/* request.c — engine requests: submission (tokenizing on the caller's thread), waiting,
 * cancelling, results and freeing. */
#include "engine/engine_int.h"
#include "core/error.h"
#include "core/util.h"
#include "model/model.h"
#include "tasks/embed.h"
#include "tasks/text_batch.h"
#include "tasks/pipeline.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

tl_request_params tl_request_default_params(void) {
    tl_request_params p = {.kind = TL_REQUEST_EMBED, .normalize = -1};
    return p;
}

double tl_engine_now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* Frees what r owns and r itself (see engine_int.h). */
void tl_request_destroy(tl_request *r) {
    free(r->gen_eos);
    for (size_t i = 0; r->gen_stops && i < r->gp.n_stop_strings; i++) free(r->gen_stops[i]);
    free(r->gen_stops);
    free(r->gen_out);
    free(r->gen_lp);
    free(r->lens);
    free(r->ids);
    free(r->types);
    free(r->mask);
    free(r->inputs_json);
    free(r->params_json);
    free(r->message);
    free(r->out);
    free(r->json);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

/* Drops one reference of r (under no lock); frees r at zero. */
static void request_unref(tl_request *r) {
    pthread_mutex_lock(&r->mu);
    int left = --r->refs;
    pthread_mutex_unlock(&r->mu);
    if (left == 0) tl_request_destroy(r);
}

void tl_request_finish(tl_request *r, tl_status s, const char *msg) {
    pthread_mutex_lock(&r->mu);
    r->status = s;
    free(r->message);
    r->message = tl_strdup(msg ? msg : "");
    r->t_done = tl_engine_now_us();
    if (!r->t_start) r->t_start = r->t_done;
    r->state = TL_RQ_DONE;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    request_unref(r);
}

/* Tokenizes texts into r's packed arrays with the request's truncation rules. */
static tl_status tokenize(tl_request *r, const tl_model *m, const char *const *texts, const size_t *lens,
                          const tl_request_params *p) {
    size_t limit = p->kind == TL_REQUEST_EMBED ? tl_embed_max_length(m, p->max_length)
                   : p->max_length && p->max_length < m->arch.max_seq_len ? p->max_length
                                                                           : m->arch.max_seq_len;
    tl_encoding **encs = calloc(r->n, sizeof *encs);
    r->lens = calloc(r->n, sizeof *r->lens);
    if (!encs || !r->lens) { free(encs); return tl_set_error(TL_ERR_OOM, "out of memory"); }
    tl_encode_params ep = tl_encode_default_params();
    if (p->truncate) {
        ep.max_length = limit;
        ep.truncation_left = p->truncate_left;
        ep.drop_overflowing = 1; /* only the kept tokens are run */
    }
    tl_status s = TL_OK;
    size_t total = 0;
    for (size_t i = 0; i < r->n && s == TL_OK; i++) {
        if (!texts[i]) { s = tl_set_error(TL_ERR_INVALID_ARG, "input %zu is NULL", i); break; }
        size_t len = lens ? lens[i] : strlen(texts[i]);
        if (memchr(texts[i], 0, len)) { s = tl_set_error(TL_ERR_INVALID_ARG, "input %zu holds a NUL byte", i); break; }
        s = tl_tokenizer_encode(m->tok, texts[i], len, NULL, 0, &ep, &encs[i]);
        if (s != TL_OK) { tl_error_prefix(s, "input %zu", i); break; }
        r->lens[i] = tl_encoding_length(encs[i]);
        if (r->lens[i] > limit)
            s = tl_set_error(TL_ERR_INVALID_ARG, "input %zu has %zu tokens, more than the %zu the model takes "
                             "(ask for truncation)", i, r->lens[i], limit);
        total += r->lens[i];
    }
    tl_text_batch tb = {0};
    if (s == TL_OK) s = tl_text_batch_pack(m, encs, r->n, &tb); /* the one packer */
    if (s == TL_OK) { /* r takes the packed arrays */
        r->total = tb.total;
        r->ids = tb.ids;
        r->types = tb.type_ids;
        r->mask = tb.mask;
        tb.ids = tb.type_ids = tb.mask = NULL;
    }
    tl_text_batch_free(&tb);
    for (size_t i = 0; i < r->n; i++) tl_encoding_free(encs[i]);
    free(encs);
    return s;
}

/* Copies n pre-tokenized sequences into r's packed arrays (types 0, mask 1): every id must
 * be in the vocabulary, every sequence non-empty and within the limit unless truncated. */
static tl_status take_ids(tl_request *r, const tl_model *m, const int32_t *const *ids, const size_t *lens,
                          const tl_request_params *p) {
    size_t limit = p->kind == TL_REQUEST_EMBED ? tl_embed_max_length(m, p->max_length)
                   : p->max_length && p->max_length < m->arch.max_seq_len ? p->max_length
                                                                           : m->arch.max_seq_len;
    if (!(r->lens = calloc(r->n, sizeof *r->lens))) return tl_set_error(TL_ERR_OOM, "out of memory");
    size_t total = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (!ids[i] || lens[i] == 0) return tl_set_error(TL_ERR_INVALID_ARG, "input %zu has no token ids", i);
        if (lens[i] > limit && !p->truncate)
            return tl_set_error(TL_ERR_INVALID_ARG, "input %zu has %zu tokens, more than the %zu the model takes "
                                "(ask for truncation)", i, lens[i], limit);
        r->lens[i] = lens[i] > limit ? limit : lens[i];
        total += r->lens[i];
    }
    r->ids = malloc((total ? total : 1) * sizeof *r->ids);
    r->types = calloc(total ? total : 1, sizeof *r->types);
    r->mask = malloc((total ? total : 1) * sizeof *r->mask);
    if (!r->ids || !r->types || !r->mask) return tl_set_error(TL_ERR_OOM, "out of memory");
    for (size_t i = 0, t = 0; i < r->n; i++) {
        const int32_t *src = ids[i] + (p->truncate_left && lens[i] > r->lens[i] ? lens[i] - r->lens[i] : 0);
        for (size_t k = 0; k < r->lens[i]; k++, t++) {
            if (src[k] < 0 || (size_t)src[k] >= m->arch.vocab_size)
                return tl_set_error(TL_ERR_INVALID_ARG, "input %zu: token id %d at position %zu is outside the "
                                    "vocabulary (0..%zu)", i, (int)src[k], k, m->arch.vocab_size - 1);
            r->ids[t] = src[k];
            r->mask[t] = 1;
        }
    }
    r->total = total;
    return TL_OK;
}

/* Queues r (see engine_int.h). */
tl_status tl_engine_enqueue(tl_engine *e, tl_request *r) {
    pthread_mutex_lock(&e->mu);
    if (e->stopping) {
        pthread_mutex_unlock(&e->mu);
        return tl_set_error(TL_ERR_INVALID_ARG, "the engine is stopping");
    }
    r->t_queued = tl_engine_now_us();
    if (e->tail) e->tail->next = r; else e->head = r;
    e->tail = r;
    e->q_len++;
    e->q_seqs += r->n + r->merge_items; /* a pipeline request: its mergeable inputs */
    e->q_tokens += r->total;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    return TL_OK;
}

/* Unlinks the queue's head (see engine_int.h). */
tl_request *tl_engine_pop_head(tl_engine *e) {
    tl_request *r = e->head;
    e->head = r->next;
    if (!e->head) e->tail = NULL;
    r->next = NULL;
    e->q_len--;
    e->q_seqs -= r->n + r->merge_items;
    e->q_tokens -= r->total;
    return r;
}

/* A new request (see engine_int.h). */
tl_request *tl_request_alloc(tl_engine *e, int kind, size_t n) {
    tl_request *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->e = e;
    r->kind = kind;
    r->n = n;
    r->refs = 2;
    r->t_submit = tl_engine_now_us();
    return r;
}

/* tl_engine_submit and tl_engine_submit_ids: texts or ids (one of them, or neither for a
 * pipeline request) become a new queued request. */
static tl_status submit(tl_engine *e, const char *const *texts, const int32_t *const *ids, const size_t *lens,
                        size_t n, const tl_request_params *params, tl_request **out) {
    tl_request_params p = params ? *params : tl_request_default_params();
    if (p.kind < TL_REQUEST_EMBED || p.kind > TL_REQUEST_PIPELINE)
        return tl_set_error(TL_ERR_INVALID_ARG, "tl_engine_submit: unknown request kind %d", p.kind);
    if (p.kind == TL_REQUEST_PIPELINE && (!p.pipeline || !p.inputs_json || n))
        return tl_set_error(TL_ERR_INVALID_ARG, "tl_engine_submit: a pipeline request needs a pipeline and "
                            "inputs_json, and no texts");
    if (p.kind == TL_REQUEST_PIPELINE && p.pipeline->m != e->m)
        return tl_set_error(TL_ERR_INVALID_ARG, "tl_engine_submit: the pipeline is on another model");
    if (p.kind != TL_REQUEST_PIPELINE && n == 0)
        return tl_set_error(TL_ERR_INVALID_ARG, "tl_engine_submit: no texts");
    if (p.kind == TL_REQUEST_EMBED) {
        tl_status s = tl_embed_check(e->m);
        if (s != TL_OK) return s;
    } else if (p.kind == TL_REQUEST_FEATURES) {
        tl_status s = tl_model_require_tokenizer(e->m);
        if (s != TL_OK) return s;
    }
    tl_request *r = tl_request_alloc(e, p.kind, n);
    if (!r) return tl_set_error(TL_ERR_OOM, "out of memory");
    r->normalize = p.normalize;
    tl_status s = TL_OK;
    if (p.kind == TL_REQUEST_PIPELINE) {
        r->pipeline = p.pipeline;
        if (!(r->inputs_json = tl_strdup(p.inputs_json)) ||
            (p.params_json && !(r->params_json = tl_strdup(p.params_json))))
            s = tl_set_error(TL_ERR_OOM, "out of memory");
        else
            r->merge_items = tl_pipeline_merge_items(p.pipeline, p.inputs_json); /* parsed here, off the worker */
    } else if (ids) {
        s = take_ids(r, e->m, ids, lens, &p);
    } else {
        s = tokenize(r, e->m, texts, lens, &p);
    }
    if (s == TL_OK) s = tl_engine_enqueue(e, r);
    if (s != TL_OK) {
        tl_request_destroy(r);
        return s;
    }
    *out = r;
    return TL_OK;
}

tl_status tl_engine_submit(tl_engine *e, const char *const *texts, const size_t *lens, size_t n,
                           const tl_request_params *params, tl_request **out) {
    if (!out) return tl_set_error(TL_ERR_INVALID_ARG, "tl_engine_submit: out is NULL");
    *out = NULL;
    if (!e || (n && !texts)) return tl_set_error(TL_ERR_INVALID_ARG, "tl_engine_submit: NULL argument");
    return submit(e, texts, NULL, lens, n, params, out);
}

tl_status tl_engine_submit_ids(tl_engine *e, const int32_t *const *ids, const size_t *lens, size_t n,
                               const tl_request_params *params, tl_request **out) {
    if (!out) return tl_set_error(TL_ERR_INVALID_ARG, "tl_engine_submit_ids: out is NULL");
    *out = NULL;
    if (!e || !ids || !lens || n == 0) return tl_set_error(TL_ERR_INVALID_ARG, "tl_engine_submit_ids: NULL argument or no inputs");
    if (params && params->kind == TL_REQUEST_PIPELINE)
        return tl_set_error(TL_ERR_INVALID_ARG, "tl_engine_submit_ids: pipeline requests take inputs_json, not ids");
    return submit(e, NULL, ids, lens, n, params, out);
}

tl_status tl_request_wait(tl_request *r, int timeout_ms) {
    if (!r) return tl_set_error(TL_ERR_INVALID_ARG, "tl_request_wait: NULL request");
    pthread_mutex_lock(&r->mu);
    if (timeout_ms < 0) {
        while (r->state != TL_RQ_DONE) pthread_cond_wait(&r->cv, &r->mu);
    } else {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += timeout_ms / 1000;
        dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (dl.tv_nsec >= 1000000000L) { dl.tv_sec++; dl.tv_nsec -= 1000000000L; }
        while (r->state != TL_RQ_DONE)
            if (pthread_cond_timedwait(&r->cv, &r->mu, &dl) == ETIMEDOUT) break;
    }
    int done = r->state == TL_RQ_DONE;
    tl_status s = r->status;
    pthread_mutex_unlock(&r->mu);
    return done ? s : tl_set_error(TL_ERR_IO, "timed out");
}

void tl_request_cancel(tl_request *r) {
    if (r) atomic_store(&r->cancel, 1);
}

int tl_request_done(const tl_request *r) {
    if (!r) return 0;
    pthread_mutex_lock((pthread_mutex_t *)&r->mu);
    int d = r->state == TL_RQ_DONE;
    pthread_mutex_unlock((pthread_mutex_t *)&r->mu);
    return d;
}

int tl_request_cancelled(const tl_request *r) { return r && tl_request_done(r) && atomic_load(&r->dropped); }

tl_status tl_request_status(const tl_request *r) {
    return !r ? TL_ERR_INVALID_ARG : tl_request_done(r) ? r->status : TL_ERR_INVALID_ARG;
}

const char *tl_request_error(const tl_request *r) {
    return r && tl_request_done(r) && r->message ? r->message : r ? (tl_request_done(r) ? "" : "pending") : "NULL request";
}

const float *tl_request_embeddings(const tl_request *r, size_t *n, size_t *dim) {
    int ok = r && r->kind == TL_REQUEST_EMBED && tl_request_done(r) && r->status == TL_OK;
    if (n) *n = ok ? r->n : 0;
    if (dim) *dim = ok ? r->dim : 0;
    return ok ? r->out : NULL;
}

const float *tl_request_features(const tl_request *r, size_t i, size_t *n_tokens, size_t *hidden) {
    int ok = r && r->kind == TL_REQUEST_FEATURES && i < r->n && tl_request_done(r) && r->status == TL_OK;
    size_t t = 0;
    for (size_t k = 0; ok && k < i; k++) t += r->lens[k];
    if (n_tokens) *n_tokens = ok ? r->lens[i] : 0;
    if (hidden) *hidden = ok ? r->dim : 0;
    return ok ? r->out + t * r->dim : NULL;
}

size_t tl_request_tokens(const tl_request *r, size_t i) {
    return r && r->kind != TL_REQUEST_PIPELINE && i < r->n && r->lens ? r->lens[i] : 0;
}

const char *tl_request_output_json(const tl_request *r) {
    return r && r->kind == TL_REQUEST_PIPELINE && tl_request_done(r) && r->status == TL_OK ? r->json : NULL;
}

void tl_request_get_timing(const tl_request *r, tl_request_timing *t) {
    if (!t) return;
    memset(t, 0, sizeof *t);
    if (!r || !tl_request_done(r)) return;
    t->tokenize_us = r->t_queued - r->t_submit;
    t->queue_us = r->t_start - r->t_queued;
    t->inference_us = r->t_done - r->t_start;
    t->batch_requests = r->batch_requests;
    t->batch_seqs = r->batch_seqs;
    t->batch_tokens = r->batch_tokens;
}

void tl_request_free(tl_request *r) {
    if (!r) return;
    atomic_store(&r->cancel, 1);
    request_unref(r);
}

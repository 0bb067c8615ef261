/* engine.c — the batching engine: start / stop, and the workers that pack queued requests
 * into one padding-free batch (token and sequence budgets, an optional wait for more) and
 * run it on their own context. */
#include "engine/engine_int.h"
#include "core/error.h"
#include "core/util.h"
#include "model/model.h"
#include "tasks/embed.h"
#include "tasks/pipeline.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

tl_engine_params tl_engine_default_params(void) {
    tl_engine_params p = {.num_workers = 1, .threads_per_worker = 0, .max_batch_tokens = 16384,
                          .max_batch_requests = 256, .max_batch_delay_ms = 0};
    return p;
}

/* A worker's reusable buffers for the packed batch it builds. */
typedef struct worker_buf {
    size_t *lens;
    int32_t *ids, *types, *mask;
    float *hidden;
    size_t cap_seqs, cap_tokens, cap_hidden;
} worker_buf;

/* Grows b to hold seqs sequences, tokens tokens and hidden floats; 0 on OOM. */
static int buf_reserve(worker_buf *b, size_t seqs, size_t tokens, size_t hidden) {
    if (seqs > b->cap_seqs) {
        size_t *p = realloc(b->lens, seqs * sizeof *p);
        if (!p) return 0;
        b->lens = p;
        b->cap_seqs = seqs;
    }
    if (tokens > b->cap_tokens) {
        int32_t *a = realloc(b->ids, tokens * sizeof *a);
        if (a) b->ids = a;
        int32_t *c = realloc(b->types, tokens * sizeof *c);
        if (c) b->types = c;
        int32_t *d = realloc(b->mask, tokens * sizeof *d);
        if (d) b->mask = d;
        if (!a || !c || !d) return 0;
        b->cap_tokens = tokens;
    }
    if (hidden > b->cap_hidden) {
        float *h = realloc(b->hidden, hidden * sizeof *h);
        if (!h) return 0;
        b->hidden = h;
        b->cap_hidden = hidden;
    }
    return 1;
}

/* Completes a request cancelled before it ran. */
static void drop(tl_request *r) {
    atomic_store(&r->dropped, 1);
    tl_request_finish(r, TL_ERR_INVALID_ARG, "cancelled");
}

/* Waits (under e->mu) for work; then, when a delay is set and the queue is below both
 * budgets, for more work until the oldest request has waited max_batch_delay_ms. Returns 0
 * when the engine is stopping with an empty queue. */
static int wait_for_work(tl_engine *e) {
    while (!e->head && !e->stopping) pthread_cond_wait(&e->cv, &e->mu);
    if (!e->head) return 0;
    if (e->p.max_batch_delay_ms <= 0) return 1;
    double deadline = e->head->t_queued + 1000.0 * e->p.max_batch_delay_ms;
    while (!e->stopping && e->q_tokens < e->p.max_batch_tokens && e->q_seqs < e->p.max_batch_requests &&
           (e->head->kind != TL_REQUEST_PIPELINE || e->head->merge_items)) {
        double left = deadline - tl_engine_now_us();
        if (left <= 0) break;
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        long long ns = (long long)dl.tv_nsec + (long long)(left * 1000.0);
        dl.tv_sec += (time_t)(ns / 1000000000LL);
        dl.tv_nsec = (long)(ns % 1000000000LL);
        if (pthread_cond_timedwait(&e->cv, &e->mu, &dl) == ETIMEDOUT) break;
    }
    return e->head != NULL;
}

/* 1 when pipeline request r may run in one call with q: the same pipeline and parameters,
 * both of a form the task merges. */
static int same_call(const tl_request *q, const tl_request *r) {
    return r->kind == TL_REQUEST_PIPELINE && r->pipeline == q->pipeline && q->merge_items && r->merge_items &&
           (r->params_json && q->params_json ? !strcmp(r->params_json, q->params_json)
                                             : !r->params_json && !q->params_json);
}

/* Takes the next batch off the queue (under e->mu): the longest run from the head of
 * pipeline requests that can share one call (at most max_batch_requests inputs), or of
 * EMBED / FEATURES requests within the budgets (at least one request). Cancelled requests
 * met on the way are collected in *dropped. Returns the count. */
static size_t take_batch(tl_engine *e, tl_request **batch, size_t cap, tl_request **dropped) {
    size_t n = 0, seqs = 0, tokens = 0;
    while (e->head && n < cap) {
        tl_request *r = e->head;
        if (atomic_load(&r->cancel)) {
            tl_engine_pop_head(e);
            r->next = *dropped;
            *dropped = r;
            continue;
        }
        if (r->kind == TL_REQUEST_GENERATE) break; /* joins the decode batch (gen_batch.c) */
        if (n > 0 && (batch[0]->kind == TL_REQUEST_PIPELINE) != (r->kind == TL_REQUEST_PIPELINE)) break;
        if (r->kind == TL_REQUEST_PIPELINE) {
            if (n > 0 && (!same_call(batch[0], r) || seqs + r->merge_items > e->p.max_batch_requests)) break;
            batch[n++] = tl_engine_pop_head(e);
            seqs += r->merge_items;
            if (!r->merge_items) break;
            continue;
        }
        if (n > 0 && (seqs + r->n > e->p.max_batch_requests || tokens + r->total > e->p.max_batch_tokens)) break;
        batch[n++] = tl_engine_pop_head(e);
        seqs += r->n;
        tokens += r->total;
    }
    return n;
}

/* Runs one pipeline request on the calling worker. */
static void run_pipeline(tl_request *r) {
    char *out = NULL;
    tl_status s = tl_pipeline_run(r->pipeline, r->inputs_json, r->params_json, &out);
    r->json = out;
    r->batch_requests = 1;
    r->batch_seqs = r->merge_items;
    tl_request_finish(r, s, s == TL_OK ? NULL : tl_last_error());
}

/* Runs n pipeline requests that share one call (take_batch) as one merged run; when it
 * fails (one request's input is bad, say), runs them one by one so each gets its own
 * answer and error. */
static void run_pipelines(tl_request **rs, size_t n) {
    if (n == 1) { run_pipeline(rs[0]); return; }
    const char **ins = malloc(n * sizeof *ins);
    char **outs = calloc(n, sizeof *outs);
    size_t items = 0;
    for (size_t i = 0; ins && i < n; i++) ins[i] = rs[i]->inputs_json, items += rs[i]->merge_items;
    if (!ins || !outs || tl_pipeline_run_merged(rs[0]->pipeline, ins, n, rs[0]->params_json, outs) != TL_OK) {
        for (size_t i = 0; i < n; i++) run_pipeline(rs[i]);
    } else {
        for (size_t i = 0; i < n; i++) {
            rs[i]->json = outs[i];
            rs[i]->batch_requests = n;
            rs[i]->batch_seqs = items;
            tl_request_finish(rs[i], TL_OK, NULL);
        }
    }
    free(ins);
    free(outs);
}

/* Packs the n EMBED / FEATURES requests into one batch, runs it on ctx and gives each
 * request its pooled embeddings or its slice of the hidden states. */
static void run_packed(tl_engine *e, tl_context *ctx, worker_buf *b, tl_request **rs, size_t n) {
    const tl_model *m = e->m;
    const size_t H = m->arch.hidden, D = tl_model_embedding_dim(m);
    size_t seqs = 0, tokens = 0;
    for (size_t i = 0; i < n; i++) seqs += rs[i]->n, tokens += rs[i]->total;
    tl_status s = TL_OK;
    const char *msg = NULL;
    if (!buf_reserve(b, seqs, tokens, tokens * H)) { s = TL_ERR_OOM; msg = "out of memory for the batch"; }
    for (size_t i = 0, q = 0, t = 0; s == TL_OK && i < n; i++) {
        tl_request *r = rs[i];
        memcpy(b->lens + q, r->lens, r->n * sizeof *r->lens);
        memcpy(b->ids + t, r->ids, r->total * sizeof(int32_t));
        memcpy(b->types + t, r->types, r->total * sizeof(int32_t));
        memcpy(b->mask + t, r->mask, r->total * sizeof(int32_t));
        q += r->n;
        t += r->total;
    }
    if (s == TL_OK) {
        /* type ids only for models with several types, as tl_text_batch_pack hands them */
        tl_batch batch = {.n_seqs = seqs, .seq_lens = b->lens, .input_ids = b->ids,
                          .token_type_ids = m->arch.type_vocab_size > 1 ? b->types : NULL,
                          .attention_mask = b->mask};
        s = tl_context_forward(ctx, &batch, b->hidden, tokens * H);
        if (s != TL_OK) msg = tl_last_error();
    }
    for (size_t i = 0, t = 0; i < n; i++) {
        tl_request *r = rs[i];
        r->batch_requests = n;
        r->batch_seqs = seqs;
        r->batch_tokens = tokens;
        tl_status rs_s = s;
        const char *rs_msg = msg;
        if (rs_s == TL_OK) {
            r->dim = r->kind == TL_REQUEST_EMBED ? D : H;
            size_t count = r->kind == TL_REQUEST_EMBED ? r->n * D : r->total * H;
            r->out = malloc((count ? count : 1) * sizeof(float));
            if (!r->out) { rs_s = TL_ERR_OOM; rs_msg = "out of memory for a result"; }
            else if (r->kind == TL_REQUEST_EMBED)
                tl_embed_pool(m, b->hidden + t * H, b->mask + t, r->lens, r->n, r->normalize, r->out);
            else
                memcpy(r->out, b->hidden + t * H, count * sizeof(float));
        }
        t += r->total;
        tl_request_finish(r, rs_s, rs_msg);
    }
}

/* Passed to a worker thread: its engine and its context. */
typedef struct worker_arg { tl_engine *e; tl_context *ctx; tl_request **batch; tl_gen_batch *gen; } worker_arg;

/* Worker thread body: take a batch of encoder / pipeline requests and run it, or admit
 * generate requests into the running decode batch and run one step, until the engine
 * stops with the queue and the decode batch empty. */
static void *worker_main(void *arg) {
    worker_arg *wa = arg;
    tl_engine *e = wa->e;
    tl_context *ctx = wa->ctx;
    tl_request **batch = wa->batch;
    tl_gen_batch *wa_gen = wa->gen;
    free(wa);
    worker_buf b = {0};
    size_t cap = e->p.max_batch_requests;
    tl_gen_batch *gb = wa_gen;
    for (;;) {
        tl_request *dropped = NULL;
        pthread_mutex_lock(&e->mu);
        if (!tl_gen_batch_size(gb) && !wait_for_work(e)) { pthread_mutex_unlock(&e->mu); break; }
        size_t n = take_batch(e, batch, cap, &dropped);
        if (!n) tl_gen_batch_admit(gb, &dropped);
        double t0 = tl_engine_now_us();
        for (size_t i = 0; i < n; i++) {
            pthread_mutex_lock(&batch[i]->mu);
            batch[i]->state = TL_RQ_RUNNING;
            batch[i]->t_start = t0;
            pthread_mutex_unlock(&batch[i]->mu);
        }
        pthread_mutex_unlock(&e->mu);
        while (dropped) {
            tl_request *next = dropped->next;
            drop(dropped);
            dropped = next;
        }
        if (n && batch[0]->kind == TL_REQUEST_PIPELINE) run_pipelines(batch, n);
        else if (n) run_packed(e, ctx, &b, batch, n);
        if (tl_gen_batch_size(gb)) tl_gen_batch_step(gb);
    }
    tl_gen_batch_free(gb);
    free(batch);
    free(b.lens);
    free(b.ids);
    free(b.types);
    free(b.mask);
    free(b.hidden);
    return NULL;
}

/* Stops and joins the first n workers, frees contexts and the engine. */
static void engine_destroy(tl_engine *e, int n) {
    pthread_mutex_lock(&e->mu);
    e->stopping = 1;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    for (int i = 0; i < n; i++) pthread_join(e->threads[i], NULL);
    for (int i = 0; e->ctx && i < e->n_workers; i++) tl_context_free(e->ctx[i]);
    free(e->ctx);
    free(e->threads);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    free(e);
}

tl_status tl_engine_new(tl_model *model, const tl_engine_params *params, tl_engine **out) {
    if (!out) return tl_set_error(TL_ERR_INVALID_ARG, "tl_engine_new: out is NULL");
    *out = NULL;
    if (!model) return tl_set_error(TL_ERR_INVALID_ARG, "tl_engine_new: model is NULL");
    tl_engine_params p = params ? *params : tl_engine_default_params();
    if (p.num_workers < 0 || p.threads_per_worker < 0 || p.max_batch_delay_ms < 0)
        return tl_set_error(TL_ERR_INVALID_ARG, "tl_engine_new: num_workers, threads_per_worker and "
                            "max_batch_delay_ms must not be negative");
    tl_engine_params d = tl_engine_default_params();
    if (!p.num_workers) p.num_workers = d.num_workers;
    if (!p.max_batch_tokens) p.max_batch_tokens = d.max_batch_tokens;
    if (!p.max_batch_requests) p.max_batch_requests = d.max_batch_requests;
    if (p.num_workers > 1024) return tl_set_error(TL_ERR_INVALID_ARG, "tl_engine_new: %d workers is too many", p.num_workers);
    tl_engine *e = calloc(1, sizeof *e);
    if (!e) return tl_set_error(TL_ERR_OOM, "out of memory");
    e->m = model;
    e->p = p;
    e->n_workers = p.num_workers;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    e->threads = calloc((size_t)p.num_workers, sizeof *e->threads);
    e->ctx = calloc((size_t)p.num_workers, sizeof *e->ctx);
    if (!e->threads || !e->ctx) { engine_destroy(e, 0); return tl_set_error(TL_ERR_OOM, "out of memory"); }
    tl_context_params cp = tl_context_default_params();
    cp.num_threads = p.threads_per_worker;
    cp.kv_cache_tokens = p.kv_cache_tokens;
    for (int i = 0; i < p.num_workers; i++) {
        tl_status s = tl_context_new(model, &cp, &e->ctx[i]);
        if (s != TL_OK) { engine_destroy(e, 0); return s; }
    }
    e->kv_capacity = tl_context_kv_capacity(e->ctx[0]); /* before any worker touches a context */
    for (int i = 0; i < p.num_workers; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        tl_request **batch = malloc(p.max_batch_requests > SIZE_MAX / sizeof *batch ? SIZE_MAX
                                    : p.max_batch_requests * sizeof *batch);
        tl_gen_batch *gen = tl_gen_batch_new(e, e->ctx[i]);
        if (wa) *wa = (worker_arg){e, e->ctx[i], batch, gen};
        if (!wa || !batch || !gen || pthread_create(&e->threads[i], NULL, worker_main, wa) != 0) {
            free(wa);
            free(batch);
            tl_gen_batch_free(gen);
            engine_destroy(e, i);
            return tl_set_error(TL_ERR_INTERNAL, "tl_engine_new: cannot start worker thread %d", i);
        }
    }
    *out = e;
    return TL_OK;
}

void tl_engine_free(tl_engine *e) {
    if (e) engine_destroy(e, e->n_workers);
}

size_t tl_engine_queue_size(const tl_engine *e) {
    if (!e) return 0;
    pthread_mutex_lock((pthread_mutex_t *)&e->mu);
    size_t n = e->q_len;
    pthread_mutex_unlock((pthread_mutex_t *)&e->mu);
    return n;
}

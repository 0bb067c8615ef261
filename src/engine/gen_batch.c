/* gen_batch.c — a worker's running decode batch (continuous batching): generate requests
 * join between steps while the KV pages they may take are free (reserved at admission, so a
 * step never finds the cache full), each step packs the new prompts' prefill with one token
 * of every running sequence in one tl_context_decode, and sequences that end or are
 * cancelled leave, their pages freed, their callers woken with each token. */
#include "engine/engine_int.h"
#include "core/error.h"
#include "core/util.h"
#include "tasks/sampling.h"

#include <stdlib.h>
#include <string.h>

/* One running sequence: its request, its cache sequence (-1 before the first step) and
 * its generation state (over the request's buffers). */
typedef struct run_seq {
    tl_request *r;
    int32_t kv;
    int prefilled;
    tl_gen_seq g;
    int end;        /* the step's TL_FINISH_* for it */
    tl_status status;
    char *msg;
} run_seq;

struct tl_gen_batch {
    tl_engine *e;
    tl_context *ctx;
    run_seq *seqs;
    size_t n, cap, reserved; /* reserved: cache tokens the sequences may take */
    size_t V;
    tl_gen_scratch w;
    float *logits;
    int32_t *ids, *kv_ids;
    size_t *lens;
    size_t cap_tokens;
};

/* A new batch (see engine_int.h). */
tl_gen_batch *tl_gen_batch_new(tl_engine *e, tl_context *ctx) {
    tl_gen_batch *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->e = e;
    b->ctx = ctx;
    b->cap = e->p.max_batch_requests;
    b->V = tl_model_is_decoder(e->m) ? tl_model_vocab_size(e->m) : 0;
    if (!b->V) return b; /* an encoder: never holds a sequence */
    b->seqs = calloc(b->cap, sizeof *b->seqs);
    b->lens = malloc(b->cap * sizeof *b->lens);
    b->kv_ids = malloc(b->cap * sizeof *b->kv_ids);
    b->w.mark = calloc(b->V, 1);
    b->w.work = malloc(b->V * sizeof *b->w.work);
    b->w.prob = malloc(b->V * sizeof *b->w.prob);
    b->logits = malloc(b->cap * b->V * sizeof *b->logits);
    if (!b->seqs || !b->lens || !b->kv_ids || !b->w.mark || !b->w.work || !b->w.prob || !b->logits) {
        tl_gen_batch_free(b);
        return NULL;
    }
    return b;
}

/* Frees b (see engine_int.h). */
void tl_gen_batch_free(tl_gen_batch *b) {
    if (!b) return;
    free(b->seqs); free(b->lens); free(b->kv_ids); free(b->ids); free(b->logits);
    free(b->w.mark); free(b->w.work); free(b->w.prob);
    free(b);
}

/* Sequences in b (see engine_int.h). */
size_t tl_gen_batch_size(const tl_gen_batch *b) { return b ? b->n : 0; }

/* Admits queued generate requests (see engine_int.h). */
size_t tl_gen_batch_admit(tl_gen_batch *b, tl_request **dropped) {
    tl_engine *e = b->e;
    size_t k = 0, tokens = 0;
    double t0 = tl_engine_now_us();
    while (b->V && e->head && e->head->kind == TL_REQUEST_GENERATE) {
        tl_request *r = e->head;
        if (atomic_load(&r->cancel)) {
            tl_engine_pop_head(e);
            r->next = *dropped;
            *dropped = r;
            continue;
        }
        if (b->n >= b->cap || b->reserved + r->kv_need > e->kv_capacity ||
            (k > 0 && tokens + r->total > e->p.max_batch_tokens))
            break; /* waits for pages (or room) to be freed: FIFO, never overwriting */
        tl_engine_pop_head(e);
        b->reserved += r->kv_need;
        tokens += r->total;
        run_seq *q = &b->seqs[b->n++];
        *q = (run_seq){.r = r, .kv = -1};
        q->g = (tl_gen_seq){.hist = r->ids, .out = r->gen_out, .logprobs = r->gen_lp, .hlen = r->total,
                            .rng = tl_rng_for(r->gp.seed, 0)};
        pthread_mutex_lock(&r->mu);
        r->state = TL_RQ_RUNNING;
        r->t_start = t0;
        pthread_mutex_unlock(&r->mu);
        k++;
    }
    e->stats.running_seqs += k;
    return k;
}

/* Ends q's request with s / msg / reason and frees its cache sequence and reservation. */
static void seq_end(tl_gen_batch *b, run_seq *q, tl_status s, const char *msg, int reason) {
    if (q->kv >= 0) tl_context_seq_free(b->ctx, q->kv);
    q->kv = -1;
    b->reserved -= q->r->kv_need;
    pthread_mutex_lock(&q->r->mu);
    q->r->finish = reason;
    pthread_mutex_unlock(&q->r->mu);
    tl_request_finish(q->r, s, msg);
    q->r = NULL;
}

/* Drops the ended sequences (r NULL) from b's array, keeping the order. */
static void compact(tl_gen_batch *b) {
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->seqs[i].r) b->seqs[k++] = b->seqs[i];
    b->n = k;
}

/* Publishes q's tokens to its waiters. */
static void publish(run_seq *q) {
    pthread_mutex_lock(&q->r->mu);
    q->r->gen_n = q->g.n_out;
    pthread_cond_broadcast(&q->r->cv);
    pthread_mutex_unlock(&q->r->mu);
}

/* Packs the step's tokens: each new sequence's prompt, one token of each running one;
 * returns the token count, 0 on OOM (the sequences are then ended with the error). */
static size_t pack(tl_gen_batch *b) {
    size_t total = 0;
    for (size_t i = 0; i < b->n; i++) total += b->seqs[i].prefilled ? 1 : b->seqs[i].r->total;
    if (total > b->cap_tokens) {
        int32_t *p = realloc(b->ids, total * sizeof *p);
        if (!p) return 0;
        b->ids = p;
        b->cap_tokens = total;
    }
    for (size_t i = 0, t = 0; i < b->n; i++) {
        run_seq *q = &b->seqs[i];
        b->kv_ids[i] = q->kv;
        if (q->prefilled) {
            b->lens[i] = 1;
            b->ids[t++] = q->g.out[q->g.n_out - 1];
        } else {
            b->lens[i] = q->r->total;
            memcpy(b->ids + t, q->r->ids, q->r->total * sizeof *b->ids);
            t += q->r->total;
        }
    }
    return total;
}

/* One step (see engine_int.h). */
void tl_gen_batch_step(tl_gen_batch *b) {
    const size_t before = b->n;
    for (size_t i = 0; i < b->n; i++) { /* cancelled sequences leave; new ones get a cache sequence */
        run_seq *q = &b->seqs[i];
        if (atomic_load(&q->r->cancel)) { seq_end(b, q, TL_ERR_INVALID_ARG, "cancelled", TL_FINISH_CANCELLED); continue; }
        if (q->kv < 0 && tl_context_seq_new(b->ctx, &q->kv) != TL_OK) {
            char *msg = tl_strdup(tl_last_error());
            q->kv = -1;
            seq_end(b, q, TL_ERR_OOM, msg ? msg : "out of memory", TL_FINISH_ERROR);
            free(msg);
        }
    }
    compact(b);
    if (!b->n) {
        pthread_mutex_lock(&b->e->mu);
        b->e->stats.running_seqs -= before;
        pthread_mutex_unlock(&b->e->mu);
        return;
    }
    size_t total = pack(b);
    tl_status s = total ? TL_OK : tl_set_error(TL_ERR_OOM, "out of memory for a decode step");
    if (s == TL_OK) {
        tl_batch batch = {.n_seqs = b->n, .seq_lens = b->lens, .input_ids = b->ids};
        s = tl_context_decode(b->ctx, b->kv_ids, &batch, 0, b->logits, b->n * b->V);
    }
    if (s != TL_OK) {
        char *msg = tl_strdup(tl_last_error());
        pthread_mutex_lock(&b->e->mu);
        b->e->stats.running_seqs -= before;
        pthread_mutex_unlock(&b->e->mu);
        for (size_t i = 0; i < b->n; i++) seq_end(b, &b->seqs[i], s, msg ? msg : "out of memory", TL_FINISH_ERROR);
        free(msg);
        b->n = 0;
        return;
    }
    const size_t n = b->n;
    size_t ended = before - n;
    for (size_t i = 0; i < n; i++) { /* choose every sequence's token; mark ends in q->end */
        run_seq *q = &b->seqs[i];
        tl_request *r = q->r;
        q->prefilled = 1;
        if (n > r->batch_seqs) { r->batch_seqs = r->batch_requests = n; }
        if (total > r->batch_tokens) r->batch_tokens = total;
        int end = 0;
        q->status = tl_gen_choose(&r->gp, b->V, &q->g, b->logits + i * b->V, &b->w, 0, &end);
        q->end = q->status != TL_OK ? TL_FINISH_ERROR : end == TL_GEN_EOS ? TL_FINISH_EOS
                 : end == TL_GEN_LENGTH ? TL_FINISH_LENGTH : end ? TL_FINISH_STOP : TL_FINISH_NONE;
        if (q->status != TL_OK) q->msg = tl_strdup(tl_last_error());
        ended += q->end != TL_FINISH_NONE;
        publish(q);
    }
    pthread_mutex_lock(&b->e->mu); /* counted before the callers are woken */
    b->e->stats.decode_steps++;
    b->e->stats.generated_tokens += n;
    if (n > b->e->stats.max_step_seqs) b->e->stats.max_step_seqs = n;
    b->e->stats.running_seqs -= ended;
    pthread_mutex_unlock(&b->e->mu);
    for (size_t i = 0; i < n; i++) {
        run_seq *q = &b->seqs[i];
        if (q->end == TL_FINISH_NONE) continue;
        seq_end(b, q, q->status, q->status == TL_OK ? NULL : q->msg ? q->msg : "out of memory", q->end);
        free(q->msg);
        q->msg = NULL;
    }
    compact(b);
}

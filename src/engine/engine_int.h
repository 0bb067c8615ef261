/* engine_int.h — the inside of tl_engine and tl_request (src/engine): the queue, the
 * workers, and what a request carries from submission to its result. */
#ifndef TL_ENGINE_INT_H
#define TL_ENGINE_INT_H
#include <pthread.h>
#include <stdatomic.h>
#include "torchless.h"

/* Request states: queued, taken by a worker, done. */
enum { TL_RQ_QUEUED = 0, TL_RQ_RUNNING = 1, TL_RQ_DONE = 2 };

struct tl_request {
    tl_engine *e;
    int kind, normalize;
    /* EMBED / FEATURES: the tokenized texts, packed */
    size_t n, total;
    size_t *lens;
    int32_t *ids, *types, *mask;
    /* PIPELINE */
    tl_pipeline *pipeline;
    char *inputs_json, *params_json;
    size_t merge_items; /* inputs when it may share a call with others (0: runs alone) */
    /* state, under mu; refs counts the caller and the engine */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state, refs;
    atomic_int cancel, dropped;
    tl_request *next; /* queue link, under the engine's lock */
    /* result */
    tl_status status;
    char *message;
    float *out; /* EMBED: n x dim; FEATURES: total x hidden */
    size_t dim;
    char *json;
    /* GENERATE: the prompt is ids / lens[0] / total; gp is the copied settings (gp.eos_ids
     * -> gen_eos, gp.stop_strings -> gen_stops); gen_out / gen_lp hold max_new_tokens
     * entries, the first gen_n published (under mu) to readers; kv_need the cache tokens
     * (whole pages) it may take */
    tl_generate_params gp;
    int32_t *gen_eos;
    char **gen_stops;
    int32_t *gen_out;
    float *gen_lp;
    size_t gen_n, kv_need;
    int finish;
    double t_submit, t_queued, t_start, t_done; /* microseconds, monotonic */
    size_t batch_requests, batch_seqs, batch_tokens;
};

struct tl_engine {
    tl_model *m;
    tl_engine_params p;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    tl_request *head, *tail;
    size_t q_len, q_seqs, q_tokens;
    int stopping;
    int n_workers;
    pthread_t *threads;
    tl_context **ctx;
    size_t kv_capacity; /* tokens each worker context's KV cache holds (decoders) */
    tl_engine_stats stats; /* under mu */
};

/* A worker's running decode batch of generate requests (gen_batch.c). */
typedef struct tl_gen_batch tl_gen_batch;

/* A new empty batch for a worker on e; NULL on OOM. */
tl_gen_batch *tl_gen_batch_new(tl_engine *e, tl_context *ctx);
/* Frees b (it must be empty). */
void tl_gen_batch_free(tl_gen_batch *b);
/* Sequences running in b. */
size_t tl_gen_batch_size(const tl_gen_batch *b);
/* Under e->mu: moves generate requests from the head of e's queue into b's pending
 * prefills while they fit (KV pages reserved, max_batch_requests sequences,
 * max_batch_tokens prefill tokens); stops at the first that does not fit or is not a
 * generate request. Cancelled ones met at the head go to *dropped. Returns the count. */
size_t tl_gen_batch_admit(tl_gen_batch *b, tl_request **dropped);
/* Off e->mu: one step of b: the admitted prompts' prefill and the running sequences'
 * decode in one tl_context_decode, a token chosen for each, ended sequences finished and
 * their pages freed; cancelled sequences leave first. */
void tl_gen_batch_step(tl_gen_batch *b);

/* Unlinks the queue's head (under e->mu) and returns it. */
tl_request *tl_engine_pop_head(tl_engine *e);

/* Monotonic time in microseconds. */
double tl_engine_now_us(void);

/* A new request of kind with n inputs (refs: the caller's and the engine's); NULL on OOM. */
tl_request *tl_request_alloc(tl_engine *e, int kind, size_t n);
/* Frees what r owns and r itself. */
void tl_request_destroy(tl_request *r);
/* Appends r to e's queue and wakes a worker; fails when the engine is stopping. */
tl_status tl_engine_enqueue(tl_engine *e, tl_request *r);

/* Completes r with status s and message msg (copied; NULL = ""), wakes its waiters and
 * drops the engine's reference (freeing r if the caller already let go). */
void tl_request_finish(tl_request *r, tl_status s, const char *msg);

#endif

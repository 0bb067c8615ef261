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
};

/* Monotonic time in microseconds. */
double tl_engine_now_us(void);

/* Completes r with status s and message msg (copied; NULL = ""), wakes its waiters and
 * drops the engine's reference (freeing r if the caller already let go). */
void tl_request_finish(tl_request *r, tl_status s, const char *msg);

#endif

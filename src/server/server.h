/* server.h — the torchless HTTP server (program only, not libtorchless): its settings, the
 * models it serves, one request as the protocol handlers see it, and the reply they fill.
 * http.c runs libmicrohttpd and calls tl_srv_route (router.c), which dispatches to one
 * file per protocol (tei.c, openai.c, torchserve.c, kserve.c) and metrics.c. */
#ifndef TL_SERVER_H
#define TL_SERVER_H
#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stddef.h>
#include "torchless.h"

/* What a served model does. */
typedef enum tl_srv_task {
    TL_TASK_EMBEDDINGS = 0,     /* sentence embeddings (TEI /embed, OpenAI, /similarity) */
    TL_TASK_FEATURES,           /* feature-extraction: per-token hidden states */
    TL_TASK_TEXT_CLASSIFICATION,
    TL_TASK_TOKEN_CLASSIFICATION,
    TL_TASK_QUESTION_ANSWERING,
    TL_TASK_FILL_MASK,
    TL_TASK_ZERO_SHOT,
    TL_TASK_RERANK,             /* a cross-encoder: TEI /rerank, /predict on pairs */
    TL_TASK_TEXT_GENERATION     /* a decoder: TGI /generate(_stream), OpenAI /v1/completions */
} tl_srv_task;

/* One served model: its name in URLs, its task, the loaded model, its engine, and the
 * pipeline its task runs (for embeddings: sentence-similarity). */
typedef struct tl_srv_model {
    char *name, *path;
    tl_srv_task task;
    const char *task_name;   /* the pipeline task name, e.g. "text-classification" */
    tl_model *model;
    tl_engine *engine;
    tl_pipeline *pipeline;   /* the task's pipeline; NULL for embeddings / feature-extraction */
    tl_pipeline *aux;        /* embeddings: sentence-similarity; reranker: text-classification */
    cJSON *config;           /* config.json (id2label for /info) */
    char pooling[32];        /* embeddings: the pooling mode /info reports */
    size_t max_input_length; /* tokens */
    tl_engine_params engine_params; /* the batching limits its engine runs with */
} tl_srv_model;

/* Settings from the command line (cmd_serve.c). */
typedef struct tl_srv_config {
    const char *host;
    int port;
    const char *api_key;         /* NULL: no key needed */
    int max_concurrent_requests; /* in-flight inference requests; more get 429 */
    size_t payload_limit;        /* bytes of a request body; more get 413 */
    size_t max_client_batch_size;/* inputs of one request; more get 422 */
    int auto_truncate;           /* truncate over-long inputs even when not asked */
    int timeout_s;               /* per-connection inactivity timeout */
    int json_logs;               /* --log-format json */
    int max_connections;
} tl_srv_config;

/* The server: settings, models, counters. */
typedef struct tl_srv {
    tl_srv_config cfg;
    tl_srv_model *models;
    size_t n_models;
    atomic_int in_flight;
    atomic_int stopping;
    void *daemon; /* struct MHD_Daemon */
} tl_srv;

/* One HTTP request as the handlers see it (path without the query string). */
typedef struct tl_srv_req {
    const char *method, *path;
    const char *query; /* the ?model= argument, or NULL */
    const char *body;
    size_t body_len;
    const char *content_type;
    const char *inference_header_length; /* KServe binary data: the JSON part's bytes, or NULL */
    void *conn; /* struct MHD_Connection */
} tl_srv_req;

/* The reply a handler fills: status, body (owned, malloc'd), content type, and the time the
 * engine reported (microseconds, summed over the request's engine requests). */
typedef struct tl_srv_reply {
    int status;
    char *body;
    size_t len;
    const char *content_type;
    const char *route; /* the route's name for metrics and logs ("tei_embed", ...) */
    double tokenize_us, queue_us, inference_us;
    size_t batch_tokens, batch_requests;
    int engine_runs;
    size_t json_header_len; /* > 0: body is that much JSON then binary data (KServe's
                               Inference-Header-Content-Length header) */
    /* streaming (server-sent events): when stream_fn is set the body is produced by it, as
     * libmicrohttpd's content reader (bytes written to buf, at most max; TL_SRV_STREAM_END
     * at the end), on the connection's thread; stream_free(stream_cls) runs once the
     * response is done or the client went away */
    long (*stream_fn)(void *cls, unsigned long long pos, char *buf, size_t max);
    void (*stream_free)(void *cls);
    void *stream_cls;
} tl_srv_reply;

#define TL_SRV_STREAM_END (-1L)
#define TL_SRV_STREAM_ERROR (-2L)

/* ---------------------------------------------------------------- reply helpers (reply.c) */

/* Sets rp to status with the JSON of v (consumed; NULL: OOM → 500). */
void tl_reply_json(tl_srv_reply *rp, int status, cJSON *v);
/* Sets rp to status with a copy of the text body and content type. */
void tl_reply_text(tl_srv_reply *rp, int status, const char *ctype, const char *text);
/* Sets rp to a TEI-style error {"error": msg, "error_type": type}; printf-style msg. */
void tl_reply_error(tl_srv_reply *rp, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The HTTP status of a failed library call: client faults (TL_ERR_INVALID_ARG) 422, else 500. */
int tl_reply_status_of(tl_status s);
/* Adds a done engine request's timing to rp. */
void tl_reply_add_timing(tl_srv_reply *rp, const tl_request *r);

/* A growable string (sbuf.c); oom is set once an append fails (later appends are no-ops). */
typedef struct tl_sbuf { char *s; size_t n, cap; int oom; } tl_sbuf;
/* Appends n bytes of s. */
void tl_sbuf_put(tl_sbuf *b, const char *s, size_t n);
/* Appends printf-style text. */
void tl_sbuf_printf(tl_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends [x0,x1,...] with each float printed to round-trip exactly (%.9g; null if not finite). */
void tl_sbuf_floats(tl_sbuf *b, const float *x, size_t n);
/* Appends s as a JSON string literal. */
void tl_sbuf_json_str(tl_sbuf *b, const char *s);
/* Appends the n bytes of s (may hold NUL, escaped as \u0000) as a JSON string literal. */
void tl_sbuf_json_strn(tl_sbuf *b, const char *s, size_t n);
/* Sets rp to status with b's text (taken; b is emptied) as application/json. */
void tl_reply_sbuf(tl_srv_reply *rp, int status, tl_sbuf *b);

/* ---------------------------------------------------------------- shared request helpers (infer.c) */

/* Parses the body as a JSON value (NULL + a 400 reply on error; NUL escapes and invalid
 * UTF-8 are errors; duplicate keys: the last one wins, as Python's json). Caller frees the result with cJSON_Delete. */
cJSON *tl_srv_parse_body(const tl_srv_req *rq, tl_srv_reply *rp);
/* 1 when s (n bytes) is valid UTF-8 without NUL bytes; else 0 and *bad the first bad byte. */
int tl_srv_valid_text(const char *s, size_t n, size_t *bad);
/* Checks a raw text body: not empty, valid UTF-8, no NUL; else replies 400 and returns 0. */
int tl_srv_check_text(const char *s, size_t n, tl_srv_reply *rp);
/* Reads inputs as one string or a list of strings (borrowed into *texts, malloc'd array):
 * errors reply 400 / 422 and return 0. *single says it was one string. */
int tl_srv_texts(const tl_srv *s, const cJSON *inputs, const char ***texts, size_t *n, int *single,
                 tl_srv_reply *rp);
/* Reads an optional boolean field (absent/null: def); replies 422 and returns 0 when the
 * field has another type. */
int tl_srv_opt_bool(const cJSON *obj, const char *key, int def, int *out, tl_srv_reply *rp);
/* Runs texts through m's engine (kind EMBED or FEATURES) and waits. Returns the done
 * request (caller frees) or NULL after filling rp with the error. truncate: -1 = the
 * server default. */
tl_request *tl_srv_run_texts(tl_srv *s, tl_srv_model *m, int kind, const char *const *texts, size_t n,
                             int truncate, int truncate_left, int normalize, tl_srv_reply *rp);
/* Sentence embeddings of pre-tokenized sequences through m's engine (tl_engine_submit_ids,
 * truncation as the server's default); as tl_srv_run_texts otherwise. */
tl_request *tl_srv_run_ids(tl_srv *s, tl_srv_model *m, const int32_t *const *ids, const size_t *lens, size_t n,
                           tl_srv_reply *rp);
/* Runs the model's pipeline on inputs (a JSON value) with params (NULL or an object)
 * through its engine; returns the parsed output or NULL after filling rp. */
cJSON *tl_srv_run_pipeline(tl_srv *s, tl_srv_model *m, tl_pipeline *pl, const cJSON *inputs,
                           const cJSON *params, tl_srv_reply *rp);
/* Finds a model by name (NULL: the first); NULL and a 404 reply when absent. */
tl_srv_model *tl_srv_find_model(tl_srv *s, const char *name, tl_srv_reply *rp);
/* The model a protocol route without a model in its path serves: the ?model= query
 * parameter's, else the first model whose task is in tasks (a bit mask of 1 << tl_srv_task).
 * NULL and a 404 / 400 reply when there is none. */
tl_srv_model *tl_srv_pick_model(tl_srv *s, const tl_srv_req *rq, unsigned tasks, tl_srv_reply *rp);

/* ---------------------------------------------------------------- routes */

/* Dispatches rq to its protocol handler (router.c); fills rp (404 for unknown routes). */
void tl_srv_route(tl_srv *s, const tl_srv_req *rq, tl_srv_reply *rp);

/* Each protocol: returns 1 when it owns the route (and filled rp), else 0. */
int tl_tei_route(tl_srv *s, const tl_srv_req *rq, tl_srv_reply *rp);
int tl_openai_route(tl_srv *s, const tl_srv_req *rq, tl_srv_reply *rp);
int tl_torchserve_route(tl_srv *s, const tl_srv_req *rq, tl_srv_reply *rp);
int tl_kserve_route(tl_srv *s, const tl_srv_req *rq, tl_srv_reply *rp);
/* POST / and POST /models/{m}: the Hugging Face Inference API's task call ({"inputs",
 * "parameters"}), answered as transformers.pipeline(task) answers (hf_api.c). */
void tl_tei_task_post(tl_srv *s, tl_srv_model *m, const tl_srv_req *rq, tl_srv_reply *rp);
/* POST / (the Inference API's task call on the first model, or ?model=NAME, where
 * clients given only a base URL post, as TEI routes it); returns 1 when the path is "/". */
int tl_hf_root_route(tl_srv *s, const tl_srv_req *rq, tl_srv_reply *rp);
/* TEI's body handlers (tei.c), reused by hf_api.c: b is the parsed JSON object body. */
void tl_tei_embed(tl_srv *s, tl_srv_model *m, const cJSON *b, tl_srv_reply *rp);
void tl_tei_embed_all(tl_srv *s, tl_srv_model *m, const cJSON *b, tl_srv_reply *rp);
void tl_tei_predict(tl_srv *s, tl_srv_model *m, const cJSON *b, tl_srv_reply *rp);
void tl_tei_rerank(tl_srv *s, tl_srv_model *m, const cJSON *b, tl_srv_reply *rp);
void tl_tei_similarity(tl_srv *s, tl_srv_model *m, const cJSON *b, tl_srv_reply *rp);

/* ---------------------------------------------------------------- text generation (gen.c, tgi.c, completions.c) */

/* The protocols' shapes of a generation's output. */
typedef enum { TL_GEN_TGI = 0, TL_GEN_OPENAI = 1 } tl_srv_gen_proto;

/* One generation a route runs: the prompt (text and tokens), the settings, the engine
 * request, and what the stream has handed out. */
typedef struct tl_srv_gen {
    tl_srv_model *m;
    tl_generate_params gp;
    int32_t eos[64];
    char *stops[16];
    size_t n_stops;
    char *prompt;        /* the prompt text (copied) */
    int32_t *ids;        /* its tokens */
    size_t n_ids;
    int details, full_text, sampled;
    tl_request *r;
    /* streaming state */
    size_t seen;         /* tokens handed out */
    void *ts;            /* tl_text_stream */
    tl_sbuf text;        /* the text so far (OpenAI: before the stop cut) */
    size_t sent;         /* OpenAI: bytes of text sent */
    int ended;
} tl_srv_gen;

/* Sets g's defaults for model m (its eos ids and bos; greedy; max_new_tokens def_max). */
void tl_srv_gen_init(tl_srv_gen *g, tl_srv_model *m, size_t def_max);
/* Adds a stop sequence (copied); replies 422 and returns 0 on too many or an empty one. */
int tl_srv_gen_add_stop(tl_srv_gen *g, const char *stop, tl_srv_reply *rp);
/* Tokenizes the prompt (copied; truncate > 0 keeps its last truncate tokens), picks a seed
 * when sampling without one, and submits the request. 0 after a 422 / 5xx reply. */
int tl_srv_gen_submit(tl_srv *s, tl_srv_gen *g, const char *prompt, size_t truncate, tl_srv_reply *rp);
/* Frees what g holds (its request is freed: a running one ends at the next step). */
void tl_srv_gen_free(tl_srv_gen *g);
/* The decoded text of g's first n_tokens tokens (skip_special: drop eos and other special
 * tokens), *len bytes (it may hold NUL bytes); free with tl_free. NULL on error. */
char *tl_srv_gen_text(const tl_srv_gen *g, size_t n_tokens, int skip_special, size_t *len);
/* 1 when token id is a special token of m's tokenizer (decodes to nothing when skipped). */
int tl_srv_token_special(const tl_srv_model *m, int32_t id);
/* Starts a server-sent-events reply streaming the n generations (taken: the stream frees
 * them and the array) in protocol proto; id / created / model name the OpenAI chunks. */
void tl_srv_gen_stream(tl_srv_reply *rp, tl_srv_gen *gens, size_t n, tl_srv_gen_proto proto, const char *id,
                       long created);
/* Appends to b the events of g's tokens past g->seen (and its last event when done);
 * index is the OpenAI choice index. Returns 1 when g has ended (all sent). */
int tl_srv_gen_events(tl_srv_gen *g, tl_srv_gen_proto proto, size_t index, const char *id, long created,
                      tl_sbuf *b);

/* TGI's POST /generate, /generate_stream and the compat POST / of a text-generation model (tgi.c). */
int tl_tgi_route(tl_srv *s, const tl_srv_req *rq, tl_srv_reply *rp);
void tl_tgi_compat(tl_srv *s, tl_srv_model *m, const tl_srv_req *rq, tl_srv_reply *rp);
/* OpenAI POST /v1/completions (completions.c); rq->path is checked by the caller. */
void tl_openai_completions(tl_srv *s, const tl_srv_req *rq, tl_srv_reply *rp);

/* ---------------------------------------------------------------- metrics (metrics.c) */

/* Records one finished request. Thread-safe. */
void tl_metrics_record(const tl_srv_reply *rp, double total_us);
/* Renders the Prometheus text exposition of every metric. */
void tl_metrics_render(tl_srv *s, tl_srv_reply *rp);

/* ---------------------------------------------------------------- models (models.c) */

/* Maps a task name or alias ("embeddings", "ner", "rerank", ...) to a served task; -1 when unknown. */
int tl_srv_parse_task(const char *t);
/* Loads m->path with m->task (-1: inferred from the checkpoint), its pipelines and its engine
 * (ep, threads per forward; 0: default), and runs one warm-up forward. Returns 0 after
 * printing the problem on stderr; tl_srv_model_free frees what was built either way. */
int tl_srv_model_load(tl_srv_model *m, const tl_engine_params *ep, int threads);
/* Frees what tl_srv_model_load built and m's name and path. */
void tl_srv_model_free(tl_srv_model *m);

/* ---------------------------------------------------------------- lifecycle (http.c) */

/* Starts listening (cfg.host:cfg.port); 0 and a message on stderr on failure. */
int tl_srv_start(tl_srv *s);
/* Stops accepting, waits up to grace_s for in-flight requests, stops the daemon. */
void tl_srv_stop(tl_srv *s, int grace_s);

/* The canonical task names (pipelines') of each tl_srv_task. */
const char *tl_srv_task_name(tl_srv_task t);

#endif

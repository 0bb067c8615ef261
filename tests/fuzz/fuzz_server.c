/* fuzz_server.c — libFuzzer target: the HTTP server's request handling without sockets.
 * At start it loads the tiny random models of make_seeds.py fixtures (embeddings, features,
 * text / token classification, question answering, fill-mask, zero-shot, rerank) as
 * `torchless serve` does (tl_srv_model_load); each input is then one request handed to
 * tl_srv_route, which parses its body and runs it through the model's engine and pipeline.
 * Any request must get a reply with a status and a body, never a crash, leak, out-of-bounds
 * read or a wait of more than a few seconds.
 * Input: byte 0 picks the method and path (ROUTES below; 255: a path of the input's own, up
 * to the first newline of the body bytes, method by bit 0 of byte 1), byte 1 bit 0 sends
 * Content-Type text/plain (else application/json), bits 1-4 the ?model= argument (0: none,
 * 1-8: a served model, else an unknown name); the rest is the body. */
#include "server/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* Keep in step with SERVER_ROUTES in make_seeds.py (the seeds' first bytes index it). */
static const char *const ROUTES[][2] = {
    {"POST", "/embed"}, {"POST", "/embed_all"}, {"POST", "/predict"}, {"POST", "/rerank"}, {"POST", "/similarity"},
    {"POST", "/tokenize"}, {"POST", "/decode"}, {"POST", "/"}, {"GET", "/info"}, {"GET", "/health"},
    {"POST", "/v1/embeddings"}, {"GET", "/v1/models"}, {"POST", "/predictions/emb"}, {"POST", "/predictions/cls"},
    {"POST", "/predictions/ner"}, {"POST", "/predictions/qa"}, {"POST", "/predictions/mlm"},
    {"POST", "/predictions/nli"}, {"POST", "/predictions/ce"}, {"GET", "/models"},
    {"POST", "/v2/models/emb/infer"}, {"POST", "/v2/models/cls/infer"}, {"GET", "/v2/models/emb"},
    {"POST", "/models/cls"}, {"POST", "/models/ner"}, {"POST", "/models/qa"}, {"POST", "/models/mlm"},
    {"POST", "/models/nli"}, {"POST", "/models/ce"}, {"POST", "/models/feat"}, {"GET", "/metrics"},
};
#define N_ROUTES (sizeof ROUTES / sizeof ROUTES[0])

/* The served models: name (as in URLs), fixture directory, task. */
static const struct { const char *name; tl_srv_task task; } MODELS[] = {
    {"emb", TL_TASK_EMBEDDINGS}, {"feat", TL_TASK_FEATURES}, {"cls", TL_TASK_TEXT_CLASSIFICATION},
    {"ner", TL_TASK_TOKEN_CLASSIFICATION}, {"qa", TL_TASK_QUESTION_ANSWERING}, {"mlm", TL_TASK_FILL_MASK},
    {"nli", TL_TASK_ZERO_SHOT}, {"ce", TL_TASK_RERANK},
};
#define N_MODELS (sizeof MODELS / sizeof MODELS[0])

static tl_srv g_srv;

/* Frees the models at exit. */
static void cleanup(void) {
    for (size_t i = 0; i < g_srv.n_models; i++) tl_srv_model_free(&g_srv.models[i]);
    free(g_srv.models);
}

/* Loads every model of $TL_FUZZ_FIXTURES/models as `torchless serve` would, one worker of
 * one thread each, no batching delay. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    const char *root = getenv("TL_FUZZ_FIXTURES");
    g_srv.cfg = (tl_srv_config){.host = "127.0.0.1", .port = 0, .max_concurrent_requests = 512,
                                .payload_limit = 2000000, .max_client_batch_size = 32, .timeout_s = 10,
                                .max_connections = 1024};
    g_srv.models = calloc(N_MODELS, sizeof *g_srv.models);
    if (!g_srv.models) exit(1);
    atexit(cleanup);
    tl_engine_params ep = tl_engine_default_params();
    ep.num_workers = 1;
    ep.threads_per_worker = 1;
    ep.max_batch_delay_ms = 0;
    for (size_t i = 0; i < N_MODELS; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/models/%s", root ? root : "build/fuzz/fixtures", MODELS[i].name);
        tl_srv_model *m = &g_srv.models[i];
        m->name = strdup(MODELS[i].name);
        m->path = strdup(path);
        m->task = MODELS[i].task;
        g_srv.n_models = i + 1;
        if (!m->name || !m->path || !tl_srv_model_load(m, &ep, 1)) {
            fprintf(stderr, "fuzz_server: cannot load %s (tests/fuzz/fixtures.sh makes it)\n", path);
            exit(1);
        }
    }
    return 0;
}

/* One input: build the request, route it, check the reply, free it. */
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    if (size < 2) return 0;
    char custom[256];
    const char *body = (const char *)data + 2;
    size_t len = size - 2;
    tl_srv_req rq = {0};
    if (data[0] == 255) {
        const char *nl = memchr(body, '\n', len);
        size_t n = nl ? (size_t)(nl - body) : len;
        if (n >= sizeof custom || memchr(body, 0, n)) return 0; /* an HTTP path holds no NUL */
        memcpy(custom, body, n);
        custom[n] = 0;
        rq.method = data[1] & 1 ? "GET" : "POST";
        rq.path = custom;
        body += nl ? n + 1 : n;
        len -= nl ? n + 1 : n;
    } else {
        rq.method = ROUTES[data[0] % N_ROUTES][0];
        rq.path = ROUTES[data[0] % N_ROUTES][1];
    }
    /* the body as http.c hands it over: NUL-terminated after body_len bytes */
    char *copy = malloc(len + 1);
    if (!copy) return 0;
    memcpy(copy, body, len);
    copy[len] = 0;
    rq.body = copy;
    rq.body_len = len;
    rq.content_type = data[1] & 1 ? "text/plain" : "application/json";
    unsigned q = (data[1] >> 1) & 15;
    rq.query = q == 0 ? NULL : q <= N_MODELS ? MODELS[q - 1].name : "no-such-model";
    tl_srv_reply rp = {0};
    tl_srv_route(&g_srv, &rq, &rp);
    if (rp.status < 100 || rp.status > 599 || !rp.body) abort(); /* every request gets a reply */
    free(rp.body);
    free(copy);
    return 0;
}

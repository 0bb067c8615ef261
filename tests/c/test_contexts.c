/* test_contexts.c — contexts on one model: forwards on 4 contexts from 4 threads at once,
 * each with its own batch, give exactly the serial results; the calls without a context
 * overlap safely; context parameters and errors. The model is a tiny random BERT (fixed
 * seed) loaded from tensors in memory. TL_TEST_CTX_THREADS sets each context's thread
 * count (make test-tsan runs with 1: libgomp's team synchronization is invisible to TSan). */
#include "torchless.h"
#include "tl_test.h"

#include <pthread.h>
#include <stdint.h>

enum { H = 128, NH = 4, I = 512, V = 97, P = 80, L = 2, N_CTX = 4, REPEAT = 40 };

/* Holds the workers until all have started, so their forwards overlap. */
static pthread_barrier_t g_start;

/* One tensor of the tiny model: name, shape, data. */
typedef struct { char name[96]; int ndim; int64_t shape[2]; float *data; } tensor;

static tensor g_t[64];
static size_t g_nt;
static uint64_t g_seed = 0x9e3779b97f4a7c15ull;

/* Returns a uniform float in [-0.5, 0.5) from a fixed-seed xorshift. */
static float frand(void) {
    g_seed ^= g_seed << 13;
    g_seed ^= g_seed >> 7;
    g_seed ^= g_seed << 17;
    return (float)((g_seed >> 40) & 0xffffff) / (float)(1 << 24) - 0.5f;
}

/* Adds a tensor of shape (d0[, d1]) to the tiny model: random, or all `fill` when fill != 0. */
static void add(const char *name, int64_t d0, int64_t d1, float fill) {
    tensor *t = &g_t[g_nt++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = d1 ? 2 : 1;
    t->shape[0] = d0;
    t->shape[1] = d1;
    size_t n = (size_t)d0 * (size_t)(d1 ? d1 : 1);
    t->data = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) t->data[i] = fill != 0.0f ? fill : frand() * 0.4f;
}

/* Builds and loads the tiny BERT with n_threads for its own context. */
static tl_model *load_tiny(int n_threads) {
    char name[96];
    g_nt = 0;
    add("bert.embeddings.word_embeddings.weight", V, H, 0);
    add("bert.embeddings.position_embeddings.weight", P, H, 0);
    add("bert.embeddings.token_type_embeddings.weight", 2, H, 0);
    add("bert.embeddings.LayerNorm.weight", H, 0, 1.0f);
    add("bert.embeddings.LayerNorm.bias", H, 0, 0);
    static const char *lin[][2] = {{"attention.self.query", "H"}, {"attention.self.key", "H"},
                                   {"attention.self.value", "H"}, {"attention.output.dense", "H"},
                                   {"intermediate.dense", "I"}, {"output.dense", "O"}};
    for (int l = 0; l < L; l++) {
        for (size_t k = 0; k < sizeof lin / sizeof lin[0]; k++) {
            int64_t out = lin[k][1][0] == 'I' ? I : H, in = lin[k][1][0] == 'O' ? I : H;
            snprintf(name, sizeof name, "bert.encoder.layer.%d.%s.weight", l, lin[k][0]);
            add(name, out, in, 0);
            snprintf(name, sizeof name, "bert.encoder.layer.%d.%s.bias", l, lin[k][0]);
            add(name, out, 0, 0);
        }
        const char *ln[] = {"attention.output.LayerNorm", "output.LayerNorm"};
        for (int k = 0; k < 2; k++) {
            snprintf(name, sizeof name, "bert.encoder.layer.%d.%s.weight", l, ln[k]);
            add(name, H, 0, 1.0f);
            snprintf(name, sizeof name, "bert.encoder.layer.%d.%s.bias", l, ln[k]);
            add(name, H, 0, 0);
        }
    }
    tl_tensor_view views[64];
    for (size_t i = 0; i < g_nt; i++)
        views[i] = (tl_tensor_view){g_t[i].name, "F32", g_t[i].ndim, g_t[i].shape, g_t[i].data};
    char cfg[512];
    snprintf(cfg, sizeof cfg,
             "{\"model_type\": \"bert\", \"vocab_size\": %d, \"hidden_size\": %d, "
             "\"num_hidden_layers\": %d, \"num_attention_heads\": %d, \"intermediate_size\": %d, "
             "\"max_position_embeddings\": %d, \"type_vocab_size\": 2, \"hidden_act\": \"gelu\"}",
             V, H, L, NH, I, P);
    tl_model_params mp = tl_model_default_params();
    mp.num_threads = n_threads;
    tl_model *m = NULL;
    CHECK_OK(tl_model_load_tensors(cfg, views, g_nt, &mp, &m));
    return m;
}

/* Frees the tiny model's tensors (after the model that borrows them). */
static void free_tiny(void) {
    for (size_t i = 0; i < g_nt; i++) free(g_t[i].data);
    g_nt = 0;
}

/* One thread's work: its batch (k + 1 sequences of different lengths), its context, the
 * serial result and the results of every repeat. */
typedef struct job {
    tl_model *m;
    tl_context *ctx; /* NULL: run through tl_model_forward (the spare context) */
    size_t n_seqs, lens[8], total;
    int32_t ids[512], types[512];
    float *want, *got;
    int mismatches, failures;
} job;

/* Fills job k's batch: k + 1 sequences of 3 + 17 * k + 5 * s tokens, ids from the seed. */
static void make_batch(job *j, int k) {
    j->n_seqs = (size_t)k + 1;
    j->total = 0;
    for (size_t s = 0; s < j->n_seqs; s++) {
        j->lens[s] = 3 + 17 * (size_t)k + 5 * s;
        for (size_t i = 0; i < j->lens[s]; i++, j->total++) {
            j->ids[j->total] = (int32_t)((k * 31 + s * 7 + i * 13) % V);
            j->types[j->total] = (int32_t)(i > j->lens[s] / 2);
        }
    }
}

/* Runs job j's batch once into out; returns the status. */
static tl_status run_once(job *j, float *out) {
    tl_batch b = {.n_seqs = j->n_seqs, .seq_lens = j->lens, .input_ids = j->ids, .token_type_ids = j->types};
    return j->ctx ? tl_context_forward(j->ctx, &b, out, j->total * H) : tl_model_forward(j->m, &b, out, j->total * H);
}

/* Thread body: REPEAT forwards, each compared bit for bit with the serial result. */
static void *worker(void *arg) {
    job *j = arg;
    pthread_barrier_wait(&g_start);
    for (int r = 0; r < REPEAT; r++) {
        if (run_once(j, j->got) != TL_OK) { j->failures++; continue; }
        if (memcmp(j->got, j->want, j->total * H * sizeof(float)) != 0) j->mismatches++;
    }
    return NULL;
}

/* Runs the N_CTX jobs serially (the reference), then all at once from N_CTX threads. */
static void run_jobs(job *jobs) {
    for (int k = 0; k < N_CTX; k++) {
        jobs[k].want = malloc(jobs[k].total * H * sizeof(float));
        jobs[k].got = malloc(jobs[k].total * H * sizeof(float));
        CHECK_OK(run_once(&jobs[k], jobs[k].want));
    }
    pthread_t th[N_CTX];
    pthread_barrier_init(&g_start, NULL, N_CTX);
    for (int k = 0; k < N_CTX; k++) CHECK(pthread_create(&th[k], NULL, worker, &jobs[k]) == 0);
    for (int k = 0; k < N_CTX; k++) pthread_join(th[k], NULL);
    pthread_barrier_destroy(&g_start);
    for (int k = 0; k < N_CTX; k++) {
        CHECK(jobs[k].failures == 0);
        CHECK(jobs[k].mismatches == 0);
        free(jobs[k].want);
        free(jobs[k].got);
    }
}

/* The thread count of each context (TL_TEST_CTX_THREADS, default 2). */
static int ctx_threads(void) {
    const char *e = getenv("TL_TEST_CTX_THREADS");
    return e && atoi(e) > 0 ? atoi(e) : 2;
}

TL_TEST(four_contexts_four_threads_equal_serial) {
    tl_model *m = load_tiny(ctx_threads());
    if (!m) return;
    job jobs[N_CTX] = {0};
    for (int k = 0; k < N_CTX; k++) {
        jobs[k].m = m;
        tl_context_params cp = tl_context_default_params();
        cp.num_threads = k % 2 ? ctx_threads() : 1; /* contexts differ in thread count too */
        CHECK_OK(tl_context_new(m, &cp, &jobs[k].ctx));
        CHECK(tl_context_num_threads(jobs[k].ctx) == cp.num_threads);
        make_batch(&jobs[k], k);
    }
    run_jobs(jobs);
    for (int k = 0; k < N_CTX; k++) tl_context_free(jobs[k].ctx);
    tl_model_free(m);
    free_tiny();
}

TL_TEST(calls_without_context_overlap_safely) {
    tl_model *m = load_tiny(ctx_threads());
    if (!m) return;
    job jobs[N_CTX] = {0};
    for (int k = 0; k < N_CTX; k++) {
        jobs[k].m = m;
        make_batch(&jobs[k], N_CTX - 1 - k);
    }
    run_jobs(jobs);
    tl_model_free(m);
    free_tiny();
}

TL_TEST(context_params_and_errors) {
    tl_model *m = load_tiny(3);
    if (!m) return;
    tl_context *c = NULL;
    CHECK_OK(tl_context_new(m, NULL, &c));
    CHECK(tl_context_num_threads(c) == 3); /* the model's count by default */
    tl_context_free(c);
    tl_context_params cp = tl_context_default_params();
    cp.num_threads = -1;
    c = (tl_context *)1;
    CHECK(tl_context_new(m, &cp, &c) == TL_ERR_INVALID_ARG);
    CHECK(c == NULL);
    CHECK_CONTAINS(tl_last_error(), "num_threads");
    CHECK(tl_context_new(NULL, NULL, &c) == TL_ERR_INVALID_ARG);
    CHECK(tl_context_new(m, NULL, NULL) == TL_ERR_INVALID_ARG);
    CHECK(tl_context_forward(NULL, NULL, NULL, 0) == TL_ERR_INVALID_ARG);
    tl_context_free(NULL);
    /* a context reports a bad batch with the model's own message */
    CHECK_OK(tl_context_new(m, NULL, &c));
    size_t len = 2;
    int32_t ids[2] = {1, V};
    float out[2 * H];
    tl_batch b = {.n_seqs = 1, .seq_lens = &len, .input_ids = ids};
    CHECK(tl_context_forward(c, &b, out, 2 * H) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "input id");
    ids[1] = 2;
    CHECK(tl_context_forward(c, &b, out, H) == TL_ERR_INVALID_ARG); /* out too small */
    CHECK_OK(tl_context_forward(c, &b, out, 2 * H));
    tl_context_free(c);
    tl_model_free(m);
    free_tiny();
}


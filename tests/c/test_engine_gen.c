/* test_engine_gen.c — generate requests in the batching engine (continuous batching):
 * requests of different prompt lengths submitted together, and requests joining a running
 * batch, give exactly what tl_generate gives for each prompt alone (greedy, and sampled
 * with a seed); streamed tokens (tl_request_wait_tokens from other threads) are the final
 * ones in order; steps are shared (fewer steps than tokens); a request that does not fit
 * the free KV pages waits and then runs, one that never fits fails naming the sizes; a
 * cancelled running request ends at the next step and frees its pages; bad settings fail
 * at submission. The model: a 2-layer random GPT-2 (vocab 50, 32 wide, 64 positions).
 * TL_TEST_CTX_THREADS sets the workers' thread count (make test-tsan runs with 1). */
#include "torchless.h"
#include "tl_test.h"

#include <pthread.h>
#include <stdint.h>

static float g_data[32][40000];
static int64_t g_shapes[32][2];
static tl_tensor_view g_views[32];
static char g_names[32][96];
static size_t g_n;

/* Adds a random tensor (d0) or (d0, d1) named name (printf with layer l). */
static void add(const char *name, int l, int64_t d0, int64_t d1, float scale, float base) {
    uint32_t seed = (uint32_t)(g_n * 7919 + 17);
    size_t n = (size_t)d0 * (size_t)(d1 ? d1 : 1);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        g_data[g_n][i] = base + scale * (float)((seed >> 8) / 16777216.0 * 2.0 - 1.0);
    }
    snprintf(g_names[g_n], sizeof g_names[g_n], name, l);
    g_shapes[g_n][0] = d0;
    g_shapes[g_n][1] = d1;
    g_views[g_n] = (tl_tensor_view){g_names[g_n], "F32", d1 ? 2 : 1, g_shapes[g_n], g_data[g_n]};
    g_n++;
}

/* A 2-layer GPT-2 (vocab 50, 32 wide, 4 heads, 64 positions, eos 3). */
static tl_model *tiny_gpt2(void) {
    g_n = 0;
    add("wte.weight", 0, 50, 32, 0.5f, 0); add("wpe.weight", 0, 64, 32, 0.3f, 0);
    add("ln_f.weight", 0, 32, 0, 0.1f, 1); add("ln_f.bias", 0, 32, 0, 0.1f, 0);
    for (int l = 0; l < 2; l++) {
        add("h.%d.ln_1.weight", l, 32, 0, 0.1f, 1); add("h.%d.ln_1.bias", l, 32, 0, 0.1f, 0);
        add("h.%d.attn.c_attn.weight", l, 32, 96, 0.3f, 0); add("h.%d.attn.c_attn.bias", l, 96, 0, 0.1f, 0);
        add("h.%d.attn.c_proj.weight", l, 32, 32, 0.2f, 0); add("h.%d.attn.c_proj.bias", l, 32, 0, 0.1f, 0);
        add("h.%d.ln_2.weight", l, 32, 0, 0.1f, 1); add("h.%d.ln_2.bias", l, 32, 0, 0.1f, 0);
        add("h.%d.mlp.c_fc.weight", l, 32, 64, 0.2f, 0); add("h.%d.mlp.c_fc.bias", l, 64, 0, 0.1f, 0);
        add("h.%d.mlp.c_proj.weight", l, 64, 32, 0.2f, 0); add("h.%d.mlp.c_proj.bias", l, 32, 0, 0.1f, 0);
    }
    const char *cfg = "{\"model_type\": \"gpt2\", \"vocab_size\": 50, \"n_embd\": 32, \"n_layer\": 2, "
                      "\"n_head\": 4, \"n_inner\": 64, \"n_positions\": 64, \"eos_token_id\": 3}";
    tl_model *m = NULL;
    CHECK_OK(tl_model_load_tensors(cfg, g_views, g_n, NULL, &m));
    return m;
}

/* The workers' thread count (TL_TEST_CTX_THREADS, default 2). */
static int ctx_threads(void) {
    const char *e = getenv("TL_TEST_CTX_THREADS");
    return e && *e ? atoi(e) : 2;
}

/* Prompt k: 1 + (k * 5) % 13 tokens, ids from k. */
static size_t prompt_k(int k, int32_t *ids) {
    size_t len = 1 + (size_t)(k * 5) % 13;
    for (size_t i = 0; i < len; i++) ids[i] = (int32_t)((k * 7 + (int)i * 11 + 5) % 50);
    return len;
}

/* tl_generate of one prompt alone on a fresh context: its tokens in out (n returned). */
static size_t alone(tl_model *m, const int32_t *ids, size_t len, const tl_generate_params *p, int32_t *out) {
    tl_context *c = NULL;
    tl_context_params cp = tl_context_default_params();
    cp.num_threads = ctx_threads();
    CHECK_OK(tl_context_new(m, &cp, &c));
    tl_batch b = {1, &len, ids, NULL, NULL, NULL};
    size_t n = 0;
    CHECK_OK(tl_generate(c, &b, p, out, p->max_new_tokens, &n));
    tl_context_free(c);
    return n;
}

/* Waits for r and checks its tokens equal want (n). */
static int same_tokens(tl_request *r, const int32_t *want, size_t n) {
    if (tl_request_wait(r, -1) != TL_OK) { fprintf(stderr, "  request: %s\n", tl_request_error(r)); return 0; }
    size_t got = 0;
    const int32_t *t = tl_request_generated(r, &got, NULL);
    return got == n && !memcmp(t, want, n * sizeof *t);
}

static tl_engine *start(tl_model *m, size_t kv_tokens, size_t max_requests) {
    tl_engine_params ep = tl_engine_default_params();
    ep.threads_per_worker = ctx_threads();
    ep.kv_cache_tokens = kv_tokens;
    ep.max_batch_requests = max_requests;
    tl_engine *e = NULL;
    CHECK_OK(tl_engine_new(m, &ep, &e));
    return e;
}

#define N_REQ 12

TL_TEST(requests_together_equal_generate_alone_and_share_steps) {
    tl_model *m = tiny_gpt2();
    if (!m) return;
    tl_engine *e = start(m, 1024, 0);
    tl_generate_params p = tl_model_generate_params(m);
    int32_t ids[N_REQ][16], want[N_REQ][40];
    size_t lens[N_REQ], n_want[N_REQ], eos_ends = 0;
    const int32_t eos[2] = {3, 17};
    p.n_eos = 1;
    tl_request *r[N_REQ];
    tl_generate_params q[N_REQ];
    for (int k = 0; k < N_REQ; k++) {
        lens[k] = prompt_k(k, ids[k]);
        q[k] = p;
        q[k].max_new_tokens = 8 + (size_t)(k % 4) * 6;
        q[k].eos_ids = &eos[k % 2]; /* eos 3 or 17: some end at eos, some run to length */
        n_want[k] = alone(m, ids[k], lens[k], &q[k], want[k]);
    }
    for (int k = 0; k < N_REQ; k++) CHECK_OK(tl_engine_submit_generate(e, ids[k], lens[k], &q[k], &r[k]));
    size_t tokens = 0;
    for (int k = 0; k < N_REQ; k++) {
        CHECK(same_tokens(r[k], want[k], n_want[k]));
        tl_finish_reason f = tl_request_finish_reason(r[k]);
        CHECK(f == (n_want[k] < 8 + (size_t)(k % 4) * 6 ? TL_FINISH_EOS : TL_FINISH_LENGTH));
        eos_ends += f == TL_FINISH_EOS;
        CHECK(tl_request_tokens(r[k], 0) == lens[k]);
        tokens += n_want[k];
        tl_request_free(r[k]);
    }
    tl_engine_stats st;
    tl_engine_get_stats(e, &st);
    printf("  %d requests: %zu tokens in %zu steps, at most %zu sequences per step, %zu ended at eos\n",
           N_REQ, st.generated_tokens, st.decode_steps, st.max_step_seqs, eos_ends);
    CHECK(st.generated_tokens == tokens);
    CHECK(st.decode_steps < tokens / 2 && st.max_step_seqs > 1 && st.running_seqs == 0);
    CHECK(eos_ends > 0 && eos_ends < N_REQ);
    tl_engine_free(e);
    tl_model_free(m);
}

TL_TEST(requests_joining_a_running_batch_equal_generate_alone) {
    tl_model *m = tiny_gpt2();
    if (!m) return;
    tl_engine *e = start(m, 1024, 0);
    tl_generate_params p = tl_model_generate_params(m);
    p.n_eos = 0;
    p.max_new_tokens = 40;
    int32_t a[16], b[16], wa[40], wb[40];
    size_t la = prompt_k(3, a), lb = prompt_k(8, b);
    size_t na = alone(m, a, la, &p, wa);
    tl_generate_params q = p;
    q.max_new_tokens = 12;
    size_t nb = alone(m, b, lb, &q, wb);
    tl_request *ra, *rb[3];
    CHECK_OK(tl_engine_submit_generate(e, a, la, &p, &ra));
    size_t seen = 0;
    while ((seen = tl_request_wait_tokens(ra, seen, -1)) < 6 && !tl_request_done(ra)) {}
    for (int j = 0; j < 3; j++) CHECK_OK(tl_engine_submit_generate(e, b, lb, &q, &rb[j]));
    for (int j = 0; j < 3; j++) {
        CHECK(same_tokens(rb[j], wb, nb));
        tl_request_timing t;
        tl_request_get_timing(rb[j], &t);
        CHECK(t.batch_seqs >= 2); /* it shared a step with a */
        tl_request_free(rb[j]);
    }
    CHECK(same_tokens(ra, wa, na));
    tl_request_free(ra);
    /* sampling with a seed: the request's stream is tl_generate's for its prompt alone */
    p.do_sample = 1; p.temperature = 1.5f; p.top_p = 0.9f; p.top_k = 20; p.seed = 7; p.max_new_tokens = 15;
    size_t ns = alone(m, b, lb, &p, wb);
    CHECK_OK(tl_engine_submit_generate(e, b, lb, &p, &rb[0]));
    CHECK_OK(tl_engine_submit_generate(e, a, la, &p, &ra));
    CHECK(same_tokens(rb[0], wb, ns));
    CHECK_OK(tl_request_wait(ra, -1));
    tl_request_free(rb[0]);
    tl_request_free(ra);
    tl_engine_free(e);
    tl_model_free(m);
}

/* A streaming reader: submits prompt k, collects tokens as they come. */
typedef struct reader { tl_engine *e; tl_model *m; int k; int32_t got[40]; size_t n, calls; int ok; } reader;
static void *read_main(void *arg) {
    reader *rd = arg;
    int32_t ids[16];
    size_t len = prompt_k(rd->k, ids);
    tl_generate_params p = tl_model_generate_params(rd->m);
    p.n_eos = 0;
    p.max_new_tokens = 10 + (size_t)rd->k * 2;
    tl_request *r = NULL;
    if (tl_engine_submit_generate(rd->e, ids, len, &p, &r) != TL_OK) return NULL;
    size_t seen = 0;
    for (;;) {
        size_t now = tl_request_wait_tokens(r, seen, -1);
        const int32_t *t = tl_request_generated(r, NULL, NULL);
        for (; seen < now; seen++) rd->got[rd->n++] = t[seen];
        rd->calls++;
        if (tl_request_done(r) && tl_request_wait_tokens(r, 0, 0) == seen) break;
    }
    size_t n = 0;
    const int32_t *fin = tl_request_generated(r, &n, NULL);
    rd->ok = tl_request_wait(r, -1) == TL_OK && n == rd->n && !memcmp(fin, rd->got, n * sizeof *fin);
    tl_request_free(r);
    return NULL;
}

TL_TEST(streamed_tokens_from_other_threads_are_the_final_ones) {
    tl_model *m = tiny_gpt2();
    if (!m) return;
    tl_engine *e = start(m, 1024, 0);
    reader rd[6];
    pthread_t th[6];
    for (int k = 0; k < 6; k++) {
        rd[k] = (reader){.e = e, .m = m, .k = k};
        pthread_create(&th[k], NULL, read_main, &rd[k]);
    }
    for (int k = 0; k < 6; k++) {
        pthread_join(th[k], NULL);
        int32_t ids[16], want[40];
        size_t len = prompt_k(k, ids);
        tl_generate_params p = tl_model_generate_params(m);
        p.n_eos = 0;
        p.max_new_tokens = 10 + (size_t)k * 2;
        size_t n = alone(m, ids, len, &p, want);
        CHECK(rd[k].ok && rd[k].n == n && !memcmp(rd[k].got, want, n * sizeof *want));
    }
    tl_engine_free(e);
    tl_model_free(m);
}

TL_TEST(a_full_cache_makes_requests_wait_and_one_that_never_fits_fails) {
    tl_model *m = tiny_gpt2();
    if (!m) return;
    tl_engine *e = start(m, 64, 0); /* 4 pages of 16 tokens */
    tl_generate_params p = tl_model_generate_params(m);
    p.n_eos = 0;
    p.max_new_tokens = 30; /* prompt 11 + 29 = 40 tokens: 3 pages; two never fit together */
    int32_t a[16], b[16], wa[40], wb[40];
    size_t la = prompt_k(2, a), lb = prompt_k(12, b);
    CHECK(la == 11 && lb == 9);
    size_t na = alone(m, a, la, &p, wa), nb = alone(m, b, lb, &p, wb);
    tl_request *ra, *rb, *rc;
    CHECK_OK(tl_engine_submit_generate(e, a, la, &p, &ra));
    CHECK_OK(tl_engine_submit_generate(e, b, lb, &p, &rb));
    CHECK(same_tokens(ra, wa, na));
    CHECK(same_tokens(rb, wb, nb));
    tl_request_timing ta, tb;
    tl_request_get_timing(ra, &ta);
    tl_request_get_timing(rb, &tb);
    CHECK(ta.batch_seqs == 1 && tb.batch_seqs == 1); /* never in one step together */
    tl_request_free(ra);
    tl_request_free(rb);
    tl_engine_free(e);
    /* a 32-token cache: 30 + 10 - 1 tokens take 3 pages, more than it ever holds */
    e = start(m, 32, 0);
    p.max_new_tokens = 10;
    int32_t big[30];
    for (int i = 0; i < 30; i++) big[i] = i % 50;
    rc = (tl_request *)1;
    CHECK(tl_engine_submit_generate(e, big, 30, &p, &rc) == TL_ERR_INVALID_ARG && rc == NULL);
    printf("  %s\n", tl_last_error());
    CHECK(strstr(tl_last_error(), "48 KV-cache tokens") && strstr(tl_last_error(), "holds 32") &&
          strstr(tl_last_error(), "never"));
    tl_engine_free(e);
    tl_model_free(m);
}

/* on_token that holds the worker at the 4th token until the test opens the gate. */
typedef struct gate { pthread_mutex_t mu; pthread_cond_t cv; int open, count, entered; } gate;
static int gate_fn(void *user, size_t seq, int32_t token, float logprob) {
    (void)seq; (void)token; (void)logprob;
    gate *g = user;
    pthread_mutex_lock(&g->mu);
    if (++g->count == 4) {
        g->entered = 1;
        pthread_cond_broadcast(&g->cv);
        while (!g->open) pthread_cond_wait(&g->cv, &g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    return 0;
}

TL_TEST(a_cancelled_running_request_ends_and_frees_its_pages) {
    tl_model *m = tiny_gpt2();
    if (!m) return;
    tl_engine *e = start(m, 64, 0);
    tl_generate_params p = tl_model_generate_params(m);
    p.n_eos = 0;
    p.max_new_tokens = 45; /* 4 pages: the whole cache */
    int32_t a[16];
    size_t la = prompt_k(4, a);
    tl_request *r, *r2;
    gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
    tl_generate_params pg = p;
    pg.on_token = gate_fn;
    pg.user_data = &g;
    CHECK_OK(tl_engine_submit_generate(e, a, la, &pg, &r));
    /* three tokens handed over while the request runs (the worker waits in the 4th) */
    pthread_mutex_lock(&g.mu);
    while (!g.entered) pthread_cond_wait(&g.cv, &g.mu);
    CHECK(tl_request_wait_tokens(r, 2, -1) == 3 && !tl_request_done(r));
    tl_request_cancel(r);
    g.open = 1;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    CHECK(tl_request_wait(r, -1) == TL_ERR_INVALID_ARG && !strcmp(tl_request_error(r), "cancelled"));
    CHECK(tl_request_finish_reason(r) == TL_FINISH_CANCELLED);
    size_t n = 0;
    tl_request_generated(r, &n, NULL);
    CHECK(n == 4); /* it left at the step after the cancel */
    tl_request_free(r);
    /* freed without waiting: the request leaves at the next step all the same */
    CHECK_OK(tl_engine_submit_generate(e, a, la, &p, &r));
    tl_request_wait_tokens(r, 1, -1);
    tl_request_free(r);
    /* the whole cache is free again: a request needing all of it runs */
    int32_t want[45];
    size_t nw = alone(m, a, la, &p, want);
    CHECK_OK(tl_engine_submit_generate(e, a, la, &p, &r2));
    CHECK(same_tokens(r2, want, nw));
    tl_request_free(r2);
    tl_engine_stats st;
    tl_engine_get_stats(e, &st);
    CHECK(st.running_seqs == 0);
    tl_engine_free(e);
    tl_model_free(m);
}

TL_TEST(bad_generate_requests_fail_at_submission) {
    tl_model *m = tiny_gpt2();
    if (!m) return;
    tl_engine *e = start(m, 1024, 0);
    tl_generate_params p = tl_model_generate_params(m);
    int32_t ids[3] = {1, 2, 3}, bad_ids[2] = {4, 50};
    tl_request *r = NULL;
    CHECK(tl_engine_submit_generate(e, bad_ids, 2, &p, &r) == TL_ERR_INVALID_ARG && !r &&
          strstr(tl_last_error(), "token id 50 at position 1"));
    CHECK(tl_engine_submit_generate(e, ids, 0, &p, &r) == TL_ERR_INVALID_ARG && strstr(tl_last_error(), "empty"));
    tl_generate_params q = p;
    q.top_p = 1.5f;
    CHECK(tl_engine_submit_generate(e, ids, 3, &q, &r) == TL_ERR_INVALID_ARG && strstr(tl_last_error(), "top_p"));
    q = p; q.max_new_tokens = 0;
    CHECK(tl_engine_submit_generate(e, ids, 3, &q, &r) == TL_ERR_INVALID_ARG && strstr(tl_last_error(), "max_new_tokens"));
    q = p; q.max_new_tokens = 62;
    CHECK(tl_engine_submit_generate(e, ids, 3, &q, &r) == TL_ERR_INVALID_ARG && strstr(tl_last_error(), "positions"));
    const char *stops[1] = {"x"};
    q = p; q.stop_strings = stops; q.n_stop_strings = 1;
    CHECK(tl_engine_submit_generate(e, ids, 3, &q, &r) == TL_ERR_INVALID_ARG && strstr(tl_last_error(), "tokenizer"));
    /* an empty prompt with a bos id starts from it, as tl_generate */
    q = p; q.bos_token_id = 7; q.n_eos = 0; q.max_new_tokens = 5;
    int32_t want[5], seven = 7;
    size_t nw = alone(m, &seven, 1, &q, want);
    CHECK_OK(tl_engine_submit_generate(e, ids, 0, &q, &r));
    CHECK(same_tokens(r, want, nw));
    tl_request_free(r);
    tl_engine_free(e);
    tl_model_free(m);
}


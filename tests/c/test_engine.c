/* test_engine.c — the batching engine (tl_engine): results equal tl_embed /
 * tl_extract_features / tl_pipeline_run from 8 submitting threads at once, requests are
 * packed within the token and sequence budgets, a delay gathers requests into one batch,
 * cancelled requests are dropped before they run, errors travel with their request, and
 * stopping the engine finishes what was submitted, pipeline requests queued together run as
 * one call and each gets its own output. The model: a 2-layer BERT (hidden 32,
 * vocab.txt of 32 tokens, 40 positions) with a 3-label classifier, written to a temp dir.
 * TL_TEST_CTX_THREADS sets the workers' thread count (make test-tsan runs with 1). */
#include "tl_test.h"
#include "tl_tmpdir.h"
#include "torchless.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>

#define H 32
#define V 32
#define P 40
#define N_THREADS 8
#define PER_THREAD 12

static const char *k_words[] = {"hello", "world", "the", "fox", "a", "is", "of", "dog", "cat", "runs",
                                "jumps", "over", "lazy", "quick", "brown", "red", "sky", "blue", "sea",
                                "and", "to", "in", "on", "big", "small"};
#define N_WORDS (sizeof k_words / sizeof k_words[0])

/* Writes s (n bytes) to dir/name, exiting on failure. */
static void put(const char *dir, const char *name, const char *s, size_t n) {
    char path[640];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(s, 1, n, f) != n)) { perror(path); exit(2); }
    fclose(f);
}

/* Appends one F32 tensor entry of shape (d0[, d1]) to the safetensors header; *off grows. */
static size_t tensor_entry(char *hdr, size_t hk, const char *name, long d0, long d1, size_t *off) {
    size_t bytes = 4 * (size_t)d0 * (size_t)(d1 ? d1 : 1);
    if (d1)
        hk += (size_t)snprintf(hdr + hk, 32768 - hk, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%ld,%ld],\"data_offsets\":[%zu,%zu]}",
                               hk > 1 ? "," : "", name, d0, d1, *off, *off + bytes);
    else
        hk += (size_t)snprintf(hdr + hk, 32768 - hk, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%ld],\"data_offsets\":[%zu,%zu]}",
                               hk > 1 ? "," : "", name, d0, *off, *off + bytes);
    *off += bytes;
    return hk;
}

/* Writes the test model's directory once and returns it. */
static const char *model_dir(void) {
    static const char *dir;
    if (dir) return dir;
    dir = tl_tmp_join("engine", "bert");
    if (mkdir(dir, 0700) != 0) { perror(dir); exit(2); }
    char cfg[1024];
    int n = snprintf(cfg, sizeof cfg,
                     "{\"model_type\":\"bert\",\"architectures\":[\"BertForSequenceClassification\"],"
                     "\"vocab_size\":%d,\"hidden_size\":%d,\"num_hidden_layers\":2,\"num_attention_heads\":4,"
                     "\"intermediate_size\":%d,\"max_position_embeddings\":%d,\"type_vocab_size\":2,"
                     "\"id2label\":{\"0\":\"NEG\",\"1\":\"NEU\",\"2\":\"POS\"}}", V, H, 2 * H, P);
    put(dir, "config.json", cfg, (size_t)n);
    char vocab[512];
    size_t vk = (size_t)snprintf(vocab, sizeof vocab, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n##s\n.\n");
    for (size_t i = 0; i < N_WORDS; i++) vk += (size_t)snprintf(vocab + vk, sizeof vocab - vk, "%s\n", k_words[i]);
    put(dir, "vocab.txt", vocab, vk);
    char *hdr = malloc(32768);
    size_t hk = 1, off = 0;
    hdr[0] = '{';
    hk = tensor_entry(hdr, hk, "bert.embeddings.word_embeddings.weight", V, H, &off);
    hk = tensor_entry(hdr, hk, "bert.embeddings.position_embeddings.weight", P, H, &off);
    hk = tensor_entry(hdr, hk, "bert.embeddings.token_type_embeddings.weight", 2, H, &off);
    hk = tensor_entry(hdr, hk, "bert.embeddings.LayerNorm.weight", H, 0, &off);
    hk = tensor_entry(hdr, hk, "bert.embeddings.LayerNorm.bias", H, 0, &off);
    static const char *lin[] = {"attention.self.query", "attention.self.key", "attention.self.value",
                                "attention.output.dense", "intermediate.dense", "output.dense"};
    char name[128];
    for (int l = 0; l < 2; l++) {
        for (int k = 0; k < 6; k++) {
            long out = k == 4 ? 2 * H : H, in = k == 5 ? 2 * H : H;
            snprintf(name, sizeof name, "bert.encoder.layer.%d.%s.weight", l, lin[k]);
            hk = tensor_entry(hdr, hk, name, out, in, &off);
            snprintf(name, sizeof name, "bert.encoder.layer.%d.%s.bias", l, lin[k]);
            hk = tensor_entry(hdr, hk, name, out, 0, &off);
        }
        static const char *ln[] = {"attention.output.LayerNorm", "output.LayerNorm"};
        for (int k = 0; k < 2; k++) {
            snprintf(name, sizeof name, "bert.encoder.layer.%d.%s.weight", l, ln[k]);
            hk = tensor_entry(hdr, hk, name, H, 0, &off);
            snprintf(name, sizeof name, "bert.encoder.layer.%d.%s.bias", l, ln[k]);
            hk = tensor_entry(hdr, hk, name, H, 0, &off);
        }
    }
    hk = tensor_entry(hdr, hk, "bert.pooler.dense.weight", H, H, &off);
    hk = tensor_entry(hdr, hk, "bert.pooler.dense.bias", H, 0, &off);
    hk = tensor_entry(hdr, hk, "classifier.weight", 3, H, &off);
    hk = tensor_entry(hdr, hk, "classifier.bias", 3, 0, &off);
    hdr[hk++] = '}';
    while (hk % 8) hdr[hk++] = ' ';
    char path[640];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *f = fopen(path, "wb");
    uint64_t hl = hk;
    fwrite(&hl, 8, 1, f);
    fwrite(hdr, 1, hk, f);
    uint32_t rng = 2024;
    for (size_t i = 0; i < off / 4; i++) {
        rng = rng * 1103515245u + 12345u;
        float v = (float)((rng >> 8) & 0xffff) / 65536.0f - 0.5f;
        fwrite(&v, 4, 1, f);
    }
    fclose(f);
    free(hdr);
    return dir;
}

/* The workers' thread count (TL_TEST_CTX_THREADS, default 2). */
static int ctx_threads(void) {
    const char *e = getenv("TL_TEST_CTX_THREADS");
    return e && atoi(e) > 0 ? atoi(e) : 2;
}

/* Loads the test model with the test's thread count. */
static tl_model *load(void) {
    tl_model_params mp = tl_model_default_params();
    mp.num_threads = ctx_threads();
    tl_model *m = NULL;
    CHECK_OK(tl_model_load(model_dir(), &mp, &m));
    /* one forward before any thread starts: the kernels pick their ISA table lazily on the
     * first call (src/kernels/vec.c, an unsynchronized one-time init TSan reports) */
    const char *t = "hello";
    float e[H];
    if (m) CHECK_OK(tl_embed(m, &t, 1, NULL, e, H));
    return m;
}

/* Writes text number k (1 + k * 7 % 30 words) into buf. */
static const char *text_k(int k, char *buf, size_t cap) {
    size_t n = 0, words = 1 + (size_t)(k * 7) % 30;
    buf[0] = 0;
    for (size_t w = 0; w < words && n + 16 < cap; w++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", w ? " " : "", k_words[(size_t)(k * 3 + (int)w * 5) % N_WORDS]);
    return buf;
}

/* Returns the largest |a - b| over n floats. */
static float max_diff(const float *a, const float *b, size_t n) {
    float d = 0;
    for (size_t i = 0; i < n; i++) d = fabsf(a[i] - b[i]) > d ? fabsf(a[i] - b[i]) : d;
    return d;
}

/* 1 when JSON values a and b are equal, numbers within tol. */
static int json_close(const cJSON *a, const cJSON *b, double tol) {
    if (!a || !b || (a->type & 0xff) != (b->type & 0xff)) return 0;
    if (cJSON_IsNumber(a)) return fabs(a->valuedouble - b->valuedouble) <= tol;
    if (cJSON_IsString(a)) return !strcmp(a->valuestring, b->valuestring);
    if (cJSON_IsArray(a) || cJSON_IsObject(a)) {
        if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b)) return 0;
        const cJSON *x = a->child, *y = b->child;
        for (; x && y; x = x->next, y = y->next)
            if ((cJSON_IsObject(a) && strcmp(x->string, y->string)) || !json_close(x, y, tol)) return 0;
        return 1;
    }
    return 1;
}

/* One submitting thread: PER_THREAD requests of 1 or 2 texts, kinds alternating. */
typedef struct submitter {
    tl_engine *e;
    tl_model *m;
    tl_pipeline *pl;
    int id, failures, mismatches, batched;
} submitter;

/* Thread body: submits its requests (all before waiting), then checks each against the
 * in-process call on the same texts. */
static void *submit_main(void *arg) {
    submitter *s = arg;
    tl_request *rq[PER_THREAD] = {0};
    char bufs[PER_THREAD][2][256];
    const char *texts[PER_THREAD][2];
    size_t ntexts[PER_THREAD];
    for (int i = 0; i < PER_THREAD; i++) {
        int k = s->id * PER_THREAD + i;
        ntexts[i] = 1 + (size_t)(k % 2);
        for (size_t t = 0; t < ntexts[i]; t++) texts[i][t] = text_k(k + (int)t * 11, bufs[i][t], sizeof bufs[i][t]);
        tl_request_params rp = tl_request_default_params();
        rp.kind = k % 3;
        char inputs[600];
        if (rp.kind == TL_REQUEST_PIPELINE) {
            snprintf(inputs, sizeof inputs, "\"%s\"", texts[i][0]);
            rp.pipeline = s->pl;
            rp.inputs_json = inputs;
        }
        if (tl_engine_submit(s->e, rp.kind == TL_REQUEST_PIPELINE ? NULL : texts[i], NULL,
                             rp.kind == TL_REQUEST_PIPELINE ? 0 : ntexts[i], &rp, &rq[i]) != TL_OK)
            s->failures++;
    }
    for (int i = 0; i < PER_THREAD; i++) {
        if (!rq[i]) continue;
        int kind = (s->id * PER_THREAD + i) % 3;
        if (tl_request_wait(rq[i], -1) != TL_OK) { s->failures++; tl_request_free(rq[i]); continue; }
        tl_request_timing tm;
        tl_request_get_timing(rq[i], &tm);
        if (tm.batch_requests > 1) s->batched++;
        if (kind == TL_REQUEST_EMBED) {
            size_t n, dim;
            const float *got = tl_request_embeddings(rq[i], &n, &dim);
            float want[2 * H];
            if (tl_embed(s->m, texts[i], ntexts[i], NULL, want, 2 * H) != TL_OK || !got || n != ntexts[i] || dim != H ||
                max_diff(got, want, n * H) > 1e-5f)
                s->mismatches++;
        } else if (kind == TL_REQUEST_FEATURES) {
            tl_features *f = NULL;
            if (tl_extract_features(s->m, texts[i], ntexts[i], 0, &f) != TL_OK) { s->mismatches++; continue; }
            for (size_t t = 0; t < ntexts[i]; t++) {
                size_t nt, hid, wt, wh;
                const float *got = tl_request_features(rq[i], t, &nt, &hid);
                const float *want = tl_features_get(f, t, &wt, &wh);
                if (!got || nt != wt || hid != wh || max_diff(got, want, nt * hid) > 1e-5f) s->mismatches++;
            }
            tl_features_free(f);
        } else {
            char inputs[600], *want = NULL;
            snprintf(inputs, sizeof inputs, "\"%s\"", texts[i][0]);
            const char *got = tl_request_output_json(rq[i]);
            /* merged with other requests, scores may differ in the last bits */
            cJSON *g = got ? cJSON_Parse(got) : NULL, *w = NULL;
            if (tl_pipeline_run(s->pl, inputs, NULL, &want) != TL_OK || !(w = cJSON_Parse(want)) || !json_close(g, w, 1e-5))
                s->mismatches++;
            cJSON_Delete(g);
            cJSON_Delete(w);
            tl_free(want);
        }
        tl_request_free(rq[i]);
    }
    return NULL;
}

TL_TEST(concurrent_requests_equal_in_process_calls) {
    tl_model *m = load();
    tl_pipeline *pl = NULL;
    CHECK_OK(tl_pipeline_create(m, NULL, NULL, &pl));
    tl_engine_params ep = tl_engine_default_params();
    ep.num_workers = 2;
    ep.max_batch_delay_ms = 2;
    tl_engine *e = NULL;
    CHECK_OK(tl_engine_new(m, &ep, &e));
    submitter subs[N_THREADS];
    pthread_t th[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        subs[i] = (submitter){.e = e, .m = m, .pl = pl, .id = i};
        CHECK(pthread_create(&th[i], NULL, submit_main, &subs[i]) == 0);
    }
    int batched = 0;
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(th[i], NULL);
        CHECK(subs[i].failures == 0);
        CHECK(subs[i].mismatches == 0);
        batched += subs[i].batched;
    }
    CHECK(batched > 0); /* requests from different threads shared batches */
    CHECK(tl_engine_queue_size(e) == 0);
    tl_engine_free(e);
    tl_pipeline_free(pl);
    tl_model_free(m);
}

TL_TEST(pipeline_requests_queued_together_share_one_call) {
    tl_model *m = load();
    tl_pipeline *pl = NULL;
    CHECK_OK(tl_pipeline_create(m, "text-classification", NULL, &pl));
    tl_engine_params ep = tl_engine_default_params();
    ep.max_batch_delay_ms = 300;
    tl_engine *e = NULL;
    CHECK_OK(tl_engine_new(m, &ep, &e));
    /* a string (wrapped in a list by the legacy rule), lists of one and two, with and
     * without top_k, and an input that fails on its own (a number) */
    const char *ins[] = {"\"hello world\"", "[\"the fox\"]", "[\"a dog\", \"the sky is blue\"]", "\"red sea\"",
                         "[42]", "\"big cat\""};
    const char *params[] = {NULL, "{\"top_k\": 2}"};
    for (int pi = 0; pi < 2; pi++) {
        tl_request *r[6] = {0};
        for (int i = 0; i < 6; i++) {
            tl_request_params rp = tl_request_default_params();
            rp.kind = TL_REQUEST_PIPELINE;
            rp.pipeline = pl;
            rp.inputs_json = ins[i];
            rp.params_json = params[pi];
            CHECK_OK(tl_engine_submit(e, NULL, NULL, 0, &rp, &r[i]));
        }
        int merged = 0;
        for (int i = 0; i < 6; i++) {
            if (!r[i]) continue;
            tl_status st = tl_request_wait(r[i], -1);
            char *want = NULL;
            tl_status ws = tl_pipeline_run(pl, ins[i], params[pi], &want);
            CHECK(st == ws);
            if (st == TL_OK) {
                cJSON *a = cJSON_Parse(tl_request_output_json(r[i])), *b = cJSON_Parse(want);
                CHECK(json_close(a, b, 1e-5));
                cJSON_Delete(a);
                cJSON_Delete(b);
            } else {
                CHECK_CONTAINS(tl_request_error(r[i]), "input 0");
            }
            tl_request_timing tm;
            tl_request_get_timing(r[i], &tm);
            if (tm.batch_requests > 1) merged++;
            tl_free(want);
            tl_request_free(r[i]);
        }
        /* the four before [42] (which cannot be merged: not a string) ran as one call;
         * [42] and the one after it ran alone */
        CHECK(merged == 4);
    }
    /* queued together, the four good ones run as one call of five inputs */
    const char *good[] = {"\"hello world\"", "[\"the fox\"]", "[\"a dog\", \"the sky is blue\"]", "\"red sea\""};
    tl_request *r[4] = {0};
    for (int i = 0; i < 4; i++) {
        tl_request_params rp = tl_request_default_params();
        rp.kind = TL_REQUEST_PIPELINE;
        rp.pipeline = pl;
        rp.inputs_json = good[i];
        CHECK_OK(tl_engine_submit(e, NULL, NULL, 0, &rp, &r[i]));
    }
    for (int i = 0; i < 4; i++) {
        CHECK_OK(tl_request_wait(r[i], -1));
        tl_request_timing tm;
        tl_request_get_timing(r[i], &tm);
        CHECK(tm.batch_requests == 4);
        CHECK(tm.batch_seqs == 5);
        tl_request_free(r[i]);
    }
    tl_engine_free(e);
    tl_pipeline_free(pl);
    tl_model_free(m);
}

TL_TEST(token_id_requests_equal_text_requests) {
    tl_model *m = load();
    tl_engine *e = NULL;
    CHECK_OK(tl_engine_new(m, NULL, &e));
    const char *texts[] = {"hello world", "the quick brown fox"};
    int32_t *ids[2];
    size_t lens[2];
    tl_encoding *enc[2];
    for (int i = 0; i < 2; i++) {
        CHECK_OK(tl_tokenizer_encode(tl_model_tokenizer(m), texts[i], strlen(texts[i]), NULL, 0, NULL, &enc[i]));
        ids[i] = (int32_t *)tl_encoding_ids(enc[i]);
        lens[i] = tl_encoding_length(enc[i]);
    }
    tl_request *a = NULL, *b = NULL;
    CHECK_OK(tl_engine_submit(e, texts, NULL, 2, NULL, &a));
    CHECK_OK(tl_engine_submit_ids(e, (const int32_t *const *)ids, lens, 2, NULL, &b));
    CHECK_OK(tl_request_wait(a, -1));
    CHECK_OK(tl_request_wait(b, -1));
    size_t na, nb, da, db;
    const float *ea = tl_request_embeddings(a, &na, &da), *eb = tl_request_embeddings(b, &nb, &db);
    CHECK(ea && eb && na == 2 && nb == 2 && da == db);
    if (ea && eb) CHECK(max_diff(ea, eb, na * da) <= 1e-6f);
    CHECK(tl_request_tokens(b, 1) == lens[1]);
    tl_request_free(a);
    tl_request_free(b);
    /* bad ids: out of the vocabulary, empty, too long without truncation */
    int32_t bad[] = {1, V + 5}, many[P + 10] = {0};
    const int32_t *pb = bad, *pm = many;
    size_t lb = 2, l0 = 0, lm = P + 10;
    tl_request *r = NULL;
    CHECK(tl_engine_submit_ids(e, &pb, &lb, 1, NULL, &r) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "outside the vocabulary");
    CHECK(tl_engine_submit_ids(e, &pb, &l0, 1, NULL, &r) == TL_ERR_INVALID_ARG);
    CHECK(tl_engine_submit_ids(e, &pm, &lm, 1, NULL, &r) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "truncation");
    tl_request_params rp = tl_request_default_params();
    rp.truncate = 1;
    CHECK_OK(tl_engine_submit_ids(e, &pm, &lm, 1, &rp, &r));
    CHECK_OK(tl_request_wait(r, -1));
    CHECK(tl_request_tokens(r, 0) < lm);
    tl_request_free(r);
    CHECK(tl_engine_submit_ids(e, NULL, &lb, 1, NULL, &r) == TL_ERR_INVALID_ARG);
    for (int i = 0; i < 2; i++) tl_encoding_free(enc[i]);
    tl_engine_free(e);
    tl_model_free(m);
}

TL_TEST(budgets_and_delay_shape_the_batches) {
    tl_model *m = load();
    tl_engine_params ep = tl_engine_default_params();
    ep.max_batch_requests = 3;
    ep.max_batch_tokens = 60;
    ep.max_batch_delay_ms = 300; /* every request below is queued before the first batch runs */
    tl_engine *e = NULL;
    CHECK_OK(tl_engine_new(m, &ep, &e));
    enum { N = 10 };
    tl_request *rq[N];
    char buf[N][256];
    for (int i = 0; i < N; i++) {
        const char *t = text_k(i, buf[i], sizeof buf[i]);
        CHECK_OK(tl_engine_submit(e, &t, NULL, 1, NULL, &rq[i]));
    }
    size_t total_reqs = 0;
    for (int i = 0; i < N; i++) {
        CHECK_OK(tl_request_wait(rq[i], -1));
        tl_request_timing tm;
        tl_request_get_timing(rq[i], &tm);
        CHECK(tm.batch_seqs >= 1 && tm.batch_seqs <= 3);
        CHECK(tm.batch_tokens <= 60 || tm.batch_requests == 1);
        CHECK(tm.queue_us > 0 && tm.inference_us > 0 && tm.tokenize_us > 0);
        total_reqs += tm.batch_requests;
        tl_request_free(rq[i]);
    }
    CHECK(total_reqs > N); /* some batches held more than one request */
    tl_engine_free(e);
    tl_model_free(m);
}

TL_TEST(cancelled_requests_are_dropped_before_they_run) {
    tl_model *m = load();
    tl_engine_params ep = tl_engine_default_params();
    ep.max_batch_delay_ms = 200;
    tl_engine *e = NULL;
    CHECK_OK(tl_engine_new(m, &ep, &e));
    const char *t = "the quick brown fox";
    tl_request *a = NULL, *b = NULL, *c = NULL;
    CHECK_OK(tl_engine_submit(e, &t, NULL, 1, NULL, &a));
    CHECK_OK(tl_engine_submit(e, &t, NULL, 1, NULL, &b));
    CHECK_OK(tl_engine_submit(e, &t, NULL, 1, NULL, &c));
    CHECK(!tl_request_done(b));
    CHECK(tl_request_wait(b, 1) == TL_ERR_IO); /* still waiting for the batch delay */
    tl_request_cancel(b);
    tl_request_free(c); /* freed while queued: cancelled, freed by the engine */
    CHECK_OK(tl_request_wait(a, -1));
    CHECK(tl_request_wait(b, -1) == TL_ERR_INVALID_ARG);
    CHECK(tl_request_cancelled(b));
    CHECK(!tl_request_cancelled(a));
    CHECK_CONTAINS(tl_request_error(b), "cancelled");
    CHECK(tl_request_embeddings(b, NULL, NULL) == NULL);
    tl_request_timing tm;
    tl_request_get_timing(a, &tm);
    CHECK(tm.batch_requests == 1); /* b and c never ran */
    tl_request_free(a);
    tl_request_free(b);
    tl_engine_free(e);
    tl_model_free(m);
}

TL_TEST(errors_travel_with_their_request) {
    tl_model *m = load();
    tl_engine *e = NULL;
    CHECK_OK(tl_engine_new(m, NULL, &e));
    tl_request *r = (tl_request *)1;
    char longtext[1024] = "";
    for (int i = 0; i < 60; i++) strcat(longtext, "hello ");
    const char *t = longtext;
    CHECK(tl_engine_submit(e, &t, NULL, 1, NULL, &r) == TL_ERR_INVALID_ARG);
    CHECK(r == NULL);
    CHECK_CONTAINS(tl_last_error(), "62 tokens, more than the 40");
    /* truncation on: the result is tl_embed's, which truncates */
    tl_request_params rp = tl_request_default_params();
    rp.truncate = 1;
    CHECK_OK(tl_engine_submit(e, &t, NULL, 1, &rp, &r));
    CHECK_OK(tl_request_wait(r, -1));
    CHECK(tl_request_tokens(r, 0) == P);
    float want[H];
    CHECK_OK(tl_embed(m, &t, 1, NULL, want, H));
    CHECK(max_diff(tl_request_embeddings(r, NULL, NULL), want, H) < 1e-5f);
    tl_request_free(r);
    rp.truncate_left = 1;
    CHECK_OK(tl_engine_submit(e, &t, NULL, 1, &rp, &r));
    CHECK_OK(tl_request_wait(r, -1));
    tl_request_free(r);
    const char *bad = "ok \xff\xfe";
    CHECK(tl_engine_submit(e, &bad, NULL, 1, NULL, &r) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "input 0");
    const char *nul = "a\0b";
    size_t len = 3;
    CHECK(tl_engine_submit(e, &nul, &len, 1, NULL, &r) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "NUL");
    CHECK(tl_engine_submit(e, &t, NULL, 0, NULL, &r) == TL_ERR_INVALID_ARG);
    rp = tl_request_default_params();
    rp.kind = 9;
    CHECK(tl_engine_submit(e, &t, NULL, 1, &rp, &r) == TL_ERR_INVALID_ARG);
    rp.kind = TL_REQUEST_PIPELINE;
    CHECK(tl_engine_submit(e, NULL, NULL, 0, &rp, &r) == TL_ERR_INVALID_ARG);
    CHECK(tl_engine_submit(NULL, &t, NULL, 1, NULL, &r) == TL_ERR_INVALID_ARG);
    CHECK(tl_engine_submit(e, &t, NULL, 1, NULL, NULL) == TL_ERR_INVALID_ARG);
    /* a pipeline error is the request's, set on the worker thread */
    tl_pipeline *pl = NULL;
    CHECK_OK(tl_pipeline_create(m, NULL, NULL, &pl));
    rp.pipeline = pl;
    rp.inputs_json = "[42]";
    CHECK_OK(tl_engine_submit(e, NULL, NULL, 0, &rp, &r));
    CHECK(tl_request_wait(r, -1) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_request_error(r), "input 0");
    CHECK(tl_request_output_json(r) == NULL);
    tl_request_free(r);
    tl_engine_params bad_p = tl_engine_default_params();
    bad_p.num_workers = -1;
    tl_engine *e2 = (tl_engine *)1;
    CHECK(tl_engine_new(m, &bad_p, &e2) == TL_ERR_INVALID_ARG);
    CHECK(e2 == NULL);
    CHECK(tl_engine_new(NULL, NULL, &e2) == TL_ERR_INVALID_ARG);
    tl_engine_free(NULL);
    tl_request_free(NULL);
    tl_engine_free(e);
    tl_pipeline_free(pl);
    tl_model_free(m);
}

TL_TEST(stopping_finishes_submitted_requests) {
    tl_model *m = load();
    tl_engine_params ep = tl_engine_default_params();
    ep.max_batch_delay_ms = 100;
    tl_engine *e = NULL;
    CHECK_OK(tl_engine_new(m, &ep, &e));
    tl_request *rq[5];
    char buf[5][256];
    for (int i = 0; i < 5; i++) {
        const char *t = text_k(i, buf[i], sizeof buf[i]);
        CHECK_OK(tl_engine_submit(e, &t, NULL, 1, NULL, &rq[i]));
    }
    tl_engine_free(e);
    for (int i = 0; i < 5; i++) {
        CHECK(tl_request_done(rq[i]));
        CHECK(tl_request_status(rq[i]) == TL_OK);
        tl_request_free(rq[i]);
    }
    tl_model_free(m);
}

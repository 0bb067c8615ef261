/* cmd_bench_run.c — `torchless bench`'s measurements: the model and task of a row, texts of
 * exactly L tokens built of one-token vocabulary words and checked with the model's tokenizer, and the timed repetitions (tokenize,
 * forward alone, the task's whole public call), reduced to medians and percentiles. */
#include "cmd_bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

const char *bench_task_name(const char *task) {
    static const struct { const char *name, *task; } table[] = {
        {"sentence-embedding", "sentence-embedding"},     {"feature-extraction", "feature-extraction"},
        {"text-classification", "text-classification"},   {"sentiment-analysis", "text-classification"},
        {"token-classification", "token-classification"}, {"ner", "token-classification"}};
    for (size_t i = 0; task && i < sizeof table / sizeof table[0]; i++)
        if (!strcmp(task, table[i].name)) return table[i].task;
    return NULL;
}

/* Seconds on a monotonic clock. */
static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Returns 1 when the loaded model's directory (tl_model_describe's "model:" line) holds
 * sentence-transformers files (modules.json or sentence_bert_config.json). */
static int has_st_files(const tl_model *m) {
    char *desc = tl_model_describe(m);
    int found = 0;
    if (desc && !strncmp(desc, "model:", 6)) {
        const char *d = desc + 6;
        d += strspn(d, " ");
        size_t n = strcspn(d, "\n");
        static const char *files[] = {"modules.json", "sentence_bert_config.json"};
        for (size_t i = 0; !found && i < 2; i++) {
            char path[4096];
            struct stat st;
            int w = snprintf(path, sizeof path, "%.*s/%s", (int)n, d, files[i]);
            found = w > 0 && (size_t)w < sizeof path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
        }
    }
    tl_free(desc);
    return found;
}

/* The task bench measures by default on m (see bench_target_open). */
static const char *default_task(tl_model *m) {
    if (has_st_files(m)) return "sentence-embedding";
    tl_pipeline *p = NULL;
    const char *task = NULL;
    if (tl_pipeline_create(m, NULL, NULL, &p) == TL_OK) task = bench_task_name(tl_pipeline_task(p));
    tl_pipeline_free(p);
    return task ? task : "feature-extraction";
}

/* The number of tokens text encodes to (specials included), or 0 on error. */
static size_t count_tokens(const tl_tokenizer *tok, const char *text) {
    tl_encoding *enc = NULL;
    if (tl_tokenizer_encode(tok, text, strlen(text), NULL, 0, NULL, &enc) != TL_OK) return 0;
    size_t n = tl_encoding_length(enc);
    tl_encoding_free(enc);
    return n;
}

/* Returns 1 when word is one token alone and two tokens after a space (so that "w w ... w"
 * has one token per word; byte-level BPE and Metaspace mark a word after a space). */
static int one_token_word(const tl_tokenizer *tok, const char *word, size_t specials) {
    char buf[64];
    if (snprintf(buf, sizeof buf, "%s %s", word, word) >= (int)sizeof buf) return 0;
    return count_tokens(tok, word) == specials + 1 && count_tokens(tok, buf) == specials + 2;
}

/* Adds a copy of w to t->words; returns 0 on OOM. */
static int add_word(bench_target *t, const char *w) {
    size_t n = strlen(w) + 1;
    char *c = malloc(n);
    if (!c) return 0;
    memcpy(c, w, n);
    t->words[t->n_words++] = c;
    return 1;
}

/* Collects up to BENCH_MAX_WORDS distinct words of 2-10 lowercase ASCII letters from the
 * vocabulary that are one token each (else one of a few common words), and sets
 * t->specials; returns 0 when there is none. */
static int find_words(bench_target *t, const tl_tokenizer *tok) {
    static const char *fallback[] = {"the", "a", "hello", "world", "is", "x", "1", "."};
    t->specials = count_tokens(tok, "");
    size_t V = tl_tokenizer_vocab_size(tok);
    for (size_t id = 0; id < V && t->n_words < BENCH_MAX_WORDS; id++) {
        const char *w = tl_tokenizer_id_to_token(tok, (int32_t)id);
        size_t n = w ? strlen(w) : 0;
        if (n < 2 || n > 10 || strspn(w, "abcdefghijklmnopqrstuvwxyz") != n) continue;
        if (one_token_word(tok, w, t->specials) && !add_word(t, w)) return 0;
    }
    for (size_t i = 0; !t->n_words && i < sizeof fallback / sizeof fallback[0]; i++)
        if (one_token_word(tok, fallback[i], t->specials) && !add_word(t, fallback[i])) return 0;
    return t->n_words > 0;
}

int bench_target_open(bench_target *t, const char *path, long threads, const char *task,
                      const char *precision) {
    memset(t, 0, sizeof *t);
    tl_model_params mp = tl_model_default_params();
    mp.num_threads = (int)threads;
    if (!tl_precision_parse(precision, &mp.precision)) return tl_cli_fail("bad precision");
    if (tl_model_load(path, &mp, &t->m) != TL_OK) return tl_cli_fail("cannot load model");
    const tl_tokenizer *tok = tl_model_tokenizer(t->m);
    if (!tok) {
        fprintf(stderr, "torchless bench: %s has no tokenizer (tokenizer.json or vocab.txt): bench needs it to "
                        "build inputs of exactly L tokens\n", path);
        return 1;
    }
    t->task = task ? bench_task_name(task) : default_task(t->m);
    t->kind = !strcmp(t->task, "sentence-embedding") ? BENCH_EMBED
              : !strcmp(t->task, "feature-extraction") ? BENCH_FEATURES : BENCH_PIPELINE;
    t->max_seq = tl_model_max_positions(t->m);
    tl_context *ctx = NULL;
    if (tl_context_new(t->m, NULL, &ctx) != TL_OK) return tl_cli_fail("cannot create a context");
    t->threads = tl_context_num_threads(ctx);
    tl_context_free(ctx);
    if (t->kind == BENCH_PIPELINE) {
        if (tl_pipeline_create(t->m, t->task, NULL, &t->p) != TL_OK) return tl_cli_fail("cannot create the pipeline");
        if (tl_task_head_create(t->m, t->task, 0, &t->head) != TL_OK) return tl_cli_fail("cannot bind the task head");
    }
    if (!find_words(t, tok)) {
        fprintf(stderr, "torchless bench: cannot build inputs of exactly L tokens: none of the words bench tries "
                        "is one token in %s's tokenizer\n", path);
        return 1;
    }
    return 0;
}

void bench_target_close(bench_target *t) {
    for (size_t i = 0; i < t->n_words; i++) free(t->words[i]);
    tl_task_head_free(t->head);
    tl_pipeline_free(t->p);
    tl_model_free(t->m);
    memset(t, 0, sizeof *t);
}

int bench_check_seq(const bench_target *t, long L) {
    if ((size_t)L > t->max_seq) {
        fprintf(stderr, "torchless bench: --seq %ld is longer than the model's maximum of %zu tokens per "
                        "sequence\n", L, t->max_seq);
        return 0;
    }
    if ((size_t)L <= t->specials) {
        fprintf(stderr, "torchless bench: --seq %ld is too short: the tokenizer adds %zu special tokens to "
                        "every text, so the shortest input with a word has %zu tokens\n",
                L, t->specials, t->specials + 1);
        return 0;
    }
    return 1;
}

/* Text number i of a row: L - specials words of t->words, starting at word i (so that the
 * texts of a batch differ), checked with the tokenizer to be exactly L tokens; NULL after
 * printing the error. Caller frees it. */
static char *make_text(const bench_target *t, long L, size_t i) {
    size_t words = (size_t)L - t->specials, cap = 1;
    for (size_t k = 0; k < words; k++) cap += strlen(t->words[(i + k) % t->n_words]) + 1;
    char *s = malloc(cap), *p = s;
    if (!s) { fprintf(stderr, "torchless: out of memory\n"); return NULL; }
    for (size_t k = 0; k < words; k++) {
        const char *w = t->words[(i + k) % t->n_words];
        size_t wl = strlen(w);
        if (k) *p++ = ' ';
        memcpy(p, w, wl);
        p += wl;
    }
    *p = '\0';
    size_t got = count_tokens(tl_model_tokenizer(t->m), s);
    if (got != (size_t)L) {
        fprintf(stderr, "torchless bench: cannot build a text of exactly %ld tokens: %zu one-token words give "
                        "%zu tokens\n", L, words, got);
        free(s);
        return NULL;
    }
    return s;
}

/* The inputs and buffers of one row. */
typedef struct row_data {
    char **texts;         /* B texts of L tokens (owned) */
    size_t n_texts;
    char *json;           /* the pipeline's input: a JSON list of the B texts */
    int32_t *ids;         /* B * L token ids, packed */
    size_t *lens;
    float *fwd, *emb;     /* forward output; embeddings */
    size_t fwd_len, emb_len;
    double *tok, *fw, *tot, *post; /* reps samples each */
} row_data;

/* Frees d's buffers. */
static void row_free(row_data *d) {
    for (size_t i = 0; i < d->n_texts; i++) free(d->texts[i]);
    free(d->texts); free(d->json); free(d->ids); free(d->lens);
    free(d->fwd); free(d->emb); free(d->tok); free(d->fw); free(d->tot); free(d->post);
}

/* Builds the B texts, their packed ids and the pipeline's JSON input; returns 0 after
 * printing the error. */
static int row_texts(const bench_target *t, size_t B, size_t L, row_data *d) {
    size_t json_len = 3;
    for (; d->n_texts < B; d->n_texts++) {
        char *text = make_text(t, (long)L, d->n_texts);
        if (!text) return 0;
        d->texts[d->n_texts] = text;
        json_len += strlen(text) + 3;
        tl_encoding *enc = NULL;
        if (tl_tokenizer_encode(tl_model_tokenizer(t->m), text, strlen(text), NULL, 0, NULL, &enc) != TL_OK) {
            tl_cli_fail("tokenize");
            return 0;
        }
        d->lens[d->n_texts] = L;
        memcpy(d->ids + d->n_texts * L, tl_encoding_ids(enc), L * sizeof *d->ids);
        tl_encoding_free(enc);
    }
    if (t->kind != BENCH_PIPELINE) return 1;
    char *j = d->json = malloc(json_len);
    if (!j) { fprintf(stderr, "torchless: out of memory\n"); return 0; }
    *j++ = '[';
    for (size_t i = 0; i < B; i++) /* lowercase ASCII words: no escaping */
        j += sprintf(j, "%s\"%s\"", i ? "," : "", d->texts[i]);
    strcpy(j, "]");
    return 1;
}

/* Builds the inputs and buffers of a B x L row; returns 0 after printing the error. */
static int row_init(const bench_target *t, size_t B, size_t L, size_t reps, row_data *d) {
    memset(d, 0, sizeof *d);
    size_t H = tl_model_hidden_size(t->m);
    d->fwd_len = B * L * H;
    if (t->head) d->fwd_len = (tl_task_head_per_token(t->head) ? B * L : B) * tl_task_head_width(t->head);
    d->emb_len = B * tl_model_embedding_dim(t->m);
    d->texts = calloc(B, sizeof *d->texts);
    d->ids = malloc(B * L * sizeof *d->ids);
    d->lens = malloc(B * sizeof *d->lens);
    d->fwd = malloc(d->fwd_len * sizeof *d->fwd);
    d->emb = t->kind == BENCH_EMBED ? malloc(d->emb_len * sizeof *d->emb) : NULL;
    d->tok = malloc(reps * sizeof(double));
    d->fw = malloc(reps * sizeof(double));
    d->tot = malloc(reps * sizeof(double));
    d->post = malloc(reps * sizeof(double));
    if (!d->texts || !d->ids || !d->lens || !d->fwd || (t->kind == BENCH_EMBED && !d->emb) || !d->tok ||
        !d->fw || !d->tot || !d->post) {
        fprintf(stderr, "torchless: out of memory for a batch of %zu x %zu tokens\n", B, L);
        return 0;
    }
    return row_texts(t, B, L, d);
}

/* Tokenizes the B texts as the task's call does (one encode per text), then frees them. */
static tl_status tokenize_all(const bench_target *t, const row_data *d, size_t B) {
    const tl_tokenizer *tok = tl_model_tokenizer(t->m);
    for (size_t i = 0; i < B; i++) {
        tl_encoding *enc = NULL;
        tl_status s = tl_tokenizer_encode(tok, d->texts[i], strlen(d->texts[i]), NULL, 0, NULL, &enc);
        tl_encoding_free(enc);
        if (s != TL_OK) return s;
    }
    return TL_OK;
}

/* The forward alone on the packed ids: the encoder, plus the head for pipeline tasks. */
static tl_status forward(const bench_target *t, row_data *d, size_t B) {
    tl_batch b = {.n_seqs = B, .seq_lens = d->lens, .input_ids = d->ids};
    if (t->head) return tl_task_head_forward(t->head, &b, d->fwd, d->fwd_len);
    return tl_model_forward(t->m, &b, d->fwd, d->fwd_len);
}

/* The task's whole public call on the B texts, its result freed. */
static tl_status whole_call(const bench_target *t, row_data *d, size_t B, size_t L) {
    tl_status s;
    if (t->kind == BENCH_EMBED) {
        tl_embed_params ep = tl_embed_default_params();
        ep.max_length = L; /* L tokens even past sentence_bert_config's max_seq_length */
        return tl_embed(t->m, (const char *const *)d->texts, B, &ep, d->emb, d->emb_len);
    }
    if (t->kind == BENCH_FEATURES) {
        tl_features *f = NULL;
        s = tl_extract_features(t->m, (const char *const *)d->texts, B, 0, &f);
        tl_features_free(f);
        return s;
    }
    char *out = NULL;
    s = tl_pipeline_run(t->p, d->json, NULL, &out);
    tl_free(out);
    return s;
}

/* Sorts v[0..n) ascending. */
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile (0..1) of v[0..n), sorting v; linear interpolation (numpy's default). */
static double quantile(double *v, size_t n, double q) {
    qsort(v, n, sizeof *v, cmp_double);
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    return i + 1 < n ? v[i] + (pos - (double)i) * (v[i + 1] - v[i]) : v[n - 1];
}

int bench_measure(bench_target *t, bench_row *row, bench_progress *pg) {
    size_t B = (size_t)row->batch, L = (size_t)row->seq, reps = (size_t)row->reps;
    row_data d;
    int rc = 0;
    if (!row_init(t, B, L, reps, &d)) { row_free(&d); return 1; }
    for (long r = -row->warmup; r < (long)reps && !rc; r++) {
        bench_progress_draw(pg, row, r < 0 ? 0 : r + 1);
        double t0 = now_s();
        tl_status s = tokenize_all(t, &d, B);
        double t1 = now_s();
        if (s == TL_OK) s = forward(t, &d, B);
        double t2 = now_s();
        if (s == TL_OK) s = whole_call(t, &d, B, L);
        double t3 = now_s();
        if (s != TL_OK) {
            bench_progress_clear(pg);
            rc = tl_cli_fail(t->task);
        } else if (r >= 0) {
            d.tok[r] = (t1 - t0) * 1e3;
            d.fw[r] = (t2 - t1) * 1e3;
            d.tot[r] = (t3 - t2) * 1e3;
            double post = d.tot[r] - d.tok[r] - d.fw[r];
            d.post[r] = post > 0 ? post : 0;
        }
    }
    if (!rc) {
        row->lat_med = quantile(d.tot, reps, 0.5);
        row->lat_p10 = quantile(d.tot, reps, 0.1);
        row->lat_p90 = quantile(d.tot, reps, 0.9);
        row->lat_min = d.tot[0];
        row->lat_max = d.tot[reps - 1];
        row->tok_med = quantile(d.tok, reps, 0.5);
        row->fwd_med = quantile(d.fw, reps, 0.5);
        row->post_med = quantile(d.post, reps, 0.5);
        row->tok_share = row->lat_med > 0 ? row->tok_med / row->lat_med : 0;
        row->tokens_per_s = row->lat_med > 0 ? (double)(B * L) * 1e3 / row->lat_med : 0;
        row->seqs_per_s = row->lat_med > 0 ? (double)B * 1e3 / row->lat_med : 0;
    }
    row_free(&d);
    return rc;
}

void bench_progress_draw(bench_progress *pg, const bench_row *row, long rep) {
    if (!pg->on) return;
    char what[48];
    if (rep == 0) snprintf(what, sizeof what, "warm-up");
    else snprintf(what, sizeof what, "repetition %ld/%ld", rep, row->reps);
    fprintf(stderr, "\rtorchless bench: row %zu/%zu (threads %ld, batch %ld, seq %ld): %s\033[K", pg->row + 1,
            pg->rows, row->threads, row->batch, row->seq, what);
    fflush(stderr);
}

void bench_progress_clear(bench_progress *pg) {
    if (!pg->on) return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
}

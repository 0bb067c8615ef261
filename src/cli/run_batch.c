/* run_batch.c — `torchless run`'s work on one bounded batch of inputs: sentence embeddings
 * and features for the batch at once (input by input when the batch fails, to find the
 * failing one), pipeline tasks input by input; results printed in input order. */
#include "run.h"

#include <cjson/cJSON.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prints n floats as a JSON array with enough digits to round-trip. */
static void print_floats(const float *x, size_t n) {
    putchar('[');
    for (size_t i = 0; i < n; i++) printf(i ? ",%.9g" : "%.9g", (double)x[i]);
    putchar(']');
}

/* Reports a bad input on stderr; records the exit code and, with skip, prints `null`. */
static void bad_input(run_state *r, const tl_input *in, const char *why, int code) {
    tl_progress_note(&r->progress);
    fprintf(stderr, "torchless: %s: %s\n", in->label, why);
    r->n_bad++;
    if (code > r->rc) r->rc = code;
    if (r->skip) puts("null");
    else r->stopped = 1;
}

/* Keeps one embedding for the --similarity matrix; returns 0 on OOM. */
static int keep(run_state *r, const float *e, size_t d) {
    if (r->n_kept == r->cap_kept) {
        size_t cap = r->cap_kept ? r->cap_kept * 2 : 64;
        float *k = realloc(r->kept, cap * d * sizeof *k);
        if (!k) return 0;
        r->kept = k;
        r->cap_kept = cap;
    }
    memcpy(r->kept + r->n_kept++ * d, e, d * sizeof *e);
    return 1;
}

/* Prints one embedding line (json or table). */
static void print_embedding(const run_state *r, const tl_input *in, const float *e, size_t d) {
    if (r->table) {
        double norm = 0;
        for (size_t k = 0; k < d; k++) norm += (double)e[k] * e[k];
        printf("%3zu  [%8.5f %8.5f %8.5f %8.5f ...] dim %zu norm %.4f  %.60s\n", in->index, e[0],
               e[d > 1 ? 1 : 0], e[d > 2 ? 2 : 0], e[d > 3 ? 3 : 0], d, sqrt(norm), in->text);
    } else {
        printf("{\"index\":%zu,\"embedding\":", in->index);
        print_floats(e, d);
        printf("}\n");
    }
}

/* Embeds texts[0..n) into out (n x d); returns the status. */
static tl_status embed(run_state *r, const char *const *texts, size_t n, float *out, size_t d) {
    tl_embed_params p = tl_embed_default_params();
    p.max_length = r->max_len;
    p.normalize = r->normalize;
    return tl_embed(r->m, texts, n, &p, out, n * d);
}

/* Prints the features (last hidden state) of text i of f. */
static void print_features(const tl_features *f, size_t i, size_t index) {
    size_t nt, h;
    const float *x = tl_features_get(f, i, &nt, &h);
    printf("{\"index\":%zu,\"tokens\":%zu,\"last_hidden_state\":[", index, nt);
    for (size_t t = 0; t < nt; t++) {
        if (t) putchar(',');
        print_floats(x + t * h, h);
    }
    printf("]}\n");
}

/* Runs texts[0..ng) at once; when that fails, one by one, with errs[g] the message of each
 * text that fails alone. Results land in emb (embeddings, ng x d) or *f (features; when
 * not batched, feats[g] holds text g's own). Returns 1 when the batch ran at once. */
static int run_texts(run_state *r, const char **texts, size_t ng, float *emb, size_t d, tl_features **f,
                     tl_features **feats, char **errs) {
    tl_status s = r->kind == RUN_EMBED ? embed(r, texts, ng, emb, d)
                                      : tl_extract_features(r->m, texts, ng, r->max_len, f);
    if (s == TL_OK) return 1;
    for (size_t g = 0; g < ng; g++) {
        s = r->kind == RUN_EMBED ? embed(r, texts + g, 1, emb + g * d, d)
                                 : tl_extract_features(r->m, texts + g, 1, r->max_len, &feats[g]);
        if (s != TL_OK) errs[g] = strdup(tl_last_error());
        if (s != TL_OK && !errs[g]) errs[g] = strdup("failed");
    }
    return 0;
}

/* Embeddings or features of a batch, printed in input order. */
static void text_batch(run_state *r, tl_input *items, size_t n) {
    size_t d = r->kind == RUN_EMBED ? tl_model_embedding_dim(r->m) : 0, ng = 0;
    const char **texts = calloc(n ? n : 1, sizeof *texts);
    size_t *pos = calloc(n ? n : 1, sizeof *pos);
    char **errs = calloc(n ? n : 1, sizeof *errs);
    tl_features **feats = calloc(n ? n : 1, sizeof *feats);
    float *emb = d ? malloc(n * d * sizeof *emb) : NULL;
    if (!texts || !pos || !errs || !feats || (d && !emb)) {
        fprintf(stderr, "torchless: out of memory\n");
        r->rc = 1;
        r->stopped = 1;
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        if (!items[i].error) { texts[ng] = items[i].text; pos[i] = ng++; }
    tl_features *f = NULL;
    int batched = ng ? run_texts(r, texts, ng, emb, d, &f, feats, errs) : 1;
    for (size_t i = 0; i < n && !r->stopped; i++) {
        tl_input *in = &items[i];
        if (in->error) { bad_input(r, in, in->error, in->usage_error ? 2 : 1); continue; }
        size_t g = pos[i];
        if (errs[g]) { bad_input(r, in, errs[g], 1); continue; }
        if (r->kind == RUN_EMBED) {
            print_embedding(r, in, emb + g * d, d);
            if (r->sim && !keep(r, emb + g * d, d)) { fprintf(stderr, "torchless: out of memory\n"); r->rc = 1; r->stopped = 1; }
        } else {
            print_features(batched ? f : feats[g], batched ? g : 0, in->index);
        }
    }
    tl_features_free(f);
done:
    for (size_t g = 0; g < n && feats && errs; g++) { tl_features_free(feats[g]); free(errs[g]); }
    free(texts); free(pos); free(errs); free(feats); free(emb);
}

/* tl_text_fn: writes a piece of generated text to stdout at once. */
static int put_piece(void *user, size_t index, const char *text, size_t len) {
    (void)user;
    (void)index;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

/* text-generation --format text: the prompt (unless return_full_text is false), then the
 * generated text streamed as it comes, then a newline. in->text is the JSON input. */
static void stream_one(run_state *r, tl_input *in) {
    cJSON *v = cJSON_Parse(in->text);
    if (r->full_text && cJSON_IsString(v)) fputs(v->valuestring, stdout);
    cJSON_Delete(v);
    fflush(stdout);
    char *out = NULL;
    if (tl_pipeline_run_stream(r->p, in->text, NULL, put_piece, r, &out) != TL_OK) {
        putchar('\n');
        bad_input(r, in, tl_last_error(), 1);
    } else {
        putchar('\n');
    }
    tl_free(out);
}

/* Pipeline task: each input through tl_pipeline_run, printed as it is done. */
static void pipeline_batch(run_state *r, tl_input *items, size_t n) {
    for (size_t i = 0; i < n && !r->stopped; i++) {
        tl_input *in = &items[i];
        if (in->error) { bad_input(r, in, in->error, in->usage_error ? 2 : 1); continue; }
        if (r->stream_text) { stream_one(r, in); continue; }
        char *out = NULL;
        if (tl_pipeline_run(r->p, in->text, NULL, &out) != TL_OK) bad_input(r, in, tl_last_error(), 1);
        else puts(out);
        tl_free(out);
    }
}

void tl_run_batch(run_state *r, tl_input *items, size_t n) {
    if (r->kind == RUN_PIPELINE) pipeline_batch(r, items, n);
    else text_batch(r, items, n);
    fflush(stdout);
    r->n_done += n;
    tl_progress_add(&r->progress, n);
}

/* Cosine similarity of two vectors of length d. */
static double cosine(const float *a, const float *b, size_t d) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < d; i++) { ab += (double)a[i] * b[i]; aa += (double)a[i] * a[i]; bb += (double)b[i] * b[i]; }
    double den = sqrt(aa) * sqrt(bb);
    return den > 0 ? ab / den : 0.0;
}

/* Prints the similarity matrix of the kept embeddings as JSON or as a table. */
static void print_similarity(const float *emb, size_t n, size_t d, int table) {
    if (table) printf("\ncosine similarity:\n      ");
    else printf("{\"similarity\":[");
    if (table) { for (size_t j = 0; j < n; j++) printf(" %6zu", j); putchar('\n'); }
    for (size_t i = 0; i < n; i++) {
        if (table) printf("%6zu", i); else printf(i ? ",[" : "[");
        for (size_t j = 0; j < n; j++) {
            double c = cosine(emb + i * d, emb + j * d, d);
            if (table) printf(" %6.3f", c); else printf(j ? ",%.9g" : "%.9g", c);
        }
        if (table) putchar('\n'); else putchar(']');
    }
    if (!table) printf("]}\n");
}

void tl_run_finish(run_state *r) {
    tl_progress_end(&r->progress);
    if (r->sim && !r->stopped) print_similarity(r->kept, r->n_kept, tl_model_embedding_dim(r->m), r->table);
    fflush(stdout);
    if (r->skip && r->n_bad)
        fprintf(stderr, "torchless run: %zu of %zu inputs failed (printed as null)\n", r->n_bad, r->n_done);
}

/* cmd_run.c — `torchless run`: sentence-embedding and feature-extraction on texts, and every
 * pipeline task (text-classification, token-classification, question-answering, fill-mask,
 * zero-shot-classification, text-pair-scoring, text-ranking, sentence-similarity) through
 * tl_pipeline_run, one JSON result line per input. */
#include "cli.h"

#include <cjson/cJSON.h>

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prints the run subcommand's help to f. */
static void run_usage(FILE *f) {
    fprintf(f,
            "usage: torchless run [--model DIR_OR_ID] [--task TASK] [options] [TEXT...]\n\n"
            "Runs TASK on each TEXT (and on each line of --input) and prints one JSON line per\n"
            "input, in input order.\n\n"
            "  -m, --model DIR_OR_ID  model directory or cached HF id (default: $TORCHLESS_MODEL)\n"
            "  -t, --task TASK        sentence-embedding (default): pooled (+ normalized) vector,\n"
            "                         as SentenceTransformer.encode gives;\n"
            "                         feature-extraction: last hidden state of every token;\n"
            "                         text-classification (sentiment-analysis), token-classification\n"
            "                         (ner), question-answering, fill-mask, zero-shot-classification:\n"
            "                         each line is what transformers.pipeline(TASK) returns;\n"
            "                         text-pair-scoring: CrossEncoder.predict scores of [a, b] pairs;\n"
            "                         text-ranking (rerank): CrossEncoder.rank of {\"query\",\n"
            "                         \"documents\"}; sentence-similarity: scores of {\"source_sentence\",\n"
            "                         \"sentences\"} as SentenceTransformer.similarity;\n"
            "                         auto: the task config.json architectures implies\n"
            "  -i, --input FILE       JSONL file ('-' = stdin): each line a JSON string or {\"text\": ...};\n"
            "                         for pipeline tasks each line is one pipeline input: a string or\n"
            "                         the task's object ({\"text\", \"text_pair\"}, {\"question\",\n"
            "                         \"context\"}, {\"sequences\", \"candidate_labels\"}, [a, b], ...)\n"
            "  -o, --options JSON     pipeline parameters as a JSON object, e.g.\n"
            "                         '{\"top_k\": 2}', '{\"aggregation_strategy\": \"simple\"}',\n"
            "                         '{\"candidate_labels\": [\"sports\", \"politics\"]}'\n"
            "      --max-length N     truncate to N tokens (default: the model's configured maximum)\n"
            "      --normalize / --no-normalize\n"
            "                         force L2 normalization on or off (default: as the model's\n"
            "                         sentence-transformers modules say)\n"
            "      --similarity       sentence-embedding: also print the cosine similarity matrix\n"
            "      --format json|table  json (default): one JSON line per text; table: readable\n"
            "      --threads N        worker threads (default: $TORCHLESS_NUM_THREADS or the CPUs it may use)\n"
            "  -h, --help             this help\n\n"
            "output (json): {\"index\": i, \"embedding\": [...]} or\n"
            "               {\"index\": i, \"tokens\": n, \"last_hidden_state\": [[...], ...]};\n"
            "with --similarity a last line {\"similarity\": [[...], ...]};\n"
            "pipeline tasks: the pipeline's result for each input, e.g.\n"
            "               [{\"label\":\"POSITIVE\",\"score\":0.99}]\n");
}

/* Returns 1 for the tasks run through tl_pipeline_run. */
static int is_pipeline_task(const char *task) {
    static const char *names[] = {"text-classification", "sentiment-analysis", "token-classification", "ner",
                                  "question-answering", "fill-mask", "zero-shot-classification",
                                  "text-pair-scoring", "text-ranking", "rerank", "sentence-similarity", "auto"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(task, names[i])) return 1;
    return 0;
}

/* Runs a pipeline task on each input (JSON values) and prints one result line each. */
static int run_pipeline(tl_model *m, const char *task, const char *options, tl_strlist *inputs) {
    tl_pipeline *p = NULL;
    if (tl_pipeline_create(m, strcmp(task, "auto") ? task : NULL, options, &p) != TL_OK)
        return tl_cli_fail("cannot create the pipeline");
    int rc = 0;
    for (size_t i = 0; i < inputs->n && !rc; i++) {
        char *out = NULL;
        if (tl_pipeline_run(p, inputs->items[i], NULL, &out) != TL_OK) {
            char what[64];
            snprintf(what, sizeof what, "input %zu", i);
            rc = tl_cli_fail(what);
        } else {
            printf("%s\n", out);
        }
        tl_free(out);
    }
    tl_pipeline_free(p);
    return rc;
}

/* Prints n floats as a JSON array with enough digits to round-trip. */
static void print_floats(const float *x, size_t n) {
    putchar('[');
    for (size_t i = 0; i < n; i++) printf(i ? ",%.9g" : "%.9g", (double)x[i]);
    putchar(']');
}

/* Cosine similarity of two vectors of length d. */
static double cosine(const float *a, const float *b, size_t d) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < d; i++) { ab += (double)a[i] * b[i]; aa += (double)a[i] * a[i]; bb += (double)b[i] * b[i]; }
    double den = sqrt(aa) * sqrt(bb);
    return den > 0 ? ab / den : 0.0;
}

/* Prints the similarity matrix as JSON or as a table. */
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

/* Runs sentence-embedding on texts and prints the results. */
static int run_embed(tl_model *m, tl_strlist *texts, size_t max_len, int normalize, int sim, int table) {
    size_t d = tl_model_embedding_dim(m), n = texts->n;
    float *emb = malloc((n ? n : 1) * d * sizeof(float));
    if (!emb) { fprintf(stderr, "torchless: out of memory\n"); return 1; }
    tl_embed_params p = tl_embed_default_params();
    p.max_length = max_len;
    p.normalize = normalize;
    if (tl_embed(m, (const char *const *)texts->items, n, &p, emb, n * d) != TL_OK) {
        free(emb);
        return tl_cli_fail("sentence-embedding");
    }
    for (size_t i = 0; i < n; i++) {
        if (table) {
            double norm = 0;
            for (size_t k = 0; k < d; k++) norm += (double)emb[i * d + k] * emb[i * d + k];
            printf("%3zu  [%8.5f %8.5f %8.5f %8.5f ...] dim %zu norm %.4f  %.60s\n", i, emb[i * d],
                   emb[i * d + 1 < (i + 1) * d ? i * d + 1 : i * d], emb[i * d + (d > 2 ? 2 : 0)],
                   emb[i * d + (d > 3 ? 3 : 0)], d, sqrt(norm), texts->items[i]);
        } else {
            printf("{\"index\":%zu,\"embedding\":", i);
            print_floats(emb + i * d, d);
            printf("}\n");
        }
    }
    if (sim) print_similarity(emb, n, d, table);
    free(emb);
    return 0;
}

/* Runs feature-extraction on texts and prints the results. */
static int run_features(tl_model *m, tl_strlist *texts, size_t max_len) {
    tl_features *f = NULL;
    if (tl_extract_features(m, (const char *const *)texts->items, texts->n, max_len, &f) != TL_OK)
        return tl_cli_fail("feature-extraction");
    for (size_t i = 0; i < texts->n; i++) {
        size_t nt, h;
        const float *x = tl_features_get(f, i, &nt, &h);
        printf("{\"index\":%zu,\"tokens\":%zu,\"last_hidden_state\":[", i, nt);
        for (size_t t = 0; t < nt; t++) {
            if (t) putchar(',');
            print_floats(x + t * h, h);
        }
        printf("]}\n");
    }
    tl_features_free(f);
    return 0;
}

int tl_cmd_run(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"task", required_argument, 0, 't'},
        {"input", required_argument, 0, 'i'}, {"max-length", required_argument, 0, 'L'},
        {"normalize", no_argument, 0, 'N'},   {"no-normalize", no_argument, 0, 'n'},
        {"similarity", no_argument, 0, 's'},  {"format", required_argument, 0, 'f'},
        {"threads", required_argument, 0, 'T'}, {"help", no_argument, 0, 'h'},
        {"options", required_argument, 0, 'o'}, {0, 0, 0, 0}};
    const char *model_arg = NULL, *task = "sentence-embedding", *format = "json", *options = NULL;
    const char *input_path = NULL;
    long max_len = 0, threads = 0;
    int normalize = -1, sim = 0, c;
    tl_strlist texts = {0};
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:t:i:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model_arg = optarg; break;
        case 't': task = optarg; break;
        case 'i': input_path = optarg; break;
        case 'o': options = optarg; break;
        case 'L':
            if (!(max_len = tl_cli_positive(optarg, 1L << 30, "run", "--max-length"))) { tl_strlist_free(&texts); return 2; }
            break;
        case 'N': normalize = 1; break;
        case 'n': normalize = 0; break;
        case 's': sim = 1; break;
        case 'f': format = optarg; break;
        case 'T':
            if (!(threads = tl_cli_positive(optarg, 4096, "run", "--threads"))) { tl_strlist_free(&texts); return 2; }
            break;
        case 'h': run_usage(stdout); tl_strlist_free(&texts); return 0;
        default: run_usage(stderr); tl_strlist_free(&texts); return 2;
        }
    }
    int table = 0;
    if (!strcmp(format, "table")) table = 1;
    else if (strcmp(format, "json")) { fprintf(stderr, "torchless run: --format must be json or table, not '%s'\n", format); tl_strlist_free(&texts); return 2; }
    int embed = !strcmp(task, "sentence-embedding"), pipe = is_pipeline_task(task);
    if (!embed && !pipe && strcmp(task, "feature-extraction")) {
        fprintf(stderr, "torchless run: unknown task '%s' (supported: sentence-embedding, feature-extraction, "
                        "text-classification, token-classification, question-answering, fill-mask, "
                        "zero-shot-classification, text-pair-scoring, text-ranking (rerank), "
                        "sentence-similarity, auto)\n", task);
        tl_strlist_free(&texts);
        return 2;
    }
    if (options && !pipe) {
        fprintf(stderr, "torchless run: --options is for pipeline tasks (text-classification, ...), not %s\n", task);
        return 2;
    }
    if (input_path && !(pipe ? tl_read_jsonl_values(input_path, &texts) : tl_read_jsonl_texts(input_path, &texts))) {
        tl_strlist_free(&texts);
        return 2;
    }
    for (int i = optind; i < argc; i++) {
        char *js = NULL;
        if (pipe) {
            cJSON *str = cJSON_CreateString(argv[i]);
            js = str ? cJSON_PrintUnformatted(str) : NULL;
            cJSON_Delete(str);
        }
        int ok = (!pipe || js) && tl_strlist_push(&texts, pipe ? js : argv[i]);
        free(js);
        if (!ok) { fprintf(stderr, "torchless: out of memory\n"); tl_strlist_free(&texts); return 1; }
    }
    if (!texts.n) { fprintf(stderr, "torchless run: no input: give TEXT arguments or --input FILE\n"); return 2; }
    const char *path = tl_cli_model_arg(model_arg, "run");
    if (!path) { tl_strlist_free(&texts); return 2; }
    tl_model_params mp = tl_model_default_params();
    mp.num_threads = (int)threads;
    tl_model *m = NULL;
    int rc;
    if (tl_model_load(path, &mp, &m) != TL_OK) rc = tl_cli_fail("cannot load model");
    else if (pipe) rc = run_pipeline(m, task, options, &texts);
    else if (embed) rc = run_embed(m, &texts, (size_t)max_len, normalize, sim, table);
    else rc = run_features(m, &texts, (size_t)max_len);
    tl_model_free(m);
    tl_strlist_free(&texts);
    return rc;
}

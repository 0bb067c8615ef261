/* cmd_run.c — `torchless run`: sentence-embedding and feature-extraction on texts, and every
 * pipeline task (text-classification, token-classification, question-answering, fill-mask,
 * zero-shot-classification, text-pair-scoring, text-ranking, sentence-similarity) through
 * tl_pipeline_run: options, the model (with the task's default when none is given), and
 * the inputs streamed in bounded batches (run_batch.c), one JSON result line per input. */
#include "run.h"
#include "io/json.h"

#include <cjson/cJSON.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prints the run subcommand's help to f. */
static void run_usage(FILE *f) {
    fprintf(f,
            "usage: torchless run [--model DIR_OR_ID] [--task TASK] [options] [TEXT...]\n\n"
            "Runs TASK on each line of --input and on each TEXT and prints one JSON line per\n"
            "input, in input order, as soon as its batch is done.\n\n"
            "  -m, --model DIR_OR_ID  model directory or cached HF id (default: $TORCHLESS_MODEL, else\n"
            "                         the task's default model, as torchless.pipeline, from the cache)\n"
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
            "                         text-generation (decoders: gpt2, llama, mistral, qwen2): streams\n"
            "                         the prompt and its continuation to stdout as tokens come\n"
            "                         (--format json: transformers' [{\"generated_text\": ...}] per input);\n"
            "                         generate() parameters in --options, e.g. '{\"max_new_tokens\": 50,\n"
            "                         \"do_sample\": false, \"stop_strings\": [\".\"]}'\n"
            "                         auto: the task config.json architectures implies\n"
            "  -i, --input FILE       JSONL file ('-' = stdin): each line a JSON string or {\"text\": ...};\n"
            "                         for pipeline tasks each line is one pipeline input: a string or\n"
            "                         the task's object ({\"text\", \"text_pair\"}, {\"question\",\n"
            "                         \"context\"}, {\"sequences\", \"candidate_labels\"}, [a, b], ...)\n"
            "  -o, --options JSON     pipeline tasks: parameters as a JSON object, e.g.\n"
            "                         '{\"top_k\": 2}', '{\"aggregation_strategy\": \"simple\"}',\n"
            "                         '{\"candidate_labels\": [\"sports\", \"politics\"]}'\n"
            "      --max-length N     sentence-embedding, feature-extraction: truncate to N tokens\n"
            "                         (default: the model's configured maximum)\n"
            "      --normalize / --no-normalize\n"
            "                         sentence-embedding: force L2 normalization on or off (default:\n"
            "                         as the model's sentence-transformers modules say)\n"
            "      --similarity       sentence-embedding: also print the cosine similarity matrix\n"
            "      --format json|table|text  json (default): one JSON line per input; table (sentence-embedding\n"
            "                         only): readable rows; text (text-generation's default): each input's\n"
            "                         prompt and generated text on one line, written as it is generated\n"
            "      --batch-size N     inputs per batch (default 32): results are printed batch by batch\n"
            "      --on-error stop|skip  a bad input (malformed line, invalid UTF-8, an input the task\n"
            "                         rejects) is reported as FILE:LINE (or argument N) on stderr;\n"
            "                         stop (default): after the inputs before it; skip: print `null` for\n"
            "                         it and go on\n"
            "  -q, --quiet            no progress bar (shown on a terminal for --input)\n"
            "      --threads N        worker threads (default: $TORCHLESS_NUM_THREADS or the CPUs it may use)\n"
            "      --precision P      fp32 (default), bf16, int8 or auto: the encoder's linear layers\n"
            "                         (docs/precision.md); bf16 / int8 need AVX512-BF16 / AVX512-VNNI\n"
            "      --check-accuracy   compare with fp32 on a calibration batch at load; refuse the\n"
            "                         precision when it is off by more than the guard allows\n"
            "  -h, --help             this help\n\n"
            "output (json): {\"index\": i, \"embedding\": [...]} or\n"
            "               {\"index\": i, \"tokens\": n, \"last_hidden_state\": [[...], ...]};\n"
            "with --similarity a last line {\"similarity\": [[...], ...]};\n"
            "pipeline tasks: the pipeline's result for each input, e.g.\n"
            "               [{\"label\":\"POSITIVE\",\"score\":0.99}]\n"
            "exit status: 0 all done; 1 an input failed or the model did not load; 2 a usage error or\n"
            "a malformed input line (with skip, after all other inputs were done)\n");
}

/* Returns 1 for the tasks run through tl_pipeline_run. */
static int is_pipeline_task(const char *task) {
    static const char *names[] = {"text-classification", "sentiment-analysis", "token-classification", "ner",
                                  "question-answering", "fill-mask", "zero-shot-classification",
                                  "text-pair-scoring", "text-ranking", "rerank", "sentence-similarity",
                                  "text-generation", "auto"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(task, names[i])) return 1;
    return 0;
}

/* The parsed options of one run. */
typedef struct run_opts {
    const char *model, *task, *format, *options, *input;
    long max_len, threads, batch;
    int normalize, sim, skip, quiet, precision, check_accuracy;
} run_opts;

/* Parses argv into o; returns -1 to go on, else the exit code (help: 0, usage error: 2). */
static int parse(int argc, char **argv, run_opts *o) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"task", required_argument, 0, 't'},
        {"input", required_argument, 0, 'i'}, {"max-length", required_argument, 0, 'L'},
        {"normalize", no_argument, 0, 'N'},   {"no-normalize", no_argument, 0, 'n'},
        {"similarity", no_argument, 0, 's'},  {"format", required_argument, 0, 'f'},
        {"threads", required_argument, 0, 'T'}, {"help", no_argument, 0, 'h'},
        {"options", required_argument, 0, 'o'}, {"batch-size", required_argument, 0, 'B'},
        {"on-error", required_argument, 0, 'E'}, {"quiet", no_argument, 0, 'q'},
        {"precision", required_argument, 0, 'P'}, {"check-accuracy", no_argument, 0, 'A'}, {0, 0, 0, 0}};
    *o = (run_opts){.task = "sentence-embedding", .format = NULL, .normalize = -1, .batch = 32};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:t:i:o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'm': o->model = optarg; break;
        case 't': o->task = optarg; break;
        case 'i': o->input = optarg; break;
        case 'o': o->options = optarg; break;
        case 'L': if (!(o->max_len = tl_cli_positive(optarg, 1L << 30, "run", "--max-length"))) return 2; break;
        case 'N': o->normalize = 1; break;
        case 'n': o->normalize = 0; break;
        case 's': o->sim = 1; break;
        case 'f': o->format = optarg; break;
        case 'T': if (!(o->threads = tl_cli_positive(optarg, 4096, "run", "--threads"))) return 2; break;
        case 'B': if (!(o->batch = tl_cli_positive(optarg, 1L << 20, "run", "--batch-size"))) return 2; break;
        case 'E':
            if (strcmp(optarg, "stop") && strcmp(optarg, "skip")) {
                fprintf(stderr, "torchless run: --on-error must be stop or skip, not '%s'\n", optarg);
                return 2;
            }
            o->skip = !strcmp(optarg, "skip");
            break;
        case 'q': o->quiet = 1; break;
        case 'P': if (!tl_cli_precision(optarg, "run", &o->precision)) return 2; break;
        case 'A': o->check_accuracy = 1; break;
        case 'h': run_usage(stdout); return 0;
        default: run_usage(stderr); return 2;
        }
    }
    return -1;
}

/* Checks that the task is known and every option given applies to it; prints why not and
 * returns 0. */
static int check_options(const run_opts *o, int pipe, int embed) {
    if (!embed && !pipe && strcmp(o->task, "feature-extraction")) {
        fprintf(stderr, "torchless run: unknown task '%s' (supported: sentence-embedding, feature-extraction, "
                        "text-classification, token-classification, question-answering, fill-mask, "
                        "zero-shot-classification, text-pair-scoring, text-ranking (rerank), "
                        "sentence-similarity, auto)\n", o->task);
        return 0;
    }
    if (o->format && strcmp(o->format, "table") && strcmp(o->format, "json") && strcmp(o->format, "text")) {
        fprintf(stderr, "torchless run: --format must be json, table or text, not '%s'\n", o->format);
        return 0;
    }
    if (o->format && !strcmp(o->format, "text") && strcmp(o->task, "text-generation") && strcmp(o->task, "auto")) {
        fprintf(stderr, "torchless run: --format text applies to --task text-generation only, not %s\n", o->task);
        return 0;
    }
    const char *only_embed = o->format && !strcmp(o->format, "table") ? "--format table"
                             : o->sim ? "--similarity"
                             : o->normalize == 1 ? "--normalize"
                             : o->normalize == 0 ? "--no-normalize" : NULL;
    if (only_embed && !embed) {
        fprintf(stderr, "torchless run: %s applies to --task sentence-embedding only, not %s\n", only_embed, o->task);
        return 0;
    }
    if (o->max_len && pipe) {
        fprintf(stderr, "torchless run: --max-length applies to sentence-embedding and feature-extraction; "
                        "for %s pass the pipeline's parameters in --options (e.g. '{\"truncation\": true}')\n", o->task);
        return 0;
    }
    if (o->options && !pipe) {
        fprintf(stderr, "torchless run: --options is for pipeline tasks (text-classification, ...), not %s\n", o->task);
        return 0;
    }
    return 1;
}

/* Loads the model: --model, $TORCHLESS_MODEL, else the task's default id from the cache.
 * Returns the exit code (0 = loaded into *m). */
static int load_model(const run_opts *o, tl_model **m) {
    const char *env = getenv("TORCHLESS_MODEL");
    const char *path = o->model ? o->model : env && *env ? env : tl_cli_default_model(o->task);
    if (!path) {
        tl_cli_model_arg(NULL, "run");
        return 2;
    }
    if (tl_cli_model_is_file(path, "run")) return 2;
    tl_model_params mp = tl_model_default_params();
    mp.num_threads = (int)o->threads;
    mp.precision = o->precision;
    mp.check_accuracy = o->check_accuracy;
    if (tl_model_load(path, &mp, m) == TL_OK) return 0;
    if (o->model || (env && *env)) return tl_cli_fail("cannot load model");
    fprintf(stderr, "torchless run: no model given, and %s's default model %s cannot be loaded: %s\n"
                    "pass --model DIR_OR_HF_ID or set TORCHLESS_MODEL (see `torchless run --help`)\n",
            o->task, path, tl_last_error());
    return 2;
}

/* Reads up to cap inputs into items (stopping after a bad one unless skip); returns the
 * count. */
static size_t read_batch(tl_input_src *src, tl_input *items, size_t cap, int skip) {
    size_t n = 0;
    while (n < cap && tl_input_next(src, &items[n])) {
        int bad = items[n].error != NULL;
        n++;
        if (bad && !skip) break;
    }
    return n;
}

/* Frees the inputs of a batch. */
static void clear_batch(tl_input *items, size_t n) {
    for (size_t i = 0; i < n; i++) tl_input_clear(&items[i]);
}

int tl_cmd_run(int argc, char **argv) {
    run_opts o;
    int rc = parse(argc, argv, &o);
    if (rc >= 0) return rc;
    int embed = !strcmp(o.task, "sentence-embedding"), pipe = is_pipeline_task(o.task);
    if (!check_options(&o, pipe, embed)) return 2;
    tl_input_src src;
    if (!tl_input_open(&src, o.input, argv + optind, argc - optind, pipe)) return 2;
    tl_input *items = calloc((size_t)o.batch, sizeof *items);
    if (!items) { fprintf(stderr, "torchless: out of memory\n"); tl_input_close(&src); return 1; }
    /* the first batch is read before the model is loaded: no input is a usage error */
    size_t n = read_batch(&src, items, (size_t)o.batch, o.skip);
    run_state r = {.kind = pipe ? RUN_PIPELINE : embed ? RUN_EMBED : RUN_FEATURES, .max_len = (size_t)o.max_len,
                   .normalize = o.normalize, .sim = o.sim, .table = o.format && !strcmp(o.format, "table"), .skip = o.skip};
    rc = tl_input_report_empty(&src, o.input, "run") ? 2 : load_model(&o, &r.m);
    if (!rc && pipe && tl_pipeline_create(r.m, strcmp(o.task, "auto") ? o.task : NULL, o.options, &r.p) != TL_OK)
        rc = tl_cli_fail("cannot create the pipeline");
    if (!rc && r.p && !strcmp(tl_pipeline_task(r.p), "text-generation")) {
        /* text-generation streams its text unless --format json; table does not apply */
        r.stream_text = !(o.format && !strcmp(o.format, "json"));
        cJSON *opts = o.options ? cJSON_Parse(o.options) : NULL;
        if (opts) tl_json_dedupe(opts); /* as the pipeline reads them: the last duplicate wins */
        r.full_text = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(opts, "return_full_text"));
        cJSON_Delete(opts);
        if (o.format && !strcmp(o.format, "table")) {
            fprintf(stderr, "torchless run: --format table applies to --task sentence-embedding only\n");
            rc = 2;
        }
    } else if (!rc && o.format && !strcmp(o.format, "text")) {
        fprintf(stderr, "torchless run: --format text applies to --task text-generation only, not %s\n",
                r.p ? tl_pipeline_task(r.p) : o.task);
        rc = 2;
    }
    if (!rc) {
        size_t total = 0;
        int show = o.input && !o.quiet;
        if (show && src.is_regular) total = tl_input_count_lines(o.input) + (size_t)(argc - optind);
        tl_progress_start(&r.progress, show, total);
        while (n && !r.stopped) {
            tl_run_batch(&r, items, n);
            clear_batch(items, n);
            n = r.stopped ? 0 : read_batch(&src, items, (size_t)o.batch, o.skip);
        }
        tl_run_finish(&r);
        rc = r.rc;
    }
    clear_batch(items, n);
    free(items);
    free(r.kept);
    tl_input_close(&src);
    tl_pipeline_free(r.p);
    tl_model_free(r.m);
    return rc;
}

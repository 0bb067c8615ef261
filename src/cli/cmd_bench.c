/* cmd_bench.c — `torchless bench`: the user's own latency and throughput table (in the style
 * of llama-bench): options and lists, one row per threads x batch x seq combination, printed
 * as each row is done (table, json or csv), and the optional latency chart. */
#include "cmd_bench.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Prints the bench subcommand's help to f. */
static void bench_usage(FILE *f) {
    fprintf(f,
            "usage: torchless bench [--model DIR_OR_ID] [--task TASK] [--batch B,...] [--seq L,...] [options]\n\n"
            "Measures latency and throughput on this machine, one row per combination of --threads,\n"
            "--batch and --seq: each input is B synthetic texts of exactly L tokens (special tokens\n"
            "included; one-token words of the model's vocabulary, the count checked with its\n"
            "tokenizer). Each row times\n"
            "the task's whole call (tokenize + forward + post-processing), and separately the\n"
            "tokenization and the forward alone, so that the tokenizer's share shows (its word\n"
            "cache is warm after the warm-up, as in a long-running service).\n\n"
            "  -m, --model DIR_OR_ID  model directory or cached HF id (default: $TORCHLESS_MODEL)\n"
            "  -t, --task TASK        sentence-embedding (tl_embed; the default when the model has\n"
            "                         sentence-transformers files: modules.json), feature-extraction\n"
            "                         (tl_extract_features), text-classification (sentiment-analysis)\n"
            "                         or token-classification (ner) through tl_pipeline_run (default\n"
            "                         without sentence-transformers files: the task config.json\n"
            "                         architectures implies, else feature-extraction)\n"
            "  -b, --batch B,...      sequences per call, a list (default 1,8)\n"
            "  -s, --seq L,...        tokens per sequence incl. special tokens, a list (default 32,128,\n"
            "                         capped at the model's maximum; a value given above the maximum\n"
            "                         is an error). sentence-embedding runs L tokens even past\n"
            "                         sentence_bert_config.json's max_seq_length\n"
            "      --threads N,...    worker threads, a list (default: $TORCHLESS_NUM_THREADS or the\n"
            "                         CPUs it may use); the model is loaded once per value\n"
            "  -p, --precision P      compute precision: fp32, bf16, int8 or auto (default fp32; docs/precision.md)\n"
            "  -r, --repetitions N    timed repetitions per row (default 5), after --warmup N\n"
            "                         untimed ones (default 1)\n"
            "  -f, --format F         table (default): a Markdown table; json: one JSON object per\n"
            "                         row and line; csv: a header line, then one line per row\n"
            "      --plot FILE.png    also write a PNG chart of median latency (ms) against sequence\n"
            "                         length, one line per batch size (and thread count)\n"
            "  -q, --quiet            no progress line (it is shown on stderr when that is a terminal)\n"
            "  -h, --help             this help\n\n"
            "fields (json keys, csv columns): model, model_type, task, precision, threads, batch,\n"
            "seq, repetitions, warmup; latency_ms_median, latency_ms_p10, latency_ms_p90,\n"
            "latency_ms_min, latency_ms_max (the whole call); tokenize_ms_median, forward_ms_median,\n"
            "post_ms_median (whole call - tokenize - forward per repetition, at least 0);\n"
            "tokenize_share (tokenize_ms_median / latency_ms_median); tokens_per_s (batch * seq /\n"
            "median latency); seqs_per_s (batch / median latency). The table shows the same in ms.\n"
            "exit status: 0 done; 1 the model did not load, a run failed or the --plot file cannot be\n"
            "written; 2 a usage error (a bad option or value, a --seq the model cannot take)\n");
}

/* The parsed options. */
typedef struct bench_opts {
    const char *model, *task, *precision, *format, *plot;
    bench_list batch, seq, threads;
    long reps, warmup;
    int quiet, seq_given;
} bench_opts;

/* Parses "a,b,c" (positive integers up to max) into l; prints an error naming option and
 * returns 0 when a value is not one or the list is too long. */
static int parse_list(const char *arg, long max, const char *option, bench_list *l) {
    l->n = 0;
    const char *s = arg;
    for (;;) {
        char *end = NULL;
        errno = 0;
        long v = *s >= '0' && *s <= '9' ? strtol(s, &end, 10) : 0;
        if (errno || !end || end == s || (*end && *end != ',') || v <= 0 || v > max) {
            fprintf(stderr, "torchless bench: %s takes positive integers (at most %ld) separated by commas, "
                            "not '%s'\n", option, max, arg);
            return 0;
        }
        if (l->n == BENCH_MAX_LIST) {
            fprintf(stderr, "torchless bench: %s lists at most %d values, not '%s'\n", option, BENCH_MAX_LIST, arg);
            return 0;
        }
        l->v[l->n++] = v;
        if (!*end) return 1;
        s = end + 1;
    }
}

/* Parses argv into o; returns -1 to go on, else the exit code (help: 0, usage error: 2). */
static int parse(int argc, char **argv, bench_opts *o) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},     {"task", required_argument, 0, 't'},
        {"batch", required_argument, 0, 'b'},     {"seq", required_argument, 0, 's'},
        {"threads", required_argument, 0, 'T'},   {"precision", required_argument, 0, 'p'},
        {"repetitions", required_argument, 0, 'r'}, {"warmup", required_argument, 0, 'W'},
        {"format", required_argument, 0, 'f'},    {"plot", required_argument, 0, 'P'},
        {"quiet", no_argument, 0, 'q'},           {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    *o = (bench_opts){.precision = "fp32", .format = "table", .reps = 5, .warmup = 1,
                      .batch = {{1, 8}, 2}, .seq = {{32, 128}, 2}, .threads = {{0}, 1}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:t:b:s:p:r:f:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'm': o->model = optarg; break;
        case 't': o->task = optarg; break;
        case 'b': if (!parse_list(optarg, 1L << 16, "--batch", &o->batch)) return 2; break;
        case 's': if (!parse_list(optarg, 1L << 20, "--seq", &o->seq)) return 2; o->seq_given = 1; break;
        case 'T': if (!parse_list(optarg, 4096, "--threads", &o->threads)) return 2; break;
        case 'p': o->precision = optarg; break;
        case 'r': if (!(o->reps = tl_cli_positive(optarg, 1000000, "bench", "--repetitions"))) return 2; break;
        case 'W': {
            char *end = NULL;
            errno = 0;
            o->warmup = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || o->warmup < 0 || o->warmup > 1000) {
                fprintf(stderr, "torchless bench: --warmup must be an integer from 0 to 1000, not '%s'\n", optarg);
                return 2;
            }
            break;
        }
        case 'f': o->format = optarg; break;
        case 'P': o->plot = optarg; break;
        case 'q': o->quiet = 1; break;
        case 'h': bench_usage(stdout); return 0;
        case ':': fprintf(stderr, "torchless bench: %s needs a value (see `torchless bench --help`)\n", argv[optind - 1]); return 2;
        default:
            fprintf(stderr, "torchless bench: unknown option '%s' (see `torchless bench --help`)\n", argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "torchless bench: unexpected argument '%s': bench builds its own inputs "
                        "(see `torchless bench --help`)\n", argv[optind]);
        return 2;
    }
    return -1;
}

/* Checks --format, --precision and --task; prints why not and returns 0. */
static int check_options(const bench_opts *o, enum bench_format *fmt) {
    if (!strcmp(o->format, "table")) *fmt = BENCH_TABLE;
    else if (!strcmp(o->format, "json")) *fmt = BENCH_JSON;
    else if (!strcmp(o->format, "csv")) *fmt = BENCH_CSV;
    else {
        fprintf(stderr, "torchless bench: --format must be table, json or csv, not '%s'\n", o->format);
        return 0;
    }
    int prec;
    if (!tl_precision_parse(o->precision, &prec)) {
        fprintf(stderr, "torchless bench: --precision must be fp32, bf16, int8 or auto, not '%s'\n", o->precision);
        return 0;
    }
    if (o->task && !bench_task_name(o->task)) {
        fprintf(stderr, "torchless bench: --task '%s' is not one bench measures: sentence-embedding, "
                        "feature-extraction, text-classification (sentiment-analysis), token-classification "
                        "(ner)\n", o->task);
        return 0;
    }
    return 1;
}

/* Returns 1 when a path component says nothing about the model: "model", "snapshots" or a
 * 40-hex snapshot hash (the Hugging Face cache's .../models--ORG--NAME/snapshots/HASH). */
static int generic_component(const char *c, size_t n) {
    if ((n == 5 && !strncmp(c, "model", 5)) || (n == 9 && !strncmp(c, "snapshots", 9))) return 1;
    return n == 40 && strspn(c, "0123456789abcdef") >= 40;
}

/* The model's short name for the table and chart: the id as given, else the directory's
 * last telling component ("models--ORG--NAME" shown as NAME). */
static const char *short_name(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return path;
    static char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    size_t end = strlen(buf);
    for (;;) {
        while (end > 1 && buf[end - 1] == '/') end--;
        buf[end] = '\0';
        char *slash = strrchr(buf, '/');
        const char *c = slash ? slash + 1 : buf;
        size_t n = strlen(c);
        if (!slash || !generic_component(c, n)) {
            const char *dd = strncmp(c, "models--", 8) ? NULL : strstr(c + 8, "--");
            return dd && dd[2] ? dd + 2 : n ? c : path;
        }
        end = (size_t)(slash - buf);
    }
}

/* Validates the --seq values against the loaded model; without --seq, caps the defaults at
 * the model's maximum instead. Returns 0 after printing the error. */
static int fit_seqs(bench_opts *o, const bench_target *t) {
    if (!o->seq_given) {
        size_t n = 0;
        for (size_t i = 0; i < o->seq.n; i++) {
            long v = o->seq.v[i] > (long)t->max_seq ? (long)t->max_seq : o->seq.v[i];
            if (!n || o->seq.v[n - 1] != v) o->seq.v[n++] = v;
        }
        o->seq.n = n;
    }
    for (size_t i = 0; i < o->seq.n; i++)
        if (!bench_check_seq(t, o->seq.v[i])) return 0;
    return 1;
}

/* Runs every batch x seq row of one thread count on the open target, printing each row as
 * it is done; rows[*k..] receive them. Returns the exit code. */
static int run_rows(bench_opts *o, bench_target *t, enum bench_format fmt, int nw, bench_progress *pg,
                    bench_row *rows, size_t *k, const char *path) {
    tl_accuracy_report acc = {0}; /* the precision the model runs (auto resolved) */
    const char *prec = tl_model_accuracy(t->m, &acc) == TL_OK ? tl_precision_name(acc.precision) : o->precision;
    for (size_t b = 0; b < o->batch.n; b++)
        for (size_t s = 0; s < o->seq.n; s++) {
            bench_row *r = &rows[*k];
            *r = (bench_row){.model = path, .name = short_name(path), .model_type = tl_model_type(t->m),
                             .task = t->task, .precision = prec, .threads = t->threads,
                             .batch = o->batch.v[b], .seq = o->seq.v[s], .reps = o->reps, .warmup = o->warmup};
            int rc = bench_measure(t, r, pg);
            bench_progress_clear(pg);
            if (rc) return rc;
            if (*k == 0) bench_print_header(stdout, fmt, nw);
            bench_print_row(stdout, fmt, nw, r);
            fflush(stdout);
            (*k)++;
            pg->row++;
        }
    return 0;
}

/* Writes the chart of rows[0..n) to f (opened on path before the rows ran, so that a path
 * that cannot be written fails at once) and closes it; removes the file when rc is not 0 or
 * the chart cannot be written. Returns the exit code. */
static int finish_plot(FILE *f, const char *path, const bench_row *rows, size_t n, int rc) {
    int ok = !rc && bench_plot(f, path, rows, n);
    if (fclose(f) != 0 && ok) {
        fprintf(stderr, "torchless bench: --plot %s: cannot write: %s\n", path, strerror(errno));
        ok = 0;
    }
    if (!ok) remove(path);
    return rc ? rc : ok ? 0 : 1;
}

int tl_cmd_bench(int argc, char **argv) {
    bench_opts o;
    int rc = parse(argc, argv, &o);
    if (rc >= 0) return rc;
    rc = 0;
    enum bench_format fmt;
    if (!check_options(&o, &fmt)) return 2;
    const char *path = tl_cli_model_arg(o.model, "bench");
    if (!path || tl_cli_model_is_file(path, "bench")) return 2;
    FILE *plot = o.plot ? fopen(o.plot, "wb") : NULL;
    if (o.plot && !plot) {
        fprintf(stderr, "torchless bench: --plot %s: cannot write: %s\n", o.plot, strerror(errno));
        return 1;
    }
    size_t total = o.threads.n * o.batch.n * o.seq.n;
    bench_row *rows = calloc(total, sizeof *rows);
    if (!rows) {
        fprintf(stderr, "torchless: out of memory\n");
        if (plot) { fclose(plot); remove(o.plot); }
        return 1;
    }
    bench_progress pg = {.on = !o.quiet && isatty(STDERR_FILENO), .rows = total};
    size_t k = 0;
    const char *task = o.task;
    int nw = 0;
    for (size_t i = 0; !rc && i < o.threads.n; i++) {
        bench_target t;
        if ((rc = bench_target_open(&t, path, o.threads.v[i], task, o.precision))) {
            bench_target_close(&t);
            break;
        }
        task = t.task; /* every thread count measures the task the first one chose */
        if (i == 0) {
            if (!fit_seqs(&o, &t)) rc = 2;
            pg.rows = total = o.threads.n * o.batch.n * o.seq.n;
            nw = (int)strlen(short_name(path));
        }
        if (!rc) rc = run_rows(&o, &t, fmt, nw, &pg, rows, &k, path);
        bench_target_close(&t);
    }
    if (plot) rc = finish_plot(plot, o.plot, rows, k, rc);
    free(rows);
    return rc;
}

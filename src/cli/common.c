/* common.c — helpers shared by the subcommands: string lists, reading all texts, option and
 * environment checks, errors. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int tl_strlist_push(tl_strlist *l, const char *s) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **n = realloc(l->items, cap * sizeof *n);
        if (!n) return 0;
        l->items = n;
        l->cap = cap;
    }
    size_t len = strlen(s) + 1;
    char *c = malloc(len);
    if (!c) return 0;
    memcpy(c, s, len);
    l->items[l->n++] = c;
    return 1;
}

void tl_strlist_free(tl_strlist *l) {
    for (size_t i = 0; i < l->n; i++) free(l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

int tl_read_texts(const char *path, char **args, int n_args, const char *cmd, tl_strlist *texts,
                  tl_strlist *labels) {
    tl_input_src src;
    if (!tl_input_open(&src, path, args, n_args, 0)) return 2;
    tl_input in;
    int rc = 0;
    while (!rc && tl_input_next(&src, &in)) {
        if (in.error) {
            fprintf(stderr, "torchless: %s: %s\n", in.label, in.error);
            rc = in.usage_error ? 2 : 1;
        } else if (!tl_strlist_push(texts, in.text) || !tl_strlist_push(labels, in.label)) {
            fprintf(stderr, "torchless: out of memory\n");
            rc = 1;
        }
        tl_input_clear(&in);
    }
    if (!rc && tl_input_report_empty(&src, path, cmd)) rc = 2;
    tl_input_close(&src);
    return rc;
}

long tl_cli_positive(const char *arg, long max, const char *cmd, const char *option) {
    char *end = NULL;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v <= 0 || v > max) {
        fprintf(stderr, "torchless %s: %s must be a positive integer (at most %ld), not '%s'\n", cmd,
                option, max, arg);
        return 0;
    }
    return v;
}

int tl_cli_fail(const char *what) {
    fprintf(stderr, "torchless: %s: %s\n", what, tl_last_error());
    return 1;
}

const char *tl_cli_model_arg(const char *opt, const char *cmd) {
    if (opt) return opt;
    const char *env = getenv("TORCHLESS_MODEL");
    if (env && *env) return env;
    fprintf(stderr, "torchless %s: no model given: pass --model DIR_OR_HF_ID or set TORCHLESS_MODEL\n"
                    "(see `torchless %s --help`)\n", cmd, cmd);
    return NULL;
}

int tl_cli_model_is_file(const char *path, const char *cmd) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    fprintf(stderr, "torchless %s: '%s' is a file; a model is the directory that holds config.json and the "
                    "weights (model.safetensors), or a Hugging Face id in the local cache\n", cmd, path);
    return 1;
}

int tl_cli_check_env(void) {
    const char *v = getenv("TORCHLESS_NUM_THREADS");
    if (!v || !*v) return 1;
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    while (end && (*end == ' ' || *end == '\t')) end++;
    int digit_first = v[strspn(v, " \t")] >= '0' && v[strspn(v, " \t")] <= '9';
    if (!errno && digit_first && end != v && !*end && n >= 1 && n <= 4096) return 1;
    fprintf(stderr, "torchless: TORCHLESS_NUM_THREADS must be a positive integer (at most 4096), not '%s'; "
                    "unset it for the default (the CPUs this process may use)\n", v);
    return 0;
}

int tl_cli_precision(const char *arg, const char *cmd, int *out) {
    if (tl_precision_parse(arg, out)) return 1;
    fprintf(stderr, "torchless %s: --precision must be fp32, bf16, int8 or auto, not '%s'\n", cmd, arg);
    return 0;
}

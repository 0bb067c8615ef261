/* common.c — helpers shared by the subcommands: input lists, JSONL reading, errors. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Stores one parsed JSONL line in out: the re-serialized value (values = 1), or the text of
 * a JSON string / {"text": ...} object. Prints an error naming path:lineno, returns 0. */
static int keep_jsonl_line(const char *path, size_t lineno, const char *line, size_t n,
                           const cJSON *j, int values, tl_strlist *out) {
    if (values) {
        char *txt = cJSON_PrintUnformatted(j);
        int ok = txt && tl_strlist_push(out, txt);
        free(txt);
        if (!ok) fprintf(stderr, "torchless: out of memory\n");
        return ok;
    }
    const cJSON *t = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "text") : j;
    if (!cJSON_IsString(t)) {
        fprintf(stderr, "torchless: %s:%zu: expected a JSON string or an object with a \"text\" string\n", path, lineno);
        return 0;
    }
    if (memmem(line, n, "\\u0000", 6)) {
        fprintf(stderr, "torchless: %s:%zu: the text contains a NUL character (\\u0000), which is not supported\n", path, lineno);
        return 0;
    }
    if (!tl_strlist_push(out, t->valuestring)) {
        fprintf(stderr, "torchless: out of memory\n");
        return 0;
    }
    return 1;
}

/* Reads a JSONL file ("-" = stdin), skipping blank lines; see keep_jsonl_line. */
static int read_jsonl(const char *path, int values, tl_strlist *out) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) { fprintf(stderr, "torchless: %s: cannot open\n", path); return 0; }
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    int ok = 1;
    while (ok && (n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t k = 0;
        while (k < (size_t)n && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r' || line[k] == '\n')) k++;
        if (k == (size_t)n) continue;
        cJSON *j = cJSON_ParseWithLength(line, (size_t)n);
        if (!j) {
            fprintf(stderr, "torchless: %s:%zu: %s\n", path, lineno,
                    values ? "not a JSON value" : "expected a JSON string or an object with a \"text\" string");
            ok = 0;
        } else {
            ok = keep_jsonl_line(path, lineno, line, (size_t)n, j, values, out);
        }
        cJSON_Delete(j);
    }
    free(line);
    if (f != stdin) fclose(f);
    return ok;
}

int tl_read_jsonl_texts(const char *path, tl_strlist *out) { return read_jsonl(path, 0, out); }

int tl_read_jsonl_values(const char *path, tl_strlist *out) { return read_jsonl(path, 1, out); }

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

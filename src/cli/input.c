/* input.c — the inputs of `run` and `tokenize`, one at a time: the lines of a JSONL file
 * (or stdin), then the TEXT arguments, each with its location (FILE:LINE or "argument N")
 * and, for a bad one, the reason, so callers report it there and go on or stop. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <utf8proc.h>

/* Returns the byte offset of the first invalid UTF-8 sequence of s[0..n), or -1. */
static long utf8_bad_offset(const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) return (long)i;
        i += (size_t)k;
    }
    return -1;
}

/* Returns 1 when a JSON string in js[0..n) holds the escape \u0000 (a NUL character, which
 * would end a C string there: the text would be cut). */
static int json_has_nul(const char *js, size_t n) {
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        if (!in_str) { in_str = js[i] == '"'; continue; }
        if (js[i] == '"') in_str = 0;
        else if (js[i] == '\\' && i + 1 < n) {
            if (js[i + 1] == 'u' && i + 5 < n && !memcmp(js + i + 2, "0000", 4)) return 1;
            i++;
        }
    }
    return 0;
}

int tl_input_open(tl_input_src *s, const char *path, char **args, int n_args, int values) {
    memset(s, 0, sizeof *s);
    s->args = args;
    s->n_args = n_args;
    s->values = values;
    if (!path) return 1;
    s->path = strcmp(path, "-") ? path : "<stdin>";
    if (strcmp(path, "-") == 0) {
        s->f = stdin;
        return 1;
    }
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "torchless: %s: is a directory; --input takes a JSONL file (one input per line) or '-' for stdin\n", path);
        return 0;
    }
    if (!(s->f = fopen(path, "rb"))) {
        fprintf(stderr, "torchless: %s: cannot open (%s)\n", path, strerror(errno));
        return 0;
    }
    s->is_regular = stat(path, &st) == 0 && S_ISREG(st.st_mode);
    return 1;
}

size_t tl_input_count_lines(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char buf[1 << 16];
    size_t n, count = 0;
    int blank = 1;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        for (size_t i = 0; i < n; i++) {
            char ch = buf[i];
            if (ch == '\n') { count += !blank; blank = 1; }
            else if (ch != ' ' && ch != '\t' && ch != '\r') blank = 0;
        }
    }
    count += !blank;
    fclose(f);
    return count;
}

/* Sets in->error to a malloc'd printf-style message; usage = 1 for a malformed line. */
__attribute__((format(printf, 3, 4))) static void set_error(tl_input *in, int usage, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    free(in->error);
    in->error = strdup(msg);
    in->usage_error = usage;
}

/* Fills in from one non-blank JSONL line: the re-serialized value (values mode) or the text
 * of a JSON string / {"text": ...}; a malformed line gets in->error instead. */
static void from_line(tl_input_src *s, const char *line, size_t n, tl_input *in) {
    long bad = utf8_bad_offset(line, n);
    if (bad >= 0) {
        set_error(in, 0, "invalid UTF-8 at byte offset %ld of the line", bad);
        return;
    }
    if (json_has_nul(line, n)) {
        set_error(in, 1, "the text contains a NUL character (\\u0000), which is not supported");
        return;
    }
    cJSON *j = cJSON_ParseWithLength(line, n);
    if (!j) {
        set_error(in, 1, "%s", s->values ? "not a JSON value" : "expected a JSON string or an object with a \"text\" string");
        return;
    }
    if (s->values) {
        in->text = cJSON_PrintUnformatted(j);
    } else {
        const cJSON *t = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "text") : j;
        if (cJSON_IsString(t)) in->text = strdup(t->valuestring);
        else set_error(in, 1, "expected a JSON string or an object with a \"text\" string");
    }
    if (!in->text && !in->error) set_error(in, 0, "out of memory");
    cJSON_Delete(j);
}

/* Fills in from a TEXT argument: the text itself, or a JSON string of it (values mode). */
static void from_arg(tl_input_src *s, const char *arg, tl_input *in) {
    long bad = utf8_bad_offset(arg, strlen(arg));
    if (bad >= 0) {
        set_error(in, 0, "invalid UTF-8 at byte offset %ld", bad);
        return;
    }
    if (s->values) {
        cJSON *str = cJSON_CreateString(arg);
        in->text = str ? cJSON_PrintUnformatted(str) : NULL;
        cJSON_Delete(str);
    } else {
        in->text = strdup(arg);
    }
    if (!in->text) set_error(in, 0, "out of memory");
}

int tl_input_next(tl_input_src *s, tl_input *in) {
    memset(in, 0, sizeof *in);
    while (s->f) {
        ssize_t n = getline(&s->line, &s->cap, s->f);
        if (n < 0) {
            if (s->f != stdin) fclose(s->f);
            s->f = NULL;
            break;
        }
        s->lineno++;
        size_t k = 0;
        while (k < (size_t)n && (s->line[k] == ' ' || s->line[k] == '\t' || s->line[k] == '\r' || s->line[k] == '\n')) k++;
        if (k == (size_t)n) continue;
        snprintf(in->label, sizeof in->label, "%s:%zu", s->path, s->lineno);
        in->index = s->n_read++;
        from_line(s, s->line, (size_t)n, in);
        return 1;
    }
    if (s->arg_i < s->n_args) {
        snprintf(in->label, sizeof in->label, "argument %d", s->arg_i + 1);
        in->index = s->n_read++;
        from_arg(s, s->args[s->arg_i++], in);
        return 1;
    }
    return 0;
}

void tl_input_clear(tl_input *in) {
    free(in->text);
    free(in->error);
    in->text = in->error = NULL;
}

void tl_input_close(tl_input_src *s) {
    if (s->f && s->f != stdin) fclose(s->f);
    free(s->line);
    memset(s, 0, sizeof *s);
}

int tl_input_report_empty(const tl_input_src *s, const char *path, const char *cmd) {
    if (s->n_read) return 0;
    if (path)
        fprintf(stderr, "torchless %s: no input: %s %s and no TEXT arguments were given\n", cmd,
                strcmp(path, "-") ? path : "stdin", s->lineno ? "has only blank lines" : "is empty");
    else
        fprintf(stderr, "torchless %s: no input: give TEXT arguments or --input FILE\n", cmd);
    return 1;
}

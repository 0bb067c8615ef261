/* cmd_bench_report.c — `torchless bench`'s output: a Markdown table with fixed-width
 * columns (so rows print as they are done), one JSON object per line, or CSV; the json keys
 * and csv columns share one list of field names (documented in `torchless bench --help`). */
#include "cmd_bench.h"

#include <stdio.h>
#include <string.h>

/* The table's columns after model and task: title and width (all right-aligned). */
static const struct { const char *title; int width; } NUM_COLS[] = {
    {"prec", 4},      {"threads", 7},    {"batch", 5},   {"seq", 5},     {"latency ms", 10},
    {"p10 ms", 8},    {"p90 ms", 8},     {"tokenize ms", 11}, {"forward ms", 10}, {"post ms", 8},
    {"tok %", 5},     {"tokens/s", 10},  {"seq/s", 9}};
#define N_NUM_COLS (sizeof NUM_COLS / sizeof NUM_COLS[0])
#define TASK_WIDTH 20 /* "token-classification" */

/* The json keys / csv columns, in order. */
static const char *FIELDS[] = {"model", "model_type", "task", "precision", "threads", "batch", "seq",
                               "repetitions", "warmup", "latency_ms_median", "latency_ms_p10",
                               "latency_ms_p90", "latency_ms_min", "latency_ms_max", "tokenize_ms_median",
                               "forward_ms_median", "post_ms_median", "tokenize_share", "tokens_per_s",
                               "seqs_per_s"};
#define N_FIELDS (sizeof FIELDS / sizeof FIELDS[0])

/* The model column's width: the name's, at least the title's. */
static int model_width(int name_width) { return name_width > 5 ? name_width : 5; }

/* Prints one cell of the table's rule: width dashes (the last one ':' when right-aligned). */
static void rule(FILE *f, int width, int right) {
    fputc(' ', f);
    for (int i = 0; i < width; i++) fputc(right && i == width - 1 ? ':' : '-', f);
    fputs(" |", f);
}

void bench_print_header(FILE *f, enum bench_format fmt, int name_width) {
    if (fmt == BENCH_JSON) return;
    if (fmt == BENCH_CSV) {
        for (size_t i = 0; i < N_FIELDS; i++) fprintf(f, "%s%s", i ? "," : "", FIELDS[i]);
        fputc('\n', f);
        return;
    }
    int mw = model_width(name_width);
    fprintf(f, "| %-*s | %-*s |", mw, "model", TASK_WIDTH, "task");
    for (size_t i = 0; i < N_NUM_COLS; i++) fprintf(f, " %*s |", NUM_COLS[i].width, NUM_COLS[i].title);
    fputs("\n|", f);
    rule(f, mw, 0);
    rule(f, TASK_WIDTH, 0);
    for (size_t i = 0; i < N_NUM_COLS; i++) rule(f, NUM_COLS[i].width, 1);
    fputc('\n', f);
}

/* Writes s as a JSON string (quoted, escaped). */
static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

/* Writes s as a CSV field: quoted (quotes doubled) when it holds a comma, quote or newline. */
static void csv_string(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\n\r")) { fputs(s, f); return; }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* Prints the table row of r. */
static void table_row(FILE *f, int name_width, const bench_row *r) {
    int mw = model_width(name_width);
    fprintf(f, "| %-*s | %-*s | %*s | %*ld | %*ld | %*ld |", mw, r->name, TASK_WIDTH, r->task, NUM_COLS[0].width,
            r->precision, NUM_COLS[1].width, r->threads, NUM_COLS[2].width, r->batch, NUM_COLS[3].width, r->seq);
    const double ms[] = {r->lat_med, r->lat_p10, r->lat_p90, r->tok_med, r->fwd_med, r->post_med};
    for (size_t i = 0; i < 6; i++) fprintf(f, " %*.3f |", NUM_COLS[4 + i].width, ms[i]);
    fprintf(f, " %*.1f | %*.0f | %*.1f |\n", NUM_COLS[10].width, 100.0 * r->tok_share, NUM_COLS[11].width,
            r->tokens_per_s, NUM_COLS[12].width, r->seqs_per_s);
}

void bench_print_row(FILE *f, enum bench_format fmt, int name_width, const bench_row *r) {
    if (fmt == BENCH_TABLE) { table_row(f, name_width, r); return; }
    const char *strs[] = {r->model, r->model_type ? r->model_type : "", r->task, r->precision};
    const long ints[] = {r->threads, r->batch, r->seq, r->reps, r->warmup};
    const double nums[] = {r->lat_med, r->lat_p10, r->lat_p90, r->lat_min, r->lat_max, r->tok_med,
                           r->fwd_med, r->post_med, r->tok_share, r->tokens_per_s, r->seqs_per_s};
    int json = fmt == BENCH_JSON;
    if (json) fputc('{', f);
    for (size_t i = 0; i < N_FIELDS; i++) {
        if (i) fputc(',', f);
        if (json) fprintf(f, "\"%s\":", FIELDS[i]);
        if (i < 4) (json ? json_string : csv_string)(f, strs[i]);
        else if (i < 9) fprintf(f, "%ld", ints[i - 4]);
        else fprintf(f, "%.6f", nums[i - 9]);
    }
    fputs(json ? "}\n" : "\n", f);
}

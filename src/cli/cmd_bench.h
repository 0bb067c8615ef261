/* cmd_bench.h — `torchless bench`: the pieces shared by its files. cmd_bench.c parses the
 * options and runs the rows, cmd_bench_run.c builds the inputs and times one row,
 * cmd_bench_report.c prints rows (table, json, csv), cmd_bench_plot.c draws the latency
 * chart on a canvas (cmd_bench_canvas.c, cmd_bench_font.c) saved as PNG (cmd_bench_png.c). */
#ifndef TL_CLI_BENCH_H
#define TL_CLI_BENCH_H
#include "cli.h"

#include <stdint.h>

#define BENCH_MAX_LIST 32   /* values in one --batch / --seq / --threads list */
#define BENCH_MAX_WORDS 256 /* distinct words the synthetic texts cycle through */

/* A comma-separated list of positive integers, in the order given. */
typedef struct bench_list { long v[BENCH_MAX_LIST]; size_t n; } bench_list;

/* What one row measures: the task's public entry point. */
enum bench_kind { BENCH_EMBED, BENCH_FEATURES, BENCH_PIPELINE };

/* One loaded model ready to be measured on one task at one thread count. */
typedef struct bench_target {
    tl_model *m;
    tl_pipeline *p;       /* BENCH_PIPELINE: the task's pipeline */
    tl_task_head *head;   /* BENCH_PIPELINE: encoder + head, for the forward-only timing */
    enum bench_kind kind;
    const char *task;     /* canonical task name (static) */
    char *words[BENCH_MAX_WORDS]; /* distinct one-token words the inputs are built of */
    size_t n_words;
    size_t specials;      /* tokens the tokenizer adds to every text ([CLS], [SEP]) */
    size_t max_seq;       /* the model's maximum tokens per sequence */
    int threads;          /* the thread count forwards run on, as resolved */
} bench_target;

/* One row of results: medians over the repetitions, times in milliseconds. */
typedef struct bench_row {
    const char *model, *name, *model_type, *task, *precision;
    long threads, batch, seq, reps, warmup;
    double lat_med, lat_p10, lat_p90, lat_min, lat_max;
    double tok_med, fwd_med, post_med, tok_share, tokens_per_s, seqs_per_s;
} bench_row;

/* The progress line on stderr (a terminal only, not with --quiet). */
typedef struct bench_progress { int on; size_t row, rows; } bench_progress;

/* ---- cmd_bench_run.c ---- */

/* Returns the canonical name of a task bench measures (aliases resolved), or NULL. */
const char *bench_task_name(const char *task);
/* Loads the model at path on threads (0 = the default), picks task (NULL: sentence-embedding
 * when the model has sentence-transformers files, else the task config.json implies when
 * bench measures it, else feature-extraction), creates its pipeline and head, and finds
 * the input word. Prints the error and returns the exit code (0 = ready). */
int bench_target_open(bench_target *t, const char *path, long threads, const char *task,
                      const char *precision);
/* Frees what bench_target_open made; t may be zeroed. */
void bench_target_close(bench_target *t);
/* Checks that sequences of L tokens can be built and run; prints why not and returns 0. */
int bench_check_seq(const bench_target *t, long L);
/* Times `row->reps` repetitions (after row->warmup untimed ones) of B = row->batch texts of
 * L = row->seq tokens: tokenization, the forward alone, and the end-to-end call; fills the
 * row's statistics. Prints the error and returns 1 on failure, else 0. */
int bench_measure(bench_target *t, bench_row *row, bench_progress *pg);
/* Redraws the progress line for repetition rep (0 = warm-up) of the current row. */
void bench_progress_draw(bench_progress *pg, const bench_row *row, long rep);
/* Clears the progress line, so that a row can be printed. */
void bench_progress_clear(bench_progress *pg);

/* ---- cmd_bench_report.c ---- */

enum bench_format { BENCH_TABLE, BENCH_JSON, BENCH_CSV };

/* Prints the header of format fmt (table: column names and rule; csv: field names; json:
 * nothing); name_width is the table's model column width. */
void bench_print_header(FILE *f, enum bench_format fmt, int name_width);
/* Prints one row in format fmt. */
void bench_print_row(FILE *f, enum bench_format fmt, int name_width, const bench_row *r);

/* ---- cmd_bench_plot.c ---- */

/* Writes a PNG line chart of median latency against sequence length, one line per (batch,
 * threads) series, to f. Returns 0 after printing the error when it cannot. */
int bench_plot(FILE *f, const char *path, const bench_row *rows, size_t n);

/* ---- cmd_bench_canvas.c: an RGB raster with lines, boxes and bitmap text ---- */

typedef struct bench_canvas { int w, h; uint8_t *px; } bench_canvas;

/* Allocates a w x h canvas filled with white; returns 0 on OOM. */
int bench_canvas_init(bench_canvas *c, int w, int h);
/* Frees the pixels. */
void bench_canvas_free(bench_canvas *c);
/* Fills the rectangle [x0, x1] x [y0, y1] (clipped) with rgb. */
void bench_fill(bench_canvas *c, int x0, int y0, int x1, int y1, uint32_t rgb);
/* Draws a line from (x0, y0) to (x1, y1), width pixels thick. */
void bench_line(bench_canvas *c, int x0, int y0, int x1, int y1, int width, uint32_t rgb);
/* Draws text with its top-left corner at (x, y), each font pixel scale x scale. */
void bench_text(bench_canvas *c, int x, int y, int scale, const char *text, uint32_t rgb);
/* Width in pixels of text drawn at scale. */
int bench_text_width(const char *text, int scale);

/* ---- cmd_bench_font.c: a 5x7 bitmap font with descenders ---- */

#define BENCH_GLYPH_W 5
#define BENCH_GLYPH_CAP 7 /* rows above the baseline (digits, capitals) */
#define BENCH_GLYPH_H 9   /* with the descender rows */
/* The BENCH_GLYPH_H rows of character ch's glyph, 5 bits each (bit 4 = leftmost); a box
 * for a character the font lacks. */
const uint8_t *bench_glyph(char ch);

/* ---- cmd_bench_png.c ---- */

/* Writes c as an 8-bit RGB PNG to f; returns 0 on a write or compression error. */
int bench_png_write(FILE *f, const bench_canvas *c);

#endif

/* cmd_bench_plot.c — `torchless bench --plot`: a line chart of median latency (ms) against
 * sequence length, one line (with point markers) per batch size and thread count, with a
 * title, grid, axes, tick labels, axis titles and a legend, saved as PNG. */
#include "cmd_bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define W 800
#define H 500
#define S 2 /* font scale: 10 x 14 pixel glyphs (18 with descenders) */
#define MAX_SERIES 64

static const uint32_t COLORS[] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
                                  0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf};
#define INK 0x202020
#define GRID 0xe4e4e4

/* An axis from 0 to max in steps of step (1, 2 or 5 times a power of ten). */
typedef struct axis { double max, step; int decimals; } axis;

/* The axis that holds values up to v in about five steps. */
static axis nice_axis(double v) {
    if (!(v > 0)) v = 1;
    double raw = v / 5, p = pow(10, floor(log10(raw))), f = raw / p;
    axis a = {.step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p};
    a.max = ceil(v / a.step - 1e-9) * a.step;
    a.decimals = a.step >= 1 ? 0 : (int)ceil(-log10(a.step) - 1e-9);
    return a;
}

/* One chart line: the rows of one (batch, threads) pair, sorted by seq. */
typedef struct series { long batch, threads; const bench_row *pts[BENCH_MAX_LIST]; size_t n; } series;

/* Orders rows by sequence length. */
static int by_seq(const void *a, const void *b) {
    const bench_row *x = *(const bench_row *const *)a, *y = *(const bench_row *const *)b;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Groups rows into series (in order of first appearance); returns their count. */
static size_t group(const bench_row *rows, size_t n, series *out) {
    size_t ns = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < ns && (out[k].batch != rows[i].batch || out[k].threads != rows[i].threads)) k++;
        if (k == ns) {
            if (ns == MAX_SERIES) continue;
            out[ns++] = (series){.batch = rows[i].batch, .threads = rows[i].threads};
        }
        if (out[k].n < BENCH_MAX_LIST) out[k].pts[out[k].n++] = &rows[i];
    }
    for (size_t k = 0; k < ns; k++) qsort(out[k].pts, out[k].n, sizeof out[k].pts[0], by_seq);
    return ns;
}

/* The plot area in pixels and the axes it maps. */
typedef struct frame { int x0, y0, x1, y1; axis xa, ya; } frame;

/* Pixel column of sequence length x. */
static int px_x(const frame *f, double x) { return f->x0 + (int)lround(x / f->xa.max * (f->x1 - f->x0)); }
/* Pixel row of latency y. */
static int px_y(const frame *f, double y) { return f->y1 - (int)lround(y / f->ya.max * (f->y1 - f->y0)); }

/* Draws the grid, the axes, their ticks and tick labels, and the axis titles. */
static void draw_axes(bench_canvas *c, const frame *f) {
    char buf[32];
    for (double v = 0; v <= f->ya.max + f->ya.step / 2; v += f->ya.step) {
        int y = px_y(f, v);
        if (v > 0) bench_line(c, f->x0, y, f->x1, y, 1, GRID);
        bench_line(c, f->x0 - 6, y, f->x0, y, 2, INK);
        snprintf(buf, sizeof buf, "%.*f", f->ya.decimals, v);
        bench_text(c, f->x0 - 10 - bench_text_width(buf, S), y - BENCH_GLYPH_CAP * S / 2, S, buf, INK);
    }
    for (double v = 0; v <= f->xa.max + f->xa.step / 2; v += f->xa.step) {
        int x = px_x(f, v);
        if (v > 0) bench_line(c, x, f->y0, x, f->y1, 1, GRID);
        bench_line(c, x, f->y1, x, f->y1 + 6, 2, INK);
        snprintf(buf, sizeof buf, "%.*f", f->xa.decimals, v);
        bench_text(c, x - bench_text_width(buf, S) / 2, f->y1 + 12, S, buf, INK);
    }
    bench_line(c, f->x0, f->y0, f->x0, f->y1, 2, INK);
    bench_line(c, f->x0, f->y1, f->x1, f->y1, 2, INK);
    const char *xt = "sequence length (tokens)";
    bench_text(c, (f->x0 + f->x1 - bench_text_width(xt, S)) / 2, f->y1 + 40, S, xt, INK);
    bench_text(c, f->x0 - 10, f->y0 - 30, S, "median latency (ms)", INK);
}

/* The legend label of series s ("batch 8", "batch 8, 2 threads" when the threads vary). */
static void label(const series *s, int threads_vary, char *buf, size_t n) {
    if (threads_vary) snprintf(buf, n, "batch %ld, %ld thread%s", s->batch, s->threads, s->threads > 1 ? "s" : "");
    else snprintf(buf, n, "batch %ld", s->batch);
}

/* Draws each series' line and markers, and the legend at legend_x. */
static void draw_series(bench_canvas *c, const frame *f, const series *ss, size_t ns, int threads_vary,
                        int legend_x) {
    for (size_t k = 0; k < ns; k++) {
        uint32_t col = COLORS[k % (sizeof COLORS / sizeof COLORS[0])];
        for (size_t i = 0; i < ss[k].n; i++) {
            int x = px_x(f, (double)ss[k].pts[i]->seq), y = px_y(f, ss[k].pts[i]->lat_med);
            if (i) bench_line(c, px_x(f, (double)ss[k].pts[i - 1]->seq), px_y(f, ss[k].pts[i - 1]->lat_med), x, y, 3, col);
            bench_fill(c, x - 4, y - 4, x + 4, y + 4, col);
        }
        char buf[64];
        label(&ss[k], threads_vary, buf, sizeof buf);
        int y = f->y0 + 10 + (int)k * 26;
        if (y > H - 20) continue;
        bench_line(c, legend_x, y + 7, legend_x + 26, y + 7, 3, col);
        bench_fill(c, legend_x + 9, y + 3, legend_x + 17, y + 11, col);
        bench_text(c, legend_x + 34, y, S, buf, INK);
    }
}

int bench_plot(FILE *out, const char *path, const bench_row *rows, size_t n) {
    series *ss = calloc(MAX_SERIES, sizeof *ss);
    bench_canvas c = {0};
    if (!ss || !n || !bench_canvas_init(&c, W, H)) {
        fprintf(stderr, "torchless bench: --plot %s: %s\n", path, n ? "out of memory" : "no rows to plot");
        free(ss);
        return 0;
    }
    size_t ns = group(rows, n, ss);
    double max_seq = 0, max_lat = 0;
    int threads_vary = 0, legend_w = 0;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].seq > max_seq) max_seq = (double)rows[i].seq;
        if (rows[i].lat_med > max_lat) max_lat = rows[i].lat_med;
        threads_vary |= rows[i].threads != rows[0].threads;
    }
    for (size_t k = 0; k < ns; k++) {
        char buf[64];
        label(&ss[k], threads_vary, buf, sizeof buf);
        int w = 34 + bench_text_width(buf, S);
        if (w > legend_w) legend_w = w;
    }
    frame f = {.xa = nice_axis(max_seq), .ya = nice_axis(max_lat * 1.05), .y0 = 80, .y1 = H - 70};
    char buf[32];
    snprintf(buf, sizeof buf, "%.*f", f.ya.decimals, f.ya.max);
    f.x0 = 24 + bench_text_width(buf, S);
    if (f.x0 < 40) f.x0 = 40;
    f.x1 = W - legend_w - 40;
    char title[160];
    int tn = snprintf(title, sizeof title, "torchless bench: %s, %s, %s", rows[0].name, rows[0].task,
                      rows[0].precision);
    if (!threads_vary && tn > 0 && (size_t)tn < sizeof title)
        snprintf(title + tn, sizeof title - (size_t)tn, ", %ld thread%s", rows[0].threads, rows[0].threads > 1 ? "s" : "");
    while (strlen(title) > 3 && bench_text_width(title, S) > W - 20) title[strlen(title) - 1] = '\0';
    bench_text(&c, 10, 14, S, title, INK);
    draw_axes(&c, &f);
    draw_series(&c, &f, ss, ns, threads_vary, f.x1 + 24);
    int ok = bench_png_write(out, &c);
    if (!ok) fprintf(stderr, "torchless bench: --plot %s: cannot write the PNG\n", path);
    bench_canvas_free(&c);
    free(ss);
    return ok;
}

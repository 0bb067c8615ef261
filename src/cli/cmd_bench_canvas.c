/* cmd_bench_canvas.c — a small RGB raster for the bench chart: filled boxes, thick lines,
 * and text in the 5x7 bitmap font (cmd_bench_font.c) at an integer scale. */
#include "cmd_bench.h"

#include <stdlib.h>
#include <string.h>

int bench_canvas_init(bench_canvas *c, int w, int h) {
    c->w = w;
    c->h = h;
    c->px = malloc((size_t)w * (size_t)h * 3);
    if (!c->px) return 0;
    memset(c->px, 0xff, (size_t)w * (size_t)h * 3);
    return 1;
}

void bench_canvas_free(bench_canvas *c) {
    free(c->px);
    c->px = NULL;
}

/* Sets pixel (x, y) to rgb when it is on the canvas. */
static void put(bench_canvas *c, int x, int y, uint32_t rgb) {
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    uint8_t *p = c->px + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    p[0] = (uint8_t)(rgb >> 16);
    p[1] = (uint8_t)(rgb >> 8);
    p[2] = (uint8_t)rgb;
}

void bench_fill(bench_canvas *c, int x0, int y0, int x1, int y1, uint32_t rgb) {
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) put(c, x, y, rgb);
}

void bench_line(bench_canvas *c, int x0, int y0, int x1, int y1, int width, uint32_t rgb) {
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy, lo = -(width - 1) / 2, hi = width / 2;
    for (;;) { /* Bresenham, a width x width square at each step */
        bench_fill(c, x0 + lo, y0 + lo, x0 + hi, y0 + hi, rgb);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * err;
        if (e2 >= dy) { err += dy; x0 += sx; }
        if (e2 <= dx) { err += dx; y0 += sy; }
    }
}

int bench_text_width(const char *text, int scale) {
    int n = (int)strlen(text);
    return n ? (n * (BENCH_GLYPH_W + 1) - 1) * scale : 0;
}

void bench_text(bench_canvas *c, int x, int y, int scale, const char *text, uint32_t rgb) {
    for (; *text; text++, x += (BENCH_GLYPH_W + 1) * scale) {
        const uint8_t *g = bench_glyph(*text);
        for (int gy = 0; gy < BENCH_GLYPH_H; gy++)
            for (int gx = 0; gx < BENCH_GLYPH_W; gx++)
                if (g[gy] >> (BENCH_GLYPH_W - 1 - gx) & 1)
                    bench_fill(c, x + gx * scale, y + gy * scale, x + gx * scale + scale - 1,
                               y + gy * scale + scale - 1, rgb);
    }
}

/* progress.c — a one-line progress bar on stderr (done/total, percent, rate, ETA), redrawn
 * at most ten times a second; shown only when stderr is a terminal. */
#include "cli.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* Seconds on a monotonic clock. */
static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

void tl_progress_start(tl_progress *p, int wanted, size_t total) {
    p->on = wanted && isatty(STDERR_FILENO);
    p->total = total;
    p->done = 0;
    p->start = p->last = now_s();
    p->drawn = 0;
}

/* Formats seconds as M:SS or H:MM:SS into buf. */
static void fmt_time(char *buf, size_t n, double s) {
    long t = s < 0 ? 0 : (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

/* Draws the bar now. */
static void draw(tl_progress *p, double t) {
    double el = t - p->start, rate = el > 0 ? (double)p->done / el : 0;
    char eta[32] = "", took[32];
    fmt_time(took, sizeof took, el);
    if (p->total) {
        int w = 24, fill = (int)((double)w * (double)p->done / (double)p->total);
        if (fill > w) fill = w;
        char bar[32];
        for (int i = 0; i < w; i++) bar[i] = i < fill ? '#' : '.';
        bar[w] = '\0';
        if (rate > 0 && p->done < p->total) {
            char e[24];
            fmt_time(e, sizeof e, (double)(p->total - p->done) / rate);
            snprintf(eta, sizeof eta, "  ETA %s", e);
        }
        fprintf(stderr, "\r[%s] %zu/%zu %3.0f%%  %.1f inputs/s  %s%s\033[K", bar, p->done, p->total,
                100.0 * (double)p->done / (double)p->total, rate, took, eta);
    } else {
        fprintf(stderr, "\r%zu inputs  %.1f inputs/s  %s\033[K", p->done, rate, took);
    }
    fflush(stderr);
    p->drawn = 1;
    p->last = t;
}

void tl_progress_add(tl_progress *p, size_t n) {
    p->done += n;
    if (!p->on) return;
    double t = now_s();
    if (t - p->last >= 0.1 || !p->drawn) draw(p, t);
}

void tl_progress_note(tl_progress *p) {
    if (p->on && p->drawn) {
        fputs("\r\033[K", stderr);
        p->drawn = 0;
    }
}

void tl_progress_end(tl_progress *p) {
    if (!p->on) return;
    draw(p, now_s());
    fputc('\n', stderr);
    p->on = 0;
}

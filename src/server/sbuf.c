/* sbuf.c — a growable string for the large JSON replies (embedding matrices), written
 * directly instead of through cJSON trees. */
#include "server/server.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Makes room for n more bytes (and a NUL); 0 on OOM (sets b->oom). */
static int reserve(tl_sbuf *b, size_t n) {
    if (b->oom) return 0;
    if (b->n + n + 1 <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + n + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) { b->oom = 1; return 0; }
    b->s = s;
    b->cap = cap;
    return 1;
}

void tl_sbuf_put(tl_sbuf *b, const char *s, size_t n) {
    if (!reserve(b, n)) return;
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

void tl_sbuf_printf(tl_sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    if ((size_t)k < sizeof tmp) { tl_sbuf_put(b, tmp, (size_t)k); return; }
    if (!reserve(b, (size_t)k)) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

void tl_sbuf_floats(tl_sbuf *b, const float *x, size_t n) {
    if (!reserve(b, n * 17 + 2)) return;
    char *p = b->s + b->n;
    *p++ = '[';
    for (size_t i = 0; i < n; i++) {
        if (i) *p++ = ',';
        if (isfinite(x[i])) p += snprintf(p, 17, "%.9g", (double)x[i]);
        else { memcpy(p, "null", 4); p += 4; }
    }
    *p++ = ']';
    *p = 0;
    b->n = (size_t)(p - b->s);
}

void tl_sbuf_json_str(tl_sbuf *b, const char *s) { tl_sbuf_json_strn(b, s, strlen(s)); }

void tl_sbuf_json_strn(tl_sbuf *b, const char *s, size_t n) {
    tl_sbuf_put(b, "\"", 1);
    for (const char *p = s; p < s + n; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') { char e[2] = {'\\', (char)c}; tl_sbuf_put(b, e, 2); }
        else if (c < 0x20) tl_sbuf_printf(b, "\\u%04x", c);
        else tl_sbuf_put(b, p, 1);
    }
    tl_sbuf_put(b, "\"", 1);
}

void tl_reply_sbuf(tl_srv_reply *rp, int status, tl_sbuf *b) {
    if (b->oom || !b->s) {
        free(b->s);
        *b = (tl_sbuf){0};
        tl_reply_error(rp, 503, "Backend", "out of memory for the reply");
        return;
    }
    free(rp->body);
    rp->body = b->s;
    rp->len = b->n;
    rp->status = status;
    rp->content_type = "application/json";
    *b = (tl_sbuf){0};
}

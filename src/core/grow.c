/* grow.c — the growth helper of every growable array. */
#include "core/util.h"

#include <stdint.h>
#include <stdlib.h>

/* Grows *p to at least n elements of elem bytes; 0, or -1 on OOM / overflow (*p kept). */
int tl_grow(void **p, size_t *cap, size_t n, size_t elem) {
    if (n <= *cap) return 0;
    size_t c = *cap ? *cap : 16, bytes;
    while (c < n) { if (c > SIZE_MAX / 2) return -1; c *= 2; }
    if (tl_mul_overflow(c, elem, &bytes)) return -1;
    void *q = realloc(*p, bytes);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

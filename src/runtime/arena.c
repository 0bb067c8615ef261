/* arena.c — laying out a forward's activation arena from its parts. */
#include "runtime/arena.h"
#include "core/util.h"

int tl_arena_add(tl_arena_plan *p, size_t count, size_t elem) {
    size_t bytes;
    if (p->n >= TL_ARENA_MAX_PARTS || tl_mul_overflow(count, elem, &bytes)) {
        p->overflow = 1;
        return 0;
    }
    p->bytes[p->n] = bytes;
    return (int)p->n++;
}

int tl_arena_layout(tl_arena_plan *p) {
    size_t at = 0;
    for (size_t i = 0; i < p->n && !p->overflow; i++) {
        size_t end;
        p->off[i] = at;
        if (tl_add_overflow(at, p->bytes[i], &end) || tl_add_overflow(end, 63, &end)) p->overflow = 1;
        at = end & ~(size_t)63;
    }
    p->total = at ? at : 64;
    return !p->overflow;
}

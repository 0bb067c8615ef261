/* arena.h — the one planner of a forward's activation arena: every block kind adds its
 * parts (count x element size), the planner lays them out 64-byte aligned with overflow
 * checks, and the forward finds each part by the index tl_arena_add returned. */
#ifndef TL_RUNTIME_ARENA_H
#define TL_RUNTIME_ARENA_H
#include <stddef.h>

#define TL_ARENA_MAX_PARTS 16

typedef struct tl_arena_plan {
    size_t n;                          /* parts added */
    size_t bytes[TL_ARENA_MAX_PARTS];  /* size of each part */
    size_t off[TL_ARENA_MAX_PARTS];    /* its offset, set by tl_arena_layout */
    size_t total;                      /* bytes of the whole arena, set by tl_arena_layout */
    int overflow;                      /* a size overflowed or too many parts were added */
} tl_arena_plan;

/* Adds a part of count elements of elem bytes (0 is fine) and returns its index; on
 * overflow or past TL_ARENA_MAX_PARTS marks p->overflow and returns 0. */
int tl_arena_add(tl_arena_plan *p, size_t count, size_t elem);

/* Lays the parts out one after another, each 64-byte aligned; returns 0 when a size
 * overflowed (p->total is then meaningless). */
int tl_arena_layout(tl_arena_plan *p);

/* Part i of an arena laid out by p. */
static inline void *tl_arena_at(void *arena, const tl_arena_plan *p, int i) {
    return (char *)arena + p->off[i];
}

#endif

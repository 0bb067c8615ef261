/* gemm_dnnl.c — linear layer on oneDNN's matmul primitive, bias fused, run directly on the
 * caller's buffers (no copies, no reorders): src x is (T, C) tag ab, weights w (OC, C)
 * row-major are the matmul's (C, OC) with tag ba, bias is (1, OC), dst is (T, OC).
 *
 * One engine and one stream are created on first use. Primitives are cached per distinct
 * (T, C, OC, has_bias, threads) in a small LRU table guarded by one mutex; the mutex is
 * held across execution too, so concurrent callers run their GEMMs one after another
 * (each already uses every thread, and the stream and the cached memory objects are not
 * shared safely otherwise). Anything oneDNN refuses falls back to tl_linear_blas for that
 * call; a shape whose primitive cannot be created is remembered and goes straight to BLAS.
 *
 * Threads: Debian's libdnnl is built with DNNL_CPU_RUNTIME=OMP on libgomp, the same
 * OpenMP runtime as our kernels and OpenBLAS-openmp, so it shares our pool; each call runs
 * it with omp_get_max_threads() == tl_threads_get() (restored after). A library built for
 * another runtime (TBB, threadpool) could not be sized that way, so it is not used. */
#include "kernels/kernels.h"
#include "runtime/threads.h"

#include <dnnl.h>
#include <omp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void tl_linear_dnnl(const float *x, const float *w, const float *b, float *out, size_t T,
                    size_t C, size_t OC);

#define TL_DNNL_CACHE_MAX 64

/* One cached shape: its primitive and the four memory objects it executes on. */
typedef struct {
    size_t T, C, OC;
    int has_bias, nt;
    unsigned long long used;   /* LRU tick of the last call */
    dnnl_primitive_t prim;     /* NULL: creation failed, this shape runs on BLAS */
    dnnl_memory_t mx, mw, mb, mo;
} dnnl_entry;

static struct {
    pthread_mutex_t lock;
    int state;                 /* 0 not tried, 1 ready, -1 unavailable (or released) */
    dnnl_engine_t eng;
    dnnl_stream_t strm;
    dnnl_entry e[TL_DNNL_CACHE_MAX];
    size_t n;
    unsigned long long tick;
} g_dnnl = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Destroys one entry's primitive and memory objects (NULL members are skipped). */
static void entry_free(dnnl_entry *en) {
    if (en->prim) dnnl_primitive_destroy(en->prim);
    if (en->mx) dnnl_memory_destroy(en->mx);
    if (en->mw) dnnl_memory_destroy(en->mw);
    if (en->mb) dnnl_memory_destroy(en->mb);
    if (en->mo) dnnl_memory_destroy(en->mo);
    memset(en, 0, sizeof *en);
}

/* atexit hook: frees every cached primitive, the stream and the engine; later calls use BLAS. */
static void dnnl_release(void) {
    pthread_mutex_lock(&g_dnnl.lock);
    for (size_t i = 0; i < g_dnnl.n; i++) entry_free(&g_dnnl.e[i]);
    g_dnnl.n = 0;
    if (g_dnnl.strm) dnnl_stream_destroy(g_dnnl.strm);
    if (g_dnnl.eng) dnnl_engine_destroy(g_dnnl.eng);
    g_dnnl.strm = NULL;
    g_dnnl.eng = NULL;
    g_dnnl.state = -1;
    pthread_mutex_unlock(&g_dnnl.lock);
}

/* Creates the engine and stream once (lock held); returns 1 when oneDNN is usable. */
static int dnnl_ready(void) {
    if (g_dnnl.state) return g_dnnl.state > 0;
    g_dnnl.state = -1;
    const dnnl_version_t *v = dnnl_version();
    if (!v || (v->cpu_runtime != DNNL_RUNTIME_OMP && v->cpu_runtime != DNNL_RUNTIME_SEQ))
        return 0;
    if (dnnl_engine_create(&g_dnnl.eng, dnnl_cpu, 0) != dnnl_success) {
        g_dnnl.eng = NULL;
        return 0;
    }
    if (dnnl_stream_create(&g_dnnl.strm, g_dnnl.eng, dnnl_stream_default_flags) != dnnl_success) {
        dnnl_engine_destroy(g_dnnl.eng);
        g_dnnl.eng = NULL;
        g_dnnl.strm = NULL;
        return 0;
    }
    if (atexit(dnnl_release) != 0) {
        dnnl_stream_destroy(g_dnnl.strm);
        dnnl_engine_destroy(g_dnnl.eng);
        g_dnnl.eng = NULL;
        g_dnnl.strm = NULL;
        return 0;
    }
    g_dnnl.state = 1;
    return 1;
}

/* Builds en's primitive and memory objects for its shape (lock held, max threads already
 * set to en->nt); returns 0 and leaves en with only a NULL primitive on any failure. */
static int entry_build(dnnl_entry *en) {
    dnnl_memory_desc_t xd, wd, bd, od;
    dnnl_dims_t xdims = {(dnnl_dim_t)en->T, (dnnl_dim_t)en->C};
    dnnl_dims_t wdims = {(dnnl_dim_t)en->C, (dnnl_dim_t)en->OC};
    dnnl_dims_t bdims = {1, (dnnl_dim_t)en->OC};
    dnnl_dims_t odims = {(dnnl_dim_t)en->T, (dnnl_dim_t)en->OC};
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd = NULL;
    int ok = dnnl_memory_desc_init_by_tag(&xd, 2, xdims, dnnl_f32, dnnl_ab) == dnnl_success &&
             dnnl_memory_desc_init_by_tag(&wd, 2, wdims, dnnl_f32, dnnl_ba) == dnnl_success &&
             dnnl_memory_desc_init_by_tag(&bd, 2, bdims, dnnl_f32, dnnl_ab) == dnnl_success &&
             dnnl_memory_desc_init_by_tag(&od, 2, odims, dnnl_f32, dnnl_ab) == dnnl_success &&
             dnnl_matmul_desc_init(&md, &xd, &wd, en->has_bias ? &bd : NULL, &od) == dnnl_success &&
             dnnl_primitive_desc_create(&pd, &md, NULL, g_dnnl.eng, NULL) == dnnl_success;
    ok = ok && dnnl_primitive_create(&en->prim, pd) == dnnl_success;
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (!ok) en->prim = NULL;
    /* data handles are set per call; DNNL_MEMORY_NONE allocates nothing */
    ok = ok && dnnl_memory_create(&en->mx, &xd, g_dnnl.eng, DNNL_MEMORY_NONE) == dnnl_success;
    ok = ok && dnnl_memory_create(&en->mw, &wd, g_dnnl.eng, DNNL_MEMORY_NONE) == dnnl_success;
    ok = ok && (!en->has_bias ||
                dnnl_memory_create(&en->mb, &bd, g_dnnl.eng, DNNL_MEMORY_NONE) == dnnl_success);
    ok = ok && dnnl_memory_create(&en->mo, &od, g_dnnl.eng, DNNL_MEMORY_NONE) == dnnl_success;
    if (!ok) {
        dnnl_entry keep = {.T = en->T, .C = en->C, .OC = en->OC, .has_bias = en->has_bias,
                           .nt = en->nt, .used = en->used};
        entry_free(en);
        *en = keep;
    }
    return ok;
}

/* Returns the cache entry for the shape, creating it (evicting the least recently used
 * when full) on a miss; lock held. The entry's prim is NULL when oneDNN refused the shape. */
static dnnl_entry *entry_get(size_t T, size_t C, size_t OC, int has_bias, int nt) {
    g_dnnl.tick++;
    for (size_t i = 0; i < g_dnnl.n; i++) {
        dnnl_entry *en = &g_dnnl.e[i];
        if (en->T == T && en->C == C && en->OC == OC && en->has_bias == has_bias && en->nt == nt) {
            en->used = g_dnnl.tick;
            return en;
        }
    }
    dnnl_entry *en;
    if (g_dnnl.n < TL_DNNL_CACHE_MAX) {
        en = &g_dnnl.e[g_dnnl.n++];
    } else {
        en = &g_dnnl.e[0];
        for (size_t i = 1; i < g_dnnl.n; i++)
            if (g_dnnl.e[i].used < en->used) en = &g_dnnl.e[i];
        entry_free(en);
    }
    *en = (dnnl_entry){.T = T, .C = C, .OC = OC, .has_bias = has_bias, .nt = nt,
                       .used = g_dnnl.tick};
    entry_build(en);
    return en;
}

/* Points the entry's memory objects at the caller's buffers and runs it; returns 1 on
 * success, 0 when oneDNN reported an error (out is then rewritten by the caller). */
static int entry_run(dnnl_entry *en, const float *x, const float *w, const float *b, float *out) {
    dnnl_stream_t s = g_dnnl.strm;
    if (dnnl_memory_set_data_handle_v2(en->mx, (void *)x, s) != dnnl_success ||
        dnnl_memory_set_data_handle_v2(en->mw, (void *)w, s) != dnnl_success ||
        (b && dnnl_memory_set_data_handle_v2(en->mb, (void *)b, s) != dnnl_success) ||
        dnnl_memory_set_data_handle_v2(en->mo, out, s) != dnnl_success)
        return 0;
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, en->mx}, {DNNL_ARG_WEIGHTS, en->mw},
                               {DNNL_ARG_DST, en->mo}, {DNNL_ARG_BIAS, en->mb}};
    return dnnl_primitive_execute(en->prim, s, b ? 4 : 3, args) == dnnl_success &&
           dnnl_stream_wait(s) == dnnl_success;
}

/* out (T, OC) = x (T, C) @ w (OC, C)^T + b (OC), b may be NULL; on oneDNN's matmul when it
 * accepts the shape, else on tl_linear_blas. Never fails; may allocate a cache entry. */
void tl_linear_dnnl(const float *x, const float *w, const float *b, float *out, size_t T,
                    size_t C, size_t OC) {
    if (T == 0 || OC == 0) return;
    /* inside someone else's parallel region oneDNN runs on the calling thread alone */
    int nt = omp_in_parallel() ? 1 : tl_threads_get();
    int prev = omp_get_max_threads();
    if (prev != nt) omp_set_num_threads(nt);
    int done = 0;
    pthread_mutex_lock(&g_dnnl.lock);
    if (C > 0 && T <= INT32_MAX && C <= INT32_MAX && OC <= INT32_MAX && dnnl_ready()) {
        dnnl_entry *en = entry_get(T, C, OC, b != NULL, nt);
        if (en->prim) done = entry_run(en, x, w, b, out);
    }
    pthread_mutex_unlock(&g_dnnl.lock);
    if (prev != nt) omp_set_num_threads(prev);
    if (!done) tl_linear_blas(x, w, b, out, T, C, OC);
}

/* gemm_dnnl.c — linear layer on oneDNN's matmul primitive, bias (and optionally the
 * activation) fused, run directly on the caller's buffers: src x is (T, C) tag ab, dst
 * is (T, OC), bias is (1, OC); weights are either the caller's (OC, C) row-major matrix
 * (the matmul's (C, OC) with tag ba) or a copy packed once, at model load, into the
 * blocked layout the primitive prefers (tl_dnnl_pack).
 *
 * Why pack: on the encoder's shapes the primitive on plain weights re-blocks B on every
 * call, and ran well below the packed-weights primitive (see docs/BENCHMARKS.md, section "Figures behind code choices",
 * "oneDNN on packed weights"). oneDNN 2.6 picks its weights layout
 * per primitive, so it could depend on M (the token count, which changes every call);
 * on every CPU we measured it does not (BA16a64b for all M from 1 to 4096, brgemm), and
 * runtime-M primitives (DNNL_RUNTIME_DIM_VAL) only offer the plain-layout gemm:jit
 * kernel. So the layout is chosen once for a representative M and every per-M primitive
 * is created with that fixed weights descriptor; packing is skipped unless M = 1, 37 and
 * 4096 also get an optimized kernel on it. Should oneDNN still refuse it for some M, the
 * call runs BLAS on the plain weights when they are kept, else tl_packed_linear_ref on
 * the packed data (slow, never fails).
 *
 * One engine and one stream are created on first use. Primitives are cached per distinct
 * (T, C, OC, bias, threads, weights layout, activation) in a small LRU table guarded by
 * one mutex; the mutex is held across execution too, so concurrent callers run their
 * GEMMs one after another (each already uses every thread, and the stream and the
 * cached memory objects are not shared safely otherwise). Anything oneDNN refuses, or
 * offers only on its reference kernel, falls back for that call: a fused activation to the
 * packed matmul plus an activation pass, the rest to BLAS on plain weights (or
 * tl_packed_linear_ref); a shape whose primitive cannot be created is remembered and goes
 * straight to the fallback.
 *
 * Threads: Debian's libdnnl is built with DNNL_CPU_RUNTIME=OMP on libgomp, the same
 * OpenMP runtime as our kernels and OpenBLAS-openmp, so it shares our pool; each call runs
 * it with omp_get_max_threads() == tl_threads_get() (restored after). A library built for
 * another runtime (TBB, threadpool) could not be sized that way, so it is not used. */
#include "kernels/gemm_dnnl_int.h"
#include "kernels/kernels.h"
#include "runtime/threads.h"

#include <dnnl.h>
#include <omp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TL_DNNL_CACHE_MAX 64
/* the token count the packed layout is chosen for (the layout did not vary with it) */
#define TL_DNNL_PACK_M 128

/* One cached shape: its primitive and the four memory objects it executes on. */
typedef struct {
    size_t T, C, OC;
    int has_bias, nt, packed, act; /* act: -1 none, else a tl_activation */
    dnnl_memory_desc_t wmd;        /* the weights layout when packed */
    unsigned long long used;       /* LRU tick of the last call */
    dnnl_primitive_t prim;         /* NULL: creation failed, this shape runs the fallback */
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

/* atexit hook: frees every cached primitive, the stream and the engine; later calls use
 * the fallbacks. */
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

/* Sets *alg / *alpha to oneDNN's eltwise for act; returns 0 when it has none. */
static int eltwise_of(int act, dnnl_alg_kind_t *alg, float *alpha) {
    *alpha = 0.0f;
    switch (act) {
    case TL_ACT_GELU: *alg = dnnl_eltwise_gelu_erf; return 1;
    case TL_ACT_GELU_TANH: *alg = dnnl_eltwise_gelu_tanh; return 1;
    case TL_ACT_RELU: *alg = dnnl_eltwise_relu; return 1;
    case TL_ACT_SILU: *alg = dnnl_eltwise_swish; *alpha = 1.0f; return 1;
    default: return 0;
    }
}

/* Creates *pd for x (T, C) @ weights wd + bias -> (T, OC) with activation act (-1: none);
 * returns 1 on success. */
static int matmul_pd(dnnl_primitive_desc_t *pd, size_t T, size_t C, size_t OC, int has_bias,
                     const dnnl_memory_desc_t *wd, int act) {
    dnnl_memory_desc_t xd, bd, od;
    dnnl_dims_t xdims = {(dnnl_dim_t)T, (dnnl_dim_t)C};
    dnnl_dims_t bdims = {1, (dnnl_dim_t)OC};
    dnnl_dims_t odims = {(dnnl_dim_t)T, (dnnl_dim_t)OC};
    dnnl_matmul_desc_t md;
    dnnl_primitive_attr_t attr = NULL;
    *pd = NULL;
    int ok = dnnl_memory_desc_init_by_tag(&xd, 2, xdims, dnnl_f32, dnnl_ab) == dnnl_success &&
             dnnl_memory_desc_init_by_tag(&bd, 2, bdims, dnnl_f32, dnnl_ab) == dnnl_success &&
             dnnl_memory_desc_init_by_tag(&od, 2, odims, dnnl_f32, dnnl_ab) == dnnl_success &&
             dnnl_matmul_desc_init(&md, &xd, wd, has_bias ? &bd : NULL, &od) == dnnl_success;
    if (ok && act >= 0) {
        dnnl_alg_kind_t alg;
        float alpha;
        dnnl_post_ops_t po = NULL;
        ok = eltwise_of(act, &alg, &alpha) &&
             dnnl_primitive_attr_create(&attr) == dnnl_success &&
             dnnl_post_ops_create(&po) == dnnl_success &&
             dnnl_post_ops_append_eltwise(po, 1.0f, alg, alpha, 0.0f) == dnnl_success &&
             dnnl_primitive_attr_set_post_ops(attr, po) == dnnl_success;
        if (po) dnnl_post_ops_destroy(po);
    }
    ok = ok && dnnl_primitive_desc_create(pd, &md, attr, g_dnnl.eng, NULL) == dnnl_success;
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (!ok) *pd = NULL;
    return ok;
}

/* Fills *wd with the plain (C, OC) descriptor of nn.Linear's (OC, C) row-major weights. */
static int plain_wd(dnnl_memory_desc_t *wd, size_t C, size_t OC) {
    dnnl_dims_t wdims = {(dnnl_dim_t)C, (dnnl_dim_t)OC};
    return dnnl_memory_desc_init_by_tag(wd, 2, wdims, dnnl_f32, dnnl_ba) == dnnl_success;
}

/* Builds en's primitive and memory objects for its shape (lock held, max threads already
 * set to en->nt); returns 0 and leaves en with only a NULL primitive on any failure. */
static int entry_build(dnnl_entry *en) {
    dnnl_memory_desc_t wd;
    dnnl_primitive_desc_t pd = NULL;
    int ok = en->packed ? (wd = en->wmd, 1) : plain_wd(&wd, en->C, en->OC);
    ok = ok && matmul_pd(&pd, en->T, en->C, en->OC, en->has_bias, &wd, en->act);
    /* oneDNN's reference kernel is a plain loop; the fallbacks run BLAS or the packed matmul */
    const char *impl = NULL;
    ok = ok && dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success &&
         impl && strncmp(impl, "ref", 3) != 0;
    ok = ok && dnnl_primitive_create(&en->prim, pd) == dnnl_success;
    if (!ok) en->prim = NULL;
    /* data handles are set per call; DNNL_MEMORY_NONE allocates nothing */
    ok = ok && dnnl_memory_create(&en->mx, dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0),
                                  g_dnnl.eng, DNNL_MEMORY_NONE) == dnnl_success;
    ok = ok && dnnl_memory_create(&en->mw, &wd, g_dnnl.eng, DNNL_MEMORY_NONE) == dnnl_success;
    ok = ok && (!en->has_bias ||
                dnnl_memory_create(&en->mb, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1),
                                   g_dnnl.eng, DNNL_MEMORY_NONE) == dnnl_success);
    ok = ok && dnnl_memory_create(&en->mo, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0),
                                  g_dnnl.eng, DNNL_MEMORY_NONE) == dnnl_success;
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (!ok) {
        dnnl_entry keep = *en;
        keep.prim = NULL;
        keep.mx = keep.mw = keep.mb = keep.mo = NULL;
        entry_free(en);
        *en = keep;
    }
    return ok;
}

/* Returns the cache entry matching key (its shape fields), creating it (evicting the least
 * recently used when full) on a miss; lock held. The entry's prim is NULL when oneDNN
 * refused the shape. */
static dnnl_entry *entry_get(const dnnl_entry *key) {
    g_dnnl.tick++;
    for (size_t i = 0; i < g_dnnl.n; i++) {
        dnnl_entry *en = &g_dnnl.e[i];
        if (en->T == key->T && en->C == key->C && en->OC == key->OC &&
            en->has_bias == key->has_bias && en->nt == key->nt && en->packed == key->packed &&
            en->act == key->act && (!en->packed || dnnl_memory_desc_equal(&en->wmd, &key->wmd))) {
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
    *en = *key;
    en->used = g_dnnl.tick;
    en->prim = NULL;
    en->mx = en->mw = en->mb = en->mo = NULL;
    entry_build(en);
    return en;
}

/* Points the entry's memory objects at the caller's buffers and runs it; returns 1 on
 * success, 0 when oneDNN reported an error (out is then rewritten by the caller). */
static int entry_run(dnnl_entry *en, const float *x, const void *w, const float *b, float *out) {
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

/* Runs out = x @ W^T + b on oneDNN with plain w or packed pk (one of them set) and act (-1:
 * none) fused when oneDNN has an optimized kernel for it; returns a tl_linear_done
 * (TL_LINEAR_NOT_DONE when oneDNN is unavailable or refused: out undefined then). */
static int dnnl_linear(const float *x, const float *w, const tl_packed *pk, const float *b,
                       float *out, size_t T, size_t C, size_t OC, int act) {
    if (C == 0 || T > INT32_MAX || C > INT32_MAX || OC > INT32_MAX) return TL_LINEAR_NOT_DONE;
    /* inside someone else's parallel region oneDNN runs on the calling thread alone */
    int nt = omp_in_parallel() ? 1 : tl_threads_get();
    int prev = omp_get_max_threads();
    if (prev != nt) omp_set_num_threads(nt);
    int done = TL_LINEAR_NOT_DONE;
    pthread_mutex_lock(&g_dnnl.lock);
    if (dnnl_ready()) {
        dnnl_entry key = {.T = T, .C = C, .OC = OC, .has_bias = b != NULL, .nt = nt,
                          .packed = pk != NULL, .act = act};
        if (pk) key.wmd = pk->md;
        dnnl_entry *en = entry_get(&key);
        if (en->prim && entry_run(en, x, pk ? pk->data : (const void *)w, b, out))
            done = TL_LINEAR_DONE;
        if (!done && act >= 0) {
            /* no optimized kernel with the activation fused: the plain matmul (for packed
             * weights the one tl_dnnl_pack checked); the caller applies the activation */
            key.act = -1;
            en = entry_get(&key);
            if (en->prim && entry_run(en, x, pk ? pk->data : (const void *)w, b, out))
                done = TL_LINEAR_DONE_NO_ACT;
        }
    }
    pthread_mutex_unlock(&g_dnnl.lock);
    if (prev != nt) omp_set_num_threads(prev);
    return done;
}

/* out (T, OC) = x (T, C) @ w (OC, C)^T + b (OC), b may be NULL; on oneDNN's matmul when it
 * accepts the shape, else on tl_linear_blas. Never fails; may allocate a cache entry. */
void tl_linear_dnnl(const float *x, const float *w, const float *b, float *out, size_t T,
                    size_t C, size_t OC) {
    if (T == 0 || OC == 0) return;
    if (!dnnl_linear(x, w, NULL, b, out, T, C, OC, -1)) tl_linear_blas(x, w, b, out, T, C, OC);
}

/* Same as tl_linear_dnnl with packed weights (pk) when non-NULL, else w, and act (-1 for
 * none) fused where oneDNN can; returns a tl_linear_done (tl_gemm_backend's linear_ex). */
int tl_linear_dnnl_ex(const float *x, const float *w, const tl_packed *pk, const float *b,
                      float *out, size_t T, size_t C, size_t OC, int act) {
    if (T == 0 || OC == 0) return TL_LINEAR_DONE;
    /* few tokens: our kernel on the same packed weights (gemm_small.c says why) */
    if (pk && tl_small_linear(x, pk, b, out, T)) return TL_LINEAR_DONE_NO_ACT;
    dnnl_alg_kind_t alg;
    float alpha;
    if (act >= 0 && !eltwise_of(act, &alg, &alpha)) /* no oneDNN post-op for it */
        return dnnl_linear(x, w, pk, b, out, T, C, OC, -1) ? TL_LINEAR_DONE_NO_ACT
                                                          : TL_LINEAR_NOT_DONE;
    return dnnl_linear(x, w, pk, b, out, T, C, OC, act);
}

/* Returns 1 when matmul primitives for a few token counts accept weights laid out as wd
 * with an optimized (not reference) implementation; lock held. */
static int layout_serves_every_m(const dnnl_memory_desc_t *wd, size_t C, size_t OC) {
    const size_t ms[] = {1, 37, 4096};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        dnnl_primitive_desc_t pd;
        const char *impl = NULL;
        if (!matmul_pd(&pd, ms[i], C, OC, 1, wd, -1)) return 0;
        int ok = dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success &&
                 impl && strncmp(impl, "ref", 3) != 0;
        dnnl_primitive_desc_destroy(pd);
        if (!ok) return 0;
    }
    return 1;
}

/* Returns w (OC, C) reordered into the layout oneDNN's matmul prefers, or NULL when that
 * layout is the plain one (nothing to gain), does not serve every token count, oneDNN is
 * unavailable, or on any failure. */
tl_packed *tl_dnnl_pack(const float *w, size_t C, size_t OC) {
    if (!w || C == 0 || OC == 0 || C > INT32_MAX || OC > INT32_MAX) return NULL;
    int nt = tl_threads_get(), prev = omp_get_max_threads();
    if (prev != nt) omp_set_num_threads(nt);
    tl_packed *pk = NULL;
    pthread_mutex_lock(&g_dnnl.lock);
    dnnl_memory_desc_t plain, any;
    dnnl_dims_t wdims = {(dnnl_dim_t)C, (dnnl_dim_t)OC};
    dnnl_primitive_desc_t pd = NULL, rpd = NULL;
    dnnl_primitive_t r = NULL;
    dnnl_memory_t src = NULL, dst = NULL;
    int ok = dnnl_ready() && plain_wd(&plain, C, OC) &&
             dnnl_memory_desc_init_by_tag(&any, 2, wdims, dnnl_f32, dnnl_format_tag_any) == dnnl_success &&
             matmul_pd(&pd, TL_DNNL_PACK_M, C, OC, 1, &any, -1);
    const dnnl_memory_desc_t *pref = ok ? dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0) : NULL;
    ok = ok && pref && pref->format_kind == dnnl_blocked && !dnnl_memory_desc_equal(pref, &plain) &&
         layout_serves_every_m(pref, C, OC);
    ok = ok && (pk = calloc(1, sizeof *pk)) != NULL;
    if (ok) {
        pk->md = *pref;
        pk->C = C;
        pk->OC = OC;
        size_t bytes = dnnl_memory_desc_get_size(&pk->md);
        pk->data = bytes ? aligned_alloc(64, (bytes + 63) / 64 * 64) : NULL;
        ok = pk->data != NULL;
    }
    ok = ok && dnnl_memory_create(&src, &plain, g_dnnl.eng, (void *)w) == dnnl_success &&
         dnnl_memory_create(&dst, &pk->md, g_dnnl.eng, pk->data) == dnnl_success &&
         dnnl_reorder_primitive_desc_create(&rpd, &plain, g_dnnl.eng, &pk->md, g_dnnl.eng, NULL) == dnnl_success &&
         dnnl_primitive_create(&r, rpd) == dnnl_success;
    if (ok) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
        ok = dnnl_primitive_execute(r, g_dnnl.strm, 2, args) == dnnl_success &&
             dnnl_stream_wait(g_dnnl.strm) == dnnl_success;
    }
    if (r) dnnl_primitive_destroy(r);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (src) dnnl_memory_destroy(src);
    if (dst) dnnl_memory_destroy(dst);
    if (pd) dnnl_primitive_desc_destroy(pd);
    pthread_mutex_unlock(&g_dnnl.lock);
    if (prev != nt) omp_set_num_threads(prev);
    if (!ok && pk) {
        free(pk->data);
        free(pk);
        pk = NULL;
    }
    return pk;
}

void tl_packed_free(tl_packed *pk) {
    if (!pk) return;
    free(pk->data);
    free(pk);
}

/* Offset, in floats, of weight (c, o) — matmul row c, column o — inside pk's blocked
 * layout (strides of the outer blocks, then the inner blocks innermost last). */
static size_t packed_offset(const tl_packed *pk, size_t c, size_t o) {
    const dnnl_blocking_desc_t *bd = &pk->md.format_desc.blocking;
    dnnl_dim_t blk[2] = {1, 1};
    for (int i = 0; i < bd->inner_nblks; i++) blk[bd->inner_idxs[i]] *= bd->inner_blks[i];
    dnnl_dim_t rem[2] = {(dnnl_dim_t)c % blk[0], (dnnl_dim_t)o % blk[1]};
    dnnl_dim_t off = pk->md.offset0 + ((dnnl_dim_t)c / blk[0]) * bd->strides[0] +
                     ((dnnl_dim_t)o / blk[1]) * bd->strides[1];
    dnnl_dim_t mult = 1;
    for (int i = bd->inner_nblks - 1; i >= 0; i--) {
        int d = (int)bd->inner_idxs[i];
        dnnl_dim_t b = bd->inner_blks[i];
        off += (rem[d] % b) * mult;
        rem[d] /= b;
        mult *= b;
    }
    return (size_t)off;
}

void tl_packed_linear_ref(const float *x, const tl_packed *pk, const float *b, float *out,
                          size_t T) {
    const float *W = pk->data;
    const size_t C = pk->C, OC = pk->OC;
    float *plain = malloc(C * OC * sizeof *plain);
    if (plain) { /* unpack once (one offset computation per weight), then BLAS */
        for (size_t o = 0; o < OC; o++)
            for (size_t c = 0; c < C; c++) plain[o * C + c] = W[packed_offset(pk, c, o)];
        tl_linear_blas(x, plain, b, out, T, C, OC);
        free(plain);
        return;
    }
#pragma omp parallel for num_threads(tl_threads_get()) schedule(static) if (T * C * OC > 1000000)
    for (size_t o = 0; o < OC; o++)
        for (size_t t = 0; t < T; t++) {
            double acc = b ? b[o] : 0.0;
            for (size_t c = 0; c < C; c++) acc += (double)x[t * C + c] * W[packed_offset(pk, c, o)];
            out[t * OC + o] = (float)acc;
        }
}

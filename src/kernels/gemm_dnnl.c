/* gemm_dnnl.c — linear layer on oneDNN's matmul primitive, bias (and optionally the
 * activation) fused, run directly on the caller's buffers: src x is (T, C) tag ab, dst
 * is (T, OC), bias is (1, OC); weights are either the caller's (OC, C) row-major matrix
 * (the matmul's (C, OC) with tag ba) or a copy packed once, at model load, into the
 * blocked layout the primitive prefers (dnnl_pack, the backend's pack entry).
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
 * One engine per process, created on first use (pthread_once). Each caller's state
 * (tl_gemm_state) has its own stream and its own small LRU cache of primitives, one per
 * distinct (T, C, OC, bias, threads, weights layout, activation), each with the four
 * memory objects it executes on; no lock is held while a GEMM runs, so callers with
 * different states run theirs at the same time (oneDNN primitives may execute
 * concurrently on different streams and memory objects). A call that finds its state busy
 * (two threads sharing one state) runs on a private stream and a one-shot primitive and
 * memory objects instead (oneDNN's own primitive cache makes the re-creation cheap).
 * Anything oneDNN refuses, or offers only on its reference kernel, falls back for that
 * call: a fused activation to the packed matmul plus an activation pass, the rest to BLAS
 * on plain weights (or tl_packed_linear_ref); a shape whose primitive cannot be created is
 * remembered in the state's cache and goes straight to the fallback.
 *
 * Threads: Debian's libdnnl is built with DNNL_CPU_RUNTIME=OMP on libgomp, the same
 * OpenMP runtime as our kernels and OpenBLAS-openmp, so it shares our pool; each call runs
 * it with omp_get_max_threads() == tl_threads_get() (restored after). A library built for
 * another runtime (TBB, threadpool) could not be sized that way, so it is not used. */
#include "kernels/gemm_dnnl_int.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/vec.h"
#include "runtime/threads.h"

#include <dnnl.h>
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TL_DNNL_CACHE_MAX 64
/* the token count the packed layout is chosen for (the layout did not vary with it) */
#define TL_DNNL_PACK_M 128

/* What a linear call did: nothing (oneDNN unavailable or refused), the linear layer with
 * its activation, or the linear layer only. */
enum { NOT_DONE = 0, DONE, DONE_NO_ACT };

/* One cached shape: its primitive and the four memory objects it executes on. */
typedef struct {
    size_t T, C, OC;
    int has_bias, nt, packed, act; /* act: -1 none, else a tl_activation */
    int wdt;                       /* tl_dtype of the weights (the source's too: F32, BF16, I8) */
    dnnl_memory_desc_t wmd;        /* the weights layout when packed */
    unsigned long long used;       /* LRU tick of the last call */
    dnnl_primitive_t prim;         /* NULL: creation failed, this shape runs the fallback */
    dnnl_memory_t mx, mw, mb, mo;
} dnnl_entry;

/* One caller's state: its stream and its cache. busy is set while a call uses them. */
typedef struct {
    struct tl_gemm_state base;
    atomic_flag busy;
    dnnl_stream_t strm; /* NULL: oneDNN unavailable, every call runs the fallbacks */
    dnnl_entry e[TL_DNNL_CACHE_MAX];
    size_t n;
    unsigned long long tick;
    void *scratch; /* bf16 / int8: the converted source (and its token scales) */
    size_t scratch_cap;
} dnnl_state;

/* The process's one engine (never destroyed: states and packed weights may outlive any
 * exit hook, and it stays reachable). */
static dnnl_engine_t g_eng;
static pthread_once_t g_eng_once = PTHREAD_ONCE_INIT;

/* oneDNN's ISA for the features $TORCHLESS_ISA leaves usable (AMX: no cap). */
static dnnl_cpu_isa_t dnnl_isa_of(unsigned u) {
    if ((u & (TL_CPU_AMX_TILE | TL_CPU_AMX_OS)) == (TL_CPU_AMX_TILE | TL_CPU_AMX_OS)) return dnnl_cpu_isa_all;
    if (u & TL_CPU_AVX512_BF16) return dnnl_cpu_isa_avx512_core_bf16;
    if (u & TL_CPU_AVX512_VNNI) return dnnl_cpu_isa_avx512_core_vnni;
    if (u & TL_CPU_AVX512) return dnnl_cpu_isa_avx512_core;
    if (u & TL_CPU_AVX_VNNI) return dnnl_cpu_isa_avx2_vnni;
    if (u & TL_CPU_AVX2) return dnnl_cpu_isa_avx2;
    return dnnl_cpu_isa_sse41;
}

/* With a valid $TORCHLESS_ISA, caps oneDNN's dispatch to the same class before any other
 * oneDNN call (it can be set once per process), so a forced lower path runs lower in
 * oneDNN's kernels too; unset, oneDNN chooses (and honours ONEDNN_MAX_CPU_ISA). */
static void isa_cap_once(void) {
    const char *e = getenv("TORCHLESS_ISA");
    tl_isa_cap c;
    if (e && *e && tl_isa_cap_parse(e, &c) &&
        (tl_cpu_features() & tl_isa_cap_needs(c)) == tl_isa_cap_needs(c))
        (void)dnnl_set_max_cpu_isa(dnnl_isa_of(tl_cpu_usable()));
}

static pthread_once_t g_isa_once = PTHREAD_ONCE_INIT;

static void engine_create(void) {
    pthread_once(&g_isa_once, isa_cap_once);
    const dnnl_version_t *v = dnnl_version();
    if (!v || (v->cpu_runtime != DNNL_RUNTIME_OMP && v->cpu_runtime != DNNL_RUNTIME_SEQ)) return;
    if (dnnl_engine_create(&g_eng, dnnl_cpu, 0) != dnnl_success) g_eng = NULL;
}

/* Returns 1 when oneDNN is usable (the engine exists); creates it on the first call. */
static int engine_ready(void) {
    pthread_once(&g_eng_once, engine_create);
    return g_eng != NULL;
}

/* Destroys one entry's primitive and memory objects (NULL members are skipped). */
static void entry_free(dnnl_entry *en) {
    if (en->prim) dnnl_primitive_destroy(en->prim);
    if (en->mx) dnnl_memory_destroy(en->mx);
    if (en->mw) dnnl_memory_destroy(en->mw);
    if (en->mb) dnnl_memory_destroy(en->mb);
    if (en->mo) dnnl_memory_destroy(en->mo);
    memset(en, 0, sizeof *en);
}

static tl_gemm_state *dnnl_state_new(void) {
    dnnl_state *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    st->base.be = &tl_gemm_dnnl;
    atomic_flag_clear(&st->busy);
    if (engine_ready() && dnnl_stream_create(&st->strm, g_eng, dnnl_stream_default_flags) != dnnl_success)
        st->strm = NULL;
    return &st->base;
}

static void dnnl_state_free(tl_gemm_state *gs) {
    dnnl_state *st = (dnnl_state *)gs;
    for (size_t i = 0; i < st->n; i++) entry_free(&st->e[i]);
    if (st->strm) dnnl_stream_destroy(st->strm);
    free(st->scratch);
    free(st);
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
 * returns 1 on success (engine ready). */
static int matmul_pd(dnnl_primitive_desc_t *pd, size_t T, size_t C, size_t OC, int has_bias,
                     const dnnl_memory_desc_t *wd, int act) {
    dnnl_memory_desc_t xd, bd, od;
    /* f32 x f32 and bf16 x bf16 (f32 out), u8 x s8 (s32 out: the exact integer sums) */
    const dnnl_data_type_t xdt = wd->data_type == dnnl_s8 ? dnnl_u8 : wd->data_type;
    const dnnl_data_type_t odt = wd->data_type == dnnl_s8 ? dnnl_s32 : dnnl_f32;
    dnnl_dims_t xdims = {(dnnl_dim_t)T, (dnnl_dim_t)C};
    dnnl_dims_t bdims = {1, (dnnl_dim_t)OC};
    dnnl_dims_t odims = {(dnnl_dim_t)T, (dnnl_dim_t)OC};
    dnnl_matmul_desc_t md;
    dnnl_primitive_attr_t attr = NULL;
    *pd = NULL;
    int ok = dnnl_memory_desc_init_by_tag(&xd, 2, xdims, xdt, dnnl_ab) == dnnl_success &&
             dnnl_memory_desc_init_by_tag(&bd, 2, bdims, dnnl_f32, dnnl_ab) == dnnl_success &&
             dnnl_memory_desc_init_by_tag(&od, 2, odims, odt, dnnl_ab) == dnnl_success &&
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
    ok = ok && dnnl_primitive_desc_create(pd, &md, attr, g_eng, NULL) == dnnl_success;
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (!ok) *pd = NULL;
    return ok;
}

/* oneDNN's data type for a weight dtype: f32, bf16 or s8 (f32 for anything else). */
static dnnl_data_type_t dnnl_dt(int dt) {
    return dt == TL_DTYPE_BF16 ? dnnl_bf16 : dt == TL_DTYPE_I8 ? dnnl_s8 : dnnl_f32;
}

/* Fills *wd with the plain (C, OC) descriptor of nn.Linear's (OC, C) row-major weights of
 * dtype dt. */
static int plain_wd(dnnl_memory_desc_t *wd, size_t C, size_t OC, int dt) {
    dnnl_dims_t wdims = {(dnnl_dim_t)C, (dnnl_dim_t)OC};
    return dnnl_memory_desc_init_by_tag(wd, 2, wdims, dnnl_dt(dt), dnnl_ba) == dnnl_success;
}

/* Builds en's primitive and memory objects for its shape (max threads already set to
 * en->nt); returns 0 and leaves en with only a NULL primitive on any failure. */
static int entry_build(dnnl_entry *en) {
    dnnl_memory_desc_t wd;
    dnnl_primitive_desc_t pd = NULL;
    int ok = en->packed ? (wd = en->wmd, 1) : plain_wd(&wd, en->C, en->OC, en->wdt);
    ok = ok && matmul_pd(&pd, en->T, en->C, en->OC, en->has_bias, &wd, en->act);
    /* oneDNN's reference kernel is a plain loop; the fallbacks run BLAS or the packed matmul */
    const char *impl = NULL;
    ok = ok && dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success &&
         impl && strncmp(impl, "ref", 3) != 0;
    ok = ok && dnnl_primitive_create(&en->prim, pd) == dnnl_success;
    if (!ok) en->prim = NULL;
    /* data handles are set per call; DNNL_MEMORY_NONE allocates nothing */
    ok = ok && dnnl_memory_create(&en->mx, dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0),
                                  g_eng, DNNL_MEMORY_NONE) == dnnl_success;
    ok = ok && dnnl_memory_create(&en->mw, &wd, g_eng, DNNL_MEMORY_NONE) == dnnl_success;
    ok = ok && (!en->has_bias ||
                dnnl_memory_create(&en->mb, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1),
                                   g_eng, DNNL_MEMORY_NONE) == dnnl_success);
    ok = ok && dnnl_memory_create(&en->mo, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0),
                                  g_eng, DNNL_MEMORY_NONE) == dnnl_success;
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

/* Returns st's cache entry matching key (its shape fields), creating it (evicting the
 * least recently used when full) on a miss; st is held by the caller. The entry's prim is
 * NULL when oneDNN refused the shape. */
static dnnl_entry *entry_get(dnnl_state *st, const dnnl_entry *key) {
    st->tick++;
    for (size_t i = 0; i < st->n; i++) {
        dnnl_entry *en = &st->e[i];
        if (en->T == key->T && en->C == key->C && en->OC == key->OC &&
            en->has_bias == key->has_bias && en->nt == key->nt && en->packed == key->packed &&
            en->act == key->act && en->wdt == key->wdt && (!en->packed || dnnl_memory_desc_equal(&en->wmd, &key->wmd))) {
            en->used = st->tick;
            return en;
        }
    }
    dnnl_entry *en;
    if (st->n < TL_DNNL_CACHE_MAX) {
        en = &st->e[st->n++];
    } else {
        en = &st->e[0];
        for (size_t i = 1; i < st->n; i++)
            if (st->e[i].used < en->used) en = &st->e[i];
        entry_free(en);
    }
    *en = *key;
    en->used = st->tick;
    en->prim = NULL;
    en->mx = en->mw = en->mb = en->mo = NULL;
    entry_build(en);
    return en;
}

/* Points the entry's memory objects at the caller's buffers and runs it on stream s;
 * returns 1 on success, 0 when oneDNN reported an error (out is then rewritten by the
 * caller). */
static int entry_run(dnnl_entry *en, dnnl_stream_t s, const void *x, const void *w, const float *b,
                     float *out) {
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

/* Runs the primitive for key on st's cache and stream, or with st NULL on a one-shot
 * primitive and a private stream; returns 1 on success. */
static int run_key(dnnl_state *st, const dnnl_entry *key, const void *x, const void *w,
                   const float *b, float *out) {
    if (st) {
        dnnl_entry *en = entry_get(st, key);
        return en->prim && entry_run(en, st->strm, x, w, b, out);
    }
    dnnl_entry en = *key;
    en.prim = NULL;
    en.mx = en.mw = en.mb = en.mo = NULL;
    dnnl_stream_t s = NULL;
    int ok = entry_build(&en) &&
             dnnl_stream_create(&s, g_eng, dnnl_stream_default_flags) == dnnl_success &&
             entry_run(&en, s, x, w, b, out);
    if (s) dnnl_stream_destroy(s);
    entry_free(&en);
    return ok;
}

/* Runs out = x @ W^T + b on oneDNN with plain w or packed pk (one of them set) and act (-1:
 * none) fused when oneDNN has an optimized kernel for it, on gs's stream and cache (a
 * one-shot primitive when gs is NULL or busy); returns DONE, DONE_NO_ACT or NOT_DONE
 * (oneDNN unavailable or refused: out undefined then). */
/* Returns 1 when oneDNN can run a (T, C) x (C, OC) linear on gs (NULL: a one-shot one). */
static int dnnl_usable(const dnnl_state *gs, size_t T, size_t C, size_t OC) {
    if (C == 0 || T > INT32_MAX || C > INT32_MAX || OC > INT32_MAX || !engine_ready()) return 0;
    return !gs || gs->strm;
}

/* The threads a call runs oneDNN on: inside someone else's parallel region, the calling
 * thread alone. */
static int dnnl_threads(void) { return omp_in_parallel() ? 1 : tl_threads_get(); }

/* Claims gs for this call: gs when it was idle, else NULL (the call runs one-shot). */
static dnnl_state *state_claim(dnnl_state *gs) {
    return gs && !atomic_flag_test_and_set_explicit(&gs->busy, memory_order_acquire) ? gs : NULL;
}
static void state_release(dnnl_state *st) {
    if (st) atomic_flag_clear_explicit(&st->busy, memory_order_release);
}

/* dnnl_linear's body on a claimed state st (or NULL: one-shot), threads already set to
 * nt; x and w of dtype wdt (pk's data instead of w when pk is set). */
static int dnnl_linear_on(dnnl_state *st, int nt, const void *x, const void *w, int wdt,
                          const tl_packed *pk, const float *b, float *out, size_t T, size_t C,
                          size_t OC, int act) {
    int done = NOT_DONE;
    dnnl_entry key = {.T = T, .C = C, .OC = OC, .has_bias = b != NULL, .nt = nt,
                      .packed = pk != NULL, .act = act, .wdt = wdt};
    if (pk) key.wmd = *(const dnnl_memory_desc_t *)pk->desc;
    const void *wd = pk ? pk->data : w;
    if (run_key(st, &key, x, wd, b, out)) done = DONE;
    if (!done && act >= 0) {
        /* no optimized kernel with the activation fused: the plain matmul (for packed
         * weights the one dnnl_pack checked); the caller applies the activation */
        key.act = -1;
        if (run_key(st, &key, x, wd, b, out)) done = DONE_NO_ACT;
    }
    return done;
}

static int dnnl_linear(dnnl_state *gs, const float *x, const float *w, const tl_packed *pk,
                       const float *b, float *out, size_t T, size_t C, size_t OC, int act) {
    if (!dnnl_usable(gs, T, C, OC)) return NOT_DONE;
    int nt = dnnl_threads();
    int prev = omp_get_max_threads();
    if (prev != nt) omp_set_num_threads(nt);
    dnnl_state *st = state_claim(gs);
    int done = dnnl_linear_on(st, nt, x, w, TL_DTYPE_F32, pk, b, out, T, C, OC, act);
    state_release(st);
    if (prev != nt) omp_set_num_threads(prev);
    return done;
}

/* Returns the plain (OC, C) weights of a bf16 / int8 record for the reference fallback:
 * L->w, or a malloc'd copy unpacked from L->pk (*owned set; NULL on OOM). */
static const void *lowp_plain(const tl_linear *L, void **owned);

/* bf16 and int8 records: x converted (bf16) or quantized per token to u8 (int8) into st's
 * scratch (or a call-local buffer when st is NULL), oneDNN's matmul (bias and act fused
 * for bf16; int8's s32 sums dequantized with the bias in tl_dequant_rows_u8, in place in
 * y), else the scalar reference. Returns 1 when act was applied. */
static int dnnl_lowp_linear(dnnl_state *gs, const tl_linear *L, const float *x, float *y, size_t T,
                            int act) {
    const size_t C = L->in, OC = L->out;
    const int wdt = L->wtype, i8 = wdt == TL_DTYPE_I8;
    const tl_packed *pk = L->pk && L->pk->be == &tl_gemm_dnnl ? L->pk : NULL;
    dnnl_alg_kind_t alg;
    float alpha;
    int done = NOT_DONE;
    if (i8 || (act >= 0 && !eltwise_of(act, &alg, &alpha))) act = -1, done = DONE_NO_ACT;
    /* bytes: the converted source, then (int8) T token scales and T zero points */
    const size_t xbytes = (T * C * (i8 ? 1 : 2) + 63) / 64 * 64;
    const size_t need = xbytes + (i8 ? T * (sizeof(float) + sizeof(int32_t)) : 0);
    int ran = 0;
    /* int8 only on dot-product instructions: oneDNN's older int8 kernels (VPMADDUBSW)
     * saturate u8 x s8 pairs at 16 bits; such a CPU runs the reference instead */
    const int i8_exact = (tl_cpu_usable() & (TL_CPU_AVX512_VNNI | TL_CPU_AVX_VNNI | TL_CPU_AMX_INT8)) != 0;
    if (dnnl_usable(gs, T, C, OC) && (pk || L->w) && (!i8 || i8_exact)) {
        int nt = dnnl_threads(), prev = omp_get_max_threads();
        if (prev != nt) omp_set_num_threads(nt);
        dnnl_state *st = state_claim(gs);
        void *buf = NULL, *mine = NULL;
        if (st && st->scratch_cap >= need) buf = st->scratch;
        else if (st) {
            free(st->scratch);
            st->scratch = aligned_alloc(64, (need + 63) / 64 * 64);
            st->scratch_cap = st->scratch ? need : 0;
            buf = st->scratch;
        } else buf = mine = aligned_alloc(64, (need + 63) / 64 * 64);
        if (buf) {
            float *xs = i8 ? (float *)((char *)buf + xbytes) : NULL;
            int32_t *zp = i8 ? (int32_t *)(xs + T) : NULL;
            if (i8) tl_quantize_rows_u8(x, L->smooth_inv, buf, xs, zp, T, C);
            else tl_bf16_from_f32(x, buf, T * C);
            int r = dnnl_linear_on(st, nt, buf, L->w, wdt, pk, i8 ? NULL : L->b, y, T, C, OC, act);
            if (r != NOT_DONE) {
                ran = 1;
                if (r == DONE_NO_ACT) done = DONE_NO_ACT;
                else if (done == NOT_DONE) done = DONE;
                /* oneDNN wrote int32 sums into y's memory: read them as such */
                if (i8) tl_dequant_rows_u8((const int32_t *)(void *)y, y, xs, zp, L->scales, L->wsum, L->b, T, OC);
            }
        }
        free(mine);
        state_release(st);
        if (prev != nt) omp_set_num_threads(prev);
    }
    if (!ran) {
        void *owned = NULL;
        const void *w = lowp_plain(L, &owned);
        tl_linear R = *L;
        R.w = w, R.pk = NULL;
        if (w && i8) tl_linear_s8_ref(x, &R, y, T);
        else if (w) tl_linear_bf16_ref(x, w, L->b, y, T, C, OC);
        else for (size_t i = 0; i < T * OC; i++) y[i] = 0.0f; /* OOM with packed-only weights */
        free(owned);
        done = DONE_NO_ACT;
    }
    return done == DONE;
}

/* The backend's linear: packed weights when L has oneDNN's, else plain; act fused where
 * oneDNN can; on refusal the plain oneDNN matmul, then BLAS on plain weights, then
 * tl_packed_linear_ref. Returns 1 when act was applied. */
static int dnnl_backend_linear(tl_gemm_state *gs, const tl_linear *L, const float *x, float *y,
                               size_t T, int act) {
    dnnl_state *st = (dnnl_state *)gs;
    if (L->wtype != TL_DTYPE_F32) return dnnl_lowp_linear(st, L, x, y, T, act);
    const float *w = L->w, *b = L->b;
    const tl_packed *pk = L->pk && L->pk->be == &tl_gemm_dnnl ? L->pk : NULL;
    const size_t C = L->in, OC = L->out;
    dnnl_alg_kind_t alg;
    float alpha;
    int done;
    if (act >= 0 && !eltwise_of(act, &alg, &alpha)) /* no oneDNN post-op for it */
        done = dnnl_linear(st, x, w, pk, b, y, T, C, OC, -1) ? DONE_NO_ACT : NOT_DONE;
    else
        done = dnnl_linear(st, x, w, pk, b, y, T, C, OC, act);
    if (done == NOT_DONE && pk && w && dnnl_linear(st, x, w, NULL, b, y, T, C, OC, -1))
        done = DONE_NO_ACT;
    if (done == NOT_DONE) {
        if (w) tl_linear_blas(x, w, b, y, T, C, OC);
        else tl_packed_linear_ref(x, pk, b, y, T);
        done = DONE_NO_ACT;
    }
    return done == DONE;
}

/* Returns 1 when matmul primitives for a few token counts accept weights laid out as wd
 * with an optimized (not reference) implementation. */
static int layout_serves_every_m(const dnnl_memory_desc_t *wd, size_t C, size_t OC) {
    const size_t ms[] = {1, 37, 4096};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        dnnl_primitive_desc_t pd;
        const char *impl = NULL;
        if (!matmul_pd(&pd, ms[i], C, OC, wd->data_type != dnnl_s8, wd, -1)) return 0;
        int ok = dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success &&
                 impl && strncmp(impl, "ref", 3) != 0;
        dnnl_primitive_desc_destroy(pd);
        if (!ok) return 0;
    }
    return 1;
}

/* Sets *panel (floats per 64-column panel) when md is BA16a64b-style: panels of 64 output
 * columns one after another, each the C rows in blocks of 16 x 64, so row k of panel p is
 * the 64 floats at p * panel + k * 64 (gemm_small.c reads it); returns 0 otherwise. */
static int panel64_layout(const dnnl_memory_desc_t *md, size_t *panel) {
    if (md->ndims != 2 || md->format_kind != dnnl_blocked || md->offset0 != 0) return 0;
    const dnnl_blocking_desc_t *bd = &md->format_desc.blocking;
    if (bd->inner_nblks != 2 || bd->inner_idxs[0] != 0 || bd->inner_idxs[1] != 1 ||
        bd->inner_blks[0] != 16 || bd->inner_blks[1] != 64)
        return 0;
    if (bd->strides[0] != 16 * 64 || bd->strides[1] != md->padded_dims[0] * 64) return 0;
    *panel = (size_t)bd->strides[1];
    return 1;
}

/* Returns w (OC, C) reordered into the layout oneDNN's matmul prefers, or NULL when that
 * layout is the plain one (nothing to gain), does not serve every token count, oneDNN is
 * unavailable, or on any failure. Runs the reorder on a private stream. */
static tl_packed *dnnl_pack(const void *wv, tl_dtype dt, size_t C, size_t OC) {
    const void *w = wv;
    if (!w || !(tl_gemm_dnnl.pack_dtypes & TL_DTYPE_BIT(dt)) || C == 0 || OC == 0 || C > INT32_MAX || OC > INT32_MAX ||
        !engine_ready())
        return NULL;
    int nt = tl_threads_get(), prev = omp_get_max_threads();
    if (prev != nt) omp_set_num_threads(nt);
    tl_packed *pk = NULL;
    dnnl_memory_desc_t plain, any;
    dnnl_dims_t wdims = {(dnnl_dim_t)C, (dnnl_dim_t)OC};
    dnnl_primitive_desc_t pd = NULL, rpd = NULL;
    dnnl_primitive_t r = NULL;
    dnnl_memory_t src = NULL, dst = NULL;
    dnnl_stream_t s = NULL;
    int ok = plain_wd(&plain, C, OC, dt) &&
             dnnl_memory_desc_init_by_tag(&any, 2, wdims, dnnl_dt(dt), dnnl_format_tag_any) == dnnl_success &&
             matmul_pd(&pd, TL_DNNL_PACK_M, C, OC, dt != TL_DTYPE_I8, &any, -1);
    const dnnl_memory_desc_t *pref = ok ? dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0) : NULL;
    ok = ok && pref && pref->format_kind == dnnl_blocked && !dnnl_memory_desc_equal(pref, &plain) &&
         layout_serves_every_m(pref, C, OC);
    ok = ok && (pk = calloc(1, sizeof *pk)) != NULL && (pk->desc = malloc(sizeof *pref)) != NULL;
    dnnl_memory_desc_t *md = ok ? pk->desc : NULL;
    if (ok) {
        *md = *pref;
        pk->be = &tl_gemm_dnnl;
        pk->dtype = dt;
        pk->C = C;
        pk->OC = OC;
        pk->layout = dt == TL_DTYPE_F32 && panel64_layout(md, &pk->panel) ? TL_PACK_PANEL64 : TL_PACK_OPAQUE;
        size_t bytes = dnnl_memory_desc_get_size(md);
        pk->data = bytes ? aligned_alloc(64, (bytes + 63) / 64 * 64) : NULL;
        ok = pk->data != NULL;
    }
    ok = ok && dnnl_stream_create(&s, g_eng, dnnl_stream_default_flags) == dnnl_success &&
         dnnl_memory_create(&src, &plain, g_eng, (void *)w) == dnnl_success &&
         dnnl_memory_create(&dst, md, g_eng, pk->data) == dnnl_success &&
         dnnl_reorder_primitive_desc_create(&rpd, &plain, g_eng, md, g_eng, NULL) == dnnl_success &&
         dnnl_primitive_create(&r, rpd) == dnnl_success;
    if (ok) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
        ok = dnnl_primitive_execute(r, s, 2, args) == dnnl_success && dnnl_stream_wait(s) == dnnl_success;
    }
    if (r) dnnl_primitive_destroy(r);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (src) dnnl_memory_destroy(src);
    if (dst) dnnl_memory_destroy(dst);
    if (s) dnnl_stream_destroy(s);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (prev != nt) omp_set_num_threads(prev);
    if (!ok && pk) {
        tl_packed_free(pk);
        pk = NULL;
    }
    return pk;
}

/* Offset, in floats, of weight (c, o) — matmul row c, column o — inside pk's blocked
 * layout (strides of the outer blocks, then the inner blocks innermost last). */
static size_t packed_offset(const tl_packed *pk, size_t c, size_t o) {
    const dnnl_memory_desc_t *md = pk->desc;
    const dnnl_blocking_desc_t *bd = &md->format_desc.blocking;
    dnnl_dim_t blk[2] = {1, 1};
    for (int i = 0; i < bd->inner_nblks; i++) blk[bd->inner_idxs[i]] *= bd->inner_blks[i];
    dnnl_dim_t rem[2] = {(dnnl_dim_t)c % blk[0], (dnnl_dim_t)o % blk[1]};
    dnnl_dim_t off = md->offset0 + ((dnnl_dim_t)c / blk[0]) * bd->strides[0] +
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

/* Attention's products: oneDNN's sgemm (AVX-512 where the CPU has it, whatever OpenBLAS
 * detects; single-threaded inside our parallel region) was 1.1-1.2x faster than
 * OpenBLAS's on these shapes; OpenBLAS is the fallback should it refuse, and runs
 * TL_MATMUL_BLAS products. */
static void dnnl_backend_matmul(tl_gemm_state *st, int flags, size_t M, size_t N, size_t K, const float *A,
                        size_t lda, const float *B, size_t ldb, float *C, size_t ldc) {
    (void)st;
    pthread_once(&g_isa_once, isa_cap_once);
    if (!(flags & TL_MATMUL_BLAS) &&
        dnnl_sgemm('N', (flags & TL_MATMUL_TRANS_B) ? 'T' : 'N', (dnnl_dim_t)M, (dnnl_dim_t)N,
                   (dnnl_dim_t)K, 1.0f, A, (dnnl_dim_t)lda, B, (dnnl_dim_t)ldb, 0.0f, C,
                   (dnnl_dim_t)ldc) == dnnl_success)
        return;
    tl_matmul_blas(flags, M, N, K, A, lda, B, ldb, C, ldc);
}

static const void *lowp_plain(const tl_linear *L, void **owned) {
    *owned = NULL;
    if (L->w) return L->w;
    const tl_packed *pk = L->pk;
    if (!pk || pk->be != &tl_gemm_dnnl) return NULL;
    const size_t es = tl_dtype_size(pk->dtype), C = pk->C, OC = pk->OC;
    char *plain = malloc(C * OC * es);
    if (!plain) return NULL;
    for (size_t o = 0; o < OC; o++)
        for (size_t c = 0; c < C; c++)
            memcpy(plain + (o * C + c) * es, (const char *)pk->data + packed_offset(pk, c, o) * es, es);
    *owned = plain;
    return plain;
}

/* The implementation oneDNN picks for a (128, 384) x (384, 1536) matmul on weights of dtype
 * dt in their preferred layout (the source as the linear layer passes it), e.g.
 * "brg:avx512_core_amx_bf16"; "unavailable" when oneDNN refuses. Computed once per dtype. */
static const char *dnnl_impl(tl_dtype dt) {
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static char names[3][64];
    const int k = dt == TL_DTYPE_BF16 ? 1 : dt == TL_DTYPE_I8 ? 2 : 0;
    pthread_mutex_lock(&mu);
    if (!names[k][0]) {
        dnnl_memory_desc_t any;
        dnnl_dims_t wdims = {384, 1536};
        dnnl_primitive_desc_t pd = NULL;
        const char *impl = NULL;
        snprintf(names[k], sizeof names[k], "unavailable");
        if (engine_ready() &&
            dnnl_memory_desc_init_by_tag(&any, 2, wdims, dnnl_dt(dt), dnnl_format_tag_any) == dnnl_success &&
            matmul_pd(&pd, 128, 384, 1536, dt != TL_DTYPE_I8, &any, -1) &&
            dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
            snprintf(names[k], sizeof names[k], "%s", impl);
        if (pd) dnnl_primitive_desc_destroy(pd);
    }
    pthread_mutex_unlock(&mu);
    return names[k];
}

const tl_gemm_backend tl_gemm_dnnl = {
    .name = "dnnl",
    .dtypes = TL_DTYPE_BIT(TL_DTYPE_F32) | TL_DTYPE_BIT(TL_DTYPE_BF16) | TL_DTYPE_BIT(TL_DTYPE_I8),
    .pack_dtypes = TL_DTYPE_BIT(TL_DTYPE_F32) | TL_DTYPE_BIT(TL_DTYPE_BF16) | TL_DTYPE_BIT(TL_DTYPE_I8),
    .state_new = dnnl_state_new,
    .state_free = dnnl_state_free,
    .pack = dnnl_pack,
    .linear = dnnl_backend_linear,
    .matmul = dnnl_backend_matmul,
    .impl = dnnl_impl,
};

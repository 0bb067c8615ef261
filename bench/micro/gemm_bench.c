/* gemm_bench.c — standalone microbenchmark of the linear layers of an encoder:
 * out (M, N) = x (M, K) @ w (N, K)^T (+ bias, + GELU), w stored as nn.Linear stores it.
 *
 * Compares, at the thread count of OMP_NUM_THREADS (OpenBLAS-openmp and oneDNN share
 * libgomp's pool):
 *   openblas        cblas_sgemm(NoTrans, Trans) — what src/kernels/gemm_blas.c calls
 *   dnnl_sgemm      oneDNN's BLAS-like sgemm, same layout, no packing
 *   dnnl_matmul     oneDNN matmul primitive on the plain (N, K) weights, bias fused
 *   dnnl_packed     oneDNN matmul with weights reordered once to its blocked layout
 *                   (what "pre-pack at load" would give), bias fused
 * and, for the epilogue of the FFN-in GEMM (--epilogue), bias+GELU done as
 *   sep             sgemm, then a bias pass, then a GELU pass (torchless today)
 *   fused           sgemm, then one bias+GELU pass
 *   rowblock        rows split in blocks of 64, one block per thread: single-threaded sgemm
 *                   then bias+GELU on the block while it is still in L2
 *   dnnl_post       oneDNN packed matmul with bias + gelu_erf post-op (fully fused)
 *
 * Usage: gemm_bench [--epilogue] [--budget SEC] M,K,N [M,K,N ...]
 * Prints one JSON object per line: {"mode":..,"M":..,"K":..,"N":..,"ms":..,"gflops":..}.
 * Built by bench/micro/Makefile; not part of the library or of `make test`. */
#define _GNU_SOURCE
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

#include "kernels/fastmath.h" /* the engine's vectorized erf, read-only */

static double budget = 0.4; /* seconds of timed runs per (mode, shape) */

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef void (*run_fn)(void *ctx);

/* Median seconds of fn(ctx): 3 warm-ups, then runs until budget spent (5..200 runs). */
static double time_median(run_fn fn, void *ctx) {
    for (int i = 0; i < 3; i++) fn(ctx);
    double ts[200];
    int n = 0;
    double start = now();
    while (n < 200 && (n < 5 || now() - start < budget)) {
        double t0 = now();
        fn(ctx);
        ts[n++] = now() - t0;
    }
    qsort(ts, (size_t)n, sizeof ts[0], cmp_d);
    return ts[n / 2];
}

typedef struct shape_ctx {
    int M, K, N;
    float *x, *w, *b, *out;
#ifdef HAVE_DNNL
    dnnl_primitive_t prim;
    dnnl_memory_t mx, mw, mb, mo;
#endif
} shape_ctx;

static void run_openblas(void *p) {
    shape_ctx *c = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->M, c->N, c->K, 1.0f, c->x, c->K,
                c->w, c->K, 0.0f, c->out, c->N);
}

static void bias_pass(float *out, const float *b, int M, int N) {
#pragma omp parallel for schedule(static)
    for (int t = 0; t < M; t++)
        for (int o = 0; o < N; o++) out[(size_t)t * N + o] += b[o];
}

__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma")))
static void gelu_rows(float *x, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        tl_v16f v = tl_v16_load(x + i);
        tl_v16_store(x + i, 0.5f * v * (1.0f + tl_erf_v16(v * 0.70710678118654752f)));
    }
    for (; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + tl_erf(x[i] * 0.70710678118654752f));
}

__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma")))
static void bias_gelu_row(float *x, const float *b, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        tl_v16f v = tl_v16_load(x + i) + tl_v16_load(b + i);
        tl_v16_store(x + i, 0.5f * v * (1.0f + tl_erf_v16(v * 0.70710678118654752f)));
    }
    for (; i < n; i++) {
        float v = x[i] + b[i];
        x[i] = 0.5f * v * (1.0f + tl_erf(v * 0.70710678118654752f));
    }
}

static void run_sep(void *p) { /* torchless today: sgemm, bias pass, GELU pass */
    shape_ctx *c = p;
    run_openblas(c);
    bias_pass(c->out, c->b, c->M, c->N);
    const size_t n = (size_t)c->M * c->N, chunk = 16384;
    const long nc = (long)((n + chunk - 1) / chunk);
#pragma omp parallel for schedule(static)
    for (long k = 0; k < nc; k++) {
        size_t s = (size_t)k * chunk;
        gelu_rows(c->out + s, n - s < chunk ? n - s : chunk);
    }
}

static void run_fused(void *p) { /* sgemm, then one bias+GELU pass */
    shape_ctx *c = p;
    run_openblas(c);
#pragma omp parallel for schedule(static)
    for (int t = 0; t < c->M; t++) bias_gelu_row(c->out + (size_t)t * c->N, c->b, (size_t)c->N);
}

static void run_rowblock(void *p) { /* per-thread row blocks, epilogue while in cache */
    shape_ctx *c = p;
    const int BR = 64, nb = (c->M + BR - 1) / BR;
#pragma omp parallel for schedule(dynamic, 1)
    for (int blk = 0; blk < nb; blk++) {
        int r0 = blk * BR, rows = c->M - r0 < BR ? c->M - r0 : BR;
        /* OpenBLAS-openmp runs single-threaded inside an OpenMP parallel region */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, c->N, c->K, 1.0f,
                    c->x + (size_t)r0 * c->K, c->K, c->w, c->K, 0.0f,
                    c->out + (size_t)r0 * c->N, c->N);
        for (int t = r0; t < r0 + rows; t++)
            bias_gelu_row(c->out + (size_t)t * c->N, c->b, (size_t)c->N);
    }
}

static void run_rowblock_plain(void *p) { /* same split, no epilogue: the GEMM alone */
    shape_ctx *c = p;
    const int BR = 64, nb = (c->M + BR - 1) / BR;
#pragma omp parallel for schedule(dynamic, 1)
    for (int blk = 0; blk < nb; blk++) {
        int r0 = blk * BR, rows = c->M - r0 < BR ? c->M - r0 : BR;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, c->N, c->K, 1.0f,
                    c->x + (size_t)r0 * c->K, c->K, c->w, c->K, 0.0f,
                    c->out + (size_t)r0 * c->N, c->N);
    }
}

#ifdef HAVE_DNNL
static dnnl_engine_t eng;
static dnnl_stream_t strm;

#define DN(call)                                                                   \
    do {                                                                           \
        dnnl_status_t st_ = (call);                                                \
        if (st_ != dnnl_success) {                                                 \
            fprintf(stderr, "gemm_bench: %s failed (%d)\n", #call, (int)st_);      \
            exit(1);                                                               \
        }                                                                          \
    } while (0)

static void run_dnnl_sgemm(void *p) {
    shape_ctx *c = p;
    DN(dnnl_sgemm('N', 'T', c->M, c->N, c->K, 1.0f, c->x, c->K, c->w, c->K, 0.0f, c->out, c->N));
}

static void run_dnnl_prim(void *p) {
    shape_ctx *c = p;
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, c->mx}, {DNNL_ARG_WEIGHTS, c->mw},
                               {DNNL_ARG_BIAS, c->mb}, {DNNL_ARG_DST, c->mo}};
    DN(dnnl_primitive_execute(c->prim, strm, 4, args));
    DN(dnnl_stream_wait(strm));
}

/* Builds c->prim: matmul x (M,K) @ w^T + b; packed: weights reordered to the layout the
 * primitive prefers; gelu: gelu_erf post-op. Frees the previous one. */
static void dnnl_setup(shape_ctx *c, int packed, int gelu) {
    if (c->prim) {
        dnnl_primitive_destroy(c->prim);
        dnnl_memory_destroy(c->mx);
        dnnl_memory_destroy(c->mw);
        dnnl_memory_destroy(c->mb);
        dnnl_memory_destroy(c->mo);
        c->prim = NULL;
    }
    dnnl_memory_desc_t xd, wd_plain, wd_any, bd, od;
    dnnl_dims_t xdims = {c->M, c->K}, wdims = {c->K, c->N}, bdims = {1, c->N}, odims = {c->M, c->N};
    DN(dnnl_memory_desc_init_by_tag(&xd, 2, xdims, dnnl_f32, dnnl_ab));
    DN(dnnl_memory_desc_init_by_tag(&wd_plain, 2, wdims, dnnl_f32, dnnl_ba)); /* (N,K) rows */
    DN(dnnl_memory_desc_init_by_tag(&wd_any, 2, wdims, dnnl_f32, packed ? dnnl_format_tag_any : dnnl_ba));
    DN(dnnl_memory_desc_init_by_tag(&bd, 2, bdims, dnnl_f32, dnnl_ab));
    DN(dnnl_memory_desc_init_by_tag(&od, 2, odims, dnnl_f32, dnnl_ab));
    dnnl_matmul_desc_t md;
    DN(dnnl_matmul_desc_init(&md, &xd, &wd_any, &bd, &od));
    dnnl_primitive_attr_t attr;
    DN(dnnl_primitive_attr_create(&attr));
    if (gelu) {
        dnnl_post_ops_t po;
        DN(dnnl_post_ops_create(&po));
        DN(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_gelu_erf, 0.0f, 0.0f));
        DN(dnnl_primitive_attr_set_post_ops(attr, po));
        dnnl_post_ops_destroy(po);
    }
    dnnl_primitive_desc_t pd;
    DN(dnnl_primitive_desc_create(&pd, &md, attr, eng, NULL));
    dnnl_primitive_attr_destroy(attr);
    const dnnl_memory_desc_t *wd_pref = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    DN(dnnl_memory_create(&c->mx, &xd, eng, c->x));
    DN(dnnl_memory_create(&c->mb, &bd, eng, c->b));
    DN(dnnl_memory_create(&c->mo, &od, eng, c->out));
    if (packed) { /* reorder the (N,K) weights once, as a model load would */
        dnnl_memory_t src;
        DN(dnnl_memory_create(&src, &wd_plain, eng, c->w));
        DN(dnnl_memory_create(&c->mw, wd_pref, eng, DNNL_MEMORY_ALLOCATE));
        dnnl_primitive_desc_t rpd;
        dnnl_primitive_t r;
        DN(dnnl_reorder_primitive_desc_create(&rpd, &wd_plain, eng, wd_pref, eng, NULL));
        DN(dnnl_primitive_create(&r, rpd));
        dnnl_exec_arg_t ra[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, c->mw}};
        DN(dnnl_primitive_execute(r, strm, 2, ra));
        DN(dnnl_stream_wait(strm));
        dnnl_primitive_destroy(r);
        dnnl_primitive_desc_destroy(rpd);
        dnnl_memory_destroy(src);
    } else {
        DN(dnnl_memory_create(&c->mw, &wd_plain, eng, c->w));
    }
    DN(dnnl_primitive_create(&c->prim, pd));
    dnnl_primitive_desc_destroy(pd);
}
#endif

static void report(const char *mode, const shape_ctx *c, double sec) {
    double flops = 2.0 * c->M * c->N * (double)c->K;
    printf("{\"mode\": \"%s\", \"M\": %d, \"K\": %d, \"N\": %d, \"ms\": %.4f, \"gflops\": %.2f}\n",
           mode, c->M, c->K, c->N, sec * 1e3, flops / sec * 1e-9);
    fflush(stdout);
}

static float *rand_buf(size_t n, unsigned *seed) {
    float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    if (!p) { fprintf(stderr, "gemm_bench: out of memory\n"); exit(1); }
    for (size_t i = 0; i < n; i++) p[i] = (float)rand_r(seed) / (float)RAND_MAX - 0.5f;
    return p;
}

int main(int argc, char **argv) {
    int epilogue = 0, argi = 1;
    for (; argi < argc && argv[argi][0] == '-'; argi++) {
        if (strcmp(argv[argi], "--epilogue") == 0) epilogue = 1;
        else if (strcmp(argv[argi], "--budget") == 0 && argi + 1 < argc) budget = atof(argv[++argi]);
        else { fprintf(stderr, "usage: gemm_bench [--epilogue] [--budget SEC] M,K,N ...\n"); return 2; }
    }
#ifdef HAVE_DNNL
    DN(dnnl_engine_create(&eng, dnnl_cpu, 0));
    DN(dnnl_stream_create(&strm, eng, dnnl_stream_default_flags));
#endif
    fprintf(stderr, "gemm_bench: %d OpenMP threads\n", omp_get_max_threads());
    unsigned seed = 1234;
    for (; argi < argc; argi++) {
        shape_ctx c;
        memset(&c, 0, sizeof c);
        if (sscanf(argv[argi], "%d,%d,%d", &c.M, &c.K, &c.N) != 3 || c.M <= 0 || c.K <= 0 || c.N <= 0) {
            fprintf(stderr, "gemm_bench: bad shape '%s' (want M,K,N)\n", argv[argi]);
            return 2;
        }
        c.x = rand_buf((size_t)c.M * c.K, &seed);
        c.w = rand_buf((size_t)c.N * c.K, &seed);
        c.b = rand_buf((size_t)c.N, &seed);
        c.out = rand_buf((size_t)c.M * c.N, &seed);
        if (!epilogue) {
            report("openblas", &c, time_median(run_openblas, &c));
            report("openblas_rowblock", &c, time_median(run_rowblock_plain, &c));
#ifdef HAVE_DNNL
            report("dnnl_sgemm", &c, time_median(run_dnnl_sgemm, &c));
            dnnl_setup(&c, 0, 0);
            report("dnnl_matmul", &c, time_median(run_dnnl_prim, &c));
            dnnl_setup(&c, 1, 0);
            report("dnnl_packed", &c, time_median(run_dnnl_prim, &c));
#endif
        } else {
            report("openblas_only", &c, time_median(run_openblas, &c));
            report("sep", &c, time_median(run_sep, &c));
            report("fused", &c, time_median(run_fused, &c));
            report("rowblock", &c, time_median(run_rowblock, &c));
#ifdef HAVE_DNNL
            dnnl_setup(&c, 1, 1);
            report("dnnl_post", &c, time_median(run_dnnl_prim, &c));
#endif
        }
#ifdef HAVE_DNNL
        if (c.prim) {
            dnnl_primitive_destroy(c.prim);
            dnnl_memory_destroy(c.mx);
            dnnl_memory_destroy(c.mw);
            dnnl_memory_destroy(c.mb);
            dnnl_memory_destroy(c.mo);
        }
#endif
        free(c.x); free(c.w); free(c.b); free(c.out);
    }
    return 0;
}

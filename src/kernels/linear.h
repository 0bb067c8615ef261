/* linear.h — a linear layer that carries its precision, and the GEMM backends that run
 * it. Shapes llm.c-style: x is (T, in) row-major, w is (out, in) as nn.Linear stores it,
 * y is (T, out).
 *
 * A backend (oneDNN, OpenBLAS, the scalar reference) declares the weight dtypes it runs
 * and packs; its per-caller state (oneDNN: a stream and a cache of primitives and memory
 * objects) lives in a tl_gemm_state that one caller uses at a time, so callers with
 * different states never share anything mutable and never wait on a lock. */
#ifndef TL_KERNELS_LINEAR_H
#define TL_KERNELS_LINEAR_H
#include <stddef.h>
#include <stdint.h>

#include "core/dtype.h"

typedef struct tl_gemm_backend tl_gemm_backend;

/* How a packed weight's data is laid out. */
typedef enum tl_pack_layout {
    TL_PACK_OPAQUE = 0, /* only the backend that made it reads it (through desc) */
    TL_PACK_PANEL64,    /* 64-column panels, panel p at data + p * panel (elements), row k of
                         * it the 64 elements at + k * 64; columns past out are zero */
} tl_pack_layout;

/* One linear layer's weights packed once, at load, by a backend (tl_linear_pack); freed
 * with tl_packed_free. */
typedef struct tl_packed {
    tl_pack_layout layout;
    tl_dtype dtype;          /* of data */
    size_t C, OC;            /* in, out */
    void *data;              /* 64-byte aligned, owned */
    size_t panel;            /* TL_PACK_PANEL64: elements per panel (>= C * 64) */
    void *desc;              /* backend-private description (malloc'd, owned), or NULL */
    const tl_gemm_backend *be; /* the backend that packed it */
} tl_packed;

typedef struct tl_linear tl_linear;

/* Load-time instrumentation of one linear record, for the accuracy guard's calibration
 * runs (NULL on a serving model; the model is not shared while it is set). */
typedef struct tl_linear_probe {
    float *amax;          /* (in) or NULL: max |x[t, c]| over every call folded in */
    const tl_linear *ref; /* or NULL: each call also runs this fp32 twin on the same x and
                           * folds the row-wise difference into the two fields below */
    double max_rel;       /* worst ||y - y_ref|| / ||y_ref|| over the rows seen (start 0) */
    double min_cos;       /* least cosine(y, y_ref) over them (start 1) */
} tl_linear_probe;

/* One linear layer: y (T, out) = act(x (T, in) @ w^T + b).
 * int8 (I8) records: w = rint(w_fp32[o, c] * smooth[c] / scales[o]) in [-127, 127] and
 * x quantized per token to u8 with a zero point after dividing channel c by smooth[c]
 * (SmoothQuant-style: the two cancel in the product); y = scales[o] * scale_x[t] *
 * (sum_c q_x q_w - zp[t] * wsum[o]) + b (kernels/quant.h). */
struct tl_linear {
    size_t in, out;          /* C and OC: x is (T, in), w is (out, in), y is (T, out) */
    tl_dtype wtype;          /* dtype of w: F32, BF16 (uint16_t), or I8 (int8_t, with scales) */
    const void *w;           /* plain weights (out, in) row-major, or NULL once packed and dropped */
    tl_packed *pk;           /* the backend's packed form, or NULL */
    const float *scales;     /* I8: per-output-channel weight scales (out), else NULL */
    const int32_t *wsum;     /* I8: per-output-channel sums of the s8 weights (out), else NULL */
    const float *smooth_inv; /* I8: 1 / smooth[c] (in), or NULL (no smoothing) */
    const float *b;          /* bias (out), or NULL */
    tl_linear_probe *probe;  /* load-time calibration only, else NULL */
};

/* One caller's backend state (oneDNN: a stream and its LRU cache of primitives + memory
 * objects). Callers treat it as opaque; each backend's state begins with this head. */
typedef struct tl_gemm_state {
    const tl_gemm_backend *be; /* NULL in the shared dummy of backends without state */
} tl_gemm_state;

/* What a forward hands to kernels: a backend and the calling context's state for it. */
typedef struct tl_gemm {
    const tl_gemm_backend *be;
    tl_gemm_state *st;
} tl_gemm;

/* No activation after a linear layer (the act argument of tl_linear_forward). */
enum { TL_LINEAR_NO_ACT = -1 };

/* Flags of a backend's matmul entry. */
enum {
    TL_MATMUL_TRANS_B = 1, /* op(B) = B^T, B stored (N, K) */
    TL_MATMUL_BLAS = 2,    /* run it on the backend's BLAS path where it has one (dnnl:
                            * cblas instead of dnnl_sgemm), for products whose numerics
                            * must stay those of cblas_sgemm */
};

/* A GEMM implementation behind the one linear interface. Entries may be NULL where said. */
struct tl_gemm_backend {
    const char *name;
    unsigned dtypes;      /* TL_DTYPE_BIT mask of the weight dtypes linear runs */
    unsigned pack_dtypes; /* TL_DTYPE_BIT mask of the weight dtypes pack packs */
    /* A new per-caller state, NULL only on OOM; NULL entries: the backend keeps no state. */
    tl_gemm_state *(*state_new)(void);
    void (*state_free)(tl_gemm_state *st);
    /* w (OC, C) of dtype dt (one of pack_dtypes) packed, or NULL when the backend prefers
     * the plain layout or packing failed. May use a private stream; thread-safe. */
    tl_packed *(*pack)(const void *w, tl_dtype dt, size_t C, size_t OC);
    /* y (T, out) = x @ W^T + b for L (L->wtype in dtypes; L->pk, when set, made by this
     * backend), with act (TL_LINEAR_NO_ACT: none) fused when it can; returns 1 when it
     * applied act, 0 when the caller must. T >= 1, out >= 1. st may be NULL (a record
     * run on a backend other than its gemm's): then it runs without cached state.
     * Never fails. */
    int (*linear)(tl_gemm_state *st, const tl_linear *L, const float *x, float *y, size_t T, int act);
    /* C (M, N) = A (M, K) @ op(B), row-major with leading dims, flags TL_MATMUL_*; runs on
     * the calling thread (called inside OpenMP parallel regions); st may be NULL. */
    void (*matmul)(tl_gemm_state *st, int flags, size_t M, size_t N, size_t K, const float *A,
                   size_t lda, const float *B, size_t ldb, float *C, size_t ldc);
    /* Static name of the kernel the backend's library runs for weights of dtype dt on an
     * encoder-sized shape (oneDNN: its implementation string), or NULL (no library). */
    const char *(*impl)(tl_dtype dt);
};

/* A new state for be: NULL only on OOM; backends without state return a shared dummy
 * (freeing it is a no-op). Free with tl_gemm_state_free (NULL is ignored). A state is used
 * by one thread at a time; oneDNN's also tolerates overlapping use (an overlapping call
 * runs on a private one-shot stream and primitive), but that is slower. */
tl_gemm_state *tl_gemm_state_new(const tl_gemm_backend *be);
void tl_gemm_state_free(tl_gemm_state *st);

/* y (T, out) = act(x @ W^T + b); act is a tl_activation or TL_LINEAR_NO_ACT. Never fails.
 * Few tokens on 64-column-panel packed weights (packed by g's backend) run the ISA table's
 * linear_panel64 kernel when this CPU path has one (AVX-512). A record packed by another
 * backend runs its plain w on g, or that backend (stateless) when w was dropped. */
void tl_linear_forward(const tl_gemm *g, const tl_linear *L, const float *x, float *y, size_t T, int act);
/* (A record whose wtype g's backend does not run, with plain w, runs on tl_gemm_ref.) */

/* Packs L for be when be runs L->wtype and packs it; returns 1 when L->pk was set (the
 * plain w stays; the caller may drop it). 0 when L already has a packed form. */
int tl_linear_pack(tl_linear *L, const tl_gemm_backend *be);

/* C (M, N) = A (M, K) @ op(B), op(B) = B (N, K)^T when trans_b else B (K, N), row-major,
 * leading dims given: attention's GEMMs, on the backend (ref: a scalar loop; blas: cblas;
 * dnnl: dnnl_sgemm with a cblas fallback). Called inside OpenMP parallel regions: runs on
 * the calling thread. */
void tl_gemm_matmul(const tl_gemm *g, int trans_b, size_t M, size_t N, size_t K, const float *A,
                    size_t lda, const float *B, size_t ldb, float *C, size_t ldc);
/* The same with TL_MATMUL_* flags. */
void tl_gemm_matmul_ex(const tl_gemm *g, int flags, size_t M, size_t N, size_t K, const float *A,
                       size_t lda, const float *B, size_t ldb, float *C, size_t ldc);

/* The backends: default first. */
extern const tl_gemm_backend tl_gemm_dnnl, tl_gemm_blas, tl_gemm_ref;

/* Returns the backend named by $TORCHLESS_GEMM ("dnnl", "blas" or "ref"; default "dnnl"), or
 * NULL with an error naming the bad value and the choices. */
const tl_gemm_backend *tl_gemm_select(void);

/* Frees a packed weight (NULL is ignored). */
void tl_packed_free(tl_packed *pk);

/* Largest token count the linear_panel64 kernel serves (at 64 its gain over oneDNN was 3%
 * on one shape and within noise, or a loss, in whole forwards). */
#define TL_SMALL_M_MAX 32

#endif

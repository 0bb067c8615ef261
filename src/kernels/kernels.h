/* kernels.h — the compute kernels of an encoder forward pass. Shapes are written
 * llm.c-style: x is (T, C) row-major, w is (OC, C) as PyTorch's nn.Linear stores it. */
#ifndef TL_KERNELS_H
#define TL_KERNELS_H
#include <stddef.h>
#include <stdint.h>
#include "kernels/act.h"
#include "torchless.h"

/* out (T, OC) = x (T, C) @ w (OC, C)^T + b (OC); b may be NULL. */
typedef void (*tl_linear_fn)(const float *x, const float *w, const float *b, float *out,
                             size_t T, size_t C, size_t OC);

/* One linear layer's weights packed once, at load, into a backend's preferred layout
 * (opaque; made by a backend's pack, freed with tl_packed_free). */
typedef struct tl_packed tl_packed;

/* No activation after a linear layer (the act argument of tl_linear_run). */
enum { TL_LINEAR_NO_ACT = -1 };

/* What a backend's linear_ex did: nothing (the caller falls back), the linear layer with
 * its activation, or the linear layer only (tl_linear_run then applies the activation). */
typedef enum { TL_LINEAR_NOT_DONE = 0, TL_LINEAR_DONE, TL_LINEAR_DONE_NO_ACT } tl_linear_done;

/* A GEMM implementation behind the one linear interface. */
typedef struct tl_gemm_backend {
    const char *name;
    tl_linear_fn linear;
    /* Returns w (OC, C) packed for this backend, or NULL when it runs plain weights (or
     * packing failed; the plain weights then stay in use). NULL: never packs. */
    tl_packed *(*pack)(const float *w, size_t C, size_t OC);
    /* out = x @ W^T + b with W packed (pk) or plain (w), and act (-1: none) fused when it
     * can; returns a tl_linear_done. NULL: linear then a separate act pass. */
    int (*linear_ex)(const float *x, const float *w, const tl_packed *pk, const float *b,
                     float *out, size_t T, size_t C, size_t OC, int act);
} tl_gemm_backend;

/* Scalar reference (the oracle) and the BLAS-backed version. */
void tl_linear_ref(const float *x, const float *w, const float *b, float *out, size_t T,
                   size_t C, size_t OC);
void tl_linear_blas(const float *x, const float *w, const float *b, float *out, size_t T,
                    size_t C, size_t OC);

/* oneDNN matmul (bias fused, primitives cached per shape; falls back to BLAS on error). */
void tl_linear_dnnl(const float *x, const float *w, const float *b, float *out, size_t T,
                    size_t C, size_t OC);
/* oneDNN's linear_ex and pack (gemm_dnnl.c; contracts as in tl_gemm_backend). */
int tl_linear_dnnl_ex(const float *x, const float *w, const tl_packed *pk, const float *b,
                      float *out, size_t T, size_t C, size_t OC, int act);
tl_packed *tl_dnnl_pack(const float *w, size_t C, size_t OC);

/* Frees a packed weight (NULL is ignored). */
void tl_packed_free(tl_packed *pk);

/* out (T, OC) = x (T, C) @ W^T + b from pk's packed layout: unpacked once into a temporary
 * plain copy and run on BLAS; without memory for it, a scalar loop reads the packed layout.
 * Never fails (the fallback when the backend refuses a shape after plain w was freed). */
void tl_packed_linear_ref(const float *x, const tl_packed *pk, const float *b, float *out,
                          size_t T);

/* out (T, OC) = act(x (T, C) @ W^T + b) on backend g: with pk (packed by g->pack) when
 * non-NULL, else with w (OC, C); w may be NULL when pk is set. act is a tl_activation or
 * TL_LINEAR_NO_ACT. Never fails. */
void tl_linear_run(const tl_gemm_backend *g, const float *x, const float *w, const tl_packed *pk,
                   const float *b, float *out, size_t T, size_t C, size_t OC, int act);

/* Returns the backend named by $TORCHLESS_GEMM ("dnnl", "blas" or "ref"; default "dnnl"), or
 * NULL with an error naming the bad value and the choices. */
const tl_gemm_backend *tl_gemm_select(void);

/* x (T, H) <- LayerNorm(x + residual) * g + b; residual (T, H) and b may be NULL. */
void tl_add_layernorm(float *x, const float *residual, const float *g, const float *b,
                      size_t T, size_t H, float eps);

/* y (T, H) = LayerNorm(x) * g + b; b may be NULL (no bias); x and y are the same buffer
 * or disjoint (x is left unchanged when disjoint). */
void tl_layernorm(const float *x, float *y, const float *g, const float *b, size_t T, size_t H,
                  float eps);

/* out (T, I) = act(x[:, :I]) * x[:, I:] for x (T, 2I): GeGLU / gated activations. */
void tl_gated_activation(const float *x, float *out, size_t T, size_t I, tl_activation act);

/* Rotary position embedding in place on the Q and K parts of qkv (T, 3H), rotate-half
 * convention; positions pos (T), or NULL for the index within the sequence; theta is
 * the RoPE base. */
void tl_rope_apply(float *qkv, const size_t *cu_seqlens, size_t n_seqs, const int32_t *pos,
                   size_t n_heads, size_t head_dim, double theta);

/* x (n) <- act(x), elementwise, as torch computes it (gelu = exact erf form). */
void tl_activation_apply(float *x, size_t n, tl_activation act);

/* An additive attention bias that depends only on the key-query offset j - i (MPNet's
 * relative position bias): head h, offset j - i reads
 * table[h * (2 * span - 1) + (span - 1) + (j - i)]; valid for |j - i| < span. */
typedef struct tl_rel_bias {
    const float *table;
    size_t span;
} tl_rel_bias;

/* DeBERTa's disentangled attention: score(i, j) += q_i . pos_k[idx(i - j)] (c2p) +
 * k_j . pos_q[idx(i - j)] (p2c), before scaling. pos_k / pos_q are (2 * span) rows of
 * projected relative embeddings with row stride ld, head h at column h * head_dim (NULL
 * disables that term); idx[(i - j) + center] is the row for offset i - j. */
typedef struct tl_disentangled {
    const float *pos_q, *pos_k;
    size_t ld, span;
    const int32_t *idx;
    size_t center; /* >= longest sequence - 1 */
} tl_disentangled;

/* What restricts or biases attention beyond the sequence boundaries; all optional. */
typedef struct tl_attn_extras {
    const int32_t *key_mask;  /* (T) 0 marks a key no query may attend to, or NULL */
    const tl_rel_bias *rel;   /* offset-indexed bias whose span exceeds every sequence, or NULL */
    size_t window;            /* > 0: query i sees only keys with |i - j| <= window */
    const tl_disentangled *dis; /* DeBERTa c2p / p2c terms, or NULL */
    float scale;              /* score multiplier; 0 means 1 / sqrt(head_dim) */
    int mask_queries;         /* a query whose own key_mask is 0 gets equal weights (DeBERTa) */
} tl_attn_extras;

/* Multi-head self-attention over a packed batch, one sequence at a time.
 * qkv is (T, 3H) with Q | K | V per row; out is (T, H); cu_seqlens has n_seqs+1 entries;
 * ex may be NULL. scratch must hold tl_attention_scratch_floats(max_len) floats per
 * thread, n_threads threads. */
void tl_attention(const float *qkv, float *out, const size_t *cu_seqlens, size_t n_seqs,
                  const tl_attn_extras *ex, size_t n_heads, size_t head_dim, float *scratch,
                  int n_threads);
/* Scratch floats one attention thread needs for sequences up to max_len tokens (span:
 * the disentangled span, 0 without). */
size_t tl_attention_scratch_floats(size_t max_len, size_t span);

/* Largest head dimension tl_attention supports (checked at model load). */
#define TL_ATTN_MAX_HEAD_DIM 256

/* out (T, H) = word[ids] + pos[pos_ids] + type[type_ids] (pos and type may be NULL).
 * Indices must already be validated by the caller. */
void tl_embeddings_sum(const float *word, const float *pos, const float *type,
                       const int32_t *ids, const int32_t *pos_ids, const int32_t *type_ids,
                       float *out, size_t T, size_t H);

/* out (T, H) = LayerNorm(word[ids] + pos[pos_ids] + type[type_ids]) * g + b, each row
 * normalized while it is still in cache (one pass); b may be NULL. Same indices contract. */
void tl_embeddings_ln(const float *word, const float *pos, const float *type,
                      const int32_t *ids, const int32_t *pos_ids, const int32_t *type_ids,
                      const float *g, const float *b, float eps, float *out, size_t T, size_t H);

/* Row-wise passes over fewer floats than this in total run on the calling thread: a
 * vectorized LayerNorm row takes less time than waking a parked team costs (see
 * docs/BENCHMARKS.md, section "Figures behind code choices", "LayerNorm threading threshold"). */
#define TL_LN_PARALLEL_MIN (1u << 18)

#endif

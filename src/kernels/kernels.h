/* kernels.h — the compute kernels of an encoder forward pass. Shapes are written
 * llm.c-style: x is (T, C) row-major, w is (OC, C) as PyTorch's nn.Linear stores it. */
#ifndef TL_KERNELS_H
#define TL_KERNELS_H
#include <stddef.h>
#include <stdint.h>
#include "kernels/act.h"
#include "kernels/linear.h"
#include "torchless.h"

/* Scalar reference (the oracle: double accumulation) and the BLAS-backed version of
 * out (T, OC) = x (T, C) @ w (OC, C)^T + b (OC); b may be NULL. The linear layer a model
 * runs goes through tl_linear_forward (linear.h); these are its backends' kernels. */
void tl_linear_ref(const float *x, const float *w, const float *b, float *out, size_t T,
                   size_t C, size_t OC);
void tl_linear_blas(const float *x, const float *w, const float *b, float *out, size_t T,
                    size_t C, size_t OC);

/* C (M, N) = A (M, K) @ op(B) with TL_MATMUL_* flags (linear.h), row-major with leading
 * dims, on the calling thread: a scalar double-accumulating loop, and cblas_sgemm. */
void tl_matmul_ref(int flags, size_t M, size_t N, size_t K, const float *A, size_t lda,
                   const float *B, size_t ldb, float *C, size_t ldc);
void tl_matmul_blas(int flags, size_t M, size_t N, size_t K, const float *A, size_t lda,
                    const float *B, size_t ldb, float *C, size_t ldc);

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

/* Multi-head self-attention over a packed batch, one sequence at a time, its products on
 * g's backend (tl_gemm_matmul; DeBERTa's c2p / p2c products on its BLAS path).
 * qkv is (T, 3H) with Q | K | V per row; out is (T, H); cu_seqlens has n_seqs+1 entries;
 * ex may be NULL. scratch must hold tl_attention_scratch_floats(max_len) floats per
 * thread, n_threads threads. */
void tl_attention(const tl_gemm *g, const float *qkv, float *out, const size_t *cu_seqlens, size_t n_seqs,
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

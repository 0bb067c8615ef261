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
    int causal;               /* query i sees only keys j <= i of its sequence (decoders); a
                               * query whose keys j <= i are all masked gets no defined result */
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

/* ---- decoders (attn_cached.c, decoder_ops.c) */

/* Where a decoder's keys and values live in the KV cache's pages: row j of a sequence
 * whose page table is pages has K at pages[j / page_tokens] + k_off + (j % page_tokens) * ld
 * and V at the same place from v_off (ld = n_kv_heads * head_dim). One layout per layer. */
typedef struct tl_kv_layout {
    size_t page_tokens, k_off, v_off, ld;
} tl_kv_layout;

/* The K row (ld floats) of cached token j of a sequence with page table pages. */
static inline float *tl_kv_k_row(const tl_kv_layout *l, float *const *pages, size_t j) {
    return pages[j / l->page_tokens] + l->k_off + (j % l->page_tokens) * l->ld;
}
/* The V row of cached token j. */
static inline float *tl_kv_v_row(const tl_kv_layout *l, float *const *pages, size_t j) {
    return pages[j / l->page_tokens] + l->v_off + (j % l->page_tokens) * l->ld;
}

/* Causal attention of new queries against cached keys and values, grouped-query:
 * sequence s has cu[s + 1] - cu[s] query rows (rows cu[s].. of q, stride q_ld, head h at
 * column h * d) at positions past[s] + r, whose K / V rows (past[s] + its new ones) are
 * already in the cache pages[s] (layout lay). Query head h reads KV head
 * h / (n_heads / n_kv_heads). A query at position p sees keys j <= p, and with window > 0
 * only those with p - j < window (Mistral's sliding window). scale 0: 1 / sqrt(d).
 * out rows (stride out_ld) get the per-head results. scratch holds
 * tl_attention_cached_scratch(max keys) floats per thread, n_threads threads. */
void tl_attention_cached(const float *q, size_t q_ld, float *out, size_t out_ld, const size_t *cu,
                         size_t n_seqs, float *const *const *pages, const size_t *past,
                         const tl_kv_layout *lay, size_t n_heads, size_t n_kv_heads, size_t d,
                         size_t window, float scale, float *scratch, int n_threads);
/* The scalar reference of one query row of tl_attention_cached: qr (d floats) at position
 * p of a sequence with page table pg attends over keys [p + 1 - window, p] (window 0: all
 * up to p) of KV head kh with scores * scale; result in o (d floats); sc: p + 1 floats. */
void tl_attend_cached_row_ref(const float *qr, float *o, size_t p, float *const *pg,
                              const tl_kv_layout *lay, size_t kh, size_t d, size_t window,
                              float scale, float *sc);
/* Scratch floats one thread of tl_attention_cached needs for up to max_keys keys. */
size_t tl_attention_cached_scratch(size_t max_keys);

/* y (T, H) = x / sqrt(mean(x^2) + eps) * g (RMSNorm as Llama computes it in float32);
 * x and y may be the same buffer. */
void tl_rmsnorm(const float *x, float *y, const float *g, size_t T, size_t H, float eps);

/* Rotary embeddings (rotate-half) in place on n_heads heads of head_dim floats at the start
 * of each of T rows of x (row stride ld), row t at position pos[t], base theta. */
void tl_rope_rows(float *x, size_t ld, size_t T, const int32_t *pos, size_t n_heads,
                  size_t head_dim, double theta);

#endif

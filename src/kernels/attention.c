/* attention.c — multi-head self-attention over a packed batch. Per (sequence, head),
 * query rows are processed in tiles of TL_ATTN_TILE: S = Q_tile K^T (the GEMM backend's
 * matmul), scale, mask and softmax fused in one pass over S, then O_tile = P V (matmul). The largest buffer is
 * one (TL_ATTN_TILE, len) score tile per thread: no (T, T) matrix for long sequences. */
#include "kernels/fastmath.h"
#include "kernels/vec.h"
#include "kernels/kernels.h"

#include <math.h>
#include <omp.h>
#include <string.h>

/* 128 rows: one tile for a 128-token sequence, half the K / V re-packing of 64-row tiles
 * at 512 tokens (8 x 512 attention 1.05-1.1x faster than with 64; 256 gained no more) */
#define TL_ATTN_TILE 128

size_t tl_attention_scratch_floats(size_t max_len, size_t span) {
    /* one score tile + the mask bias row (+ DeBERTa: a c2p tile and the p2c rows) */
    return (size_t)TL_ATTN_TILE * max_len + max_len + 32 +
           (span ? (size_t)TL_ATTN_TILE * 2 * span + max_len * 2 * span + 32 : 0);
}

/* Adds DeBERTa's c2p and p2c terms to the score tile (rows from query i0, len keys):
 * qp (rows, 2span) = Q_tile . pos_k^T, kp (len, 2span) = K . pos_q^T, both on the
 * backend's BLAS path (cblas_sgemm under dnnl and blas, as before the backends ran
 * attention: a tiny DeBERTa's QA parity sits on a near-tie). */
static void add_disentangled(const tl_gemm *g, float *tile, size_t rows, size_t i0, size_t len, const float *Q,
                             size_t stride, size_t h, size_t d, const tl_disentangled *dis,
                             float *qp, const float *kp) {
    const size_t w = 2 * dis->span;
    if (dis->pos_k)
        tl_gemm_matmul_ex(g, TL_MATMUL_TRANS_B | TL_MATMUL_BLAS, rows, w, d, Q, stride,
                          dis->pos_k + h * d, dis->ld, qp, w);
    for (size_t r = 0; r < rows; r++) {
        float *row = tile + r * len;
        const int32_t *idx = dis->idx + dis->center + (i0 + r); /* idx[-j] is offset i - j */
        if (dis->pos_k)
            for (size_t j = 0; j < len; j++) row[j] += qp[r * w + (size_t)idx[-(long)j]];
        if (dis->pos_q)
            for (size_t j = 0; j < len; j++) row[j] += kp[j * w + (size_t)idx[-(long)j]];
    }
}

/* Attention of head h of one sequence (len tokens from packed row r0). */
static void attend_head(const tl_gemm *g, const float *qkv, float *out, size_t r0, size_t len, size_t h,
                        size_t n_heads, size_t d, const tl_attn_extras *ex, float *scratch) {
    const int32_t *key_mask = ex ? ex->key_mask : NULL;
    const tl_rel_bias *rel = ex ? ex->rel : NULL;
    const size_t window = ex ? ex->window : 0;
    const tl_disentangled *dis = ex ? ex->dis : NULL;
    const size_t H = n_heads * d, stride = 3 * H;
    const float scale = ex && ex->scale > 0 ? ex->scale : 1.0f / sqrtf((float)d);
    float *bias = scratch, *tile = scratch + len + 16;
    float *qp = tile + (size_t)TL_ATTN_TILE * len + 16, *kp = NULL;
    int any_key = 0;
    for (size_t j = 0; j < len; j++) {
        int on = !key_mask || key_mask[r0 + j];
        bias[j] = on ? 0.0f : -INFINITY;
        any_key |= on;
    }
    const float *K = qkv + r0 * stride + H + h * d, *V = qkv + r0 * stride + 2 * H + h * d;
    if (dis && dis->pos_q) { /* kp (len, 2span) = K . pos_q^T, shared by every query tile */
        kp = qp + (size_t)TL_ATTN_TILE * 2 * dis->span + 16;
        tl_gemm_matmul_ex(g, TL_MATMUL_TRANS_B | TL_MATMUL_BLAS, len, 2 * dis->span, d, K, stride,
                          dis->pos_q + h * d, dis->ld, kp, 2 * dis->span);
    }
    for (size_t i0 = 0; i0 < len; i0 += TL_ATTN_TILE) {
        size_t rows = len - i0 < TL_ATTN_TILE ? len - i0 : TL_ATTN_TILE;
        const float *Q = qkv + (r0 + i0) * stride + h * d;
        // tile (rows, len) = Q (rows, d) @ K (len, d)^T
        tl_gemm_matmul(g, 1, rows, len, d, Q, stride, K, stride, tile, len);
        if (dis) add_disentangled(g, tile, rows, i0, len, Q, stride, h, d, dis, qp, kp);
        for (size_t r = 0; r < rows; r++) {
            // rel row for query i = i0 + r: offsets j - i for j = 0..len-1
            const float *relrow = rel ? rel->table + h * (2 * rel->span - 1) + (rel->span - 1) - (i0 + r) : NULL;
            size_t i = i0 + r, lo = 0, hi = len;
            if (window) {
                lo = i > window ? i - window : 0;
                hi = i + window + 1 < len ? i + window + 1 : len;
            }
            if (ex && ex->causal && hi > i + 1) hi = i + 1;
            int row_any = any_key && !(ex && ex->mask_queries && key_mask && !key_mask[r0 + i]);
            tl_vec()->softmax_row(tile + r * len, bias, relrow, len, scale, row_any, lo, hi);
        }
        // out rows (rows, d) = P (rows, len) @ V (len, d)
        tl_gemm_matmul(g, 0, rows, d, len, tile, len, V, stride, out + (r0 + i0) * H + h * d, H);
    }
}

void tl_attention(const tl_gemm *g, const float *qkv, float *out, const size_t *cu_seqlens, size_t n_seqs,
                  const tl_attn_extras *ex, size_t n_heads, size_t head_dim, float *scratch,
                  int n_threads) {
    size_t max_len = 0;
    for (size_t s = 0; s < n_seqs; s++)
        if (cu_seqlens[s + 1] - cu_seqlens[s] > max_len) max_len = cu_seqlens[s + 1] - cu_seqlens[s];
    const size_t per_thread = tl_attention_scratch_floats(max_len, ex && ex->dis ? ex->dis->span : 0);
    const long n_tasks = (long)(n_seqs * n_heads);
    /* small batches run on the calling thread: waking the team costs more than it saves */
    double work = 0;
    for (size_t s = 0; s < n_seqs; s++) {
        double L = (double)(cu_seqlens[s + 1] - cu_seqlens[s]);
        work += L * L * (double)(n_heads * head_dim);
    }
    const int parallel = n_threads > 1 && n_tasks > 1 && work > 2e5;
#pragma omp parallel for num_threads(n_threads) schedule(dynamic, 1) if (parallel)
    for (long task = 0; task < n_tasks; task++) {
        size_t s = (size_t)task / n_heads, h = (size_t)task % n_heads;
        attend_head(g, qkv, out, cu_seqlens[s], cu_seqlens[s + 1] - cu_seqlens[s], h, n_heads,
                    head_dim, ex, scratch + (size_t)omp_get_thread_num() * per_thread);
    }
}

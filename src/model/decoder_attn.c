/* decoder_attn.c — the attention step every decoder block shares: append the new tokens'
 * K and V to their sequences' cache pages, then attend causally over the cache. */
#include "core/util.h"
#include "model/block.h"

#include <string.h>

int tl_decoder_plan_scratch(size_t max_keys, int nt, tl_arena_plan *p) {
    size_t n = 0;
    p->overflow |= tl_mul_overflow(tl_attention_cached_scratch(max_keys), (size_t)nt, &n);
    return tl_arena_add(p, n, sizeof(float));
}

void tl_decoder_attend(const tl_arch *a, size_t l, const tl_batch *b, const size_t *cu,
                       const tl_kv_step *kv, const float *qkv, float *ctx, float scale,
                       float *scratch, int nt) {
    const tl_kv_layout lay = tl_kv_step_layout(kv, l);
    const size_t qd = a->q_dim, kd = a->kv_dim, stride = qd + 2 * kd;
    for (size_t s = 0; s < b->n_seqs; s++)
        for (size_t i = 0; i < b->seq_lens[s]; i++) {
            const float *row = qkv + (cu[s] + i) * stride;
            memcpy(tl_kv_k_row(&lay, kv->pages[s], kv->past[s] + i), row + qd, kd * sizeof(float));
            memcpy(tl_kv_v_row(&lay, kv->pages[s], kv->past[s] + i), row + qd + kd, kd * sizeof(float));
        }
    tl_attention_cached(qkv, stride, ctx, qd, cu, b->n_seqs, kv->pages, kv->past, &lay, a->n_heads,
                        a->n_kv_heads, a->head_dim, a->sliding_window, scale, scratch, nt);
}

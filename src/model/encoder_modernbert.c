/* encoder_modernbert.c — the ModernBERT forward pass over a packed batch (pre-norm):
 * x = LN(tok[ids]); per layer: x += Wo(attention(RoPE(Wqkv(LN(x))))), with a local
 * window on sliding layers; x += Wo(GeGLU(Wi(LN(x)))); then a final LN. */
#include "core/error.h"
#include "core/util.h"
#include "model/model.h"

#include <stdlib.h>
#include <string.h>

/* x (T, H) += y (T, H). */
static void add_inplace(float *x, const float *y, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}

tl_status tl_modernbert_forward(tl_model *m, const tl_batch *b, size_t T, float *x) {
    const tl_arch *a = &m->arch;
    const tl_weights *w = &m->w;
    const size_t H = a->hidden, I = a->intermediate;
    const int nt = m->n_threads;
    const tl_gemm *g = &m->gemm;
    const float eps = (float)a->ln_eps;
    size_t max_len = 0;
    for (size_t s = 0; s < b->n_seqs; s++)
        if (b->seq_lens[s] > max_len) max_len = b->seq_lens[s];
    /* arena: ln (T,H) | qkv (T,3H) | ctx (T,H) | ffn (T,2I) | gated (T,I) | cu | scratch */
    size_t sizes[7], total = 0;
    int bad = tl_mul_overflow(T, H, &sizes[0]) || tl_mul_overflow(T, 3 * H, &sizes[1]) ||
              tl_mul_overflow(T, H, &sizes[2]) || tl_mul_overflow(T, 2 * I, &sizes[3]) ||
              tl_mul_overflow(T, I, &sizes[4]) ||
              tl_mul_overflow(tl_attention_scratch_floats(max_len, 0), (size_t)nt, &sizes[6]);
    sizes[5] = 2 * (b->n_seqs + 1);
    for (int i = 0; i < 7 && !bad; i++) bad = tl_add_overflow(total, (sizes[i] + 15) & ~(size_t)15, &total);
    if (bad || tl_mul_overflow(total, sizeof(float), &total))
        return tl_set_error(TL_ERR_OOM, "batch of %zu tokens is too large", T);
    float *arena = tl_model_scratch(m, total), *part[7];
    if (!arena) return tl_set_error(TL_ERR_OOM, "cannot allocate %zu bytes for the forward pass", total);
    part[0] = arena;
    for (int i = 1; i < 7; i++) part[i] = part[i - 1] + ((sizes[i - 1] + 15) & ~(size_t)15);
    float *ln = part[0], *qkv = part[1], *ctx = part[2], *ffn = part[3], *gated = part[4];
    size_t *cu = (size_t *)part[5];
    float *scratch = part[6];
    cu[0] = 0;
    for (size_t s = 0; s < b->n_seqs; s++) cu[s + 1] = cu[s] + b->seq_lens[s];

    // x (T, H) = LN(tok[ids])
    for (size_t t = 0; t < T; t++)
        memcpy(x + t * H, w->word_emb + (size_t)b->input_ids[t] * H, H * sizeof(float));
    tl_add_layernorm(x, NULL, w->emb_ln_w, w->emb_ln_b, T, H, eps);

    for (size_t l = 0; l < a->n_layers; l++) {
        const tl_layer_weights *L = w->layer_of[l];
        const float *in = x;
        if (L->attn_ln_w) {
            tl_layernorm(x, ln, L->attn_ln_w, L->attn_ln_b, T, H, eps);
            in = ln;
        }
        tl_linear_forward(g, &L->qkv, in, qkv, T, TL_LINEAR_NO_ACT); // qkv (T, 3H)
        int local = a->layer_local[l];
        tl_rope_apply(qkv, cu, b->n_seqs, b->position_ids, a->n_heads, a->head_dim,
                      local ? a->rope_theta_local : a->rope_theta_global);
        tl_attn_extras ex = {.key_mask = b->attention_mask, .window = local ? a->local_window : 0};
        tl_attention(g, qkv, ctx, cu, b->n_seqs, &ex, a->n_heads, a->head_dim, scratch, nt);
        tl_linear_forward(g, &L->attn_out, ctx, ln, T, TL_LINEAR_NO_ACT); // ln (T, H)
        add_inplace(x, ln, T * H);
        tl_layernorm(x, ln, L->ffn_ln_w, L->ffn_ln_b, T, H, eps);
        tl_linear_forward(g, &L->ffn_in, ln, ffn, T, TL_LINEAR_NO_ACT); // ffn (T, 2I)
        tl_gated_activation(ffn, gated, T, I, a->act);                          // gated (T, I)
        tl_linear_forward(g, &L->ffn_out, gated, ln, T, TL_LINEAR_NO_ACT); // ln (T, H)
        add_inplace(x, ln, T * H);
    }
    tl_add_layernorm(x, NULL, w->final_ln_w, w->final_ln_b, T, H, eps);
    tl_model_scratch_done(m, arena);
    return TL_OK;
}

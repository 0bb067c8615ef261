/* block_modernbert.c — ModernBERT's block kind (pre-norm), bound and run over a packed batch:
 * x = LN(tok[ids]); per layer: x += Wo(attention(RoPE(Wqkv(LN(x))))), with a local
 * window on sliding layers; x += Wo(GeGLU(Wi(LN(x)))); then a final LN. */
#include "core/error.h"
#include "core/util.h"
#include "core/util.h"
#include "model/block.h"
#include "model/model.h"

#include <stdlib.h>
#include <string.h>

/* x (T, H) += y (T, H). */
static void add_inplace(float *x, const float *y, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}

/* Binds a ModernBERT checkpoint: tok embeddings + norm, per layer Wqkv, Wo, Wi, Wo and
 * pre-norms (none before layer 0's attention), the final norm; biases as configured. */
static tl_status bind(tl_weights *w, const tl_arch *a, const tl_safetensors *st) {
    const size_t H = a->hidden, I = a->intermediate;
    tl_status s;
    if ((s = tl_weights_get(w, st, TL_ROLE_WORD_EMB, 0, a->vocab_size, H, &w->word_emb)) ||
        (s = tl_weights_get(w, st, TL_ROLE_EMB_LN_W, 0, H, 0, &w->emb_ln_w)) ||
        (s = tl_weights_get_opt(w, st, TL_ROLE_EMB_LN_B, 0, H, 0, a->norm_bias, &w->emb_ln_b)) ||
        (s = tl_weights_get(w, st, TL_ROLE_FINAL_LN_W, 0, H, 0, &w->final_ln_w)) ||
        (s = tl_weights_get_opt(w, st, TL_ROLE_FINAL_LN_B, 0, H, 0, a->norm_bias, &w->final_ln_b)))
        return s;
    for (int l = 0; l < (int)a->n_layers; l++) {
        tl_layer_weights *L = &w->layers[l];
        if ((s = tl_weights_get_linear(w, st, TL_ROLE_QKV_W, TL_ROLE_QKV_B, l, 3 * H, H, a->attn_bias, &L->qkv)) ||
            (s = tl_weights_get_linear(w, st, TL_ROLE_ATTN_OUT_W, TL_ROLE_ATTN_OUT_B, l, H, H, a->attn_bias, &L->attn_out)) ||
            (s = tl_weights_get_opt(w, st, TL_ROLE_ATTN_LN_W, l, H, 0, l > 0, &L->attn_ln_w)) ||
            (s = tl_weights_get_opt(w, st, TL_ROLE_ATTN_LN_B, l, H, 0, l > 0 && a->norm_bias, &L->attn_ln_b)) ||
            (s = tl_weights_get_linear(w, st, TL_ROLE_FFN_IN_W, TL_ROLE_FFN_IN_B, l, 2 * I, H, a->mlp_bias, &L->ffn_in)) ||
            (s = tl_weights_get_linear(w, st, TL_ROLE_FFN_OUT_W, TL_ROLE_FFN_OUT_B, l, H, I, a->mlp_bias, &L->ffn_out)) ||
            (s = tl_weights_get(w, st, TL_ROLE_FFN_LN_W, l, H, 0, &L->ffn_ln_w)) ||
            (s = tl_weights_get_opt(w, st, TL_ROLE_FFN_LN_B, l, H, 0, a->norm_bias, &L->ffn_ln_b)))
            return s;
    }
    return TL_OK;
}

/* Arena parts of one forward. */
enum { PART_LN, PART_QKV, PART_CTX, PART_FFN, PART_GATED, PART_CU, PART_SCRATCH };

/* ln (T,H) | qkv (T,3H) | ctx (T,H) | ffn (T,2I) | gated (T,I) | cu | attention scratch. */
static void plan(const tl_arch *a, const tl_batch *b, size_t T, int nt, tl_arena_plan *p) {
    const size_t H = a->hidden, I = a->intermediate;
    size_t scratch = 0;
    p->overflow |= tl_mul_overflow(tl_attention_scratch_floats(tl_batch_max_len(b), 0), (size_t)nt, &scratch);
    tl_arena_add(p, T, H * sizeof(float));
    tl_arena_add(p, T, 3 * H * sizeof(float));
    tl_arena_add(p, T, H * sizeof(float));
    tl_arena_add(p, T, 2 * I * sizeof(float));
    tl_arena_add(p, T, I * sizeof(float));
    tl_arena_add(p, b->n_seqs + 1, sizeof(size_t));
    tl_arena_add(p, scratch, sizeof(float));
}

/* x (T, H) = final LN of the pre-norm layers over LN(tok[ids]). */
static void forward(tl_context *c, const tl_batch *b, size_t T, float *x, const tl_arena_plan *p,
                    void *arena) {
    const tl_model *m = c->model;
    const tl_arch *a = &m->arch;
    const tl_weights *w = &m->w;
    const size_t H = a->hidden, I = a->intermediate;
    const int nt = c->n_threads;
    const tl_gemm g = tl_ctx_gemm(c, m->gemm);
    const float eps = (float)a->ln_eps;
    float *ln = tl_arena_at(arena, p, PART_LN), *qkv = tl_arena_at(arena, p, PART_QKV);
    float *ctx = tl_arena_at(arena, p, PART_CTX), *ffn = tl_arena_at(arena, p, PART_FFN);
    float *gated = tl_arena_at(arena, p, PART_GATED), *scratch = tl_arena_at(arena, p, PART_SCRATCH);
    size_t *cu = tl_arena_at(arena, p, PART_CU);
    tl_batch_offsets(b, cu);
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
        tl_linear_forward(&g, &L->qkv, in, qkv, T, TL_LINEAR_NO_ACT); // qkv (T, 3H)
        int local = a->layer_local[l];
        tl_rope_apply(qkv, cu, b->n_seqs, b->position_ids, a->n_heads, a->head_dim,
                      local ? a->rope_theta_local : a->rope_theta_global);
        tl_attn_extras ex = {.key_mask = b->attention_mask, .window = local ? a->local_window : 0};
        tl_attention(&g, qkv, ctx, cu, b->n_seqs, &ex, a->n_heads, a->head_dim, scratch, nt);
        tl_linear_forward(&g, &L->attn_out, ctx, ln, T, TL_LINEAR_NO_ACT); // ln (T, H)
        add_inplace(x, ln, T * H);
        tl_layernorm(x, ln, L->ffn_ln_w, L->ffn_ln_b, T, H, eps);
        tl_linear_forward(&g, &L->ffn_in, ln, ffn, T, TL_LINEAR_NO_ACT); // ffn (T, 2I)
        tl_gated_activation(ffn, gated, T, I, a->act);                          // gated (T, I)
        tl_linear_forward(&g, &L->ffn_out, gated, ln, T, TL_LINEAR_NO_ACT); // ln (T, H)
        add_inplace(x, ln, T * H);
    }
    tl_add_layernorm(x, NULL, w->final_ln_w, w->final_ln_b, T, H, eps);
}

const tl_block_ops tl_block_modernbert = {
    .name = "pre-norm, rotary, local/global attention", .config = tl_modernbert_config,
    .bind = bind, .plan = plan, .forward = forward};

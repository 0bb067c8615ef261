/* block_llama.c — the Llama-style block kind (llama, mistral, qwen2): x = embed[ids]; per
 * layer x += o_proj(causal GQA attention(RoPE(qkv(RMSNorm(x))))), with Mistral's sliding
 * window when configured; x += down(silu(gate(RMSNorm(x))) * up(...)); then RMSNorm.
 * Q, K, V are fused into one (q_dim + 2 kv_dim, H) record and gate | up into (2I, H). */
#include "core/error.h"
#include "model/block.h"
#include "model/model.h"

#include <stdlib.h>

/* Copies the tensors of roles r[0..n) of layer l (rows[i] x cols each, or 1-D rows[i] when
 * cols is 0) one after another into dst (owned by w). */
static tl_status stack(tl_weights *w, const tl_safetensors *st, const tl_role *r, const size_t *rows,
                       size_t n, int l, size_t cols, float *dst) {
    for (size_t i = 0; i < n; i++) {
        const float *src;
        tl_status s = tl_weights_get(w, st, r[i], l, rows[i], cols, &src);
        if (s) return s;
        size_t k = rows[i] * (cols ? cols : 1);
        for (size_t j = 0; j < k; j++) dst[j] = src[j];
        dst += k;
    }
    return TL_OK;
}

/* A new float buffer of n owned by w, or NULL (error set). */
static float *owned(tl_weights *w, size_t n, int l) {
    float *p = malloc(n * sizeof(float));
    if (!p || !tl_weights_keep(w, p)) {
        tl_set_error(TL_ERR_OOM, "out of memory fusing layer %d's weights", l);
        return NULL;
    }
    return p;
}

/* Binds layer l: norms, fused Q | K | V (+ biases), O, fused gate | up, down. */
static tl_status bind_layer(tl_weights *w, const tl_arch *a, const tl_safetensors *st, int l) {
    const size_t H = a->hidden, I = a->intermediate, qd = a->q_dim, kd = a->kv_dim, n = qd + 2 * kd;
    tl_layer_weights *L = &w->layers[l];
    const tl_role qkv_w[3] = {TL_ROLE_Q_W, TL_ROLE_K_W, TL_ROLE_V_W};
    const tl_role qkv_b[3] = {TL_ROLE_Q_B, TL_ROLE_K_B, TL_ROLE_V_B};
    const tl_role gu[2] = {TL_ROLE_GATE_W, TL_ROLE_UP_W};
    const size_t qkv_rows[3] = {qd, kd, kd}, gu_rows[2] = {I, I};
    tl_status s;
    float *qw = owned(w, n * H, l), *gw = qw ? owned(w, 2 * I * H, l) : NULL;
    if (!gw) return TL_ERR_OOM;
    if ((s = tl_weights_get(w, st, TL_ROLE_ATTN_LN_W, l, H, 0, &L->attn_ln_w)) ||
        (s = tl_weights_get(w, st, TL_ROLE_FFN_LN_W, l, H, 0, &L->ffn_ln_w)) ||
        (s = stack(w, st, qkv_w, qkv_rows, 3, l, H, qw)) || (s = stack(w, st, gu, gu_rows, 2, l, H, gw)))
        return s;
    L->qkv = (tl_linear){.in = H, .out = n, .wtype = TL_DTYPE_F32, .w = qw};
    L->ffn_in = (tl_linear){.in = H, .out = 2 * I, .wtype = TL_DTYPE_F32, .w = gw};
    if (a->attn_bias) {
        float *qb = owned(w, n, l);
        if (!qb) return TL_ERR_OOM;
        if ((s = stack(w, st, qkv_b, qkv_rows, 3, l, 0, qb))) return s;
        L->qkv.b = qb;
    }
    if ((s = tl_weights_get_linear(w, st, TL_ROLE_ATTN_OUT_W, TL_ROLE_ATTN_OUT_B, l, H, qd, a->attn_bias, &L->attn_out)) ||
        (s = tl_weights_get_linear(w, st, TL_ROLE_FFN_OUT_W, TL_ROLE_FFN_OUT_B, l, H, I, 0, &L->ffn_out)))
        return s;
    return TL_OK;
}

/* Binds a Llama-style checkpoint (*Model or *ForCausalLM). */
static tl_status bind(tl_weights *w, const tl_arch *a, const tl_safetensors *st) {
    tl_status s;
    if ((s = tl_weights_get(w, st, TL_ROLE_WORD_EMB, 0, a->vocab_size, a->hidden, &w->word_emb)) ||
        (s = tl_weights_get(w, st, TL_ROLE_FINAL_LN_W, 0, a->hidden, 0, &w->final_ln_w)) ||
        (s = tl_decoder_bind_lm_head(w, a, st)))
        return s;
    for (int l = 0; l < (int)a->n_layers; l++)
        if ((s = bind_layer(w, a, st, l))) return s;
    return TL_OK;
}

/* Arena parts of one decode step. */
enum { PART_LN, PART_QKV, PART_CTX, PART_FFN, PART_GATED, PART_CU, PART_SCRATCH };

/* ln (T,H) | qkv (T, q_dim + 2 kv_dim) | ctx (T, q_dim) | ffn (T,2I) | gated (T,I) | cu | scratch. */
static void plan_decode(const tl_arch *a, const tl_batch *b, size_t T, size_t max_keys, int nt,
                        tl_arena_plan *p) {
    tl_arena_add(p, T, a->hidden * sizeof(float));
    tl_arena_add(p, T, (a->q_dim + 2 * a->kv_dim) * sizeof(float));
    tl_arena_add(p, T, a->q_dim * sizeof(float));
    tl_arena_add(p, T, 2 * a->intermediate * sizeof(float));
    tl_arena_add(p, T, a->intermediate * sizeof(float));
    tl_arena_add(p, b->n_seqs + 1, sizeof(size_t));
    tl_decoder_plan_scratch(max_keys, nt, p);
}

/* x (T, H) += y (T, H). */
static void add_inplace(float *x, const float *y, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}

/* x (T, H) = the final RMSNorm of the layers over embed[ids], appending K / V to the cache. */
static void decode(tl_context *c, const tl_batch *b, size_t T, const tl_kv_step *kv, float *x,
                   const tl_arena_plan *p, void *arena) {
    const tl_model *m = c->model;
    const tl_arch *a = &m->arch;
    const tl_weights *w = &m->w;
    const size_t H = a->hidden, I = a->intermediate, qd = a->q_dim, stride = qd + 2 * a->kv_dim;
    const int nt = c->n_threads;
    const tl_gemm g = tl_ctx_gemm(c, m->gemm);
    const float eps = (float)a->ln_eps;
    float *ln = tl_arena_at(arena, p, PART_LN), *qkv = tl_arena_at(arena, p, PART_QKV);
    float *ctx = tl_arena_at(arena, p, PART_CTX), *ffn = tl_arena_at(arena, p, PART_FFN);
    float *gated = tl_arena_at(arena, p, PART_GATED), *scratch = tl_arena_at(arena, p, PART_SCRATCH);
    size_t *cu = tl_arena_at(arena, p, PART_CU);
    tl_batch_offsets(b, cu);
    tl_embeddings_sum(w->word_emb, NULL, NULL, b->input_ids, NULL, NULL, x, T, H);
    for (size_t l = 0; l < a->n_layers; l++) {
        const tl_layer_weights *L = w->layer_of[l];
        tl_rmsnorm(x, ln, L->attn_ln_w, T, H, eps);
        tl_linear_forward(&g, &L->qkv, ln, qkv, T, TL_LINEAR_NO_ACT); // qkv (T, qd + 2 kd)
        tl_rope_rows(qkv, stride, T, kv->pos, a->n_heads, a->head_dim, a->rope_theta);
        tl_rope_rows(qkv + qd, stride, T, kv->pos, a->n_kv_heads, a->head_dim, a->rope_theta);
        tl_decoder_attend(a, l, b, cu, kv, qkv, ctx, 0.0f, scratch, nt);   // ctx (T, qd)
        tl_linear_forward(&g, &L->attn_out, ctx, ln, T, TL_LINEAR_NO_ACT); // ln (T, H)
        add_inplace(x, ln, T * H);
        tl_rmsnorm(x, ln, L->ffn_ln_w, T, H, eps);
        tl_linear_forward(&g, &L->ffn_in, ln, ffn, T, TL_LINEAR_NO_ACT);   // ffn (T, 2I)
        tl_gated_activation(ffn, gated, T, I, a->act);                     // gated (T, I)
        tl_linear_forward(&g, &L->ffn_out, gated, ln, T, TL_LINEAR_NO_ACT);
        add_inplace(x, ln, T * H);
    }
    tl_rmsnorm(x, x, w->final_ln_w, T, H, eps);
}

const tl_block_ops tl_block_llama = {
    .name = "decoder, RMSNorm, rotary, grouped-query attention, SwiGLU (Llama-style)",
    .config = tl_llama_config, .bind = bind, .plan_decode = plan_decode, .decode = decode};

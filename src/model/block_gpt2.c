/* block_gpt2.c — GPT-2's block kind (decoder, pre-norm): x = wte[ids] + wpe[pos]; per
 * layer x += c_proj(causal attention(c_attn(LN1(x)))), x += c_proj(gelu_new(c_fc(LN2(x))));
 * then ln_f. Conv1D weights are stored (in, out): transposed once at load into (out, in)
 * linear records. The output projection is lm_head.weight, else the tied wte. */
#include "core/error.h"
#include "model/block.h"
#include "model/model.h"

#include <math.h>
#include <stdlib.h>

/* Binds the Conv1D of roles rw / rb (weight (in, out), bias (out)) of layer l into L as an
 * owned (out, in) copy. */
static tl_status conv1d(tl_weights *w, const tl_safetensors *st, tl_role rw, tl_role rb, int l,
                        size_t in, size_t out, tl_linear *L) {
    const float *src;
    tl_status s = tl_weights_get(w, st, rw, l, in, out, &src);
    if (s) return s;
    float *dst = malloc(in * out * sizeof(float));
    if (!dst || !tl_weights_keep(w, dst))
        return tl_set_error(TL_ERR_OOM, "out of memory transposing layer %d's Conv1D weights", l);
    for (size_t i = 0; i < in; i++)
        for (size_t o = 0; o < out; o++) dst[o * in + i] = src[i * out + o];
    *L = (tl_linear){.in = in, .out = out, .wtype = TL_DTYPE_F32, .w = dst};
    return tl_weights_get(w, st, rb, l, out, 0, &L->b);
}

tl_status tl_decoder_bind_lm_head(tl_weights *w, const tl_arch *a, const tl_safetensors *st) {
    const float *head;
    tl_status s = tl_weights_get_root_opt(w, st, TL_ROLE_LM_HEAD, a->vocab_size, a->hidden, &head);
    if (s) return s;
    if (!head && !a->tie_embeddings)
        return tl_set_error(TL_ERR_FORMAT, "checkpoint: missing tensor '%s' (tie_word_embeddings is false)",
                            tl_role_name(a->family, TL_ROLE_LM_HEAD));
    w->lm_head = (tl_linear){.in = a->hidden, .out = a->vocab_size, .wtype = TL_DTYPE_F32,
                             .w = head ? head : w->word_emb};
    return TL_OK;
}

/* Binds a GPT-2 checkpoint (GPT2Model or GPT2LMHeadModel). */
static tl_status bind(tl_weights *w, const tl_arch *a, const tl_safetensors *st) {
    const size_t H = a->hidden, I = a->intermediate;
    tl_status s;
    if ((s = tl_weights_get(w, st, TL_ROLE_WORD_EMB, 0, a->vocab_size, H, &w->word_emb)) ||
        (s = tl_weights_get(w, st, TL_ROLE_POS_EMB, 0, a->max_positions, H, &w->pos_emb)) ||
        (s = tl_weights_get(w, st, TL_ROLE_FINAL_LN_W, 0, H, 0, &w->final_ln_w)) ||
        (s = tl_weights_get(w, st, TL_ROLE_FINAL_LN_B, 0, H, 0, &w->final_ln_b)) ||
        (s = tl_decoder_bind_lm_head(w, a, st)))
        return s;
    for (int l = 0; l < (int)a->n_layers; l++) {
        tl_layer_weights *L = &w->layers[l];
        if ((s = tl_weights_get(w, st, TL_ROLE_ATTN_LN_W, l, H, 0, &L->attn_ln_w)) ||
            (s = tl_weights_get(w, st, TL_ROLE_ATTN_LN_B, l, H, 0, &L->attn_ln_b)) ||
            (s = conv1d(w, st, TL_ROLE_QKV_W, TL_ROLE_QKV_B, l, H, 3 * H, &L->qkv)) ||
            (s = conv1d(w, st, TL_ROLE_ATTN_OUT_W, TL_ROLE_ATTN_OUT_B, l, H, H, &L->attn_out)) ||
            (s = tl_weights_get(w, st, TL_ROLE_FFN_LN_W, l, H, 0, &L->ffn_ln_w)) ||
            (s = tl_weights_get(w, st, TL_ROLE_FFN_LN_B, l, H, 0, &L->ffn_ln_b)) ||
            (s = conv1d(w, st, TL_ROLE_FFN_IN_W, TL_ROLE_FFN_IN_B, l, H, I, &L->ffn_in)) ||
            (s = conv1d(w, st, TL_ROLE_FFN_OUT_W, TL_ROLE_FFN_OUT_B, l, I, H, &L->ffn_out)))
            return s;
    }
    return TL_OK;
}

/* Arena parts of one decode step. */
enum { PART_LN, PART_QKV, PART_CTX, PART_FFN, PART_CU, PART_SCRATCH };

/* ln (T,H) | qkv (T,3H) | ctx (T,H) | ffn (T,I) | cu | attention scratch. */
static void plan_decode(const tl_arch *a, const tl_batch *b, size_t T, size_t max_keys, int nt,
                        tl_arena_plan *p) {
    const size_t H = a->hidden;
    tl_arena_add(p, T, H * sizeof(float));
    tl_arena_add(p, T, 3 * H * sizeof(float));
    tl_arena_add(p, T, H * sizeof(float));
    tl_arena_add(p, T, a->intermediate * sizeof(float));
    tl_arena_add(p, b->n_seqs + 1, sizeof(size_t));
    tl_decoder_plan_scratch(max_keys, nt, p);
}

/* x (T, H) += y (T, H). */
static void add_inplace(float *x, const float *y, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}

/* x (T, H) = ln_f of the layers over wte[ids] + wpe[pos], appending K / V to the cache. */
static void decode(tl_context *c, const tl_batch *b, size_t T, const tl_kv_step *kv, float *x,
                   const tl_arena_plan *p, void *arena) {
    const tl_model *m = c->model;
    const tl_arch *a = &m->arch;
    const tl_weights *w = &m->w;
    const size_t H = a->hidden;
    const int nt = c->n_threads;
    const tl_gemm g = tl_ctx_gemm(c, m->gemm);
    const float eps = (float)a->ln_eps;
    float *ln = tl_arena_at(arena, p, PART_LN), *qkv = tl_arena_at(arena, p, PART_QKV);
    float *ctx = tl_arena_at(arena, p, PART_CTX), *ffn = tl_arena_at(arena, p, PART_FFN);
    float *scratch = tl_arena_at(arena, p, PART_SCRATCH);
    size_t *cu = tl_arena_at(arena, p, PART_CU);
    tl_batch_offsets(b, cu);
    tl_embeddings_sum(w->word_emb, w->pos_emb, NULL, b->input_ids, kv->pos, NULL, x, T, H);
    for (size_t l = 0; l < a->n_layers; l++) {
        const tl_layer_weights *L = w->layer_of[l];
        float scale = a->scale_by_layer ? 1.0f / sqrtf((float)a->head_dim) / (float)(l + 1) : 0.0f;
        tl_layernorm(x, ln, L->attn_ln_w, L->attn_ln_b, T, H, eps);
        tl_linear_forward(&g, &L->qkv, ln, qkv, T, TL_LINEAR_NO_ACT);      // qkv (T, 3H)
        tl_decoder_attend(a, l, b, cu, kv, qkv, ctx, scale, scratch, nt);  // ctx (T, H)
        tl_linear_forward(&g, &L->attn_out, ctx, ln, T, TL_LINEAR_NO_ACT); // ln (T, H)
        add_inplace(x, ln, T * H);
        tl_layernorm(x, ln, L->ffn_ln_w, L->ffn_ln_b, T, H, eps);
        tl_linear_forward(&g, &L->ffn_in, ln, ffn, T, (int)a->act);        // ffn (T, I)
        tl_linear_forward(&g, &L->ffn_out, ffn, ln, T, TL_LINEAR_NO_ACT);  // ln (T, H)
        add_inplace(x, ln, T * H);
    }
    tl_layernorm(x, x, w->final_ln_w, w->final_ln_b, T, H, eps);
}

const tl_block_ops tl_block_gpt2 = {
    .name = "decoder, pre-norm, learned positions (GPT-2)", .config = tl_gpt2_config, .bind = bind,
    .plan_decode = plan_decode, .decode = decode};

/* block_post_norm.c — the BERT-style post-norm block kind (BERT, the RoBERTa family,
 * ELECTRA, DistilBERT, MPNet) and ALBERT's shared-groups variant of it: embeddings + LN
 * (projected to hidden when the family has a projection), then per layer QKV GEMM ->
 * attention -> out GEMM + residual + LN -> FFN GEMM + act -> GEMM + residual + LN. The
 * layer itself is shared with DeBERTa (block_deberta.c). */
#include "core/error.h"
#include "core/util.h"
#include "model/block.h"
#include "model/model.h"
#include "model/relpos.h"
#include "runtime/profile.h"

#include <string.h>

/* Parts this kind adds after the post-norm ones. */
enum { PART_EMB = TL_PN_PARTS, PART_REL };

void tl_post_norm_plan(const tl_arch *a, const tl_batch *b, size_t T, int nt, size_t span,
                       tl_arena_plan *p) {
    size_t qkv = 0, scratch = 0;
    p->overflow |= tl_mul_overflow(T, 3 * a->hidden, &qkv) ||
                   tl_mul_overflow(tl_attention_scratch_floats(tl_batch_max_len(b), span), (size_t)nt, &scratch);
    tl_arena_add(p, qkv, sizeof(float));                     // TL_PN_QKV (T, 3H)
    tl_arena_add(p, T, a->hidden * sizeof(float));           // TL_PN_CTX (T, H)
    tl_arena_add(p, T, a->hidden * sizeof(float));           // TL_PN_TMP (T, H)
    tl_arena_add(p, T, a->intermediate * sizeof(float));     // TL_PN_FFN (T, I)
    tl_arena_add(p, scratch, sizeof(float));                 // TL_PN_SCRATCH, per thread
    tl_arena_add(p, b->n_seqs + 1, sizeof(size_t));          // TL_PN_CU
    tl_arena_add(p, T, sizeof(int32_t));                     // TL_PN_POS (default positions)
}

void tl_post_norm_layer(tl_context *c, const tl_layer_weights *L, float *x, size_t T,
                        const tl_batch *b, const tl_attn_extras *ex, const tl_arena_plan *p,
                        void *arena) {
    const tl_model *m = c->model;
    const tl_arch *a = &m->arch;
    const size_t H = a->hidden;
    const tl_gemm g = tl_ctx_gemm(c, m->gemm);
    float *qkv = tl_arena_at(arena, p, TL_PN_QKV), *ctx = tl_arena_at(arena, p, TL_PN_CTX);
    float *tmp = tl_arena_at(arena, p, TL_PN_TMP), *ffn = tl_arena_at(arena, p, TL_PN_FFN);
    float *scratch = tl_arena_at(arena, p, TL_PN_SCRATCH);
    const size_t *cu = tl_arena_at(arena, p, TL_PN_CU);
    const int prof = tl_prof_enabled();
    double t0 = prof ? tl_prof_now() : 0.0;
/* Closes the timing of one kernel step when TORCHLESS_PROFILE is on. */
#define STEP(k) do { if (prof) { double t1 = tl_prof_now(); tl_prof_add((k), t1 - t0); t0 = t1; } } while (0)
    // qkv (T, 3H) = x @ Wqkv^T + b
    tl_linear_forward(&g, &L->qkv, x, qkv, T, TL_LINEAR_NO_ACT);
    STEP(TL_PROF_QKV);
    tl_attention(&g, qkv, ctx, cu, b->n_seqs, ex, a->n_heads, a->head_dim, scratch, c->n_threads); // ctx (T, H)
    STEP(TL_PROF_ATTN);
    // tmp (T, H) = ctx @ Wo^T + b
    tl_linear_forward(&g, &L->attn_out, ctx, tmp, T, TL_LINEAR_NO_ACT);
    STEP(TL_PROF_ATTN_OUT);
    tl_add_layernorm(x, tmp, L->attn_ln_w, L->attn_ln_b, T, H, (float)a->ln_eps);
    STEP(TL_PROF_LN);
    // ffn (T, I) = act(x @ W1^T + b): the activation runs in the GEMM's epilogue
    // (oneDNN post-op) or, on backends without one, as a pass right after it
    tl_linear_forward(&g, &L->ffn_in, x, ffn, T, (int)a->act);
    STEP(TL_PROF_FFN_IN);
    // tmp (T, H) = ffn @ W2^T + b
    tl_linear_forward(&g, &L->ffn_out, ffn, tmp, T, TL_LINEAR_NO_ACT);
    STEP(TL_PROF_FFN_OUT);
    tl_add_layernorm(x, tmp, L->ffn_ln_w, L->ffn_ln_b, T, H, (float)a->ln_eps);
    STEP(TL_PROF_LN);
#undef STEP
}

const int32_t *tl_post_norm_prologue(const tl_arch *a, const tl_batch *b, const tl_arena_plan *p,
                                     void *arena) {
    size_t *cu = tl_arena_at(arena, p, TL_PN_CU);
    tl_batch_offsets(b, cu);
    if (b->position_ids) return b->position_ids;
    int32_t *pos = tl_arena_at(arena, p, TL_PN_POS);
    tl_default_positions(a, b, cu, pos);
    return pos;
}

tl_status tl_post_norm_bind_common(tl_weights *w, const tl_arch *a, const tl_safetensors *st,
                                   int pos_emb, size_t emb_norm_width) {
    const size_t H = a->hidden, I = a->intermediate, E = a->embedding_size;
    tl_status s;
    if ((s = tl_weights_get(w, st, TL_ROLE_WORD_EMB, 0, a->vocab_size, E, &w->word_emb)) ||
        (s = tl_weights_get_opt(w, st, TL_ROLE_POS_EMB, 0, a->max_positions, E, pos_emb, &w->pos_emb)) ||
        (s = tl_weights_get(w, st, TL_ROLE_EMB_LN_W, 0, emb_norm_width, 0, &w->emb_ln_w)) ||
        (s = tl_weights_get(w, st, TL_ROLE_EMB_LN_B, 0, emb_norm_width, 0, &w->emb_ln_b)))
        return s;
    if (a->type_vocab_size &&
        (s = tl_weights_get(w, st, TL_ROLE_TYPE_EMB, 0, a->type_vocab_size, E, &w->type_emb)))
        return s;
    if (a->has_emb_proj &&
        (s = tl_weights_get_linear(w, st, TL_ROLE_EMB_PROJ_W, TL_ROLE_EMB_PROJ_B, 0, H, E, 1, &w->emb_proj)))
        return s;
    if (a->rel_buckets &&
        (s = tl_weights_get(w, st, TL_ROLE_REL_BIAS, 0, a->rel_buckets, a->n_heads, &w->rel_bias)))
        return s;
    for (int l = 0; l < (int)a->n_layer_groups; l++) {
        tl_layer_weights *L = &w->layers[l];
        if ((s = tl_weights_fuse_qkv(w, st, l, H, L)) ||
            (s = tl_weights_get_linear(w, st, TL_ROLE_ATTN_OUT_W, TL_ROLE_ATTN_OUT_B, l, H, H, 1, &L->attn_out)) ||
            (s = tl_weights_get(w, st, TL_ROLE_ATTN_LN_W, l, H, 0, &L->attn_ln_w)) ||
            (s = tl_weights_get(w, st, TL_ROLE_ATTN_LN_B, l, H, 0, &L->attn_ln_b)) ||
            (s = tl_weights_get_linear(w, st, TL_ROLE_FFN_IN_W, TL_ROLE_FFN_IN_B, l, I, H, 1, &L->ffn_in)) ||
            (s = tl_weights_get_linear(w, st, TL_ROLE_FFN_OUT_W, TL_ROLE_FFN_OUT_B, l, H, I, 1, &L->ffn_out)) ||
            (s = tl_weights_get(w, st, TL_ROLE_FFN_LN_W, l, H, 0, &L->ffn_ln_w)) ||
            (s = tl_weights_get(w, st, TL_ROLE_FFN_LN_B, l, H, 0, &L->ffn_ln_b)))
            return s;
    }
    return TL_OK;
}

/* Binds a post-norm checkpoint: every table and layer, the norm as wide as the tables. */
static tl_status bind(tl_weights *w, const tl_arch *a, const tl_safetensors *st) {
    return tl_post_norm_bind_common(w, a, st, 1, a->embedding_size);
}

/* The post-norm parts, the embeddings before their projection, MPNet's bias table. */
static void plan(const tl_arch *a, const tl_batch *b, size_t T, int nt, tl_arena_plan *p) {
    tl_post_norm_plan(a, b, T, nt, 0, p);
    tl_arena_add(p, a->has_emb_proj ? T : 0, a->embedding_size * sizeof(float)); // PART_EMB (T, E)
    size_t span = tl_batch_max_len(b) + 1, rel = 0;
    if (a->rel_buckets) p->overflow |= tl_mul_overflow(a->n_heads, 2 * span - 1, &rel);
    tl_arena_add(p, rel, sizeof(float)); // PART_REL (heads, 2 span - 1)
}

/* x (T, H) = the layers over LN(word[ids] + type[tt] + pos[p]), projected when E != H. */
static void forward(tl_context *c, const tl_batch *b, size_t T, float *x, const tl_arena_plan *p,
                    void *arena) {
    const tl_model *m = c->model;
    const tl_arch *a = &m->arch;
    const tl_weights *w = &m->w;
    const int prof = tl_prof_enabled();
    double t0 = prof ? tl_prof_now() : 0.0;
    const tl_gemm g = tl_ctx_gemm(c, m->gemm);
    const int32_t *pos_ids = tl_post_norm_prologue(a, b, p, arena);
    // e (T, E) = LN(word[ids] + type[tt] + pos[p]); x (T, H) = e, or e @ Wproj^T + b
    float *e = a->has_emb_proj ? tl_arena_at(arena, p, PART_EMB) : x;
    tl_embeddings_ln(w->word_emb, w->pos_emb, w->type_emb, b->input_ids, pos_ids, b->token_type_ids,
                     w->emb_ln_w, w->emb_ln_b, (float)a->ln_eps, e, T, a->embedding_size);
    if (a->has_emb_proj)
        tl_linear_forward(&g, &w->emb_proj, e, x, T, TL_LINEAR_NO_ACT);
    tl_rel_bias relb = {tl_arena_at(arena, p, PART_REL), tl_batch_max_len(b) + 1};
    if (a->rel_buckets) tl_rel_bias_table(w->rel_bias, a->n_heads, relb.span, (float *)relb.table);
    if (prof) tl_prof_add(TL_PROF_EMBED, tl_prof_now() - t0);
    tl_attn_extras ex = {.key_mask = b->attention_mask, .rel = a->rel_buckets ? &relb : NULL};
    for (size_t l = 0; l < a->n_layers; l++) tl_post_norm_layer(c, w->layer_of[l], x, T, b, &ex, p, arena);
    tl_prof_report("encoder forward");
}

const tl_block_ops tl_block_post_norm = {
    .name = "post-norm", .bind = bind, .plan = plan, .forward = forward};

const tl_block_ops tl_block_albert = {
    .name = "post-norm, shared layer groups", .shares_layers = 1, .always_projects = 1,
    .bind = bind, .plan = plan, .forward = forward};

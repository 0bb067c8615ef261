/* encoder.c — the BERT-family encoder forward pass over a packed batch:
 * embeddings+LN, then per layer QKV GEMM → attention → out GEMM + residual + LN →
 * FFN GEMM + act → GEMM + residual + LN. */
#include "model/model.h"
#include "core/error.h"
#include "core/util.h"
#include "model/relpos.h"
#include "runtime/profile.h"
#include "runtime/threads.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

tl_status tl_batch_validate(const tl_model *m, const tl_batch *b, size_t *total) {
    const tl_arch *a = &m->arch;
    if (!b || (b->n_seqs && (!b->seq_lens || !b->input_ids)))
        return tl_set_error(TL_ERR_INVALID_ARG, "batch: NULL seq_lens or input_ids");
    size_t T = 0;
    for (size_t s = 0; s < b->n_seqs; s++) {
        size_t len = b->seq_lens[s];
        if (!b->position_ids && len > a->max_seq_len)
            return tl_set_error(TL_ERR_INVALID_ARG,
                                "batch: sequence %zu has %zu tokens, the model allows at most %zu "
                                "(max_position_embeddings %zu)", s, len, a->max_seq_len, a->max_positions);
        if (tl_add_overflow(T, len, &T))
            return tl_set_error(TL_ERR_INVALID_ARG, "batch: total token count overflows");
    }
    for (size_t s = 0, t = 0; s < b->n_seqs; s++) {
        for (size_t i = 0; i < b->seq_lens[s]; i++, t++) {
            int32_t id = b->input_ids[t];
            if (id < 0 || (size_t)id >= a->vocab_size)
                return tl_set_error(TL_ERR_INVALID_ARG,
                                    "batch: sequence %zu token %zu: input id %d outside [0, %zu)",
                                    s, i, id, a->vocab_size);
            /* without a type embedding (type_vocab_size 0: DeBERTa-v3, DistilBERT, ...) the
             * ids are unused, as transformers ignores them */
            if (b->token_type_ids && a->type_vocab_size) {
                int32_t tt = b->token_type_ids[t];
                if (tt < 0 || (size_t)tt >= a->type_vocab_size)
                    return tl_set_error(TL_ERR_INVALID_ARG,
                                        "batch: sequence %zu token %zu: token type id %d outside [0, %zu)",
                                        s, i, tt, a->type_vocab_size);
            }
            if (b->position_ids) {
                int32_t p = b->position_ids[t];
                if (p < 0 || (size_t)p >= a->max_positions)
                    return tl_set_error(TL_ERR_INVALID_ARG,
                                        "batch: sequence %zu token %zu: position id %d outside [0, %zu)",
                                        s, i, p, a->max_positions);
            }
        }
    }
    *total = T;
    return TL_OK;
}

/* Byte sizes of the arena's parts for T tokens; returns 0 on overflow. */
typedef struct arena_plan {
    size_t qkv, ctx, tmp, ffn, emb, rel, didx, pos, cu, scratch, total;
    size_t rel_span; /* longest sequence + 1 when the model has a relative bias */
} arena_plan;

/* Fills pos (T) with the position ids the family's model computes when none are given:
 * 0..len-1 per sequence (BERT), or RoBERTa's padding_idx + 1 + running count of
 * non-padding tokens, with padding tokens themselves at padding_idx. */
static void default_positions(const tl_arch *a, const tl_batch *b, const size_t *cu, int32_t *pos) {
    for (size_t s = 0; s < b->n_seqs; s++) {
        int32_t count = 0;
        for (size_t i = 0; i < b->seq_lens[s]; i++) {
            size_t t = cu[s] + i;
            if (a->family->positions == TL_POS_ABSOLUTE) {
                pos[t] = (int32_t)i;
            } else {
                int is_pad = b->input_ids[t] == a->pad_token_id;
                count += !is_pad;
                pos[t] = a->pad_token_id + (is_pad ? 0 : count);
            }
        }
    }
}

/* Rounds a float count up to a multiple of 16 (64-byte aligned parts); n < SIZE_MAX/2. */
static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

/* Plans the per-call arena (all sizes in floats or ints, overflow-checked). */
static int plan_arena(const tl_arch *a, const tl_batch *b, size_t T, int nt, arena_plan *p) {
    size_t max_len = 0;
    for (size_t s = 0; s < b->n_seqs; s++)
        if (b->seq_lens[s] > max_len) max_len = b->seq_lens[s];
    memset(p, 0, sizeof *p);
    if (tl_mul_overflow(T, 3 * a->hidden, &p->qkv) || tl_mul_overflow(T, a->hidden, &p->ctx) ||
        tl_mul_overflow(T, a->intermediate, &p->ffn) ||
        tl_mul_overflow(tl_attention_scratch_floats(max_len, a->relative_attention ? a->att_span : 0),
                        (size_t)nt, &p->scratch))
        return 0;
    p->tmp = p->ctx;
    if (a->has_emb_proj && tl_mul_overflow(T, a->embedding_size, &p->emb)) return 0;
    if (a->relative_attention) p->didx = 2 * max_len + 1;
    if (a->rel_buckets) {
        p->rel_span = max_len + 1;
        if (tl_mul_overflow(a->n_heads, 2 * p->rel_span - 1, &p->rel)) return 0;
    }
    p->pos = T;
    p->cu = b->n_seqs + 1;
    size_t n = 0;
    size_t parts[] = {p->qkv, p->ctx, p->tmp, p->ffn, p->emb, p->rel, p->didx, p->pos, p->cu * 2, p->scratch};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (tl_add_overflow(n, round16(parts[i]), &n)) return 0;
    return !tl_mul_overflow(n, sizeof(float), &p->total);
}

tl_status tl_encoder_forward(tl_model *m, const tl_batch *b, size_t T, float *x) {
    const tl_arch *a = &m->arch;
    const tl_weights *w = &m->w;
    const size_t H = a->hidden;
    const int nt = m->n_threads;
    const tl_gemm *g = &m->gemm;
    if (T == 0) return TL_OK;
    tl_threads_steer_omp(nt);
    if (a->family->block == TL_BLOCK_MODERNBERT) return tl_modernbert_forward(m, b, T, x);
    arena_plan p;
    if (!plan_arena(a, b, T, nt, &p))
        return tl_set_error(TL_ERR_OOM, "batch of %zu tokens is too large", T);
    float *arena = tl_model_scratch(m, p.total);
    if (!arena) return tl_set_error(TL_ERR_OOM, "cannot allocate %zu bytes for the forward pass", p.total);
    float *qkv = arena, *ctx = qkv + round16(p.qkv), *tmp = ctx + round16(p.ctx);
    float *ffn = tmp + round16(p.tmp), *emb = ffn + round16(p.ffn), *rel = emb + round16(p.emb);
    int32_t *didx = (int32_t *)(rel + round16(p.rel));
    int32_t *pos = didx + round16(p.didx);
    size_t *cu = (size_t *)((float *)pos + round16(p.pos));
    float *scratch = (float *)cu + round16(p.cu * 2);

    cu[0] = 0;
    for (size_t s = 0; s < b->n_seqs; s++) cu[s + 1] = cu[s] + b->seq_lens[s];
    const int32_t *pos_ids = b->position_ids;
    if (!pos_ids) {
        default_positions(a, b, cu, pos);
        pos_ids = pos;
    }

    const int prof = tl_prof_enabled();
    double t0 = prof ? tl_prof_now() : 0.0;
/* Closes the timing of one kernel step when TORCHLESS_PROFILE is on. */
#define STEP(k) do { if (prof) { double t1 = tl_prof_now(); tl_prof_add((k), t1 - t0); t0 = t1; } } while (0)
    // e (T, E) = LN(word[ids] + type[tt] + pos[p]); x (T, H) = e, or e @ Wproj^T + b
    // (DeBERTa: project first, then LN on (T, H), then zero the masked tokens)
    const size_t E = a->embedding_size;
    float *e = a->has_emb_proj ? emb : x;
    if (a->family->deberta)
        tl_embeddings_sum(w->word_emb, w->pos_emb, w->type_emb, b->input_ids, pos_ids,
                          b->token_type_ids, e, T, E);
    else
        tl_embeddings_ln(w->word_emb, w->pos_emb, w->type_emb, b->input_ids, pos_ids,
                         b->token_type_ids, w->emb_ln_w, w->emb_ln_b, (float)a->ln_eps, e, T, E);
    if (a->has_emb_proj)
        tl_linear_forward(g, &w->emb_proj, e, x, T, TL_LINEAR_NO_ACT);
    if (a->family->deberta) {
        tl_add_layernorm(x, NULL, w->emb_ln_w, w->emb_ln_b, T, H, (float)a->ln_eps);
        for (size_t t = 0; b->attention_mask && t < T; t++)
            if (!b->attention_mask[t]) memset(x + t * H, 0, H * sizeof(float));
    }
    // DeBERTa: row of the position projections for each offset i - j
    const size_t center = p.didx ? p.didx / 2 : 0;
    for (size_t k = 0; k < p.didx; k++) {
        long bucket = tl_deberta_bucket((long)k - (long)center, a->position_buckets, a->max_relative_positions);
        long row = bucket + (long)a->att_span, top = 2 * (long)a->att_span - 1;
        didx[k] = (int32_t)(row < 0 ? 0 : (row > top ? top : row));
    }
    tl_rel_bias relb = {rel, p.rel_span};
    if (a->rel_buckets) tl_rel_bias_table(w->rel_bias, a->n_heads, p.rel_span, rel);
    STEP(TL_PROF_EMBED);

    for (size_t l = 0; l < a->n_layers; l++) {
        const tl_layer_weights *L = w->layer_of[l];
        // qkv (T, 3H) = x @ Wqkv^T + b
        tl_linear_forward(g, &L->qkv, x, qkv, T, TL_LINEAR_NO_ACT);
        STEP(TL_PROF_QKV);
        tl_disentangled dis = {L->pos_q, L->pos_k, L->pos_ld, a->att_span, didx, center};
        tl_attn_extras ex = {b->attention_mask, a->rel_buckets ? &relb : NULL, 0,
                             a->relative_attention ? &dis : NULL,
                             /* DeBERTa scales by sqrt(d * (1 + c2p + p2c)) */
                             a->family->deberta ? 1.0f / sqrtf((float)a->head_dim * (float)(1 + a->c2p + a->p2c)) : 0.0f,
                             a->family->deberta};
        tl_attention(g, qkv, ctx, cu, b->n_seqs, &ex, a->n_heads, a->head_dim, scratch, nt);                                       // ctx (T, H)
        STEP(TL_PROF_ATTN);
        // tmp (T, H) = ctx @ Wo^T + b
        tl_linear_forward(g, &L->attn_out, ctx, tmp, T, TL_LINEAR_NO_ACT);
        STEP(TL_PROF_ATTN_OUT);
        tl_add_layernorm(x, tmp, L->attn_ln_w, L->attn_ln_b, T, H, (float)a->ln_eps);
        STEP(TL_PROF_LN);
        // ffn (T, I) = act(x @ W1^T + b): the activation runs in the GEMM's epilogue
        // (oneDNN post-op) or, on backends without one, as a pass right after it
        tl_linear_forward(g, &L->ffn_in, x, ffn, T, (int)a->act);
        STEP(TL_PROF_FFN_IN);
        // tmp (T, H) = ffn @ W2^T + b
        tl_linear_forward(g, &L->ffn_out, ffn, tmp, T, TL_LINEAR_NO_ACT);
        STEP(TL_PROF_FFN_OUT);
        tl_add_layernorm(x, tmp, L->ffn_ln_w, L->ffn_ln_b, T, H, (float)a->ln_eps);
        STEP(TL_PROF_LN);
    }
#undef STEP
    tl_prof_report("encoder forward");
    tl_model_scratch_done(m, arena);
    return TL_OK;
}

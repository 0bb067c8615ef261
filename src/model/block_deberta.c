/* block_deberta.c — DeBERTa-v2's block kind: post-norm layers with disentangled
 * attention. Embeddings are summed, projected, then normalized and masked; each layer's
 * attention adds content-to-position and position-to-content terms read from relative
 * embeddings projected once, at load. */
#include "core/error.h"
#include "model/block.h"
#include "model/model.h"
#include "model/relpos.h"
#include "runtime/profile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Parts this kind adds after the post-norm ones. */
enum { PART_EMB = TL_PN_PARTS, PART_DIDX };

/* Returns a new owned (rows, out) buffer = x (rows, in) @ W (out, in)^T + b, or NULL. */
static float *project(tl_weights *w, const float *x, const float *W, const float *b, size_t rows,
                      size_t in, size_t out) {
    float *y = malloc(rows * out * sizeof(float));
    if (!y || !tl_weights_keep(w, y)) return NULL;
    tl_linear_blas(x, W, b, y, rows, in, out);
    return y;
}

/* Binds the relative embeddings (normalized once if configured) and computes each
 * layer's position projections for c2p / p2c once, at load. */
static tl_status bind_positions(tl_weights *w, const tl_arch *a, const tl_safetensors *st) {
    const size_t H = a->hidden, R = 2 * a->att_span;
    const float *rel, *g = NULL, *b = NULL;
    tl_status s;
    if ((s = tl_weights_get(w, st, TL_ROLE_REL_EMB, 0, R, H, &rel))) return s;
    if (a->rel_ln) {
        if ((s = tl_weights_get(w, st, TL_ROLE_REL_LN_W, 0, H, 0, &g)) ||
            (s = tl_weights_get(w, st, TL_ROLE_REL_LN_B, 0, H, 0, &b)))
            return s;
        float *normed = malloc(R * H * sizeof(float));
        if (!normed || !tl_weights_keep(w, normed)) return tl_set_error(TL_ERR_OOM, "out of memory");
        tl_layernorm(rel, normed, g, b, R, H, (float)a->ln_eps);
        rel = normed;
    }
    for (int l = 0; l < (int)a->n_layers; l++) {
        tl_layer_weights *L = &w->layers[l];
        if (a->share_att_key) { /* query_proj / key_proj of the layer itself: one fused pass */
            float *pqk = project(w, rel, L->qkv.w, L->qkv.b, R, H, 3 * H);
            if (!pqk) return tl_set_error(TL_ERR_OOM, "out of memory");
            L->pos_q = a->p2c ? pqk : NULL;
            L->pos_k = a->c2p ? pqk + H : NULL;
            L->pos_ld = 3 * H;
            continue;
        }
        const float *kw, *kb, *qw, *qb;
        L->pos_ld = H;
        if (a->c2p) {
            if ((s = tl_weights_get(w, st, TL_ROLE_POS_K_W, l, H, H, &kw)) ||
                (s = tl_weights_get(w, st, TL_ROLE_POS_K_B, l, H, 0, &kb)))
                return s;
            if (!(L->pos_k = project(w, rel, kw, kb, R, H, H))) return tl_set_error(TL_ERR_OOM, "out of memory");
        }
        if (a->p2c) {
            if ((s = tl_weights_get(w, st, TL_ROLE_POS_Q_W, l, H, H, &qw)) ||
                (s = tl_weights_get(w, st, TL_ROLE_POS_Q_B, l, H, 0, &qb)))
                return s;
            if (!(L->pos_q = project(w, rel, qw, qb, R, H, H))) return tl_set_error(TL_ERR_OOM, "out of memory");
        }
    }
    return TL_OK;
}

/* Binds the post-norm tensors (the embedding norm comes after the projection, so it is
 * hidden wide; positions only when position_biased_input), then the relative positions. */
static tl_status bind(tl_weights *w, const tl_arch *a, const tl_safetensors *st) {
    tl_status s = tl_post_norm_bind_common(w, a, st, a->position_biased_input, a->hidden);
    if (s == TL_OK && a->relative_attention) s = bind_positions(w, a, st);
    return s;
}

/* The post-norm parts (attention scratch with the disentangled span), the embeddings
 * before their projection, and the row of the position projections per offset. */
static void plan(const tl_arch *a, const tl_batch *b, size_t T, int nt, tl_arena_plan *p) {
    tl_post_norm_plan(a, b, T, nt, a->relative_attention ? a->att_span : 0, p);
    tl_arena_add(p, a->has_emb_proj ? T : 0, a->embedding_size * sizeof(float)); // PART_EMB (T, E)
    tl_arena_add(p, a->relative_attention ? 2 * tl_batch_max_len(b) + 1 : 0, sizeof(int32_t)); // PART_DIDX
}

/* x (T, H) = the layers over mask(LN(proj(word[ids] + type[tt] + pos[p]))). */
static void forward(tl_context *c, const tl_batch *b, size_t T, float *x, const tl_arena_plan *p,
                    void *arena) {
    const tl_model *m = c->model;
    const tl_arch *a = &m->arch;
    const tl_weights *w = &m->w;
    const size_t H = a->hidden, E = a->embedding_size;
    const int prof = tl_prof_enabled();
    double t0 = prof ? tl_prof_now() : 0.0;
    const tl_gemm g = tl_ctx_gemm(c, m->gemm);
    const int32_t *pos_ids = tl_post_norm_prologue(a, b, p, arena);
    // project first, then LN on (T, H), then zero the masked tokens
    float *e = a->has_emb_proj ? tl_arena_at(arena, p, PART_EMB) : x;
    tl_embeddings_sum(w->word_emb, w->pos_emb, w->type_emb, b->input_ids, pos_ids, b->token_type_ids,
                      e, T, E);
    if (a->has_emb_proj)
        tl_linear_forward(&g, &w->emb_proj, e, x, T, TL_LINEAR_NO_ACT);
    tl_add_layernorm(x, NULL, w->emb_ln_w, w->emb_ln_b, T, H, (float)a->ln_eps);
    for (size_t t = 0; b->attention_mask && t < T; t++)
        if (!b->attention_mask[t]) memset(x + t * H, 0, H * sizeof(float));
    // row of the position projections for each offset i - j
    int32_t *didx = tl_arena_at(arena, p, PART_DIDX);
    const size_t n_didx = a->relative_attention ? 2 * tl_batch_max_len(b) + 1 : 0, center = n_didx / 2;
    for (size_t k = 0; k < n_didx; k++) {
        long bucket = tl_deberta_bucket((long)k - (long)center, a->position_buckets, a->max_relative_positions);
        long row = bucket + (long)a->att_span, top = 2 * (long)a->att_span - 1;
        didx[k] = (int32_t)(row < 0 ? 0 : (row > top ? top : row));
    }
    if (prof) tl_prof_add(TL_PROF_EMBED, tl_prof_now() - t0);
    for (size_t l = 0; l < a->n_layers; l++) {
        const tl_layer_weights *L = w->layer_of[l];
        tl_disentangled dis = {L->pos_q, L->pos_k, L->pos_ld, a->att_span, didx, center};
        /* DeBERTa scales by sqrt(d * (1 + c2p + p2c)); masked queries get equal weights */
        tl_attn_extras ex = {.key_mask = b->attention_mask, .dis = a->relative_attention ? &dis : NULL,
                             .scale = 1.0f / sqrtf((float)a->head_dim * (float)(1 + a->c2p + a->p2c)),
                             .mask_queries = 1};
        tl_post_norm_layer(c, L, x, T, b, &ex, p, arena);
    }
    tl_prof_report("encoder forward");
}

const tl_block_ops tl_block_deberta = {
    .name = "post-norm, disentangled attention", .config = tl_deberta_config, .bind = bind,
    .plan = plan, .forward = forward};

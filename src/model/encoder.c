/* encoder.c — the forward pass of any encoder over a packed batch: validates the batch,
 * plans the arena with the family's block kind, and runs the block's forward on the
 * caller's context; plus the helpers every block kind shares (offsets, positions). */
#include "model/model.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/util.h"
#include "model/block.h"
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
            if (b->attention_mask && b->attention_mask[t] != 0 && b->attention_mask[t] != 1)
                return tl_set_error(TL_ERR_INVALID_ARG,
                                    "batch: sequence %zu token %zu: attention_mask value %d is not 0 or 1",
                                    s, i, b->attention_mask[t]);
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

size_t tl_batch_max_len(const tl_batch *b) {
    size_t max_len = 0;
    for (size_t s = 0; s < b->n_seqs; s++)
        if (b->seq_lens[s] > max_len) max_len = b->seq_lens[s];
    return max_len;
}

void tl_batch_offsets(const tl_batch *b, size_t *cu) {
    cu[0] = 0;
    for (size_t s = 0; s < b->n_seqs; s++) cu[s + 1] = cu[s] + b->seq_lens[s];
}

/* Fills pos (T) with the position ids the family's model computes when none are given:
 * 0..len-1 per sequence (BERT), or RoBERTa's padding_idx + 1 + running count of
 * non-padding tokens, with padding tokens themselves at padding_idx. */
void tl_default_positions(const tl_arch *a, const tl_batch *b, const size_t *cu, int32_t *pos) {
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

tl_status tl_encoder_forward(tl_context *c, const tl_batch *b, size_t T, float *x) {
    const tl_arch *a = &c->model->arch;
    const tl_block_ops *ops = a->family->block;
    if (!ops->forward)
        return tl_set_error(TL_ERR_UNSUPPORTED, "model_type '%s' is a decoder: run it with "
                            "tl_context_decode, tl_context_logits or tl_generate", a->model_type);
    if (T == 0) return TL_OK;
    tl_arena_plan p = {0};
    ops->plan(a, b, T, c->n_threads, &p);
    if (!tl_arena_layout(&p)) return tl_set_error(TL_ERR_OOM, "batch of %zu tokens is too large", T);
    void *arena = tl_ctx_arena(c, p.total);
    if (!arena) return tl_set_error(TL_ERR_OOM, "cannot allocate %zu bytes for the forward pass", p.total);
    tl_threads_steer_omp(c->n_threads);
    ops->forward(c, b, T, x, &p, arena);
    tl_ctx_arena_done(c, arena);
    size_t n = T * a->hidden, bad = tl_first_nonfinite(x, n); /* T * hidden fits: arena planned */
    if (bad < n) {
        size_t t = bad / a->hidden, s = 0;
        while (s + 1 < b->n_seqs && t >= b->seq_lens[s]) t -= b->seq_lens[s++];
        return tl_set_error(TL_ERR_NUMERIC, "forward: the output holds %s (sequence %zu token %zu): "
                            "the model computed a non-finite value from these inputs", x[bad] != x[bad] ? "NaN" : "Inf", s, t);
    }
    return TL_OK;
}

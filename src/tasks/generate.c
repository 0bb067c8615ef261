/* generate.c — tl_generate: prompts prefilled in one packed step on temporary KV-cache
 * sequences, then one decode step per new token over the unfinished sequences, each token
 * chosen by sampling.c after the logits processors; stops at an eos id, a stop string,
 * the callback's word or max_new_tokens. */
#include "core/error.h"
#include "core/util.h"
#include "runtime/context.h"
#include "runtime/kv_cache.h"
#include "tasks/sampling.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Checks prompts and sizes against the model and the cache before anything runs (an
 * empty prompt counts as the one bos token it becomes). */
static tl_status check_args(tl_context *ctx, const tl_batch *b, const tl_generate_params *p, size_t out_len) {
    const tl_model *m = ctx->model;
    if (!tl_model_is_decoder(m))
        return tl_set_error(TL_ERR_UNSUPPORTED, "generate: model_type '%s' is an encoder, not a decoder",
                            tl_model_type(m));
    tl_status s = tl_sampling_check(p);
    if (s) return s;
    if (b->n_seqs == 0 || !b->seq_lens || !b->input_ids)
        return tl_set_error(TL_ERR_INVALID_ARG, "generate: no prompts (n_seqs 0 or NULL seq_lens / input_ids)");
    const size_t max_pos = tl_model_max_positions(m);
    if (p->max_new_tokens == 0 || p->max_new_tokens >= max_pos)
        return tl_set_error(TL_ERR_INVALID_ARG, "generate: max_new_tokens %zu must be in [1, %zu) "
                            "(the model's max positions)", p->max_new_tokens, max_pos);
    size_t need = 0, rows;
    for (size_t i = 0; i < b->n_seqs; i++) {
        size_t len = b->seq_lens[i];
        if (len == 0 && p->bos_token_id < 0)
            return tl_set_error(TL_ERR_INVALID_ARG, "generate: prompt %zu is empty and there is no "
                                "bos_token_id to start from", i);
        if (len == 0 && (size_t)p->bos_token_id >= tl_model_vocab_size(m))
            return tl_set_error(TL_ERR_INVALID_ARG, "generate: prompt %zu is empty and bos_token_id %d is "
                                "outside the vocabulary (%zu)", i, (int)p->bos_token_id, tl_model_vocab_size(m));
        len += len == 0;
        if (len > max_pos - p->max_new_tokens)
            return tl_set_error(TL_ERR_INVALID_ARG, "generate: prompt %zu has %zu tokens; with max_new_tokens "
                                "%zu it passes the model's %zu positions", i, len, p->max_new_tokens, max_pos);
        /* whole pages: a sequence holds ceil(tokens / page) of them */
        need += (len + p->max_new_tokens - 1 + TL_KV_PAGE_TOKENS - 1) / TL_KV_PAGE_TOKENS * TL_KV_PAGE_TOKENS;
    }
    size_t cap = tl_context_kv_capacity(ctx);
    if (need > cap)
        return tl_set_error(TL_ERR_INVALID_ARG, "generate: the prompts plus max_new_tokens need %zu KV-cache "
                            "tokens (in pages of %d), the context holds %zu (kv_cache_tokens)", need,
                            TL_KV_PAGE_TOKENS, cap);
    if (tl_mul_overflow(b->n_seqs, p->max_new_tokens, &rows) || out_len < rows)
        return tl_set_error(TL_ERR_INVALID_ARG, "generate: out holds %zu tokens, %zu prompts x "
                            "max_new_tokens %zu need more", out_len, b->n_seqs, p->max_new_tokens);
    return TL_OK;
}

/* A run's state: seq[i] views sequence i's slices of hist (n x stride: the prompt then the
 * new tokens), out and out_logprobs. */
typedef struct gen_run {
    const tl_generate_params *p;
    size_t n, V;
    tl_gen_seq *seq;
    tl_gen_scratch w;
} gen_run;

/* The generation loop on the prompts b (none empty) and sequences ids (made), logits
 * (n x V). */
static tl_status run(tl_context *ctx, const tl_batch *b, gen_run *g, const int32_t *ids, float *logits) {
    const size_t n = g->n, V = g->V;
    size_t *one = malloc(n * sizeof *one);
    int32_t *act = malloc(n * sizeof *act), *act_ids = malloc(n * sizeof *act_ids), *tok = malloc(n * sizeof *tok);
    tl_status s = TL_OK;
    if (!one || !act || !act_ids || !tok) { s = tl_set_error(TL_ERR_OOM, "out of memory"); goto done; }
    /* prefill: every prompt in one packed step, the logits of its last token */
    s = tl_context_decode(ctx, ids, b, 0, logits, n * V);
    size_t n_act = n;
    for (size_t i = 0; i < n; i++) act[i] = (int32_t)i;
    while (s == TL_OK && n_act) {
        size_t keep = 0;
        for (size_t a = 0; a < n_act && s == TL_OK; a++) {
            size_t i = (size_t)act[a];
            int end = 0;
            s = tl_gen_choose(g->p, V, &g->seq[i], logits + a * V, &g->w, i, &end);
            if (s == TL_OK && !end) {
                act[keep] = (int32_t)i;
                act_ids[keep] = ids[i];
                tok[keep++] = g->seq[i].out[g->seq[i].n_out - 1];
            }
        }
        n_act = keep;
        if (s || !n_act) break;
        for (size_t a = 0; a < n_act; a++) one[a] = 1;
        tl_batch step = {.n_seqs = n_act, .seq_lens = one, .input_ids = tok};
        s = tl_context_decode(ctx, act_ids, &step, 0, logits, n * V);
    }
done:
    free(one); free(act); free(act_ids); free(tok);
    return s;
}

/* Sets up g's buffers for the prompts b (none empty), runs, frees them. */
static tl_status generate(tl_context *ctx, const tl_batch *b, const tl_generate_params *p, int32_t *out,
                          size_t *n_out) {
    const size_t n = b->n_seqs, V = tl_model_vocab_size(ctx->model), M = p->max_new_tokens;
    size_t longest = 0;
    for (size_t i = 0; i < n; i++) longest = b->seq_lens[i] > longest ? b->seq_lens[i] : longest;
    const size_t stride = longest + M;
    gen_run g = {.p = p, .n = n, .V = V};
    int32_t *hist = malloc(n * stride * sizeof *hist);
    g.seq = calloc(n, sizeof *g.seq);
    g.w.mark = calloc(V, 1);
    g.w.work = malloc(V * sizeof *g.w.work);
    g.w.prob = malloc(V * sizeof *g.w.prob);
    int32_t *ids = malloc(n * sizeof *ids);
    float *logits = malloc(n * V * sizeof *logits);
    size_t made = 0;
    tl_status s = TL_OK;
    if (!hist || !g.seq || !g.w.mark || !g.w.work || !g.w.prob || !ids || !logits)
        s = tl_set_error(TL_ERR_OOM, "out of memory for generation");
    for (size_t i = 0, t = 0; s == TL_OK && i < n; i++) {
        tl_gen_seq *q = &g.seq[i];
        q->hist = hist + i * stride;
        q->out = out + i * M;
        q->logprobs = p->out_logprobs ? p->out_logprobs + i * M : NULL;
        memcpy(q->hist, b->input_ids + t, b->seq_lens[i] * sizeof *q->hist);
        q->hlen = b->seq_lens[i];
        t += b->seq_lens[i];
        q->rng = tl_rng_for(p->seed, i);
        for (size_t k = 0; k < M; k++) {
            out[i * M + k] = -1;
            if (p->out_logprobs) p->out_logprobs[i * M + k] = NAN;
        }
    }
    for (; s == TL_OK && made < n; made++)
        if ((s = tl_context_seq_new(ctx, &ids[made]))) break;
    if (s == TL_OK) s = run(ctx, b, &g, ids, logits);
    for (size_t i = 0; i < made; i++) tl_context_seq_free(ctx, ids[i]);
    for (size_t i = 0; i < n; i++) n_out[i] = g.seq ? g.seq[i].n_out : 0;
    free(hist); free(g.seq); free(g.w.mark); free(g.w.work); free(g.w.prob);
    free(ids); free(logits);
    return s;
}

tl_status tl_generate(tl_context *ctx, const tl_batch *prompts, const tl_generate_params *params,
                      int32_t *out, size_t out_len, size_t *n_out) {
    if (!ctx || !prompts || !out || !n_out)
        return tl_set_error(TL_ERR_INVALID_ARG, "tl_generate: NULL argument");
    tl_generate_params p = params ? *params : tl_generate_default_params();
    tl_status s = check_args(ctx, prompts, &p, out_len);
    if (s) return s;
    size_t n = prompts->n_seqs, total = 0, empty = 0;
    for (size_t i = 0; i < n; i++) { total += prompts->seq_lens[i]; empty += !prompts->seq_lens[i]; }
    if (!empty) return generate(ctx, prompts, &p, out, n_out);
    /* empty prompts start from bos_token_id (checked), as generate() without input_ids */
    size_t *lens = malloc(n * sizeof *lens);
    int32_t *ids = malloc((total + empty) * sizeof *ids);
    if (!lens || !ids) { free(lens); free(ids); return tl_set_error(TL_ERR_OOM, "out of memory"); }
    for (size_t i = 0, src = 0, dst = 0; i < n; i++) {
        size_t len = prompts->seq_lens[i];
        if (len) memcpy(ids + dst, prompts->input_ids + src, len * sizeof *ids);
        else ids[dst] = p.bos_token_id;
        lens[i] = len ? len : 1;
        src += len;
        dst += lens[i];
    }
    tl_batch b = {.n_seqs = n, .seq_lens = lens, .input_ids = ids};
    s = generate(ctx, &b, &p, out, n_out);
    free(lens); free(ids);
    return s;
}

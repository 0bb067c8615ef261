/* generate.c — tl_generate: prompts prefilled in one packed step on temporary KV-cache
 * sequences, then one decode step per new token over the unfinished sequences, each token
 * chosen by sampling.c; stops at an eos id or max_new_tokens. */
#include "core/error.h"
#include "core/util.h"
#include "runtime/context.h"
#include "runtime/kv_cache.h"
#include "tasks/sampling.h"

#include <stdlib.h>
#include <string.h>

tl_generate_params tl_generate_default_params(void) {
    tl_generate_params p = {.max_new_tokens = 20, .eos_ids = NULL, .n_eos = 0, .do_sample = 0,
                            .temperature = 1.0f, .top_k = 0, .top_p = 1.0f,
                            .repetition_penalty = 1.0f, .seed = 0};
    return p;
}

/* Whether id is one of p's eos ids. */
static int is_eos(const tl_generate_params *p, int32_t id) {
    for (size_t i = 0; i < p->n_eos; i++)
        if (p->eos_ids[i] == id) return 1;
    return 0;
}

/* Checks prompts and sizes against the model and the cache before anything runs. */
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
        if (len == 0) return tl_set_error(TL_ERR_INVALID_ARG, "generate: prompt %zu is empty", i);
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

/* The generation loop on sequences ids (made), logits (n x V) and scratch. */
static tl_status run(tl_context *ctx, const tl_batch *b, const tl_generate_params *p, const int32_t *ids,
                     float *logits, int32_t *work, float *prob, int32_t *out, size_t *n_out) {
    const size_t n = b->n_seqs, V = tl_model_vocab_size(ctx->model), M = p->max_new_tokens;
    size_t *cu = calloc(n + 1, sizeof *cu), *one = malloc(n * sizeof *one);
    int32_t *act = malloc(n * sizeof *act), *act_ids = malloc(n * sizeof *act_ids), *tok = malloc(n * sizeof *tok);
    int32_t *seen = NULL;
    unsigned char *mark = NULL;
    tl_rng *rng = malloc(n * sizeof *rng);
    tl_status s = TL_OK;
    if (!cu || !one || !act || !act_ids || !tok || !rng) { s = tl_set_error(TL_ERR_OOM, "out of memory"); goto done; }
    for (size_t i = 0; i < n; i++) {
        cu[i + 1] = cu[i] + b->seq_lens[i];
        rng[i] = tl_rng_for(p->seed, i);
        n_out[i] = 0;
        for (size_t k = 0; k < M; k++) out[i * M + k] = -1;
    }
    if (p->repetition_penalty != 1.0f) {
        size_t longest = 0;
        for (size_t i = 0; i < n; i++) longest = b->seq_lens[i] > longest ? b->seq_lens[i] : longest;
        seen = malloc((longest + M) * sizeof *seen);
        mark = calloc(V, 1);
        if (!seen || !mark) { s = tl_set_error(TL_ERR_OOM, "out of memory"); goto done; }
    }
    /* prefill: every prompt in one packed step, the logits of its last token */
    s = tl_context_decode(ctx, ids, b, 0, logits, n * V);
    size_t n_act = n;
    for (size_t i = 0; i < n; i++) act[i] = (int32_t)i;
    while (s == TL_OK && n_act) {
        size_t keep = 0;
        for (size_t a = 0; a < n_act; a++) {
            size_t i = (size_t)act[a];
            float *row = logits + a * V;
            if (seen) {
                size_t k = 0;
                for (size_t t = cu[i]; t < cu[i + 1]; t++) seen[k++] = b->input_ids[t];
                for (size_t t = 0; t < n_out[i]; t++) seen[k++] = out[i * M + t];
                tl_repetition_penalty(row, V, seen, k, p->repetition_penalty, mark);
            }
            int32_t next = tl_sample_next(row, V, p, &rng[i], work, prob);
            out[i * M + n_out[i]++] = next;
            if (!is_eos(p, next) && n_out[i] < M) {
                act[keep] = (int32_t)i;
                act_ids[keep] = ids[i];
                tok[keep++] = next;
            }
        }
        n_act = keep;
        if (!n_act) break;
        for (size_t a = 0; a < n_act; a++) one[a] = 1;
        tl_batch step = {.n_seqs = n_act, .seq_lens = one, .input_ids = tok};
        s = tl_context_decode(ctx, act_ids, &step, 0, logits, n * V);
    }
done:
    free(cu); free(one); free(act); free(act_ids); free(tok); free(seen); free(mark); free(rng);
    return s;
}

tl_status tl_generate(tl_context *ctx, const tl_batch *prompts, const tl_generate_params *params,
                      int32_t *out, size_t out_len, size_t *n_out) {
    if (!ctx || !prompts || !out || !n_out)
        return tl_set_error(TL_ERR_INVALID_ARG, "tl_generate: NULL argument");
    tl_generate_params p = params ? *params : tl_generate_default_params();
    tl_status s = check_args(ctx, prompts, &p, out_len);
    if (s) return s;
    const size_t n = prompts->n_seqs, V = tl_model_vocab_size(ctx->model);
    int32_t *ids = malloc(n * sizeof *ids), *work = malloc(V * sizeof *work);
    float *logits = malloc(n * V * sizeof *logits), *prob = malloc(V * sizeof *prob);
    size_t made = 0;
    if (!ids || !work || !logits || !prob) s = tl_set_error(TL_ERR_OOM, "out of memory for generation");
    for (; s == TL_OK && made < n; made++)
        if ((s = tl_context_seq_new(ctx, &ids[made]))) break;
    if (s == TL_OK) s = run(ctx, prompts, &p, ids, logits, work, prob, out, n_out);
    for (size_t i = 0; i < made; i++) tl_context_seq_free(ctx, ids[i]);
    free(ids); free(work); free(logits); free(prob);
    return s;
}

/* gen_choose.c — one generation step of one sequence: the logits processors in
 * transformers generate()'s order, the choice, and the stop conditions; shared by
 * tl_generate and the engine's continuous batching. */
#include "tasks/sampling.h"

/* Whether id is one of p's eos ids. */
static int is_eos(const tl_generate_params *p, int32_t id) {
    for (size_t i = 0; i < p->n_eos; i++)
        if (p->eos_ids[i] == id) return 1;
    return 0;
}

tl_status tl_gen_choose(const tl_generate_params *p, size_t V, tl_gen_seq *g, float *row, tl_gen_scratch *w,
                        size_t seq, int *end) {
    tl_repetition_penalty(row, V, g->hist, g->hlen, p->repetition_penalty, w->mark);
    tl_no_repeat_ngram(row, V, g->hist, g->hlen, p->no_repeat_ngram_size);
    if (g->n_out < p->min_new_tokens) tl_ban_ids(row, V, p->eos_ids, p->n_eos);
    float lp;
    int32_t next = tl_sample_next(row, V, p, &g->rng, w->work, w->prob, &lp);
    size_t k = g->n_out++;
    g->out[k] = next;
    if (g->logprobs) g->logprobs[k] = lp;
    g->hist[g->hlen++] = next;
    int reason = is_eos(p, next) ? TL_GEN_EOS : g->n_out >= p->max_new_tokens ? TL_GEN_LENGTH : TL_GEN_GOING;
    if (p->on_token && p->on_token(p->user_data, seq, next, lp) && !reason) reason = TL_GEN_STOP;
    if (!reason && p->n_stop_strings) {
        int hit = 0;
        tl_status s = tl_stop_string_hit(p, g->out, g->n_out, &hit);
        if (s) return s;
        if (hit) reason = TL_GEN_STOP;
    }
    *end = reason;
    return TL_OK;
}

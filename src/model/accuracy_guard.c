/* accuracy_guard.c — the calibration batch the accuracy guard runs (pseudo-random token
 * ids, fixed seed, sequences of 1, 9, 40 and 77 tokens capped at the model's limit) and
 * the comparison of two last hidden states (a decoder's: the logits of every token). */
#include "core/error.h"
#include "model/precision.h"
#include "runtime/kv_cache.h"

#include <math.h>
#include <stdlib.h>

size_t tl_guard_width(const tl_model *m) {
    return tl_model_is_decoder(m) ? m->arch.vocab_size : m->arch.hidden;
}

tl_status tl_guard_forward(const tl_model *m, float **out, size_t *n_tokens) {
    static const size_t lens[] = {1, 9, 40, 77};
    enum { NSEQ = sizeof lens / sizeof lens[0] };
    const tl_arch *a = &m->arch;
    size_t sl[NSEQ], T = 0;
    for (size_t i = 0; i < NSEQ; i++) {
        sl[i] = lens[i] < a->max_seq_len ? lens[i] : a->max_seq_len;
        T += sl[i];
    }
    *out = NULL;
    *n_tokens = 0;
    int32_t *ids = malloc(T * sizeof *ids);
    const size_t W = tl_guard_width(m);
    float *y = malloc(T * W * sizeof *y);
    tl_context *c = NULL;
    tl_status s = ids && y ? TL_OK : tl_set_error(TL_ERR_OOM, "out of memory for the accuracy guard");
    uint32_t seed = 12345u;
    for (size_t i = 0; s == TL_OK && i < T; i++) {
        seed = seed * 1664525u + 1013904223u;
        ids[i] = (int32_t)((seed >> 8) % (a->vocab_size ? a->vocab_size : 1));
    }
    tl_batch b = {.n_seqs = NSEQ, .seq_lens = sl, .input_ids = ids};
    /* a decoder's KV cache holds every calibration sequence at once, in whole pages */
    tl_context_params cp = tl_context_default_params();
    for (size_t i = 0; i < NSEQ; i++) cp.kv_cache_tokens += (sl[i] + TL_KV_PAGE_TOKENS - 1) / TL_KV_PAGE_TOKENS * TL_KV_PAGE_TOKENS;
    if (s == TL_OK) s = tl_context_new(m, &cp, &c);
    if (s == TL_OK)
        s = tl_model_is_decoder(m) ? tl_context_logits(c, &b, y, T * W) : tl_context_forward(c, &b, y, T * W);
    tl_context_free(c);
    free(ids);
    if (s != TL_OK) {
        free(y);
        return s;
    }
    *out = y;
    *n_tokens = T;
    return TL_OK;
}

void tl_guard_compare(const float *ref, const float *got, size_t n, size_t H, float *max_rel,
                      float *min_cos) {
    double worst_rel = 0.0, worst_cos = 1.0;
    for (size_t t = 0; t < n; t++) {
        const float *r = ref + t * H, *g = got + t * H;
        double rr = 0, gg = 0, rg = 0, dd = 0;
        for (size_t i = 0; i < H; i++) {
            rr += (double)r[i] * r[i];
            gg += (double)g[i] * g[i];
            rg += (double)r[i] * g[i];
            dd += ((double)g[i] - r[i]) * ((double)g[i] - r[i]);
        }
        if (!(rr > 0)) continue;
        double rel = sqrt(dd / rr), cs = gg > 0 ? rg / sqrt(rr * gg) : 0.0;
        if (isnan(rel)) rel = INFINITY; /* nan counts as worst */
        if (isnan(cs)) cs = -1.0;
        if (rel > worst_rel) worst_rel = rel;
        if (cs < worst_cos) worst_cos = cs;
    }
    *max_rel = (float)worst_rel;
    *min_cos = (float)worst_cos;
}

/* embed.c — sentence embeddings (tl_embed), as SentenceTransformer.encode computes them. */
#include "core/error.h"
#include "core/util.h"
#include "model/model.h"
#include "tasks/embed.h"
#include "tasks/pooling.h"
#include "tasks/text_batch.h"

#include <stdlib.h>

tl_embed_params tl_embed_default_params(void) {
    tl_embed_params p = {.normalize = -1, .max_length = 0};
    return p;
}

size_t tl_model_embedding_dim(const tl_model *m) {
    return m ? m->arch.hidden * tl_st_pooling_count(&m->st_cfg) : 0;
}

size_t tl_embed_max_length(const tl_model *m, size_t want) {
    size_t cap = m->arch.max_seq_len;
    if (!want) want = m->st_cfg.max_seq_length;
    return want && want < cap ? want : cap;
}

tl_status tl_embed_check(const tl_model *m) {
    tl_status s = tl_model_require_tokenizer(m);
    if (s != TL_OK) return s;
    if (m->st_cfg.do_lower_case)
        return tl_set_error(TL_ERR_UNSUPPORTED, "%s: sentence_bert_config.json do_lower_case=true is not supported yet", m->dir);
    return TL_OK;
}

void tl_embed_pool(const tl_model *m, const float *hidden, const int32_t *mask,
                   const size_t *seq_lens, size_t n, int normalize, float *out) {
    const size_t H = m->arch.hidden, D = tl_model_embedding_dim(m);
    if (normalize < 0) normalize = m->st_cfg.normalize;
    for (size_t i = 0, t = 0; i < n; i++) {
        tl_pool(&m->st_cfg, hidden + t * H, mask ? mask + t : NULL, seq_lens[i], H, out + i * D);
        if (normalize) tl_l2_normalize(out + i * D, D);
        t += seq_lens[i];
    }
}

tl_status tl_embed(tl_model *m, const char *const *texts, size_t n, const tl_embed_params *params,
                   float *out, size_t out_len) {
    if (!m || (n && (!texts || !out))) return tl_set_error(TL_ERR_INVALID_ARG, "tl_embed: NULL argument");
    tl_status s = tl_embed_check(m);
    if (s != TL_OK) return s;
    tl_embed_params p = params ? *params : tl_embed_default_params();
    const size_t H = m->arch.hidden, D = tl_model_embedding_dim(m);
    size_t need;
    if (tl_mul_overflow(n, D, &need) || need > out_len)
        return tl_set_error(TL_ERR_INVALID_ARG, "tl_embed: out holds %zu floats, %zu texts x %zu need more",
                            out_len, n, D);
    if (n == 0) return TL_OK;
    tl_text_batch tb;
    s = tl_text_batch_build(m, texts, n, tl_embed_max_length(m, p.max_length), &tb);
    if (s != TL_OK) return s;
    size_t hbytes;
    float *hidden = NULL;
    if (tl_mul_overflow(tb.total ? tb.total : 1, H * sizeof(float), &hbytes) || !(hidden = malloc(hbytes))) {
        s = tl_set_error(TL_ERR_OOM, "out of memory for %zu tokens", tb.total);
        goto done;
    }
    s = tl_model_forward(m, &tb.batch, hidden, tb.total * H);
    if (s != TL_OK) goto done;
    tl_embed_pool(m, hidden, tb.mask, tb.seq_lens, n, p.normalize, out);
done:
    free(hidden);
    tl_text_batch_free(&tb);
    return s;
}

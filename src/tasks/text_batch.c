/* text_batch.c — the one packer from encodings to a packed batch, and texts → batch. */
#include "tasks/text_batch.h"
#include "core/error.h"
#include "core/util.h"
#include "model/model.h"

#include <stdlib.h>
#include <string.h>

tl_status tl_text_batch_pack(const tl_model *m, tl_encoding *const *encs, size_t n, tl_text_batch *tb) {
    memset(tb, 0, sizeof *tb);
    size_t total = 0, bytes;
    tb->seq_lens = malloc((n ? n : 1) * sizeof *tb->seq_lens);
    tb->cu = malloc((n + 1) * sizeof *tb->cu);
    if (!tb->seq_lens || !tb->cu) goto oom;
    tb->cu[0] = 0;
    for (size_t i = 0; i < n; i++) {
        tb->seq_lens[i] = tl_encoding_length(encs[i]);
        if (tl_add_overflow(total, tb->seq_lens[i], &total)) goto oom;
        tb->cu[i + 1] = total;
    }
    if (tl_mul_overflow(total ? total : 1, sizeof(int32_t), &bytes)) goto oom;
    tb->ids = malloc(bytes);
    tb->type_ids = malloc(bytes);
    tb->mask = malloc(bytes);
    if (!tb->ids || !tb->type_ids || !tb->mask) goto oom;
    for (size_t i = 0; i < n; i++) {
        size_t t = tb->cu[i], len = tb->seq_lens[i];
        memcpy(tb->ids + t, tl_encoding_ids(encs[i]), len * sizeof(int32_t));
        memcpy(tb->type_ids + t, tl_encoding_type_ids(encs[i]), len * sizeof(int32_t));
        memcpy(tb->mask + t, tl_encoding_attention_mask(encs[i]), len * sizeof(int32_t));
    }
    tb->total = total;
    tb->batch = (tl_batch){.n_seqs = n, .seq_lens = tb->seq_lens, .input_ids = tb->ids,
                           .token_type_ids = m->arch.type_vocab_size > 1 ? tb->type_ids : NULL,
                           .position_ids = NULL, .attention_mask = tb->mask};
    return TL_OK;
oom:
    tl_text_batch_free(tb);
    return tl_set_error(TL_ERR_OOM, "out of memory for a batch of %zu sequences", n);
}

tl_status tl_text_batch_build(const tl_model *m, const char *const *texts, size_t n,
                              size_t max_length, tl_text_batch *tb) {
    memset(tb, 0, sizeof *tb);
    if (n && !texts) return tl_set_error(TL_ERR_INVALID_ARG, "texts is NULL");
    tl_encoding **encs = calloc(n ? n : 1, sizeof *encs);
    if (!encs) return tl_set_error(TL_ERR_OOM, "out of memory");
    tl_encode_params ep = tl_encode_default_params();
    ep.max_length = max_length;
    ep.drop_overflowing = 1; /* only the kept tokens are run */
    tl_status s = TL_OK;
    for (size_t i = 0; i < n && s == TL_OK; i++) {
        if (!texts[i]) { s = tl_set_error(TL_ERR_INVALID_ARG, "input %zu is NULL", i); break; }
        s = tl_tokenizer_encode(m->tok, texts[i], strlen(texts[i]), NULL, 0, &ep, &encs[i]);
        if (s != TL_OK) tl_error_prefix(s, "input %zu", i);
    }
    if (s == TL_OK) s = tl_text_batch_pack(m, encs, n, tb);
    for (size_t i = 0; i < n; i++) tl_encoding_free(encs[i]);
    free(encs);
    return s;
}

void tl_text_batch_free(tl_text_batch *tb) {
    free(tb->seq_lens);
    free(tb->cu);
    free(tb->ids);
    free(tb->type_ids);
    free(tb->mask);
    memset(tb, 0, sizeof *tb);
}

/* text_batch.c — texts → packed ids / type ids / mask with cu lengths. */
#include "tasks/text_batch.h"
#include "core/error.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

tl_status tl_text_batch_build(const tl_tokenizer *tok, const char *const *texts, size_t n,
                              size_t max_length, tl_text_batch *tb) {
    memset(tb, 0, sizeof *tb);
    if (n && !texts) return tl_set_error(TL_ERR_INVALID_ARG, "texts is NULL");
    tl_encoding **encs = calloc(n ? n : 1, sizeof *encs);
    tb->seq_lens = calloc(n ? n : 1, sizeof *tb->seq_lens);
    tl_status s = TL_OK;
    if (!encs || !tb->seq_lens) { s = tl_set_error(TL_ERR_OOM, "out of memory"); goto done; }
    tl_encode_params ep = tl_encode_default_params();
    ep.max_length = max_length;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!texts[i]) { s = tl_set_error(TL_ERR_INVALID_ARG, "input %zu is NULL", i); goto done; }
        s = tl_tokenizer_encode(tok, texts[i], strlen(texts[i]), NULL, 0, &ep, &encs[i]);
        if (s != TL_OK) { tl_error_prefix(s, "input %zu", i); goto done; }
        tb->seq_lens[i] = tl_encoding_length(encs[i]);
        total += tb->seq_lens[i];
    }
    size_t bytes;
    if (tl_mul_overflow(total ? total : 1, sizeof(int32_t), &bytes)) { s = tl_set_error(TL_ERR_OOM, "batch too large"); goto done; }
    tb->ids = malloc(bytes);
    tb->type_ids = malloc(bytes);
    tb->mask = malloc(bytes);
    if (!tb->ids || !tb->type_ids || !tb->mask) { s = tl_set_error(TL_ERR_OOM, "out of memory"); goto done; }
    for (size_t i = 0, t = 0; i < n; i++) {
        size_t len = tb->seq_lens[i];
        memcpy(tb->ids + t, tl_encoding_ids(encs[i]), len * sizeof(int32_t));
        memcpy(tb->type_ids + t, tl_encoding_type_ids(encs[i]), len * sizeof(int32_t));
        memcpy(tb->mask + t, tl_encoding_attention_mask(encs[i]), len * sizeof(int32_t));
        t += len;
    }
    tb->total = total;
    tb->batch = (tl_batch){.n_seqs = n, .seq_lens = tb->seq_lens, .input_ids = tb->ids,
                           .token_type_ids = tb->type_ids, .position_ids = NULL,
                           .attention_mask = tb->mask};
done:
    for (size_t i = 0; encs && i < n; i++) tl_encoding_free(encs[i]);
    free(encs);
    if (s != TL_OK) tl_text_batch_free(tb);
    return s;
}

void tl_text_batch_free(tl_text_batch *tb) {
    free(tb->seq_lens);
    free(tb->ids);
    free(tb->type_ids);
    free(tb->mask);
    memset(tb, 0, sizeof *tb);
}

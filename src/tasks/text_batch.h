/* text_batch.h — tokenizes a list of texts into one packed batch. */
#ifndef TL_TASKS_TEXT_BATCH_H
#define TL_TASKS_TEXT_BATCH_H
#include "torchless.h"

typedef struct tl_text_batch {
    tl_batch batch;     /* points into the arrays below */
    size_t *seq_lens;   /* n_seqs */
    int32_t *ids, *type_ids, *mask;
    size_t total;
} tl_text_batch;

/* Encodes texts[0..n) with tok (special tokens added, truncated to max_length tokens when
 * max_length > 0) into *tb. Errors name the text index. Free with tl_text_batch_free. */
tl_status tl_text_batch_build(const tl_tokenizer *tok, const char *const *texts, size_t n,
                              size_t max_length, tl_text_batch *tb);

/* Frees the arrays of tb; safe on a zeroed struct. */
void tl_text_batch_free(tl_text_batch *tb);

#endif

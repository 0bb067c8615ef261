/* text_batch.h — the one packer: encodings (or texts, encoded here) → one packed batch
 * (ids, type ids, mask of every sequence back to back, with their lengths), as every task
 * hands the encoder its input. */
#ifndef TL_TASKS_TEXT_BATCH_H
#define TL_TASKS_TEXT_BATCH_H
#include "torchless.h"

typedef struct tl_text_batch {
    tl_batch batch;     /* points into the arrays below */
    size_t *seq_lens;   /* [n_seqs] */
    size_t *cu;         /* [n_seqs + 1] token offset of each sequence, cu[n_seqs] = total */
    int32_t *ids, *type_ids, *mask; /* [total] each */
    size_t total;
} tl_text_batch;

/* Packs encs[0..n) for m into *tb (zeroed first). The batch carries token type ids only
 * when m has more than one token type: with type_vocab_size 0 or 1 the model sees zeros,
 * as transformers' models do (their tokenizers give no token_type_ids, or only zeros a
 * one-type embedding accepts; tokenizers' overflowing windows and templates may still hold
 * type id 1). TL_ERR_OOM on failure (tb left zeroed). Free with tl_text_batch_free. */
tl_status tl_text_batch_pack(const tl_model *m, tl_encoding *const *encs, size_t n, tl_text_batch *tb);

/* Encodes texts[0..n) with m's tokenizer (special tokens added, truncated to max_length
 * tokens when max_length > 0) and packs them with tl_text_batch_pack. Errors name the text
 * index. Free with tl_text_batch_free. */
tl_status tl_text_batch_build(const tl_model *m, const char *const *texts, size_t n,
                              size_t max_length, tl_text_batch *tb);

/* Frees the arrays of tb; safe on a zeroed struct. */
void tl_text_batch_free(tl_text_batch *tb);

#endif

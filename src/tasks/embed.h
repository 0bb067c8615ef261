/* embed.h — the parts of sentence embedding that callers with their own forwards (the
 * engine's workers) share with tl_embed: the truncation length and per-sequence pooling. */
#ifndef TL_TASKS_EMBED_H
#define TL_TASKS_EMBED_H
#include "torchless.h"

/* The truncation length of tl_embed: want if non-zero, else sentence_bert_config's
 * max_seq_length, capped at the model's maximum. */
size_t tl_embed_max_length(const tl_model *m, size_t want);

/* Checks that m can embed text (a tokenizer, supported sentence-transformers settings);
 * sets the error otherwise. */
tl_status tl_embed_check(const tl_model *m);

/* Pools n packed sequences of hidden (sum(seq_lens), hidden) with mask (same length, may
 * be NULL) into out (n x tl_model_embedding_dim), normalizing when normalize (-1: as the
 * model's modules say). Never fails; out must hold n x dim floats. */
void tl_embed_pool(const tl_model *m, const float *hidden, const int32_t *mask,
                   const size_t *seq_lens, size_t n, int normalize, float *out);

#endif

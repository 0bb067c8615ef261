/* tok_tokenizer.h — the tokenizer struct gluing the stages (tokenizer.c loads tokenizer.json,
 * vocab_txt.c / vocab_json.c the legacy layouts; encode.c runs them). Private to src/tokenizer. */
#ifndef TL_TOKENIZER_TOK_TOKENIZER_H
#define TL_TOKENIZER_TOK_TOKENIZER_H
#include "tokenizer/tok_added.h"
#include "tokenizer/tok_decoder.h"
#include "tokenizer/tok_model.h"
#include "tokenizer/tok_normalizer.h"
#include "tokenizer/tok_postproc.h"
#include "tokenizer/tok_pretok.h"
#include "tokenizer/tok_wcache.h"

typedef enum { TL_MODEL_WORDPIECE, TL_MODEL_BPE, TL_MODEL_UNIGRAM } tl_model_kind;

struct tl_tokenizer {
    char *source;          /* the file it came from, for messages */
    tl_normalizer norm;
    tl_pretok pre;
    tl_model_kind model;
    tl_wordpiece wp;
    tl_bpe bpe;
    tl_unigram uni;
    tl_added added;
    tl_postproc post;
    tl_decoder dec;
    size_t vocab_size;     /* |model vocab ∪ added tokens| */
    tl_wcache_pool *wcache; /* BPE / Unigram word caches (NULL: none), one per thread */
    int prefix_safe;       /* tl_tok_prefix_safe, set by tl_tokenizer_finish */
};

/* prefix.c: 1 when tok's normalizer, pre-tokenizer and added tokens make, for a prefix of a
 * text cut at tl_prefix_cut, the same words as for the whole text up to the prefix's last
 * word; then a text truncated on the right can be tokenized from a prefix. */
int tl_tok_prefix_safe(const struct tl_tokenizer *tok);
/* The first c in [max(from, 1), to) where cps[c] is a space after a printable ASCII char,
 * else to. */
size_t tl_prefix_cut(const uint32_t *cps, size_t from, size_t to);

/* Frees tok's word caches so it runs BPE / Unigram uncached (tests' reference); no call
 * may be encoding with tok. */
void tl_tokenizer_drop_word_cache(tl_tokenizer *tok);
/* The model's vocabulary. */
const tl_vocab *tl_tok_vocab(const struct tl_tokenizer *t);
/* Builds the GPT2TokenizerFast / RobertaTokenizerFast pipeline from dir/vocab.json +
 * dir/merges.txt (+ tokenizer_config.json, special_tokens_map.json). */
tl_status tl_tokenizer_load_vocab_json(const char *dir, struct tl_tokenizer *tok);

/* Builds a BertTokenizerFast-equivalent tokenizer from dir/vocab.txt (+ optional
 * tokenizer_config.json). Fills tok (zeroed by the caller). */
tl_status tl_tokenizer_load_vocab_txt(const char *dir, struct tl_tokenizer *tok);
/* Computes tok->vocab_size after loading. */
void tl_tokenizer_finish(struct tl_tokenizer *tok);

#endif

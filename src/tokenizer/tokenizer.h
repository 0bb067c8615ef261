/* tokenizer.h — what the layers above (tasks) ask of a tokenizer beyond torchless.h:
 * decoding token strings and questions about its decoder, model and special tokens
 * (decode.c). */
#ifndef TL_TOKENIZER_TOKENIZER_H
#define TL_TOKENIZER_TOKENIZER_H
#include <stdint.h>
#include "torchless.h"

/* Joins token strings as tokenizers' decoder.decode(tokens) (transformers'
 * convert_tokens_to_string; no decoder: joined by spaces, or with wordpiece_default as the
 * WordPiece decoder "##" with cleanup). *out is malloc'd. */
tl_status tl_tokenizer_decode_tokens(const tl_tokenizer *tok, const char *const *tokens, size_t n,
                                     int wordpiece_default, char **out);
/* 1 when the model has a continuing_subword_prefix (WordPiece "##", some BPEs), as
 * transformers' token-classification tests to tell word-aware tokenizers. */
int tl_tokenizer_has_subword_prefix(const tl_tokenizer *tok);
/* 1 when the tokenizer.json has no decoder and the model is WordPiece: transformers'
 * WordPiece tokenizer classes (BertTokenizer, ...) then decode as WordPiece "##". */
int tl_tokenizer_wordpiece_default(const tl_tokenizer *tok);
/* 1 when id is an added token marked special, else 0. */
int tl_tokenizer_is_special_id(const tl_tokenizer *tok, int32_t id);

#endif

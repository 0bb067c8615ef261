/* decode.c — tl_tokenizer_decode: ids -> tokens (skipping special ones on request) ->
 * the tokenizer's decoder (decoder.c) -> text, and the decoding questions the tasks ask of
 * a tokenizer (tokenizer/tokenizer.h). */
#include "tokenizer/tokenizer.h"
#include "tokenizer/tok_tokenizer.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>

/* 1 when content is the content of an added token marked special. */
static int is_special_token(const tl_tokenizer *tok, const char *content) {
    for (size_t i = 0; i < tok->added.len; i++)
        if (tok->added.v[i].special && !strcmp(tok->added.v[i].content, content)) return 1;
    return 0;
}

/* Public API (torchless.h): ids -> text; unknown ids skipped, *out malloc'd. */
tl_status tl_tokenizer_decode_len(const tl_tokenizer *tok, const int32_t *ids, size_t n, int skip_special_tokens,
                                  int clean_up_tokenization_spaces, char **out, size_t *out_len) {
    if (!out) return tl_set_error(TL_ERR_INVALID_ARG, "tl_tokenizer_decode: out is NULL");
    *out = NULL;
    if (out_len) *out_len = 0;
    if (!tok) return tl_set_error(TL_ERR_INVALID_ARG, "tl_tokenizer_decode: tokenizer is NULL");
    if (!ids && n) return tl_set_error(TL_ERR_INVALID_ARG, "tl_tokenizer_decode: ids is NULL");
    const char **in = malloc((n ? n : 1) * sizeof *in);
    if (!in) return tl_set_error(TL_ERR_OOM, "decode: out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *t = tl_tokenizer_id_to_token(tok, ids[i]); /* unknown ids are skipped */
        if (t && !(skip_special_tokens && is_special_token(tok, t))) in[k++] = t;
    }
    /* transformers 5 skips the cleanup for BPE models */
    tl_status s = tl_decoder_join(&tok->dec, in, k, clean_up_tokenization_spaces && tok->model != TL_MODEL_BPE,
                                  out, out_len);
    free(in);
    return s;
}

/* Public API (torchless.h): tl_tokenizer_decode_len without the length. */
tl_status tl_tokenizer_decode(const tl_tokenizer *tok, const int32_t *ids, size_t n, int skip_special_tokens,
                              int clean_up_tokenization_spaces, char **out) {
    return tl_tokenizer_decode_len(tok, ids, n, skip_special_tokens, clean_up_tokenization_spaces, out, NULL);
}

/* Token strings -> text with the tokenizer's decoder (tokenizer/tokenizer.h). */
tl_status tl_tokenizer_decode_tokens(const tl_tokenizer *tok, const char *const *tokens, size_t n,
                                     int wordpiece_default, char **out) {
    char prefix[] = "##";
    tl_decoder wp = {.kind = TL_DEC_WORDPIECE, .text = prefix, .cleanup = 1};
    const tl_decoder *d = wordpiece_default && tok->dec.kind == TL_DEC_NONE ? &wp : &tok->dec;
    return tl_decoder_join(d, tokens, n, 0, out, NULL);
}

/* 1 when the model has a continuing_subword_prefix (tokenizer/tokenizer.h). */
int tl_tokenizer_has_subword_prefix(const tl_tokenizer *tok) {
    if (tok->model == TL_MODEL_WORDPIECE) return tok->wp.prefix && tok->wp.prefix[0];
    if (tok->model == TL_MODEL_BPE) return tok->bpe.prefix && tok->bpe.prefix[0];
    return 0;
}

/* 1 when there is no decoder and the model is WordPiece (tokenizer/tokenizer.h). */
int tl_tokenizer_wordpiece_default(const tl_tokenizer *tok) {
    return tok->dec.kind == TL_DEC_NONE && tok->model == TL_MODEL_WORDPIECE;
}

/* 1 when id is an added token marked special (tokenizer/tokenizer.h). */
int tl_tokenizer_is_special_id(const tl_tokenizer *tok, int32_t id) {
    for (size_t i = 0; i < tok->added.len; i++)
        if (tok->added.v[i].id == id) return tok->added.v[i].special;
    return 0;
}

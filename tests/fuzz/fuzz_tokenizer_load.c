/* fuzz_tokenizer_load.c — libFuzzer target: any bytes as a tokenizer.json must load or be
 * refused with an error, never crash, leak or read out of bounds. A tokenizer that loads
 * then encodes a fixed text and pair (with truncation and padding) and decodes the ids. */
#include "fuzz_common.h"
#include "torchless.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* Encodes text (and pair) with p, reads the encoding, decodes its ids. */
static void exercise(const tl_tokenizer *tok, const char *text, const char *pair, const tl_encode_params *p) {
    tl_encoding *enc = NULL;
    if (tl_tokenizer_encode(tok, text, strlen(text), pair, pair ? strlen(pair) : 0, p, &enc) == TL_OK) {
        size_t n = tl_encoding_length(enc);
        char *out = NULL;
        if (tl_tokenizer_decode(tok, tl_encoding_ids(enc), n, 1, 1, &out) == TL_OK) tl_free(out);
        for (size_t i = 0; i < n; i++) (void)tl_encoding_token_length(enc, i);
    }
    tl_encoding_free(enc);
}

/* One input: load it as tokenizer.json, then encode and decode with it. */
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    char path[64];
    int fd = fuzz_memfile(data, size, path, sizeof path);
    if (fd < 0) return 0;
    tl_tokenizer *tok = NULL;
    if (tl_tokenizer_load(path, &tok) == TL_OK) {
        tl_encode_params p = tl_encode_default_params();
        exercise(tok, "Hello, World! héllo wörld 東京 don't 12345 <s> [CLS] <mask>", NULL, &p);
        p.max_length = 8;
        p.stride = 2;
        p.padding = TL_PAD_FIXED;
        p.pad_length = 12;
        exercise(tok, "a journey of a thousand miles begins", "with a single step", &p);
        (void)tl_tokenizer_id_to_token(tok, 0);
        (void)tl_tokenizer_token_to_id(tok, "[UNK]");
    }
    tl_tokenizer_free(tok);
    close(fd);
    return 0;
}

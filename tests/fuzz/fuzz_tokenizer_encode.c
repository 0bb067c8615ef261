/* fuzz_tokenizer_encode.c — libFuzzer target: encoding any bytes with any of the fixture
 * tokenizers (make_seeds.py fixtures: WordPiece, byte-level and SentencePiece-style BPE,
 * Unigram with byte_fallback or a Precompiled charsmap, and every normalizer, pre-tokenizer,
 * post-processor and decoder kind between them) must give an encoding or an error (invalid
 * UTF-8), never crash, leak, read out of bounds or take long; the ids are then decoded.
 * Input: byte 0 picks the tokenizer, bytes 1-2 the options (below), the rest is the text;
 * with the pair option a NUL byte splits it into text and pair. */
#include "torchless.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static tl_tokenizer *g_tok[32];
static size_t g_n;

/* Orders file names for qsort. */
static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Loads every .json file of $TL_FUZZ_FIXTURES/tokenizers, in name order (byte 0 picks one). */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    const char *root = getenv("TL_FUZZ_FIXTURES");
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/tokenizers", root ? root : "build/fuzz/fixtures");
    DIR *d = opendir(dir);
    if (!d) { fprintf(stderr, "fuzz_tokenizer_encode: no %s (tests/fuzz/fixtures.sh makes it)\n", dir); exit(1); }
    char *names[32];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 32)
        if (strstr(e->d_name, ".json")) names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (tl_tokenizer_load(path, &g_tok[g_n]) != TL_OK) {
            fprintf(stderr, "fuzz_tokenizer_encode: %s\n", tl_last_error());
            exit(1);
        }
        g_n++;
        free(names[i]);
    }
    if (!g_n) { fprintf(stderr, "fuzz_tokenizer_encode: no tokenizers in %s\n", dir); exit(1); }
    return 0;
}

/* Reads every array of enc (and of its overflowing windows, one level). */
static void touch(const tl_encoding *enc) {
    size_t n = tl_encoding_length(enc);
    volatile int32_t acc = 0;
    const int32_t *a[] = {tl_encoding_ids(enc), tl_encoding_type_ids(enc), tl_encoding_attention_mask(enc),
                          tl_encoding_special_tokens_mask(enc), tl_encoding_word_ids(enc),
                          tl_encoding_sequence_ids(enc)};
    for (size_t k = 0; k < sizeof a / sizeof a[0]; k++)
        for (size_t i = 0; i < n; i++) acc ^= a[k][i];
    const int32_t *off = tl_encoding_offsets(enc);
    for (size_t i = 0; i < 2 * n; i++) acc ^= off[i];
    for (size_t i = 0; i < n; i++) acc ^= (int32_t)tl_encoding_token_length(enc, i) ^ tl_encoding_token(enc, i)[0];
    (void)acc;
}

/* Options, byte 1: bit 0 add_special_tokens, bit 1 pair, bits 2-3 truncation (0 off, then
 * longest_first, only_first, only_second), bit 4 truncate left, bits 5-6 padding (none,
 * longest, fixed, fixed to a multiple of 8), bit 7 pad left. Byte 2: bits 0-4 max_length - 1,
 * bits 5-6 stride, bit 7 encode as a batch of two (text, then pair) instead. */
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    if (size < 3) return 0;
    const tl_tokenizer *tok = g_tok[data[0] % g_n];
    unsigned o1 = data[1], o2 = data[2];
    const char *text = (const char *)data + 3, *pair = NULL;
    size_t len = size - 3, pair_len = 0;
    const char *nul = (o1 & 2) ? memchr(text, 0, len) : NULL;
    if (nul) {
        pair = nul + 1;
        pair_len = len - (size_t)(pair - text);
        len = (size_t)(nul - text);
    }
    tl_encode_params p = tl_encode_default_params();
    p.add_special_tokens = o1 & 1;
    if ((o1 >> 2) & 3) {
        p.truncation = (int)((o1 >> 2) & 3) - 1;
        p.max_length = (o2 & 31) + 1;
        p.stride = (o2 >> 5) & 3;
        p.truncation_left = (o1 >> 4) & 1;
    }
    static const int pads[] = {TL_PAD_NONE, TL_PAD_LONGEST, TL_PAD_FIXED, TL_PAD_FIXED};
    p.padding = pads[(o1 >> 5) & 3];
    p.pad_length = (o2 & 31) + 3;
    p.pad_to_multiple_of = ((o1 >> 5) & 3) == 3 ? 8 : 0;
    p.padding_left = (o1 >> 7) & 1;
    p.num_threads = 1;
    tl_encoding *enc[2] = {NULL, NULL};
    if (o2 & 128) {
        const char *texts[2] = {text, pair ? pair : text};
        size_t lens[2] = {len, pair ? pair_len : len};
        if (tl_tokenizer_encode_batch(tok, texts, lens, NULL, NULL, 2, &p, enc) != TL_OK) return 0;
    } else if (tl_tokenizer_encode(tok, text, len, pair, pair_len, &p, &enc[0]) != TL_OK) {
        return 0;
    }
    for (int k = 0; k < 2 && enc[k]; k++) {
        touch(enc[k]);
        for (size_t w = 0; w < tl_encoding_n_overflowing(enc[k]) && w < 4; w++)
            touch(tl_encoding_overflowing(enc[k], w));
        char *out = NULL;
        size_t out_len = 0;
        if (tl_tokenizer_decode_len(tok, tl_encoding_ids(enc[k]), tl_encoding_length(enc[k]), o1 & 1, (o2 >> 5) & 1,
                                    &out, &out_len) == TL_OK)
            tl_free(out);
        tl_encoding_free(enc[k]);
    }
    return 0;
}

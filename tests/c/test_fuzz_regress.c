/* test_fuzz_regress.c — regressions found by the fuzz targets of tests/fuzz
 * (docs/ROBUSTNESS.md), each rebuilt from the input that showed it. */
#include "torchless.h"
#include "tl_test.h"
#include "tl_tmpdir.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Writes text to the test's temp dir as name; returns its path (a rotating static buffer). */
static const char *put_file(const char *name, const char *text) {
    const char *path = tl_tmp_join("fuzzreg", name);
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(2); }
    fputs(text, f);
    fclose(f);
    return path;
}

/* Monotonic seconds. */
static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* fuzz_tokenizer_encode: "e" then 15,000 pairs U+0301 U+0323 (classes 230, 220) through
 * an NFD normalizer took minutes (canonical ordering was an insertion sort, quadratic in
 * a run of marks). Now linear: 2 x 20,000 marks in well under a second even under ASan,
 * and still ordered canonically (all 220s, then all 230s) with the spans tokenizers 0.23.3
 * gives (ids and offsets checked against it for this input). */
TL_TEST(test_nfd_long_run_of_marks_is_linear_and_ordered) {
    const char *json =
        "{\"normalizer\":{\"type\":\"NFD\"},"
        "\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\".\"},\"behavior\":\"Isolated\",\"invert\":false},"
        "\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\","
        "\"max_input_chars_per_word\":100,\"vocab\":{\"[UNK]\":0,\"e\":1,\"\\u0301\":2,\"\\u0323\":3}}}";
    tl_tokenizer *tok = NULL;
    CHECK_OK(tl_tokenizer_load(put_file("nfd.json", json), &tok));
    if (!tok) return;
    const size_t pairs = 20000;
    char *text = malloc(1 + pairs * 4);
    size_t n = 0;
    text[n++] = 'e';
    for (size_t i = 0; i < pairs; i++) {
        memcpy(text + n, "\xcc\x81\xcc\xa3", 4); /* U+0301, U+0323 */
        n += 4;
    }
    tl_encode_params p = tl_encode_default_params();
    p.add_special_tokens = 0;
    tl_encoding *e = NULL;
    double t0 = now_s();
    CHECK_OK(tl_tokenizer_encode(tok, text, n, NULL, 0, &p, &e));
    double dt = now_s() - t0;
    fprintf(stderr, "  2 x %zu marks: %.3f s\n", pairs, dt);
    CHECK(dt < 5.0);
    CHECK(e && tl_encoding_length(e) == 1 + 2 * pairs);
    if (e && tl_encoding_length(e) == 1 + 2 * pairs) {
        const int32_t *ids = tl_encoding_ids(e), *off = tl_encoding_offsets(e);
        int ordered = ids[0] == 1;
        for (size_t i = 0; i < pairs; i++) ordered &= ids[1 + i] == 3 && ids[1 + pairs + i] == 2;
        CHECK(ordered);
        /* spans are positional, as tokenizers gives them: output char k has input char k's */
        int positional = 1;
        for (size_t i = 0; i < 1 + 2 * pairs; i++) positional &= off[2 * i] == (int32_t)i && off[2 * i + 1] == (int32_t)i + 1;
        CHECK(positional);
    }
    tl_encoding_free(e);
    free(text);
    tl_tokenizer_free(tok);
}


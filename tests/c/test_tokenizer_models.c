/* test_tokenizer_models.c — the BPE / byte-level / Split / Metaspace / Unigram parts of the
 * C tokenizer on small hand-written tokenizer.json files (expected values computed once
 * with Hugging Face tokenizers), and a fuzz run of random bytes and random UTF-8 through
 * every configuration that must never crash or return a non-input error. */
#include "torchless.h"
#include "tl_test.h"
#include "tokenizer/tok_tokenizer.h" /* tl_tokenizer_drop_word_cache */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *BPE_JSON =
    "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":13,\"content\":\"<s>\",\"single_word\":false,\"lstrip\":false,"
    "\"rstrip\":false,\"normalized\":false,\"special\":true}],\"normalizer\":null,"
    "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":true},"
    "\"post_processor\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":true},"
    "\"decoder\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,\"use_regex\":true},"
    "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\"<unk>\",\"fuse_unk\":false,\"byte_fallback\":true,"
    "\"vocab\":{\"<unk>\":0,\"<0x41>\":1,\"h\":2,\"e\":3,\"l\":4,\"o\":5,\"he\":6,\"ll\":7,\"hell\":8,\"hello\":9,"
    "\"\xc4\xa0\":10,\"w\":11,\"\xc4\xa0w\":12},\"merges\":[\"h e\",\"l l\",\"he ll\",\"hell o\",\"\xc4\xa0 w\"]}}";

/* A Split regex (Llama-3 style) + ByteLevel without regex + digits + punctuation. */
static const char *SPLIT_JSON =
    "{\"version\":\"1.0\",\"added_tokens\":[],\"normalizer\":null,"
    "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":["
    "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},\"behavior\":\"Isolated\",\"invert\":false},"
    "{\"type\":\"Split\",\"pattern\":{\"String\":\"x\"},\"behavior\":\"MergedWithNext\",\"invert\":true},"
    "{\"type\":\"Digits\",\"individual_digits\":true},{\"type\":\"Punctuation\",\"behavior\":\"Contiguous\"},"
    "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":false,\"use_regex\":false}]},"
    "\"post_processor\":null,"
    "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"byte_fallback\":false,"
    "\"vocab\":{\"h\":0,\"e\":1,\"l\":2,\"o\":3,\"he\":4,\"ll\":5,\"hell\":6,\"hello\":7},"
    "\"merges\":[[\"h\",\"e\"],[\"l\",\"l\"],[\"he\",\"ll\"],[\"hell\",\"o\"]]}}";

/* Unigram + Metaspace (prepend first) + Replace / Strip / Prepend normalizers + byte_fallback. */
static const char *UNIGRAM_JSON =
    "{\"version\":\"1.0\",\"added_tokens\":[],"
    "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Strip\",\"strip_left\":true,\"strip_right\":true},"
    "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" {2,}\"},\"content\":\"\xe2\x96\x81\"},"
    "{\"type\":\"Prepend\",\"prepend\":\"_\"}]},"
    "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\xe2\x96\x81\",\"prepend_scheme\":\"first\",\"split\":true},"
    "\"post_processor\":null,"
    "\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"byte_fallback\":true,\"vocab\":[[\"<unk>\",0.0],"
    "[\"\xe2\x96\x81\",-1.0],[\"h\",-2.0],[\"e\",-2.0],[\"l\",-2.0],[\"o\",-2.0],[\"hell\",-3.0],[\"hello\",-3.5],"
    "[\"<0x41>\",-5.0],[\"_\",-2.0]]}}";

static char dir_[64];

/* Writes json to <tmpdir>/<name>/tokenizer.json and loads it (NULL on failure). */
static tl_tokenizer *load_json(const char *name, const char *json) {
    if (!dir_[0]) {
        snprintf(dir_, sizeof dir_, "/tmp/tl_tok_test_XXXXXX");
        if (!mkdtemp(dir_)) return NULL;
    }
    char path[256];
    snprintf(path, sizeof path, "%s/%s.json", dir_, name);
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fputs(json, f);
    fclose(f);
    tl_tokenizer *tok = NULL;
    CHECK_OK(tl_tokenizer_load(path, &tok));
    unlink(path);
    return tok;
}

/* Encodes s and compares ids and offsets with the expected arrays. */
static int enc_is(tl_tokenizer *tok, const char *s, const int32_t *ids, const int32_t *off, size_t n) {
    tl_encoding *e = NULL;
    if (tl_tokenizer_encode(tok, s, strlen(s), NULL, 0, NULL, &e) != TL_OK) return 0;
    int ok = tl_encoding_length(e) == n && !memcmp(tl_encoding_ids(e), ids, n * sizeof *ids) &&
             !memcmp(tl_encoding_offsets(e), off, 2 * n * sizeof *off);
    if (!ok) {
        fprintf(stderr, "  %s ->", s);
        for (size_t i = 0; i < tl_encoding_length(e); i++)
            fprintf(stderr, " %d(%d,%d)", tl_encoding_ids(e)[i], tl_encoding_offsets(e)[2 * i], tl_encoding_offsets(e)[2 * i + 1]);
        fprintf(stderr, "\n");
    }
    tl_encoding_free(e);
    return ok;
}

TL_TEST(test_bpe_known) {
    tl_tokenizer *tok = load_json("bpe", BPE_JSON);
    if (!tok) return;
    /* trim_offsets moves the lone 'Ġ' to (6, 6) */
    CHECK(enc_is(tok, "hello hello", (int32_t[]){9, 10, 9}, (int32_t[]){0, 5, 6, 6, 6, 11}, 3));
    CHECK(enc_is(tok, "hello w<s>", (int32_t[]){9, 12, 13}, (int32_t[]){0, 5, 6, 7, 7, 10}, 3));
    /* byte fallback lands before the pending unk, as tokenizers orders them */
    CHECK(enc_is(tok, "xA", (int32_t[]){1, 0}, (int32_t[]){0, 1, 1, 2}, 2));
    CHECK(enc_is(tok, "\xc3\xa9", (int32_t[]){0, 0}, (int32_t[]){0, 1, 0, 1}, 2));
    CHECK(tl_tokenizer_vocab_size(tok) == 14);
    CHECK(tl_tokenizer_token_to_id(tok, "hello") == 9 && tl_tokenizer_token_to_id(tok, "<s>") == 13);
    tl_tokenizer_free(tok);
}

TL_TEST(test_split_known) {
    tl_tokenizer *tok = load_json("split", SPLIT_JSON);
    if (!tok) return;
    CHECK(enc_is(tok, "hello", (int32_t[]){7}, (int32_t[]){0, 5}, 1));
    tl_tokenizer_free(tok);
}

TL_TEST(test_unigram_known) {
    tl_tokenizer *tok = load_json("unigram", UNIGRAM_JSON);
    if (!tok) return;
    /* "▁_hello" -> [▁][_][hello]; "A" falls back to <0x41>; unknown chars fuse into one unk */
    CHECK(enc_is(tok, "hello", (int32_t[]){1, 9, 7}, (int32_t[]){0, 1, 0, 1, 0, 5}, 3));
    CHECK(enc_is(tok, "A", (int32_t[]){1, 9, 8}, (int32_t[]){0, 1, 0, 1, 0, 1}, 3));
    CHECK(enc_is(tok, "xyz", (int32_t[]){1, 9, 0}, (int32_t[]){0, 1, 0, 1, 0, 3}, 3));
    tl_tokenizer_free(tok);
}

TL_TEST(test_bad_configs) {
    const char *bad[] = {
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a b\"]}}",
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a\"]}}",
        "{\"model\":{\"type\":\"BPE\",\"dropout\":0.5,\"vocab\":{},\"merges\":[]}}",
        "{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(\"},\"behavior\":\"Isolated\"},"
        "\"model\":{\"type\":\"BPE\",\"vocab\":{},\"merges\":[]}}",
        "{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"a\"},\"behavior\":\"Nope\"},"
        "\"model\":{\"type\":\"BPE\",\"vocab\":{},\"merges\":[]}}",
        "{\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"ab\"},\"model\":{\"type\":\"BPE\",\"vocab\":{},\"merges\":[]}}",
        "{\"model\":{\"type\":\"Nope\"}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char path[256];
        if (!dir_[0]) { snprintf(dir_, sizeof dir_, "/tmp/tl_tok_test_XXXXXX"); if (!mkdtemp(dir_)) return; }
        snprintf(path, sizeof path, "%s/bad.json", dir_);
        FILE *f = fopen(path, "w");
        if (!f) return;
        fputs(bad[i], f);
        fclose(f);
        tl_tokenizer *tok = NULL;
        tl_status s = tl_tokenizer_load(path, &tok);
        CHECK(s == TL_ERR_FORMAT || s == TL_ERR_UNSUPPORTED);
        CHECK(tok == NULL && strlen(tl_last_error()) > 0);
        unlink(path);
    }
}

static uint64_t rs_ = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void) { rs_ ^= rs_ << 13; rs_ ^= rs_ >> 7; rs_ ^= rs_ << 17; return rs_; }

/* Appends code point c as UTF-8. */
static void put_utf8(uint32_t c, char *b, size_t *n) {
    if (c < 0x80) b[(*n)++] = (char)c;
    else if (c < 0x800) { b[(*n)++] = (char)(0xC0 | c >> 6); b[(*n)++] = (char)(0x80 | (c & 0x3F)); }
    else if (c < 0x10000) { b[(*n)++] = (char)(0xE0 | c >> 12); b[(*n)++] = (char)(0x80 | (c >> 6 & 0x3F)); b[(*n)++] = (char)(0x80 | (c & 0x3F)); }
    else { b[(*n)++] = (char)(0xF0 | c >> 18); b[(*n)++] = (char)(0x80 | (c >> 12 & 0x3F)); b[(*n)++] = (char)(0x80 | (c >> 6 & 0x3F)); b[(*n)++] = (char)(0x80 | (c & 0x3F)); }
}

/* Random bytes and random valid UTF-8 through tok: only TL_OK or TL_ERR_INVALID_ARG, and
 * valid input always encodes with offsets inside the text. */
static void fuzz(tl_tokenizer *tok, int iters) {
    char buf[700];
    int bad = 0, ok = 0;
    tl_encode_params p = tl_encode_default_params();
    for (int it = 0; it < iters; it++) {
        size_t n = 0, nchars = 0, len = (size_t)(rnd() % 160);
        int valid = it % 2;
        for (size_t i = 0; i < len; i++) {
            uint64_t r = rnd();
            if (!valid) { buf[n++] = (char)(r % 3 == 0 ? 0x80 + (r >> 8) % 0x80 : (r >> 8) & 0xFF); continue; }
            uint32_t c;
            switch (r % 7) {
            case 0: c = (uint32_t)((r >> 8) % 0x80); break;
            case 1: c = ' '; break;
            case 2: c = (uint32_t)(0x300 + (r >> 8) % 0x70); break;
            case 3: c = (uint32_t)(0x4E00 + (r >> 8) % 0x5200); break;
            case 4: c = "hello w1\n\r'"[(r >> 8) % 11]; break;
            default: c = (uint32_t)((r >> 8) % 0x110000); break;
            }
            if (c >= 0xD800 && c <= 0xDFFF) c = 'x';
            put_utf8(c, buf, &n);
            nchars++;
        }
        p.max_length = it % 3 == 0 ? (size_t)(rnd() % 12) : 0;
        tl_encoding *e = NULL;
        tl_status s = tl_tokenizer_encode(tok, buf, n, it % 4 == 0 ? buf : NULL, it % 4 == 0 ? n / 2 : 0, &p, &e);
        if (s == TL_OK) {
            ok++;
            for (size_t i = 0; valid && i < tl_encoding_length(e); i++) {
                const int32_t *o = tl_encoding_offsets(e);
                if (o[2 * i] < 0 || o[2 * i] > o[2 * i + 1] || (size_t)o[2 * i + 1] > nchars) bad++;
            }
        } else if (s != TL_ERR_INVALID_ARG || valid) {
            fprintf(stderr, "  fuzz: %s: %s\n", tl_status_name(s), tl_last_error());
            bad++;
        }
        tl_encoding_free(e);
    }
    CHECK(bad == 0);
    CHECK(ok > iters / 3);
}

/* 1 when encodings x and y have the same ids, offsets and tokens. */
static int same_enc(const tl_encoding *x, const tl_encoding *y) {
    size_t n = tl_encoding_length(x);
    if (n != tl_encoding_length(y) || memcmp(tl_encoding_ids(x), tl_encoding_ids(y), n * sizeof(int32_t)) ||
        memcmp(tl_encoding_offsets(x), tl_encoding_offsets(y), 2 * n * sizeof(int32_t)))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (tl_encoding_token_length(x, i) != tl_encoding_token_length(y, i) ||
            memcmp(tl_encoding_token(x, i), tl_encoding_token(y, i), tl_encoding_token_length(x, i)))
            return 0;
    return 1;
}

/* The word cache: a reference tokenizer with its word cache dropped encodes 12,000
 * distinct words once each (the model's own, uncached result: the ByteLevel
 * pre-tokenizer splits words into short runs that repeat, so a cached reference would
 * serve some of them from its cache); a second tokenizer encodes them three times over
 * in shuffled batches on 2 threads (hits, and more words than a cache holds, so caches
 * are emptied and refilled). Every result must equal the uncached one. Words use chars
 * that take byte fallback, unk and multi-token paths; some are longer than 1 KiB
 * (never cached). Then concurrent single encodes, and a batch on more threads than the
 * pool has caches. */
static void cache_check(const char *name, const char *json) {
    enum { N = 12000, REP = 3 };
    tl_tokenizer *ref = load_json(name, json), *tok = load_json(name, json);
    char **words = calloc(N, sizeof *words);
    size_t *lens = calloc(N * REP, sizeof *lens);
    const char **texts = calloc(N * REP, sizeof *texts);
    tl_encoding **want = calloc(N, sizeof *want), **got = calloc(N * REP, sizeof *got);
    size_t *which = calloc(N * REP, sizeof *which);
    if (!ref || !tok || !words || !lens || !texts || !want || !got || !which) { CHECK(0); goto done; }
    tl_tokenizer_drop_word_cache(ref);
    static const char *alpha[] = {"h", "e", "l", "o", "A", "x", "\xc3\xa9", "w"};
    uint64_t seed = 42;
    for (size_t i = 0; i < N; i++) {
        size_t len = i % 500 == 7 ? 300 : i % 500 == 9 ? 1200 : 1 + (size_t)(seed >> 40) % 10;
        words[i] = malloc(len * 2 + 16);
        if (!words[i]) { CHECK(0); goto done; }
        size_t b = (size_t)snprintf(words[i], 16, "%zu", i); /* distinct by construction */
        for (size_t k = 0; k < len; k++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            const char *c = alpha[(seed >> 33) % 8];
            memcpy(words[i] + b, c, strlen(c));
            b += strlen(c);
        }
        words[i][b] = 0;
        CHECK_OK(tl_tokenizer_encode(ref, words[i], b, NULL, 0, NULL, &want[i]));
    }
    for (size_t r = 0; r < N * REP; r++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        which[r] = (size_t)(seed >> 33) % N;
        texts[r] = words[which[r]];
        lens[r] = strlen(texts[r]);
    }
    tl_encode_params p = tl_encode_default_params();
    p.num_threads = 2;
    CHECK_OK(tl_tokenizer_encode_batch(tok, texts, lens, NULL, NULL, N * REP, &p, got));
    size_t bad = 0;
    for (size_t r = 0; r < N * REP; r++) bad += !got[r] || !want[which[r]] || !same_enc(got[r], want[which[r]]);
    CHECK(bad == 0);
    /* single encodes from 3 threads at once (each call takes and returns a cache), then a
     * batch on more threads than the pool has caches (the rest run uncached) */
    size_t bad1 = 0, bad2 = 0;
#pragma omp parallel for num_threads(3) reduction(+ : bad1)
    for (size_t r = 0; r < 3000; r++) {
        tl_encoding *e = NULL;
        if (tl_tokenizer_encode(tok, texts[r], lens[r], NULL, 0, NULL, &e) != TL_OK || !same_enc(e, want[which[r]])) bad1++;
        tl_encoding_free(e);
    }
    CHECK(bad1 == 0);
    for (size_t r = 0; r < N * REP; r++) { tl_encoding_free(got[r]); got[r] = NULL; }
    p.num_threads = 70;
    CHECK_OK(tl_tokenizer_encode_batch(tok, texts, lens, NULL, NULL, 3000, &p, got));
    for (size_t r = 0; r < 3000; r++) bad2 += !got[r] || !same_enc(got[r], want[which[r]]);
    CHECK(bad2 == 0);
done:
    for (size_t i = 0; words && i < N; i++) { free(words[i]); if (want) tl_encoding_free(want[i]); }
    for (size_t r = 0; got && r < N * REP; r++) tl_encoding_free(got[r]);
    free(words); free(lens); free(texts); free(want); free(got); free(which);
    tl_tokenizer_free(ref);
    tl_tokenizer_free(tok);
}

/* The cache's table directly: words forced onto one hash (a crafted collision chain)
 * are stored only within TL_WCACHE_PROBES (32) slots and found again; later ones are
 * misses, not long probes. Two pools hash the same word differently (seeded). */
/* A WordLevel-free WordPiece tokenizer.json with the given normalizer and pre-tokenizer
 * JSON values and max_input_chars_per_word, written to buf. */
static const char *wp_json(char *buf, size_t cap, const char *norm, const char *pre, long maxc) {
    snprintf(buf, cap,
             "{\"version\":\"1.0\",\"added_tokens\":[],\"normalizer\":%s,\"pre_tokenizer\":%s,"
             "\"post_processor\":null,\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\","
             "\"continuing_subword_prefix\":\"##\",\"max_input_chars_per_word\":%ld,"
             "\"vocab\":{\"[UNK]\":0,\"a\":1,\"##a\":2,\"aa\":3,\"##aa\":4,\"b\":5,\"##b\":6,\"x\":7}}}",
             norm, pre, maxc);
    return buf;
}

/* Resource bounds: a normalizer that multiplies text, regexes that backtrack
 * catastrophically (exponential and quadratic), a 2 MB WordPiece word under a huge
 * max_input_chars_per_word; each an error naming the limit (or a result) in bounded time. */
TL_TEST(test_resource_bounds) {
    char json[2048];
    size_t n = 2u << 20;
    char *text = malloc(n + 1);
    if (!text) { CHECK(0); return; }
    memset(text, 'a', n);
    text[n] = 0;
    tl_encoding *e = NULL;
    tl_encode_params p = tl_encode_default_params();

    /* Replace a -> 1000 x b: past 8 x + 4096 as it grows; fine with the limit raised */
    char norm[1200];
    int k = snprintf(norm, sizeof norm, "{\"type\":\"Replace\",\"pattern\":{\"String\":\"a\"},\"content\":\"");
    for (int i = 0; i < 1000; i++) norm[k++] = 'b';
    snprintf(norm + k, sizeof norm - (size_t)k, "\"}");
    tl_tokenizer *tok = load_json("amplify", wp_json(json, sizeof json, norm, "null", 100));
    CHECK(tok != NULL);
    if (tok) {
        CHECK(tl_tokenizer_encode(tok, text, 5000, NULL, 0, &p, &e) == TL_ERR_INVALID_ARG && !e);
        CHECK(strstr(tl_last_error(), "max_normalize_growth") && strstr(tl_last_error(), "amplify.json"));
        p.max_normalize_growth = 1000;
        CHECK_OK(tl_tokenizer_encode(tok, text, 10, NULL, 0, &p, &e));
        CHECK(e && tl_encoding_length(e) == 1); /* one 10,000-char word: [UNK] */
        tl_encoding_free(e);
        e = NULL;
        p = tl_encode_default_params();
        tl_tokenizer_free(tok);
    }
    /* Split on (a+)+$ over "aaa...ab": PCRE2's match limit, the pattern named */
    tok = load_json("exp", wp_json(json, sizeof json, "null",
                                   "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(a+)+$\"},\"behavior\":\"Isolated\","
                                   "\"invert\":false}", 100));
    CHECK(tok != NULL);
    if (tok) {
        text[40] = 'b';
        CHECK(tl_tokenizer_encode(tok, text, 41, NULL, 0, &p, &e) == TL_ERR_INVALID_ARG && !e);
        CHECK(strstr(tl_last_error(), "(a+)+$") && strstr(tl_last_error(), "backtracking limit"));
        text[40] = 'a';
        tl_tokenizer_free(tok);
    }
    /* [ab]*[cd] over 200k a's: quadratic; the time budget (50 ms here) ends it */
    tok = load_json("quad", wp_json(json, sizeof json, "null",
                                    "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"[ab]*[cd]\"},\"behavior\":\"Isolated\","
                                    "\"invert\":false}", 100));
    CHECK(tok != NULL);
    if (tok) {
        p.max_regex_ms = 50;
        CHECK(tl_tokenizer_encode(tok, text, 200000, NULL, 0, &p, &e) == TL_ERR_INVALID_ARG && !e);
        CHECK(strstr(tl_last_error(), "[ab]*[cd]") && strstr(tl_last_error(), "max_regex_ms"));
        p.max_regex_ms = 0;
        CHECK_OK(tl_tokenizer_encode(tok, "ab c", 4, NULL, 0, &p, &e)); /* still matches normally */
        CHECK(e && tl_encoding_length(e) == 2);
        tl_encoding_free(e);
        e = NULL;
        tl_tokenizer_free(tok);
    }
    /* a 2 MB word, max_input_chars_per_word 2^30: linear (longest match <= 3 bytes) */
    tok = load_json("bigword", wp_json(json, sizeof json, "null", "{\"type\":\"WhitespaceSplit\"}", 1L << 30));
    CHECK(tok != NULL);
    if (tok) {
        CHECK_OK(tl_tokenizer_encode(tok, text, n, NULL, 0, &p, &e));
        CHECK(e && tl_encoding_length(e) == n / 2 && tl_encoding_ids(e)[0] == 3 && tl_encoding_ids(e)[1] == 4);
        tl_encoding_free(e);
        tl_tokenizer_free(tok);
    }
    free(text);
}

TL_TEST(test_word_cache_probes) {
    tl_wcache_pool *p = tl_wcache_pool_new(), *q = tl_wcache_pool_new();
    tl_wcache *c = tl_wcache_acquire(p), *d = tl_wcache_acquire(q);
    CHECK(c && d);
    if (!c || !d) goto done;
    CHECK(tl_wcache_hash(c, "hello", 5) != tl_wcache_hash(d, "hello", 5));
    tl_mtoks toks = {0}, out = {0};
    CHECK(tl_mtoks_push(&toks, 7, 0, 1) == 0);
    char key[16];
    for (int i = 0; i < 100; i++) {
        toks.v[0].id = i;
        snprintf(key, sizeof key, "w%d", i);
        tl_wcache_put(c, key, strlen(key), 12345, &toks);
    }
    int hits = 0, right = 0;
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "w%d", i);
        int hit = tl_wcache_get(c, key, strlen(key), 12345, &out);
        hits += hit;
        right += hit && i < 32 && out.len == 1 && out.v[0].id == i;
    }
    CHECK(hits == 32 && right == 32);
    free(toks.v);
    free(out.v);
done:
    tl_wcache_release(p, c);
    tl_wcache_release(q, d);
    tl_wcache_pool_free(p);
    tl_wcache_pool_free(q);
}

TL_TEST(test_word_cache) {
    cache_check("bpe_cache", BPE_JSON);
    cache_check("uni_cache", UNIGRAM_JSON);
}

TL_TEST(test_fuzz_models) {
    const char *names[] = {"bpe", "split", "unigram"}, *jsons[] = {BPE_JSON, SPLIT_JSON, UNIGRAM_JSON};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        tl_tokenizer *tok = load_json(names[i], jsons[i]);
        if (!tok) continue;
        fuzz(tok, 6000);
        tl_tokenizer_free(tok);
    }
    if (dir_[0]) rmdir(dir_);
}



/* Decodes n random ids of [0, range) many times; every call must succeed (ASan checks
 * the byte-level, byte-fallback and lossy UTF-8 paths). Returns the failures. */
static int decode_fuzz(tl_tokenizer *tok, int32_t range, uint64_t seed) {
    int bad = 0;
    int32_t ids[32];
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = (size_t)(seed >> 33) % 32;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            ids[i] = (int32_t)((seed >> 33) % (uint64_t)range);
        }
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        char *s = NULL;
        size_t len = 0;
        if (tl_tokenizer_decode_len(tok, ids, n, iter & 1, iter & 2, &s, &len) != TL_OK || !s || strlen(s) > len) bad++;
        tl_free(s);
    }
    return bad;
}

TL_TEST(test_decoders) {
    tl_tokenizer *tok = load_json("bpe_dec", BPE_JSON);
    if (!tok) return;
    const int32_t ids[] = {9, 12, 13, 1};
    char *s = NULL;
    CHECK_OK(tl_tokenizer_decode(tok, ids, 4, 0, 0, &s));
    CHECK(s && !strcmp(s, "hello w<s><0x41>")); /* <0x41> is not a ByteLevel char string: kept */
    tl_free(s);
    CHECK(decode_fuzz(tok, 16, 11) == 0);
    tl_tokenizer_free(tok);
    /* Llama-2 style: Replace + ByteFallback + Fuse + Strip over the Unigram model */
    static const char *dec =
        "{\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"\xe2\x96\x81\"},"
        "\"content\":\" \"},{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \","
        "\"start\":1,\"stop\":0},{\"type\":\"Metaspace\",\"replacement\":\"_\",\"prepend_scheme\":\"always\"}]},";
    char json[4096];
    snprintf(json, sizeof json, "%s%s", dec, UNIGRAM_JSON + 1);
    tok = load_json("uni_dec", json);
    if (!tok) return;
    const int32_t u[] = {1, 7, 8, 1, 2};
    CHECK_OK(tl_tokenizer_decode(tok, u, 5, 0, 0, &s));
    CHECK(s && !strcmp(s, "helloA h"));
    tl_free(s);
    CHECK(decode_fuzz(tok, 12, 5) == 0);
    tl_tokenizer_free(tok);
}

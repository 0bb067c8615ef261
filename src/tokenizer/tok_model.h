/* tok_model.h — the tokenization models: WordPiece (wordpiece.c), BPE (bpe.c), Unigram
 * (unigram.c), their token lists and scratch. Private to src/tokenizer. */
#ifndef TL_TOKENIZER_TOK_MODEL_H
#define TL_TOKENIZER_TOK_MODEL_H
#include "tokenizer/tok_vocab.h"

typedef struct tl_wordpiece {
    tl_vocab vocab;
    char *unk_token;
    char *prefix;          /* continuing_subword_prefix, "##" */
    size_t max_chars;      /* max_input_chars_per_word */
} tl_wordpiece;

/* One model token: id and the char range [s, e) it covers in the word. */
/* raw = 1: the token string is the word's text [s, e) (Unigram unknown pieces). */
typedef struct { int32_t id; size_t s, e; int raw; } tl_mtok;
typedef struct { tl_mtok *v; size_t len, cap; } tl_mtoks;

/* Parses model {"type":"WordPiece",...}. Caller frees with tl_wordpiece_free. */
tl_status tl_wordpiece_parse(const cJSON *j, const char *path, tl_wordpiece *out);
void tl_wordpiece_free(tl_wordpiece *wp);
/* Tokenizes the word cps[0, n) greedily longest-match-first; appends to out (cleared
 * first). TL_ERR_FORMAT when a word needs the unk token and the vocab lacks it. */
tl_status tl_wordpiece_tokenize(const tl_wordpiece *wp, const uint32_t *cps, size_t n, tl_mtoks *out);

/* Scratch memory a model reuses across words (freed by tl_mscratch_free). */
typedef struct tl_mscratch {
    char *buf; size_t buf_cap;
    size_t *boff; size_t boff_cap;
    void *sym; size_t sym_cap;
    void *heap; size_t heap_cap;
    void *lat; size_t lat_cap;
} tl_mscratch;
void tl_mscratch_free(tl_mscratch *s);

/* ---- BPE */

typedef struct { uint64_t key; uint32_t rank; int32_t new_id; } tl_merge_slot;

typedef struct tl_bpe {
    tl_vocab vocab;
    char *unk_token;             /* NULL: unknown chars are dropped */
    char *prefix, *suffix;       /* continuing_subword_prefix, end_of_word_suffix (NULL: none) */
    int byte_fallback, fuse_unk, ignore_merges;
    tl_merge_slot *merges;       /* open addressing on (a << 32 | b); key UINT64_MAX = empty */
    size_t merge_mask, n_merges;
    int32_t byte_ids[256];       /* id of "<0xXX>", or -1 */
} tl_bpe;

/* Parses model {"type":"BPE",...} (merges as "a b" strings or [a, b] pairs). */
tl_status tl_bpe_parse(const cJSON *j, const char *path, tl_bpe *out);
/* Adds merge (a, b) with this rank; TL_ERR_FORMAT when a token is not in the vocab. */
tl_status tl_bpe_add_merge(tl_bpe *bpe, const char *a, size_t alen, const char *b, size_t blen,
                           uint32_t rank, const char *what);
/* Fills byte_ids after the vocab is loaded. */
void tl_bpe_finish(tl_bpe *bpe);
void tl_bpe_free(tl_bpe *bpe);
/* Tokenizes the word cps[0, n) as tokenizers' BPE does (dropout none); out cleared first. */
tl_status tl_bpe_tokenize(const tl_bpe *bpe, const uint32_t *cps, size_t n, tl_mscratch *sc, tl_mtoks *out);
/* Appends a model token; 0 or -1 on OOM. */
int tl_mtoks_push(tl_mtoks *o, int32_t id, size_t s, size_t e);

/* ---- Unigram */

typedef struct tl_unigram {
    tl_vocab vocab;
    double *scores;              /* [n] */
    size_t n, max_chars;         /* entries; longest piece in chars */
    int32_t unk_id;              /* -1: none */
    int byte_fallback;
    double min_score;
    int32_t byte_ids[256];
} tl_unigram;

/* Parses model {"type":"Unigram","unk_id":..,"vocab":[[piece, score], ...]}. */
tl_status tl_unigram_parse(const cJSON *j, const char *path, tl_unigram *out);
void tl_unigram_free(tl_unigram *u);
/* Segments the word cps[0, n); tokens have raw = 1 (string = the piece's text) except
 * byte-fallback ones. out cleared first. */
tl_status tl_unigram_tokenize(const tl_unigram *u, const uint32_t *cps, size_t n, tl_mscratch *sc, tl_mtoks *out);

#endif

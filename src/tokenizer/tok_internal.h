/* tok_internal.h — the tokenizer's internal types, shared by the pipeline stages:
 * normalizer.c -> pretokenizer.c -> wordpiece.c -> postprocess.c, glued by encode.c,
 * loaded by tokenizer.c (tokenizer.json) and vocab_txt.c (legacy BERT vocab.txt). */
#ifndef TL_TOKENIZER_INTERNAL_H
#define TL_TOKENIZER_INTERNAL_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include "torchless.h"

/* ---------------------------------------------------------------- strings */

/* A normalized string: code point cp[i] came from the input's code points
 * [os[i], oe[i]) (absolute indices into the sequence being encoded). */
typedef struct tl_nstr {
    uint32_t *cp;
    int32_t *os, *oe;
    size_t len, cap;
} tl_nstr;

/* Grows s to hold at least n entries; returns 0, or -1 on OOM/overflow. */
int tl_nstr_reserve(tl_nstr *s, size_t n);
/* Appends one code point with its original span; returns 0, or -1 on OOM. */
int tl_nstr_push(tl_nstr *s, uint32_t cp, int32_t os, int32_t oe);
/* Frees s's arrays and zeroes it. */
void tl_nstr_free(tl_nstr *s);

/* Decodes strict UTF-8 (no overlongs, surrogates or > U+10FFFF) into a malloc'd code
 * point array. On invalid input returns TL_ERR_INVALID_ARG naming `what` and the byte
 * offset of the first invalid byte. Caller frees *out. */
tl_status tl_utf8_decode(const char *s, size_t len, const char *what, uint32_t **out, size_t *n);
/* tl_utf8_decode into the reusable buffer *buf (capacity *cap, grown as needed; the
 * caller frees it), *n code points. Same errors. */
tl_status tl_utf8_decode_into(const char *s, size_t len, const char *what, uint32_t **buf, size_t *cap, size_t *n);
/* Encodes one code point as UTF-8 into buf (4 bytes room); returns the byte count. */
size_t tl_utf8_put(uint32_t c, char *buf);

/* A span [s, e) of indices. */
typedef struct { size_t s, e; } tl_span;
typedef struct { tl_span *v; size_t len, cap; } tl_spans;
/* Appends a span; returns 0, or -1 on OOM. */
int tl_spans_push(tl_spans *sp, size_t s, size_t e);

/* Reads obj[key] as an integer in [0, max]: returns 1 and sets *out (def when absent or
 * null), or 0 when the value is not such an integer (no undefined float casts). */
int tl_tok_json_index(const cJSON *obj, const char *key, long def, long max, long *out);

/* ---------------------------------------------------------------- normalizer */

typedef enum {
    TL_NORM_NONE, TL_NORM_BERT, TL_NORM_LOWERCASE, TL_NORM_STRIP_ACCENTS,
    TL_NORM_NFD, TL_NORM_NFKD, TL_NORM_NFC, TL_NORM_NFKC, TL_NORM_SEQUENCE,
    TL_NORM_PRECOMPILED, TL_NORM_REPLACE, TL_NORM_STRIP, TL_NORM_PREPEND
} tl_norm_kind;

struct tl_regex;
typedef struct tl_normalizer {
    tl_norm_kind kind;
    int clean_text, handle_chinese, strip_accents, lowercase; /* BertNormalizer */
    struct tl_normalizer *children;                          /* Sequence */
    size_t n_children;
    int strip_left, strip_right;                             /* Strip */
    struct tl_regex *re;                                     /* Replace pattern */
    uint32_t *text; size_t n_text;                           /* Replace content / Prepend */
    uint32_t *trie; size_t n_trie;                           /* Precompiled double array */
    char *pool; size_t n_pool;                               /* Precompiled replacements */
} tl_normalizer;

/* Replaces s by tokenizers' NormalizedString::transform of (cp[i], ch[i]) pairs: ch 0
 * replaces the next char, > 0 inserts (span of the previous char), < 0 replaces and drops
 * -ch more chars. TL_ERR_OOM on failure. */
tl_status tl_norm_transform(tl_nstr *s, const uint32_t *cp, const int32_t *ch, size_t n);
/* Parses Precompiled / Replace / Strip / Prepend (norm_extra.c); TL_ERR_UNSUPPORTED otherwise. */
tl_status tl_normalizer_parse_extra(const cJSON *j, const char *type, const char *path, tl_normalizer *out);
/* Applies those kinds. */
tl_status tl_normalizer_apply_extra(const tl_normalizer *n, tl_nstr *s);

/* Parses a "normalizer" JSON value (NULL or JSON null: none). Nesting is limited.
 * TL_ERR_FORMAT / TL_ERR_UNSUPPORTED name path. Caller frees with tl_normalizer_free. */
tl_status tl_normalizer_parse(const cJSON *j, const char *path, int depth, tl_normalizer *out);
void tl_normalizer_free(tl_normalizer *n);
/* Normalizes s in place, keeping every char's original span. TL_ERR_OOM on failure. */
tl_status tl_normalizer_apply(const tl_normalizer *n, tl_nstr *s);

/* ---------------------------------------------------------------- regex + split */

typedef struct tl_regex tl_regex; /* also forward-declared above */
/* Matcher scratch: the subject as UTF-8, byte -> char index map, PCRE2 match data. */
typedef struct { char *u8; size_t *b2c; size_t cap; void *md; } tl_rx_scratch;
/* One piece of tokenizers' find_matches: chars [s, e), match or gap. */
typedef struct { size_t s, e; int match; } tl_match;
typedef struct { tl_match *v; size_t len, cap; } tl_matches;
typedef enum {
    TL_SPLIT_REMOVED, TL_SPLIT_ISOLATED, TL_SPLIT_MERGED_PREV, TL_SPLIT_MERGED_NEXT, TL_SPLIT_CONTIGUOUS
} tl_split_behavior;

/* Compiles a pattern in PCRE2 UTF + UCP mode (literal = 1: a plain string). TL_ERR_FORMAT
 * names what and the offset on a bad pattern. Caller frees with tl_regex_free. */
tl_status tl_regex_compile(const char *pattern, int literal, const char *what, tl_regex **out);
void tl_regex_free(tl_regex *re);
void tl_rx_scratch_free(tl_rx_scratch *sc);
/* find_matches of re over cps[0, n) (onig find_iter stepping); out is cleared first. */
tl_status tl_regex_find(const tl_regex *re, const uint32_t *cps, size_t n, tl_rx_scratch *sc, tl_matches *out);
/* find_matches of a char predicate: every char with pred(c, arg) is its own match. */
tl_status tl_char_find(int (*pred)(uint32_t, uint32_t), uint32_t arg, const uint32_t *cps, size_t n,
                       tl_matches *out);
/* Applies a split behavior (and invert) to m (rewritten), appending the non-empty kept
 * pieces, shifted by base, to out. */
tl_status tl_split_apply(tl_matches *m, tl_split_behavior beh, int invert, size_t base, tl_spans *out);

/* ---------------------------------------------------------------- pre-tokenizer */

typedef enum {
    TL_PRE_NONE, TL_PRE_BERT, TL_PRE_WHITESPACE, TL_PRE_WHITESPACE_SPLIT, TL_PRE_SEQUENCE,
    TL_PRE_BYTE_LEVEL, TL_PRE_METASPACE, TL_PRE_SPLIT, TL_PRE_PUNCTUATION, TL_PRE_DIGITS
} tl_pre_kind;

enum { TL_PREPEND_ALWAYS, TL_PREPEND_FIRST, TL_PREPEND_NEVER };

typedef struct tl_pretok {
    tl_pre_kind kind;
    struct tl_pretok *children;
    size_t n_children;
    int add_prefix_space, use_regex;                 /* ByteLevel */
    uint32_t replacement;                            /* Metaspace */
    int prepend_scheme, split;                       /* Metaspace */
    tl_regex *re;                                    /* Split; ByteLevel's GPT-2 regex */
    tl_split_behavior behavior;                      /* Split, Punctuation */
    int invert;                                      /* Split */
    int individual_digits;                           /* Digits */
} tl_pretok;

/* Pre-tokenizer working state: the (possibly transformed) string and its words. */
typedef struct tl_ptbuf {
    tl_nstr buf, tmp;
    tl_spans words, tmpw;
    tl_matches m;
    tl_rx_scratch rx;
} tl_ptbuf;

/* Parses a "pre_tokenizer" JSON value (NULL/null: none). Caller frees with tl_pretok_free. */
tl_status tl_pretok_parse(const cJSON *j, const char *path, int depth, tl_pretok *out);
void tl_pretok_free(tl_pretok *p);
/* Pre-tokenizes src[from, to): b->buf receives the words' chars (with original spans)
 * and b->words their non-empty spans into b->buf, in order. */
tl_status tl_pretok_run(const tl_pretok *p, const tl_nstr *src, size_t from, size_t to, tl_ptbuf *b);
void tl_ptbuf_free(tl_ptbuf *b);
/* Byte-level alphabet: the char standing for byte b, and back (-1 if c is not one). */
uint32_t tl_bytelevel_char(uint8_t b);
int tl_bytelevel_byte(uint32_t c);
/* ByteLevel's GPT-2 split pattern. */
extern const char tl_gpt2_pattern[];

/* ---------------------------------------------------------------- vocab + WordPiece */

/* token string -> id hash map, and id -> token array. */
typedef struct tl_vocab {
    char **id_to_tok;      /* [n_ids], NULL where an id is unused; owned */
    size_t *id_len;        /* [n_ids], strlen of id_to_tok[i] (0 where unused) */
    size_t n_ids;          /* max id + 1 */
    size_t n_tokens;       /* number of entries */
    int32_t *slots;        /* open addressing, id or -1; [mask + 1] */
    size_t mask;
} tl_vocab;

/* Adds token -> id (first insertion of a string wins). 0, -1 on OOM, -2 on a bad id. */
int tl_vocab_add(tl_vocab *v, const char *tok, size_t len, int32_t id);
/* Returns the id of tok (len bytes), or -1. */
int32_t tl_vocab_get(const tl_vocab *v, const char *tok, size_t len);
void tl_vocab_free(tl_vocab *v);

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
/* Grows *p to hold n elements of elem bytes (capacity in *cap); 0 or -1 on OOM. */
int tl_grow(void **p, size_t *cap, size_t n, size_t elem);

/* ---------------------------------------------------------------- BPE */

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

/* Parses a JSON {token: id} object into v (ids range-checked). */
tl_status tl_vocab_parse_json(const cJSON *vocab, const char *path, tl_vocab *v);
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

/* ---------------------------------------------------------------- Unigram */

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

/* ---------------------------------------------------------------- word cache */

/* Per-thread caches of model tokens per pre-tokenized word (word_cache.c). A tokenizer
 * owns a pool; a thread takes one cache per call and uses it without locks. */
#define TL_WCACHE_MAX_KEY 1023 /* longest cached word in UTF-8 bytes */
typedef struct tl_wcache tl_wcache;
typedef struct tl_wcache_pool tl_wcache_pool;
/* Allocates an empty pool; NULL on OOM (then nothing is cached). */
tl_wcache_pool *tl_wcache_pool_new(void);
/* Frees p and its caches (NULL is fine); no thread may hold one. */
void tl_wcache_pool_free(tl_wcache_pool *p);
/* A cache for the caller's exclusive use until released; NULL: run uncached. */
tl_wcache *tl_wcache_acquire(tl_wcache_pool *p);
/* Frees tok's word caches so it runs BPE / Unigram uncached (tests' reference); no call
 * may be encoding with tok. */
void tl_tokenizer_drop_word_cache(tl_tokenizer *tok);
/* Gives back a cache from tl_wcache_acquire (NULL is fine). */
void tl_wcache_release(tl_wcache_pool *p, tl_wcache *c);
/* Cache c's seeded hash of the word's UTF-8 bytes key[0, len); never 0 (0 when c is NULL). */
uint64_t tl_wcache_hash(const tl_wcache *c, const char *key, size_t len);
/* 1 and out (cleared first) filled with the cached tokens on a hit, else 0. c may be NULL. */
int tl_wcache_get(tl_wcache *c, const char *key, size_t klen, uint64_t h, tl_mtoks *out);
/* Caches toks for a word not cached yet (bounded: a full cache is emptied first). */
void tl_wcache_put(tl_wcache *c, const char *key, size_t klen, uint64_t h, const tl_mtoks *toks);

/* ---------------------------------------------------------------- added tokens */

typedef struct tl_added_token {
    char *content;
    uint32_t *cps;   size_t n_cps;     /* content as code points */
    uint32_t *ncps;  size_t n_ncps;    /* content after normalization (normalized tokens) */
    int32_t id;
    int special, lstrip, rstrip, single_word, normalized;
} tl_added_token;

typedef struct tl_added {
    tl_added_token *v;
    size_t len, cap;
} tl_added;

/* One piece of a sequence after splitting out added tokens: [s, e) and the matched
 * added token index, or -1 for plain text. */
typedef struct { size_t s, e; int32_t tok; } tl_piece;
typedef struct { tl_piece *v; size_t len, cap; } tl_pieces;

/* Appends an added token (copies content). normalizer normalizes the match form of
 * normalized tokens. 0, or non-OK on OOM. */
tl_status tl_added_push(tl_added *a, const char *content, int32_t id, int special, int lstrip,
                        int rstrip, int single_word, int normalized, const tl_normalizer *norm);
void tl_added_free(tl_added *a);
/* Splits cps[0, n) on the added tokens whose `normalized` flag equals normalized_pass,
 * leftmost-longest, honouring single_word / lstrip / rstrip as tokenizers does.
 * Appends pieces (covering [0, n) in order, empty ones skipped) to out (cleared first). */
tl_status tl_added_split(const tl_added *a, int normalized_pass, const uint32_t *cps, size_t n,
                         tl_pieces *out);
/* Returns the id of an added token with this content, or -1. */
int32_t tl_added_find(const tl_added *a, const char *content);

/* ---------------------------------------------------------------- encodings */

#define TL_ENC_MAX_RANGES 8
struct tl_encoding {
    size_t len, cap;
    int32_t *ids, *type_ids, *special, *attn, *offsets, *word_ids;
    int32_t *seq_ids;       /* filled from rng by tl_enc_finish_seq */
    struct { int32_t seq; size_t s, e; } rng[TL_ENC_MAX_RANGES]; /* tokenizers' sequence_ranges */
    size_t n_rng;
    size_t *tok_off;        /* token i's string starts at str + tok_off[i] */
    char *str;
    size_t str_len, str_cap;
    struct tl_encoding *ovf; /* overflowing windows [n_ovf], owned */
    size_t n_ovf;
};

/* Zeroes e and allocates its arrays (so accessors never return NULL). */
tl_status tl_enc_init(tl_encoding *e);
/* Zeroes e and allocates its arrays for exactly n tokens and str_bytes bytes of token
 * strings (their NULs included); they still grow on demand. TL_ERR_OOM on failure. */
tl_status tl_enc_init_sized(tl_encoding *e, size_t n, size_t str_bytes);
/* Makes room in e for n tokens and str_bytes bytes of token strings, so that appending
 * that much does not reallocate; TL_ERR_OOM on failure. */
tl_status tl_enc_reserve(tl_encoding *e, size_t n, size_t str_bytes);
/* Empties e (no tokens, ranges or windows), keeping its buffers for reuse. */
void tl_enc_reset(tl_encoding *e);
/* Appends one token (copies tok, toklen bytes). Returns TL_OK or TL_ERR_OOM. */
tl_status tl_enc_push(tl_encoding *e, int32_t id, const char *tok, size_t toklen, int32_t type_id,
                      int32_t special, int32_t os, int32_t oe, int32_t word);
/* Appends all tokens of src (type ids replaced by type_id when type_id >= 0) and its
 * sequence ranges, shifted (tokenizers' merge_with). */
tl_status tl_enc_append(tl_encoding *e, const tl_encoding *src, int32_t type_id);
/* Keeps the first n tokens. */
void tl_enc_truncate(tl_encoding *e, size_t n);
/* Appends tokens [s, e) of src to dst (types kept, no sequence ranges). */
tl_status tl_enc_slice(tl_encoding *dst, const tl_encoding *src, size_t s, size_t e);
/* Sets sequence range seq to tokens [s, end) (tokenizers' set_sequence_id over a merged
 * piece); a full map drops the range (only reachable with > 8 pieces). */
void tl_enc_set_range(tl_encoding *e, int32_t seq, size_t s, size_t end);
/* Fills seq_ids of e and its windows from the ranges as tokenizers' get_sequence_ids. */
void tl_enc_finish_seq(tl_encoding *e);
/* Frees e's arrays and overflowing encodings, but not e itself. */
void tl_enc_clear(tl_encoding *e);

/* ---------------------------------------------------------------- truncation + padding */

/* tokenizers' Encoding::truncate: e keeps the first window of max_len tokens (the last
 * one when left != 0); the following windows, overlapping by stride, go to e->ovf.
 * max_len 0 moves everything to e->ovf. TL_ERR_INVALID_ARG when stride >= max_len
 * (tokenizers panics there), TL_ERR_OOM on allocation failure. */
tl_status tl_enc_split(tl_encoding *e, size_t max_len, size_t stride, int left);
/* tokenizers' truncate_encodings: strategy is a tl_truncation_strategy; b may be NULL.
 * TL_ERR_INVALID_ARG for only_second without a pair, a sequence too short to remove the
 * excess, or a stride too large. */
tl_status tl_truncate(tl_encoding *a, tl_encoding *b, size_t max_len, int strategy, size_t stride, int left);
/* Encoding::pad: pads e (and its overflowing windows) to target tokens. pad_token NULL
 * means "[PAD]". TL_ERR_OOM on failure. */
tl_status tl_enc_pad(tl_encoding *e, size_t target, int32_t pad_id, int32_t pad_type_id,
                     const char *pad_token, int left);

/* ---------------------------------------------------------------- post-processor */

typedef struct { int special; int seq; int32_t type_id; char *name; } tl_tpl_piece;
typedef struct { char *name; int32_t *ids; char **tokens; size_t n; } tl_tpl_special;

typedef struct tl_postproc {
    int kind;                           /* 0 none, 1 template (Bert/Roberta mapped to it) */
    int present;                        /* the tokenizer has a post-processor at all */
    int renumber_after;                 /* a ByteLevel stage follows the template: it numbers
                                           the template's pieces as sequences */
    tl_tpl_piece *single, *pair;
    size_t n_single, n_pair;
    tl_tpl_special *specials;
    size_t n_specials;
    int zero_types;                     /* RobertaProcessing: every type id is 0 */
    int trim_before, aps_before;        /* trim_offsets (add_prefix_space) before the template */
    int trim_after, aps_after;          /* ... and after it (a ByteLevel later in a Sequence) */
} tl_postproc;

/* Parses "post_processor" (NULL/null: none). Caller frees with tl_postproc_free. */
tl_status tl_postproc_parse(const cJSON *j, const char *path, tl_postproc *out);
/* Builds the BERT template [CLS] $A [SEP] / [CLS] $A [SEP] $B:1 [SEP]:1. */
tl_status tl_postproc_bert(tl_postproc *out, const char *cls, int32_t cls_id, const char *sep,
                           int32_t sep_id);
void tl_postproc_free(tl_postproc *p);
/* Number of special tokens the processor adds for a single (is_pair 0) or pair input. */
size_t tl_postproc_added(const tl_postproc *p, int is_pair);
/* ByteLevel's process_offsets on tokens [from, to) of e: drops leading/trailing spaces
 * ('Ġ' or whitespace chars of the token string) from their offsets. */
void tl_trim_offsets(tl_encoding *e, size_t from, size_t to, int add_prefix_space);
/* Merges a (and b, may be NULL) into out as the template says, sets sequence ids and
 * trims offsets of a ByteLevel stage after the template. keep_types bit 0 (a) / bit 1 (b):
 * that input is an overflowing window, which keeps the model's type ids (0 / 1) as in
 * tokenizers, instead of the template's. */
tl_status tl_postproc_apply(const tl_postproc *p, const tl_encoding *a, const tl_encoding *b,
                            int add_special, unsigned keep_types, tl_encoding *out);
/* Post-processes a (and b) into res (zeroed) and builds its overflowing windows in
 * tokenizers' order, nested ones included (overflow.c); TL_ERR_INVALID_ARG when they
 * would hold more than max_ovf tokens in all. */
tl_status tl_enc_assemble(const tl_postproc *pp, const tl_encoding *a, const tl_encoding *b, int add_special,
                          size_t max_ovf, tl_encoding *res);

/* ---------------------------------------------------------------- decoder */

typedef enum {
    TL_DEC_NONE, TL_DEC_WORDPIECE, TL_DEC_BYTELEVEL, TL_DEC_METASPACE, TL_DEC_BPE,
    TL_DEC_BYTEFALLBACK, TL_DEC_FUSE, TL_DEC_STRIP, TL_DEC_REPLACE, TL_DEC_SEQUENCE
} tl_dec_kind;

typedef struct tl_decoder {
    tl_dec_kind kind;
    struct tl_decoder *children;  /* Sequence */
    size_t n_children;
    char *text;                   /* WordPiece prefix, BPEDecoder suffix */
    int cleanup;                  /* WordPiece */
    uint32_t ch;                  /* Metaspace replacement, Strip content */
    int never;                    /* Metaspace prepend_scheme "never" */
    size_t start, stop;           /* Strip */
    tl_regex *re;                 /* Replace pattern */
    char *content;                /* Replace content */
} tl_decoder;

/* Parses a "decoder" JSON value (NULL/null: none, tokens joined by spaces). Caller frees
 * with tl_decoder_free. TL_ERR_FORMAT / TL_ERR_UNSUPPORTED name path. */
tl_status tl_decoder_parse(const cJSON *j, const char *path, int depth, tl_decoder *out);
void tl_decoder_free(tl_decoder *d);
/* Joins token strings as tokenizers' decoder.decode(tokens) (transformers'
 * convert_tokens_to_string; no decoder: joined by spaces, or with wordpiece_default as the
 * WordPiece decoder "##" with cleanup). *out is malloc'd. */
tl_status tl_tokenizer_decode_tokens(const struct tl_tokenizer *tok, const char *const *tokens, size_t n,
                                     int wordpiece_default, char **out);
/* 1 when the model has a continuing_subword_prefix (WordPiece "##", some BPEs), as
 * transformers' token-classification tests to tell word-aware tokenizers. */
int tl_tokenizer_has_subword_prefix(const struct tl_tokenizer *tok);

/* ---------------------------------------------------------------- tokenizer */

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
};

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

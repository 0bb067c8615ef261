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
    TL_NORM_NFD, TL_NORM_NFKD, TL_NORM_NFC, TL_NORM_NFKC, TL_NORM_SEQUENCE
} tl_norm_kind;

typedef struct tl_normalizer {
    tl_norm_kind kind;
    int clean_text, handle_chinese, strip_accents, lowercase; /* BertNormalizer */
    struct tl_normalizer *children;                          /* Sequence */
    size_t n_children;
} tl_normalizer;

/* Parses a "normalizer" JSON value (NULL or JSON null: none). Nesting is limited.
 * TL_ERR_FORMAT / TL_ERR_UNSUPPORTED name path. Caller frees with tl_normalizer_free. */
tl_status tl_normalizer_parse(const cJSON *j, const char *path, int depth, tl_normalizer *out);
void tl_normalizer_free(tl_normalizer *n);
/* Normalizes s in place, keeping every char's original span. TL_ERR_OOM on failure. */
tl_status tl_normalizer_apply(const tl_normalizer *n, tl_nstr *s);

/* ---------------------------------------------------------------- pre-tokenizer */

typedef enum {
    TL_PRE_NONE, TL_PRE_BERT, TL_PRE_WHITESPACE, TL_PRE_WHITESPACE_SPLIT, TL_PRE_SEQUENCE
} tl_pre_kind;

typedef struct tl_pretok {
    tl_pre_kind kind;
    struct tl_pretok *children;
    size_t n_children;
} tl_pretok;

/* Parses a "pre_tokenizer" JSON value (NULL/null: none). Caller frees with tl_pretok_free. */
tl_status tl_pretok_parse(const cJSON *j, const char *path, int depth, tl_pretok *out);
void tl_pretok_free(tl_pretok *p);
/* Splits s[from, to) into non-empty words, appended to out as spans of s. */
tl_status tl_pretok_split(const tl_pretok *p, const tl_nstr *s, size_t from, size_t to, tl_spans *out);

/* ---------------------------------------------------------------- vocab + WordPiece */

/* token string -> id hash map, and id -> token array. */
typedef struct tl_vocab {
    char **id_to_tok;      /* [n_ids], NULL where an id is unused; owned */
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
typedef struct { int32_t id; size_t s, e; } tl_mtok;
typedef struct { tl_mtok *v; size_t len, cap; } tl_mtoks;

/* Parses model {"type":"WordPiece",...}. Caller frees with tl_wordpiece_free. */
tl_status tl_wordpiece_parse(const cJSON *j, const char *path, tl_wordpiece *out);
void tl_wordpiece_free(tl_wordpiece *wp);
/* Tokenizes the word cps[0, n) greedily longest-match-first; appends to out (cleared
 * first). TL_ERR_FORMAT when a word needs the unk token and the vocab lacks it. */
tl_status tl_wordpiece_tokenize(const tl_wordpiece *wp, const uint32_t *cps, size_t n, tl_mtoks *out);

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

struct tl_encoding {
    size_t len, cap;
    int32_t *ids, *type_ids, *special, *attn, *offsets, *word_ids;
    size_t *tok_off;        /* token i's string starts at str + tok_off[i] */
    char *str;
    size_t str_len, str_cap;
};

/* Zeroes e and allocates its arrays (so accessors never return NULL). */
tl_status tl_enc_init(tl_encoding *e);
/* Appends one token (copies tok, toklen bytes). Returns TL_OK or TL_ERR_OOM. */
tl_status tl_enc_push(tl_encoding *e, int32_t id, const char *tok, size_t toklen, int32_t type_id,
                      int32_t special, int32_t os, int32_t oe, int32_t word);
/* Appends all tokens of src (type ids replaced by type_id when type_id >= 0). */
tl_status tl_enc_append(tl_encoding *e, const tl_encoding *src, int32_t type_id);
/* Keeps the first n tokens. */
void tl_enc_truncate(tl_encoding *e, size_t n);
/* Frees e's arrays but not e itself. */
void tl_enc_clear(tl_encoding *e);

/* ---------------------------------------------------------------- post-processor */

typedef struct { int special; int seq; int32_t type_id; char *name; } tl_tpl_piece;
typedef struct { char *name; int32_t *ids; char **tokens; size_t n; } tl_tpl_special;

typedef struct tl_postproc {
    int kind;                           /* 0 none, 1 template (BertProcessing is mapped to it) */
    tl_tpl_piece *single, *pair;
    size_t n_single, n_pair;
    tl_tpl_special *specials;
    size_t n_specials;
} tl_postproc;

/* Parses "post_processor" (NULL/null: none). Caller frees with tl_postproc_free. */
tl_status tl_postproc_parse(const cJSON *j, const char *path, tl_postproc *out);
/* Builds the BERT template [CLS] $A [SEP] / [CLS] $A [SEP] $B:1 [SEP]:1. */
tl_status tl_postproc_bert(tl_postproc *out, const char *cls, int32_t cls_id, const char *sep,
                           int32_t sep_id);
void tl_postproc_free(tl_postproc *p);
/* Number of special tokens the processor adds for a single (is_pair 0) or pair input. */
size_t tl_postproc_added(const tl_postproc *p, int is_pair);
/* Truncates a (and b) to max_len tokens in total with tokenizers' longest_first rule. */
void tl_truncate_longest_first(tl_encoding *a, tl_encoding *b, size_t max_len);
/* Merges a (and b, may be NULL) into out as the template says. */
tl_status tl_postproc_apply(const tl_postproc *p, const tl_encoding *a, const tl_encoding *b,
                            int add_special, tl_encoding *out);

/* ---------------------------------------------------------------- tokenizer */

struct tl_tokenizer {
    char *source;          /* the file it came from, for messages */
    tl_normalizer norm;
    tl_pretok pre;
    tl_wordpiece wp;
    tl_added added;
    tl_postproc post;
    size_t vocab_size;     /* |model vocab ∪ added tokens| */
};

/* Builds a BertTokenizerFast-equivalent tokenizer from dir/vocab.txt (+ optional
 * tokenizer_config.json). Fills tok (zeroed by the caller). */
tl_status tl_tokenizer_load_vocab_txt(const char *dir, struct tl_tokenizer *tok);
/* Computes tok->vocab_size after loading. */
void tl_tokenizer_finish(struct tl_tokenizer *tok);

#endif

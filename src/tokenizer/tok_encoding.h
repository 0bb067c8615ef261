/* tok_encoding.h — the encoding struct and its operations (encoding.c), truncation and
 * padding (truncate.c). Private to src/tokenizer. */
#ifndef TL_TOKENIZER_TOK_ENCODING_H
#define TL_TOKENIZER_TOK_ENCODING_H
#include <stddef.h>
#include <stdint.h>
#include "torchless.h"

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

/* ---- truncation + padding */

/* tokenizers' Encoding::truncate: e keeps the first window of max_len tokens (the last
 * one when left != 0); the following windows, overlapping by stride, go to e->ovf.
 * max_len 0 moves everything to e->ovf. TL_ERR_INVALID_ARG when stride >= max_len
 * (tokenizers panics there), TL_ERR_OOM on allocation failure. drop != 0 keeps the same
 * window in e but makes no overflowing encodings (and drops any e had). */
tl_status tl_enc_split(tl_encoding *e, size_t max_len, size_t stride, int left, int drop);
/* tokenizers' truncate_encodings: strategy is a tl_truncation_strategy; b may be NULL.
 * TL_ERR_INVALID_ARG for only_second without a pair, a sequence too short to remove the
 * excess, or a stride too large. drop != 0: no overflowing encodings (tl_enc_split). */
tl_status tl_truncate(tl_encoding *a, tl_encoding *b, size_t max_len, int strategy, size_t stride, int left,
                      int drop);
/* Encoding::pad: pads e (and its overflowing windows) to target tokens. pad_token NULL
 * means "[PAD]". TL_ERR_OOM on failure. */
tl_status tl_enc_pad(tl_encoding *e, size_t target, int32_t pad_id, int32_t pad_type_id,
                     const char *pad_token, int left);

#endif

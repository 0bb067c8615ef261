/* sampling.h — choosing the next token from a logits row: greedy, and seeded sampling with
 * temperature, top-k, top-p and min-p, after the logits processors (repetition penalty,
 * no-repeat n-grams, banned eos), in transformers generate()'s order. */
#ifndef TL_TASKS_SAMPLING_H
#define TL_TASKS_SAMPLING_H
#include <stddef.h>
#include <stdint.h>
#include "torchless.h"

/* A per-sequence random stream (splitmix64). */
typedef struct tl_rng { uint64_t s; } tl_rng;

/* The stream for sequence i of a run seeded with seed. */
tl_rng tl_rng_for(uint64_t seed, size_t i);

/* A uniform double in [0, 1). */
double tl_rng_uniform(tl_rng *r);

/* Checks p's settings; errors name the field and its allowed range. */
tl_status tl_sampling_check(const tl_generate_params *p);

/* Applies the repetition penalty to logits (V) for the n tokens seen (each distinct id
 * once: a positive logit divided by it, a negative one multiplied). mark: V bytes, all 0
 * on entry, left all 0. */
void tl_repetition_penalty(float *logits, size_t V, const int32_t *seen, size_t n, float penalty,
                           unsigned char *mark);

/* Bans (sets to -inf) each token that would complete an n-gram of size tokens already in
 * toks (n; prompt and generated), as transformers' NoRepeatNGramLogitsProcessor. */
void tl_no_repeat_ngram(float *logits, size_t V, const int32_t *toks, size_t n, size_t size);

/* Sets logits of the n ids (those in [0, V)) to -inf. */
void tl_ban_ids(float *logits, size_t V, const int32_t *ids, size_t n);

/* The index of the largest of logits (V), the first on ties (torch.argmax). */
int32_t tl_argmax(const float *logits, size_t V);

/* Picks the next token from logits (V; modified) by p (greedy when !do_sample or
 * temperature 0; else temperature, top-k, top-p, min-p), drawing from r. work holds V
 * int32 and V floats of scratch. *logprob (when not NULL): the token's log-probability in
 * the distribution it was chosen from. */
int32_t tl_sample_next(float *logits, size_t V, const tl_generate_params *p, tl_rng *r,
                       int32_t *work_idx, float *work_p, float *logprob);

/* *hit = 1 when the text of the generated tokens toks (n) contains one of p's stop
 * strings (decoded by p->tokenizer; called after each token). Errors: decoding. */
tl_status tl_stop_string_hit(const tl_generate_params *p, const int32_t *toks, size_t n, int *hit);

/* One sequence's generation state, over buffers its owner holds: hist (prompt then the
 * generated tokens; room for hlen + max_new_tokens), out (room for max_new_tokens) and
 * logprobs (NULL or as out). */
typedef struct tl_gen_seq {
    int32_t *hist, *out;
    float *logprobs;
    size_t hlen, n_out;
    tl_rng rng;
} tl_gen_seq;

/* V-sized scratch shared by the sequences of one thread: mark (V bytes, all 0), work (V
 * int32), prob (V floats). */
typedef struct tl_gen_scratch {
    unsigned char *mark;
    int32_t *work;
    float *prob;
} tl_gen_scratch;

/* How tl_gen_choose ended a sequence (0: it goes on). */
enum { TL_GEN_GOING = 0, TL_GEN_EOS = 1, TL_GEN_LENGTH = 2, TL_GEN_STOP = 3 };

/* Chooses g's next token from its logits row (V; modified) as tl_generate does: the
 * logits processors, then tl_sample_next; appends it to g (hist, out, logprobs), calls
 * p->on_token with seq, and sets *end to the TL_GEN_* reason the sequence ends with it.
 * Errors: decoding for stop strings. */
tl_status tl_gen_choose(const tl_generate_params *p, size_t V, tl_gen_seq *g, float *row, tl_gen_scratch *w,
                        size_t seq, int *end);

#endif

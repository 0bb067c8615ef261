/* text_generation.c — the text-generation pipeline: prompts encoded, generated in one
 * packed tl_generate batch with transformers' pipeline defaults and generate() parameters,
 * decoded as TextGenerationPipeline.postprocess does ([{"generated_text": ...}] per
 * prompt, return_full_text); with a stream function, each prompt's new text as it comes. */
#include "core/error.h"
#include "core/util.h"
#include "io/json.h"
#include "tasks/pipeline.h"
#include "tasks/text_stream.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <stdio.h>

/* The parameters this task takes (transformers' pipeline and generate() names). */
static const char *const known[] = {
    "max_new_tokens", "min_new_tokens", "do_sample", "temperature", "top_k", "top_p", "min_p",
    "repetition_penalty", "no_repeat_ngram_size", "seed", "eos_token_id", "stop_strings",
    "return_full_text", "return_text", "return_tensors", "skip_special_tokens",
    "clean_up_tokenization_spaces", "num_return_sequences", "add_special_tokens",
};

/* Reads a number parameter into *out (absent or null: unchanged); error names the key. */
static tl_status get_num(const cJSON *params, const char *key, float *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, key);
    if (!v || cJSON_IsNull(v)) return TL_OK;
    if (!cJSON_IsNumber(v)) return tl_set_error(TL_ERR_INVALID_ARG, "parameter '%s' must be a number", key);
    *out = (float)v->valuedouble;
    return TL_OK;
}

/* 1 when the model's generation_config.json sets key. */
static int model_sets(const tl_pipeline *p, const char *key) {
    return p->gen_config && cJSON_GetObjectItemCaseSensitive(p->gen_config, key) != NULL;
}

/* A run's settings: the generate() parameters and the postprocessing switches. */
typedef struct tg_settings {
    tl_generate_params g;
    int32_t eos[64];
    const char *stops[64];
    int full_text, tensors, skip_special, add_special;
    int clean; /* clean_up_tokenization_spaces: -1 the tokenizer's */
} tg_settings;

/* Reads eos_token_id (an id or a list) into t. */
static tl_status get_eos(const cJSON *params, tg_settings *t) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, "eos_token_id");
    if (!v || cJSON_IsNull(v)) return TL_OK;
    size_t n = 0;
    for (const cJSON *e = cJSON_IsArray(v) ? v->child : v; e; e = cJSON_IsArray(v) ? e->next : NULL) {
        if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble) || e->valuedouble < 0 ||
            e->valuedouble > 2147483647.0 || n == 64)
            return tl_set_error(TL_ERR_INVALID_ARG, "parameter 'eos_token_id' must be a token id or a list "
                                "of at most 64 ids");
        t->eos[n++] = (int32_t)e->valuedouble;
    }
    t->g.eos_ids = t->eos;
    t->g.n_eos = n;
    return TL_OK;
}

/* Reads stop_strings (a string or a list of strings; borrowed from params) into t. */
static tl_status get_stops(const tl_pipeline *p, const cJSON *params, tg_settings *t) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, "stop_strings");
    if (!v || cJSON_IsNull(v)) return TL_OK;
    size_t n = 0;
    for (const cJSON *e = cJSON_IsArray(v) ? v->child : v; e; e = cJSON_IsArray(v) ? e->next : NULL) {
        if (!cJSON_IsString(e) || n == 64)
            return tl_set_error(TL_ERR_INVALID_ARG, "parameter 'stop_strings' must be a string or a list of "
                                "at most 64 strings");
        t->stops[n++] = e->valuestring;
    }
    t->g.stop_strings = t->stops;
    t->g.n_stop_strings = n;
    t->g.tokenizer = p->m->tok;
    return TL_OK;
}

/* A new seed from the OS (the clock and a counter if it has none). */
static uint64_t fresh_seed(void) {
    static _Atomic uint64_t counter;
    uint64_t v = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (f) {
        if (fread(&v, sizeof v, 1, f) != 1) v = 0;
        fclose(f);
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return v ^ ((uint64_t)ts.tv_sec * 1000000007u + (uint64_t)ts.tv_nsec) ^ (++counter * 0x9E3779B97F4A7C15ull);
}

/* 1 when params holds key with a value other than null (transformers' "is not None"). */
static int given(const cJSON *params, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, key);
    return v && !cJSON_IsNull(v);
}

/* The settings of a run: the model's generation defaults, the pipeline's defaults for what
 * the model's generation_config.json does not set (max_new_tokens 256, do_sample true,
 * temperature 0.7, as TextGenerationPipeline), then params. */
static tl_status settings(const tl_pipeline *p, const cJSON *params, tg_settings *t) {
    memset(t, 0, sizeof *t);
    t->g = tl_model_generate_params(p->m);
    if (!model_sets(p, "max_new_tokens") && !model_sets(p, "max_length")) t->g.max_new_tokens = 256;
    if (!model_sets(p, "do_sample")) t->g.do_sample = 1;
    if (!model_sets(p, "temperature")) t->g.temperature = 0.7f;
    const cJSON *e;
    cJSON_ArrayForEach(e, params) {
        size_t k = 0;
        while (k < sizeof known / sizeof known[0] && strcmp(known[k], e->string)) k++;
        if (k == sizeof known / sizeof known[0])
            return tl_set_error(TL_ERR_INVALID_ARG, "unknown parameter '%s' (text-generation takes "
                                "max_new_tokens, min_new_tokens, do_sample, temperature, top_k, top_p, min_p, "
                                "repetition_penalty, no_repeat_ngram_size, seed, eos_token_id, stop_strings, "
                                "return_full_text, return_text, return_tensors, skip_special_tokens, "
                                "clean_up_tokenization_spaces, add_special_tokens)", e->string);
    }
    long mx, mn, k, nr, seed, nrs;
    int ds, full, text, tens;
    tl_status s;
    if ((s = tl_pl_int(params, "max_new_tokens", (long)t->g.max_new_tokens, 1, &mx)) ||
        (s = tl_pl_int(params, "min_new_tokens", (long)t->g.min_new_tokens, 0, &mn)) ||
        (s = tl_pl_int(params, "top_k", t->g.top_k, 0, &k)) ||
        (s = tl_pl_int(params, "no_repeat_ngram_size", (long)t->g.no_repeat_ngram_size, 0, &nr)) ||
        (s = tl_pl_int(params, "seed", 0, 0, &seed)) ||
        (s = tl_pl_int(params, "num_return_sequences", 1, 1, &nrs)) ||
        (s = tl_pl_bool(params, "do_sample", t->g.do_sample, &ds)) ||
        (s = tl_pl_bool(params, "return_full_text", 1, &full)) ||
        (s = tl_pl_bool(params, "return_text", 1, &text)) ||
        (s = tl_pl_bool(params, "return_tensors", 0, &tens)) ||
        (s = tl_pl_bool(params, "skip_special_tokens", 1, &t->skip_special)) ||
        (s = tl_pl_bool(params, "add_special_tokens", 1, &t->add_special)) ||
        (s = get_num(params, "temperature", &t->g.temperature)) || (s = get_num(params, "top_p", &t->g.top_p)) ||
        (s = get_num(params, "min_p", &t->g.min_p)) ||
        (s = get_num(params, "repetition_penalty", &t->g.repetition_penalty)) || (s = get_eos(params, t)) ||
        (s = get_stops(p, params, t)))
        return s;
    if (nrs != 1)
        return tl_set_error(TL_ERR_UNSUPPORTED, "num_return_sequences %ld: only 1 is supported", nrs);
    /* transformers' _sanitize_parameters: the three return_* are exclusive, and a
     * return_tensors given at all (even false) asks for the token ids */
    int has_full = given(params, "return_full_text"), has_text = given(params, "return_text");
    int has_tens = given(params, "return_tensors");
    (void)text;
    if (has_full && has_text)
        return tl_set_error(TL_ERR_INVALID_ARG, "`return_text` is mutually exclusive with `return_full_text`");
    if (has_full && has_tens)
        return tl_set_error(TL_ERR_INVALID_ARG, "`return_full_text` is mutually exclusive with `return_tensors`");
    if (has_tens && has_text)
        return tl_set_error(TL_ERR_INVALID_ARG, "`return_text` is mutually exclusive with `return_tensors`");
    tens = has_tens;
    int clean = -1;
    if (given(params, "clean_up_tokenization_spaces") &&
        (s = tl_pl_bool(params, "clean_up_tokenization_spaces", 0, &clean)))
        return s;
    t->clean = clean;
    t->g.max_new_tokens = (size_t)mx;
    t->g.min_new_tokens = (size_t)mn;
    t->g.top_k = (int)k;
    t->g.no_repeat_ngram_size = (size_t)nr;
    /* no seed: each call samples afresh, as transformers' pipeline does */
    t->g.seed = given(params, "seed") ? (uint64_t)seed : fresh_seed();
    t->g.do_sample = ds;
    t->full_text = full;
    t->tensors = tens;
    return TL_OK;
}

/* The state of a streamed run: per prompt its tokens so far and its detokenizer. */
typedef struct tg_stream {
    tl_text_fn fn;
    void *user;
    size_t M;
    int32_t *toks;
    size_t *n;
    tl_text_stream *ts;
    tl_status err;
} tg_stream;

/* tl_token_fn: gives prompt seq's new text to the pipeline's stream function. */
static int on_token(void *user, size_t seq, int32_t token, float logprob) {
    (void)logprob;
    tg_stream *st = user;
    if (st->err) return 1;
    st->toks[seq * st->M + st->n[seq]++] = token;
    char *piece;
    size_t len;
    st->err = tl_text_stream_next(&st->ts[seq], st->toks + seq * st->M, st->n[seq], &piece, &len);
    int stop = 0;
    if (!st->err && piece) stop = st->fn(st->user, seq, piece, len);
    free(piece);
    return stop || st->err;
}

/* One prompt's record: {"generated_text": ...} or {"generated_token_ids": [...]}. */
static tl_status record(const tl_pipeline *p, const tg_settings *t, const char *prompt, const tl_encoding *enc,
                        const int32_t *out, size_t n, cJSON **rec) {
    cJSON *r = cJSON_CreateObject();
    if (!r) return tl_set_error(TL_ERR_OOM, "out of memory");
    if (t->tensors) {
        cJSON *ids = cJSON_AddArrayToObject(r, "generated_token_ids");
        size_t pl = tl_encoding_length(enc);
        for (size_t i = 0; ids && i < pl + n; i++)
            cJSON_AddItemToArray(ids, cJSON_CreateNumber(i < pl ? tl_encoding_ids(enc)[i] : out[i - pl]));
        *rec = r;
        return TL_OK;
    }
    char *text = t->clean < 0 ? tl_pl_decode(p, out, n, t->skip_special)
                              : tl_pl_decode_clean(p, out, n, t->skip_special, t->clean);
    if (!text) { cJSON_Delete(r); return tl_set_error(TL_ERR_OOM, "out of memory decoding"); }
    if (t->full_text) {
        size_t a = strlen(prompt), b = strlen(text);
        char *full = malloc(a + b + 1);
        if (!full) { free(text); cJSON_Delete(r); return tl_set_error(TL_ERR_OOM, "out of memory"); }
        memcpy(full, prompt, a);
        memcpy(full + a, text, b + 1);
        free(text);
        text = full;
    }
    cJSON_AddStringToObject(r, "generated_text", text);
    free(text);
    *rec = r;
    return TL_OK;
}

/* Encodes the n prompts (borrowed strings) into encs, packed into lens / ids. */
static tl_status encode_all(const tl_pipeline *p, const tg_settings *t, const char *const *texts, size_t n,
                            tl_encoding **encs, size_t *lens, int32_t **ids) {
    size_t total = 0;
    tl_encode_params ep = tl_encode_default_params();
    ep.add_special_tokens = t->add_special;
    for (size_t i = 0; i < n; i++) {
        tl_status s = tl_tokenizer_encode(p->m->tok, texts[i], strlen(texts[i]), NULL, 0, &ep, &encs[i]);
        if (s) return tl_error_prefix(s, "input %zu", i);
        total += lens[i] = tl_encoding_length(encs[i]);
    }
    if (!(*ids = malloc((total ? total : 1) * sizeof **ids))) return tl_set_error(TL_ERR_OOM, "out of memory");
    for (size_t i = 0, o = 0; i < n; o += lens[i++])
        memcpy(*ids + o, tl_encoding_ids(encs[i]), lens[i] * sizeof **ids);
    return TL_OK;
}

/* Generates for the n prompts texts and sets *res to their records. */
static tl_status generate_texts(tl_pipeline *p, const tg_settings *t0, const char *const *texts, size_t n,
                                cJSON **res) {
    tg_settings t = *t0;
    tl_encoding **encs = calloc(n, sizeof *encs);
    size_t *lens = calloc(n, sizeof *lens), *n_out = calloc(n, sizeof *n_out);
    int32_t *ids = NULL, *out = NULL;
    tl_context *ctx = NULL;
    tg_stream st = {.M = t.g.max_new_tokens};
    st.fn = tl_pl_stream(&st.user);
    tl_status s = encs && lens && n_out ? TL_OK : tl_set_error(TL_ERR_OOM, "out of memory");
    if (s == TL_OK) s = encode_all(p, &t, texts, n, encs, lens, &ids);
    size_t rows = 0, pages = 0;
    const size_t max_pos = tl_model_max_positions(p->m); /* before allocating for max_new_tokens */
    if (s == TL_OK && t.g.max_new_tokens >= max_pos)
        s = tl_set_error(TL_ERR_INVALID_ARG, "max_new_tokens %zu must be in [1, %zu) (the model's max positions)",
                         t.g.max_new_tokens, max_pos);
    if (s == TL_OK && tl_mul_overflow(n, t.g.max_new_tokens, &rows))
        s = tl_set_error(TL_ERR_INVALID_ARG, "max_new_tokens %zu is too large", t.g.max_new_tokens);
    if (s == TL_OK && !(out = malloc(rows * sizeof *out))) s = tl_set_error(TL_ERR_OOM, "out of memory");
    for (size_t i = 0; s == TL_OK && i < n; i++) /* whole pages per sequence (checked again by tl_generate) */
        pages += (lens[i] + (lens[i] == 0) + t.g.max_new_tokens + 15) / 16 * 16;
    if (s == TL_OK) {
        tl_context_params cp = tl_context_default_params();
        cp.kv_cache_tokens = pages;
        s = tl_context_new(p->m, &cp, &ctx);
    }
    if (s == TL_OK && st.fn) {
        st.toks = malloc(rows * sizeof *st.toks);
        st.n = calloc(n, sizeof *st.n);
        st.ts = malloc(n * sizeof *st.ts);
        if (!st.toks || !st.n || !st.ts) s = tl_set_error(TL_ERR_OOM, "out of memory");
        for (size_t i = 0; s == TL_OK && i < n; i++) st.ts[i] = tl_text_stream_start(p->m->tok, t.skip_special);
        t.g.on_token = on_token;
        t.g.user_data = &st;
    }
    if (s == TL_OK) {
        tl_batch b = {.n_seqs = n, .seq_lens = lens, .input_ids = ids};
        s = tl_generate(ctx, &b, &t.g, out, rows, n_out);
        if (s == TL_OK && st.err) s = st.err;
        for (size_t i = 0; s == TL_OK && st.fn && i < n; i++) { /* what was held back */
            char *piece;
            size_t len;
            s = tl_text_stream_flush(&st.ts[i], st.toks + i * st.M, st.n[i], &piece, &len);
            if (s == TL_OK && piece) st.fn(st.user, i, piece, len);
            free(piece);
        }
    }
    cJSON *list = s == TL_OK ? cJSON_CreateArray() : NULL;
    if (s == TL_OK && !list) s = tl_set_error(TL_ERR_OOM, "out of memory");
    for (size_t i = 0; s == TL_OK && i < n; i++) {
        cJSON *rec = NULL, *one = cJSON_CreateArray();
        s = one ? record(p, &t, texts[i], encs[i], out + i * t.g.max_new_tokens, n_out[i], &rec)
                : tl_set_error(TL_ERR_OOM, "out of memory");
        if (s == TL_OK) { cJSON_AddItemToArray(one, rec); cJSON_AddItemToArray(list, one); }
        else cJSON_Delete(one);
    }
    if (s == TL_OK) *res = list;
    else cJSON_Delete(list);
    for (size_t i = 0; encs && i < n; i++) tl_encoding_free(encs[i]);
    tl_context_free(ctx);
    free(encs); free(lens); free(n_out); free(ids); free(out);
    free(st.toks); free(st.n); free(st.ts);
    return s;
}

/* tl_task.run: a string gives [{"generated_text": ...}], a list of strings a list of those. */
static tl_status run(tl_pipeline *p, const cJSON *inputs, const cJSON *params, const cJSON *call, cJSON **out) {
    (void)call;
    tg_settings t;
    tl_status s = settings(p, params, &t);
    if (s) return s;
    const cJSON **items = NULL;
    size_t n = 0;
    int single = 0;
    if ((s = tl_pl_items(inputs, &items, &n, &single))) return s;
    const char **texts = malloc((n ? n : 1) * sizeof *texts);
    if (!texts) { free(items); return tl_set_error(TL_ERR_OOM, "out of memory"); }
    for (size_t i = 0; i < n && s == TL_OK; i++) {
        if (!cJSON_IsString(items[i]))
            s = tl_set_error(TL_ERR_INVALID_ARG, "input %zu must be a string (chat messages are not supported)", i);
        else texts[i] = items[i]->valuestring;
    }
    cJSON *list = NULL;
    if (s == TL_OK && n == 0) list = cJSON_CreateArray();
    else if (s == TL_OK) s = generate_texts(p, &t, texts, n, &list);
    free(items);
    free(texts);
    if (s) return s;
    if (single) { /* the one prompt's list of records */
        *out = cJSON_DetachItemFromArray(list, 0);
        cJSON_Delete(list);
    } else {
        *out = list;
    }
    return *out ? TL_OK : tl_set_error(TL_ERR_OOM, "out of memory");
}

/* tl_task.check: the creation options. */
static tl_status check(tl_pipeline *p, const cJSON *params) {
    if (!tl_model_is_decoder(p->m))
        return tl_set_error(TL_ERR_UNSUPPORTED, "model_type '%s' is an encoder: text-generation needs a decoder "
                            "(gpt2, llama, mistral, qwen2)", tl_model_type(p->m));
    tg_settings t;
    return settings(p, params, &t);
}

const tl_task tl_task_text_generation = {"text-generation", -1, run, check, TL_MERGE_NONE, 0, NULL};

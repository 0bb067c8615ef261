/* gen.c — text generation shared by the TGI and OpenAI routes: settings with the model's
 * eos ids, the prompt tokenized and submitted to the engine (continuous batching), token
 * texts (incremental, as TGI's decode offsets), and the server-sent-events stream that
 * hands each token to the client as the engine makes it. */
#include "server/server.h"
#include "tasks/text_stream.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Appends a string literal. */
#define PUT_LIT(b, lit) tl_sbuf_put((b), (lit), sizeof(lit) - 1)

void tl_srv_gen_init(tl_srv_gen *g, tl_srv_model *m, size_t def_max) {
    memset(g, 0, sizeof *g);
    g->m = m;
    tl_generate_params md = tl_model_generate_params(m->model);
    g->gp = tl_generate_default_params();
    g->gp.max_new_tokens = def_max;
    g->gp.bos_token_id = md.bos_token_id;
    size_t n = md.n_eos < 64 ? md.n_eos : 64;
    if (n) memcpy(g->eos, md.eos_ids, n * sizeof *g->eos);
    g->gp.eos_ids = g->eos;
    g->gp.n_eos = n;
}

int tl_srv_gen_add_stop(tl_srv_gen *g, const char *stop, tl_srv_reply *rp) {
    if (!stop[0]) { tl_reply_error(rp, 422, "Validation", "`stop` sequences must not be empty"); return 0; }
    if (g->n_stops == sizeof g->stops / sizeof g->stops[0]) {
        tl_reply_error(rp, 422, "Validation", "`stop` supports up to %zu stop sequences", g->n_stops);
        return 0;
    }
    if (!(g->stops[g->n_stops] = strdup(stop))) { tl_reply_error(rp, 503, "Backend", "out of memory"); return 0; }
    g->n_stops++;
    return 1;
}

/* A seed for a sampled request that names none (reported back, as TGI does). */
static uint64_t pick_seed(void) {
    static _Atomic unsigned long long counter;
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    uint64_t x = (uint64_t)t.tv_nsec ^ ((uint64_t)t.tv_sec << 20) ^ (uint64_t)atomic_fetch_add(&counter, 1) * 0x9E3779B97F4A7C15ull;
    return x >> 1; /* fits a JSON number exactly up to 2^53 only loosely: keep it below 2^63 */
}

int tl_srv_gen_submit(tl_srv *s, tl_srv_gen *g, const char *prompt, size_t truncate, tl_srv_reply *rp) {
    (void)s;
    const tl_tokenizer *tok = tl_model_tokenizer(g->m->model);
    size_t plen = strlen(prompt);
    if (!tok) { tl_reply_error(rp, 500, "Backend", "the model has no tokenizer"); return 0; }
    if (!tl_srv_check_text(prompt, plen, rp)) return 0;
    if (!(g->prompt = strdup(prompt))) { tl_reply_error(rp, 503, "Backend", "out of memory"); return 0; }
    tl_encode_params ep = tl_encode_default_params();
    tl_encoding *enc = NULL;
    if (tl_tokenizer_encode(tok, prompt, plen, NULL, 0, &ep, &enc) != TL_OK) {
        tl_reply_error(rp, 422, "Validation", "cannot tokenize the prompt: %s", tl_last_error());
        return 0;
    }
    size_t n = tl_encoding_length(enc), skip = truncate && n > truncate ? n - truncate : 0;
    g->n_ids = n - skip;
    g->ids = malloc((g->n_ids ? g->n_ids : 1) * sizeof *g->ids);
    if (g->ids && g->n_ids) memcpy(g->ids, tl_encoding_ids(enc) + skip, g->n_ids * sizeof *g->ids);
    tl_encoding_free(enc);
    if (!g->ids) { tl_reply_error(rp, 503, "Backend", "out of memory"); return 0; }
    const size_t max_pos = tl_model_max_positions(g->m->model);
    if (g->n_ids + g->gp.max_new_tokens > max_pos) {
        tl_reply_error(rp, 422, "Validation", "`inputs` tokens + `max_new_tokens` must be <= %zu. Given: %zu "
                       "`inputs` tokens and %zu `max_new_tokens`", max_pos, g->n_ids, g->gp.max_new_tokens);
        return 0;
    }
    if (g->gp.do_sample && !g->sampled) { g->gp.seed = pick_seed(); }
    g->sampled = g->gp.do_sample;
    g->gp.stop_strings = (const char *const *)g->stops;
    g->gp.n_stop_strings = g->n_stops;
    g->gp.tokenizer = tok;
    if (tl_engine_submit_generate(g->m->engine, g->ids, g->n_ids, &g->gp, &g->r) != TL_OK) {
        tl_status st = TL_ERR_INVALID_ARG;
        tl_reply_error(rp, tl_reply_status_of(st), "Validation", "%s", tl_last_error());
        return 0;
    }
    return 1;
}

void tl_srv_gen_free(tl_srv_gen *g) {
    tl_request_free(g->r);
    for (size_t i = 0; i < g->n_stops; i++) free(g->stops[i]);
    free(g->prompt);
    free(g->ids);
    free(g->ts);
    free(g->text.s);
    memset(g, 0, sizeof *g);
}

char *tl_srv_gen_text(const tl_srv_gen *g, size_t n_tokens, int skip_special, size_t *len) {
    const int32_t *t = tl_request_generated(g->r, NULL, NULL);
    char *out = NULL;
    *len = 0;
    if (tl_tokenizer_decode_len(tl_model_tokenizer(g->m->model), t, n_tokens, skip_special, 0, &out, len) != TL_OK)
        return NULL;
    return out;
}

int tl_srv_token_special(const tl_srv_model *m, int32_t id) {
    const tl_tokenizer *tok = tl_model_tokenizer(m->model);
    char *a = NULL, *b = NULL;
    int special = tl_tokenizer_decode(tok, &id, 1, 1, 0, &a) == TL_OK && !a[0] &&
                  tl_tokenizer_decode(tok, &id, 1, 0, 0, &b) == TL_OK && b[0];
    tl_free(a);
    tl_free(b);
    return special;
}

/* The earliest position of one of g's stop sequences in text (n bytes), or n. */
static size_t first_stop(const tl_srv_gen *g, const char *text, size_t n) {
    size_t best = n;
    for (size_t k = 0; k < g->n_stops; k++) {
        size_t l = strlen(g->stops[k]);
        for (size_t i = 0; i + l <= n && i < best; i++)
            if (!memcmp(text + i, g->stops[k], l)) { best = i; break; }
    }
    return best;
}

/* Appends one OpenAI completion chunk for choice index. */
static void openai_chunk(tl_sbuf *b, const char *id, long created, const char *model, size_t index, const char *text,
                         size_t len, const char *finish) {
    tl_sbuf_printf(b, "data: {\"id\":\"%s\",\"object\":\"text_completion\",\"created\":%ld,\"model\":", id, created);
    tl_sbuf_json_str(b, model);
    tl_sbuf_printf(b, ",\"choices\":[{\"text\":");
    tl_sbuf_json_strn(b, text, len);
    tl_sbuf_printf(b, ",\"index\":%zu,\"logprobs\":null,\"finish_reason\":", index);
    if (finish) tl_sbuf_printf(b, "\"%s\"", finish); else PUT_LIT(b, "null");
    PUT_LIT(b, "}]}\n\n");
}

/* The TGI name of a finish reason. */
static const char *tgi_reason(tl_finish_reason f) {
    return f == TL_FINISH_EOS ? "eos_token" : f == TL_FINISH_LENGTH ? "length" : "stop_sequence";
}

/* Appends TGI's stream event for token i of g (last: with generated_text and details). */
static void tgi_event(tl_srv_gen *g, size_t i, int32_t id, float lp, const char *piece, size_t len, int last,
                      tl_sbuf *b) {
    tl_sbuf_printf(b, "data: {\"index\":%zu,\"token\":{\"id\":%d,\"text\":", i, (int)id);
    tl_sbuf_json_strn(b, piece ? piece : "", len);
    PUT_LIT(b, ",\"logprob\":");
    if (isfinite(lp)) tl_sbuf_printf(b, "%.9g", (double)lp); else PUT_LIT(b, "null");
    tl_sbuf_printf(b, ",\"special\":%s},\"top_tokens\":null,\"generated_text\":", tl_srv_token_special(g->m, id) ? "true" : "false");
    if (!last) { PUT_LIT(b, "null,\"details\":null}\n\n"); return; }
    size_t tlen = 0;
    char *text = tl_srv_gen_text(g, i + 1, 1, &tlen);
    tl_sbuf tb = {0};
    if (g->full_text) tl_sbuf_put(&tb, g->prompt, strlen(g->prompt));
    if (text) tl_sbuf_put(&tb, text, tlen);
    tl_sbuf_json_strn(b, tb.s ? tb.s : "", tb.n);
    free(tb.s);
    tl_free(text);
    if (!g->details) { PUT_LIT(b, ",\"details\":null}\n\n"); return; }
    tl_sbuf_printf(b, ",\"details\":{\"finish_reason\":\"%s\",\"generated_tokens\":%zu,\"input_length\":%zu,\"seed\":",
                   tgi_reason(tl_request_finish_reason(g->r)), i + 1, g->n_ids);
    if (g->sampled) tl_sbuf_printf(b, "%llu", (unsigned long long)g->gp.seed); else PUT_LIT(b, "null");
    PUT_LIT(b, "}}\n\n");
}

int tl_srv_gen_events(tl_srv_gen *g, tl_srv_gen_proto proto, size_t index, const char *id, long created,
                      tl_sbuf *b) {
    if (g->ended) return 1;
    int done = tl_request_done(g->r); /* read before the count: tokens are published first */
    size_t n = 0;
    const float *lps = NULL;
    const int32_t *toks = tl_request_generated(g->r, &n, &lps);
    if (!g->ts) {
        if (!(g->ts = malloc(sizeof(tl_text_stream)))) { b->oom = 1; return 1; }
        *(tl_text_stream *)g->ts = tl_text_stream_start(tl_model_tokenizer(g->m->model), proto == TL_GEN_OPENAI);
    }
    tl_text_stream *ts = g->ts;
    int failed = done && tl_request_status(g->r) != TL_OK;
    /* the newest token waits for the next one or the end: the last event carries the end */
    size_t upto_tok = done ? n : n ? n - 1 : 0;
    for (; g->seen < upto_tok; g->seen++) {
        size_t i = g->seen, len = 0;
        int last = done && !failed && i + 1 == n;
        char *piece = NULL;
        if (last) tl_text_stream_flush(ts, toks, i + 1, &piece, &len);
        else tl_text_stream_next(ts, toks, i + 1, &piece, &len);
        if (proto == TL_GEN_TGI) {
            tgi_event(g, i, toks[i], lps[i], piece, len, last, b);
        } else if (piece) {
            tl_sbuf_put(&g->text, piece, len);
        }
        free(piece);
    }
    if (proto == TL_GEN_OPENAI && !g->text.oom) {
        size_t cut = first_stop(g, g->text.s ? g->text.s : "", g->text.n);
        size_t upto = cut;
        if (cut == g->text.n && !done) { /* hold back what may begin a stop sequence */
            size_t hold = 0;
            for (size_t k = 0; k < g->n_stops; k++) hold = strlen(g->stops[k]) - 1 > hold ? strlen(g->stops[k]) - 1 : hold;
            upto = g->text.n > hold ? g->text.n - hold : 0;
            while (upto > g->sent && upto < g->text.n && ((unsigned char)g->text.s[upto] & 0xC0) == 0x80) upto--;
        }
        if (upto > g->sent) {
            openai_chunk(b, id, created, g->m->name, index, g->text.s + g->sent, upto - g->sent, NULL);
            g->sent = upto;
        }
        if (done && !failed) {
            tl_finish_reason f = tl_request_finish_reason(g->r);
            openai_chunk(b, id, created, g->m->name, index, "", 0, f == TL_FINISH_LENGTH && cut == g->text.n ? "length" : "stop");
        }
    }
    if (failed) {
        PUT_LIT(b, "data: {\"error\":");
        tl_sbuf_json_str(b, tl_request_error(g->r));
        PUT_LIT(b, ",\"error_type\":\"generation\"}\n\n");
    }
    g->ended = done;
    return done;
}

/* A streaming reply's state: its generations, the one being streamed, pending bytes. */
typedef struct gen_stream {
    tl_srv_gen *gens;
    size_t n, cur;
    tl_srv_gen_proto proto;
    char id[48];
    long created;
    tl_sbuf out;
    size_t off;
    int done;
} gen_stream;

/* libmicrohttpd's content reader: waits for tokens and hands out their events. */
static long stream_read(void *cls, unsigned long long pos, char *buf, size_t max) {
    (void)pos;
    gen_stream *gs = cls;
    while (gs->off == gs->out.n) {
        if (gs->done) return TL_SRV_STREAM_END;
        gs->out.n = gs->off = 0;
        if (gs->cur == gs->n) {
            if (gs->proto == TL_GEN_OPENAI) tl_sbuf_put(&gs->out, "data: [DONE]\n\n", 14);
            gs->done = 1;
            continue;
        }
        tl_srv_gen *g = &gs->gens[gs->cur];
        tl_request_wait_tokens(g->r, g->seen + 1, 1000); /* the newest waits for the next (see events) */
        if (tl_srv_gen_events(g, gs->proto, gs->cur, gs->id, gs->created, &gs->out)) gs->cur++;
        if (gs->out.oom) return TL_SRV_STREAM_ERROR;
    }
    size_t k = gs->out.n - gs->off < max ? gs->out.n - gs->off : max;
    memcpy(buf, gs->out.s + gs->off, k);
    gs->off += k;
    return (long)k;
}

/* Frees a stream (the client may have gone: running requests end at the next step). */
static void stream_free(void *cls) {
    gen_stream *gs = cls;
    for (size_t i = 0; i < gs->n; i++) tl_srv_gen_free(&gs->gens[i]);
    free(gs->gens);
    free(gs->out.s);
    free(gs);
}

void tl_srv_gen_stream(tl_srv_reply *rp, tl_srv_gen *gens, size_t n, tl_srv_gen_proto proto, const char *id,
                       long created) {
    gen_stream *gs = calloc(1, sizeof *gs);
    if (!gs) {
        for (size_t i = 0; i < n; i++) tl_srv_gen_free(&gens[i]);
        free(gens);
        tl_reply_error(rp, 503, "Backend", "out of memory");
        return;
    }
    gs->gens = gens;
    gs->n = n;
    gs->proto = proto;
    gs->created = created;
    snprintf(gs->id, sizeof gs->id, "%s", id ? id : "");
    free(rp->body);
    rp->body = NULL;
    rp->len = 0;
    rp->status = 200;
    rp->content_type = "text/event-stream";
    rp->stream_fn = stream_read;
    rp->stream_free = stream_free;
    rp->stream_cls = gs;
}

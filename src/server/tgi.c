/* tgi.c — text-generation-inference's routes on a text-generation model: POST /generate
 * ({"generated_text", "details"?}), POST /generate_stream (server-sent events, one per
 * token, the last with generated_text and details) and the compat POST / ("stream"
 * chooses; a non-streamed answer is a list of one), with TGI's parameters and its error
 * body {"error", "error_type": "validation" | "generation"}. */
#include "server/server.h"
#include "tasks/text_stream.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rewrites a failed reply's error_type to TGI's lower-case names. */
static void tgi_error(tl_srv_reply *rp) {
    if (rp->status < 400 || !rp->body) return;
    cJSON *e = cJSON_Parse(rp->body);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "error");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", cJSON_IsString(msg) ? msg->valuestring : "error");
    cJSON_AddStringToObject(o, "error_type", rp->status == 422 || rp->status == 400 ? "validation"
                                             : rp->status == 429 ? "overloaded" : "generation");
    cJSON_Delete(e);
    tl_reply_json(rp, rp->status, o);
}

/* Reads a number field (absent / null: 0 and *set 0); 422 when it is another type. */
static int num(const cJSON *p, const char *key, double *v, int *set, tl_srv_reply *rp) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(p, key);
    *set = x && !cJSON_IsNull(x);
    if (!*set) return 1;
    if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble)) {
        tl_reply_error(rp, 422, "Validation", "`%s` must be a number", key);
        return 0;
    }
    *v = x->valuedouble;
    return 1;
}

/* Parses TGI's parameters object p (NULL: defaults) into g and *truncate. */
static int tgi_params(const cJSON *p, tl_srv_gen *g, size_t *truncate, tl_srv_reply *rp) {
    if (p && !cJSON_IsNull(p) && !cJSON_IsObject(p)) {
        tl_reply_error(rp, 422, "Validation", "`parameters` must be an object");
        return 0;
    }
    static const char *unsupported[] = {"best_of", "typical_p", "watermark", "decoder_input_details", "top_n_tokens",
                                        "grammar", "frequency_penalty", "adapter_id"};
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(p, unsupported[i]);
        int trivial = !x || cJSON_IsNull(x) || cJSON_IsFalse(x) ||
                      (!strcmp(unsupported[i], "best_of") && cJSON_IsNumber(x) && x->valuedouble == 1);
        if (!trivial) {
            tl_reply_error(rp, 422, "Validation", "`%s` is not supported by torchless", unsupported[i]);
            return 0;
        }
    }
    double v = 0;
    int set = 0, do_sample = 0;
    if (!tl_srv_opt_bool(p, "do_sample", 0, &do_sample, rp) || !tl_srv_opt_bool(p, "details", 0, &g->details, rp) ||
        !tl_srv_opt_bool(p, "return_full_text", 0, &g->full_text, rp))
        return 0;
    if (!num(p, "max_new_tokens", &v, &set, rp)) return 0;
    if (set && (v < 1 || v != floor(v) || v > 1e9)) {
        tl_reply_error(rp, 422, "Validation", "`max_new_tokens` must be strictly positive");
        return 0;
    }
    if (set) g->gp.max_new_tokens = (size_t)v;
    int warp = 0;
    if (!num(p, "temperature", &v, &set, rp)) return 0;
    if (set && v <= 0) { tl_reply_error(rp, 422, "Validation", "`temperature` must be strictly positive"); return 0; }
    if (set) { g->gp.temperature = (float)v; warp |= v != 1.0; }
    if (!num(p, "top_k", &v, &set, rp)) return 0;
    if (set && (v <= 0 || v != floor(v) || v > 2147483647.0)) {
        tl_reply_error(rp, 422, "Validation", "`top_k` must be strictly positive");
        return 0;
    }
    if (set) { g->gp.top_k = (int)v; warp = 1; }
    if (!num(p, "top_p", &v, &set, rp)) return 0;
    if (set && (v <= 0 || v >= 1)) { tl_reply_error(rp, 422, "Validation", "`top_p` must be > 0.0 and < 1.0"); return 0; }
    if (set) { g->gp.top_p = (float)v; warp = 1; }
    if (!num(p, "repetition_penalty", &v, &set, rp)) return 0;
    if (set && v <= 0) {
        tl_reply_error(rp, 422, "Validation", "`repetition_penalty` must be strictly positive");
        return 0;
    }
    if (set) g->gp.repetition_penalty = (float)v;
    if (!num(p, "seed", &v, &set, rp)) return 0;
    if (set && (v < 0 || v != floor(v) || v > 9007199254740992.0)) {
        tl_reply_error(rp, 422, "Validation", "`seed` must be an integer >= 0");
        return 0;
    }
    if (set) { g->gp.seed = (uint64_t)v; g->sampled = 1; } /* sampled: the seed is the caller's */
    if (!num(p, "truncate", &v, &set, rp)) return 0;
    if (set && (v < 1 || v != floor(v))) { tl_reply_error(rp, 422, "Validation", "`truncate` must be strictly positive"); return 0; }
    *truncate = set ? (size_t)v : 0;
    const cJSON *stop = cJSON_GetObjectItemCaseSensitive(p, "stop");
    if (stop && !cJSON_IsNull(stop)) {
        if (!cJSON_IsArray(stop)) { tl_reply_error(rp, 422, "Validation", "`stop` must be a list of strings"); return 0; }
        const cJSON *x;
        cJSON_ArrayForEach(x, stop) {
            if (!cJSON_IsString(x)) { tl_reply_error(rp, 422, "Validation", "`stop` must be a list of strings"); return 0; }
            if (!tl_srv_gen_add_stop(g, x->valuestring, rp)) return 0;
        }
    }
    /* TGI samples when asked, or when a warper (temperature, top_k, top_p) is set */
    g->gp.do_sample = do_sample || warp;
    if (!g->gp.do_sample) g->sampled = 0;
    return 1;
}

/* Parses a TGI body {"inputs", "parameters", "stream"?} and submits it; *stream from the
 * body (or forced). Returns 0 after an error reply. */
static int tgi_start(tl_srv *s, tl_srv_model *m, const tl_srv_req *rq, tl_srv_gen *g, int *stream, tl_srv_reply *rp) {
    cJSON *b = tl_srv_parse_body(rq, rp);
    if (!b) return 0;
    int ok = 1;
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(b, "inputs");
    tl_srv_gen_init(g, m, 20);
    size_t truncate = 0;
    if (!cJSON_IsObject(b)) { tl_reply_error(rp, 422, "Validation", "the body must be a JSON object"); ok = 0; }
    else if (!cJSON_IsString(in)) { tl_reply_error(rp, 422, "Validation", "`inputs` must be a string"); ok = 0; }
    else if (!in->valuestring[0]) { tl_reply_error(rp, 422, "Validation", "`inputs` cannot be empty"); ok = 0; }
    else if (*stream < 0 && !tl_srv_opt_bool(b, "stream", 0, stream, rp)) ok = 0;
    if (ok) ok = tgi_params(cJSON_GetObjectItemCaseSensitive(b, "parameters"), g, &truncate, rp);
    if (ok) ok = tl_srv_gen_submit(s, g, in->valuestring, truncate, rp);
    cJSON_Delete(b);
    return ok;
}

/* Waits for g and fills rp with TGI's non-streamed answer (wrapped in a list for compat). */
static void tgi_answer(tl_srv_gen *g, int list, tl_srv_reply *rp) {
    tl_status st = tl_request_wait(g->r, -1);
    tl_reply_add_timing(rp, g->r);
    if (st != TL_OK) { tl_reply_error(rp, 500, "generation", "%s", tl_request_error(g->r)); return; }
    size_t n = 0, tlen = 0;
    const float *lps = NULL;
    const int32_t *toks = tl_request_generated(g->r, &n, &lps);
    char *text = tl_srv_gen_text(g, n, 1, &tlen);
    tl_sbuf o = {0};
    tl_sbuf_printf(&o, "%s{\"generated_text\":", list ? "[" : "");
    tl_sbuf t = {0};
    if (g->full_text) tl_sbuf_put(&t, g->prompt, strlen(g->prompt));
    if (text) tl_sbuf_put(&t, text, tlen);
    tl_free(text);
    tl_sbuf_json_strn(&o, t.s ? t.s : "", t.n);
    free(t.s);
    if (g->details) {
        tl_finish_reason f = tl_request_finish_reason(g->r);
        tl_sbuf_printf(&o, ",\"details\":{\"finish_reason\":\"%s\",\"generated_tokens\":%zu,\"seed\":",
                       f == TL_FINISH_EOS ? "eos_token" : f == TL_FINISH_LENGTH ? "length" : "stop_sequence", n);
        if (g->sampled) tl_sbuf_printf(&o, "%llu", (unsigned long long)g->gp.seed); else tl_sbuf_put(&o, "null", 4);
        tl_sbuf_printf(&o, ",\"prefill\":[],\"tokens\":[");
        tl_text_stream ts = tl_text_stream_start(tl_model_tokenizer(g->m->model), 0);
        for (size_t i = 0; i < n; i++) {
            char *piece = NULL;
            size_t len = 0;
            if (i + 1 == n) tl_text_stream_flush(&ts, toks, i + 1, &piece, &len);
            else tl_text_stream_next(&ts, toks, i + 1, &piece, &len);
            tl_sbuf_printf(&o, "%s{\"id\":%d,\"text\":", i ? "," : "", (int)toks[i]);
            tl_sbuf_json_strn(&o, piece ? piece : "", len);
            free(piece);
            if (isfinite(lps[i])) tl_sbuf_printf(&o, ",\"logprob\":%.9g", (double)lps[i]);
            else tl_sbuf_printf(&o, ",\"logprob\":null");
            tl_sbuf_printf(&o, ",\"special\":%s}", tl_srv_token_special(g->m, toks[i]) ? "true" : "false");
        }
        tl_sbuf_printf(&o, "],\"top_tokens\":null,\"best_of_sequences\":null}");
    }
    tl_sbuf_printf(&o, "}%s", list ? "]" : "");
    tl_reply_sbuf(rp, 200, &o);
}

/* Runs one TGI request on m: stream 1 / 0, or -1 to read the body's "stream" (compat). */
static void tgi_run(tl_srv *s, tl_srv_model *m, const tl_srv_req *rq, int stream, tl_srv_reply *rp) {
    int compat = stream < 0;
    tl_srv_gen *g = calloc(1, sizeof *g);
    if (!g) { tl_reply_error(rp, 503, "Backend", "out of memory"); return; }
    if (!tgi_start(s, m, rq, g, &stream, rp)) {
        tl_srv_gen_free(g);
        free(g);
        tgi_error(rp);
        return;
    }
    if (stream) { tl_srv_gen_stream(rp, g, 1, TL_GEN_TGI, NULL, 0); return; }
    tgi_answer(g, compat, rp);
    tl_srv_gen_free(g);
    free(g);
    tgi_error(rp);
}

void tl_tgi_compat(tl_srv *s, tl_srv_model *m, const tl_srv_req *rq, tl_srv_reply *rp) {
    rp->route = "tgi_compat";
    tgi_run(s, m, rq, -1, rp);
}

int tl_tgi_route(tl_srv *s, const tl_srv_req *rq, tl_srv_reply *rp) {
    int stream = !strcmp(rq->path, "/generate_stream");
    if (!stream && strcmp(rq->path, "/generate")) return 0;
    rp->route = stream ? "tgi_generate_stream" : "tgi_generate";
    if (strcmp(rq->method, "POST")) {
        tl_reply_error(rp, 405, "Validation", "%s takes POST", rq->path);
    } else {
        tl_srv_model *m = tl_srv_pick_model(s, rq, 1u << TL_TASK_TEXT_GENERATION, rp);
        if (m) tgi_run(s, m, rq, stream, rp);
    }
    tgi_error(rp);
    return 1;
}

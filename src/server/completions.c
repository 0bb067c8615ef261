/* completions.c — OpenAI's POST /v1/completions on a text-generation model: a prompt (a
 * string or a list of them, one choice each), max_tokens (default 16), temperature
 * (default 1; 0 is greedy), top_p, stop (cut from the text, as OpenAI does), seed, echo,
 * n = 1, repetition_penalty (an extension); the answer {"object": "text_completion", "choices": [{"text", "index",
 * "logprobs": null, "finish_reason": "stop" | "length"}], "usage"}, or with "stream" a
 * chunk per piece of text ending with "data: [DONE]". */
#include "server/server.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Reads an optional number (absent / null: *set 0); 422 for another type. */
static int num(const cJSON *b, const char *key, double *v, int *set, tl_srv_reply *rp) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(b, key);
    *set = x && !cJSON_IsNull(x);
    if (*set && (!cJSON_IsNumber(x) || !isfinite(x->valuedouble))) {
        tl_reply_error(rp, 422, "Validation", "`%s` must be a number", key);
        return 0;
    }
    if (*set) *v = x->valuedouble;
    return 1;
}

/* Reads OpenAI's sampling settings from b into g (g initialized for the model). */
static int settings(const cJSON *b, tl_srv_gen *g, tl_srv_reply *rp) {
    static const char *zero[] = {"presence_penalty", "frequency_penalty"};
    double v = 0;
    int set = 0;
    for (size_t i = 0; i < 2; i++) {
        if (!num(b, zero[i], &v, &set, rp)) return 0;
        if (set && v != 0) { tl_reply_error(rp, 422, "Validation", "`%s` is not supported (only 0)", zero[i]); return 0; }
    }
    static const char *none[] = {"suffix", "logit_bias", "logprobs"};
    for (size_t i = 0; i < 3; i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(b, none[i]);
        if (x && !cJSON_IsNull(x) && !(cJSON_IsNumber(x) && x->valuedouble == 0) &&
            !(cJSON_IsObject(x) && !x->child)) {
            tl_reply_error(rp, 422, "Validation", "`%s` is not supported", none[i]);
            return 0;
        }
    }
    if (!num(b, "n", &v, &set, rp) || (set && v != 1)) {
        if (set) tl_reply_error(rp, 422, "Validation", "`n` must be 1 (one completion per prompt)");
        return 0;
    }
    if (!num(b, "best_of", &v, &set, rp) || (set && v != 1)) {
        if (set) tl_reply_error(rp, 422, "Validation", "`best_of` must be 1");
        return 0;
    }
    if (!num(b, "max_tokens", &v, &set, rp)) return 0;
    if (set && (v < 1 || v != floor(v) || v > 1e9)) { tl_reply_error(rp, 422, "Validation", "`max_tokens` must be an integer >= 1"); return 0; }
    if (set) g->gp.max_new_tokens = (size_t)v;
    double temp = 1.0;
    if (!num(b, "temperature", &temp, &set, rp)) return 0;
    if (temp < 0 || temp > 2) { tl_reply_error(rp, 422, "Validation", "`temperature` must be in [0, 2]"); return 0; }
    if (!num(b, "top_p", &v, &set, rp)) return 0;
    if (set && (v <= 0 || v > 1)) { tl_reply_error(rp, 422, "Validation", "`top_p` must be in (0, 1]"); return 0; }
    if (set) g->gp.top_p = (float)v;
    g->gp.do_sample = temp > 0;
    g->gp.temperature = temp > 0 ? (float)temp : 1.0f;
    if (!num(b, "seed", &v, &set, rp)) return 0;
    if (set && (v < 0 || v != floor(v) || v > 9007199254740992.0)) {
        tl_reply_error(rp, 422, "Validation", "`seed` must be an integer >= 0");
        return 0;
    }
    if (set) { g->gp.seed = (uint64_t)v; g->sampled = 1; }
    if (!num(b, "repetition_penalty", &v, &set, rp)) return 0; /* an extension, as vLLM takes it */
    if (set && v <= 0) { tl_reply_error(rp, 422, "Validation", "`repetition_penalty` must be > 0"); return 0; }
    if (set) g->gp.repetition_penalty = (float)v;
    const cJSON *stop = cJSON_GetObjectItemCaseSensitive(b, "stop");
    if (cJSON_IsString(stop)) return tl_srv_gen_add_stop(g, stop->valuestring, rp);
    if (stop && !cJSON_IsNull(stop)) {
        if (!cJSON_IsArray(stop) || cJSON_GetArraySize(stop) > 4) {
            tl_reply_error(rp, 422, "Validation", "`stop` must be a string or a list of at most 4 strings");
            return 0;
        }
        const cJSON *x;
        cJSON_ArrayForEach(x, stop) {
            if (!cJSON_IsString(x)) { tl_reply_error(rp, 422, "Validation", "`stop` must hold strings"); return 0; }
            if (!tl_srv_gen_add_stop(g, x->valuestring, rp)) return 0;
        }
    }
    return 1;
}

/* Appends one non-streamed choice of g (waited for) to out; returns its token count. */
static size_t choice(tl_srv_gen *g, size_t index, int echo, tl_sbuf *out) {
    size_t n = 0;
    tl_request_generated(g->r, &n, NULL);
    size_t len = 0;
    char *text = tl_srv_gen_text(g, n, 1, &len);
    size_t cut = len;
    for (size_t k = 0; k < g->n_stops && text; k++) {
        const char *at = memmem(text, len, g->stops[k], strlen(g->stops[k]));
        if (at && (size_t)(at - text) < cut) cut = (size_t)(at - text);
    }
    tl_sbuf t = {0};
    if (echo) tl_sbuf_put(&t, g->prompt, strlen(g->prompt));
    if (text) tl_sbuf_put(&t, text, cut);
    tl_free(text);
    tl_finish_reason f = tl_request_finish_reason(g->r);
    tl_sbuf_printf(out, "%s{\"text\":", index ? "," : "");
    tl_sbuf_json_strn(out, t.s ? t.s : "", t.n);
    free(t.s);
    tl_sbuf_printf(out, ",\"index\":%zu,\"logprobs\":null,\"finish_reason\":\"%s\"}", index,
                   f == TL_FINISH_LENGTH && cut == len ? "length" : "stop");
    return n;
}

/* POST /v1/completions. */
static void completions(tl_srv *s, const tl_srv_req *rq, tl_srv_reply *rp) {
    cJSON *b = tl_srv_parse_body(rq, rp);
    if (!b) return;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(b, "model");
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(b, "prompt");
    tl_srv_model *m = NULL;
    int stream = 0, echo = 0;
    if (!cJSON_IsObject(b)) tl_reply_error(rp, 422, "Validation", "the request body must be a JSON object");
    else if (!cJSON_IsString(model)) tl_reply_error(rp, 422, "Validation", "`model` must be a string naming a served model");
    else if ((m = tl_srv_find_model(s, model->valuestring, rp)) && m->task != TL_TASK_TEXT_GENERATION) {
        tl_reply_error(rp, 400, "Validation", "model '%s' serves %s, not text-generation", m->name, tl_srv_task_name(m->task));
        m = NULL;
    }
    if (m && (!tl_srv_opt_bool(b, "stream", 0, &stream, rp) || !tl_srv_opt_bool(b, "echo", 0, &echo, rp))) m = NULL;
    size_t n = 0;
    if (m && cJSON_IsString(prompt)) n = 1;
    else if (m && cJSON_IsArray(prompt) && cJSON_GetArraySize(prompt) > 0) n = (size_t)cJSON_GetArraySize(prompt);
    else if (m) { tl_reply_error(rp, 422, "Validation", "`prompt` must be a string or a non-empty list of strings"); m = NULL; }
    if (m && n > s->cfg.max_client_batch_size) {
        tl_reply_error(rp, 422, "Validation", "%zu prompts > maximum allowed batch size %zu", n, s->cfg.max_client_batch_size);
        m = NULL;
    }
    tl_srv_gen *gens = m ? calloc(n, sizeof *gens) : NULL;
    if (m && !gens) { tl_reply_error(rp, 503, "Backend", "out of memory"); m = NULL; }
    size_t started = 0;
    for (size_t i = 0; m && i < n; i++) { /* submitted together: they share decode steps */
        const cJSON *p = cJSON_IsString(prompt) ? prompt : cJSON_GetArrayItem(prompt, (int)i);
        tl_srv_gen_init(&gens[i], m, 16);
        started = i + 1;
        if (!cJSON_IsString(p) || !p->valuestring[0]) {
            tl_reply_error(rp, 422, "Validation", "`prompt[%zu]` must be a non-empty string", i);
            m = NULL;
        } else if (!settings(b, &gens[i], rp) || !tl_srv_gen_submit(s, &gens[i], p->valuestring, 0, rp)) {
            m = NULL;
        }
    }
    char id[48];
    static _Atomic unsigned long long counter;
    snprintf(id, sizeof id, "cmpl-%llu", (unsigned long long)atomic_fetch_add(&counter, 1) + 1);
    long created = (long)time(NULL);
    if (m && stream) {
        tl_srv_gen_stream(rp, gens, n, TL_GEN_OPENAI, id, created);
        cJSON_Delete(b);
        return;
    }
    if (m) {
        tl_sbuf out = {0};
        size_t completion = 0, prompt_tokens = 0;
        tl_sbuf_printf(&out, "{\"id\":\"%s\",\"object\":\"text_completion\",\"created\":%ld,\"model\":", id, created);
        tl_sbuf_json_str(&out, m->name);
        tl_sbuf_put(&out, ",\"choices\":[", 12);
        tl_status st = TL_OK;
        for (size_t i = 0; i < n && st == TL_OK; i++) {
            if ((st = tl_request_wait(gens[i].r, -1)) != TL_OK) {
                tl_reply_error(rp, 500, "Backend", "%s", tl_request_error(gens[i].r));
                break;
            }
            tl_reply_add_timing(rp, gens[i].r);
            completion += choice(&gens[i], i, echo, &out);
            prompt_tokens += gens[i].n_ids;
        }
        tl_sbuf_printf(&out, "],\"usage\":{\"prompt_tokens\":%zu,\"completion_tokens\":%zu,\"total_tokens\":%zu}}",
                       prompt_tokens, completion, prompt_tokens + completion);
        if (st == TL_OK) tl_reply_sbuf(rp, 200, &out);
        free(out.s);
    }
    for (size_t i = 0; i < started; i++) tl_srv_gen_free(&gens[i]);
    free(gens);
    cJSON_Delete(b);
}

void tl_openai_completions(tl_srv *s, const tl_srv_req *rq, tl_srv_reply *rp) {
    if (strcmp(rq->method, "POST")) tl_reply_error(rp, 405, "Validation", "%s takes POST", rq->path);
    else if (!strcmp(rq->path, "/v1/chat/completions"))
        tl_reply_error(rp, 400, "Validation", "/v1/chat/completions needs a chat template, which torchless does "
                       "not apply yet: send the formatted prompt to /v1/completions");
    else completions(s, rq, rp);
}
